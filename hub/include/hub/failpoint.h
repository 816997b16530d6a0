/* Failpoints: a test-only switch that kills the process at a named point of its work.
 *
 * Compiled in always, inert unless the environment variable HUB_FAILPOINT is set to
 * "NAME:N": then the Nth call of hub_failpoint(NAME) raises SIGKILL, so the process dies exactly
 * as an operator's `kill -9` would leave it (no atexit, no flush, no rollback sent). The fault
 * suite (tests/fault/) sets it to crash hubd at a chosen step deterministically; nothing else
 * should. Names used by hubd:
 *   before-commit   the batch's transaction is written, COMMIT not yet sent
 *   after-commit    committed, before the outbox publisher runs
 *   during-publish  an outbox row was delivered to Kafka but not yet marked sent */
#ifndef HUB_FAILPOINT_H
#define HUB_FAILPOINT_H

void hub_failpoint(const char *name);

#endif
