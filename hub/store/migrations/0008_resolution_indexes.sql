-- Indexes that keep entity resolution at ingest flat as the store grows (issue "Entity
-- resolution", its benchmark): without them a merge and the views of a merged entity scanned a
-- whole table, so their cost grew with the number of entities and of outbox rows.

-- A merge re-points earlier redirects (UPDATE entities ... WHERE merged_into = absorbed).
CREATE INDEX entities_merged_into ON entities (merged_into) WHERE merged_into IS NOT NULL;

-- The tiers a merged entity was published to, read when its redirect is written.
CREATE INDEX outbox_entity ON outbox (entity_id) WHERE entity_id IS NOT NULL;
