#!/usr/bin/env python3
"""A signed-entity verifier written from schemas/README.md alone, as a subscribing agency would.

Checks schemas/vectors/signed-entity-v1.json (or the file given): parses the envelope per the
byte table, enforces minimal varints and the key id rule, recomputes the digest input and the
digest, verifies the Ed25519 signature with the hub's public key, checks the fingerprint, and
compares every value with the file. Exits 77 (skipped) without the `cryptography` package.
"""
import hashlib, json, struct, sys

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:
    print('python3 cryptography not installed: skipping'); sys.exit(77)

DOMAIN = b'vn.hub.signed-entity.v1\x00'


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


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else 'schemas/vectors/signed-entity-v1.json'
    v = json.load(open(path))
    env = bytes.fromhex(v['envelope'])
    if len(env) > 1 << 20: raise ValueError('TOO_LARGE')
    if env[:1] != b'\x02': raise ValueError('MALFORMED: format version')
    r = Reader(env)
    assert r.long() == 1
    key_id = r.raw(r.long())
    if not 1 <= len(key_id) <= 64 or any(c < 0x21 or c > 0x7e for c in key_id):
        raise ValueError('MALFORMED: key_id')
    fp = r.raw(8)
    entity = r.raw(r.long())
    sig = r.raw(64)
    if r.i != len(env): raise ValueError('TRAILING_BYTES')
    if key_id.decode() != v['key_id']: raise ValueError('KEY_UNKNOWN')
    di = (DOMAIN + struct.pack('>I', len(key_id)) + key_id + fp +
          struct.pack('>I', len(entity)) + entity)
    digest = hashlib.sha256(di).digest()
    assert di.hex() == v['digest_input'], 'digest_input'
    assert digest.hex() == v['digest'], 'digest'
    Ed25519PublicKey.from_public_bytes(bytes.fromhex(v['public_key'])).verify(sig, digest)
    assert fp.hex() == v['schema_fingerprint'], 'SCHEMA_UNKNOWN'
    assert entity.hex() == v['entity'] and sig.hex() == v['signature']
    # And one flipped bit of the entity must fail the signature.
    bad = bytearray(di); bad[-1] ^= 1
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(v['public_key'])).verify(
            sig, hashlib.sha256(bytes(bad)).digest())
        raise AssertionError('a changed entity verified')
    except Exception as e:
        if isinstance(e, AssertionError): raise
    print('signed entity vector ok: %d bytes, key %s' % (len(env), key_id.decode()))


if __name__ == '__main__':
    main()
