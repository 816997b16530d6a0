-- A statement records what an agency asserted and what the normaliser made of it (valid, reason);
-- the hub's log commits to exactly that when the record is stored (its statements digest), so it
-- never changes afterwards. What resolution later concludes about a value is the hub's own
-- opinion and goes here instead: flag (e.g. SUSPECT_TRANSPOSITION, a personal id one adjacent
-- transposition away from the entity's other id) keeps the value out of the entity's view and
-- its identifiers, while the statement stays as committed. Outside the statements digest, so a
-- flag set after the record's leaf does not look like tampering to `hubctl log verify`.
ALTER TABLE statements ADD COLUMN flag text;
