#!/usr/bin/env python3
"""Generate fictional violator reports as JSON Lines in the shape of schemas/report.avsc.

The same generator feeds the README's main job (a small shipped sample) and the benchmarks
(millions of records): it is deterministic for a given --seed, so a run can be repeated.

Every value is invented: names from common Vietnamese name parts, domains end in -vidu.vn,
phones are in the mobile ranges, tax codes carry a valid check digit (and could collide with a
real company's, so never send them anywhere). Several reports name the same violator, as real
agencies' reports do, so that later stages have something to consolidate.
"""
import argparse
import json
import random
import sys

AGENCIES = ["MOIT-QLTT", "MOF-HQ", "MOF-THUE", "MIC", "NHNN"]
SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
            "Đỗ"]
MIDDLE = ["Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Đức", "Quang"]
GIVEN = ["An", "Bình", "Châu", "Dũng", "Hà", "Hải", "Hùng", "Lan", "Linh", "Long", "Mai", "Nam",
         "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Yến"]
TRADES = ["Mỹ Phẩm", "Điện Tử", "Thời Trang", "Thực Phẩm Chức Năng", "Đồ Gia Dụng", "Dược Liệu"]
WORDS = ["Hoàng Long", "Phú Quý", "Minh Anh", "Sao Việt", "Thiên Phát", "An Khang", "Kim Ngân"]
CATEGORIES = ["HANG_GIA", "HANG_NHAP_LAU", "KHONG_RO_NGUON_GOC", "TRON_THUE",
              "KHONG_KE_KHAI_THUE", "TMDT_KHONG_THONG_BAO", "LUA_DAO", "KEM_CHAT_LUONG"]
ACTIONS = {"MOIT-QLTT": ["FINE", "CONFISCATE", "DESTROY_GOODS"], "MOF-HQ": ["CONFISCATE", "FINE"],
           "MOF-THUE": ["TAX_ASSESSMENT", "FINE"], "MIC": ["BLOCK_DOMAIN", "TAKEDOWN"],
           "NHNN": ["FREEZE_ACCOUNT_REQUEST"]}
BINS = ["970436", "970415", "970418", "970405", "970407", "970422"]
WEIGHTS = [31, 29, 23, 19, 17, 13, 7, 5, 3]
DAY_MS = 86400000
EPOCH_2025 = 20089  # 2025-01-01 in days since 1970-01-01


