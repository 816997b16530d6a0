/* The resolution rules (hub/resolve.h, hub/extract.h), one test per trap type of the shared dev
 * data (`_traps` of agency_records.dev.jsonl): what a record's identifiers and names become
 * (merge keys, weak keys, hints) and what the evidence between two entities decides (merge,
 * link, candidate). No services: hub/store applies these decisions (tests/integration/
 * resolution.sh checks them on the 44 records end to end). */
#include <hub/arena.h>
#include <hub/extract.h>
#include <hub/ident.h>
#include <hub/report.h>
#include <hub/resolve.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static hub_report_codec_t *codec;
static hub_arena_t *arena;

static int setup(void **state)
{
        (void)state;
        hub_err_t err = {0};
        arena = hub_arena_new();
        return hub_report_codec_new(&codec, &err) || !arena;
}

static int teardown(void **state)
{
        (void)state;
        hub_report_codec_free(codec);
        hub_arena_free(arena);
        return 0;
}

/* Extract a report given as the JSON of its identifiers, names and relations. */
static hub_extract_t extract(const char *kind, const char *names, const char *ids,
                             const char *relations)
{
        char text[4096];
        snprintf(text, sizeof(text),
                 "{\"record_id\": \"R\", \"agency\": \"A\", \"reported_at\": 0,"
                 " \"subject_kind\": \"%s\", \"names\": [%s], \"identifiers\": [%s],"
                 " \"relations\": [%s], \"sensitivity\": {\"tier\": \"SHARED\","
                 " \"recipients\": []}}",
                 kind, names, ids, relations);
        hub_err_t err = {0};
        json_t *j = json_loads(text, 0, NULL);
        assert_non_null(j);
        unsigned char *bytes = NULL;
        size_t len = 0;
        if (hub_report_encode_json(codec, j, &bytes, &len, &err))
                fail_msg("%s", err.msg);
        json_decref(j);
        avro_value_t *v;
        assert_int_equal(hub_report_decode(codec, bytes, len, &v, &err), 0);
        hub_extract_t x;
        if (hub_extract_report(v, arena, &x, &err))
                fail_msg("%s", err.msg);
        free(bytes);
        return x;
}

static bool has_key(const hub_extract_t *x, const char *type, const char *value)
{
        for (size_t i = 0; i < x->n_keys; i++)
                if (strcmp(x->keys[i].type, type) == 0 && strcmp(x->keys[i].value, value) == 0)
                        return true;
        return false;
}

static bool has_weak(const hub_extract_t *x, const char *kind, const char *value)
{
        for (size_t i = 0; i < x->n_weak; i++)
                if (strcmp(x->weak[i].kind, kind) == 0 && strcmp(x->weak[i].value, value) == 0)
                        return true;
        return false;
}

static const char *weak_of(const hub_extract_t *x, const char *kind, size_t nth)
{
        for (size_t i = 0; i < x->n_weak; i++)
                if (strcmp(x->weak[i].kind, kind) == 0 && nth-- == 0)
                        return x->weak[i].value;
        return NULL;
}

static hub_match_decision_t decide(hub_evidence_t ev)
{
        hub_match_decision_t d;
        hub_resolve_match(&ev, &d);
        return d;
}

/* QLTT-2025-0003, HQ-2025-0104: a branch MST merges with its head office. */
static void test_branch_tax_code_gives_parent_key(void **state)
{
        (void)state;
        hub_extract_t x = extract("ORGANIZATION", "",
                                  "{\"type\": \"TAX_CODE\", \"value\": \"0399123457-001\"}", "");
        assert_true(has_key(&x, "TAX_CODE", "0399123457001"));
        assert_true(has_key(&x, "TAX_CODE", "0399123457"));
        hub_match_decision_t d = decide((hub_evidence_t){.strong = 1});
        assert_true(d.merge);
        assert_string_equal(d.rule, "strong-identifier");
}

