/* hub-mock-cluster: librdkafka's mock Kafka cluster as a process of its own.
 *
 * For fault tests that a real broker cannot stage on demand (leader loss, request errors, a
 * broker down mid-batch): the brokers listen on real loopback ports, so hubd, connectors and
 * kcat can talk to them. Prints the bootstrap servers as one line on stdout once the cluster is
 * up, then runs until SIGTERM or SIGINT.
 *
 * Exit codes: 0 stopped by a signal or --help, 1 the cluster could not be set up, 2 usage. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 64
#define MAX_BROKERS 32

struct topic_spec {
        char name[250]; /* Kafka's limit is 249 characters */
        int partitions;
        int replicas; /* 0: min(brokers, 3) */
};

static void usage(FILE *out)
{
        fprintf(out,
                "usage: hub-mock-cluster [--brokers N] [--topic NAME:PARTITIONS[:REPLICAS]]...\n"
                "\n"
                "Start librdkafka's mock Kafka cluster on loopback, print its bootstrap servers\n"
                "as one line on stdout, and run until SIGTERM or SIGINT.\n"
                "\n"
                "  -b, --brokers N     number of brokers, 1..%d (default 3)\n"
                "  -t, --topic SPEC    create topic NAME with PARTITIONS partitions and REPLICAS\n"
                "                      replicas (default min(N, 3)); may be repeated\n"
                "  -h, --help          show this help\n"
                "\n"
                "Exit codes: 0 stopped by a signal, 1 failure, 2 usage error.\n",
                MAX_BROKERS);
}

/* Parse a decimal int in [min, max]; false on anything else, trailing junk included. */
static bool parse_int(const char *s, int min, int max, int *out)
{
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < min || v > max)
                return false;
        *out = (int)v;
        return true;
}

/* NAME:PARTITIONS[:REPLICAS]. The name may not contain ':' (Kafka forbids it anyway). */
static bool parse_topic(const char *arg, struct topic_spec *t)
{
        const char *colon = strchr(arg, ':');
        if (!colon || colon == arg || (size_t)(colon - arg) >= sizeof(t->name))
                return false;
        memcpy(t->name, arg, (size_t)(colon - arg));
        t->name[colon - arg] = '\0';

        char num[32];
        const char *rest = colon + 1;
        const char *colon2 = strchr(rest, ':');
        size_t n = colon2 ? (size_t)(colon2 - rest) : strlen(rest);
        if (n >= sizeof(num))
                return false;
        memcpy(num, rest, n);
        num[n] = '\0';
        if (!parse_int(num, 1, 10000, &t->partitions))
                return false;
        t->replicas = 0;
        return !colon2 || parse_int(colon2 + 1, 1, MAX_BROKERS, &t->replicas);
}

/* The option's value: "--opt VALUE" or "--opt=VALUE"; NULL when missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *s, const char *l)
{
        const char *a = argv[*i];
        size_t ln = strlen(l);
        if (strncmp(a, l, ln) == 0 && a[ln] == '=')
                return a + ln + 1;
        if (strcmp(a, s) != 0 && strcmp(a, l) != 0)
                return NULL;
        if (*i + 1 >= argc)
                return NULL;
        return argv[++*i];
}

static bool is_opt(const char *a, const char *s, const char *l)
{
        size_t ln = strlen(l);
        return strcmp(a, s) == 0 || strcmp(a, l) == 0 || (strncmp(a, l, ln) == 0 && a[ln] == '=');
}

int main(int argc, char **argv)
{
        static struct topic_spec topics[MAX_TOPICS];
        int ntopics = 0, brokers = 3;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v;
                if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
                        usage(stdout);
                        return 0;
                } else if (is_opt(a, "-b", "--brokers")) {
                        v = opt_value(argc, argv, &i, "-b", "--brokers");
                        if (!v || !parse_int(v, 1, MAX_BROKERS, &brokers)) {
                                fprintf(stderr, "hub-mock-cluster: --brokers needs a number "
                                                "from 1 to %d\n", MAX_BROKERS);
                                return 2;
                        }
                } else if (is_opt(a, "-t", "--topic")) {
                        v = opt_value(argc, argv, &i, "-t", "--topic");
                        if (ntopics == MAX_TOPICS) {
                                fprintf(stderr, "hub-mock-cluster: at most %d topics\n",
                                        MAX_TOPICS);
                                return 2;
                        }
                        if (!v || !parse_topic(v, &topics[ntopics])) {
                                fprintf(stderr, "hub-mock-cluster: --topic needs "
                                                "NAME:PARTITIONS[:REPLICAS], got '%s'\n",
                                        v ? v : "");
                                return 2;
                        }
                        ntopics++;
                } else {
                        fprintf(stderr, "hub-mock-cluster: unknown argument '%s'\n", a);
                        usage(stderr);
                        return 2;
                }
        }
        for (int i = 0; i < ntopics; i++) {
                if (topics[i].replicas == 0)
                        topics[i].replicas = brokers < 3 ? brokers : 3;
                if (topics[i].replicas > brokers) {
                        fprintf(stderr, "hub-mock-cluster: topic %s: %d replicas but only %d "
                                        "brokers\n", topics[i].name, topics[i].replicas, brokers);
                        return 2;
                }
        }

        /* Block the stop signals before librdkafka starts its threads, which inherit the mask:
         * then only sigwait() below receives them, never a librdkafka thread. */
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);
        /* A reader that went away must not kill us by SIGPIPE while printing. */
        signal(SIGPIPE, SIG_IGN);

        /* The mock cluster needs a client handle for its bookkeeping; a producer that never
         * produces is the cheapest one. */
        char errstr[512];
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        /* Warnings only: the handle has no bootstrap.servers, by design, and says so at notice
         * level on every start. */
        if (rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr))) {
                fprintf(stderr, "hub-mock-cluster: log_level: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (!rk) {
                fprintf(stderr, "hub-mock-cluster: could not create client handle: %s\n", errstr);
                rd_kafka_conf_destroy(conf); /* only a successful rd_kafka_new() owns it */
                return 1;
        }
        int rc = 1;
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
        if (!mc) {
                fprintf(stderr, "hub-mock-cluster: could not start a mock cluster of %d brokers\n",
                        brokers);
                goto out;
        }
        for (int i = 0; i < ntopics; i++) {
                rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
                        mc, topics[i].name, topics[i].partitions, topics[i].replicas);
                if (err) {
                        fprintf(stderr, "hub-mock-cluster: could not create topic %s: %s\n",
                                topics[i].name, rd_kafka_err2str(err));
                        goto out;
                }
        }

        if (printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc)) < 0 || fflush(stdout) != 0) {
                fprintf(stderr, "hub-mock-cluster: could not write to stdout: %s\n",
                        strerror(errno));
                goto out;
        }

        int sig = 0;
        if (sigwait(&stop, &sig) != 0) {
                fprintf(stderr, "hub-mock-cluster: sigwait failed\n");
                goto out;
        }
        rc = 0;
out:
        if (mc)
                rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return rc;
}