def tax_code(rng):
    """A 10-digit enterprise tax code with a valid check digit (DOMAIN.md)."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        if not any(digits[2:9]):
            continue
        r = sum(w * d for w, d in zip(WEIGHTS, digits)) % 11
        if r == 0:
            continue
        check = 10 - r
        if check == 10:
            continue
        return "".join(map(str, digits)) + str(check)


def violator(rng, n):
    """One fictional violator: its kind, names and identifiers, reused across reports."""
    kind = rng.choice(["INDIVIDUAL", "INDIVIDUAL", "ORGANIZATION", "SHOP", "WEBSITE"])
    v = {"kind": kind, "ids": [], "names": []}
    slug = f"v{n:07d}"
    phone = "09" + "".join(str(rng.randrange(10)) for _ in range(8))
    if kind == "INDIVIDUAL":
        v["names"].append({"value": f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} "
                                    f"{rng.choice(GIVEN)}", "kind": "LEGAL"})
        year = rng.randrange(1960, 2004)
        sex_digit = rng.randrange(2) + (0 if year < 2000 else 2)
        pid = f"0{rng.choice(['01', '79', '48', '31']):0>2}{sex_digit}{year % 100:02d}" + \
              "".join(str(rng.randrange(10)) for _ in range(6))
        v["ids"].append({"type": "PERSONAL_ID", "value": pid})
        v["dob_year"] = year
        v["ids"].append({"type": "BANK_ACCOUNT", "value": str(rng.randrange(10**9, 10**10)),
                         "qualifier": rng.choice(BINS)})
    elif kind == "ORGANIZATION":
        v["names"].append({"value": f"Công ty TNHH {rng.choice(TRADES)} {rng.choice(WORDS)}",
                           "kind": "LEGAL"})
        v["ids"].append({"type": "TAX_CODE", "value": tax_code(rng)})
        v["ids"].append({"type": "DOMAIN", "value": f"{slug}-vidu.vn"})
    elif kind == "SHOP":
        v["names"].append({"value": f"{rng.choice(TRADES)} {rng.choice(WORDS)} Shop",
                           "kind": "TRADE"})
        v["ids"].append({"type": "SHOP", "value": f"https://shopee.vn/{slug}.vidu",
                         "qualifier": "shopee"})
    else:
        v["names"].append({"value": f"{slug}-vidu.vn", "kind": "TRADE"})
        v["ids"].append({"type": "DOMAIN", "value": f"{slug}-vidu.vn"})
    v["ids"].append({"type": "PHONE", "value": phone})
    return v


def report(rng, agency, seq, v):
    day = EPOCH_2025 + rng.randrange(600)
    action = rng.choice(ACTIONS[agency])
    act = {"type": action}
    if action in ("FINE", "TAX_ASSESSMENT"):
        act["amount_vnd"] = rng.randrange(5, 500) * 1000000
    r = {
        "record_id": f"{agency}-{seq:08d}",
        "agency": agency,
        "reported_at": (day + 1) * DAY_MS,
        "subject_kind": v["kind"],
        "names": v["names"],
        "identifiers": [dict(i) for i in v["ids"] if rng.random() < 0.9] or [v["ids"][0]],
        "violation_categories": sorted(set(rng.sample(CATEGORIES, rng.randrange(1, 3)))),
        "actions": [act],
        "legal_basis": ["Nghị định 98/2020/NĐ-CP"],
        "case_status": rng.choice(["PROCESSING", "SANCTIONED", "CLOSED"]),
        "violation_on": day,
        "sensitivity": {"tier": "SHARED" if agency != "NHNN" else "RESTRICTED",
                        "recipients": [] if agency != "NHNN" else ["MOF-THUE", "MOIT-QLTT"]},
    }
    if "dob_year" in v:
        r["dob_year"] = v["dob_year"]
    return r


# Agency-native rows: the shape of the agencies' own exports (as in the shared dev data), which
# the example mappings in connectors/examples/ turn into reports. Source codes per agency.
SOURCE = {"MOIT-QLTT": "QLTT", "MOF-HQ": "HQ", "MOF-THUE": "THUE", "MIC": "BTTTT", "NHNN": "CA"}
SUBJECT = {"INDIVIDUAL": "individual", "ORGANIZATION": "organization", "SHOP": "individual",
           "WEBSITE": "website"}


def agency_row(r, v):
    """The report r as the agency's own export would carry it."""
    src = SOURCE[r["agency"]]
    day = r["violation_on"]
    y, m, d = _date(day)
    row = {"record_id": f"{src}-{r['record_id'].rsplit('-', 1)[1]}", "source_agency": src,
           "reported_at": f"{y:04d}-{m:02d}-{d:02d}",
           "subject_type": SUBJECT[v["kind"]], "name": v["names"][0]["value"]}
    for i in r["identifiers"]:
        t, val = i["type"], i["value"]
        if t == "TAX_CODE":
            row["tax_code"] = val
        elif t == "PERSONAL_ID":
            row["personal_id"] = val
        elif t == "PHONE":
            row.setdefault("phones", []).append(val)
        elif t == "DOMAIN":
            row.setdefault("domains", []).append(val)
        elif t == "SHOP":
            row.setdefault("urls", []).append(val)
        elif t == "BANK_ACCOUNT":
            row.setdefault("bank_accounts", []).append(
                {"bank_bin": i["qualifier"], "account_no": val,
                 "holder": _ascii_upper(v["names"][0]["value"])})
    if "dob_year" in r:
        row["dob_year"] = r["dob_year"]
    row["violation_categories"] = r["violation_categories"]
    row["actions"] = r["actions"]
    return row


def _ascii_upper(name):
    import unicodedata
    s = unicodedata.normalize("NFD", name.replace("Đ", "D").replace("đ", "d"))
    return "".join(c for c in s if not unicodedata.combining(c)).upper()


def _date(days):
    import datetime
    t = datetime.date(1970, 1, 1) + datetime.timedelta(days=days)
    return t.year, t.month, t.day


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=40, help="reports to write (default 40)")
    ap.add_argument("--violators", type=int, default=0,
                    help="distinct violators (default: about 30%% of --count)")
    ap.add_argument("--seed", type=int, default=399, help="random seed (default 399)")
    ap.add_argument("--agencies", default=",".join(AGENCIES),
                    help="comma-separated agency codes (default: five agencies)")
    ap.add_argument("--shape", choices=["report", "agency"], default="report",
                    help="report: JSON in the shape of schemas/report.avsc (default); "
                         "agency: the agencies' own export rows, for connectors/examples/")
    args = ap.parse_args()
    if args.count < 0:
        ap.error("--count must not be negative")
    agencies = [a for a in args.agencies.split(",") if a]
    unknown = [a for a in agencies if a not in ACTIONS]
    if unknown:
        ap.error(f"unknown agency {unknown[0]}: choose from {', '.join(AGENCIES)}")
    rng = random.Random(args.seed)
    nviol = args.violators or max(1, args.count * 3 // 10)
    cache = {}
    seq = {a: 0 for a in agencies}
    out = sys.stdout
    for i in range(args.count):
        k = rng.randrange(nviol)
        if k not in cache:
            cache[k] = violator(random.Random(args.seed * 1000003 + k), k)
        agency = agencies[i % len(agencies)]
        seq[agency] += 1
        r = report(rng, agency, seq[agency], cache[k])
        if args.shape == "agency":
            r = agency_row(r, cache[k])
        out.write(json.dumps(r, ensure_ascii=False))
        out.write("\n")


if __name__ == "__main__":
    main()
