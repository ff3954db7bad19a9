/* instance.h - one running instance per configuration, and telling an
 * operator what a reload did.
 *
 * The instance file is pid_file, or AUDIT_FILE.pid when pid_file is not set
 * and the audit log is a file (%w kept as written); with neither there is
 * none and nothing stops a second instance (README "Operating gatehouse").
 * At start the process that speaks for the service (the supervisor, or the
 * only worker) takes flock(LOCK_EX) on it and writes its pid; a second
 * instance finds the lock held and is refused with the holder's pid. The
 * lock is released when the drain starts (SIGTERM), not at exit: that is
 * the hook for a deliberate upgrade, where a new instance is started while
 * the old one drains. The file itself stays: its lock, not its presence,
 * says whether an instance runs.
 *
 * Beside it, INSTANCE_FILE.reload holds the last SIGHUP's result, replaced
 * whole (write, then rename) by the same process: "pid=N seq=N result=ok"
 * or "result=refused errors=N" and one FILE:LINE: key: message line per
 * error. `gatehouse -s reload` reads it after sending SIGHUP.
 *
 * Owns: the instance file's lock and contents, the .reload result file,
 * and the -s client. Not the reload itself (reload.h). */
#ifndef GATEHOUSE_INSTANCE_H
#define GATEHOUSE_INSTANCE_H

#include <stdbool.h>
#include <stddef.h>

#include "gatehouse/config.h"

/* The instance file of CFG into out (GH_PATH_MAX bytes). Returns 1 when it
 * has one, 0 when it has none, -1 when the path is too long. */
int gh_instance_path(const struct gh_config *cfg, char *out, size_t n);

/* For -t: records in errs (at pid_file's line, else audit_file's) an
 * instance file that could not be opened or created; creates nothing.
 * Returns 0 or -1. */
int gh_instance_check(const struct gh_config *cfg, struct gh_config_errors *errs);

/* Takes the lock and writes this pid. Returns 0 (also when CFG has no
 * instance file), or -1 with the reason printed to stderr (another
 * instance holds it, or the file cannot be opened). */
int gh_instance_lock(const struct gh_config *cfg);

/* In a forked worker: the supervisor holds the lock and reports reloads;
 * this process must do neither. */
void gh_instance_forget(void);

/* Drain start: lets a new instance take the lock. No-op without a lock. */
void gh_instance_unlock(void);

/* Records a reload's result (errs may be NULL when ok). No-op unless this
 * process took the lock. */
void gh_instance_reload_result(bool ok, const struct gh_config_errors *errs);

/* `gatehouse -s reload -c FILE`: finds the instance, sends SIGHUP, waits
 * up to GH_INSTANCE_RELOAD_WAIT seconds for its result and prints it.
 * Returns the process exit code: 0 applied, 1 refused or no answer. */
#define GH_INSTANCE_RELOAD_WAIT 10.0
int gh_instance_send_reload(const char *config_path);

#endif
