#!/usr/bin/env python3
"""An evidence-bundle verifier written from schemas/README.md alone ("The hub's log", "The
evidence bundle"), as an auditor or a court's expert would: hashlib, and `cryptography` for
Ed25519. Exits 77 (skipped) without the `cryptography` package.

usage:
  verify_evidence.py VECTORS.json
      check schemas/vectors/evidence-v1.json: verify its bundle, recompute every intermediate
      value, and flip the lowest bit of every byte requiring the check the vectors name
  verify_evidence.py --bundle FILE --hub-key HEX [--agency-key HEX] [--flip-all]
      verify one bundle (exit 0, or 1 printing "FAILED <check>: why"); with --flip-all, also
      require every single-byte change (lowest bit) to fail, printing how many
"""
import hashlib, json, struct, sys

try:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.exceptions import InvalidSignature
except ImportError:
    print('python3 cryptography not installed: skipping'); sys.exit(77)


def sha(b): return hashlib.sha256(b).digest()
def node(l, r): return sha(b'\x01' + l + r)
def leaf_hash(d): return sha(b'\x00' + d)
def u32(n): return struct.pack('>I', n)
def u64(n): return struct.pack('>Q', n)
def i64(n): return struct.pack('>q', n)
def s(b): return u32(len(b)) + b
def opt(v): return b'\x00' if v is None else b'\x01' + i64(v)


class Fail(Exception):
    def __init__(self, check, why): super().__init__(why); self.check = check


class Reader:
    """Avro binary, canonical: minimal varints, one block per array."""
    def __init__(self, b): self.b, self.i = b, 0
    def raw(self, n):
        if n < 0 or self.i + n > len(self.b): raise Fail('bundle', 'TRUNCATED')
        self.i += n; return self.b[self.i - n:self.i]
    def long(self):
        v, shift, start = 0, 0, self.i
        while True:
            c = self.raw(1)[0]
            if shift == 63 and c & 0x7e: raise Fail('bundle', 'varint overflow')
            v |= (c & 0x7f) << shift
            if not c & 0x80: break
            shift += 7
            if shift > 63: raise Fail('bundle', 'varint too long')
        if c == 0 and self.i - start > 1: raise Fail('bundle', 'non-minimal varint')
        return (v >> 1) ^ -(v & 1)
    def nonneg(self):
        v = self.long()
        if v < 0: raise Fail('bundle', 'negative')
        return v
    def bytes(self):
        n = self.long()
        if n < 0: raise Fail('bundle', 'negative length')
        return self.raw(n)
    def ident(self):
        b = self.bytes()
        if not 1 <= len(b) <= 64 or any(c < 0x21 or c > 0x7e for c in b):
            raise Fail('bundle', 'identifier rule')
        return b
    def hashes(self):
        n = self.long()
        if n == 0: return []
        if n < 0 or n > 64: raise Fail('bundle', 'array count')
        out = [self.raw(32) for _ in range(n)]
        if self.long() != 0: raise Fail('bundle', 'array not one block')
        return out
    def opt_long(self):
        u = self.long()
        if u == 0: return None
        if u != 1: raise Fail('bundle', 'union index')
        return self.long()


def parse(b):
    if len(b) > 4 << 20: raise Fail('bundle', 'TOO_LARGE')
    r = Reader(b)
    if r.long() != 1: raise Fail('bundle', 'format version')
    e = {'record': r.bytes(), 'record_index': r.nonneg(), 'header': r.bytes(),
         'batch_path': r.hashes(), 'batch_signature': r.raw(64),
         'statements_digest': r.raw(32), 'record_leaf_index': r.nonneg(),
         'record_proof': r.hashes(), 'events': []}
    n = r.long()
    if n < 0 or n > 16: raise Fail('bundle', 'key event count')
    for _ in range(n):
        kind = r.long()
        if kind not in (0, 1): raise Fail('bundle', 'event enum')
        ev = {'event': kind + 1, 'agency': r.ident(), 'key_id': r.ident(),
              'public_key': r.raw(32), 'valid_from': r.long(), 'valid_until': r.opt_long(),
              'revoked_at': r.opt_long(), 'reason': r.bytes(), 'at': r.long(),
              'leaf_index': r.nonneg(), 'proof': r.hashes()}
        if b'\x00' in ev['reason']: raise Fail('bundle', 'NUL in reason')
        e['events'].append(ev)
    if n > 0 and r.long() != 0: raise Fail('bundle', 'events not one block')
    e['head'] = {'size': r.nonneg(), 'root': r.raw(32), 'ts': r.long(), 'key_id': r.ident(),
                 'sig': r.raw(64)}
    if r.i != len(b): raise Fail('bundle', 'TRAILING_BYTES')
    # H: the signed batch's header fields 1-8
    h = Reader(e['header'])
    if h.long() != 1: raise Fail('bundle', 'batch format version')
    e['H'] = {'agency': h.ident(), 'key_id': h.ident(), 'producer': h.ident(),
              'seq': h.nonneg(), 'created_at': h.nonneg(), 'fp': h.raw(8), 'count': h.long()}
    if not 1 <= e['H']['count'] <= 2**31 - 1: raise Fail('bundle', 'record_count')
    if h.i != len(e['header']): raise Fail('bundle', 'bytes after H')
    if e['record_index'] >= e['H']['count']: raise Fail('bundle', 'record_index')
    if not e['events']: raise Fail('bundle', 'no key event')
    return e


