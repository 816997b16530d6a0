/* Signed entities as subscribers meet them on hub.entities.<tier>: hub_entity_open() with the
 * hub key of schemas/vectors/signed-entity-v1.json. Almost no mutated envelope keeps a valid
 * signature, so the first input byte picks a second mode that reaches the checks after it:
 *   0x00 <envelope>    open the envelope as received;
 *   0x01 <entity>      sign the entity bytes as hubd would (hub_entity_sign_bytes validates
 *                      them first), open the result, and turn the entity into JSON;
 * Any other first byte is mode 0 over the whole input, so raw envelopes are seeds as they are. */
#include "fuzz.h"

#include <hub/entity.h>
#include <hub/keyfile.h>

#include <sodium.h>

static hub_entity_codec_t *codec;
static hub_key_t key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        FUZZ_CHECK(sodium_init() >= 0);
        uint8_t seed[32];
        fuzz_unhex("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f", seed, 32);
        crypto_sign_seed_keypair(key.pk, key.sk, seed);
        strcpy(key.owner, "HUB");
        strcpy(key.key_id, "HUB/1");
        key.has_secret = true;
        hub_err_t err = {0};
        FUZZ_CHECK(hub_entity_codec_new(&codec, &err) == 0);
        return 0;
}

static int open_envelope(const uint8_t *buf, size_t len, bool must_open)
{
        hub_err_t err = {0};
        avro_value_t *value = NULL;
        hub_entity_envelope_t env;
        int rc = hub_entity_open(codec, buf, len, 0, &key, &value, &env, &err);
        fuzz_check_err(rc, &err);
        FUZZ_CHECK(hub_entity_reason(rc) != NULL);
        if (must_open && rc)
                fprintf(stderr, "an envelope the hub signed does not open: %s\n", err.msg);
        FUZZ_CHECK(!must_open || rc == 0);
        if (rc)
                return 0;
        FUZZ_CHECK(env.key_id_len == strlen(key.key_id));
        FUZZ_CHECK(env.entity >= buf && env.entity + env.entity_len <= buf + len);
        json_t *j = NULL;
        hub_err_clear(&err);
        rc = hub_entity_to_json(value, &j, &err);
        fuzz_check_err(rc, &err);
        json_decref(j);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (size == 0 || data[0] > 1)
                return open_envelope(data, size, false);
        if (data[0] == 0)
                return open_envelope(data + 1, size - 1, false);
        unsigned char *env = NULL;
        size_t env_len = 0;
        hub_err_t err = {0};
        int rc = hub_entity_sign_bytes(codec, data + 1, size - 1, &key, &env, &env_len, &err);
        fuzz_check_err(rc, &err);
        if (rc == 0)
                open_envelope(env, env_len, true);
        free(env);
        return 0;
}
