/* main.c - command line, start-up checks, and the supervisor of worker
 * processes.
 *
 * With workers = 1 the process is its own single worker. With more, this
 * process forks them, passes SIGTERM/SIGINT on, replaces a worker that dies
 * unexpectedly, and exits once every worker has drained. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/audit.h"
#include "gatehouse/config.h"
#include "gatehouse/instance.h"
#include "gatehouse/log.h"
#include "gatehouse/notify.h"
#include "gatehouse/reload.h"
#include "gatehouse/tickets.h"
#include "gatehouse/tls.h"
#include "version.h"
#include "gatehouse/worker.h"

/* Supervisor restart policy (seconds, monotonic clock). A worker of the
 * first start that dies within RESPAWN_MIN_INTERVAL stops the service (it
 * could not start: a configuration or a port problem). Any later death is
 * replaced: at once after a worker that ran RESPAWN_STABLE_UPTIME, else
 * after a delay that doubles from RESPAWN_BACKOFF_MIN to RESPAWN_BACKOFF_MAX. */
#define RESPAWN_MIN_INTERVAL 1.0
#define RESPAWN_STABLE_UPTIME 10.0
#define RESPAWN_BACKOFF_MIN 0.25
#define RESPAWN_BACKOFF_MAX 30.0

/* A worker tells its supervisor that its listeners are open (si_pid names
 * it): a real-time signal, so several workers' reports queue instead of
 * merging into one pending signal. */
#define SIG_WORKER_LISTENING SIGRTMIN

static void usage(FILE *to)
{
    fprintf(to,
            "usage: gatehouse -c FILE        run with the configuration in FILE\n"
            "       gatehouse -t -c FILE     check FILE (and its certificates) and exit\n"
            "       gatehouse -s reload -c FILE\n"
            "                                reload the instance running FILE, print the result\n"
            "       gatehouse -V             print versions and whether assembly is on\n"
            "       gatehouse -h             this help\n");
}

/* SUPERVISOR: the pid to report SIG_WORKER_LISTENING to, or 0 when this
 * process is the only worker. */
static int run_worker(const struct gh_config *cfg, struct gh_tls_context **tls, int index,
                      pid_t supervisor)
{
    struct gh_worker *w = calloc(1, sizeof *w);
    int rc;
    if (!w) {
        gh_log(GH_LOG_ERROR, "start_failed", " reason=out_of_memory");
        return 1;
    }
    if (gh_worker_init(w, cfg, tls) < 0 || gh_audit_open(cfg, index, w->loop) < 0) {
        free(w);
        return 1;
    }
    if (supervisor > 0 &&
        sigqueue(supervisor, SIG_WORKER_LISTENING, (union sigval){.sival_int = index}) < 0)
        gh_log(GH_LOG_WARN, "report_listening_failed", " worker=%d error=%s", index,
               strerror(errno));
    rc = gh_worker_run(w);
    free(w);
    return rc;
}

static pid_t spawn_worker(const struct gh_config *cfg, struct gh_tls_context **tls,
                          const sigset_t *old_mask, pid_t parent, int index)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid; /* parent, or -1 */
    /* A worker whose supervisor vanished drains and exits too. */
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
        _exit(1);
    gh_notify_forget(); /* the supervisor speaks to systemd, not the workers */
    gh_instance_forget(); /* and holds the instance lock, and reports reloads */
    sigprocmask(SIG_SETMASK, old_mask, NULL);
    _exit(run_worker(cfg, tls, index, parent));
}

/* The supervisor keeps a configuration for the workers it may have to
 * start again; on SIGHUP it loads the new one too (the workers each load
 * their own). Returns 0 when applied, else the number of errors. */
static size_t supervisor_reload(struct gh_config **cfg, struct gh_tls_context **tls)
{
    size_t n_errors;
    struct gh_config_errors *errs = calloc(1, sizeof *errs);
    struct gh_tls_context *next_tls[GH_MAX_LISTENERS];
    struct gh_config *next = NULL;

    if (!errs) {
        gh_log(GH_LOG_ERROR, "reload_failed", " error=out_of_memory");
        return 1;
    }
    if (gh_reload_prepare(*cfg, &next, next_tls, errs) < 0) {
        gh_reload_log_errors(errs);
        n_errors = errs->count ? errs->count : 1;
        free(errs);
        gh_heap_trim();
        return n_errors;
    }
    gh_reload_discard(*cfg, tls);
    *cfg = next;
    memcpy(tls, next_tls, sizeof next_tls);
    free(errs);
    /* The old configuration's certificates and TLS contexts are freed, but
     * glibc keeps their pages: a worker forked later (a replacement) would
     * start with all of them (the soak saw +1.4 MB per replacement). */
    gh_heap_trim();
    return 0;
}

