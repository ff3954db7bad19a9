/*
 * handshake_client - epoll-based TLS load client on OpenSSL that measures
 * FULL handshakes per second (or resumed ones with -r), and can hold N idle
 * TLS connections open for memory measurements (-i).
 *
 * Each of the -c slots loops: TCP connect, TLS handshake, optionally
 * "GET / HTTP/1.1" with Connection: close and read the response until the
 * server closes (-g), close, repeat.
 *
 * With -r each slot offers the session of its previous handshake: a TLS 1.2
 * session ID or ticket (the session the last handshake ended with, which
 * carries a ticket the server re-issued on resumption), or a TLS 1.3 ticket
 * (PSK with (EC)DHE; the slot waits for the ticket without -g).
 *
 * Full handshakes are guaranteed: without -r the client context has its
 * session cache off (SSL_SESS_CACHE_OFF), asks for no tickets
 * (SSL_OP_NO_TICKET) and never calls SSL_set_session; the count of resumed
 * handshakes (SSL_session_reused) is printed and must be 0.
 *
 * Build: meson -Dbench=true, or cc -O2 -o handshake_client handshake_client.c
 * bench_util.c -lssl -lcrypto
 * Output (stdout, one line, key=value):
 *   handshakes= elapsed= hs_per_s= resumed= requests_ok= errors= err_connect=
 *   err_handshake= err_io= err_http= err_timeout= hs_p50_ms= hs_p99_ms=
 * -n COUNT counts completed requests with -g, handshakes without.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "bench_util.h"

enum { ST_FREE, ST_CONNECTING, ST_HANDSHAKE, ST_WRITE, ST_READ, ST_HOLD, ST_TICKET };

struct conn {
	int fd;
	int state;
	SSL *ssl;
	SSL_SESSION *sess; /* only with -r */
	uint64_t t_start;  /* ns, connect() call */
	uint64_t deadline; /* ns */
	uint64_t retry_at; /* ns, after an error */
	size_t wpos;
	/* response parsing */
	char hdr[2048];
	size_t hdr_len;
	int hdr_done;
	long content_length; /* -1 unknown */
	long body;
	unsigned events; /* currently registered epoll events */
	int got_ticket;  /* -r: a session arrived on this connection */
};

static struct sockaddr_in g_addr;
static SSL_CTX *g_ctx;
static int g_ep;
static struct conn *g_conns;
static int g_nconns = 50;
static int g_get;
static int g_resume;
static int g_tls = 0; /* 0 any, 2 = 1.2, 3 = 1.3 */
static double g_duration = 10;
static long g_count; /* stop after this many handshakes; 0 = no limit */
static long g_idle;  /* idle mode: hold this many connections */
static double g_timeout = 10;
static const char *g_sni = "localhost";
static const char *g_path = "/";
static char g_req[512];
static size_t g_req_len;
static volatile sig_atomic_t g_stop;
static int g_ex_idx;

static long n_hs, n_resumed, n_req_ok, n_held, n_dropped;
static long e_connect, e_handshake, e_io, e_http, e_timeout;

/* handshake latency histogram: 10 us buckets up to 2 s */
#define HBUCKETS 200000
static uint32_t *g_hist;
static long g_hist_over;

static void usage(const char *argv0)
{
	fprintf(stderr,
	        "usage: %s [-h HOST] -p PORT [-c CONNS] [-d SECONDS] [-n COUNT]\n"
	        "          [-g] [-u PATH] [-3|-2] [-r] [-s SNI] [-t TIMEOUT] [-i IDLE_N]\n"
	        "  -c N   concurrent connections (default 50)\n"
	        "  -d S   duration in seconds (default 10); in -i mode: how long to hold\n"
	        "  -n N   stop after N handshakes\n"
	        "  -g     send GET with Connection: close and read the response to EOF\n"
	        "  -u P   request path for -g (default /)\n"
	        "  -3/-2  TLS 1.3 only / TLS 1.2 only (default: library's choice)\n"
	        "  -r     resumption: keep one session per slot and reuse it\n"
	        "  -t S   per-connection timeout in seconds (default 10)\n"
	        "  -i N   idle mode: open N TLS connections (-c at a time in handshake),\n"
	        "         print idle_ready=N, hold them until -d elapses or SIGTERM/SIGINT\n",
	        argv0);
	exit(2);
}

static void ep_set(struct conn *c, unsigned ev)
{
	bench_ep_set(g_ep, c->fd, (uint32_t)(c - g_conns), &c->events, ev);
}