/* CA-2025-0403: 9 digits, a lost leading zero: flagged, never a merge key, a hint. */
static void test_lost_leading_zero_is_flagged_hint(void **state)
{
        (void)state;
        hub_extract_t x = extract("ORGANIZATION", "",
                                  "{\"type\": \"TAX_CODE\", \"value\": \"399123457\"}", "");
        assert_int_equal(x.n_keys, 0);
        assert_int_equal(x.n_invalid, 1);
        assert_false(x.stmts[0].valid);
        assert_string_equal(x.stmts[0].reason, "PROBABLE_LOST_ZERO");
        assert_true(has_weak(&x, "HINT", "TAX_CODE:0399123457"));
        hub_match_decision_t d = decide((hub_evidence_t){.hint = 1});
        assert_false(d.merge);
        assert_true(d.candidate);
}

/* BTTTT-2025-0303: a registrant MST with transposed digits fails the check digit: the
 * transposition that passes is a hint (candidate for review), never a merge. */
static void test_transposed_tax_code_is_hint(void **state)
{
        (void)state;
        hub_extract_t x = extract(
                "WEBSITE", "", "",
                "{\"kind\": \"REGISTRANT\", \"identifiers\": [{\"type\": \"TAX_CODE\","
                " \"value\": \"0399124357\"}]}");
        assert_int_equal(x.n_keys, 0);
        assert_int_equal(x.n_invalid, 1);
        assert_true(has_weak(&x, "HINT", "TAX_CODE:0399123457"));
        assert_false(decide((hub_evidence_t){.hint = 1}).merge);
}

/* CA-2025-0406: a personal id with its last two digits transposed is structurally valid (no
 * check digit). Alone it decides nothing; with a phone and a name that agree it merges with a
 * review note; two truly different ids never merge. */
static void test_transposed_personal_id(void **state)
{
        (void)state;
        assert_true(hub_resolve_is_transposition("079078006824", "079078006842"));
        assert_false(hub_resolve_is_transposition("079078006824", "079078006824"));
        assert_false(hub_resolve_is_transposition("040092007731", "031085002219"));
        hub_extract_t x = extract("INDIVIDUAL", "",
                                  "{\"type\": \"PERSONAL_ID\", \"value\": \"079078006824\"}", "");
        assert_true(has_key(&x, "PERSONAL_ID", "079078006824"));
        assert_true(has_weak(&x, "HINT", "PERSONAL_ID:079078006842"));
        hub_match_decision_t d = decide((hub_evidence_t){.hint = 1});
        assert_false(d.merge);
        assert_true(d.candidate);
        d = decide((hub_evidence_t){.phone = 1, .name = 1, .personal_id_conflict = true,
                                    .personal_id_transposed = true});
        assert_true(d.merge);
        assert_string_equal(d.rule, "corroborated");
        assert_non_null(d.review);
        d = decide((hub_evidence_t){.phone = 1, .name = 1, .personal_id_conflict = true});
        assert_false(d.merge);
        assert_string_equal(d.refused, "different personal ids");
        assert_true(d.candidate);
        assert_true(d.links & HUB_LINK_SHARED_PHONE);
}

/* HQ-2025-0106 / BTTTT-2025-0306: the decoy has the same full name as E3: a candidate, never a
 * merge; the same name with the decoy's own phone does merge with the decoy. */
static void test_decoy_same_full_name(void **state)
{
        (void)state;
        hub_extract_t a = extract("INDIVIDUAL", "{\"value\": \"Trần Văn Ðức\", \"kind\": \"LEGAL\"}", "", "");
        hub_extract_t b = extract("INDIVIDUAL", "{\"value\": \"TRAN VAN DUC\", \"kind\": \"LEGAL\"}", "", "");
        assert_string_equal(weak_of(&a, "NAME", 0), weak_of(&b, "NAME", 0));
        hub_match_decision_t d = decide((hub_evidence_t){.name = 1, .name_block = 1});
        assert_false(d.merge);
        assert_true(d.candidate);
        assert_int_equal(d.links, 0);
        d = decide((hub_evidence_t){.name = 1, .phone = 1});
        assert_true(d.merge);
        /* Names score a candidate; a different birth year lowers it. */
        hub_candidate_score_t s1, s2;
        hub_resolve_candidate_score(&(hub_candidate_facts_t){.name_similarity = 1}, &s1);
        hub_resolve_candidate_score(&(hub_candidate_facts_t){.name_similarity = 1,
                                                            .birth_year_a = 1992,
                                                            .birth_year_b = 1985},
                                    &s2);
        assert_true(s2.score < s1.score);
        assert_true(s2.birth_year < 0);
}

