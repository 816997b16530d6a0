-- One entity as hubd would store it, for the hubctl tests: E<1> (an organisation, two records
-- from two agencies, a tax code and a phone) and E<2> merged into it; the normal forms are those
-- hub/include/hub/ident.h produces. Applied after `hubctl init`, `agency add` and `key register`
-- have created MOF-HQ/1 and MOIT-QLTT/1.
INSERT INTO batches (id, agency, key_id, producer_id, batch_seq, created_at, schema_fingerprint,
                     record_count, merkle_root, signature, bytes, topic, partition, "offset",
                     received_at)
VALUES (7, 'MOF-HQ', 'MOF-HQ/1', 'p1', 1, '2026-02-01T00:00:00Z', '\x0102030405060708', 1,
        decode(repeat('ab', 32), 'hex'), decode(repeat('cd', 64), 'hex'), '\x00',
        'agency.MOF-HQ.reports', 1, 5, '2026-02-01T00:00:01Z'),
       (8, 'MOIT-QLTT', 'MOIT-QLTT/1', 'p2', 1, '2026-02-02T00:00:00Z', '\x0102030405060708', 1,
        decode(repeat('ab', 32), 'hex'), decode(repeat('cd', 64), 'hex'), '\x00',
        'agency.MOIT-QLTT.reports', 0, 3, '2026-02-02T00:00:01Z');
INSERT INTO entities (id, kind, version, created_at, updated_at)
VALUES (1, 'ORGANIZATION', 3, '2026-02-01T00:00:01Z', '2026-02-02T00:00:01Z');
INSERT INTO entities (id, kind, version, merged_into) VALUES (2, 'ORGANIZATION', 2, 1);
SELECT setval('entities_id_seq', 2);
INSERT INTO records (agency, record_id, batch_id, batch_index, payload, payload_sha256,
                     subject_kind, tier, entity_id, received_at)
VALUES ('MOF-HQ', 'hq-0001', 7, 0, '\x00', decode(repeat('00', 32), 'hex'), 'ORGANIZATION',
        'PUBLIC', 1, '2026-02-01T00:00:01Z'),
       ('MOIT-QLTT', 'qltt-0042', 8, 0, '\x00', decode(repeat('00', 32), 'hex'), 'ORGANIZATION',
        'SHARED', 1, '2026-02-02T00:00:01Z');
INSERT INTO identifiers (type, value, entity_id)
VALUES ('TAX_CODE', '0312687878', 1), ('PHONE', '+84912468357', 1),
       ('DOMAIN', 'thuha-vidu.com.vn', 2);
INSERT INTO statements (entity_id, agency, record_id, prop, original, value, valid, reason, tier)
VALUES (1, 'MOF-HQ', 'hq-0001', 'name', 'CÔNG TY TNHH THU HÀ', 'CÔNG TY TNHH THU HÀ', true, NULL,
        'PUBLIC'),
       (1, 'MOIT-QLTT', 'qltt-0042', 'name', 'CÔNG TY TNHH THU HÀ', 'CÔNG TY TNHH THU HÀ', true,
        NULL, 'SHARED'),
       (1, 'MOIT-QLTT', 'qltt-0042', 'category', 'HANG_GIA', 'HANG_GIA', true, NULL, 'SHARED'),
       (1, 'MOIT-QLTT', 'qltt-0042', 'identifier', '0312687877', '0312687877', false,
        'CHECK_DIGIT', 'SHARED');