static void conn_close(struct conn *c, int drain)
{
	bench_tls_close(&c->ssl, &c->fd, drain);
	c->events = 0;
	c->state = ST_FREE;
}

static void conn_fail(struct conn *c, long *counter)
{
	(*counter)++;
	conn_close(c, 0);
	c->retry_at = bench_now_ns() + 20 * 1000000ull; /* back off 20 ms */
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct conn *c = SSL_get_ex_data(ssl, g_ex_idx);
	if (!c || !g_resume)
		return 0;
	if (c->sess)
		SSL_SESSION_free(c->sess);
	c->sess = sess; /* we keep the reference */
	c->got_ticket = 1;
	return 1;
}

static void conn_start(struct conn *c)
{
	uint64_t t = bench_now_ns();
	c->fd = bench_tcp_connect(&g_addr);
	if (c->fd == -1) {
		e_connect++;
		c->retry_at = t + 100 * 1000000ull;
		return;
	}
	c->t_start = t;
	c->deadline = t + (uint64_t)(g_timeout * 1e9);
	c->wpos = 0;
	c->hdr_len = 0;
	c->hdr_done = 0;
	c->content_length = -1;
	c->body = 0;
	c->events = 0;
	c->got_ticket = 0;
	if (c->fd < 0) { /* connect() failed at once */
		c->fd = -1;
		conn_fail(c, &e_connect);
		return;
	}
	c->state = ST_CONNECTING;
	ep_set(c, EPOLLOUT);
}

static void step(struct conn *c);

static void handle_ssl_want(struct conn *c, int r, long *err_counter)
{
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ)
		ep_set(c, EPOLLIN);
	else if (e == SSL_ERROR_WANT_WRITE)
		ep_set(c, EPOLLOUT);
	else {
		ERR_clear_error();
		conn_fail(c, err_counter);
	}
}

static void record_handshake(struct conn *c)
{
	uint64_t us = (bench_now_ns() - c->t_start) / 1000;
	uint64_t b = us / 10;
	if (b < HBUCKETS)
		g_hist[b]++;
	else
		g_hist_over++;
	n_hs++;
	if (SSL_session_reused(c->ssl))
		n_resumed++;
	/* TLS 1.2 with -r: keep the session the handshake ended with. A server
	 * may send a new ticket on a resumed handshake (wolfSSL does); OpenSSL
	 * then marks the offered session not resumable and switches to a copy
	 * with the new ticket, but calls no new-session callback for a resumed
	 * handshake, so the slot would offer a dead session next time and every
	 * other handshake would be full. TLS 1.3 tickets arrive after the
	 * handshake and go through the callback. */
	if (g_resume && SSL_version(c->ssl) <= TLS1_2_VERSION) {
		SSL_SESSION *s = SSL_get1_session(c->ssl);
		if (s) {
			if (c->sess)
				SSL_SESSION_free(c->sess);
			c->sess = s;
		}
	}
}

static void finish_cycle(struct conn *c)
{
	conn_close(c, 1);
	c->retry_at = 0;
}

