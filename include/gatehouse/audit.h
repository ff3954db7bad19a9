/* audit.h - the audit log service of one worker process.
 *
 * The event loop formats entries (audit_format.h) into an in-memory buffer
 * of audit_buffer_size bytes and never touches the disk: a writer thread
 * numbers the entries, computes their hash chain (audit_chain.h), writes
 * them and fsyncs by policy. The buffer is handed over every
 * audit_flush_interval, when it is half full, and at stop. If the writer
 * cannot keep up (slow or full disk) the buffer fills, further entries are
 * dropped and counted, and a "gap" entry with the count goes out as soon as
 * there is room again. Format: config/audit-log.md.
 *
 * Owns: the buffer, the writer thread, the file (open, append after the
 * last entry of an earlier run once that entry verified, else a new
 * segment; reopen on SIGUSR1), the chain state and the lost-entry count (a
 * gap entry goes out only with the entry after it). Connections call it with plain values; it never looks
 * at connection state. */
#ifndef GATEHOUSE_AUDIT_H
#define GATEHOUSE_AUDIT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "gatehouse/audit_format.h"
#include "gatehouse/config.h"

/* Before forking: checks the key file and that the file (each worker's,
 * with %w) can be opened for appending. Errors name the config line. */
int gh_audit_check(const struct gh_config *cfg, struct gh_config_errors *errs);

/* In the worker, before its loop runs: opens the file, continues the chain
 * of its last entry if that entry verifies (else the start entry begins a
 * new segment and says why in new_segment), starts the writer thread and
 * queues the "start" entry.
 * Returns 0 (also when the audit log is off) or -1 after logging why. */
int gh_audit_open(const struct gh_config *cfg, int worker_index, struct ev_loop *loop);

bool gh_audit_on(void);

/* Starts an entry: fill it with gh_audit_str/client/uint/bool, then
 * gh_audit_commit. When the audit log is off the entry is inactive and
 * every call on it does nothing. */
void gh_audit_begin(struct gh_audit_entry *e, const char *event);
void gh_audit_commit(struct gh_audit_entry *e);

#define GH_AUDIT_EXCERPT 80 /* bytes of an offending input quoted in a reject entry */

/* After SIGHUP: "reload" with the new file's digest (ok) or the number of
 * errors that made gatehouse keep the running configuration (refused). */
void gh_audit_reload(const char *config_path, bool ok, size_t errors);

/* The loop's once-per-iteration hook: hands a half-full buffer over. */
void gh_audit_before_sleep(void);

/* SIGUSR1: the writer reopens audit_file before its next write. */
void gh_audit_reopen(void);

/* Queues "stop", hands everything to the writer and waits for it to write
 * and fsync (bounded: a disk that stays full for GH_AUDIT_STOP_WAIT seconds
 * loses what is left, and says so on stderr). */
#define GH_AUDIT_STOP_WAIT 5.0
void gh_audit_close(const char *reason, uint64_t open_conns);

#endif
