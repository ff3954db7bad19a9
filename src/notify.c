/* notify.c - the sd_notify datagram protocol; see notify.h. */
#include "gatehouse/notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "gatehouse/log.h"

#define NOTIFY_MESSAGE_MAX 256 /* the longest message: READY=1 + a STATUS= line */

enum notify_state {
    NOTIFY_OFF,      /* no NOTIFY_SOCKET (or a bad one, or a forked worker) */
    NOTIFY_ON,       /* fd and address are set */
};

enum notify_send_state {
    NOTIFY_SEND_OK,          /* every send so far went out */
    NOTIFY_SEND_FAILED,      /* one failed and was logged; later failures are not */
};

static struct {
    enum notify_state state;
    enum notify_send_state send_state;
    int fd;
    struct sockaddr_un addr;
    socklen_t addr_len;
    uint64_t watchdog_usec;  /* 0: no watchdog */
    ev_timer watchdog_timer;
} notify = {.state = NOTIFY_OFF, .fd = -1};

static void disable(const char *reason, const char *value)
{
    char quoted[GH_LOG_LINE_MAX / 2];
    gh_log(GH_LOG_WARN, "notify_disabled", " reason=%s value=%s", reason,
           gh_log_quote(value, quoted, sizeof quoted));
}

/* WATCHDOG_USEC applies to us only if WATCHDOG_PID is absent or ours. */
static void read_watchdog(void)
{
    const char *usec = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    char *end;

    notify.watchdog_usec = 0;
    if (!usec)
        return;
    if (pid) {
        errno = 0;
        long long p = strtoll(pid, &end, 10);
        if (errno || *end || end == pid || p != (long long)getpid())
            return; /* meant for another process */
    }
    errno = 0;
    unsigned long long u = strtoull(usec, &end, 10);
    if (errno || *end || end == usec || u == 0 || usec[0] == '-') {
        disable("bad_watchdog_usec", usec);
        return;
    }
    notify.watchdog_usec = u;
}

void gh_notify_init(void)
{
    const char *path = getenv("NOTIFY_SOCKET");
    size_t len;

    if (path)
        read_watchdog();
    if (!path)
        goto unset;
    len = strlen(path);
    /* "@name" is an abstract socket: a NUL first, and no NUL counted at the end */
    if (len < 2 || (path[0] != '/' && path[0] != '@') || len >= sizeof notify.addr.sun_path) {
        disable("bad_notify_socket", path);
        goto unset;
    }
    memset(&notify.addr, 0, sizeof notify.addr);
    notify.addr.sun_family = AF_UNIX;
    memcpy(notify.addr.sun_path, path, len);
    if (path[0] == '@')
        notify.addr.sun_path[0] = '\0';
    notify.addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                                  (path[0] == '/' ? 1 : 0));
    notify.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (notify.fd < 0) {
        disable("socket_failed", strerror(errno));
        goto unset;
    }
    notify.state = NOTIFY_ON;
unset:
    /* Workers and whatever they start must not speak for the service. */
    if (unsetenv("NOTIFY_SOCKET") < 0 || unsetenv("WATCHDOG_USEC") < 0 ||
        unsetenv("WATCHDOG_PID") < 0)
        gh_log(GH_LOG_WARN, "notify_unsetenv_failed", " error=%s", strerror(errno));
    if (notify.state != NOTIFY_ON)
        notify.watchdog_usec = 0;
}

void gh_notify_forget(void)
{
    if (notify.fd >= 0)
        close(notify.fd);
    notify.fd = -1;
    notify.state = NOTIFY_OFF;
    notify.watchdog_usec = 0;
}

static void send_message(const char *msg)
{
    if (notify.state != NOTIFY_ON)
        return;
    ssize_t n = sendto(notify.fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
                       (const struct sockaddr *)&notify.addr, notify.addr_len);
    if (n >= 0)
        return;
    if (notify.send_state == NOTIFY_SEND_FAILED)
        return;
    notify.send_state = NOTIFY_SEND_FAILED;
    /* Logged once: a watchdog ping every few seconds to a socket that went
     * away must not flood the log. The service keeps serving. */
    gh_log(GH_LOG_WARN, "notify_failed", " error=%s", strerror(errno));
}

void gh_notify_ready(size_t n_listeners)
{
    char msg[NOTIFY_MESSAGE_MAX];
    snprintf(msg, sizeof msg, "READY=1\nSTATUS=serving %zu listener%s", n_listeners,
             n_listeners == 1 ? "" : "s");
    send_message(msg);
}

void gh_notify_reloading(void)
{
    char msg[NOTIFY_MESSAGE_MAX];
    struct timespec ts;
    /* systemd (Type=notify-reload) matches MONOTONIC_USEC against the time
     * it sent SIGHUP; CLOCK_MONOTONIC cannot fail on Linux. */
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof msg, "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
             (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u);
    send_message(msg);
}

void gh_notify_reloaded(size_t n_errors)
{
    char msg[NOTIFY_MESSAGE_MAX];
    if (n_errors == 0)
        snprintf(msg, sizeof msg, "READY=1\nSTATUS=reload applied");
    else
        snprintf(msg, sizeof msg, "READY=1\nSTATUS=reload refused: %zu error%s", n_errors,
                 n_errors == 1 ? "" : "s");
    send_message(msg);
}

void gh_notify_stopping(void)
{
    send_message("STOPPING=1\nSTATUS=draining");
}

double gh_notify_watchdog_interval(void)
{
    return notify.watchdog_usec ? (double)notify.watchdog_usec / 2e6 : 0;
}

void gh_notify_watchdog(void)
{
    send_message("WATCHDOG=1");
}

static void on_watchdog(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)t;
    (void)revents;
    gh_notify_watchdog();
}

void gh_notify_watchdog_start(struct ev_loop *loop)
{
    double every = gh_notify_watchdog_interval();
    if (every <= 0 || ev_is_active(&notify.watchdog_timer))
        return;
    ev_timer_init(&notify.watchdog_timer, on_watchdog, every, every);
    ev_timer_start(loop, &notify.watchdog_timer);
    ev_unref(loop); /* the pings must not keep a drained loop running */
}

void gh_notify_watchdog_stop(struct ev_loop *loop)
{
    if (!ev_is_active(&notify.watchdog_timer))
        return;
    ev_ref(loop);
    ev_timer_stop(loop, &notify.watchdog_timer);
}
