#include <hub/avro.h>
#include <hub/avro_json.h>
#include <hub/report.h>

#include <stdlib.h>

struct hub_report_codec {
        avro_schema_t schema;
        avro_value_iface_t *iface;
        avro_value_t value;
        uint8_t fingerprint[8];
};

void hub_report_codec_free(hub_report_codec_t *c)
{
        if (!c)
                return;
        if (c->iface) {
                avro_value_decref(&c->value);
                avro_value_iface_decref(c->iface);
        }
        if (c->schema)
                avro_schema_decref(c->schema);
        free(c);
}

int hub_report_codec_new(hub_report_codec_t **out, hub_err_t *err)
{
        hub_report_codec_t *c = calloc(1, sizeof(*c));
        if (!c)
                return hub_err_set(err, HUB_E_NOMEM, false, __func__, "out of memory");
        int rc;
        uint64_t fp;
        if (avro_schema_from_json_length(hub_report_schema_json, hub_report_schema_json_len,
                                         &c->schema)) {
                rc = hub_err_set(err, HUB_E_SCHEMA, false, __func__,
                                 "could not parse the compiled-in report schema: %s",
                                 avro_strerror());
                goto fail;
        }
        rc = hub_avro_fingerprint(hub_report_schema_json, hub_report_schema_json_len, &fp, err);
        if (rc)
                goto fail;
        for (int i = 0; i < 8; i++)
                c->fingerprint[i] = (uint8_t)(fp >> (8 * i));
        c->iface = avro_generic_class_from_schema(c->schema);
        if (!c->iface || avro_generic_value_new(c->iface, &c->value)) {
                if (c->iface)
                        avro_value_iface_decref(c->iface);
                c->iface = NULL;
                rc = hub_err_set(err, HUB_E_NOMEM, false, __func__,
                                 "could not create a report value: %s", avro_strerror());
                goto fail;
        }
        *out = c;
        return 0;
fail:
        hub_report_codec_free(c);
        return rc;
}

const uint8_t *hub_report_codec_fingerprint(const hub_report_codec_t *c)
{
        return c->fingerprint;
}

avro_schema_t hub_report_codec_schema(const hub_report_codec_t *c)
{
        return c->schema;
}

int hub_report_encode_json(hub_report_codec_t *c, json_t *report, unsigned char **out,
                           size_t *len, hub_err_t *err)
{
        avro_value_reset(&c->value);
        int rc = hub_avro_from_json(report, &c->value, err);
        if (rc)
                return rc;
        return hub_avro_encode(&c->value, out, len, err);
}

int hub_report_decode(hub_report_codec_t *c, const void *buf, size_t len, avro_value_t **value,
                      hub_err_t *err)
{
        int rc = hub_avro_decode(c->schema, buf, len, &c->value, err);
        if (rc)
                return rc;
        *value = &c->value;
        return 0;
}

int hub_report_ids(avro_value_t *value, const char **record_id, const char **agency,
                   hub_err_t *err)
{
        avro_value_t f;
        size_t n;
        if (avro_value_get_by_name(value, "record_id", &f, NULL) ||
            avro_value_get_string(&f, record_id, &n) ||
            avro_value_get_by_name(value, "agency", &f, NULL) ||
            avro_value_get_string(&f, agency, &n))
                return hub_err_set(err, HUB_E_MALFORMED, false, __func__,
                                   "report has no record_id or agency: %s", avro_strerror());
        return 0;
}
