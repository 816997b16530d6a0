#!/usr/bin/env python3
"""A signed-batch verifier written from schemas/README.md alone, as another agency would.

Checks schemas/vectors/batch-v1.json (or the file given): parses the batch bytes, enforces the
canonical encoding, recomputes leaf hashes, Merkle root, digest, verifies the Ed25519 signature
and the audit path, and compares every intermediate value with the file. Exits 77 (skipped)
without the `cryptography` package, which provides Ed25519 here.
"""
import hashlib, json, sys

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:
    print('python3 cryptography not installed: skipping'); sys.exit(77)

DOMAIN = b'vn.hub.signed-batch.v1\x00'
sha = lambda b: hashlib.sha256(b).digest()

class Reader:
    def __init__(self, b): self.b, self.i = b, 0
    def raw(self, n):
        if n < 0 or self.i + n > len(self.b): raise ValueError('TRUNCATED')
        self.i += n; return self.b[self.i - n:self.i]
    def long(self):
        v, shift, start = 0, 0, self.i
        while True:
            c = self.raw(1)[0]; v |= (c & 0x7f) << shift; shift += 7
            if not c & 0x80: break
            if shift >= 70: raise ValueError('MALFORMED: varint too long')
        if c == 0 and self.i - start > 1: raise ValueError('MALFORMED: non-minimal varint')
        return (v >> 1) ^ -(v & 1)
    def ident(self):
        s = self.raw(self.long())
        if not 1 <= len(s) <= 64 or any(c < 0x21 or c > 0x7e for c in s):
            raise ValueError('MALFORMED: identifier')
        return s.decode()

def mth(leaves):
    if len(leaves) == 1: return leaves[0]
    k = 1
    while k * 2 < len(leaves): k *= 2
    return sha(b'\x01' + mth(leaves[:k]) + mth(leaves[k:]))

def verify_inclusion(leaf, index, size, path, root):   # RFC 9162 2.1.3.2
    if index >= size: return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            r = sha(b'\x01' + p + r)
            while not fn & 1 and fn != 0: fn >>= 1; sn >>= 1
        else:
            r = sha(b'\x01' + r + p)
        fn >>= 1; sn >>= 1
    return sn == 0 and r == root

def verify(batch, pk):
    rd = Reader(batch)
    if rd.long() != 1: raise ValueError('MALFORMED: unsupported format version')
    hdr = dict(agency=rd.ident(), key_id=rd.ident(), producer_id=rd.ident(),
               batch_seq=rd.long(), created_at=rd.long(), schema_fingerprint=rd.raw(8).hex(),
               record_count=rd.long())
    if hdr['batch_seq'] < 0 or hdr['created_at'] < 0: raise ValueError('MALFORMED: negative')
    h = batch[:rd.i]
    n = hdr['record_count']
    if n < 1 or rd.long() != n: raise ValueError('MALFORMED: record count')
    records = [rd.raw(rd.long()) for _ in range(n)]
    if rd.long() != 0: raise ValueError('MALFORMED: second block')
    sig = rd.raw(64)
    if rd.i != len(batch): raise ValueError('TRAILING')
    leaves = [sha(b'\x00' + r) for r in records]
    root = mth(leaves)
    digest_input = DOMAIN + len(h).to_bytes(4, 'big') + h + root
    digest = sha(digest_input)
    Ed25519PublicKey.from_public_bytes(pk).verify(sig, digest)  # raises InvalidSignature
    return dict(header=hdr, header_bytes=h, records=records, leaves=leaves, root=root,
                digest_input=digest_input, digest=digest, signature=sig)

def main():
    v = json.load(open(sys.argv[1] if len(sys.argv) > 1 else 'schemas/vectors/batch-v1.json'))
    x = lambda k, o=v: bytes.fromhex(o[k])
    got = verify(x('batch'), x('public_key'))
    want_hdr = {k: val for k, val in v['header'].items() if k != 'format_version'}
    assert got['header'] == want_hdr, (got['header'], want_hdr)
    assert [r.hex() for r in got['records']] == v['records']
    assert [l.hex() for l in got['leaves']] == v['leaf_hashes']
    for k in ('header_bytes', 'digest_input', 'digest', 'signature'):
        assert got[k] == x(k), k
    assert got['root'] == x('merkle_root')
    ap = v['audit_path']
    path = [bytes.fromhex(p) for p in ap['path']]
    assert verify_inclusion(x('leaf_hash', ap), ap['index'], ap['tree_size'], path, got['root'])
    assert not verify_inclusion(x('leaf_hash', ap), ap['index'] ^ 1, ap['tree_size'], path,
                                got['root'])
    bad = bytearray(x('batch')); bad[-1] ^= 1
    try: verify(bytes(bad), x('public_key')); raise SystemExit('tampered batch accepted')
    except SystemExit: raise
    except Exception: pass
    print('batch-v1.json verified independently: header, %d records, root, digest, signature, '
          'audit path' % len(got['records']))

if __name__ == '__main__':
    main()
