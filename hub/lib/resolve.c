#include <hub/ident.h>
#include <hub/resolve.h>

#include <string.h>

int hub_resolve_key_window(const hub_key_window_t *w, int64_t created_at_ms)
{
        if (w->revoked && w->revoked_at_ms <= created_at_ms)
                return HUB_KEYV_REVOKED;
        if (created_at_ms < w->valid_from_ms)
                return HUB_KEYV_NOT_YET_VALID;
        if (w->has_valid_until && created_at_ms >= w->valid_until_ms)
                return HUB_KEYV_EXPIRED;
        return HUB_KEYV_OK;
}

int hub_resolve_key_accept(const hub_key_window_t *w, int64_t created_at_ms, int64_t received_ms)
{
        int verdict = hub_resolve_key_window(w, created_at_ms);
        if (verdict != HUB_KEYV_OK)
                return verdict;
        if (w->revoked) {
                int64_t effective = w->revoked_at_ms > w->revocation_registered_ms
                                            ? w->revoked_at_ms
                                            : w->revocation_registered_ms;
                if (received_ms >= effective)
                        return HUB_KEYV_REVOKED;
        }
        if (w->has_valid_until && received_ms >= w->valid_until_ms)
                return HUB_KEYV_EXPIRED;
        return HUB_KEYV_OK;
}

const char *hub_resolve_key_reason(int verdict)
{
        switch (verdict) {
        case HUB_KEYV_OK:
                return "OK";
        case HUB_KEYV_NOT_YET_VALID:
                return "KEY_NOT_YET_VALID";
        case HUB_KEYV_EXPIRED:
                return "KEY_EXPIRED";
        case HUB_KEYV_REVOKED:
                return "KEY_REVOKED";
        }
        return "UNKNOWN";
}

int hub_resolve_record(const uint8_t *stored_sha256, const uint8_t new_sha256[32])
{
        if (!stored_sha256)
                return HUB_REC_NEW;
        /* Not a secret: a plain comparison is fine. */
        return memcmp(stored_sha256, new_sha256, 32) == 0 ? HUB_REC_SAME : HUB_REC_CONFLICT;
}

void hub_resolve_entity(const int64_t *matches, size_t n, hub_resolve_decision_t *out)
{
        out->action = HUB_RESOLVE_NEW;
        out->entity_id = 0;
        out->n_left = 0;
        if (n == 0)
                return;
        int64_t oldest = matches[0];
        for (size_t i = 1; i < n; i++)
                if (matches[i] < oldest)
                        oldest = matches[i];
        /* Count the distinct others without allocating: n is a record's identifier count. */
        size_t distinct = 0;
        for (size_t i = 0; i < n; i++) {
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = matches[j] == matches[i];
                if (!seen)
                        distinct++;
        }
        out->action = HUB_RESOLVE_ATTACH;
        out->entity_id = oldest;
        out->n_left = distinct - 1;
}

static const char *const tier_names[HUB_TIER__COUNT] = {"PUBLIC", "SHARED", "RESTRICTED"};
static const char *const tier_topics[HUB_TIER__COUNT] = {"public", "shared", "restricted"};

const char *hub_tier_name(int tier)
{
        return tier >= 0 && tier < HUB_TIER__COUNT ? tier_names[tier] : NULL;
}

const char *hub_tier_topic_suffix(int tier)
{
        return tier >= 0 && tier < HUB_TIER__COUNT ? tier_topics[tier] : NULL;
}

int hub_tier_from_name(const char *name)
{
        for (int i = 0; i < HUB_TIER__COUNT; i++)
                if (name && strcmp(name, tier_names[i]) == 0)
                        return i;
        return -1;
}

bool hub_tier_visible(int stmt, int view)
{
        return stmt >= 0 && view < HUB_TIER__COUNT && stmt <= view;
}

/* ---- resolution rules ---- */

void hub_resolve_match(const hub_evidence_t *ev, hub_match_decision_t *out)
{
        memset(out, 0, sizeof(*out));
        unsigned kinds = (ev->phone > 0) + (ev->handle > 0) + (ev->name > 0);
        bool corroborated = kinds >= 2 && (ev->phone || ev->handle);
        bool wants = ev->strong > 0 || corroborated;
        if (wants) {
                if (ev->not_same)
                        out->refused = "not-same judgement";
                else if (ev->noisy)
                        out->refused = "noisy identifier";
                else if (ev->tax_code_conflict)
                        out->refused = "different tax codes";
                else if (ev->personal_id_conflict && !ev->personal_id_transposed)
                        out->refused = "different personal ids";
                else if (ev->ambiguous && !ev->strong)
                        out->refused = "ambiguous: corroborates conflicting entities";
                if (!out->refused) {
                        out->merge = true;
                        out->rule = ev->strong ? "strong-identifier" : "corroborated";
                        if (ev->personal_id_conflict)
                                out->review = "personal id differs by one adjacent "
                                              "transposition";
                        return;
                }
                out->candidate = true;
        }
        if (ev->phone)
                out->links |= HUB_LINK_SHARED_PHONE;
        if (ev->address)
                out->links |= HUB_LINK_SHARED_ADDRESS;
        if (ev->related)
                out->links |= HUB_LINK_RELATED_PARTY;
        if (ev->bank_phone)
                out->links |= HUB_LINK_BANK_EQUALS_PHONE;
        if (ev->handle)
                out->links |= HUB_LINK_SIMILAR_HANDLE;
        if (ev->name || ev->name_block || ev->hint)
                out->candidate = true;
}

