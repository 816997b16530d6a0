#include <hub/kafka_acl.h>
#include <hub/resolve.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool hub_acl_user_valid(const char *name)
{
        size_t n = name ? strlen(name) : 0;
        if (n == 0 || n > HUB_ACL_NAME_MAX)
                return false;
        return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
               n;
}

static int add(hub_acl_plan_t *p, const char *user, hub_acl_resource_t res, bool prefixed,
               const char *name, hub_acl_op_t op, hub_err_t *err)
{
        if (p->n == p->cap) {
                size_t cap = p->cap ? 2 * p->cap : 16;
                hub_acl_t *a = realloc(p->acls, cap * sizeof(*a));
                if (!a)
                        return hub_err_set(err, HUB_E_NOMEM, false, "acl", "out of memory");
                p->acls = a;
                p->cap = cap;
        }
        hub_acl_t *a = &p->acls[p->n++];
        memset(a, 0, sizeof(*a));
        a->resource = res;
        a->prefixed = prefixed;
        a->op = op;
        snprintf(a->name, sizeof(a->name), "%s", name);
        snprintf(a->principal, sizeof(a->principal), "User:%s", user);
        return 0;
}

static int check_user(const char *what, const char *name, hub_err_t *err)
{
        if (hub_acl_user_valid(name))
                return 0;
        return hub_err_set(err, HUB_E_CONFIG, false, "acl",
                           "invalid Kafka %s \"%s\": 1-%d of A-Z a-z 0-9 . _ -", what,
                           name ? name : "", HUB_ACL_NAME_MAX);
}

int hub_acl_plan_agency(hub_acl_plan_t *p, const char *code, hub_err_t *err)
{
        char topic[HUB_ACL_NAME_MAX + 32];
        int rc = check_user("agency user", code, err);
        if (rc)
                return rc;
        snprintf(topic, sizeof(topic), "agency.%s.reports", code);
        rc = add(p, code, HUB_ACL_TOPIC, false, topic, HUB_ACL_WRITE, err);
        /* InitProducerId of the idempotent producer. Kafka 3+ also grants it to whoever may
         * WRITE a topic; named anyway so that the plan states everything a connector needs. */
        if (!rc)
                rc = add(p, code, HUB_ACL_CLUSTER, false, "kafka-cluster",
                         HUB_ACL_IDEMPOTENT_WRITE, err);
        return rc;
}

int hub_acl_plan_hub(hub_acl_plan_t *p, const char *user, const char *group, hub_err_t *err)
{
        int rc = check_user("hub user", user, err);
        if (!rc)
                rc = check_user("hub consumer group", group, err);
        if (!rc)
                rc = add(p, user, HUB_ACL_TOPIC, true, "agency.", HUB_ACL_READ, err);
        if (!rc)
                rc = add(p, user, HUB_ACL_GROUP, false, group, HUB_ACL_READ, err);
        if (!rc)
                rc = add(p, user, HUB_ACL_TOPIC, true, "hub.", HUB_ACL_WRITE, err);
        if (!rc)
                rc = add(p, user, HUB_ACL_CLUSTER, false, "kafka-cluster",
                         HUB_ACL_IDEMPOTENT_WRITE, err);
        /* The outbox publisher writes transactionally (hubd): WRITE and DESCRIBE on its
         * transactional id, by prefix so that every deployment's suffix is covered. */
        if (!rc)
                rc = add(p, user, HUB_ACL_TRANSACTIONAL_ID, true, HUB_PUBLISHER_TXN_PREFIX,
                         HUB_ACL_WRITE, err);
        if (!rc)
                rc = add(p, user, HUB_ACL_TRANSACTIONAL_ID, true, HUB_PUBLISHER_TXN_PREFIX,
                         HUB_ACL_DESCRIBE, err);
        return rc;
}

int hub_acl_plan_subscriber(hub_acl_plan_t *p, const char *user, unsigned tiers,
                            hub_err_t *err)
{
        int rc = check_user("subscriber user", user, err);
        if (rc)
                return rc;
        if (!tiers || tiers >= (1u << HUB_TIER__COUNT))
                return hub_err_set(err, HUB_E_CONFIG, false, "acl",
                                   "subscriber %s: no tier or an unknown one", user);
        for (int t = 0; !rc && t < HUB_TIER__COUNT; t++) {
                if (!(tiers & (1u << t)))
                        continue;
                char topic[64];
                snprintf(topic, sizeof(topic), "hub.entities.%s", hub_tier_topic_suffix(t));
                rc = add(p, user, HUB_ACL_TOPIC, false, topic, HUB_ACL_READ, err);
        }
        if (!rc)
                rc = add(p, user, HUB_ACL_GROUP, false, user, HUB_ACL_READ, err);
        return rc;
}

void hub_acl_plan_done(hub_acl_plan_t *p)
{
        if (!p)
                return;
        free(p->acls);
        memset(p, 0, sizeof(*p));
}

