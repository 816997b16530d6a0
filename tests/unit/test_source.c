/* Source readers: JSON Lines and CSV rows with their line numbers, each reason a row is refused,
 * and resuming after a position (same bytes: resume; other bytes: start over). */
#include <hub/source.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

static char dir[] = "/tmp/hub-source-XXXXXX";

static const char *path(const char *name)
{
        static char buf[256];
        snprintf(buf, sizeof(buf), "%s/%s", dir, name);
        return buf;
}

static void write_file(const char *p, const char *text, const char *mode)
{
        FILE *f = fopen(p, mode);
        assert_non_null(f);
        fputs(text, f);
        fclose(f);
}

/* Read every row: "L<line>:<row as JSON>" or "L<line>:BAD:<message>", joined by '\n'. */
static char *read_all(hub_source_t *s)
{
        size_t cap = 4096, len = 0;
        char *out = calloc(1, cap);
        for (;;) {
                json_t *row = NULL;
                uint64_t line = 0;
                const char *reason = NULL;
                hub_err_t err = {0};
                int rc = hub_source_next(s, &row, &line, &reason, &err);
                assert_true(rc >= 0);
                if (rc == HUB_SOURCE_EOF)
                        break;
                char *j = rc == HUB_SOURCE_ROW ? json_dumps(row, JSON_SORT_KEYS | JSON_COMPACT)
                                               : NULL;
                if (rc == HUB_SOURCE_BAD)
                        assert_string_equal(reason, HUB_REASON_MALFORMED);
                len += (size_t)snprintf(out + len, cap - len, "L%llu:%s%s\n",
                                        (unsigned long long)line,
                                        rc == HUB_SOURCE_BAD ? "BAD:" : "",
                                        j ? j : err.msg);
                assert_true(len < cap);
                free(j);
                json_decref(row);
        }
        return out;
}

static void test_jsonl(void **state)
{
        (void)state;
        write_file(path("a.jsonl"),
                   "{\"id\": \"1\", \"n\": 1}\n"
                   "\n"
                   "{\"id\": \"2\", \"n\": \n"
                   "[1, 2]\n"
                   "{\"id\": \"3\", \"id\": \"4\"}\n"
                   "   \n"
                   "{\"id\": \"5\"}",
                   "w");
        hub_source_t *s = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_source_open(path("a.jsonl"), HUB_SOURCE_JSONL, ',', &s, &err), 0);
        char *got = read_all(s);
        /* jansson's own wording after "invalid JSON:" is its business; ours is the rest */
        static const char *const want[] = {
                "L1:{\"id\":\"1\",\"n\":1}\n",
                "L3:BAD:invalid JSON: ",
                "L4:BAD:the line is not a JSON object\n",
                "L5:BAD:invalid JSON: duplicate object key",
                "L7:{\"id\":\"5\"}\n",
        };
        const char *p = got;
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
                if (strncmp(p, want[i], strlen(want[i])) != 0)
                        fail_msg("line %zu of\n%s\nis not \"%s\"", i, got, want[i]);
                p = strchr(p, '\n') + 1;
        }
        assert_string_equal(p, "");
        free(got);
        hub_source_pos_t pos;
        hub_source_pos(s, &pos);
        assert_int_equal(pos.line, 7);
        hub_source_close(s);
        assert_int_equal(hub_source_open(path("missing.jsonl"), HUB_SOURCE_JSONL, ',', &s, &err),
                         -HUB_E_IO);
        assert_non_null(strstr(err.msg, "could not open"));
}

