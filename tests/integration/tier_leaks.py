#!/usr/bin/env python3
"""The tier rule (DESIGN contract 7) on every message of the hub's entity topics.

usage: tier_leaks.py [--plant-leak] STATEMENTS RECORDS DUMP
  STATEMENTS  psql -At lines entity_id|prop|value|tier of all the hub's statements
  RECORDS     psql -At lines agency|record_id|tier of the hub's records
  DUMP        entity_dump's JSON lines for hub.entities.<tier> topics

The tiers and their order come from the report schema (schemas/report.avsc, enum Tier, listed
from the most restricted to the least). A message on hub.entities.<t> may carry a name,
identifier or category only if some statement of tier <= t asserts it, and may name a source
record only if that record's tier is <= t. Messages this hub did not sign (verified false: other
hubs' runs on the same broker) are counted and skipped. The check must not be vacuous: the
restricted topic must carry values that only RESTRICTED statements assert.

--plant-leak copies one RESTRICTED-only value into a PUBLIC message first, to show that the
check catches a leak (it must then exit 1). Exit: 0 no leak, 1 a leak or a vacuous check.
"""
import json
import os
import sys


def tier_order():
    here = os.path.dirname(os.path.abspath(__file__))
    schema = json.load(open(os.path.join(here, "..", "..", "schemas", "report.avsc")))
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "enum" and node.get("name") == "Tier":
                found.append(node["symbols"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(schema)
    symbols = found[0]
    # Most restricted first in the schema: rank 0 is the least restricted (PUBLIC).
    return {s: len(symbols) - 1 - i for i, s in enumerate(symbols)}


def facts(entity):
    for n in entity.get("names") or []:
        yield ("name:" + n["kind"], n["value"])
    for i in entity.get("identifiers") or []:
        yield ("identifier:" + i["type"], i["value"])
    for c in entity.get("categories") or []:
        yield ("category", c)


def main(argv):
    plant = "--plant-leak" in argv
    argv = [a for a in argv if a != "--plant-leak"]
    statements, records, dump = argv
    rank = tier_order()
    lowest = {}  # (prop, value) -> least restricted tier rank of any statement asserting it
    for line in open(statements, encoding="utf-8"):
        _, prop, value, tier = line.rstrip("\n").split("|", 3)
        k = (prop, value)
        lowest[k] = min(lowest.get(k, 99), rank[tier])
    record_tier = {}
    for line in open(records, encoding="utf-8"):
        agency, record_id, tier = line.rstrip("\n").split("|", 2)
        record_tier[(agency, record_id)] = rank[tier]

    msgs = [json.loads(line) for line in open(dump, encoding="utf-8")]
    mine = [m for m in msgs if m["verified"]]
    if plant:
        secret = next(((k, v) for m in mine if m["topic"].endswith(".restricted")
                       for k, v in facts(m["entity"])
                       if lowest.get((k, v)) == rank["RESTRICTED"] and k == "category"
                       or lowest.get((k, v)) == rank["RESTRICTED"] and k.startswith("ident")),
                      None)
        target = next((m for m in mine if m["topic"].endswith(".public")), None)
        if not secret or not target:
            print("nothing to plant")
            return 0
        prop, value = secret
        if prop == "category":
            target["entity"]["categories"].append(value)
        else:
            target["entity"]["identifiers"].append(
                {"type": prop.split(":", 1)[1], "value": value, "qualifier": None, "label": None})

    leaks = []
    restricted_only_seen = {r: 0 for r in rank.values()}
    checked = {}
    for m in mine:
        topic_rank = rank[m["topic"].rsplit(".", 1)[1].upper()]
        e = m["entity"]
        where = f'{m["topic"]} [{m["partition"]}] @{m["offset"]} {e["entity_id"]} v{e["version"]}'
        checked[m["topic"]] = checked.get(m["topic"], 0) + 1
        if rank.get(e["tier"]) != topic_rank:
            leaks.append(f"{where}: tier {e['tier']} on this topic")
        for k, v in facts(e):
            r = lowest.get((k, v))
            if r is None:
                leaks.append(f"{where}: {k}={v!r} is asserted by no statement")
            elif r > topic_rank:
                leaks.append(f"{where}: {k}={v!r} is asserted only at tier rank {r}")
            elif r == topic_rank:
                restricted_only_seen[r] += 1
        for s in e.get("sources") or []:
            r = record_tier.get((s["agency"], s["record_id"]))
            if r is None or r > topic_rank:
                leaks.append(f"{where}: source {s['agency']}/{s['record_id']} (tier rank {r})")
    for line in leaks[:20]:
        print("LEAK:", line)
    print(f"checked {len(mine)} messages signed by this hub ({checked}); "
          f"skipped {len(msgs) - len(mine)} signed by other keys; {len(leaks)} leaks")
    if leaks:
        return 1
    # Not vacuous: each tier topic above PUBLIC carried values no lower tier may carry.
    for name, r in rank.items():
        if r > 0 and restricted_only_seen[r] == 0:
            print(f"vacuous: no value asserted only at tier {name} was seen on its topic")
            return 1
    print("values first allowed at each tier:",
          {n: restricted_only_seen[r] for n, r in rank.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
