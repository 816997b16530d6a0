/* Kafka authentication settings (hub/kafka_auth.h) and the ACL plan (hub/kafka_acl.h): what
 * reaches librdkafka's configuration, the password file rules, secrets refused on the command
 * line, and exactly which ACLs each party gets. The ACLs at work on a real broker:
 * tests/integration/sasl.sh. */
#include "testutil.h"

#include <hub/kafka_acl.h>
#include <hub/kafka_auth.h>
#include <hub/resolve.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char pw_path[64];

static const char *write_pw(const char *text, mode_t mode)
{
        snprintf(pw_path, sizeof(pw_path), "/tmp/test_kafka_auth_%ld", (long)getpid());
        unlink(pw_path);
        FILE *f = fopen(pw_path, "w");
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
        assert_int_equal(chmod(pw_path, mode), 0);
        return pw_path;
}

static const char *get(rd_kafka_conf_t *conf, const char *name)
{
        static char buf[512];
        size_t n = sizeof(buf);
        if (rd_kafka_conf_get(conf, name, buf, &n) != RD_KAFKA_CONF_OK)
                return NULL;
        return buf;
}

static void test_no_user_sets_nothing(void **state)
{
        (void)state;
        unsetenv("HUB_KAFKA_PASSWORD");
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        hub_kafka_auth_t a = {0};
        hub_err_t err = {0};
        assert_int_equal(hub_kafka_auth_apply(conf, &a, &err), 0);
        assert_string_equal(get(conf, "security.protocol"), "plaintext");
        a.password_file = write_pw("secret\n", 0600);
        assert_int_equal(hub_kafka_auth_apply(conf, &a, &err), -HUB_E_CONFIG);
        assert_non_null(strstr(err.msg, "without a user"));
        rd_kafka_conf_destroy(conf);
        unlink(pw_path);
}

static void test_user_and_password_file(void **state)
{
        (void)state;
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        hub_kafka_auth_t a = {.user = "MOF-HQ", .password_file = write_pw("s3cret\nignored\n", 0600)};
        hub_err_t err = {0};
        assert_int_equal(hub_kafka_auth_apply(conf, &a, &err), 0);
        assert_string_equal(get(conf, "security.protocol"), "sasl_ssl");
        assert_string_equal(get(conf, "sasl.mechanisms"), "SCRAM-SHA-512");
        assert_string_equal(get(conf, "sasl.username"), "MOF-HQ");
        assert_string_equal(get(conf, "sasl.password"), "s3cret");
        rd_kafka_conf_destroy(conf);

        conf = rd_kafka_conf_new();
        a.security_protocol = "SASL_PLAINTEXT";
        a.mechanism = "PLAIN";
        assert_int_equal(hub_kafka_auth_apply(conf, &a, &err), 0);
        assert_string_equal(get(conf, "security.protocol"), "sasl_plaintext");
        assert_string_equal(get(conf, "sasl.mechanisms"), "PLAIN");
        rd_kafka_conf_destroy(conf);
        unlink(pw_path);
}

static void test_password_file_rules(void **state)
{
        (void)state;
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        hub_err_t err = {0};
        hub_kafka_auth_t a = {.user = "hub", .password_file = write_pw("s3cret\n", 0644)};
        assert_int_equal(hub_kafka_auth_apply(conf, &a, &err), -HUB_E_CONFIG);
        assert_non_null(strstr(err.msg, "chmod 600"));
        a.password_file = write_pw("\n", 0600);
        assert_int_equal(hub_kafka_auth_apply(conf, &a, &err), -HUB_E_CONFIG);
        assert_non_null(strstr(err.msg, "empty"));
        unlink(pw_path);
        assert_int_equal(hub_kafka_auth_apply(conf, &a, &err), -HUB_E_IO);
        /* No file and no variable: the message says where a password may come from. */
        a.password_file = NULL;
        unsetenv("HUB_KAFKA_PASSWORD");
        assert_int_equal(hub_kafka_auth_apply(conf, &a, &err), -HUB_E_CONFIG);
        assert_non_null(strstr(err.msg, "HUB_KAFKA_PASSWORD_FILE"));
        setenv("HUB_KAFKA_PASSWORD", "from-env", 1);
        assert_int_equal(hub_kafka_auth_apply(conf, &a, &err), 0);
        assert_string_equal(get(conf, "sasl.password"), "from-env");
        unsetenv("HUB_KAFKA_PASSWORD");
        rd_kafka_conf_destroy(conf);
}

static void test_env_fills_unset_fields(void **state)
{
        (void)state;
        setenv("HUB_KAFKA_USER", "env-user", 1);
        setenv("HUB_KAFKA_SASL_MECHANISM", "PLAIN", 1);
        hub_kafka_auth_t a = {0};
        assert_true(hub_kafka_auth_option(&a, HUB_KAFKA_OPT_USER, "cli-user"));
        assert_false(hub_kafka_auth_option(&a, 'X', "x"));
        hub_kafka_auth_env(&a);
        assert_string_equal(a.user, "cli-user"); /* the command line wins */
        assert_string_equal(a.mechanism, "PLAIN");
        assert_null(a.password_file);
        unsetenv("HUB_KAFKA_USER");
        unsetenv("HUB_KAFKA_SASL_MECHANISM");
}