static void test_csv(void **state)
{
        (void)state;
        write_file(path("a.csv"),
                   "\xEF\xBB\xBFid,name,phones\r\n"
                   "1,\"Nguyễn, Văn A\",0912 468 357\r\n"
                   "\r\n"
                   "2,\"two\r\nlines\",\r\n"
                   "3,too,many,cells\r\n"
                   "4,\"bad\"quote,x\r\n"
                   "5,,\"\"\r\n"
                   "6,\"open",
                   "w");
        hub_source_t *s = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_source_open(path("a.csv"), HUB_SOURCE_CSV, ',', &s, &err), 0);
        char *got = read_all(s);
        assert_string_equal(got,
                            "L2:{\"id\":\"1\",\"name\":\"Nguyễn, Văn A\",\"phones\":\"0912 468 "
                            "357\"}\n"
                            "L4:{\"id\":\"2\",\"name\":\"two\\r\\nlines\"}\n"
                            "L6:BAD:wrong number of cells: 4 cells where the header has 3\n"
                            "L7:BAD:CSV syntax error: error parsing data while strict checking "
                            "enabled\n"
                            "L8:{\"id\":\"5\",\"phones\":\"\"}\n"
                            "L9:BAD:CSV syntax error: a quoted cell is not closed\n");
        free(got);
        hub_source_close(s);

        write_file(path("dup.csv"), "id,id\n1,2\n", "w");
        assert_int_equal(hub_source_open(path("dup.csv"), HUB_SOURCE_CSV, ',', &s, &err),
                         -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "header names column id twice"));
        write_file(path("empty.csv"), "", "w");
        assert_int_equal(hub_source_open(path("empty.csv"), HUB_SOURCE_CSV, ',', &s, &err),
                         -HUB_E_MALFORMED);
        assert_non_null(strstr(err.msg, "has no header row"));
        write_file(path("semi.csv"), "id;name\n1;a,b\n", "w");
        assert_int_equal(hub_source_open(path("semi.csv"), HUB_SOURCE_CSV, ';', &s, &err), 0);
        got = read_all(s);
        assert_string_equal(got, "L2:{\"id\":\"1\",\"name\":\"a,b\"}\n");
        free(got);
        hub_source_close(s);
}

/* Read n rows and return the position after them. */
static hub_source_pos_t after_rows(const char *p, hub_source_format_t fmt, int n)
{
        hub_source_t *s = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_source_open(p, fmt, ',', &s, &err), 0);
        for (int i = 0; i < n; i++) {
                json_t *row = NULL;
                uint64_t line;
                const char *reason;
                assert_int_equal(hub_source_next(s, &row, &line, &reason, &err), HUB_SOURCE_ROW);
                json_decref(row);
        }
        hub_source_pos_t pos;
        hub_source_pos(s, &pos);
        hub_source_close(s);
        return pos;
}

static char *resumed(const char *p, hub_source_format_t fmt, const hub_source_pos_t *pos,
                     int want)
{
        hub_source_t *s = NULL;
        hub_err_t err = {0};
        assert_int_equal(hub_source_open(p, fmt, ',', &s, &err), 0);
        assert_int_equal(hub_source_resume(s, pos, &err), want);
        char *got = read_all(s);
        hub_source_close(s);
        return got;
}

static void test_resume(void **state)
{
        (void)state;
        const char *p = path("r.csv");
        write_file(p, "id,v\n1,a\n2,\"b\nb\"\n3,c\n", "w");
        hub_source_pos_t pos = after_rows(p, HUB_SOURCE_CSV, 2);
        assert_int_equal(pos.line, 4);
        char *got = resumed(p, HUB_SOURCE_CSV, &pos, 1);
        assert_string_equal(got, "L5:{\"id\":\"3\",\"v\":\"c\"}\n");
        free(got);

        /* the file grew: the watermark still holds, new rows follow */
        write_file(p, "4,d\n", "a");
        got = resumed(p, HUB_SOURCE_CSV, &pos, 1);
        assert_string_equal(got, "L5:{\"id\":\"3\",\"v\":\"c\"}\nL6:{\"id\":\"4\",\"v\":\"d\"}\n");
        free(got);

        /* same size, other bytes before the position: start over (after the header) */
        write_file(p, "id,v\n1,A\n2,\"b\nb\"\n3,c\n4,d\n", "w");
        got = resumed(p, HUB_SOURCE_CSV, &pos, 0);
        assert_non_null(strstr(got, "L2:{\"id\":\"1\",\"v\":\"A\"}\n"));
        free(got);

        /* shorter than the position: start over */
        const char *q = path("r.jsonl");
        write_file(q, "{\"a\": 1}\n{\"a\": 2}\n", "w");
        pos = after_rows(q, HUB_SOURCE_JSONL, 2);
        write_file(q, "{\"a\": 1}\n", "w");
        got = resumed(q, HUB_SOURCE_JSONL, &pos, 0);
        assert_string_equal(got, "L1:{\"a\":1}\n");
        free(got);
}

static int setup(void **state)
{
        (void)state;
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
        (void)state;
        const char *names[] = {"a.jsonl", "a.csv", "dup.csv", "empty.csv", "semi.csv", "r.csv",
                               "r.jsonl"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                unlink(path(names[i]));
        return rmdir(dir);
}

int main(void)
{
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_jsonl),
                cmocka_unit_test(test_csv),
                cmocka_unit_test(test_resume),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
