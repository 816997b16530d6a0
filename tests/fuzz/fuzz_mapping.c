/* Mapping files of hub-publish (connectors/examples/README.md): any text through
 * hub_mapping_parse(), and a mapping that parses is applied to a few fixed rows, as
 * hub-publish would, so that option combinations no example uses meet real rows. */
#include "fuzz.h"

#include <hub/mapping.h>

static json_t *rows;

/* Rows in both source shapes: JSON Lines (typed values) and CSV (strings only). */
static const char rows_json[] =
        "["
        "{\"record_id\": \"QLTT-00000001\", \"source_agency\": \"QLTT\", \"reported_at\": "
        "\"2025-06-10\", \"subject_type\": \"individual\", \"name\": \"Hu\\u1ef3nh Thanh B\\u00ecnh\","
        " \"personal_id\": \"079099100205\", \"bank_accounts\": [{\"bank_bin\": \"970422\", "
        "\"account_no\": \"5286628173\", \"holder\": \"HUYNH THANH BINH\"}], \"phones\": "
        "[\"0953903161\"], \"dob_year\": 1999, \"violation_categories\": [\"HANG_GIA\"], "
        "\"actions\": [{\"type\": \"DESTROY_GOODS\", \"amount_vnd\": 12000000}]},"
        "{\"so_bien_ban\": \"BB-0001/QLTT-HCM\", \"lan_sua\": \"1\", \"ngay_lap\": \"05/03/2025\","
        " \"loai_doi_tuong\": \"c\\u00e1 nh\\u00e2n\", \"ten\": \"\\u0110o\\u00e0n Th\\u1ecb M\\u1eabu\","
        " \"cccd\": \"079199000001\", \"dien_thoai\": \"0909 000 111; 028 3800 0001\","
        " \"website\": \"https://shopee.vn/mau.vidu\", \"hanh_vi\": \"HANG_GIA;THONG_TIN_SAI_LECH\","
        " \"hinh_thuc\": \"FINE\", \"so_tien\": \"12000000\", \"dia_chi\": \"Ph\\u01b0\\u1eddng B\\u1ebfn"
        " Ngh\\u00e9, Qu\\u1eadn 1\", \"ma_tinh\": \"79\", \"ghi_chu\": \"v\\u00ed d\\u1ee5\"},"
        "{\"id\": 7, \"a\": null, \"b\": true, \"c\": 1.5, \"d\": [], \"e\": {}, \"f\": \"\"}"
        "]";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        json_error_t jerr;
        rows = json_loads(rows_json, 0, &jerr);
        FUZZ_CHECK(rows != NULL);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = fuzz_strndup(data, size);
        hub_mapping_t *m = NULL;
        hub_err_t err = {0};
        int rc = hub_mapping_parse(text, "fuzz.ini", &m, &err);
        fuzz_check_err(rc, &err);
        free(text);
        if (rc) {
                FUZZ_CHECK(m == NULL);
                return 0;
        }
        FUZZ_CHECK(hub_mapping_agency(m) != NULL);
        (void)hub_mapping_producer_id(m);
        (void)hub_mapping_key_id(m);
        FUZZ_CHECK(hub_mapping_format(m) == HUB_SOURCE_JSONL ||
                   hub_mapping_format(m) == HUB_SOURCE_CSV);
        (void)hub_mapping_csv_delimiter(m);

        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
                hub_mapping_stats_t stats = {0};
                json_t *report = NULL;
                const char *reason = NULL;
                hub_err_clear(&err);
                rc = hub_mapping_apply(m, row, &report, &reason, &stats, &err);
                if (rc < 0) {
                        fuzz_check_err(rc, &err);
                        FUZZ_CHECK(reason != NULL);
                }
                FUZZ_CHECK(rc == HUB_MAP_RECORD || rc == HUB_MAP_FILTERED || rc < 0);
                FUZZ_CHECK((rc == HUB_MAP_RECORD) == (report != NULL));
                json_decref(report);

                char id[HUB_MAPPING_MAX_RECORD_ID + 1];
                hub_err_clear(&err);
                rc = hub_mapping_record_id(m, row, id, sizeof(id), &reason, &err);
                fuzz_check_err(rc, &err);
                if (rc == 0)
                        FUZZ_CHECK(strlen(id) >= 1 && strlen(id) <= HUB_MAPPING_MAX_RECORD_ID);
        }
        (void)hub_mapping_ignored_fields(m);
        (void)hub_mapping_unknown_values(m);
        hub_mapping_free(m);
        return 0;
}