static void test_cli_secrets_refused(void **state)
{
        (void)state;
        hub_err_t err = {0};
        assert_int_equal(hub_kafka_check_cli_setting("sasl.password", &err), -HUB_E_CONFIG);
        assert_non_null(strstr(err.msg, "may not be given on the command line"));
        assert_int_equal(hub_kafka_check_cli_setting("kafka.sasl.password", &err), -HUB_E_CONFIG);
        assert_int_equal(hub_kafka_check_cli_setting("ssl.key.password", &err), -HUB_E_CONFIG);
        assert_int_equal(hub_kafka_check_cli_setting("sasl.username", &err), 0);
        assert_int_equal(hub_kafka_check_cli_setting("bootstrap.servers", &err), 0);
}

static void test_plan_agency(void **state)
{
        (void)state;
        hub_acl_plan_t p = {0};
        hub_err_t err = {0};
        char line[512];
        assert_int_equal(hub_acl_plan_agency(&p, "MOF-HQ", &err), 0);
        /* Exactly its own topic, write only, and the idempotent producer's cluster right. */
        assert_int_equal(p.n, 2);
        hub_acl_format(&p.acls[0], line, sizeof(line));
        assert_string_equal(line, "User:MOF-HQ WRITE topic agency.MOF-HQ.reports");
        assert_false(p.acls[0].prefixed);
        hub_acl_format(&p.acls[1], line, sizeof(line));
        assert_string_equal(line, "User:MOF-HQ IDEMPOTENT_WRITE cluster kafka-cluster");
        assert_int_equal(hub_acl_plan_agency(&p, "MOF*", &err), -HUB_E_CONFIG);
        assert_int_equal(hub_acl_plan_agency(&p, "User:x", &err), -HUB_E_CONFIG);
        assert_int_equal(hub_acl_plan_agency(&p, "", &err), -HUB_E_CONFIG);
        assert_int_equal(p.n, 2);
        hub_acl_plan_done(&p);
}

static void test_plan_hub(void **state)
{
        (void)state;
        hub_acl_plan_t p = {0};
        hub_err_t err = {0};
        char lines[8][512];
        assert_int_equal(hub_acl_plan_hub(&p, "hub", "hubd", &err), 0);
        assert_int_equal(p.n, 6);
        for (size_t i = 0; i < p.n; i++)
                hub_acl_format(&p.acls[i], lines[i], sizeof(lines[i]));
        assert_string_equal(lines[0], "User:hub READ topic agency.* (prefix)");
        assert_string_equal(lines[1], "User:hub READ group hubd");
        assert_string_equal(lines[2], "User:hub WRITE topic hub.* (prefix)");
        assert_string_equal(lines[3], "User:hub IDEMPOTENT_WRITE cluster kafka-cluster");
        /* The outbox publisher's transactional id, every deployment's suffix included. */
        assert_string_equal(lines[4], "User:hub WRITE transactional-id hub-publisher* (prefix)");
        assert_string_equal(lines[5],
                            "User:hub DESCRIBE transactional-id hub-publisher* (prefix)");
        assert_int_equal(p.acls[4].resource, HUB_ACL_TRANSACTIONAL_ID);
        /* Nothing lets the hub write an agency's topic. */
        for (size_t i = 0; i < p.n; i++)
                assert_false(p.acls[i].op == HUB_ACL_WRITE &&
                             strncmp(p.acls[i].name, "agency.", 7) == 0);
        hub_acl_plan_done(&p);
}

static void test_plan_subscriber(void **state)
{
        (void)state;
        hub_acl_plan_t p = {0};
        hub_err_t err = {0};
        unsigned tiers = 0;
        assert_int_equal(hub_acl_parse_tiers("shared, PUBLIC", &tiers, &err), 0);
        assert_int_equal(tiers, (1u << HUB_TIER_PUBLIC) | (1u << HUB_TIER_SHARED));
        assert_int_equal(hub_acl_parse_tiers("public,secret", &tiers, &err), -HUB_E_CONFIG);
        assert_non_null(strstr(err.msg, "secret"));
        assert_int_equal(hub_acl_parse_tiers("", &tiers, &err), -HUB_E_CONFIG);
        assert_int_equal(hub_acl_parse_tiers("public,shared", &tiers, &err), 0);
        assert_int_equal(hub_acl_plan_subscriber(&p, "sub-mof-thue", tiers, &err), 0);
        assert_int_equal(p.n, 3);
        char line[512];
        hub_acl_format(&p.acls[0], line, sizeof(line));
        assert_string_equal(line, "User:sub-mof-thue READ topic hub.entities.public");
        hub_acl_format(&p.acls[1], line, sizeof(line));
        assert_string_equal(line, "User:sub-mof-thue READ topic hub.entities.shared");
        hub_acl_format(&p.acls[2], line, sizeof(line));
        assert_string_equal(line, "User:sub-mof-thue READ group sub-mof-thue");
        for (size_t i = 0; i < p.n; i++) {
                assert_int_equal(p.acls[i].op, HUB_ACL_READ);
                assert_false(p.acls[i].prefixed);
                assert_null(strstr(p.acls[i].name, "restricted"));
        }
        assert_int_equal(hub_acl_plan_subscriber(&p, "x", 0, &err), -HUB_E_CONFIG);
        hub_acl_plan_done(&p);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_no_user_sets_nothing),
                cmocka_unit_test(test_user_and_password_file),
                cmocka_unit_test(test_password_file_rules),
                cmocka_unit_test(test_env_fills_unset_fields),
                cmocka_unit_test(test_cli_secrets_refused),
                cmocka_unit_test(test_plan_agency),
                cmocka_unit_test(test_plan_hub),
                cmocka_unit_test(test_plan_subscriber),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