int hub_acl_parse_tiers(const char *list, unsigned *out, hub_err_t *err)
{
        unsigned tiers = 0;
        const char *s = list ? list : "";
        while (*s) {
                size_t n = strcspn(s, ", ");
                if (n) {
                        int t = -1;
                        for (int i = 0; i < HUB_TIER__COUNT; i++) {
                                const char *name = hub_tier_topic_suffix(i);
                                if (strlen(name) == n && strncasecmp(s, name, n) == 0)
                                        t = i;
                        }
                        if (t < 0)
                                return hub_err_set(err, HUB_E_CONFIG, false, "acl",
                                                   "unknown tier \"%.*s\": public, shared or "
                                                   "restricted",
                                                   (int)n, s);
                        tiers |= 1u << t;
                }
                s += n;
                s += strspn(s, ", ");
        }
        if (!tiers)
                return hub_err_set(err, HUB_E_CONFIG, false, "acl",
                                   "no tier given: public, shared or restricted");
        *out = tiers;
        return 0;
}

static const char *const op_names[] = {"READ", "WRITE", "IDEMPOTENT_WRITE", "DESCRIBE"};
static const char *const res_names[] = {"topic", "group", "cluster", "transactional-id"};

void hub_acl_format(const hub_acl_t *a, char *out, size_t cap)
{
        snprintf(out, cap, "%s %s %s %s%s", a->principal, op_names[a->op], res_names[a->resource],
                 a->name, a->prefixed ? "* (prefix)" : "");
}

int hub_kafka_acl_create(rd_kafka_t *rk, const hub_acl_plan_t *p, int timeout_ms,
                         hub_err_t *err)
{
        static const rd_kafka_ResourceType_t restype[] = {
                RD_KAFKA_RESOURCE_TOPIC, RD_KAFKA_RESOURCE_GROUP, RD_KAFKA_RESOURCE_BROKER,
                /* TRANSACTIONAL_ID in Kafka's protocol; librdkafka before 2.x releases that
                 * name it refuses it (see below). */
                (rd_kafka_ResourceType_t)5};
        static const rd_kafka_AclOperation_t ops[] = {
                RD_KAFKA_ACL_OPERATION_READ, RD_KAFKA_ACL_OPERATION_WRITE,
                RD_KAFKA_ACL_OPERATION_IDEMPOTENT_WRITE, RD_KAFKA_ACL_OPERATION_DESCRIBE};
        char errstr[256];
        int rc = 0;
        rd_kafka_AclBinding_t **b = calloc(p->n ? p->n : 1, sizeof(*b));
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATEACLS);
        rd_kafka_event_t *ev = NULL;
        if (!b || !q || !opts) {
                rc = hub_err_set(err, HUB_E_NOMEM, false, "acl", "out of memory");
                goto out;
        }
        rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof(errstr));
        size_t nb = 0;
        for (size_t i = 0; i < p->n; i++) {
                hub_acl_t *a = &p->acls[i];
                a->not_created = false;
                b[nb] = rd_kafka_AclBinding_new(
                        restype[a->resource], a->name,
                        a->prefixed ? RD_KAFKA_RESOURCE_PATTERN_PREFIXED
                                    : RD_KAFKA_RESOURCE_PATTERN_LITERAL,
                        a->principal, "*", ops[a->op], RD_KAFKA_ACL_PERMISSION_TYPE_ALLOW, errstr,
                        sizeof(errstr));
                if (!b[nb] && a->resource == HUB_ACL_TRANSACTIONAL_ID) {
                        /* This librdkafka cannot express the resource type: the caller reports
                         * the ACL as one to grant with Kafka's own tool. */
                        a->not_created = true;
                        continue;
                }
                if (!b[nb++]) {
                        rc = hub_err_set(err, HUB_E_INVAL, false, "acl",
                                         "could not describe ACL %zu: %s", i, errstr);
                        goto out;
                }
        }
        rd_kafka_CreateAcls(rk, b, nb, opts, q);
        ev = rd_kafka_queue_poll(q, timeout_ms + 2000);
        if (!ev) {
                rc = hub_err_set(err, HUB_E_KAFKA, true, "acl",
                                 "no answer to CreateAcls within %d ms", timeout_ms);
                goto out;
        }
        rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
        if (e) {
                rc = hub_err_set(err, HUB_E_KAFKA,
                                 e == RD_KAFKA_RESP_ERR__TIMED_OUT ||
                                         e == RD_KAFKA_RESP_ERR__TRANSPORT,
                                 "acl", "could not create ACLs: %s",
                                 rd_kafka_event_error_string(ev));
                goto out;
        }
        size_t cnt = 0;
        const rd_kafka_acl_result_t **res =
                rd_kafka_CreateAcls_result_acls(rd_kafka_event_CreateAcls_result(ev), &cnt);
        for (size_t i = 0, k = 0; i < cnt; i++, k++) {
                while (k < p->n && p->acls[k].not_created)
                        k++;
                const rd_kafka_error_t *ae = rd_kafka_acl_result_error(res[i]);
                if (ae && rd_kafka_error_code(ae)) {
                        char line[400];
                        hub_acl_format(&p->acls[k < p->n ? k : 0], line, sizeof(line));
                        rc = hub_err_set(err, HUB_E_KAFKA, false, "acl",
                                         "could not create ACL %s: %s: %s", line,
                                         rd_kafka_error_name(ae), rd_kafka_error_string(ae));
                        goto out;
                }
        }
out:
        if (ev)
                rd_kafka_event_destroy(ev);
        if (b) {
                for (size_t i = 0; i < p->n; i++)
                        if (b[i])
                                rd_kafka_AclBinding_destroy(b[i]);
                free(b);
        }
        if (opts)
                rd_kafka_AdminOptions_destroy(opts);
        if (q)
                rd_kafka_queue_destroy(q);
        return rc;
}
