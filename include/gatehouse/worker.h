/* worker.h - one worker process: its event loop, its listeners, its open
 * connections and its shutdown.
 *
 * Owns: the libev loop, the listening sockets (SO_REUSEPORT, one set per
 * worker), accept and its back-off when file descriptors run out, signals,
 * the drain on SIGTERM, and the once-per-iteration flush (an ev_prepare
 * watcher) that runs every connection event handlers marked as pending. */
#ifndef GATEHOUSE_WORKER_H
#define GATEHOUSE_WORKER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "gatehouse/buffer.h"
#include "gatehouse/config.h"

struct gh_conn;
struct gh_tls_context;
struct gh_worker;

struct gh_listener {
    const struct gh_listener_config *cfg;
    struct gh_worker *worker;
    struct gh_tls_context *tls;
    struct gh_buf_pool pool;     /* this listener's buffer_size blocks */
    int fd;
    ev_io accept_watcher;
    uint32_t active;             /* open client connections */
    bool at_limit;               /* accept paused by max_connections */
};

struct gh_worker {
    struct ev_loop *loop;
    const struct gh_config *cfg;
    struct gh_listener listeners[GH_MAX_LISTENERS];
    size_t n_listeners;

    struct gh_conn *conns;       /* every open connection (doubly linked) */
    struct gh_conn *pending;     /* connections with work for the next flush */
    uint64_t next_conn_id;
    uint64_t open_conns;

    ev_prepare flush_watcher;
    ev_timer accept_backoff;     /* running while accept is paused for EMFILE */
    ev_timer grace_timer;
    ev_signal sig_term, sig_int;
    ev_signal sig_usr1;          /* reopen the audit log */
    bool draining;
    bool grace_expired;          /* the drain ended by shutdown_grace */
    uint64_t open_at_grace;      /* connections it cut */
    bool out_of_fds;             /* accept failed for lack of descriptors */
};

/* Opens the listeners and builds their TLS contexts; on failure prints the
 * errors and returns -1. */
int gh_worker_init(struct gh_worker *w, const struct gh_config *cfg, struct gh_tls_context **tls);

/* Runs the loop until drained. Returns the process exit status. */
int gh_worker_run(struct gh_worker *w);

/* Called by the connection code. */
void gh_worker_conn_closed(struct gh_worker *w, struct gh_listener *l);
void gh_worker_mark_pending(struct gh_worker *w, struct gh_conn *c);

#endif
