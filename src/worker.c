/* worker.c - one worker's event loop; see worker.h. */
#include "gatehouse/worker.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gatehouse/audit.h"
#include "gatehouse/conn.h"
#include "gatehouse/event.h"
#include "gatehouse/log.h"
#include "gatehouse/notify.h"
#include "gatehouse/instance.h"
#include "gatehouse/reload.h"
#include "gatehouse/tickets.h"
#include "gatehouse/tls.h"

#define ACCEPTS_PER_EVENT 64   /* fairness between accepting and serving */
#define ACCEPT_BACKOFF 0.1     /* seconds accept stays paused when out of fds */
#define ACCEPT_EPISODE_QUIET 1.0 /* seconds below max_connections that end an episode */
#define FLUSH_PASSES 4         /* pending-list passes per loop iteration */
#define POOL_FREE_BLOCKS 1024  /* free buffers a listener keeps for reuse, at most */
#define POOL_KEEP_BLOCKS 4     /* free buffers a listener keeps however quiet it is */
#define MEMORY_TRIM_INTERVAL 1.0 /* seconds between looks at memory to give back */

static void close_listener(struct gh_worker *w, struct gh_listener *l)
{
    ev_io_stop(w->loop, &l->accept_watcher);
    ev_timer_stop(w->loop, &l->limit_quiet);
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
}

static bool accepting_allowed(const struct gh_worker *w, const struct gh_listener *l)
{
    return !w->draining && l->fd >= 0 && l->limit != GH_ACCEPT_LIMIT_PAUSED &&
           !ev_is_active(&w->accept_backoff);
}

static void resume_accepting(struct gh_worker *w, struct gh_listener *l)
{
    if (accepting_allowed(w, l) && !ev_is_active(&l->accept_watcher))
        ev_io_start(w->loop, &l->accept_watcher);
}

/* Accepting stops at max_connections; the first pause of an episode is
 * logged, the rest are counted. */
static void pause_at_limit(struct gh_worker *w, struct gh_listener *l)
{
    ev_io_stop(w->loop, &l->accept_watcher);
    ev_timer_stop(w->loop, &l->limit_quiet);
    if (l->limit == GH_ACCEPT_LIMIT_CLEAR) {
        l->limit_since = ev_now(w->loop);
        l->limit_pauses = 0;
        gh_log(GH_LOG_WARN, "accept_paused", " listener=%s reason=max_connections limit=%u",
               l->cfg->name, l->cfg->max_connections);
    }
    l->limit_pauses++;
    l->limit = GH_ACCEPT_LIMIT_PAUSED;
}

/* Below max_connections again (a close, or a reload that raised it):
 * accepting resumes and the episode ends if it stays so for a while. */
static void leave_limit(struct gh_worker *w, struct gh_listener *l)
{
    if (l->limit != GH_ACCEPT_LIMIT_PAUSED || l->active >= l->cfg->max_connections)
        return;
    l->limit = GH_ACCEPT_LIMIT_SETTLING;
    ev_timer_set(&l->limit_quiet, ACCEPT_EPISODE_QUIET, 0.);
    ev_timer_start(w->loop, &l->limit_quiet);
    resume_accepting(w, l);
}

static void on_limit_quiet(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct gh_listener *l = t->data;
    (void)revents;
    if (l->limit != GH_ACCEPT_LIMIT_SETTLING)
        return;
    l->limit = GH_ACCEPT_LIMIT_CLEAR;
    gh_log(GH_LOG_INFO, "accept_resumed",
           " listener=%s reason=max_connections limit=%u pauses=%llu duration=%.3f open=%u",
           l->cfg->name, l->cfg->max_connections, (unsigned long long)l->limit_pauses,
           ev_now(loop) - l->limit_since - ACCEPT_EPISODE_QUIET, l->active);
}

static void on_accept_backoff(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct gh_worker *w = t->data;
    (void)loop;
    (void)revents;
    for (size_t i = 0; i < w->n_listeners; i++)
        resume_accepting(w, &w->listeners[i]);
}

