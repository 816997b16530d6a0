-- The HTTP query API (hub-api): agencies' API tokens and the access log. hub/store/api.c reads
-- and writes them; hub/api/openapi.yaml documents the API.

-- An agency's bearer tokens. Only SHA-256 of the token is stored: the token itself is printed
-- once by `hubctl api-token create` and cannot be read back from the database. tier is the
-- highest tier the token's agency was granted: it sees statements of that tier and of every
-- less restricted one (hub_tier_visible), as a subscriber of hub.entities.<tier> would.
CREATE TABLE api_tokens (
        id          bigserial PRIMARY KEY,
        agency      text NOT NULL REFERENCES agencies (code),
        tier        text NOT NULL CHECK (tier IN ('PUBLIC', 'SHARED', 'RESTRICTED')),
        hash        bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
        created_at  timestamptz NOT NULL DEFAULT now(),
        revoked_at  timestamptz
);
CREATE INDEX api_tokens_agency ON api_tokens (agency);

-- Every API request, allowed or denied (personal-data rules: Decree 13/2023): who asked
-- ("<agency>/<token id>" or "anonymous"), the method and path with its query string, the entity
-- it concerned when there was one, the HTTP status answered, and when (microseconds since the
-- epoch, exactly as committed). Each row is committed to the Merkle log as a kind 6 leaf in the
-- same transaction as the row (ref = id; schemas/README.md, "The hub's log"), so `hubctl log
-- verify` detects a row changed or deleted afterwards.
CREATE TABLE access_log (
        id          bigserial PRIMARY KEY,
        who         text NOT NULL,
        method      text NOT NULL,
        path        text NOT NULL,
        entity_id   bigint,
        status      integer NOT NULL CHECK (status BETWEEN 100 AND 599),
        at          bigint NOT NULL,
        leaf_index  bigint NOT NULL UNIQUE
);
