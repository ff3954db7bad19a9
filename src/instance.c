/* instance.c - the instance lock, the reload result file and the -s
 * client; see instance.h. */
#include "gatehouse/instance.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/path.h"

/* What a result file holds at most: the first line and GH_MAX_ERRORS
 * FILE:LINE: key: message lines. */
#define RESULT_MAX (GH_MAX_ERRORS * (GH_PATH_MAX + GH_ERROR_TEXT_MAX + 96) + 128)
#define PID_TEXT_MAX 32      /* "4194304\n" with room to spare */
#define POLL_INTERVAL_NS 50000000L

/* What this process is to the instance file. */
enum instance_role {
    INSTANCE_NONE,       /* no file, a -t run, or a forked worker */
    INSTANCE_HOLDER,     /* took the lock: reports reloads, unlocks at drain */
    INSTANCE_RELEASED,   /* draining: the lock is free, reloads are ignored */
};

static struct {
    enum instance_role role;
    int fd;
    char path[GH_PATH_MAX];
    unsigned long reload_seq;
} I = {.role = INSTANCE_NONE, .fd = -1};

int gh_instance_path(const struct gh_config *cfg, char *out, size_t n)
{
    const struct gh_global_config *g = &cfg->global;
    int w;
    if (g->pid_file[0])
        w = snprintf(out, n, "%s", g->pid_file);
    else if (g->audit_file[0] && strcmp(g->audit_file, "-") != 0)
        w = snprintf(out, n, "%s.pid", g->audit_file);
    else
        return 0;
    return w < 0 || (size_t)w >= n ? -1 : 1;
}