def root_from_path(leaf, index, size, path):
    """RFC 9162 2.1.3.2, returning the computed root."""
    if index >= size: raise ValueError('index')
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0: raise ValueError('path too long')
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0: fn >>= 1; sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1; sn >>= 1
    if sn != 0: raise ValueError('path too short')
    return r


def included(leaf, index, size, path, root):
    try: return root_from_path(leaf, index, size, path) == root
    except ValueError: return False


def key_leaf(ev):
    return (b'vn.hub.log-leaf.v1\x00\x02' + bytes([ev['event']]) + s(ev['agency']) +
            s(ev['key_id']) + ev['public_key'] + i64(ev['valid_from']) + opt(ev['valid_until']) +
            opt(ev['revoked_at']) + s(ev['reason']) + i64(ev['at']))


def record_leaf(agency, record_id, index, record, batch_digest, stmts):
    return (b'vn.hub.log-leaf.v1\x00\x01' + s(agency) + s(record_id) + u32(index) +
            sha(record) + batch_digest + stmts)


def head_digest(h):
    return sha(b'vn.hub.tree-head.v1\x00' + u64(h['size']) + h['root'] + i64(h['ts']) +
               s(h['key_id']))


def batch_digest(H, root):
    return sha(b'vn.hub.signed-batch.v1\x00' + u32(len(H)) + H + root)


def ed_ok(pk, sig, msg):
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, msg); return True
    except (InvalidSignature, ValueError):
        return False


def verify(b, hub_key_id, hub_pk, agency_key=None):
    """Returns what was proved; raises Fail(check, why) at the first failing check."""
    e = parse(b)
    H, head = e['H'], e['head']
    if head['key_id'] != hub_key_id or not ed_ok(hub_pk, head['sig'], head_digest(head)):
        raise Fail('tree-head-signature', 'not signed by ' + hub_key_id.decode())
    for ev in e['events']:
        if not included(leaf_hash(key_leaf(ev)), ev['leaf_index'], head['size'], ev['proof'],
                        head['root']):
            raise Fail('key-event-inclusion', 'key event leaf %d' % ev['leaf_index'])
    first, last = e['events'][0], e['events'][-1]
    for i, ev in enumerate(e['events']):
        if (ev['agency'] != H['agency'] or ev['key_id'] != H['key_id'] or
                ev['public_key'] != first['public_key'] or (i == 0 and ev['event'] != 1) or
                (i > 0 and ev['leaf_index'] <= e['events'][i - 1]['leaf_index'])):
            raise Fail('key-events', 'event %d' % i)
    if agency_key is not None:
        kid, pk = agency_key
        if pk != first['public_key'] or kid != H['key_id']:
            raise Fail('agency-key', 'another key')
    t = H['created_at'] * 1000
    if ((last['revoked_at'] is not None and last['revoked_at'] <= t) or t < last['valid_from'] or
            (last['valid_until'] is not None and t >= last['valid_until'])):
        raise Fail('key-validity', 'key not valid at created_at')
    try:
        root = root_from_path(leaf_hash(e['record']), e['record_index'], H['count'],
                              e['batch_path'])
    except ValueError as x:
        raise Fail('agency-signature', str(x))
    bd = batch_digest(e['header'], root)
    if not ed_ok(first['public_key'], e['batch_signature'], bd):
        raise Fail('agency-signature', 'batch signature')
    try:
        rr = Reader(e['record'])
        rid, ag = rr.bytes(), rr.bytes()
    except Fail:
        raise Fail('record-identity', 'record does not start with two strings')
    if not 1 <= len(rid) <= 255 or b'\x00' in rid or ag != H['agency']:
        raise Fail('record-identity', 'agency or record_id')
    lf = record_leaf(H['agency'], rid, e['record_index'], e['record'], bd, e['statements_digest'])
    if not included(leaf_hash(lf), e['record_leaf_index'], head['size'], e['record_proof'],
                    head['root']):
        raise Fail('record-inclusion', 'record leaf %d' % e['record_leaf_index'])
    return {'agency': H['agency'].decode(), 'record_id': rid.decode(), 'key_id':
            H['key_id'].decode(), 'leaf': e['record_leaf_index'], 'size': head['size'],
            'record_leaf': lf, 'batch_digest': bd, 'batch_root': root, 'e': e}