/* CA-2025-0402: a website shares a phone with a person: a link, not a merge. */
static void test_shared_phone_is_link(void **state)
{
        (void)state;
        hub_extract_t x = extract("WEBSITE", "",
                                  "{\"type\": \"PHONE\", \"value\": \"038 234 5678\"}", "");
        assert_int_equal(x.n_keys, 0);
        assert_true(has_weak(&x, "PHONE", "+84382345678"));
        hub_match_decision_t d = decide((hub_evidence_t){.phone = 1});
        assert_false(d.merge);
        assert_false(d.candidate);
        assert_int_equal(d.links, HUB_LINK_SHARED_PHONE);
        assert_string_equal(hub_resolve_link_name(d.links), "shared-phone");
}

/* CA-2025-0401: an MB account number equal to the holder's phone: a link kind of its own. */
static void test_bank_account_equal_to_phone_is_link(void **state)
{
        (void)state;
        hub_extract_t x = extract("INDIVIDUAL", "",
                                  "{\"type\": \"BANK_ACCOUNT\", \"value\": \"0382345678\","
                                  " \"qualifier\": \"970422\"}",
                                  "");
        assert_true(has_key(&x, "BANK_ACCOUNT", "970422:0382345678"));
        assert_true(has_weak(&x, "BANKPHONE", "+84382345678"));
        assert_false(has_weak(&x, "PHONE", "+84382345678"));
        hub_match_decision_t d = decide((hub_evidence_t){.bank_phone = 1});
        assert_false(d.merge);
        assert_int_equal(d.links, HUB_LINK_BANK_EQUALS_PHONE);
}

/* BTTTT-2025-0305, QLTT-2025-0009: an upper-case Unicode IDN and its punycode are one key. */
static void test_idn_domain_equality(void **state)
{
        (void)state;
        hub_extract_t a = extract("WEBSITE", "",
                                  "{\"type\": \"URL\", \"value\": \"http://ĐỒGIADỤNG-VIDU.VN/\"}",
                                  "");
        hub_extract_t b = extract("WEBSITE", "",
                                  "{\"type\": \"DOMAIN\", \"value\": \"đồgiadụng-vidu.vn\"}", "");
        assert_int_equal(a.n_keys, 1);
        assert_int_equal(b.n_keys, 1);
        assert_string_equal(a.keys[0].type, "DOMAIN");
        assert_string_equal(a.keys[0].value, b.keys[0].value);
        assert_memory_equal(a.keys[0].value, "xn--", 4);
}

/* BTTTT-2025-0302, BTTTT-2025-0308: www., m. and paths fold to the registrable domain or the
 * account; .com.vn is a public suffix. */
static void test_subdomains_to_registrable_domain(void **state)
{
        (void)state;
        hub_extract_t a = extract(
                "WEBSITE", "",
                "{\"type\": \"URL\", \"value\": \"https://www.HangHieuGiaRe-vidu.vn/khuyen-mai"
                "?ref=zalo#top\"}",
                "");
        assert_true(has_key(&a, "DOMAIN", "hanghieugiare-vidu.vn"));
        hub_extract_t b = extract("WEBSITE", "",
                                  "{\"type\": \"URL\", \"value\": "
                                  "\"https://phuongnam-xnk-vidu.com.vn.:443/\"}",
                                  "");
        assert_true(has_key(&b, "DOMAIN", "phuongnam-xnk-vidu.com.vn"));
        hub_extract_t c = extract("SOCIAL_ACCOUNT", "",
                                  "{\"type\": \"URL\", \"value\": "
                                  "\"https://m.facebook.com/thuha.authentic.vidu/?ref=page\"}",
                                  "");
        hub_extract_t d = extract("SOCIAL_ACCOUNT", "",
                                  "{\"type\": \"URL\", \"value\": "
                                  "\"https://www.facebook.com/thuha.authentic.vidu\"}",
                                  "");
        assert_int_equal(c.n_keys, 1);
        assert_string_equal(c.keys[0].value, d.keys[0].value);
}

