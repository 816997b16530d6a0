/* hubctl kafka acl plan|apply: the brokers' ACLs, derived from the agency registry and the list
 * of subscribers (rules in <hub/kafka_acl.h>), created through the Admin API. */
#include "ctl.h"

#include <hub/kafka_acl.h>
#include <hub/registry.h>
#include <hub/timestamp.h>

#include <getopt.h>
#include <ini.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define ACL_TIMEOUT_MS 15000

static const char kafka_usage[] =
        "usage: hubctl kafka acl plan|apply [--hub-user NAME] [--hub-group GROUP]\n"
        "                                   [--subscriber USER=TIERS]... [--subscribers FILE]\n"
        "\n"
        "The Kafka ACLs of the hub, one principal User:<name> per party:\n"
        "  each registered agency (not past its valid_to), user = its code:\n"
        "      WRITE topic agency.<CODE>.reports; IDEMPOTENT_WRITE on the cluster\n"
        "  the hub (--hub-user, default hub):\n"
        "      READ topics agency.* and group --hub-group (default hubd); WRITE topics hub.*;\n"
        "      IDEMPOTENT_WRITE on the cluster\n"
        "  each subscriber: READ topic hub.entities.<tier> for each of its tiers, and READ\n"
        "      group <user> (hub-subscribe's group is its Kafka user)\n"
        "READ and WRITE include DESCRIBE; the broker denies everything else\n"
        "(allow.everyone.if.no.acl.found=false). `plan` prints them; `apply` also creates\n"
        "them (an existing one is kept), as a Kafka user allowed to alter ACLs (a super user).\n"
        "Removing a party's ACLs is not done here: kafka-acls.sh --remove.\n"
        "\n"
        "  --subscriber USER=TIERS  e.g. sub-mof-thue=public,shared (repeatable)\n"
        "  --subscribers FILE       INI lines USER = TIERS, in a [subscribers] section or\n"
        "                           none\n"
        "SCRAM credentials are not ACLs: create them with Kafka's kafka-configs.sh\n"
        "(--entity-type users --alter --add-config 'SCRAM-SHA-512=[password=...]') or at\n"
        "storage format time (kafka-storage.sh format --add-scram).\n";

#define MAX_SUBSCRIBERS 256

struct plan_ctx {
        hub_acl_plan_t plan;
        hub_err_t err;
        int rc;
        int64_t now;
};

static int on_agency(const hub_agency_row_t *a, void *arg)
{
        struct plan_ctx *x = arg;
        if (a->valid_to != HUB_TS_NONE && a->valid_to <= x->now)
                return 0;
        x->rc = hub_acl_plan_agency(&x->plan, a->code, &x->err);
        return x->rc;
}

static int add_subscriber(struct plan_ctx *x, const char *user, const char *tiers)
{
        unsigned t = 0;
        int rc = hub_acl_parse_tiers(tiers, &t, &x->err);
        if (!rc)
                rc = hub_acl_plan_subscriber(&x->plan, user, t, &x->err);
        if (rc)
                hub_err_prefix(&x->err, "subscriber %s", user);
        return rc;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
        struct plan_ctx *x = user;
        if (x->rc)
                return 0;
        if (*section && strcmp(section, "subscribers") != 0) {
                x->rc = hub_err_set(&x->err, HUB_E_CONFIG, false, "acl",
                                    "unknown section [%s] (only [subscribers])", section);
                return 0;
        }
        x->rc = add_subscriber(x, name, value);
        return x->rc == 0;
}