def statements_digest(rows):
    items = []
    for st in rows:
        reason = st['reason']
        items.append(s(st['prop'].encode()) + s(st['original'].encode()) +
                     s(st['value'].encode()) + bytes([1 if st['valid'] else 0]) +
                     (b'\x00' if reason is None else b'\x01' + s(reason.encode())) +
                     s(st['tier'].encode()))
    return sha(b'vn.hub.statements.v1\x00' + u32(len(items)) + b''.join(sorted(items)))


def flip_all(b, hub_key_id, hub_pk, agency_key, expected=None):
    """Flip the lowest bit of every byte: each must fail (at the expected check, if given)."""
    for i in range(len(b)):
        bad = bytearray(b); bad[i] ^= 1
        try:
            verify(bytes(bad), hub_key_id, hub_pk, agency_key)
        except Fail as f:
            if expected is not None and f.check != expected[i]:
                raise AssertionError('byte %d: failed at %s, the vectors say %s' %
                                     (i, f.check, expected[i]))
            continue
        raise AssertionError('byte %d flipped: the bundle still verifies' % i)
    return len(b)


def vectors(path):
    v = json.load(open(path))
    hub = (v['hub_key_id'].encode(), bytes.fromhex(v['hub_public_key']))
    ag = (v['agency_key_id'].encode(), bytes.fromhex(v['agency_public_key']))
    b = bytes.fromhex(v['bundle'])
    got = verify(b, hub[0], hub[1], ag)
    e = got['e']
    assert e['header'].hex() == v['batch_header'], 'batch_header'
    assert got['batch_root'].hex() == v['batch_root'], 'batch_root'
    assert got['batch_digest'].hex() == v['batch_digest'], 'batch_digest'
    assert statements_digest(v['statements']).hex() == v['statements_digest'], 'statements'
    assert e['statements_digest'].hex() == v['statements_digest']
    assert got['record_leaf'].hex() == v['record_leaf'], 'record_leaf'
    assert key_leaf(e['events'][0]).hex() == v['key_event_leaf'], 'key_event_leaf'
    leaves = [bytes.fromhex(x) for x in v['leaf_hashes']]
    assert leaf_hash(got['record_leaf']) == leaves[got['leaf']]

    def mth(hs):
        if len(hs) == 1: return hs[0]
        k = 1
        while k * 2 < len(hs): k *= 2
        return node(mth(hs[:k]), mth(hs[k:]))
    assert mth(leaves).hex() == v['tree_root'] == e['head']['root'].hex(), 'tree_root'
    assert head_digest(e['head']).hex() == v['head_digest'], 'head_digest'
    assert e['head']['sig'].hex() == v['tree_head']['signature']
    assert bytes.fromhex(v['records'][v['record_index']]) == e['record']
    assert got['record_id'] == v['record_id']
    n = flip_all(b, hub[0], hub[1], ag, v['flip_lowest_bit_fails'])
    print('evidence vector ok: %d bytes, record %s/%s at leaf %d of %d, %d flips refused at '
          'the documented checks' % (len(b), got['agency'], got['record_id'], got['leaf'],
                                     got['size'], n))


def main():
    a = sys.argv[1:]
    if a and not a[0].startswith('--'):
        return vectors(a[0])
    opts, i = {}, 0
    while i < len(a):
        if a[i] == '--flip-all': opts['flip'] = True; i += 1
        else: opts[a[i]] = a[i + 1]; i += 2

    def key(spec):
        # a hub-ed25519-public-v1 key file line, or KEY_ID:HEX
        if ':' in spec and not spec.startswith('/'):
            kid, hx = spec.split(':', 1)
        else:
            f = open(spec).read().split()
            assert f[0] == 'hub-ed25519-public-v1', 'not a public key file'
            kid, hx = f[2], f[3]
        return kid.encode(), bytes.fromhex(hx)
    hub = key(opts['--hub-key'])
    ag = key(opts['--agency-key']) if '--agency-key' in opts else None
    b = open(opts['--bundle'], 'rb').read()
    try:
        got = verify(b, hub[0], hub[1], ag)
    except Fail as f:
        print('FAILED %s: %s' % (f.check, f)); sys.exit(1)
    print('ok: %s/%s signed with %s, leaf %d of a signed tree of %d' %
          (got['agency'], got['record_id'], got['key_id'], got['leaf'], got['size']))
    if opts.get('flip'):
        print('ok: all %d single-byte changes refused' % flip_all(b, hub[0], hub[1], ag))


if __name__ == '__main__':
    main()
