/* Writes schemas/vectors/evidence-v1.json: one evidence bundle, deterministic (fixed seeds, fixed
 * times, Ed25519 is deterministic), with every intermediate value a verifier in another language
 * needs: the agency's batch, the hub's log of 7 leaves, a signed tree head, and for every byte
 * of the bundle the check that fails when its lowest bit is flipped. Built with the project,
 * never run by CI: test_evidence recomputes the vectors, so a format change fails a test.
 *
 * usage: gen_evidence_vectors > schemas/vectors/evidence-v1.json */
#include <hub/batch.h>
#include <hub/evidence.h>
#include <hub/mlog.h>
#include <hub/report.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *hex(const void *p, size_t n)
{
        char *s = malloc(2 * n + 1);
        if (!s)
                exit(1);
        sodium_bin2hex(s, 2 * n + 1, p, n);
        json_t *j = json_string(s);
        free(s);
        return j;
}

_Noreturn static void die(const char *what, const hub_err_t *err)
{
        fprintf(stderr, "gen_evidence_vectors: %s: %s\n", what, err ? err->msg : "");
        exit(1);
}

static const char *const reports[] = {
        "{\"record_id\": \"hq-2026-0001\", \"agency\": \"MOF-HQ\", \"reported_at\": 1767225600000,"
        " \"subject_kind\": \"ORGANIZATION\", \"names\": [{\"value\": \"C\xc3\xb4ng ty TNHH V\xc3\xad"
        " D\xe1\xbb\xa5\", \"kind\": \"LEGAL\"}], \"identifiers\": [{\"type\": \"TAX_CODE\","
        " \"value\": \"0101234567\"}], \"violation_categories\": [\"HANG_NHAP_LAU\"],"
        " \"sensitivity\": {\"tier\": \"SHARED\", \"recipients\": []}}",
        "{\"record_id\": \"hq-2026-0002\", \"agency\": \"MOF-HQ\", \"reported_at\": 1767225600000,"
        " \"subject_kind\": \"SHOP\", \"names\": [{\"value\": \"Shop V\xc3\xad D\xe1\xbb\xa5\","
        " \"kind\": \"TRADE\"}], \"identifiers\": [{\"type\": \"PHONE\", \"value\": \"0912345678\"}],"
        " \"violation_categories\": [\"HANG_GIA\"],"
        " \"sensitivity\": {\"tier\": \"PUBLIC\", \"recipients\": []}}",
        "{\"record_id\": \"hq-2026-0003\", \"agency\": \"MOF-HQ\", \"reported_at\": 1767225600000,"
        " \"subject_kind\": \"WEBSITE\", \"identifiers\": [{\"type\": \"DOMAIN\","
        " \"value\": \"vidu.example.vn\"}], \"violation_categories\": [\"HANG_GIA\"],"
        " \"sensitivity\": {\"tier\": \"PUBLIC\", \"recipients\": []}}",
};
#define N_REPORTS 3
#define PROVEN 1 /* the record the bundle proves */