/* One worker slot of the supervisor. */
enum slot_state {
    SLOT_EMPTY,          /* no worker and none to start (stopping, or fork gave up) */
    SLOT_RUNNING,        /* pid is a live worker */
    SLOT_RESTART_WAIT,   /* died; a replacement starts at restart_at */
};

/* Whether a worker reported its listeners open (SIG_WORKER_LISTENING). */
enum slot_readiness {
    SLOT_STARTING,       /* forked, listeners not reported yet */
    SLOT_LISTENING,      /* reported: its listeners accept */
};

/* What the supervisor told systemd (notify.h). */
enum service_state {
    SERVICE_STARTING,    /* READY=1 not sent: some first-start worker has not reported */
    SERVICE_SERVING,     /* READY=1 sent */
};

enum slot_incarnation {
    SLOT_FIRST_START,    /* the worker started with the service: fail fast */
    SLOT_REPLACEMENT,    /* started after a death: back off, never give up */
};

struct worker_slot {
    pid_t pid;
    enum slot_state state;
    enum slot_incarnation incarnation;
    enum slot_readiness readiness;
    double started;      /* monotonic seconds */
    double restart_at;   /* monotonic seconds, in SLOT_RESTART_WAIT */
    double backoff;      /* the delay before the next restart, seconds */
};