int gh_instance_check(const struct gh_config *cfg, struct gh_config_errors *errs)
{
    const struct gh_global_config *g = &cfg->global;
    const char *key = g->pid_file[0] ? "pid_file" : "audit_file";
    char path[GH_PATH_MAX], dir[GH_PATH_MAX];
    int has = gh_instance_path(cfg, path, sizeof path);
    if (has == 0)
        return 0;
    if (has < 0) {
        gh_config_key_error(errs, &g->key_lines, key, "the instance file path is too long");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    if (errno == ENOENT && gh_path_creatable(path, dir, sizeof dir))
        return 0;
    gh_config_key_error(errs, &g->key_lines, key, "cannot open the instance file %s: %s", path,
                        strerror(errno));
    return -1;
}

/* The pid written in FD's file, or 0. */
static long read_pid(int fd)
{
    char text[PID_TEXT_MAX];
    ssize_t got = pread(fd, text, sizeof text - 1, 0);
    if (got <= 0)
        return 0;
    text[got] = '\0';
    long pid = strtol(text, NULL, 10);
    return pid > 0 ? pid : 0;
}

int gh_instance_lock(const struct gh_config *cfg)
{
    char text[PID_TEXT_MAX];
    int has = gh_instance_path(cfg, I.path, sizeof I.path);
    if (has == 0)
        return 0;
    if (has < 0) {
        fprintf(stderr, "gatehouse: pid_file: the instance file path is too long\n");
        return -1;
    }
    I.fd = open(I.path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
    if (I.fd < 0) {
        fprintf(stderr, "gatehouse: cannot open the instance file %s: %s\n", I.path,
                strerror(errno));
        return -1;
    }
    if (flock(I.fd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        long other = read_pid(I.fd);
        if (err == EWOULDBLOCK)
            fprintf(stderr,
                    "gatehouse: another instance (pid %ld) holds %s: refusing to start a "
                    "second one on the same configuration\n",
                    other, I.path);
        else
            fprintf(stderr, "gatehouse: cannot lock %s: %s\n", I.path, strerror(err));
        close(I.fd);
        I.fd = -1;
        return -1;
    }
    int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(I.fd, 0) < 0 || pwrite(I.fd, text, (size_t)len, 0) != len) {
        fprintf(stderr, "gatehouse: cannot write %s: %s\n", I.path, strerror(errno));
        close(I.fd);
        I.fd = -1;
        return -1;
    }
    I.role = INSTANCE_HOLDER;
    return 0;
}

void gh_instance_forget(void)
{
    /* Closing this copy keeps the lock: the supervisor's descriptor still
     * refers to the same open file, and flock locks belong to that. */
    if (I.fd >= 0)
        close(I.fd);
    I.fd = -1;
    I.role = INSTANCE_NONE;
}

void gh_instance_unlock(void)
{
    if (I.role != INSTANCE_HOLDER)
        return;
    /* LOCK_UN frees the lock of the open file, whoever else still holds a
     * descriptor to it (workers forked before gh_instance_forget ran). */
    if (flock(I.fd, LOCK_UN) < 0)
        fprintf(stderr, "gatehouse: cannot unlock %s: %s\n", I.path, strerror(errno));
    close(I.fd);
    I.fd = -1;
    I.role = INSTANCE_RELEASED;
}

void gh_instance_reload_result(bool ok, const struct gh_config_errors *errs)
{
    char tmp[GH_PATH_MAX + 16], final[GH_PATH_MAX + 16];
    FILE *f;
    if (I.role != INSTANCE_HOLDER)
        return;
    I.reload_seq++;
    if (snprintf(final, sizeof final, "%s.reload", I.path) >= (int)sizeof final ||
        snprintf(tmp, sizeof tmp, "%s.reload.tmp", I.path) >= (int)sizeof tmp)
        return; /* I.path fits GH_PATH_MAX: cannot happen */
    f = fopen(tmp, "we");
    if (!f)
        goto fail;
    size_t n = ok || !errs ? 0 : errs->count;
    fprintf(f, "pid=%ld seq=%lu result=%s errors=%zu\n", (long)getpid(), I.reload_seq,
            ok ? "ok" : "refused", n);
    if (!ok && errs) {
        size_t shown = n < GH_MAX_ERRORS ? n : GH_MAX_ERRORS;
        for (size_t i = 0; i < shown; i++)
            fprintf(f, "%s:%d: %s: %s\n", errs->file, errs->items[i].line,
                    errs->items[i].key[0] ? errs->items[i].key : "-", errs->items[i].message);
    }
    if (fclose(f) != 0 || rename(tmp, final) < 0)
        goto fail;
    return;
fail:
    fprintf(stderr, "gatehouse: cannot write the reload result %s: %s\n", final,
            strerror(errno));
    (void)unlink(tmp); /* best effort: the error is already reported */
}

/* Reads PATH whole into buf (RESULT_MAX bytes); returns its length or -1. */
static ssize_t read_result(const char *path, char *buf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t len = 0, got;
    if (fd < 0)
        return -1;
    while (len < RESULT_MAX - 1 && (got = read(fd, buf + len, RESULT_MAX - 1 - (size_t)len)) > 0)
        len += got;
    close(fd);
    buf[len] = '\0';
    return len;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts); /* cannot fail on Linux */
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int gh_instance_send_reload(const char *config_path)
{
    struct gh_config *cfg = calloc(1, sizeof *cfg);
    struct gh_config_errors *errs = calloc(1, sizeof *errs);
    char *before = malloc(RESULT_MAX), *after = malloc(RESULT_MAX);
    char path[GH_PATH_MAX], result_path[GH_PATH_MAX + 16], want[64];
    int fd = -1, rc = 1, has;
    long pid;

    if (!cfg || !errs || !before || !after) {
        fprintf(stderr, "gatehouse: out of memory\n");
        goto out;
    }
    /* A configuration with errors still names its instance file: the
     * running instance is asked, and refuses it with those errors. */
    (void)gh_config_load(config_path, cfg, errs);
    has = gh_instance_path(cfg, path, sizeof path);
    if (has <= 0) {
        fprintf(stderr,
                "gatehouse: %s sets neither pid_file nor a file audit_file: there is no "
                "instance file to find the running gatehouse by\n",
                config_path);
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        fprintf(stderr, "gatehouse: no running instance: cannot open %s: %s\n", path,
                strerror(errno));
        goto out;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        fprintf(stderr, "gatehouse: no running instance: nothing holds the lock on %s\n", path);
        goto out;
    }
    pid = read_pid(fd);
    if (pid <= 0) {
        fprintf(stderr, "gatehouse: %s holds no pid\n", path);
        goto out;
    }
    snprintf(result_path, sizeof result_path, "%s.reload", path);
    if (read_result(result_path, before) < 0)
        before[0] = '\0';
    if (kill((pid_t)pid, SIGHUP) < 0) {
        fprintf(stderr, "gatehouse: cannot signal pid %ld (from %s): %s\n", pid, path,
                strerror(errno));
        goto out;
    }
    snprintf(want, sizeof want, "pid=%ld ", pid);
    for (double until = monotonic_seconds() + GH_INSTANCE_RELOAD_WAIT;;) {
        struct timespec pause = {0, POLL_INTERVAL_NS};
        if (read_result(result_path, after) > 0 && strcmp(after, before) != 0 &&
            strncmp(after, want, strlen(want)) == 0) {
            bool ok = strstr(after, " result=ok ") != NULL;
            fputs(after, ok ? stdout : stderr);
            rc = ok ? 0 : 1;
            goto out;
        }
        if (monotonic_seconds() >= until)
            break;
        nanosleep(&pause, NULL);
    }
    fprintf(stderr, "gatehouse: pid %ld gave no reload result in %s within %.0f s\n", pid,
            result_path, GH_INSTANCE_RELOAD_WAIT);
out:
    if (fd >= 0)
        close(fd);
    free(before);
    free(after);
    free(errs);
    free(cfg);
    return rc;
}
