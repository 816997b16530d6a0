-- Entity resolution (issue 4): merges with their evidence, links, candidates, the
-- over-correlation guard, analysts' judgements, and the weak keys that links and candidates
-- are found by. The rules are pure functions in hub/lib/resolve.c; hub/store/merge.c applies
-- them in the ingest transaction. hub/store/README.md documents the rules and the display rule.

-- The surviving entity of id: merges re-point every earlier redirect to the new survivor, so
-- one step is enough (merged_into never points at a merged entity).
CREATE FUNCTION hub_canonical(id bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
        SELECT coalesce((SELECT merged_into FROM entities WHERE entities.id = $1), $1)
$$;

-- Weak keys of every entity, one row per (kind, value, entity) whatever the number of records
-- asserting it (agency, record_id: the first), so a look-up costs the number of entities that
-- share a value, not of records: what links and candidates are found by. kind:
--   PHONE      E.164 phone (the subject's own or its registrant's)
--   BANKPHONE  a bank account number that is also a Vietnamese mobile number, in E.164
--   HANDLE     stem of a shop/account handle or of a registrable domain's label, folded
--   NAME       hub_name_match_key of a name (organisation form)
--   NAMEBLOCK  first and last token of that key: the candidate search block
--   ADDRESS    match key of an address text
--   RELATED    TYPE:value of a related party's strong identifier (a director's company)
--   HINT       TYPE:value an analyst might mean: a lost leading zero, an adjacent transposition
CREATE TABLE match_keys (
        kind       text NOT NULL CHECK (kind IN ('PHONE', 'BANKPHONE', 'HANDLE', 'NAME',
                                                  'NAMEBLOCK', 'ADDRESS', 'RELATED', 'HINT')),
        value      text NOT NULL,
        entity_id  bigint NOT NULL REFERENCES entities (id),
        agency     text NOT NULL,
        record_id  text NOT NULL,
        PRIMARY KEY (kind, value, entity_id),
        FOREIGN KEY (agency, record_id) REFERENCES records (agency, record_id)
);
CREATE INDEX match_keys_entity ON match_keys (entity_id);

-- Every merge, for ever (a split by an analyst sets undone_at; the row stays): which entity
-- survived (the oldest), which was absorbed, by which rule, on which evidence (the identifier
-- values and weak keys) and which record carried it.
CREATE TABLE merges (
        id          bigserial PRIMARY KEY,
        survivor    bigint NOT NULL REFERENCES entities (id),
        absorbed    bigint NOT NULL REFERENCES entities (id),
        rule        text NOT NULL CHECK (rule IN ('strong-identifier', 'corroborated',
                                                  'judgement')),
        evidence    jsonb NOT NULL,
        review      text,
        agency      text,
        record_id   text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        undone_at   timestamptz,
        CHECK (survivor < absorbed)
);
CREATE INDEX merges_survivor ON merges (survivor);
CREATE INDEX merges_absorbed ON merges (absorbed);
CREATE INDEX merges_evidence ON merges USING gin (evidence jsonb_path_ops);

-- Relationships that are not identity: a shared phone, address or handle, a related party, a
-- bank account equal to a phone. Never merged on; shown to analysts and subscribers' queries.
CREATE TABLE links (
        entity_a    bigint NOT NULL REFERENCES entities (id),
        entity_b    bigint NOT NULL REFERENCES entities (id),
        kind        text NOT NULL CHECK (kind IN ('shared-phone', 'shared-address',
                                                  'related-party', 'bank-equals-phone',
                                                  'similar-handle')),
        evidence    jsonb NOT NULL,
        agency      text,
        record_id   text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (entity_a, entity_b, kind),
        CHECK (entity_a < entity_b)
);
CREATE INDEX links_b ON links (entity_b);

-- Possible matches that wait for an analyst: names never merge. score in [0, 1] with its
-- breakdown (name similarity, shared weak keys, identifier hints, birth year, province).
CREATE TABLE candidates (
        entity_a    bigint NOT NULL REFERENCES entities (id),
        entity_b    bigint NOT NULL REFERENCES entities (id),
        score       real NOT NULL CHECK (score >= 0 AND score <= 1),
        breakdown   jsonb NOT NULL,
        status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'merged', 'judged')),
        agency      text,
        record_id   text,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (entity_a, entity_b),
        CHECK (entity_a < entity_b)
);
CREATE INDEX candidates_b ON candidates (entity_b);
CREATE INDEX candidates_open ON candidates (score DESC) WHERE status = 'open';

-- The over-correlation guard: a value seen on more than the threshold of unrelated entities
-- (a placeholder tax code, a courier's or an accountant's phone) stops merging and linking.
-- type is an identifier type (TAX_CODE, ...) or a weak key kind (PHONE, HANDLE, ...).
CREATE TABLE noisy_identifiers (
        type        text NOT NULL,
        value       text NOT NULL,
        entities    integer NOT NULL,
        threshold   integer NOT NULL,
        agency      text,
        record_id   text,
        marked_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (type, value)
);

-- Analysts' decisions, signed with the analyst's key (the judgements helper builds on this).
-- An active not-same judgement forbids any automatic merge of the pair: ingest records a
-- candidate instead.
CREATE TABLE judgements (
        id          bigserial PRIMARY KEY,
        kind        text NOT NULL CHECK (kind IN ('same', 'not-same', 'split')),
        entity_a    bigint NOT NULL REFERENCES entities (id),
        entity_b    bigint REFERENCES entities (id),
        analyst     text NOT NULL,
        key_id      text NOT NULL,
        reason      text NOT NULL,
        signature   bytea,
        created_at  timestamptz NOT NULL DEFAULT now(),
        revoked_at  timestamptz
);
CREATE INDEX judgements_a ON judgements (entity_a) WHERE revoked_at IS NULL;
CREATE INDEX judgements_b ON judgements (entity_b) WHERE revoked_at IS NULL;