int main(void)
{
        if (sodium_init() < 0)
                return 1;
        hub_err_t err = {0};
        /* The agency key of the batch vectors (seed 00 .. 1f), the hub key of the entity
         * vectors (seed 20 .. 3f). */
        uint8_t seed[32];
        hub_key_t agency = {.owner = "MOF-HQ", .key_id = "MOF-HQ/1", .has_secret = true};
        hub_key_t hub = {.owner = "HUB", .key_id = "HUB/1", .has_secret = true};
        for (int i = 0; i < 32; i++)
                seed[i] = (uint8_t)i;
        crypto_sign_seed_keypair(agency.pk, agency.sk, seed);
        for (int i = 0; i < 32; i++)
                seed[i] = (uint8_t)(0x20 + i);
        crypto_sign_seed_keypair(hub.pk, hub.sk, seed);

        hub_report_codec_t *codec;
        if (hub_report_codec_new(&codec, &err))
                die("codec", &err);
        hub_batch_header_t hh = {.agency = "MOF-HQ", .key_id = "MOF-HQ/1",
                                 .producer_id = "hq-connector-1", .batch_seq = 7,
                                 .created_at_ms = 1767225600000};
        memcpy(hh.schema_fingerprint, hub_report_codec_fingerprint(codec), 8);
        hub_batch_builder_t *bb;
        if (hub_batch_builder_new(&hh, NULL, &bb, &err))
                die("builder", &err);
        json_t *recs = json_array();
        for (int i = 0; i < N_REPORTS; i++) {
                json_t *j = json_loads(reports[i], 0, NULL);
                unsigned char *rb;
                size_t rl;
                if (!j || hub_report_encode_json(codec, j, &rb, &rl, &err) ||
                    hub_batch_builder_add(bb, rb, rl, &err))
                        die("report", &err);
                json_array_append_new(recs, hex(rb, rl));
                free(rb);
                json_decref(j);
        }
        unsigned char *batch;
        size_t batch_len;
        hub_batch_t *b;
        if (hub_batch_builder_finish(bb, agency.sk, sizeof(agency.sk), &batch, &batch_len, &err) ||
            hub_batch_decode(batch, batch_len, NULL, &b, &err) ||
            hub_batch_verify(b, agency.pk, 32, &err))
                die("batch", &err);

        /* What the hub derived from the proven record (the statements table's columns). */
        hub_mlog_statement_t st[2] = {
                {"name", "Shop V\xc3\xad D\xe1\xbb\xa5", "shop vi du", true, NULL, "PUBLIC"},
                {"phone", "0912345678", "+84912345678", true, NULL, "PUBLIC"},
        };
        uint8_t sdig[32];
        if (hub_mlog_statements_digest(st, 2, sdig, &err))
                die("statements", &err);

        /* The hub's log: 0 the key's registration, 1-4 and 6 other leaves, 5 the record. */
        hub_evidence_t ev = {0};
        hub_evidence_event_t *ke = &ev.events[0];
        ke->e = (hub_mlog_key_event_t){.event = HUB_MLOG_KEY_REGISTER, .agency = "MOF-HQ",
                                       .key_id = "MOF-HQ/1", .valid_from_us = 1735689600000000,
                                       .reason = "", .at_us = 1735689601234567};
        memcpy(ke->e.public_key, agency.pk, 32);
        ke->leaf_index = 0;
        ev.n_events = 1;
        uint8_t *kd, *rd;
        size_t kdl, rdl;
        if (hub_mlog_key_event_leaf(&ke->e, &kd, &kdl, &err))
                die("key leaf", &err);
        size_t pl;
        const uint8_t *prec = hub_batch_record(b, PROVEN, &pl);
        hub_mlog_record_leaf_t rl = {.agency = "MOF-HQ", .record_id = "hq-2026-0002",
                                     .batch_index = PROVEN};
        crypto_hash_sha256(rl.record_sha256, prec, pl);
        memcpy(rl.batch_digest, hub_batch_digest(b), 32);
        memcpy(rl.statements_digest, sdig, 32);
        if (hub_mlog_record_leaf(&rl, &rd, &rdl, &err))
                die("record leaf", &err);
        uint8_t leaves[7][32];
        hub_merkle_leaf_hash(kd, kdl, leaves[0]);
        for (int i = 1; i < 7; i++) {
                if (i == 5)
                        continue;
                uint8_t *od;
                size_t odl;
                char body[32];
                int n = snprintf(body, sizeof(body), "access entry %d", i);
                if (hub_mlog_leaf(HUB_MLOG_ACCESS, body, (size_t)n, &od, &odl, &err))
                        die("leaf", &err);
                hub_merkle_leaf_hash(od, odl, leaves[i]);
                free(od);
        }
        hub_merkle_leaf_hash(rd, rdl, leaves[5]);

        ev.head.size = 7;
        ev.head.timestamp_ms = 1767229200000;
        hub_merkle_root(&leaves[0][0], 7, ev.head.root);
        if (hub_mlog_head_sign(&ev.head, &hub, &err))
                die("head", &err);
        uint8_t head_digest[32];
        hub_mlog_head_digest(&ev.head, head_digest);

        ev.record = prec;
        ev.record_len = pl;
        ev.record_index = PROVEN;
        ev.header = hub_batch_header_bytes(b, &ev.header_len);
        if (hub_batch_audit_path(b, PROVEN, ev.batch_path, sizeof(ev.batch_path),
                                 &ev.batch_path_len, &err))
                die("audit path", &err);
        memcpy(ev.batch_signature, hub_batch_signature(b), 64);
        memcpy(ev.statements_digest, sdig, 32);
        ev.record_leaf_index = 5;
        if (hub_merkle_inclusion_path(&leaves[0][0], 7, 5, ev.record_proof,
                                      sizeof(ev.record_proof), &ev.record_proof_len, &err) ||
            hub_merkle_inclusion_path(&leaves[0][0], 7, 0, ke->proof, sizeof(ke->proof),
                                      &ke->proof_len, &err))
                die("proof", &err);
        uint8_t *bundle;
        size_t bundle_len;
        if (hub_evidence_encode(&ev, &bundle, &bundle_len, &err))
                die("encode", &err);
        hub_key_t hub_pub = hub, agency_pub = agency;
        hub_key_wipe(&hub_pub);
        hub_key_wipe(&agency_pub);
        hub_evidence_info_t info;
        if (hub_evidence_verify(bundle, bundle_len, &hub_pub, &agency_pub, &info, &err))
                die("verify", &err);

        json_t *flips = json_array();
        for (size_t i = 0; i < bundle_len; i++) {
                bundle[i] ^= 1;
                hub_err_t e2 = {0};
                if (hub_evidence_verify(bundle, bundle_len, &hub_pub, &agency_pub, &info, &e2) == 0)
                        die("a flipped bundle verified", NULL);
                json_array_append_new(flips, json_string(info.failed));
                bundle[i] ^= 1;
        }
        json_t *stj = json_array();
        for (int i = 0; i < 2; i++)
                json_array_append_new(
                        stj, json_pack("{s:s, s:s, s:s, s:b, s:n, s:s}", "prop", st[i].prop,
                                       "original", st[i].original, "value", st[i].value, "valid",
                                       st[i].valid, "reason", "tier", st[i].tier));
        size_t hl;
        const uint8_t *hb = hub_batch_header_bytes(b, &hl);
        json_t *out = json_pack(
                "{s:s, s:o, s:s, s:o, s:s, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
                " s:o, s:o, s:o, s:o}",
                "hub_key_id", "HUB/1", "hub_public_key", hex(hub.pk, 32), "agency_key_id",
                "MOF-HQ/1", "agency_public_key", hex(agency.pk, 32), "record_id", "hq-2026-0002",
                "batch", hex(batch, batch_len), "records", recs, "record_index", PROVEN,
                "batch_header", hex(hb, hl), "batch_root", hex(hub_batch_root(b), 32),
                "batch_digest", hex(hub_batch_digest(b), 32), "statements", stj,
                "statements_digest", hex(sdig, 32), "key_event_leaf", hex(kd, kdl),
                "record_leaf", hex(rd, rdl), "leaf_hashes", json_array(), "tree_root",
                hex(ev.head.root, 32), "head_digest", hex(head_digest, 32), "bundle",
                hex(bundle, bundle_len), "flip_lowest_bit_fails", flips);
        for (int i = 0; i < 7; i++)
                json_array_append_new(json_object_get(out, "leaf_hashes"), hex(leaves[i], 32));
        json_object_set_new(out, "tree_head",
                            json_pack("{s:I, s:I, s:s, s:o}", "log_size", (json_int_t)7,
                                      "timestamp", (json_int_t)ev.head.timestamp_ms, "key_id",
                                      "HUB/1", "signature", hex(ev.head.signature, 64)));
        char *s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(out);
        free(bundle);
        free(kd);
        free(rd);
        free(batch);
        hub_batch_free(b);
        hub_batch_builder_free(bb);
        hub_report_codec_free(codec);
        return 0;
}