static double monotonic_now(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* CLOCK_MONOTONIC cannot fail on Linux */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The delay before replacing a worker that lived UPTIME seconds: none after
 * a worker that ran for a while, then doubling while replacements keep
 * dying young, so a worker that crashes at once costs a fork every
 * RESPAWN_BACKOFF_MAX at worst instead of a spinning supervisor. */
static double next_backoff(double previous, double uptime)
{
    if (uptime >= RESPAWN_STABLE_UPTIME)
        return 0;
    if (previous < RESPAWN_BACKOFF_MIN)
        return RESPAWN_BACKOFF_MIN;
    return previous * 2 > RESPAWN_BACKOFF_MAX ? RESPAWN_BACKOFF_MAX : previous * 2;
}

static void start_slot(struct worker_slot *slot, const struct gh_config *cfg,
                       struct gh_tls_context **tls, const sigset_t *old_mask, pid_t self, int index)
{
    slot->pid = spawn_worker(cfg, tls, old_mask, self, index);
    slot->started = monotonic_now();
    if (slot->pid > 0) {
        slot->state = SLOT_RUNNING;
        return;
    }
    gh_log(GH_LOG_ERROR, "fork_failed", " worker=%d error=%s", index, strerror(errno));
    slot->pid = 0;
    slot->backoff = next_backoff(slot->backoff, 0);
    slot->restart_at = slot->started + slot->backoff;
    slot->state = SLOT_RESTART_WAIT;
}

/* The earliest restart_at of a waiting slot, or a negative value. */
static double next_restart(const struct worker_slot *slots, int n)
{
    double at = -1;
    for (int i = 0; i < n; i++)
        if (slots[i].state == SLOT_RESTART_WAIT && (at < 0 || slots[i].restart_at < at))
            at = slots[i].restart_at;
    return at;
}

static int supervise(struct gh_config **cfgp, struct gh_tls_context **tls)
{
    const struct gh_config *cfg = *cfgp;
    int n = cfg->global.workers;
    struct worker_slot slots[64] = {0}; /* workers is at most 64 (config.c) */
    sigset_t mask, old_mask;
    pid_t self = getpid();
    int alive = 0, status_rc = 0;
    bool stopping = false;
    enum service_state service = SERVICE_STARTING;
    double watchdog_every = gh_notify_watchdog_interval(); /* 0: no watchdog */
    double watchdog_due = watchdog_every > 0 ? monotonic_now() + watchdog_every : -1;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGHUP);
    sigaddset(&mask, SIG_WORKER_LISTENING);
    if (sigprocmask(SIG_BLOCK, &mask, &old_mask) < 0) {
        gh_log(GH_LOG_ERROR, "start_failed", " reason=sigprocmask error=%s", strerror(errno));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        slots[i].pid = spawn_worker(cfg, tls, &old_mask, self, i);
        slots[i].started = monotonic_now();
        slots[i].incarnation = SLOT_FIRST_START;
        if (slots[i].pid < 0) {
            gh_log(GH_LOG_ERROR, "fork_failed", " error=%s", strerror(errno));
            slots[i].pid = 0;
            stopping = true;
            status_rc = 1;
            for (int j = 0; j < i; j++)
                kill(slots[j].pid, SIGTERM);
            n = i;
            break;
        }
        slots[i].state = SLOT_RUNNING;
        alive++;
    }
    gh_log(GH_LOG_INFO, "supervisor_ready", " workers=%d", alive);

    while (alive > 0 || (!stopping && next_restart(slots, n) >= 0)) {
        siginfo_t info;
        int sig;
        double due = stopping ? -1 : next_restart(slots, n);
        if (watchdog_due >= 0) {
            /* Pinged from this loop, so a supervisor stuck elsewhere is
             * noticed; checked every turn, so no signal storm starves it. */
            double now = monotonic_now();
            if (watchdog_due <= now) {
                gh_notify_watchdog();
                watchdog_due = now + watchdog_every;
            }
            if (due < 0 || watchdog_due < due)
                due = watchdog_due;
        }
        if (due < 0) {
            sig = sigwaitinfo(&mask, &info);
        } else {
            double wait = due - monotonic_now();
            struct timespec ts = {0, 0};
            if (wait > 0) {
                ts.tv_sec = (time_t)wait;
                ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
            }
            sig = sigtimedwait(&mask, &info, &ts);
        }
        if (sig < 0 && errno == EAGAIN) {
            /* a replacement (or a watchdog ping, sent above) is due */
            double now = monotonic_now();
            for (int i = 0; i < n; i++) {
                if (slots[i].state != SLOT_RESTART_WAIT || slots[i].restart_at > now)
                    continue;
                start_slot(&slots[i], cfg, tls, &old_mask, self, i);
                if (slots[i].state == SLOT_RUNNING) {
                    alive++;
                    status_rc = 0;
                    gh_log(GH_LOG_INFO, "worker_restarted", " worker=%d worker_pid=%ld", i,
                           (long)slots[i].pid);
                }
            }
            continue;
        }
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            gh_log(GH_LOG_ERROR, "sigwait_failed", " error=%s", strerror(errno));
            return 1;
        }
        if (sig == SIG_WORKER_LISTENING) {
            bool all = true;
            for (int i = 0; i < n; i++) {
                if (slots[i].state == SLOT_RUNNING && slots[i].pid == info.si_pid)
                    slots[i].readiness = SLOT_LISTENING;
                if (slots[i].readiness != SLOT_LISTENING)
                    all = false;
            }
            if (all && !stopping && service == SERVICE_STARTING) {
                service = SERVICE_SERVING;
                gh_log(GH_LOG_INFO, "supervisor_listening", " workers=%d", alive);
                gh_notify_ready(cfg->n_listeners);
            }
            continue;
        }
        if (sig == SIGUSR1 || sig == SIGHUP) {
            /* SIGUSR1: every worker reopens its audit file. SIGHUP: each
             * worker reloads (and audits the result) on its own. */
            if (sig == SIGHUP && !stopping) {
                gh_notify_reloading();
                gh_notify_reloaded(supervisor_reload(cfgp, tls));
                cfg = *cfgp;
            }
            for (int i = 0; i < n; i++)
                if (slots[i].state == SLOT_RUNNING)
                    kill(slots[i].pid, sig);
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            if (!stopping) {
                gh_notify_stopping();
                gh_instance_unlock(); /* the upgrade hook: a new instance may lock */
                gh_log(GH_LOG_INFO, "shutdown_begin", " signal=%s workers=%d",
                       sig == SIGINT ? "SIGINT" : "SIGTERM", alive);
            }
            stopping = true;
            for (int i = 0; i < n; i++) {
                if (slots[i].state == SLOT_RUNNING)
                    kill(slots[i].pid, SIGTERM);
                else
                    slots[i].state = SLOT_EMPTY; /* a pending replacement is not started */
            }
            continue;
        }
        /* SIGCHLD: reap everything that exited. */
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            for (int i = 0; i < n; i++) {
                struct worker_slot *slot = &slots[i];
                if (slot->state != SLOT_RUNNING || slot->pid != pid)
                    continue;
                slot->pid = 0;
                slot->state = SLOT_EMPTY;
                alive--;
                bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                if (!clean)
                    status_rc = 1;
                if (stopping)
                    break;
                double now = monotonic_now();
                double uptime = now - slot->started;
                gh_log(GH_LOG_ERROR, "worker_died",
                       " worker=%d worker_pid=%ld status=%d signal=%d uptime=%.3f", i, (long)pid,
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                       WIFSIGNALED(status) ? WTERMSIG(status) : 0, uptime);
                if (slot->incarnation == SLOT_FIRST_START && uptime < RESPAWN_MIN_INTERVAL) {
                    /* The service could not even start (a port taken, say):
                     * restarting would only spin. Stop everything and say so.
                     * Only the very first start fails fast: a replacement
                     * that dies young is a crash to ride out, not a bad
                     * configuration. */
                    gh_log(GH_LOG_ERROR, "shutdown_begin", " reason=worker_failed_at_start");
                    gh_notify_stopping();
                    stopping = true;
                    for (int j = 0; j < n; j++) {
                        if (slots[j].state == SLOT_RUNNING)
                            kill(slots[j].pid, SIGTERM);
                        else
                            slots[j].state = SLOT_EMPTY;
                    }
                    break;
                }
                slot->incarnation = SLOT_REPLACEMENT;
                slot->backoff = next_backoff(slot->backoff, uptime);
                slot->restart_at = now + slot->backoff;
                slot->state = SLOT_RESTART_WAIT;
                gh_log(slot->backoff > 0 ? GH_LOG_WARN : GH_LOG_INFO, "worker_restart",
                       " worker=%d delay=%.3f", i, slot->backoff);
                break;
            }
        }
    }
    gh_log(GH_LOG_INFO, "shutdown_done", " workers=0");
    return status_rc;
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"test", no_argument, NULL, 't'},
        {"signal", required_argument, NULL, 's'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    bool test_only = false;
    const char *signal_name = NULL;
    struct gh_config *cfg = NULL;
    struct gh_config_errors *errs = NULL;
    struct gh_tls_context *tls[GH_MAX_LISTENERS] = {0};
    int opt, rc = 1;

    while ((opt = getopt_long(argc, argv, "c:ts:Vh", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 't':
            test_only = true;
            break;
        case 's':
            signal_name = optarg;
            break;
        case 'V':
            if (gh_tls_global_init() < 0)
                return 1;
            gh_tls_print_version(stdout);
            gh_tls_global_cleanup();
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config_path || optind != argc || (signal_name && test_only)) {
        usage(stderr);
        return 2;
    }
    if (signal_name) {
        if (strcmp(signal_name, "reload") != 0) {
            fprintf(stderr, "gatehouse: -s %s: the only signal is reload\n", signal_name);
            return 2;
        }
        return gh_instance_send_reload(config_path);
    }

    signal(SIGPIPE, SIG_IGN);
    /* Until the loop takes SIGHUP (reload) over, it must not kill. */
    signal(SIGHUP, SIG_IGN);
    /* Until the loop takes SIGUSR1 over, a reopen request must not kill. A
     * file over RLIMIT_FSIZE must fail the write (EFBIG), not the process. */
    signal(SIGUSR1, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    cfg = calloc(1, sizeof *cfg);
    errs = calloc(1, sizeof *errs);
    if (!cfg || !errs) {
        fprintf(stderr, "gatehouse: out of memory\n");
        goto out;
    }
    if (gh_config_load(config_path, cfg, errs) < 0) {
        gh_config_errors_print(errs, stderr);
        goto out;
    }
    gh_log_set_level(cfg->global.log_level);
    if (gh_tls_global_init() < 0) {
        fprintf(stderr, "gatehouse: wolfSSL failed to initialise\n");
        goto out;
    }
    {
        /* before the contexts (they install the ticket callback) and before
         * fork (the workers share a random secret when there is no file) */
        char why[GH_ERROR_TEXT_MAX];
        if (gh_tickets_init(cfg->global.ticket_key_file, cfg->global.ticket_rotation, why,
                            sizeof why) < 0)
            gh_config_key_error(errs, &cfg->global.key_lines, "ticket_key_file", "%s",
                                why);
    }
    for (size_t i = 0; i < cfg->n_listeners; i++)
        if (cfg->listeners[i].mode != GH_MODE_REDIRECT)
            tls[i] = gh_tls_context_new(cfg, &cfg->listeners[i], errs);
    (void)gh_audit_check(cfg, errs); /* errors are recorded in errs */
    (void)gh_instance_check(cfg, errs); /* likewise */
    if (errs->count) {
        gh_config_errors_print(errs, stderr);
        goto out_tls;
    }
    if (test_only) {
        printf("%s: configuration ok (%zu listener%s)\n", config_path, cfg->n_listeners,
               cfg->n_listeners == 1 ? "" : "s");
        rc = 0;
        goto out_tls;
    }
    gh_log(GH_LOG_INFO, "start", " version=%s config=%s workers=%d", GH_VERSION, config_path,
           cfg->global.workers);
    /* Before binding: a second instance must not take a share of the
     * ports (SO_REUSEPORT) even for a moment. */
    if (gh_instance_lock(cfg) < 0)
        goto out_tls;
    gh_notify_init(); /* not for -t: a config check is not the service */
    rc = cfg->global.workers == 1 ? run_worker(cfg, tls, 0, 0) : supervise(&cfg, tls);
out_tls:
    for (size_t i = 0; i < cfg->n_listeners; i++)
        gh_tls_context_free(tls[i]);
    gh_tls_global_cleanup();
out:
    free(errs);
    free(cfg);
    return rc;
}
