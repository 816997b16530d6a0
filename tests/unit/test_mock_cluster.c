/* hub-mock-cluster (deploy/local/mock_cluster.c), tested as a user runs it: as a process.
 * It must print reachable bootstrap servers, create the topics it is asked for, carry a message
 * from a librdkafka producer to a consumer, exit 0 on SIGTERM, and exit 2 on a usage error.
 *
 * The program is found beside this test in the build tree (<build>/deploy/local/), or at
 * HUB_MOCK_CLUSTER when set. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>

#include "testutil.h"

#define TIMEOUT_MS 30000

static char program[PATH_MAX];

static int64_t now_ms(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* <dir of this test>/../../deploy/local/hub-mock-cluster: meson mirrors the source tree.
 * Runs before cmocka does, so it reports by return value, not by failing a test. */
static bool find_program(void)
{
        const char *env = getenv("HUB_MOCK_CLUSTER");
        if (env && *env) {
                snprintf(program, sizeof(program), "%s", env);
        } else {
                char self[PATH_MAX];
                ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
                if (n <= 0) {
                        fprintf(stderr, "readlink /proc/self/exe: %s\n", strerror(errno));
                        return false;
                }
                self[n] = '\0';
                char *slash = strrchr(self, '/');
                if (slash)
                        *slash = '\0';
                int len = snprintf(program, sizeof(program),
                                   "%s/../../deploy/local/hub-mock-cluster", self);
                if (len < 0 || (size_t)len >= sizeof(program)) {
                        fprintf(stderr, "path of hub-mock-cluster too long\n");
                        return false;
                }
        }
        if (access(program, X_OK) != 0) {
                fprintf(stderr, "hub-mock-cluster not found at %s (build it, or set "
                                "HUB_MOCK_CLUSTER)\n", program);
                return false;
        }
        return true;
}

struct child {
        pid_t pid;
        int out; /* read end of its stdout */
};

static struct child spawn(const char *const argv[])
{
        int fds[2];
        if (pipe(fds) != 0)
                fail_msg("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0)
                fail_msg("fork: %s", strerror(errno));
        if (pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                close(fds[0]);
                close(fds[1]);
                /* execv's prototype predates const; it does not write to argv. */
                execv(program, (char *const *)argv);
                _exit(127);
        }
        close(fds[1]);
        return (struct child){.pid = pid, .out = fds[0]};
}

/* Wait for the child and return its exit code; fails the test if a signal killed it. */
static int reap(pid_t pid)
{
        int status;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        fail_msg("waitpid: %s", strerror(errno));
        if (WIFSIGNALED(status))
                fail_msg("hub-mock-cluster killed by signal %d", WTERMSIG(status));
        return WEXITSTATUS(status);
}

/* The first line of the child's stdout, within TIMEOUT_MS; fails on EOF or timeout. */
static void read_line(int fd, char *buf, size_t size)
{
        size_t n = 0;
        int64_t deadline = now_ms() + TIMEOUT_MS;
        for (;;) {
                int left = (int)(deadline - now_ms());
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (left <= 0 || poll(&p, 1, left) <= 0)
                        fail_msg("hub-mock-cluster printed no line within %d ms", TIMEOUT_MS);
                ssize_t got = read(fd, buf + n, size - 1 - n);
                if (got <= 0)
                        fail_msg("hub-mock-cluster closed stdout before printing a line");
                n += (size_t)got;
                buf[n] = '\0';
                char *nl = strchr(buf, '\n');
                if (nl) {
                        *nl = '\0';
                        return;
                }
                if (n == size - 1)
                        fail_msg("hub-mock-cluster printed a line longer than %zu bytes", n);
        }
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap, const char *k,
                          const char *v)
{
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) ||
            (k && rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr))))
                fail_msg("kafka setting: %s", errstr);
        rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
        if (!rk)
                fail_msg("could not create kafka client: %s", errstr);
        return rk;
}

