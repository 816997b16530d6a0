/* The Kafka ACLs of the hub (DESIGN contract 7), as a plan built from the agency registry and
 * the list of subscribers, and its creation on the brokers through the Admin API
 * (rd_kafka_CreateAcls: no JVM tool, one round trip for all of them).
 *
 * The rules, one principal User:<name> per party, everything else denied by the broker's
 * authorizer (allow.everyone.if.no.acl.found=false):
 *   agency <CODE>    WRITE topic agency.<CODE>.reports (literal); IDEMPOTENT_WRITE cluster
 *   the hub          READ topics agency.* (prefixed) and its consumer group (literal);
 *                    WRITE topics hub.* (prefixed); IDEMPOTENT_WRITE cluster
 *   subscriber USER  READ topic hub.entities.<tier> (literal) for each tier it may see;
 *                    READ group USER (literal)
 * READ and WRITE imply DESCRIBE in Kafka, which the clients need for metadata. */
#ifndef HUB_KAFKA_ACL_H
#define HUB_KAFKA_ACL_H

#include <hub/err.h>

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>

#define HUB_ACL_NAME_MAX 128

typedef enum {
        HUB_ACL_TOPIC = 0,
        HUB_ACL_GROUP,
        HUB_ACL_CLUSTER,
        HUB_ACL_TRANSACTIONAL_ID
} hub_acl_resource_t;
typedef enum {
        HUB_ACL_READ = 0,
        HUB_ACL_WRITE,
        HUB_ACL_IDEMPOTENT_WRITE,
        HUB_ACL_DESCRIBE
} hub_acl_op_t;

/* The transactional.id of hubd's outbox publisher is this prefix, followed by "-" and the
 * deployment's publisher_id setting when one is set; the hub's ACLs grant the prefix. */
#define HUB_PUBLISHER_TXN_PREFIX "hub-publisher"

typedef struct hub_acl {
        hub_acl_resource_t resource;
        bool prefixed;                     /* the name is a prefix (else literal) */
        char name[HUB_ACL_NAME_MAX + 32];  /* topic, group or transactional id; "kafka-cluster" */
        char principal[HUB_ACL_NAME_MAX + 8]; /* "User:<name>" */
        hub_acl_op_t op;
        /* Set by hub_kafka_acl_create() when this librdkafka cannot create it (a
         * transactional-id ACL before librdkafka names that resource type). */
        bool not_created;
} hub_acl_t;

typedef struct hub_acl_plan {
        hub_acl_t *acls;
        size_t n, cap;
} hub_acl_plan_t;

/* Whether `name` can be a Kafka user of the plan: 1-128 of A-Z a-z 0-9 . _ - (no ':' or '*',
 * which would change what an ACL means). */
bool hub_acl_user_valid(const char *name);

/* Append the ACLs of one party to the plan. Errors: HUB_E_CONFIG (a name hub_acl_user_valid()
 * refuses, or a group name that is not), HUB_E_NOMEM. */
int hub_acl_plan_agency(hub_acl_plan_t *p, const char *code, hub_err_t *err);
int hub_acl_plan_hub(hub_acl_plan_t *p, const char *user, const char *group, hub_err_t *err);
/* tiers: a bit (1 << HUB_TIER_*) per tier the subscriber may read; at least one. */
int hub_acl_plan_subscriber(hub_acl_plan_t *p, const char *user, unsigned tiers,
                            hub_err_t *err);
void hub_acl_plan_done(hub_acl_plan_t *p);

/* "public,shared" (any order, case-insensitive) to a tier bit set. Errors: HUB_E_CONFIG naming
 * the unknown tier, or an empty list. */
int hub_acl_parse_tiers(const char *list, unsigned *out, hub_err_t *err);

/* One line describing an ACL: "User:MOF-HQ WRITE topic agency.MOF-HQ.reports". */
void hub_acl_format(const hub_acl_t *a, char *out, size_t cap);

/* Create every ACL of the plan on the brokers (an ACL that exists already is not an error),
 * waiting up to timeout_ms. Errors: HUB_E_KAFKA (retriable when the broker timed out or is
 * unreachable; CLUSTER_AUTHORIZATION_FAILED when the client may not alter ACLs). */
int hub_kafka_acl_create(rd_kafka_t *rk, const hub_acl_plan_t *p, int timeout_ms,
                         hub_err_t *err);

#endif