/* BTTTT-2025-0304: a different domain (mỹphẩmhoànglong-vidu.vn in punycode) of the same owner:
 * its handle stem meets myphamhoanglong-vidu.vn's, and with the registrant's name that is two
 * corroborating kinds; the handle alone only links. */
static void test_idn_handle_stem_corroborates(void **state)
{
        (void)state;
        hub_extract_t a = extract("WEBSITE", "",
                                  "{\"type\": \"DOMAIN\", \"value\": "
                                  "\"xn--mphmhonglong-vidu-tob5895lwkb.vn\"}",
                                  "{\"kind\": \"REGISTRANT\", \"name\": \"Công ty TNHH Thương mại "
                                  "Mỹ phẩm Hoàng Long\"}");
        hub_extract_t b = extract("ORGANIZATION",
                                  "{\"value\": \"CÔNG TY TNHH THƯƠNG MẠI MỸ PHẨM HOÀNG LONG\", \"kind\": \"LEGAL\"}",
                                  "{\"type\": \"DOMAIN\", \"value\": \"myphamhoanglong-vidu.vn\"}",
                                  "");
        assert_string_not_equal(a.keys[0].value, b.keys[0].value);
        assert_string_equal(weak_of(&a, "HANDLE", 0), weak_of(&b, "HANDLE", 0));
        assert_string_equal(weak_of(&a, "NAME", 0), weak_of(&b, "NAME", 0));
        assert_true(decide((hub_evidence_t){.handle = 1, .name = 1}).merge);
        hub_match_decision_t d = decide((hub_evidence_t){.handle = 1});
        assert_false(d.merge);
        assert_int_equal(d.links, HUB_LINK_SIMILAR_HANDLE);
        /* Stems: the whole and the whole less its last token, 8 characters at least. */
        char stems[2][128];
        assert_int_equal(hub_resolve_handle_stems("thuha.authentic.vidu", stems, 128), 2);
        assert_string_equal(stems[0], "thuha authentic vidu");
        assert_string_equal(stems[1], "thuha authentic");
        assert_int_equal(hub_resolve_handle_stems("thuha", stems, 128), 0);
}

/* A courier's phone on two shops, with nothing else: a link; and once on more than K entities
 * the store marks it noisy and it stops counting (the guard's decision is `noisy`). */
static void test_courier_phone_is_link_and_noisy_stops_merge(void **state)
{
        (void)state;
        hub_match_decision_t d = decide((hub_evidence_t){.phone = 1});
        assert_false(d.merge);
        assert_int_equal(d.links, HUB_LINK_SHARED_PHONE);
        d = decide((hub_evidence_t){.strong = 1, .noisy = true});
        assert_false(d.merge);
        assert_string_equal(d.refused, "noisy identifier");
        assert_true(d.candidate);
}

/* HQ-2025-0108, HQ-2025-0109: a director and a forwarder name E5's tax code as related: a
 * RELATED key and a link, never a merge key; a registrant's tax code is the subject's own. */