/* Accepts up to ACCEPTS_PER_EVENT connections. Returns false when the
 * process is out of file descriptors (accepting is then paused for a short
 * while instead of spinning on a listen socket that stays readable). */
static bool accept_batch(struct gh_worker *w, struct gh_listener *l)
{
    for (int i = 0; i < ACCEPTS_PER_EVENT && l->fd >= 0; i++) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd;

        if (l->active >= l->cfg->max_connections) {
            pause_at_limit(w, l);
            return true;
        }
        fd = accept4(l->fd, (struct sockaddr *)&peer, &peer_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
            case EAGAIN:
#if EAGAIN != EWOULDBLOCK
            case EWOULDBLOCK:
#endif
                return true;
            case EINTR:
            case ECONNABORTED:
            case EPROTO:
                continue;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                if (!w->out_of_fds) /* once per episode, not every back-off */
                    gh_log(GH_LOG_WARN, "accept_paused", " listener=%s reason=%s open=%llu",
                           l->cfg->name, strerror(errno), (unsigned long long)w->open_conns);
                w->out_of_fds = true;
                return false;
            default:
                gh_log(GH_LOG_ERROR, "accept_failed", " listener=%s error=%s", l->cfg->name,
                       strerror(errno));
                return true;
            }
        }
        if (w->out_of_fds) {
            w->out_of_fds = false;
            gh_log(GH_LOG_INFO, "accept_resumed", " listener=%s open=%llu", l->cfg->name,
                   (unsigned long long)w->open_conns);
        }
        gh_conn_accept(w, l, fd, &peer, peer_len);
    }
    return true;
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
    struct gh_listener *l = io->data;
    struct gh_worker *w = l->worker;
    (void)revents;
    if (!accept_batch(w, l)) {
        for (size_t i = 0; i < w->n_listeners; i++)
            ev_io_stop(loop, &w->listeners[i].accept_watcher);
        ev_timer_set(&w->accept_backoff, ACCEPT_BACKOFF, 0.);
        ev_timer_start(loop, &w->accept_backoff);
    }
}

void gh_worker_mark_pending(struct gh_worker *w, struct gh_conn *c)
{
    if (c->is_pending)
        return;
    c->is_pending = true;
    c->pending_next = w->pending;
    w->pending = c;
}

static void run_pending(struct gh_worker *w)
{
    for (int pass = 0; pass < FLUSH_PASSES && w->pending; pass++) {
        struct gh_conn *list = w->pending;
        w->pending = NULL;
        while (list) {
            struct gh_conn *c = list;
            list = c->pending_next;
            c->is_pending = false;
            gh_conn_flush(c);
        }
    }
}

/* Once per loop iteration, before the loop sleeps: all the I/O that this
 * iteration's events made possible, done once per connection. */
static void on_prepare(struct ev_loop *loop, ev_prepare *p, int revents)
{
    struct gh_worker *w = p->data;
    (void)revents;
    run_pending(w);
    gh_audit_before_sleep();
    if (w->pending && !ev_is_active(&w->keep_flushing))
        ev_idle_start(loop, &w->keep_flushing);
    else if (!w->pending && ev_is_active(&w->keep_flushing))
        ev_idle_stop(loop, &w->keep_flushing);
}

static void on_idle(struct ev_loop *loop, ev_idle *i, int revents)
{
    (void)loop;
    (void)i;
    (void)revents; /* its only job is to keep the loop from blocking */
}

/* glibc keeps memory it was given back for reuse and returns only the top
 * of the heap by itself: the pages a burst's wolfSSL sessions, connections
 * and buffers used in the middle of the heap stay resident after free().
 * malloc_trim(0) hands those pages back (madvise); the free chunks stay
 * in malloc's bins for reuse. */
void gh_heap_trim(void)
{
#ifdef __GLIBC__
    int released = malloc_trim(0);
    gh_log(GH_LOG_DEBUG, "heap_trimmed", " released=%d", released);
#endif
}

