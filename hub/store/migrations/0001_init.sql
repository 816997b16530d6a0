-- The hub's data model, version 1. Applied once by hub_store_migrate() (hubctl init), inside
-- one transaction, and recorded in schema_migrations. Never edit an applied migration: add the
-- next NNNN_name.sql.

-- Agencies are a dated reference table, not an enum: ministries are reorganised (DOMAIN.md).
CREATE TABLE agencies (
        code        text PRIMARY KEY CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{0,63}$'),
        name        text NOT NULL,
        valid_from  timestamptz NOT NULL DEFAULT now(),
        valid_to    timestamptz,
        successor   text REFERENCES agencies (code),
        created_at  timestamptz NOT NULL DEFAULT now()
);

-- An agency's Ed25519 public keys. A batch verifies with the key named by its header
-- (agency, key_id) when valid_from <= created_at < valid_until and not revoked at created_at:
-- revocation is effective from its time, earlier batches stay valid.
CREATE TABLE agency_keys (
        agency          text NOT NULL REFERENCES agencies (code),
        key_id          text NOT NULL CHECK (key_id ~ '^[\x21-\x7e]{1,64}$'),
        public_key      bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
        valid_from      timestamptz NOT NULL,
        valid_until     timestamptz,
        revoked_at      timestamptz,
        revoked_reason  text,
        registered_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (agency, key_id),
        CHECK (valid_until IS NULL OR valid_until > valid_from)
);

-- Where each consumed partition resumes: written in the same transaction as the rows that
-- message produced (exactly once into PostgreSQL). Kafka's committed offsets are not used.
CREATE TABLE consumer_offsets (
        topic        text NOT NULL,
        partition    integer NOT NULL CHECK (partition >= 0),
        next_offset  bigint NOT NULL CHECK (next_offset >= 0),
        updated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (topic, partition)
);

-- Every verified signed batch, with its bytes as received: the evidence a record is proved from.
CREATE TABLE batches (
        id                  bigserial PRIMARY KEY,
        agency              text NOT NULL REFERENCES agencies (code),
        key_id              text NOT NULL,
        producer_id         text NOT NULL,
        batch_seq           bigint NOT NULL,
        created_at          timestamptz NOT NULL,
        schema_fingerprint  bytea NOT NULL CHECK (length(schema_fingerprint) = 8),
        record_count        integer NOT NULL CHECK (record_count > 0),
        merkle_root         bytea NOT NULL CHECK (length(merkle_root) = 32),
        signature           bytea NOT NULL CHECK (length(signature) = 64),
        bytes               bytea NOT NULL,
        topic               text NOT NULL,
        partition           integer NOT NULL,
        "offset"            bigint NOT NULL,
        received_at         timestamptz NOT NULL DEFAULT now(),
        UNIQUE (topic, partition, "offset"),
        FOREIGN KEY (agency, key_id) REFERENCES agency_keys (agency, key_id)
);

-- One row per accepted record; (agency, record_id) is unique for ever (DESIGN contract 3).
-- payload is the record's bytes exactly as carried in the batch (the Merkle leaf data).
CREATE TABLE records (
        agency          text NOT NULL REFERENCES agencies (code),
        record_id       text NOT NULL CHECK (length(record_id) BETWEEN 1 AND 200),
        batch_id        bigint NOT NULL REFERENCES batches (id),
        batch_index     integer NOT NULL CHECK (batch_index >= 0),
        payload         bytea NOT NULL,
        payload_sha256  bytea NOT NULL CHECK (length(payload_sha256) = 32),
        subject_kind    text NOT NULL,
        tier            text NOT NULL CHECK (tier IN ('PUBLIC', 'SHARED', 'RESTRICTED')),
        recipients      text[] NOT NULL DEFAULT '{}',
        status          text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'superseded', 'retracted')),
        supersedes      text,
        retracts        text,
        reported_at     timestamptz,
        entity_id       bigint,
        received_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (agency, record_id)
);
CREATE INDEX records_batch ON records (batch_id);
CREATE INDEX records_entity ON records (entity_id);

-- Resolved violators. id is the canonical id (published as "E" || id); version rises by one
-- with every change, so subscribers can ignore duplicates and stale copies.
CREATE TABLE entities (
        id           bigserial PRIMARY KEY,
        kind         text NOT NULL,
        version      bigint NOT NULL DEFAULT 1 CHECK (version > 0),
        merged_into  bigint REFERENCES entities (id),
        withdrawn    boolean NOT NULL DEFAULT false,
        created_at   timestamptz NOT NULL DEFAULT now(),
        updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Normalised strong identifiers: the deduplication key space. The primary key is what makes two
-- concurrent hubd instances unable to create two entities for one identifier.
CREATE TABLE identifiers (
        type        text NOT NULL,
        value       text NOT NULL,
        entity_id   bigint NOT NULL REFERENCES entities (id),
        first_seen  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (type, value)
);
CREATE INDEX identifiers_entity ON identifiers (entity_id);

-- Every property value asserted by a record (the statement model): the entity view is derived
-- from these, never from whichever record came last. `valid` is false for an identifier that
-- failed normalisation (kept with its reason, never used to merge).
CREATE TABLE statements (
        id          bigserial PRIMARY KEY,
        entity_id   bigint NOT NULL REFERENCES entities (id),
        agency      text NOT NULL,
        record_id   text NOT NULL,
        prop        text NOT NULL,
        original    text NOT NULL,
        value       text NOT NULL,
        valid       boolean NOT NULL DEFAULT true,
        reason      text,
        tier        text NOT NULL CHECK (tier IN ('PUBLIC', 'SHARED', 'RESTRICTED')),
        first_seen  timestamptz NOT NULL DEFAULT now(),
        last_seen   timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (agency, record_id) REFERENCES records (agency, record_id)
);
CREATE INDEX statements_entity ON statements (entity_id);
CREATE INDEX statements_record ON statements (agency, record_id);
CREATE INDEX statements_value ON statements (prop, value);

-- Messages to publish, written in the same transaction as the change they announce (exactly
-- once out): entity views for hub.entities.<tier> and rejections for hub.rejects. A publisher
-- sends them in id order with the idempotent producer and sets sent_at.
CREATE TABLE outbox (
        id          bigserial PRIMARY KEY,
        topic       text NOT NULL,
        key         bytea,
        payload     bytea NOT NULL,
        entity_id   bigint,
        version     bigint,
        created_at  timestamptz NOT NULL DEFAULT now(),
        sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Every rejected batch or record, with the original bytes, a stable reason code and a message
-- (DESIGN contract 8); counted per agency and reason by hubctl status.
CREATE TABLE rejects (
        id           bigserial PRIMARY KEY,
        topic        text NOT NULL,
        partition    integer NOT NULL,
        "offset"     bigint NOT NULL,
        agency       text,
        record_id    text,
        batch_index  integer,
        reason       text NOT NULL,
        message      text NOT NULL,
        bytes        bytea NOT NULL,
        rejected_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rejects_reason ON rejects (agency, reason);
