#!/usr/bin/env python3
"""Write the seed corpora of tests/fuzz/corpus/<harness>/ from the project's own data: the
vectors of schemas/vectors, the sample rows of tests/data and connectors/examples, the
identifiers of tests/unit/test_ident.c, the schemas, and a few known-bad shapes. Deterministic:
re-running rewrites the same files. The binary report and batch seeds need libhub, so the
make_seeds program of a fuzz build writes them:

    tests/fuzz/make_corpus.py [BUILD_DIR]      (BUILD_DIR: a -Dfuzz=true build, for make_seeds)
"""
import hashlib
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def src(*p):
    return os.path.join(ROOT, *p)


def lines(path, n):
    with open(path, "rb") as f:
        return [l.rstrip(b"\n") for l in f.readlines()[:n]]


def batch():
    v = json.load(open(src("schemas/vectors/batch-v1.json")))
    b = bytes.fromhex(v["batch"])
    put("batch", "vector.batch", b)
    # Known-bad shapes: cut short, one byte flipped in a record, trailing byte, a negative
    # length (zig-zag 0x01 = -1) where the agency's length is.
    put("batch", "bad-truncated.batch", b[: len(b) // 2])
    flipped = bytearray(b)
    flipped[60] ^= 0x01
    put("batch", "bad-flipped.batch", bytes(flipped))
    put("batch", "bad-trailing.batch", b + b"\x00")
    put("batch", "bad-negative-length.batch", b[:1] + b"\x01" + b[2:])
    put("batch", "bad-version.batch", b"\x04" + b[1:])


def entity():
    v = json.load(open(src("schemas/vectors/signed-entity-v1.json")))
    env = "02" + "0a" + v["key_id"].encode().hex() + v["schema_fingerprint"]
    ent = bytes.fromhex(v["entity"])
    # The envelope as the vectors give it, when they do; else rebuilt from its parts.
    for k in ("envelope", "signed_entity", "message"):
        if k in v:
            put("entity", "vector.envelope", bytes.fromhex(v[k]))
            e = bytes.fromhex(v[k])
            put("entity", "bad-truncated.envelope", e[: len(e) - 10])
            flipped = bytearray(e)
            flipped[20] ^= 0x40
            put("entity", "bad-flipped.envelope", bytes(flipped))
            break
    put("entity", "sign-vector.entity", b"\x01" + ent)
    put("entity", "sign-bad-truncated.entity", b"\x01" + ent[:-5])
    put("entity", "sign-bad-negative.entity", b"\x01" + ent[:1] + b"\x03" + ent[2:])


def source():
    jl = b"\n".join(lines(src("tests/data/agency_sample.jsonl"), 6)) + b"\n"
    put("source", "agency-sample.jsonl", b"\x00" + jl)
    put("source", "bad-lines.jsonl", b"\x00" + b'{"a": 1}\n[1,2]\n{"a": \n\n  \n{"a":"\\u0000"}\n{"b":2,"b":3}\n')
    with open(src("connectors/examples/qltt-hcm.csv"), "rb") as f:
        csv = f.read()
    put("source", "qltt-hcm.csv", b"\x01" + csv)
    put("source", "semicolon.csv", b"\x02" + b'\xef\xbb\xbfa;b;c\r\n1;"x;y";\r\n2;"multi\nline";z\r\n')
    put("source", "bad-quote.csv", b"\x01" + b'a,b\n1,"open\n2,3\n')
    put("source", "bad-header.csv", b"\x01" + b"a,,a\n1,2,3\n")
    put("source", "bad-cells.csv", b"\x03" + b"a\tb\n1\t2\t3\n\xff\xfe\t1\n")


def mapping():
    d = src("connectors/examples")
    for n in sorted(os.listdir(d)):
        if n.endswith(".ini"):
            with open(os.path.join(d, n), "rb") as f:
                put("mapping", n, f.read())
    put("mapping", "bad-section.ini", "[nope]\nx = y\n")
    put("mapping", "bad-field.ini", "[source]\nformat = jsonl\nkey = id\n[report]\nagency = MIC\n"
        "tier = PUBLIC\n[fields]\nname = names.NOPE split=\n")


def mapping_apply():
    # Selector (byte % 6): bca, mic, mof-hq, mof-thue, moit-qltt, qltt-hcm-csv.
    sel = {"CA": 0, "BTTTT": 1, "HQ": 2, "THUE": 3, "QLTT": 4}
    seen = {}
    for l in lines(src("tests/data/agency_sample.jsonl"), 60):
        a = json.loads(l)["source_agency"]
        if seen.get(a, 0) >= 3:
            continue
        seen[a] = seen.get(a, 0) + 1
        put("mapping_apply", "%s-%d.json" % (a.lower(), seen[a]), bytes([sel[a]]) + l)
    with open(src("connectors/examples/qltt-hcm.csv"), encoding="utf-8") as f:
        import csv
        for i, row in enumerate(csv.DictReader(f)):
            row = {k: v for k, v in row.items() if v != ""}
            put("mapping_apply", "qltt-hcm-csv-%d.json" % (i + 1),
                b"\x05" + json.dumps(row, ensure_ascii=False).encode())
    put("mapping_apply", "bad-nul.json", b"\x04" + b'{"record_id": "Q\\u0000X", "source_agency": '
        b'"QLTT", "name": "a\\u0000b", "reported_at": "2025-06-10", "subject_type": "individual"}')
    put("mapping_apply", "bad-sql.json", b"\x02" + b'{"record_id": "x\'); DROP TABLE records;--",'
        b' "source_agency": "HQ", "name": "Robert\'); DROP TABLE entities;--", "reported_at": '
        b'"2026-01-27", "subject_type": "website", "domains": ["a.vn\' OR 1=1"]}')


def ident():
    text = open(src("tests/unit/test_ident.c"), encoding="utf-8").read()
    types = {"T": 1, "P": 2, "PH": 6, "D": 8, "U": 9, "S": 11, "SA": 14}
    names = ["OTHER", "TAX_CODE", "PERSONAL_ID", "OLD_ID_CARD", "PASSPORT", "BUSINESS_REG",
             "PHONE", "EMAIL", "DOMAIN", "URL", "IP_ADDRESS", "SHOP", "BANK_ACCOUNT", "E_WALLET",
             "SOCIAL_ACCOUNT"]
    for i, n in enumerate(names):
        types["HUB_ID_" + n] = i
    cstr = r'"((?:[^"\\]|\\.)*)"'
    pat = re.compile(r"(?:\{|expect_reject\()\s*(" + "|".join(sorted(types, key=len, reverse=True))
                     + r")\s*,\s*" + cstr + r"\s*,\s*(NULL|" + cstr + ")")
    seen = set()
    for m in pat.finditer(text):
        t = types[m.group(1)]
        val = m.group(2).encode("utf-8").decode("unicode_escape").encode("latin-1")
        qual = b"" if m.group(3) == "NULL" else m.group(4).encode()
        key = (t, val, qual)
        if key in seen:
            continue
        seen.add(key)
        data = bytes([t, len(qual)]) + qual + val
        put("ident", "t%02d-%s" % (t, hashlib.sha1(data).hexdigest()[:10]), data)
    # Names, personal id check, banks; and the hostile shapes: NUL, 10 KB, invalid UTF-8, SQL.
    put("ident", "name-person", b"\x10\x00  Nguy\xe1\xbb\x85n  V\xc4\x83n \xc3\x90\xc3\xa0o ")
    put("ident", "name-org", b"\x11\x00C\xc3\xb4ng ty TNHH Th\xc6\xb0\xc6\xa1ng m\xe1\xba\xa1i "
        b"V\xc3\xad D\xe1\xbb\xa5 - Chi nh\xc3\xa1nh H\xc3\xa0 N\xe1\xbb\x99i")
    put("ident", "name-nfc", b"\x12\x00Hu\xe1\xbb\xb3nh  Thanh\tBi\xcc\x80nh")
    put("ident", "pid-check", b"\x13\x041989001189004521")
    put("ident", "bank-find", b"\x14\x00Vietcombank")
    put("ident", "mst-check", b"\x15\x000312687878")
    put("ident", "bad-nul-tax", b"\x01\x000399\x00555016")
    put("ident", "bad-sql-domain", b"\x08\x00abc.vn'; DROP TABLE identifiers;--")
    put("ident", "bad-long-name", b"\x10\x00" + b"A" * 4000)
    put("ident", "bad-utf8-email", b"\x07\x00an\xc3\x28@gmail.com")


def avro_json():
    for i, l in enumerate(lines(src("tests/data/sample_reports.jsonl"), 6)):
        put("avro_json", "report-%d.json" % (i + 1), b"\x00" + l)
    v = json.load(open(src("schemas/vectors/signed-entity-v1.json")))
    put("avro_json", "entity.json", b"\x01" + json.dumps(v["entity_json"], ensure_ascii=False).encode())
    put("avro_json", "envelope.json", b"\x02" + json.dumps(
        {"format_version": 1, "key_id": v["key_id"], "schema_fingerprint": v["schema_fingerprint"],
         "entity": v["entity"], "signature": v["signature"]}).encode())
    r = json.loads(lines(src("tests/data/sample_reports.jsonl"), 1)[0])
    bad = dict(r, record_id="a\u0000b")
    put("avro_json", "bad-nul.json", b"\x00" + json.dumps(bad).encode())
    bad = dict(r, unknown_field=1)
    put("avro_json", "bad-unknown.json", b"\x00" + json.dumps(bad).encode())
    put("avro_json", "bad-type.json", b"\x00" + b'{"record_id": 5}')


def keyfile():
    b = json.load(open(src("schemas/vectors/batch-v1.json")))
    e = json.load(open(src("schemas/vectors/signed-entity-v1.json")))
    put("keyfile", "secret", "hub-ed25519-secret-v1 MOF-HQ MOF-HQ/1 %s\n" % b["seed"])
    put("keyfile", "public", "hub-ed25519-public-v1 MOF-HQ MOF-HQ/1 %s\n" % b["public_key"])
    put("keyfile", "hub-secret", "hub-ed25519-secret-v1 HUB HUB/1 %s\n" % e["seed"])
    put("keyfile", "bad-extra", "hub-ed25519-public-v1 HUB HUB/1 %s extra\n" % e["public_key"])
    put("keyfile", "bad-hex", "hub-ed25519-secret-v1 HUB HUB/1 %s\n" % ("zz" * 32))
    put("keyfile", "bad-nul", b"hub-ed25519-public-v1 HUB\x00 HUB/1 " + b["public_key"].encode())


def avro_canonical():
    for d in ("schemas", "tests/data/schemas"):
        for n in sorted(os.listdir(src(d))):
            if n.endswith(".avsc"):
                with open(src(d, n), "rb") as f:
                    data = f.read()
                put("avro_canonical", d.replace("/", "-") + "-" + n, data)
    put("avro_canonical", "compat-base", b"\x01" + open(src("tests/data/schemas/base.avsc"), "rb").read())
    put("avro_canonical", "primitive", b'"long"')
    put("avro_canonical", "union", b'["null", {"type": "fixed", "name": "F", "size": 8}, "F"]')
    put("avro_canonical", "bad-recursive", b'{"type":"record","name":"R","fields":[{"name":"a","type":"R"}]}')
    put("avro_canonical", "bad-unknown", b'{"type":"nope"}')


def seeds(build):
    exe = os.path.join(build, "tests", "fuzz", "make_seeds")
    os.makedirs(os.path.join(CORPUS, "report"), exist_ok=True)
    subprocess.run([exe, ROOT, CORPUS], check=True)
    # Known-bad reports: the first sample cut short, with a trailing byte, and a negative length.
    with open(os.path.join(CORPUS, "report", "sample-01.avro"), "rb") as f:
        r = f.read()
    put("report", "bad-truncated.avro", r[:-3])
    put("report", "bad-trailing.avro", r + b"\x00")
    put("report", "bad-negative-length.avro", b"\x01" + r[1:])


if __name__ == "__main__":
    for f in (batch, entity, source, mapping, mapping_apply, ident, avro_json, keyfile,
              avro_canonical):
        f()
    if len(sys.argv) > 1:
        seeds(sys.argv[1])
