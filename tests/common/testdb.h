/* A fresh, empty PostgreSQL database per test, on the local service (HUB_PG_DSN). */
#ifndef HUB_TESTDB_H
#define HUB_TESTDB_H

#include <stddef.h>

/* Create database hub_t_<tag>_<pid>_<n> (dropping a leftover of that name) and write a conninfo
 * for it into out. Skips or fails like hub_test_service() when HUB_PG_DSN is unset; exits 1 when
 * the database cannot be created. */
void hub_test_fresh_db(const char *tag, char *out, size_t cap);

/* Drop a database made by hub_test_fresh_db (best effort: for tidiness, not correctness). */
void hub_test_drop_db(const char *conninfo);

#endif
