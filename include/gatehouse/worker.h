/* worker.h - one worker process: its event loop, its listeners, its open
 * connections and its shutdown.
 *
 * Owns: the libev loop, the listening sockets (SO_REUSEPORT, one set per
 * worker), accept and its back-off when file descriptors run out, signals,
 * the drain on SIGTERM, and the once-per-iteration flush (an ev_prepare
 * watcher) that runs every connection event handlers marked as pending,
 * giving memory back after a burst (a timer that shrinks the buffer
 * pools and trims the heap once the connections that needed it are gone),
 * and the connections' lists and counters: only worker.c changes them
 * (gh_worker_attach, gh_worker_conn_closed, gh_worker_detach). */
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

/* One configuration and its TLS contexts. A reload (SIGHUP) makes a new
 * generation for new connections; the old one stays until the last
 * connection accepted under it closes. */
struct gh_config_gen {
    const struct gh_config *cfg;
    struct gh_tls_context *tls[GH_MAX_LISTENERS];
    uint64_t users;              /* open connections accepted under it */
    bool owned;                  /* made by a reload here: freed here */
    struct gh_config_gen *next;  /* retired generations */
};

/* max_connections on one listener. An episode starts when the limit is
 * first hit (one WARN accept_paused) and ends when the listener has stayed
 * below it for ACCEPT_EPISODE_QUIET (one INFO accept_resumed with counts):
 * at the limit each close lets one connection in and pauses again, which
 * must not cost a log line each. */
enum gh_accept_limit {
    GH_ACCEPT_LIMIT_CLEAR,       /* no episode */
    GH_ACCEPT_LIMIT_PAUSED,      /* at the limit: accepting stopped */
    GH_ACCEPT_LIMIT_SETTLING,    /* below it again; the episode ends when quiet */
};

struct gh_listener {
    const struct gh_listener_config *cfg;
    struct gh_worker *worker;
    struct gh_tls_context *tls;
    struct gh_buf_pool pool;     /* this listener's buffer_size blocks */
    int fd;
    ev_io accept_watcher;
    ev_timer limit_quiet;        /* ends a max_connections episode */
    double limit_since;          /* ev_now when the episode began */
    uint64_t limit_pauses;       /* times accepting paused in the episode */
    uint32_t active;             /* open client connections */
    enum gh_accept_limit limit;  /* max_connections episode */
};

struct gh_worker {
    struct ev_loop *loop;
    const struct gh_config *cfg; /* the current generation's */
    struct gh_config_gen *gen;   /* current */
    struct gh_config_gen *retired; /* older ones with open connections */
    struct gh_listener listeners[GH_MAX_LISTENERS];
    size_t n_listeners;

    struct gh_conn *conns;       /* every open connection (doubly linked) */
    struct gh_conn *pending;     /* connections with work for the next flush */
    uint64_t next_conn_id;
    uint64_t open_conns;
    uint64_t peak_open;          /* most open at once since the last heap trim */
    uint64_t closed_since_trim;  /* connections closed since the last heap trim */
    uint64_t closed_in_interval; /* connections closed since the memory timer last ran */
    uint64_t handshakes;         /* completed TLS handshakes */
    uint64_t resumed;            /* of which resumed sessions */

    ev_prepare flush_watcher;
    ev_idle keep_flushing;       /* stops the loop from blocking while work is queued */
    ev_timer accept_backoff;     /* running while accept is paused for EMFILE */
    ev_timer memory_trim;        /* running while there may be memory to give back */
    ev_timer grace_timer;
    ev_signal sig_term, sig_int;
    ev_signal sig_usr1;          /* reopen the audit log */
    ev_signal sig_hup;           /* reload the configuration */
    ev_timer ocsp_watch;         /* reload when a stapled OCSP response file changes */
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

/* Called by the connection code, at the three moments of a connection's
 * life the worker counts: accepted (gives it its id and configuration
 * generation, links it into conns, counts it open on w and l), closed
 * (counts it gone; the drain may end), freed (unlinks it, releases its
 * generation). */
void gh_worker_attach(struct gh_worker *w, struct gh_listener *l, struct gh_conn *c);
void gh_worker_conn_closed(struct gh_worker *w, struct gh_listener *l);
void gh_worker_detach(struct gh_worker *w, struct gh_conn *c);
/* A TLS handshake completed (for the exit summary). */
void gh_worker_note_handshake(struct gh_worker *w, bool resumed);

/* SIGHUP: loads the configuration anew; on success new connections use it.
 * Returns 0 when applied, else the number of errors that refused it (1
 * when out of memory or ignored during a drain). */
size_t gh_worker_reload(struct gh_worker *w);
void gh_worker_mark_pending(struct gh_worker *w, struct gh_conn *c);

/* Hands heap pages freed so far back to the system (glibc's malloc_trim;
 * nothing elsewhere). For the moments after much was freed: a burst of
 * connections over (the worker's memory timer), a configuration replaced
 * (the supervisor, whose heap every replacement worker starts from). */
void gh_heap_trim(void);

#endif
