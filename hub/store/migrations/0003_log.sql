-- The hub's Merkle log (issue 5): RFC 9162 leaves over every accepted record, key event,
-- judgement, retraction, correction and access-log entry, every complete subtree hash, and
-- the signed tree heads. Leaf data and digests are specified in schemas/README.md
-- ("The hub's log"); hub/lib/mlog.c encodes them, hub/store/mlog.c appends and proves.

-- The log's size, one row: appenders lock it (SELECT ... FOR UPDATE) so that leaf indexes are
-- dense and every complete subtree is written exactly once, whichever hubd appends.
CREATE TABLE log_state (
        one   boolean PRIMARY KEY DEFAULT true CHECK (one),
        size  bigint NOT NULL DEFAULT 0 CHECK (size >= 0)
);
INSERT INTO log_state DEFAULT VALUES;

-- Leaf idx of the log: its kind, a reference to the row it commits to (records:
-- "<agency>/<record_id>", key events: key_events.id, other kinds: their module's id), the leaf
-- data exactly as hashed, and SHA-256(0x00 || data). Level 0 of the tree.
CREATE TABLE log_leaves (
        idx          bigint PRIMARY KEY CHECK (idx >= 0),
        kind         smallint NOT NULL CHECK (kind BETWEEN 1 AND 6),
        ref          text NOT NULL,
        data         bytea NOT NULL,
        hash         bytea NOT NULL CHECK (length(hash) = 32),
        appended_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX log_leaves_ref ON log_leaves (kind, ref);

-- Every complete subtree above the leaves: (level, idx) covers leaves
-- [idx * 2^level, (idx + 1) * 2^level). Any inclusion or consistency proof, and any root, is
-- made of O(log n) of these (hub/mlog.h, plans), read in one query.
CREATE TABLE log_nodes (
        level  smallint NOT NULL CHECK (level BETWEEN 1 AND 63),
        idx    bigint NOT NULL CHECK (idx >= 0),
        hash   bytea NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (level, idx)
);

-- Key registrations and revocations as they were when they happened (agency_keys holds only
-- the current state), each committed to the log in the same transaction as the change. Times
-- in microseconds since the epoch, exactly as hashed into the leaf.
CREATE TABLE key_events (
        id           bigserial PRIMARY KEY,
        event        text NOT NULL CHECK (event IN ('register', 'revoke')),
        agency       text NOT NULL,
        key_id       text NOT NULL,
        public_key   bytea NOT NULL CHECK (length(public_key) = 32),
        valid_from   bigint NOT NULL,
        valid_until  bigint,
        revoked_at   bigint,
        reason       text NOT NULL DEFAULT '',
        at           bigint NOT NULL,
        leaf_index   bigint NOT NULL UNIQUE,
        FOREIGN KEY (agency, key_id) REFERENCES agency_keys (agency, key_id)
);
CREATE INDEX key_events_key ON key_events (agency, key_id);

-- Signed tree heads, in signing order; each is also published to hub.log through the outbox.
CREATE TABLE tree_heads (
        id            bigserial PRIMARY KEY,
        log_size      bigint NOT NULL CHECK (log_size >= 0),
        root_hash     bytea NOT NULL CHECK (length(root_hash) = 32),
        timestamp_ms  bigint NOT NULL,
        key_id        text NOT NULL,
        signature     bytea NOT NULL CHECK (length(signature) = 64),
        created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tree_heads_size ON tree_heads (log_size);