/* Memory a burst took goes back once the burst is over, and never on the
 * data path (this is a timer):
 *  - buffer pools: free blocks that no connection took during a whole
 *    interval are freed (gh_buf_pool_shrink), down to POOL_KEEP_BLOCKS;
 *    blocks in steady use stay pooled, so a steady load allocates nothing.
 *  - the heap: trimmed when the pools gave blocks back, or when the worker
 *    has become quieter (connections closed, and half or fewer of the peak
 *    since the last trim are still open, which includes none). A steady
 *    load is not trimmed every second: malloc_trim walks every free chunk
 *    and each page it hands back faults in again on reuse.
 * The timer runs only while there may be something to give back: a close
 * starts it; it stops when every pool is at its floor and nothing closed
 * during the interval. */
static void on_memory_trim(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct gh_worker *w = t->data;
    uint32_t freed = 0;
    bool pools_above_floor = false;
    bool quieter = w->closed_since_trim > 0 && w->open_conns <= w->peak_open / 2;
    /* not closed_since_trim: with connections staying open above half the
     * peak no trim comes to reset it, and the timer would wake an idle
     * worker every second for as long as they stay */
    bool closed_in_interval = w->closed_in_interval > 0;
    (void)revents;

    w->closed_in_interval = 0;

    for (size_t i = 0; i < w->n_listeners; i++) {
        struct gh_listener *l = &w->listeners[i];
        uint32_t n = gh_buf_pool_shrink(&l->pool, POOL_KEEP_BLOCKS);
        if (n > 0)
            gh_log(GH_LOG_INFO, "buffers_released", " listener=%s freed=%u kept=%u in_use=%llu",
                   l->cfg->name, n, l->pool.n_free, (unsigned long long)l->pool.in_use);
        freed += n;
        if (l->pool.n_free > POOL_KEEP_BLOCKS)
            pools_above_floor = true;
    }
    if (freed > 0 || quieter) {
        gh_heap_trim();
        w->closed_since_trim = 0;
        w->peak_open = w->open_conns;
    }
    if (!pools_above_floor && !closed_in_interval)
        ev_timer_stop(loop, t);
}

/* ---- the connections: every change to the lists and counters -------- */

void gh_worker_attach(struct gh_worker *w, struct gh_listener *l, struct gh_conn *c)
{
    c->id = ++w->next_conn_id;
    c->gen = w->gen;
    c->gen->users++;
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    l->active++;
    w->open_conns++;
    if (w->open_conns > w->peak_open)
        w->peak_open = w->open_conns;
}

static void gen_release(struct gh_worker *w, struct gh_config_gen *gen);

void gh_worker_detach(struct gh_worker *w, struct gh_conn *c)
{
    gen_release(w, c->gen);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

void gh_worker_note_handshake(struct gh_worker *w, bool resumed)
{
    w->handshakes++;
    if (resumed)
        w->resumed++;
}

void gh_worker_conn_closed(struct gh_worker *w, struct gh_listener *l)
{
    l->active--;
    w->open_conns--;
    w->closed_since_trim++;
    w->closed_in_interval++;
    if (!ev_is_active(&w->memory_trim)) {
        ev_timer_set(&w->memory_trim, MEMORY_TRIM_INTERVAL, MEMORY_TRIM_INTERVAL);
        ev_timer_start(w->loop, &w->memory_trim);
    }
    leave_limit(w, l);
    if (w->draining && w->open_conns == 0)
        ev_break(w->loop, EVBREAK_ALL);
}

static void on_grace_expired(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct gh_worker *w = t->data;
    (void)loop;
    (void)revents;
    gh_log(GH_LOG_WARN, "shutdown_grace_expired", " open=%llu", (unsigned long long)w->open_conns);
    w->grace_expired = true;
    w->open_at_grace = w->open_conns;
    for (struct gh_conn *c = w->conns; c; c = c->next)
        gh_conn_abort(c, GH_CLOSE_SHUTDOWN);
}

static void begin_drain(struct gh_worker *w, int signum)
{
    if (w->draining)
        return;
    gh_notify_stopping(); /* a no-op in a supervisor's worker */
    gh_instance_unlock(); /* likewise; lets an upgrade's new instance lock (instance.h) */
    gh_log(GH_LOG_INFO, "shutdown_begin", " signal=%s open=%llu grace=%.3f",
           signum == SIGINT ? "SIGINT" : "SIGTERM", (unsigned long long)w->open_conns,
           w->cfg->global.shutdown_grace);
    /* Connections the kernel already completed would be reset when the
     * socket closes: take them in and serve them during the drain. */
    for (size_t i = 0; i < w->n_listeners; i++) {
        struct gh_listener *l = &w->listeners[i];
        if (l->fd >= 0 && l->limit != GH_ACCEPT_LIMIT_PAUSED)
            (void)accept_batch(w, l); /* out of fds: the queued ones are reset */
        close_listener(w, l);
    }
    w->draining = true;
    ev_timer_stop(w->loop, &w->accept_backoff);
    if (w->open_conns == 0) {
        ev_break(w->loop, EVBREAK_ALL);
        return;
    }
    ev_timer_set(&w->grace_timer, w->cfg->global.shutdown_grace, 0.);
    ev_timer_start(w->loop, &w->grace_timer);
}

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    (void)loop;
    (void)revents;
    begin_drain(s->data, s->signum);
}

