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
