/* notify.h - telling systemd (Type=notify) what the service is doing: the
 * sd_notify datagram protocol, written here so gatehouse needs no
 * libsystemd.
 *
 * systemd passes NOTIFY_SOCKET (a filesystem path, or "@name" for an
 * abstract socket) and, with WatchdogSec=, WATCHDOG_USEC (and WATCHDOG_PID).
 * gh_notify_init reads them once at start and removes them from the
 * environment, so workers and anything they start do not inherit them.
 * Each message is one datagram of NEWLINE-separated KEY=VALUE lines.
 *
 * Who sends: the process systemd started, and only it (systemd ignores
 * datagrams from other pids unless NotifyAccess=all). With workers = 1
 * that is the worker itself (worker.c); with more it is the supervisor
 * (main.c), and every forked worker calls gh_notify_forget first. The main
 * process never changes (gatehouse does not daemonize), so MAINPID= is not
 * needed and not sent.
 *
 * Messages, in the order a service sees them:
 *   READY=1 + STATUS=serving N listener(s)     every listener listens, workers run
 *   RELOADING=1 + MONOTONIC_USEC=<µs>          SIGHUP received, before the reload
 *   READY=1 + STATUS=reload applied|refused: N error(s)
 *                                               after it (also when refused: the old
 *                                               configuration keeps serving)
 *   STOPPING=1 + STATUS=draining                the SIGTERM drain starts
 *   WATCHDOG=1                                  every WATCHDOG_USEC/2 from the loop
 *
 * Never blocks and never fails the service: the socket is non-blocking,
 * a failed send is logged once (notify_failed), later failures are not;
 * without NOTIFY_SOCKET every call is a no-op.
 *
 * Owns: the notify socket and its address, the watchdog interval and (in
 * a libev loop) its timer. */
#ifndef GATEHOUSE_NOTIFY_H
#define GATEHOUSE_NOTIFY_H

#include <ev.h>
#include <stddef.h>

/* Reads and unsets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID. A bad
 * value is logged (notify_disabled) and ignored; never fails. */
void gh_notify_init(void);

/* In a forked worker: close the socket and forget the address, so only the
 * supervisor speaks for the service. */
void gh_notify_forget(void);

/* The service serves: n_listeners are listening and the workers run. */
void gh_notify_ready(size_t n_listeners);

/* A SIGHUP reload begins (RELOADING=1 with the CLOCK_MONOTONIC time). */
void gh_notify_reloading(void);

/* The reload ended: n_errors == 0 applied, else refused with that many
 * errors; the service is ready again either way. */
void gh_notify_reloaded(size_t n_errors);

/* The SIGTERM/SIGINT drain begins. */
void gh_notify_stopping(void);

/* Watchdog: the interval between WATCHDOG=1 pings in seconds
 * (WATCHDOG_USEC/2), or 0 when systemd asked for none. */
double gh_notify_watchdog_interval(void);

/* Sends WATCHDOG=1 (for a loop of one's own, like the supervisor's). */
void gh_notify_watchdog(void);

/* Pings from LOOP every interval, on a timer that does not keep the loop
 * running (ev_unref); gh_notify_watchdog_stop before destroying the loop.
 * No-op without a watchdog. */
void gh_notify_watchdog_start(struct ev_loop *loop);
void gh_notify_watchdog_stop(struct ev_loop *loop);

#endif