static void on_reopen_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    (void)loop;
    (void)s;
    (void)revents;
    gh_audit_reopen();
}

#define OCSP_CHECK_INTERVAL 10.0 /* seconds between looks at the OCSP response files */

static bool any_staples(const struct gh_worker *w)
{
    for (size_t i = 0; i < w->n_listeners; i++)
        if (gh_tls_context_staples(w->listeners[i].tls))
            return true;
    return false;
}

/* An external job refreshes the OCSP responses: new connections get the
 * new one by the same path as SIGHUP. */
static void on_ocsp_watch(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct gh_worker *w = t->data;
    (void)loop;
    (void)revents;
    for (size_t i = 0; i < w->n_listeners; i++) {
        if (gh_tls_context_stale(w->listeners[i].tls)) {
            gh_log(GH_LOG_INFO, "ocsp_changed", " listener=%s", w->listeners[i].cfg->name);
            (void)gh_worker_reload(w); /* its result is logged and audited there */
            return;
        }
    }
}

static void on_reload_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
    struct gh_worker *w = s->data;
    (void)loop;
    (void)revents;
    if (w->draining) {
        (void)gh_worker_reload(w); /* logs reload_ignored: nothing to tell systemd */
        return;
    }
    /* The notify calls are no-ops in a supervisor's worker (main.c speaks
     * for the service there). */
    gh_notify_reloading();
    gh_notify_reloaded(gh_worker_reload(w));
}

static void gen_free(struct gh_config_gen *gen)
{
    if (gen->owned) {
        for (size_t i = 0; i < GH_MAX_LISTENERS; i++)
            gh_tls_context_free(gen->tls[i]);
        free((void *)gen->cfg);
    }
    free(gen);
}

/* A connection accepted under gen is gone: the generation may be freed. */
static void gen_release(struct gh_worker *w, struct gh_config_gen *gen)
{
    struct gh_config_gen **pp;
    gen->users--;
    if (gen == w->gen || gen->users > 0)
        return;
    for (pp = &w->retired; *pp; pp = &(*pp)->next) {
        if (*pp == gen) {
            *pp = gen->next;
            gen_free(gen);
            return;
        }
    }
}