/* parse response bytes; returns 0 ok, -1 bad response */
static int consume(struct conn *c, const char *buf, int n)
{
	if (c->hdr_done) {
		c->body += n;
		return 0;
	}
	size_t take = sizeof c->hdr - 1 - c->hdr_len;
	if ((size_t)n < take)
		take = (size_t)n;
	memcpy(c->hdr + c->hdr_len, buf, take);
	c->hdr_len += take;
	c->hdr[c->hdr_len] = 0;
	char *end = strstr(c->hdr, "\r\n\r\n");
	if (!end) {
		if (c->hdr_len >= sizeof c->hdr - 1)
			return -1;
		return 0;
	}
	if (strncmp(c->hdr, "HTTP/1.1 200", 12) != 0 && strncmp(c->hdr, "HTTP/1.0 200", 12) != 0)
		return -1;
	c->hdr_done = 1;
	size_t hlen = (size_t)(end - c->hdr) + 4;
	for (char *p = c->hdr; p < end; p++) {
		if ((p == c->hdr || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
			c->content_length = strtol(p + 15, NULL, 10);
			break;
		}
	}
	/* body bytes: those of this chunk past the header end */
	long already = (long)c->hdr_len - (long)take; /* header bytes before this chunk */
	c->body = (long)n - ((long)hlen - already);
	return 0;
}

static void step(struct conn *c)
{
	int r;
	switch (c->state) {
	case ST_CONNECTING: {
		if (bench_connect_error(c->fd)) {
			conn_fail(c, &e_connect);
			return;
		}
		c->ssl = bench_tls_new(g_ctx, c->fd, g_sni);
		SSL_set_ex_data(c->ssl, g_ex_idx, c);
		if (g_resume && c->sess)
			SSL_set_session(c->ssl, c->sess);
		c->state = ST_HANDSHAKE;
	}
	/* fall through */
	case ST_HANDSHAKE:
		r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			handle_ssl_want(c, r, &e_handshake);
			return;
		}
		record_handshake(c);
		if (g_idle) {
			c->state = ST_HOLD;
			n_held++;
			ep_set(c, EPOLLIN);
			return;
		}
		if (!g_get) {
			if (g_resume && !c->got_ticket && SSL_version(c->ssl) == TLS1_3_VERSION) {
				/* TLS 1.3 tickets come after the handshake: wait for one */
				c->state = ST_TICKET;
				ep_set(c, EPOLLIN);
				step(c);
				return;
			}
			finish_cycle(c);
			return;
		}
		c->state = ST_WRITE;
		/* fall through */
	case ST_WRITE:
		r = SSL_write(c->ssl, g_req, (int)g_req_len);
		if (r <= 0) {
			handle_ssl_want(c, r, &e_io);
			return;
		}
		c->state = ST_READ;
		ep_set(c, EPOLLIN);
		/* fall through */
	case ST_READ:
		for (;;) {
			char buf[16384];
			r = SSL_read(c->ssl, buf, sizeof buf);
			if (r > 0) {
				if (consume(c, buf, r) < 0) {
					conn_fail(c, &e_http);
					return;
				}
				continue;
			}
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ) {
				ep_set(c, EPOLLIN);
				return;
			}
			if (e == SSL_ERROR_WANT_WRITE) {
				ep_set(c, EPOLLOUT);
				return;
			}
			if (e == SSL_ERROR_ZERO_RETURN) {
				/* close_notify or (with SSL_OP_IGNORE_UNEXPECTED_EOF) EOF */
				if (!c->hdr_done || (c->content_length >= 0 && c->body < c->content_length)) {
					conn_fail(c, &e_http);
					return;
				}
				n_req_ok++;
				finish_cycle(c);
				return;
			}
			ERR_clear_error();
			conn_fail(c, &e_io);
			return;
		}
	case ST_HOLD: {
		char buf[4096];
		for (;;) {
			r = SSL_read(c->ssl, buf, sizeof buf); /* consumes tickets */
			if (r > 0)
				continue;
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				return;
			if (e == SSL_ERROR_WANT_WRITE) {
				ep_set(c, EPOLLOUT);
				return;
			}
			ERR_clear_error();
			n_held--;
			n_dropped++;
			conn_close(c, 0);
			c->retry_at = UINT64_MAX; /* never reopen */
			return;
		}
	}
	case ST_TICKET: {
		char buf[1024];
		r = SSL_read(c->ssl, buf, sizeof buf);
		if (c->got_ticket) {
			finish_cycle(c);
			return;
		}
		if (r > 0)
			return; /* unexpected data: keep waiting for the ticket */
		handle_ssl_want(c, r, &e_io);
		return;
	}
	default:
		return;
	}
}