static void test_related_party_is_link(void **state)
{
        (void)state;
        hub_extract_t x = extract(
                "INDIVIDUAL", "", "{\"type\": \"PERSONAL_ID\", \"value\": \"079088012345\"}",
                "{\"kind\": \"OTHER\", \"role_text\": \"giám đốc\", \"identifiers\":"
                " [{\"type\": \"TAX_CODE\", \"value\": \"0399555016\"}]}");
        assert_false(has_key(&x, "TAX_CODE", "0399555016"));
        assert_true(has_weak(&x, "RELATED", "TAX_CODE:0399555016"));
        hub_match_decision_t d = decide((hub_evidence_t){.related = 1});
        assert_false(d.merge);
        assert_int_equal(d.links, HUB_LINK_RELATED_PARTY);
        hub_extract_t w = extract(
                "WEBSITE", "", "",
                "{\"kind\": \"REGISTRANT\", \"identifiers\": [{\"type\": \"TAX_CODE\","
                " \"value\": \"0399555016\"}]}");
        assert_true(has_key(&w, "TAX_CODE", "0399555016"));
}

/* An active not-same judgement, different tax codes, an ambiguous record: no merge. */
static void test_refusals(void **state)
{
        (void)state;
        hub_match_decision_t d = decide((hub_evidence_t){.strong = 2, .not_same = true});
        assert_false(d.merge);
        assert_string_equal(d.refused, "not-same judgement");
        assert_true(d.candidate);
        d = decide((hub_evidence_t){.phone = 1, .name = 1, .tax_code_conflict = true});
        assert_false(d.merge);
        assert_string_equal(d.refused, "different tax codes");
        d = decide((hub_evidence_t){.phone = 1, .handle = 1, .ambiguous = true});
        assert_false(d.merge);
        /* A strong identifier is not ambiguous. */
        assert_true(decide((hub_evidence_t){.strong = 1, .ambiguous = true}).merge);
        /* Shared address alone: a link. */
        assert_int_equal(decide((hub_evidence_t){.address = 1}).links, HUB_LINK_SHARED_ADDRESS);
}

/* Vũ/Võ, abbreviated middle names: similarity for the candidate score. */
static void test_name_similarity(void **state)
{
        (void)state;
        assert_true(hub_resolve_name_similarity("nguyen thi thu ha", "nguyen t thu ha") == 1.0);
        double vo = hub_resolve_name_similarity("vu thi may", "vo thi may");
        assert_true(vo > 0.6 && vo < 1.0);
        assert_true(hub_resolve_name_similarity("tran van duc", "le minh tuan") == 0.0);
}

/* The display rule: most agencies, then a legal name, then diacritics, then the latest. */
static void test_display_rule(void **state)
{
        (void)state;
        hub_name_rank_t two = {"Công ty TNHH X", 2, true, 10, true};
        hub_name_rank_t one = {"CÔNG TY TNHH X - Chi nhánh", 1, true, 99, true};
        hub_name_rank_t ascii = {"Cong ty TNHH X", 2, true, 99, false};
        hub_name_rank_t alias = {"X Shop", 2, false, 99, true};
        assert_true(hub_resolve_name_cmp(&two, &one) < 0);
        assert_true(hub_resolve_name_cmp(&two, &ascii) < 0);
        assert_true(hub_resolve_name_cmp(&two, &alias) < 0);
        hub_name_rank_t newer = two;
        newer.value = "Công ty TNHH X mới";
        newer.latest_ms = 20;
        assert_true(hub_resolve_name_cmp(&newer, &two) < 0);
        assert_int_equal(hub_resolve_name_cmp(&two, &two), 0);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_branch_tax_code_gives_parent_key),
                cmocka_unit_test(test_lost_leading_zero_is_flagged_hint),
                cmocka_unit_test(test_transposed_tax_code_is_hint),
                cmocka_unit_test(test_transposed_personal_id),
                cmocka_unit_test(test_decoy_same_full_name),
                cmocka_unit_test(test_shared_phone_is_link),
                cmocka_unit_test(test_bank_account_equal_to_phone_is_link),
                cmocka_unit_test(test_idn_domain_equality),
                cmocka_unit_test(test_subdomains_to_registrable_domain),
                cmocka_unit_test(test_idn_handle_stem_corroborates),
                cmocka_unit_test(test_courier_phone_is_link_and_noisy_stops_merge),
                cmocka_unit_test(test_related_party_is_link),
                cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_name_similarity),
                cmocka_unit_test(test_display_rule),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