size_t gh_worker_reload(struct gh_worker *w)
{
    size_t n_errors = 1; /* until the new generation is in */
    struct gh_config_errors *errs = calloc(1, sizeof *errs);
    struct gh_config_gen *gen = calloc(1, sizeof *gen), *old = w->gen;
    struct gh_config *next = NULL;

    if (!errs || !gen) {
        gh_log(GH_LOG_ERROR, "reload_failed", " error=out_of_memory");
        goto out;
    }
    if (w->draining) {
        gh_log(GH_LOG_WARN, "reload_ignored", " reason=shutting_down");
        goto out;
    }
    if (gh_reload_prepare(w->cfg, &next, gen->tls, errs) < 0) {
        gh_reload_log_errors(errs);
        gh_event_reload_refused(w->cfg->path, errs->count);
        n_errors = errs->count;
        goto out;
    }
    gen->cfg = next;
    gen->owned = true;
    for (size_t i = 0; i < w->n_listeners; i++) {
        struct gh_listener *l = &w->listeners[i];
        l->cfg = &next->listeners[i];
        l->tls = gen->tls[i];
        leave_limit(w, l);
    }
    w->gen = gen;
    w->cfg = next;
    gen = NULL;
    if (old->users == 0) {
        gen_free(old);
    } else {
        old->next = w->retired;
        w->retired = old;
    }
    if (any_staples(w) && !ev_is_active(&w->ocsp_watch))
        ev_timer_start(w->loop, &w->ocsp_watch);
    else if (!any_staples(w))
        ev_timer_stop(w->loop, &w->ocsp_watch);
    gh_event_reloaded(w->cfg->path, w->n_listeners);
    n_errors = 0;
out:
    if (gen)
        gh_reload_discard(NULL, gen->tls);
    free(gen);
    free(errs);
    return n_errors;
    gh_heap_trim(); /* a configuration was built, and one of the two freed */
}

