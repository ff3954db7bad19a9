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
#include "gatehouse/log.h"
#include "gatehouse/reload.h"
#include "gatehouse/tickets.h"
#include "gatehouse/tls.h"
#include "version.h"
#include "gatehouse/worker.h"

#define RESPAWN_MIN_INTERVAL 1 /* seconds between restarts of a crashing worker */

static void usage(FILE *to)
{
    fprintf(to,
            "usage: gatehouse -c FILE        run with the configuration in FILE\n"
            "       gatehouse -t -c FILE     check FILE (and its certificates) and exit\n"
            "       gatehouse -V             print versions and whether assembly is on\n"
            "       gatehouse --crypto-speed print the linked wolfSSL's crypto speed\n"
            "       gatehouse -h             this help\n");
}

static int run_worker(const struct gh_config *cfg, struct gh_tls_context **tls, int index)
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
    sigprocmask(SIG_SETMASK, old_mask, NULL);
    _exit(run_worker(cfg, tls, index));
}

/* The supervisor keeps a configuration for the workers it may have to
 * start again; on SIGHUP it loads the new one too (the workers each load
 * their own). */
static void supervisor_reload(struct gh_config **cfg, struct gh_tls_context **tls)
{
    struct gh_config_errors *errs = calloc(1, sizeof *errs);
    struct gh_tls_context *next_tls[GH_MAX_LISTENERS];
    struct gh_config *next = NULL;

    if (!errs) {
        gh_log(GH_LOG_ERROR, "reload_failed", " error=out_of_memory");
        return;
    }
    if (gh_reload_prepare(*cfg, &next, next_tls, errs) < 0) {
        gh_reload_log_errors(errs);
        free(errs);
        return;
    }
    gh_reload_discard(*cfg, tls);
    *cfg = next;
    memcpy(tls, next_tls, sizeof next_tls);
    free(errs);
}

static int supervise(struct gh_config **cfgp, struct gh_tls_context **tls)
{
    const struct gh_config *cfg = *cfgp;
    int n = cfg->global.workers;
    pid_t pids[64];
    time_t started[64];
    sigset_t mask, old_mask;
    pid_t self = getpid();
    int alive = 0, status_rc = 0;
    bool stopping = false;

    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGCHLD);
    sigaddset(&mask, SIGUSR1);
    sigaddset(&mask, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &mask, &old_mask) < 0) {
        gh_log(GH_LOG_ERROR, "start_failed", " reason=sigprocmask error=%s", strerror(errno));
        return 1;
    }
    for (int i = 0; i < n; i++) {
        pids[i] = spawn_worker(cfg, tls, &old_mask, self, i);
        started[i] = time(NULL);
        if (pids[i] < 0) {
            gh_log(GH_LOG_ERROR, "fork_failed", " error=%s", strerror(errno));
            stopping = true;
            status_rc = 1;
            for (int j = 0; j < i; j++)
                kill(pids[j], SIGTERM);
            n = i;
            break;
        }
        alive++;
    }
    gh_log(GH_LOG_INFO, "supervisor_ready", " workers=%d", alive);

    while (alive > 0) {
        siginfo_t info;
        int sig = sigwaitinfo(&mask, &info);
        if (sig < 0) {
            if (errno == EINTR)
                continue;
            gh_log(GH_LOG_ERROR, "sigwait_failed", " error=%s", strerror(errno));
            return 1;
        }
        if (sig == SIGUSR1 || sig == SIGHUP) {
            /* SIGUSR1: every worker reopens its audit file. SIGHUP: each
             * worker reloads (and audits the result) on its own. */
            if (sig == SIGHUP && !stopping) {
                supervisor_reload(cfgp, tls);
                cfg = *cfgp;
            }
            for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                    kill(pids[i], sig);
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            if (!stopping)
                gh_log(GH_LOG_INFO, "shutdown_begin", " signal=%s workers=%d",
                       sig == SIGINT ? "SIGINT" : "SIGTERM", alive);
            stopping = true;
            for (int i = 0; i < n; i++)
                if (pids[i] > 0)
                    kill(pids[i], SIGTERM);
            continue;
        }
        /* SIGCHLD: reap everything that exited. */
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0)
                break;
            for (int i = 0; i < n; i++) {
                if (pids[i] != pid)
                    continue;
                pids[i] = 0;
                alive--;
                bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
                if (!clean)
                    status_rc = 1;
                if (stopping) {
                    break;
                }
                gh_log(GH_LOG_ERROR, "worker_died", " worker_pid=%ld status=%d signal=%d",
                       (long)pid, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                       WIFSIGNALED(status) ? WTERMSIG(status) : 0);
                if (time(NULL) - started[i] < RESPAWN_MIN_INTERVAL) {
                    /* It could not even start (a port taken, say): restarting
                     * would only spin. Stop everything and say so. */
                    gh_log(GH_LOG_ERROR, "shutdown_begin", " reason=worker_failed_at_start");
                    stopping = true;
                    for (int j = 0; j < n; j++)
                        if (pids[j] > 0)
                            kill(pids[j], SIGTERM);
                    break;
                }
                pids[i] = spawn_worker(cfg, tls, &old_mask, self, i);
                started[i] = time(NULL);
                if (pids[i] > 0) {
                    alive++;
                    status_rc = 0;
                } else {
                    pids[i] = 0;
                }
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
        {"version", no_argument, NULL, 'V'},
        {"crypto-speed", no_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config_path = NULL;
    bool test_only = false;
    struct gh_config *cfg = NULL;
    struct gh_config_errors *errs = NULL;
    struct gh_tls_context *tls[GH_MAX_LISTENERS] = {0};
    int opt, rc = 1;

    while ((opt = getopt_long(argc, argv, "c:tVh", long_opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 't':
            test_only = true;
            break;
        case 'V':
            if (gh_tls_global_init() < 0)
                return 1;
            gh_tls_print_version(stdout);
            gh_tls_global_cleanup();
            return 0;
        case 's':
            if (gh_tls_global_init() < 0)
                return 1;
            rc = gh_tls_crypto_speed(stdout) == 0 ? 0 : 1;
            gh_tls_global_cleanup();
            return rc;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!config_path || optind != argc) {
        usage(stderr);
        return 2;
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
            gh_config_error_add(errs, cfg->global.ticket_key_file_line, "ticket_key_file", "%s",
                                why);
    }
    for (size_t i = 0; i < cfg->n_listeners; i++)
        if (cfg->listeners[i].mode != GH_MODE_REDIRECT)
            tls[i] = gh_tls_context_new(cfg, &cfg->listeners[i], errs);
    (void)gh_audit_check(cfg, errs); /* errors are recorded in errs */
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
    rc = cfg->global.workers == 1 ? run_worker(cfg, tls, 0) : supervise(&cfg, tls);
out_tls:
    for (size_t i = 0; i < cfg->n_listeners; i++)
        gh_tls_context_free(tls[i]);
    gh_tls_global_cleanup();
out:
    free(errs);
    free(cfg);
    return rc;
}