const char *hub_resolve_link_name(unsigned link)
{
        switch (link) {
        case HUB_LINK_SHARED_PHONE:
                return "shared-phone";
        case HUB_LINK_SHARED_ADDRESS:
                return "shared-address";
        case HUB_LINK_RELATED_PARTY:
                return "related-party";
        case HUB_LINK_BANK_EQUALS_PHONE:
                return "bank-equals-phone";
        case HUB_LINK_SIMILAR_HANDLE:
                return "similar-handle";
        }
        return NULL;
}

bool hub_resolve_is_transposition(const char *a, const char *b)
{
        size_t n = strlen(a);
        if (n != strlen(b) || n < 2)
                return false;
        size_t i = 0;
        while (i < n && a[i] == b[i])
                i++;
        if (i + 1 >= n || a[i] != b[i + 1] || a[i + 1] != b[i])
                return false;
        return strcmp(a + i + 2, b + i + 2) == 0;
}

size_t hub_resolve_transpositions(const char *s, char (*out)[16], size_t max)
{
        size_t n = strlen(s), k = 0;
        if (n < 2 || n >= 16)
                return 0;
        for (size_t i = 0; i + 1 < n && k < max; i++) {
                if (s[i] == s[i + 1])
                        continue; /* the swap changes nothing */
                memcpy(out[k], s, n + 1);
                out[k][i] = s[i + 1];
                out[k][i + 1] = s[i];
                bool dup = false;
                for (size_t j = 0; j < k && !dup; j++)
                        dup = strcmp(out[j], out[k]) == 0;
                if (!dup)
                        k++;
        }
        return k;
}

size_t hub_resolve_handle_stems(const char *handle, char (*out)[128], size_t cap)
{
        char key[128];
        hub_err_t err = {0};
        if (cap > 128)
                cap = 128;
        if (hub_name_match_key(handle, false, key, sizeof(key), &err) || strlen(key) >= cap)
                return 0;
        size_t k = 0;
        /* Eight characters: below that a stem ("shop", "thuha") is shared by chance. */
        if (strlen(key) >= 8)
                memcpy(out[k++], key, strlen(key) + 1);
        char *sp = strrchr(key, ' ');
        if (sp) {
                *sp = '\0';
                if (strlen(key) >= 8)
                        memcpy(out[k++], key, strlen(key) + 1);
        }
        return k;
}

/* Split a match key into tokens in place; returns how many (at most max). */
static size_t tokens(char *s, char **tok, size_t max)
{
        size_t n = 0;
        char *save = NULL;
        for (char *p = strtok_r(s, " ", &save); p && n < max; p = strtok_r(NULL, " ", &save))
                tok[n++] = p;
        return n;
}

static bool token_match(const char *a, const char *b)
{
        if (strcmp(a, b) == 0)
                return true;
        /* An initial: "t" for "thi" (abbreviated middle names). */
        return (a[1] == '\0' && b[0] == a[0]) || (b[1] == '\0' && a[0] == b[0]);
}

double hub_resolve_name_similarity(const char *key_a, const char *key_b)
{
        char a[512], b[512];
        char *ta[32], *tb[32];
        if (strlen(key_a) >= sizeof(a) || strlen(key_b) >= sizeof(b))
                return 0;
        strcpy(a, key_a);
        strcpy(b, key_b);
        size_t na = tokens(a, ta, 32), nb = tokens(b, tb, 32);
        if (!na || !nb)
                return 0;
        bool used[32] = {false};
        size_t matched = 0;
        /* Greedy in order: names keep their token order (surname first or last alike). */
        for (size_t i = 0; i < na; i++) {
                for (size_t j = 0; j < nb; j++) {
                        if (!used[j] && token_match(ta[i], tb[j])) {
                                used[j] = true;
                                matched++;
                                break;
                        }
                }
        }
        return 2.0 * (double)matched / (double)(na + nb);
}

void hub_resolve_candidate_score(const hub_candidate_facts_t *f, hub_candidate_score_t *out)
{
        memset(out, 0, sizeof(*out));
        out->name = 0.5 * f->name_similarity;
        out->weak = f->shared_weak ? (f->shared_weak > 1 ? 0.25 : 0.15) : 0;
        out->hint = f->hints ? 0.2 : 0;
        if (f->birth_year_a && f->birth_year_b)
                out->birth_year = f->birth_year_a == f->birth_year_b ? 0.1 : -0.3;
        out->province = f->same_province ? 0.05 : 0;
        double s = out->name + out->weak + out->hint + out->birth_year + out->province;
        out->score = s < 0 ? 0 : s > 1 ? 1 : s;
}

int hub_resolve_name_cmp(const hub_name_rank_t *a, const hub_name_rank_t *b)
{
        if (a->agencies != b->agencies)
                return a->agencies > b->agencies ? -1 : 1;
        if (a->legal != b->legal)
                return a->legal ? -1 : 1;
        if (a->has_marks != b->has_marks)
                return a->has_marks ? -1 : 1;
        if (a->latest_ms != b->latest_ms)
                return a->latest_ms > b->latest_ms ? -1 : 1;
        return strcmp(a->value, b->value);
}
