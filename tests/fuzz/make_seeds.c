/* Writes the binary seeds of the committed corpora that need libhub to make: reports encoded
 * from tests/data/sample_reports.jsonl (corpus/report) and a signed batch of such reports under
 * the key of schemas/vectors/batch-v1.json (corpus/batch). make_corpus.py runs it; the output
 * is deterministic (Ed25519 signatures are), so re-running changes nothing.
 *   make_seeds SOURCE_ROOT OUT_DIR */
#include <hub/batch.h>
#include <hub/report.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int put(const char *dir, const char *sub, const char *name, const void *buf, size_t len)
{
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s/%s", dir, sub, name);
        FILE *f = fopen(p, "wb");
        if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
                fprintf(stderr, "make_seeds: could not write %s\n", p);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv)
{
        if (argc != 3) {
                fprintf(stderr, "usage: make_seeds SOURCE_ROOT OUT_DIR\n");
                return 2;
        }
        if (sodium_init() < 0)
                return 1;
        char p[4096];
        snprintf(p, sizeof(p), "%s/tests/data/sample_reports.jsonl", argv[1]);
        FILE *f = fopen(p, "r");
        if (!f) {
                fprintf(stderr, "make_seeds: could not open %s\n", p);
                return 1;
        }
        hub_err_t err = {0};
        hub_report_codec_t *c = NULL;
        if (hub_report_codec_new(&c, &err))
                return 1;

        uint8_t seed[32], pk[HUB_PK_BYTES], sk[HUB_SK_BYTES];
        for (int i = 0; i < 32; i++)
                seed[i] = (uint8_t)i;
        crypto_sign_seed_keypair(pk, sk, seed);
        hub_batch_header_t h = {.agency = "MOF-HQ", .key_id = "MOF-HQ/1",
                                .producer_id = "fuzz-seeds", .batch_seq = 1,
                                .created_at_ms = 1767225600000};
        memcpy(h.schema_fingerprint, hub_report_codec_fingerprint(c), 8);
        hub_batch_builder_t *b = NULL;
        if (hub_batch_builder_new(&h, NULL, &b, &err))
                return 1;

        char line[65536];
        int n = 0, rc = 0;
        while (n < 8 && fgets(line, sizeof(line), f)) {
                json_error_t jerr;
                json_t *j = json_loads(line, 0, &jerr);
                unsigned char *out = NULL;
                size_t len = 0;
                if (!j || hub_report_encode_json(c, j, &out, &len, &err)) {
                        fprintf(stderr, "make_seeds: line %d: %s\n", n + 1, err.msg);
                        return 1;
                }
                char name[64];
                snprintf(name, sizeof(name), "sample-%02d.avro", n + 1);
                rc |= put(argv[2], "report", name, out, len);
                if (n < 3 && hub_batch_builder_add(b, out, len, &err))
                        return 1;
                free(out);
                json_decref(j);
                n++;
        }
        fclose(f);
        unsigned char *batch = NULL;
        size_t blen = 0;
        if (hub_batch_builder_finish(b, sk, sizeof(sk), &batch, &blen, &err))
                return 1;
        rc |= put(argv[2], "batch", "reports-3.batch", batch, blen);
        free(batch);
        hub_batch_builder_free(b);
        hub_report_codec_free(c);
        sodium_memzero(sk, sizeof(sk));
        return rc ? 1 : 0;
}