static void test_roundtrip(void **state)
{
        (void)state;
        const char *argv[] = {"hub-mock-cluster", "--brokers", "3", "--topic", "mock.smoke:2",
                              NULL};
        struct child c = spawn(argv);
        char bootstrap[1024];
        read_line(c.out, bootstrap, sizeof(bootstrap));
        /* Three brokers: three host:port entries. */
        int commas = 0;
        for (const char *s = bootstrap; *s; s++)
                commas += *s == ',';
        assert_int_equal(commas, 2);

        /* The topic exists with the partitions asked for, before any client touched it. */
        rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bootstrap, "enable.idempotence", "true");
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(p, "mock.smoke", NULL);
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(p, 0, rkt, &md, TIMEOUT_MS);
        if (err)
                fail_msg("metadata from %s: %s", bootstrap, rd_kafka_err2str(err));
        assert_int_equal(md->broker_cnt, 3);
        assert_int_equal(md->topic_cnt, 1);
        assert_int_equal(md->topics[0].err, 0);
        assert_int_equal(md->topics[0].partition_cnt, 2);
        rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(rkt);

        const char payload[] = "through the mock cluster";
        err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC("mock.smoke"), RD_KAFKA_V_PARTITION(1),
                                RD_KAFKA_V_VALUE((void *)payload, sizeof(payload)),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err)
                fail_msg("produce: %s", rd_kafka_err2str(err));
        err = rd_kafka_flush(p, TIMEOUT_MS);
        if (err)
                fail_msg("flush: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(p);

        rd_kafka_t *cons = client(RD_KAFKA_CONSUMER, bootstrap, "group.id", "mock-smoke");
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, "mock.smoke", 1)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        err = rd_kafka_assign(cons, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        if (err)
                fail_msg("assign: %s", rd_kafka_err2str(err));
        rd_kafka_message_t *m = NULL;
        int64_t deadline = now_ms() + TIMEOUT_MS;
        while (!m) {
                if (now_ms() > deadline)
                        fail_msg("no message consumed within %d ms", TIMEOUT_MS);
                m = rd_kafka_consumer_poll(cons, 200);
                if (m && m->err) {
                        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                                fail_msg("consume: %s", rd_kafka_message_errstr(m));
                        rd_kafka_message_destroy(m);
                        m = NULL;
                }
        }
        assert_int_equal(m->partition, 1);
        assert_int_equal(m->len, sizeof(payload));
        assert_memory_equal(m->payload, payload, sizeof(payload));
        rd_kafka_message_destroy(m);
        rd_kafka_consumer_close(cons);
        rd_kafka_destroy(cons);

        if (kill(c.pid, SIGTERM) != 0)
                fail_msg("kill: %s", strerror(errno));
        assert_int_equal(reap(c.pid), 0);
        close(c.out);
}

static void test_usage(void **state)
{
        (void)state;
        const char *bad[][4] = {
                {"hub-mock-cluster", "--bogus", NULL},
                {"hub-mock-cluster", "--brokers", "0", NULL},
                {"hub-mock-cluster", "--brokers", NULL},
                {"hub-mock-cluster", "--topic", "nopartitions", NULL},
                {"hub-mock-cluster", "--topic", "t:1:4", NULL}, /* 4 replicas on 3 brokers */
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                struct child c = spawn(bad[i]);
                close(c.out);
                int rc = reap(c.pid);
                if (rc != 2)
                        fail_msg("%s %s: exit %d, expected 2", bad[i][1],
                                 bad[i][2] ? bad[i][2] : "", rc);
        }
        const char *help[] = {"hub-mock-cluster", "--help", NULL};
        struct child c = spawn(help);
        char line[256];
        read_line(c.out, line, sizeof(line));
        assert_non_null(strstr(line, "usage: hub-mock-cluster"));
        close(c.out);
        assert_int_equal(reap(c.pid), 0);
}

int main(void)
{
        if (!find_program())
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_usage),
        };
        return cmocka_run_group_tests_name("mock_cluster", tests, NULL, NULL);
}