static double pct(double p)
{
	return bench_hist_pct(g_hist, HBUCKETS, g_hist_over, p, 0.01, HBUCKETS * 0.01);
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, opt;
	while ((opt = getopt(argc, argv, "h:p:c:d:n:gu:32rs:t:i:")) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': g_nconns = atoi(optarg); break;
		case 'd': g_duration = atof(optarg); break;
		case 'n': g_count = atol(optarg); break;
		case 'g': g_get = 1; break;
		case 'u': g_path = optarg; break;
		case '3': g_tls = 3; break;
		case '2': g_tls = 2; break;
		case 'r': g_resume = 1; break;
		case 's': g_sni = optarg; break;
		case 't': g_timeout = atof(optarg); break;
		case 'i': g_idle = atol(optarg); break;
		default: usage(argv[0]);
		}
	}
	if (port <= 0 || port > 65535 || g_nconns < 1 || g_duration <= 0)
		usage(argv[0]);
	if (bench_parse_addr(host, port, &g_addr) != 0)
		return 2;
	g_req_len = (size_t)snprintf(g_req, sizeof g_req,
	                             "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", g_path);

	/* enough descriptors for the slots / idle connections */
	if (bench_raise_nofile((g_idle > g_nconns ? g_idle : g_nconns) + 16) != 0)
		return 1;
	bench_stop_on_signals(&g_stop);

	int version = g_tls == 3 ? TLS1_3_VERSION : g_tls == 2 ? TLS1_2_VERSION : 0;
	g_ctx = bench_tls_client_ctx(version, version, g_resume);
	if (!g_ctx)
		return 1;
	g_ex_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (g_resume) {
		/* sessions go to the slot through the callback, never to an internal cache */
		SSL_CTX_set_session_cache_mode(g_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(g_ctx, new_session_cb);
	}

	g_hist = calloc(HBUCKETS, sizeof *g_hist);
	long nslots = g_idle ? g_idle : g_nconns;
	g_conns = calloc((size_t)nslots, sizeof *g_conns);
	if (!g_hist || !g_conns)
		return 1;
	for (long i = 0; i < nslots; i++) {
		g_conns[i].fd = -1;
		g_conns[i].state = ST_FREE;
	}
	g_ep = epoll_create1(EPOLL_CLOEXEC);
	if (g_ep < 0) {
		perror("epoll_create1");
		return 1;
	}

	uint64_t t0 = bench_now_ns();
	uint64_t t_end = t0 + (uint64_t)(g_duration * 1e9);
	uint64_t last_scan = 0;
	int ready_printed = 0;
	long next_idle = 0; /* idle mode: next slot to open */
	struct epoll_event evs[256];

	while (!g_stop) {
		uint64_t t = bench_now_ns();
		if (t >= t_end)
			break;
		if (g_count && (g_get ? n_req_ok + e_http + e_io : n_hs) >= g_count)
			break;
		/* (re)start free slots */
		if (!g_idle) {
			for (int i = 0; i < g_nconns; i++) {
				struct conn *c = &g_conns[i];
				if (c->state == ST_FREE && c->retry_at <= t)
					conn_start(c);
			}
		} else {
			long in_progress = 0;
			for (long i = 0; i < next_idle; i++)
				if (g_conns[i].state != ST_FREE && g_conns[i].state != ST_HOLD)
					in_progress++;
			/* retry failed slots, then open new ones, at most -c in progress */
			for (long i = 0; i < next_idle && in_progress < g_nconns; i++) {
				struct conn *c = &g_conns[i];
				if (c->state == ST_FREE && c->retry_at <= t) {
					conn_start(c);
					in_progress++;
				}
			}
			while (next_idle < g_idle && in_progress < g_nconns) {
				conn_start(&g_conns[next_idle++]);
				in_progress++;
			}
			if (!ready_printed && n_held >= g_idle) {
				printf("idle_ready=%ld errors=%ld\n", n_held,
				       e_connect + e_handshake + e_io + e_timeout);
				fflush(stdout);
				ready_printed = 1;
			}
		}
		int n = epoll_wait(g_ep, evs, 256, 10);
		if (n < 0 && errno != EINTR) {
			perror("epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = &g_conns[evs[i].data.u32];
			if (c->fd < 0)
				continue;
			step(c);
		}
		/* timeouts, every 100 ms */
		t = bench_now_ns();
		if (t - last_scan > 100000000ull) {
			last_scan = t;
			for (long i = 0; i < nslots; i++) {
				struct conn *c = &g_conns[i];
				if (c->state != ST_FREE && c->state != ST_HOLD && t > c->deadline)
					conn_fail(c, &e_timeout);
			}
		}
	}
	double elapsed = (double)(bench_now_ns() - t0) / 1e9;
	long errors = e_connect + e_handshake + e_io + e_http + e_timeout;
	if (g_idle) {
		printf("idle_held=%ld dropped=%ld handshakes=%ld resumed=%ld errors=%ld err_connect=%ld "
		       "err_handshake=%ld err_timeout=%ld\n",
		       n_held, n_dropped, n_hs, n_resumed, errors, e_connect, e_handshake, e_timeout);
	} else {
		printf("handshakes=%ld elapsed=%.3f hs_per_s=%.1f resumed=%ld requests_ok=%ld errors=%ld "
		       "err_connect=%ld err_handshake=%ld err_io=%ld err_http=%ld err_timeout=%ld "
		       "hs_p50_ms=%.2f hs_p99_ms=%.2f\n",
		       n_hs, elapsed, (double)n_hs / elapsed, n_resumed, n_req_ok, errors, e_connect,
		       e_handshake, e_io, e_http, e_timeout, pct(0.50), pct(0.99));
	}
	fflush(stdout);
	/* idle mode: send close_notify on each held connection (no error logs in
	 * the proxy); then a fast exit: the kernel closes the sockets */
	for (long i = 0; g_idle && i < nslots; i++)
		if (g_conns[i].state == ST_HOLD)
			SSL_shutdown(g_conns[i].ssl);
	_exit(0);
}