int ctl_cmd_kafka(ctl_t *ctl, int argc, char **argv)
{
        enum { OPT_HUB_USER = 2001, OPT_HUB_GROUP, OPT_SUBSCRIBER, OPT_SUBSCRIBERS };
        static const struct option longopts[] = {
                {"hub-user", required_argument, NULL, OPT_HUB_USER},
                {"hub-group", required_argument, NULL, OPT_HUB_GROUP},
                {"subscriber", required_argument, NULL, OPT_SUBSCRIBER},
                {"subscribers", required_argument, NULL, OPT_SUBSCRIBERS},
                CTL_COMMON_LONGOPTS,
                {NULL, 0, NULL, 0}};
        const char *cmd = "hubctl kafka acl";
        const char *hub_user = "hub", *hub_group = "hubd", *subs_file = NULL;
        const char *subs[MAX_SUBSCRIBERS];
        size_t n_subs = 0;
        int c, rc;
        while ((c = getopt_long(argc, argv, CTL_COMMON_SHORTOPTS, longopts, NULL)) != -1) {
                switch (c) {
                case 'h':
                        fputs(kafka_usage, stdout);
                        return CTL_OK;
                case '?':
                case ':':
                        return ctl_bad_option(cmd, argv);
                case OPT_HUB_USER: hub_user = optarg; break;
                case OPT_HUB_GROUP: hub_group = optarg; break;
                case OPT_SUBSCRIBERS: subs_file = optarg; break;
                case OPT_SUBSCRIBER:
                        if (n_subs == MAX_SUBSCRIBERS || !strchr(optarg, '='))
                                return ctl_usage_error(cmd, "--subscriber wants USER=TIERS (at "
                                                            "most %d)",
                                                       MAX_SUBSCRIBERS);
                        subs[n_subs++] = optarg;
                        break;
                default:
                        if ((rc = ctl_common_option(ctl, c, optarg, cmd)))
                                return rc;
                }
        }
        /* argv: kafka acl plan|apply */
        if (optind + 2 != argc || strcmp(argv[optind], "acl") != 0 ||
            (strcmp(argv[optind + 1], "plan") != 0 && strcmp(argv[optind + 1], "apply") != 0))
                return ctl_usage_error(cmd, "say \"hubctl kafka acl plan\" or \"hubctl kafka "
                                            "acl apply\"");
        bool apply = strcmp(argv[optind + 1], "apply") == 0;

        struct plan_ctx x = {.now = (int64_t)time(NULL) * 1000000};
        hub_store_t *s = NULL;
        rd_kafka_t *rk = NULL;
        if ((rc = ctl_open_store(ctl, false, &s)))
                return rc;
        if (hub_acl_plan_hub(&x.plan, hub_user, hub_group, &x.err) ||
            hub_registry_agencies(s, on_agency, &x, &x.err)) {
                rc = ctl_fail("%s", x.err.msg);
                goto out;
        }
        for (size_t i = 0; i < n_subs; i++) {
                char user[HUB_ACL_NAME_MAX + 1];
                const char *eq = strchr(subs[i], '=');
                snprintf(user, sizeof(user), "%.*s", (int)(eq - subs[i]), subs[i]);
                if (add_subscriber(&x, user, eq + 1)) {
                        rc = ctl_usage_error(cmd, "%s", x.err.msg);
                        goto out;
                }
        }
        if (subs_file) {
                int line = ini_parse(subs_file, on_ini, &x);
                if (line < 0 || x.rc || line > 0) {
                        rc = ctl_fail("%s: %s", subs_file,
                                      line < 0   ? "cannot be read"
                                      : x.rc     ? x.err.msg
                                                 : "syntax error");
                        goto out;
                }
        }
        if (apply) {
                if (ctl_open_kafka(ctl, &rk, &x.err) ||
                    hub_kafka_acl_create(rk, &x.plan, ACL_TIMEOUT_MS, &x.err)) {
                        rc = ctl_fail("%s", x.err.msg);
                        goto out;
                }
        }
        for (size_t i = 0; i < x.plan.n; i++) {
                char line[512];
                hub_acl_format(&x.plan.acls[i], line, sizeof(line));
                printf("allow %s\n", line);
                if (x.plan.acls[i].not_created)
                        fprintf(stderr,
                                "hubctl: warning: librdkafka %s cannot create \"%s\": grant it "
                                "with Kafka's kafka-acls.sh (--transactional-id %s "
                                "--resource-pattern-type prefixed)\n",
                                rd_kafka_version_str(), line, x.plan.acls[i].name);
        }
        size_t missing = 0;
        for (size_t i = 0; i < x.plan.n; i++)
                missing += x.plan.acls[i].not_created;
        if (missing)
                printf("%zu ACLs in place, %zu to grant with Kafka's tool (see above)\n",
                       x.plan.n - missing, missing);
        else
                printf("%zu ACLs %s\n", x.plan.n, apply ? "in place" : "planned (nothing changed)");
        rc = CTL_OK;
out:
        if (rk)
                rd_kafka_destroy(rk);
        hub_store_close(s);
        hub_acl_plan_done(&x.plan);
        return rc;
}
