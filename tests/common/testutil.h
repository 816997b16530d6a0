/* Helpers shared by the tests: locating conformance data and services, reading files. */
#ifndef HUB_TESTUTIL_H
#define HUB_TESTUTIL_H

#include <stddef.h>

/* meson reports a test that exits with this code as skipped. */
#define HUB_TEST_SKIP 77

/* The folder of the shared conformance data (HUB_SHARED_DIR), with `sub` appended.
 * When it is absent, prints why and exits 77 (skip), or exits 1 when HUB_REQUIRE_SHARED=1.
 * Returns a static buffer. */
const char *hub_test_shared_path(const char *sub);

/* The value of a service variable (HUB_PG_DSN, HUB_KAFKA_BROKERS). When unset, prints why and
 * exits 77, or exits 1 when HUB_REQUIRE_SERVICES=1. */
const char *hub_test_service(const char *var);

/* A file under the project's source root (HUB_SOURCE_ROOT); exits 1 if the variable is unset.
 * Returns a static buffer. */
const char *hub_test_source_path(const char *sub);

/* Read a whole file; returns malloc'd bytes (NUL-terminated, *len excludes the NUL) or NULL. */
unsigned char *hub_test_read_file(const char *path, size_t *len);

#endif