static int open_listen_socket(const struct gh_listener_config *cfg)
{
    int one = 1;
    int fd = socket(cfg->listen.ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    if (cfg->listen.ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0)
        goto fail;
    if (bind(fd, (const struct sockaddr *)&cfg->listen.ss, cfg->listen.len) < 0)
        goto fail;
    if (listen(fd, cfg->backlog) < 0)
        goto fail;
    return fd;
fail:
    gh_log(GH_LOG_ERROR, "listen_failed", " listener=%s addr=%s error=%s", cfg->name,
           cfg->listen.text, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

int gh_worker_init(struct gh_worker *w, const struct gh_config *cfg, struct gh_tls_context **tls)
{
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    w->gen = calloc(1, sizeof *w->gen);
    if (!w->gen) {
        gh_log(GH_LOG_ERROR, "start_failed", " reason=out_of_memory");
        return -1;
    }
    w->gen->cfg = cfg; /* the caller's: not owned, never freed here */
    memcpy(w->gen->tls, tls, sizeof w->gen->tls);
    w->loop = ev_default_loop(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!w->loop)
        w->loop = ev_default_loop(0);
    if (!w->loop) {
        gh_log(GH_LOG_ERROR, "loop_failed", " error=%s", "cannot create the event loop");
        return -1;
    }
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        struct gh_listener *l = &w->listeners[i];
        l->cfg = &cfg->listeners[i];
        l->worker = w;
        l->tls = tls[i];
        gh_buf_pool_init(&l->pool, l->cfg->buffer_size, POOL_FREE_BLOCKS);
        l->fd = open_listen_socket(l->cfg);
        w->n_listeners++;
        if (l->fd < 0)
            goto fail;
        ev_timer_init(&l->limit_quiet, on_limit_quiet, ACCEPT_EPISODE_QUIET, 0.);
        l->limit_quiet.data = l;
        ev_io_init(&l->accept_watcher, on_accept, l->fd, EV_READ);
        l->accept_watcher.data = l;
        ev_io_start(w->loop, &l->accept_watcher);
    }
    ev_prepare_init(&w->flush_watcher, on_prepare);
    w->flush_watcher.data = w;
    ev_prepare_start(w->loop, &w->flush_watcher);
    ev_idle_init(&w->keep_flushing, on_idle);
    ev_timer_init(&w->accept_backoff, on_accept_backoff, ACCEPT_BACKOFF, 0.);
    w->accept_backoff.data = w;
    ev_timer_init(&w->memory_trim, on_memory_trim, MEMORY_TRIM_INTERVAL, MEMORY_TRIM_INTERVAL);
    w->memory_trim.data = w;
    ev_timer_init(&w->grace_timer, on_grace_expired, 0., 0.);
    w->grace_timer.data = w;
    ev_signal_init(&w->sig_term, on_signal, SIGTERM);
    w->sig_term.data = w;
    ev_signal_start(w->loop, &w->sig_term);
    ev_signal_init(&w->sig_int, on_signal, SIGINT);
    w->sig_int.data = w;
    ev_signal_start(w->loop, &w->sig_int);
    ev_signal_init(&w->sig_usr1, on_reopen_signal, SIGUSR1);
    ev_signal_start(w->loop, &w->sig_usr1);
    ev_signal_init(&w->sig_hup, on_reload_signal, SIGHUP);
    w->sig_hup.data = w;
    ev_signal_start(w->loop, &w->sig_hup);
    ev_timer_init(&w->ocsp_watch, on_ocsp_watch, OCSP_CHECK_INTERVAL, OCSP_CHECK_INTERVAL);
    w->ocsp_watch.data = w;
    if (any_staples(w))
        ev_timer_start(w->loop, &w->ocsp_watch);
    return 0;
fail:
    free(w->gen);
    w->gen = NULL;
    for (size_t i = 0; i < w->n_listeners; i++) {
        close_listener(w, &w->listeners[i]);
        gh_buf_pool_destroy(&w->listeners[i].pool);
    }
    w->n_listeners = 0;
    return -1;
}

int gh_worker_run(struct gh_worker *w)
{
    gh_log(GH_LOG_INFO, "ready", " listeners=%zu", w->n_listeners);
    for (size_t i = 0; i < w->n_listeners; i++)
        gh_log(GH_LOG_INFO, "listening", " listener=%s addr=%s backend=%s",
               w->listeners[i].cfg->name, w->listeners[i].cfg->listen.text,
               w->listeners[i].cfg->backend.text);
    /* Both no-ops in a supervisor's worker: there main.c tells systemd. */
    gh_notify_ready(w->n_listeners);
    gh_notify_watchdog_start(w->loop);
    ev_run(w->loop, 0);
    run_pending(w); /* frees connections closed in the last iteration */
    for (size_t i = 0; i < w->n_listeners; i++) {
        close_listener(w, &w->listeners[i]);
        gh_buf_pool_destroy(&w->listeners[i].pool);
    }
    ev_prepare_stop(w->loop, &w->flush_watcher);
    ev_idle_stop(w->loop, &w->keep_flushing);
    ev_timer_stop(w->loop, &w->grace_timer);
    ev_timer_stop(w->loop, &w->accept_backoff);
    ev_timer_stop(w->loop, &w->memory_trim);
    ev_signal_stop(w->loop, &w->sig_term);
    ev_signal_stop(w->loop, &w->sig_int);
    ev_timer_stop(w->loop, &w->ocsp_watch);
    /* After the drain, so every connection's close entry is in. The
     * SIGUSR1/SIGHUP watchers stay until it is done: stopping the last
     * watcher of a signal restores its default action, which kills. */
    gh_audit_close(w->grace_expired ? "grace_expired" : "signal", w->open_at_grace);
    signal(SIGUSR1, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    ev_signal_stop(w->loop, &w->sig_usr1);
    ev_signal_stop(w->loop, &w->sig_hup);
    gh_notify_watchdog_stop(w->loop);
    ev_loop_destroy(w->loop);
    while (w->retired) {
        struct gh_config_gen *g = w->retired;
        w->retired = g->next;
        gen_free(g);
    }
    gen_free(w->gen);
    w->gen = NULL;
    struct gh_ticket_stats ts;
    gh_tickets_stats(&ts);
    gh_log(GH_LOG_INFO, "shutdown_done",
           " open=%llu handshakes=%llu resumed=%llu tickets_issued=%llu tickets_accepted=%llu "
           "tickets_renewed=%llu tickets_rejected=%llu",
           (unsigned long long)w->open_conns, (unsigned long long)w->handshakes,
           (unsigned long long)w->resumed, (unsigned long long)ts.issued,
           (unsigned long long)ts.accepted, (unsigned long long)ts.renewed,
           (unsigned long long)ts.rejected);
    return 0;
}
