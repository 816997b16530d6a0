-- Analysts' judgements (issue 4, item 4): analysts and their Ed25519 keys, each judgement
-- signed by its analyst and committed to the hub's log (leaf kind 3), what it did (the merge
-- it made, the entity a split created), and the split_from link of entity views.
-- hub/store/judgement.c applies them; schemas/README.md "Judgements" has the signed bytes.

-- Analysts: people of the Standing Office who decide what the rules left open.
CREATE TABLE analysts (
        name        text PRIMARY KEY CHECK (name ~ '^[\x21-\x7e]{1,64}$'),
        full_name   text NOT NULL DEFAULT '',
        created_at  timestamptz NOT NULL DEFAULT now()
);

-- Their public keys. Times in microseconds since the epoch, exactly as hashed into the
-- registration and revocation leaves (register_leaf, revoke_leaf). One public key has one
-- owner, among analysts and agencies alike (hub/store/judgement.c checks agency_keys).
CREATE TABLE analyst_keys (
        analyst         text NOT NULL REFERENCES analysts (name),
        key_id          text NOT NULL CHECK (key_id ~ '^[\x21-\x7e]{1,64}$'),
        public_key      bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
        registered_at   bigint NOT NULL,
        revoked_at      bigint,
        revoked_reason  text NOT NULL DEFAULT '',
        register_leaf   bigint NOT NULL UNIQUE,
        revoke_leaf     bigint UNIQUE,
        PRIMARY KEY (analyst, key_id)
);

-- Judgements as signed: kind, entities, the records a split moves ([{agency, record_id}]),
-- the judgement an undo undoes, the signing time; and what the hub did: the merge a `same`
-- (or an undone split) made, the entity a split created (or an undone `same` restored), the
-- records an absorbed entity held when a `same` merged it (what undoing it moves back).
-- revoked_at is set by the undo that undid it.
ALTER TABLE judgements DROP CONSTRAINT judgements_kind_check;
ALTER TABLE judgements ADD CONSTRAINT judgements_kind_check
        CHECK (kind IN ('same', 'not-same', 'split', 'undo'));
ALTER TABLE judgements
        ADD COLUMN records     jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN undoes      bigint REFERENCES judgements (id),
        ADD COLUMN signed_at   bigint NOT NULL DEFAULT 0,
        ADD COLUMN new_entity  bigint REFERENCES entities (id),
        ADD COLUMN merge_id    bigint REFERENCES merges (id),
        ADD COLUMN moved       jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN leaf_index  bigint UNIQUE;
-- A signature is accepted once: a replayed judgement is refused.
CREATE UNIQUE INDEX judgements_signature ON judgements (signature);
CREATE INDEX judgements_new_entity ON judgements (new_entity);

-- The entity a split took this one out of: published as split_from.
ALTER TABLE entities ADD COLUMN split_from bigint REFERENCES entities (id);
