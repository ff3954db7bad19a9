/*
 * ws_load - epoll TLS load client on OpenSSL for the frame-validation
 * benchmark (bench/frames.sh): request/response ping-pong of small messages
 * over N long-lived TLS connections, every echo checked byte for byte.
 *
 * Modes:
 *   ws (default)  each connection does the WebSocket upgrade (GET with
 *                 Upgrade: websocket, a random 16-byte Sec-WebSocket-Key; the
 *                 101 must carry the right Sec-WebSocket-Accept), then loops:
 *                 send one masked text frame of -s payload bytes (FIN, opcode
 *                 1, a fresh random mask key, printable ASCII so it is valid
 *                 UTF-8), wait for the echo: one unmasked FIN text frame with
 *                 the same payload.
 *   --line        plain TLS, no upgrade: send a line of -s bytes ((s-1)
 *                 printable characters and '\n'), wait for the same line.
 *   --raw         the same bytes as --line (for a framing = raw listener); only
 *                 the mode= label in the output differs.
 * Every connection has one message in flight, so 1 connection measures
 * latency and 50 measure throughput. The timed window starts once all -c
 * connections are ready (upgraded), so connection setup is not counted.
 * At the end each WebSocket connection sends a close frame (1000) and waits
 * (at most 2 s in all) for the server's close before close_notify.
 *
 * An echo that differs from what was sent (header or payload), or bytes
 * nobody asked for, count as wrong=; the connection is then dropped and
 * reopened (the stream can no longer be trusted). A close frame or EOF from
 * the server in the middle is err_closed= (the first close code and reason
 * are printed on stderr: that is how gatehouse says why it rejected a frame).
 *
 * Build: meson -Dbench=true, or cc -O2 -o ws_load ws_load.c bench_util.c -lssl -lcrypto
 * Output (stdout, one line, key=value):
 *   mode= conns= size= messages= elapsed= msgs_per_s= wrong= errors=
 *   err_connect= err_handshake= err_upgrade= err_io= err_closed= err_timeout=
 *   p50_ms= p90_ms= p99_ms= max_ms= ready= closed_clean= cpu_s= tls= cipher= group=
 * (cpu_s: the client's own user+sys seconds, for the CPU 0 accounting; tls,
 * cipher, key-exchange group: as negotiated by the first connection)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>

#include "bench_util.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum { M_WS, M_LINE, M_RAW };
enum {
	ST_FREE,
	ST_CONNECTING,
	ST_HANDSHAKE,
	ST_UPG_WRITE,
	ST_UPG_READ,
	ST_READY,   /* waiting for the start signal */
	ST_SEND,
	ST_RECV,
	ST_IDLE,    /* window over, nothing in flight */
	ST_CLOSE_SEND,
	ST_CLOSE_WAIT,
	ST_DONE
};

struct conn {
	int fd;
	int state;
	SSL *ssl;
	unsigned events;
	uint64_t deadline;  /* ns */
	uint64_t retry_at;  /* ns */
	uint64_t t_sent;    /* ns, message written */
	char accept[32];    /* expected Sec-WebSocket-Accept */
	unsigned char *wbuf; /* the frame/line on the wire */
	size_t wlen;
	unsigned char *expect; /* the exact reply expected */
	size_t elen;
	unsigned char *rbuf;
	size_t rlen, rcap;
	uint64_t seq;
};

static int g_mode = M_WS;
static struct sockaddr_in g_addr;
static SSL_CTX *g_ctx;
static int g_ep;
static struct conn *g_conns;
static int g_nconns = 1;
static double g_duration = 10;
static long g_count;         /* stop after this many messages; 0 = no limit */
static size_t g_size = 64;
static double g_timeout = 5;
static const char *g_sni = "localhost";
static const char *g_hosthdr = "localhost";
static const char *g_path = "/";
static volatile sig_atomic_t g_stop;
static int g_running;        /* timed window open: sends allowed */
static int g_started;        /* the timed window has begun */
static uint64_t g_t0, g_t_end;
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static int g_said_close;
static char g_tls_info[128] = "tls=? cipher=? group=?"; /* of the first connection */

static long n_msgs, n_msgs_total, n_wrong, n_ready, n_closed_clean;
static long e_connect, e_handshake, e_upgrade, e_io, e_closed, e_timeout;

/* latency histogram: 1 us buckets up to 1 s */
#define HBUCKETS 1000000
static uint32_t *g_hist;
static long g_hist_over;
static uint64_t g_max_us;

static uint64_t rnd(void)
{
	/* xorshift64*: cheap, enough for mask keys and filler */
	g_rng ^= g_rng >> 12;
	g_rng ^= g_rng << 25;
	g_rng ^= g_rng >> 27;
	return g_rng * 0x2545F4914F6CDD1Dull;
}

static void usage(const char *argv0)
{
	fprintf(stderr,
	        "usage: %s -p PORT [-h 127.0.0.1] [-c CONNS] [-d SECONDS] [-s SIZE] [-n COUNT]\n"
	        "          [--line|--raw] [-t TIMEOUT] [-H HOST] [-u PATH] [-S SNI]\n"
	        "  -c N     connections, one message in flight on each (default 1)\n"
	        "  -d S     timed window in seconds (default 10), from when all are ready\n"
	        "  -s B     message size: WebSocket payload bytes, or line length with '\\n'\n"
	        "           (default 64)\n"
	        "  -n N     stop after N echoed messages\n"
	        "  --line   newline-terminated lines over plain TLS (no upgrade)\n"
	        "  --raw    the same as --line, labelled raw (framing = raw listener)\n"
	        "  -t S     timeout per connection setup and per message (default 5)\n"
	        "  -H HOST  Host header of the upgrade (default localhost)\n"
	        "  -u PATH  upgrade request target (default /)\n"
	        "  -S SNI   server name sent (default localhost)\n",
	        argv0);
	exit(2);
}

static void ep_set(struct conn *c, unsigned ev)
{
	bench_ep_set(g_ep, c->fd, (uint32_t)(c - g_conns), &c->events, ev);
}

static void conn_close(struct conn *c, int graceful)
{
	bench_tls_close(&c->ssl, &c->fd, graceful);
	c->events = 0;
	c->rlen = 0;
}

static void conn_fail(struct conn *c, long *counter)
{
	int was_ready = c->state >= ST_READY && c->state <= ST_IDLE;
	(*counter)++;
	if (was_ready)
		n_ready--;
	conn_close(c, 0);
	c->state = ST_FREE;
	c->retry_at = bench_now_ns() + 50 * 1000000ull;
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
	c->deadline = t + (uint64_t)(g_timeout * 1e9);
	c->events = 0;
	c->rlen = 0;
	if (c->fd < 0) { /* connect() failed at once */
		c->fd = -1;
		conn_fail(c, &e_connect);
		return;
	}
	c->state = ST_CONNECTING;
	ep_set(c, EPOLLOUT);
}

/* SSL_ERROR_WANT_*: wait; anything else is an error */
static int ssl_wait(struct conn *c, int r, long *err_counter)
{
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ) {
		ep_set(c, EPOLLIN);
		return 0;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		ep_set(c, EPOLLOUT);
		return 0;
	}
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0))
		err_counter = &e_closed;
	ERR_clear_error();
	conn_fail(c, err_counter);
	return -1;
}

static void record_latency(uint64_t ns)
{
	uint64_t us = ns / 1000;
	if (us > g_max_us)
		g_max_us = us;
	if (us < HBUCKETS)
		g_hist[us]++;
	else
		g_hist_over++;
}

/* the next message into c->wbuf / c->expect */
static void build_message(struct conn *c)
{
	size_t n = g_size;
	unsigned char *pl = c->expect; /* payload as the echo must carry it */
	size_t ph;                     /* payload offset in expect */
	if (g_mode == M_WS) {
		/* expected echo: FIN text frame, unmasked */
		pl[0] = 0x81;
		if (n < 126) {
			pl[1] = (unsigned char)n;
			ph = 2;
		} else if (n <= 0xFFFF) {
			pl[1] = 126;
			pl[2] = (unsigned char)(n >> 8);
			pl[3] = (unsigned char)n;
			ph = 4;
		} else {
			pl[1] = 127;
			for (int i = 0; i < 8; i++)
				pl[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
			ph = 10;
		}
	} else {
		ph = 0;
	}
	unsigned char *p = c->expect + ph;
	/* payload: "<conn>:<seq>:" then printable filler, never '\n' */
	char tag[40];
	int tl = snprintf(tag, sizeof tag, "%ld:%llu:", (long)(c - g_conns), (unsigned long long)c->seq++);
	size_t body = g_mode == M_WS ? n : n - 1;
	size_t i = 0;
	for (; i < body && i < (size_t)tl; i++)
		p[i] = (unsigned char)tag[i];
	uint64_t r = rnd();
	for (int k = 0; i < body; i++, k++) {
		if (k == 8) {
			r = rnd();
			k = 0;
		}
		p[i] = (unsigned char)(0x21 + (r >> (8 * k)) % 94); /* '!'..'~' */
	}
	if (g_mode != M_WS)
		p[i] = '\n';
	c->elen = ph + n;

	if (g_mode == M_WS) {
		unsigned char *w = c->wbuf;
		uint32_t mk = (uint32_t)rnd();
		unsigned char key[4] = {(unsigned char)mk, (unsigned char)(mk >> 8), (unsigned char)(mk >> 16),
		                        (unsigned char)(mk >> 24)};
		memcpy(w, c->expect, ph);
		w[1] |= 0x80; /* MASK bit */
		memcpy(w + ph, key, 4);
		for (size_t j = 0; j < n; j++)
			w[ph + 4 + j] = p[j] ^ key[j & 3];
		c->wlen = ph + 4 + n;
	} else {
		memcpy(c->wbuf, c->expect, n);
		c->wlen = n;
	}
}

static void make_key(struct conn *c, char key_out[32])
{
	unsigned char raw[16], sha[SHA_DIGEST_LENGTH], cat[128];
	for (int i = 0; i < 16; i += 8) {
		uint64_t r = rnd();
		memcpy(raw + i, &r, 8);
	}
	EVP_EncodeBlock((unsigned char *)key_out, raw, 16);
	int kl = snprintf((char *)cat, sizeof cat, "%s%s", key_out, WS_GUID);
	SHA1(cat, (size_t)kl, sha);
	EVP_EncodeBlock((unsigned char *)c->accept, sha, SHA_DIGEST_LENGTH);
}

/* the 101 in c->rbuf: 1 ok (frames may follow), 0 need more, -1 bad */
static int check_upgrade(struct conn *c)
{
	unsigned char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
	if (!end)
		return c->rlen >= c->rcap ? -1 : 0;
	size_t hlen = (size_t)(end - c->rbuf) + 4;
	int ok = c->rlen >= 12 && memcmp(c->rbuf, "HTTP/1.1 101", 12) == 0;
	int acc_ok = 0;
	for (unsigned char *p = c->rbuf; p < end; p++) {
		if ((p == c->rbuf || p[-1] == '\n') && strncasecmp((char *)p, "sec-websocket-accept:", 21) == 0) {
			unsigned char *v = p + 21;
			while (*v == ' ' || *v == '\t')
				v++;
			size_t al = strlen(c->accept);
			acc_ok = memcmp(v, c->accept, al) == 0 && (v[al] == '\r' || v[al] == ' ' || v[al] == '\t');
		}
	}
	if (!ok || !acc_ok) {
		static int said;
		if (!said++) {
			*end = 0;
			fprintf(stderr, "ws_load: upgrade refused or bad 101:\n%s\n", (char *)c->rbuf);
		}
		return -1;
	}
	memmove(c->rbuf, c->rbuf + hlen, c->rlen - hlen);
	c->rlen -= hlen;
	return 1;
}

static void report_close_frame(const unsigned char *d, size_t n)
{
	if (g_said_close++)
		return;
	/* d: a server frame starting with 0x88 */
	size_t len = d[1] & 0x7F, hl = 2;
	if (len >= 126 || n < hl + len) {
		fprintf(stderr, "ws_load: server sent a close frame\n");
		return;
	}
	unsigned code = len >= 2 ? ((unsigned)d[2] << 8 | d[3]) : 0;
	fprintf(stderr, "ws_load: server closed the WebSocket: code %u reason '%.*s'\n", code,
	        len > 2 ? (int)(len - 2) : 0, len > 2 ? (const char *)d + 4 : "");
}

/* the echo in c->rbuf: 1 complete and right, 0 need more, -1 wrong, -2 server close */
static int check_echo(struct conn *c)
{
	if (c->rlen < c->elen) {
		/* a close frame instead of the echo? */
		if (g_mode == M_WS && c->rlen >= 2 && c->rbuf[0] == 0x88) {
			size_t len = c->rbuf[1] & 0x7F;
			if (len < 126 && c->rlen >= 2 + len) {
				report_close_frame(c->rbuf, c->rlen);
				return -2;
			}
		}
		/* a prefix that already differs is wrong at once */
		if (c->rlen && memcmp(c->rbuf, c->expect, c->rlen) != 0) {
			if (g_mode == M_WS && c->rbuf[0] == 0x88)
				return 0; /* a close frame still arriving */
			return -1;
		}
		return 0;
	}
	if (memcmp(c->rbuf, c->expect, c->elen) != 0) {
		if (g_mode == M_WS && c->rbuf[0] == 0x88) {
			report_close_frame(c->rbuf, c->rlen);
			return -2;
		}
		return -1;
	}
	if (c->rlen > c->elen)
		return -1; /* more than the echo */
	c->rlen = 0;
	return 1;
}

/* read whatever is there into rbuf; 1 got data or would block, -1 failed (conn gone) */
static int read_some(struct conn *c)
{
	for (;;) {
		if (c->rlen == c->rcap) {
			/* more than anything expected: let the checks judge it */
			return 1;
		}
		int r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(c->rcap - c->rlen));
		if (r > 0) {
			c->rlen += (size_t)r;
			continue;
		}
		int e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			ep_set(c, EPOLLIN);
			return 1;
		}
		if (e == SSL_ERROR_WANT_WRITE) {
			ep_set(c, EPOLLOUT);
			return 1;
		}
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)) {
			if (c->state == ST_RECV && c->rlen && g_mode == M_WS && c->rbuf[0] == 0x88)
				report_close_frame(c->rbuf, c->rlen);
			else if (!g_said_close++)
				fprintf(stderr, "ws_load: server closed the connection (state %d, %zu bytes unread)\n",
				        c->state, c->rlen);
			ERR_clear_error();
			conn_fail(c, c->state == ST_UPG_READ ? &e_upgrade : &e_closed);
			return -1;
		}
		ERR_clear_error();
		conn_fail(c, &e_io);
		return -1;
	}
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
		c->state = ST_HANDSHAKE;
	}
	/* fall through */
	case ST_HANDSHAKE:
		r = SSL_do_handshake(c->ssl);
		if (r != 1) {
			ssl_wait(c, r, &e_handshake);
			return;
		}
		if (g_tls_info[4] == '?') {
			int nid = SSL_get_negotiated_group(c->ssl);
			const char *gn = nid > 0 ? OBJ_nid2sn(nid) : NULL;
			snprintf(g_tls_info, sizeof g_tls_info, "tls=%s cipher=%s group=%s", SSL_get_version(c->ssl),
			         SSL_get_cipher_name(c->ssl), gn ? gn : "?");
		}
		if (g_mode != M_WS) {
			c->state = ST_READY;
			n_ready++;
			ep_set(c, EPOLLIN);
			if (g_running) {
				c->state = ST_SEND;
				build_message(c);
				step(c);
			}
			return;
		}
		{
			char key[32];
			make_key(c, key);
			c->wlen = (size_t)snprintf((char *)c->wbuf, 512,
			                           "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
			                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
			                           "Sec-WebSocket-Version: 13\r\n\r\n",
			                           g_path, g_hosthdr, key);
		}
		c->state = ST_UPG_WRITE;
		/* fall through */
	case ST_UPG_WRITE:
		r = SSL_write(c->ssl, c->wbuf, (int)c->wlen);
		if (r <= 0) {
			ssl_wait(c, r, &e_upgrade);
			return;
		}
		c->state = ST_UPG_READ;
		c->rlen = 0;
		ep_set(c, EPOLLIN);
		/* fall through */
	case ST_UPG_READ:
		if (read_some(c) < 0)
			return;
		r = check_upgrade(c);
		if (r == 0)
			return;
		if (r < 0) {
			conn_fail(c, &e_upgrade);
			return;
		}
		if (c->rlen) { /* frames before we sent any */
			n_wrong++;
			conn_fail(c, &e_io);
			return;
		}
		c->state = ST_READY;
		n_ready++;
		ep_set(c, EPOLLIN);
		if (!g_running)
			return;
		c->state = ST_SEND;
		build_message(c);
		/* fall through */
	case ST_SEND:
		r = SSL_write(c->ssl, c->wbuf, (int)c->wlen);
		if (r <= 0) {
			ssl_wait(c, r, &e_io);
			return;
		}
		c->t_sent = bench_now_ns();
		c->deadline = c->t_sent + (uint64_t)(g_timeout * 1e9);
		c->state = ST_RECV;
		ep_set(c, EPOLLIN);
		/* fall through */
	case ST_RECV:
		if (read_some(c) < 0)
			return;
		r = check_echo(c);
		if (r == 0)
			return;
		if (r == -1) {
			n_wrong++;
			n_ready--;
			conn_close(c, 0);
			c->state = ST_FREE;
			c->retry_at = bench_now_ns() + 50 * 1000000ull;
			return;
		}
		if (r == -2) {
			conn_fail(c, &e_closed);
			return;
		}
		{
			uint64_t t = bench_now_ns();
			n_msgs_total++;
			if (g_started && t <= g_t_end) {
				n_msgs++;
				record_latency(t - c->t_sent);
			}
		}
		if (!g_running || (g_count && n_msgs_total >= g_count)) {
			c->state = ST_IDLE;
			return;
		}
		c->state = ST_SEND;
		build_message(c);
		step(c);
		return;
	case ST_READY:
	case ST_IDLE:
		/* nothing expected: read (tickets), anything else is wrong */
		if (read_some(c) < 0)
			return;
		if (c->rlen) {
			n_wrong++;
			n_ready--;
			conn_close(c, 0);
			c->state = ST_FREE;
			c->retry_at = bench_now_ns() + 50 * 1000000ull;
		}
		return;
	case ST_CLOSE_SEND:
		r = SSL_write(c->ssl, c->wbuf, (int)c->wlen);
		if (r <= 0) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				ep_set(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
				return;
			}
			ERR_clear_error();
			conn_close(c, 0);
			c->state = ST_DONE;
			return;
		}
		c->state = ST_CLOSE_WAIT;
		c->rlen = 0;
		ep_set(c, EPOLLIN);
		/* fall through */
	case ST_CLOSE_WAIT:
		for (;;) {
			if (c->rlen == c->rcap)
				c->rlen = 0;
			r = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(c->rcap - c->rlen));
			if (r > 0) {
				c->rlen += (size_t)r;
				if (c->rlen >= 2 && c->rbuf[0] == 0x88) {
					n_closed_clean++;
					conn_close(c, 1);
					c->state = ST_DONE;
					return;
				}
				continue;
			}
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				ep_set(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
				return;
			}
			ERR_clear_error();
			conn_close(c, 0);
			c->state = ST_DONE;
			return;
		}
	default:
		return;
	}
}

static double pct(double p)
{
	return bench_hist_pct(g_hist, HBUCKETS, g_hist_over, p, 0.001, (double)g_max_us / 1000.0);
}

static void poll_once(int timeout_ms)
{
	struct epoll_event evs[256];
	int n = epoll_wait(g_ep, evs, 256, timeout_ms);
	if (n < 0 && errno != EINTR) {
		perror("epoll_wait");
		exit(1);
	}
	for (int i = 0; i < n; i++) {
		struct conn *c = &g_conns[evs[i].data.u32];
		if (c->fd < 0)
			continue;
		step(c);
	}
}

int main(int argc, char **argv)
{
	const char *host = "127.0.0.1";
	int port = 0, opt;
	static const struct option lo[] = {
	    {"line", no_argument, NULL, 'L'}, {"raw", no_argument, NULL, 'R'}, {NULL, 0, NULL, 0}};
	while ((opt = getopt_long(argc, argv, "h:p:c:d:s:n:t:H:u:S:", lo, NULL)) != -1) {
		switch (opt) {
		case 'h': host = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'c': g_nconns = atoi(optarg); break;
		case 'd': g_duration = atof(optarg); break;
		case 's': g_size = (size_t)strtoul(optarg, NULL, 10); break;
		case 'n': g_count = atol(optarg); break;
		case 't': g_timeout = atof(optarg); break;
		case 'H': g_hosthdr = optarg; break;
		case 'u': g_path = optarg; break;
		case 'S': g_sni = optarg; break;
		case 'L': g_mode = M_LINE; break;
		case 'R': g_mode = M_RAW; break;
		default: usage(argv[0]);
		}
	}
	if (port <= 0 || port > 65535 || g_nconns < 1 || g_duration <= 0 || g_size > (64u << 20) ||
	    (g_mode == M_WS ? g_size < 1 : g_size < 2))
		usage(argv[0]);
	if (bench_parse_addr(host, port, &g_addr) != 0)
		return 2;
	if (bench_raise_nofile(g_nconns + 16) != 0)
		return 1;
	bench_stop_on_signals(&g_stop);
	if (RAND_bytes((unsigned char *)&g_rng, sizeof g_rng) != 1 || g_rng == 0)
		g_rng = bench_now_ns() | 1;

	g_ctx = bench_tls_client_ctx(TLS1_2_VERSION, 0, 0);
	if (!g_ctx)
		return 1;

	g_hist = calloc(HBUCKETS, sizeof *g_hist);
	g_conns = calloc((size_t)g_nconns, sizeof *g_conns);
	if (!g_hist || !g_conns)
		return 1;
	size_t frame_max = g_size + 14;
	for (int i = 0; i < g_nconns; i++) {
		struct conn *c = &g_conns[i];
		c->fd = -1;
		c->state = ST_FREE;
		c->wbuf = malloc(frame_max > 1024 ? frame_max : 1024);
		c->expect = malloc(frame_max);
		c->rcap = (frame_max > 16384 ? frame_max : 16384) + 64;
		c->rbuf = malloc(c->rcap);
		if (!c->wbuf || !c->expect || !c->rbuf)
			return 1;
	}
	g_ep = epoll_create1(EPOLL_CLOEXEC);
	if (g_ep < 0) {
		perror("epoll_create1");
		return 1;
	}

	uint64_t t_setup = bench_now_ns();
	uint64_t setup_limit = t_setup + (uint64_t)((g_timeout > 10 ? g_timeout : 10) * 1e9);
	uint64_t last_scan = 0;
	while (!g_stop) {
		uint64_t t = bench_now_ns();
		if (g_started && (t >= g_t_end || (g_count && n_msgs_total >= g_count)))
			break;
		/* (re)start free slots */
		for (int i = 0; i < g_nconns; i++) {
			struct conn *c = &g_conns[i];
			if (c->state == ST_FREE && c->retry_at <= t)
				conn_start(c);
		}
		/* the window opens when every connection is ready (or setup took too long) */
		if (!g_started && (n_ready == g_nconns || t >= setup_limit)) {
			if (n_ready == 0) {
				fprintf(stderr, "ws_load: no connection became ready\n");
				break;
			}
			if (n_ready < g_nconns)
				fprintf(stderr, "ws_load: only %ld of %d connections ready; starting anyway\n", n_ready,
				        g_nconns);
			g_started = g_running = 1;
			g_t0 = bench_now_ns();
			g_t_end = g_t0 + (uint64_t)(g_duration * 1e9);
			for (int i = 0; i < g_nconns; i++) {
				struct conn *c = &g_conns[i];
				if (c->state == ST_READY) {
					c->state = ST_SEND;
					build_message(c);
					step(c);
				}
			}
		}
		poll_once(10);
		/* timeouts, every 100 ms */
		t = bench_now_ns();
		if (t - last_scan > 100000000ull) {
			last_scan = t;
			for (int i = 0; i < g_nconns; i++) {
				struct conn *c = &g_conns[i];
				if (c->state != ST_FREE && c->state != ST_READY && c->state != ST_IDLE && t > c->deadline) {
					if (c->state == ST_RECV && !g_said_close++)
						fprintf(stderr, "ws_load: no echo within %.1f s (%zu of %zu bytes)\n", g_timeout,
						        c->rlen, c->elen);
					conn_fail(c, &e_timeout);
				}
			}
		}
	}
	uint64_t t_stop = bench_now_ns();
	g_running = 0;
	double elapsed = g_started ? (double)((t_stop < g_t_end ? t_stop : g_t_end) - g_t0) / 1e9 : 0;

	/* let in-flight echoes finish (checked, not counted), at most 1 s */
	uint64_t lim = bench_now_ns() + 1000000000ull;
	for (;;) {
		int busy = 0;
		for (int i = 0; i < g_nconns; i++)
			if (g_conns[i].state == ST_RECV || g_conns[i].state == ST_SEND)
				busy = 1;
		if (!busy || bench_now_ns() >= lim)
			break;
		poll_once(10);
	}
	/* WebSocket closing handshake: close 1000, wait for the server's close */
	for (int i = 0; i < g_nconns; i++) {
		struct conn *c = &g_conns[i];
		if (c->state != ST_IDLE && c->state != ST_READY) {
			if (c->fd >= 0)
				conn_close(c, 0);
			c->state = ST_DONE;
			continue;
		}
		if (g_mode != M_WS) {
			n_closed_clean++;
			conn_close(c, 1);
			c->state = ST_DONE;
			continue;
		}
		unsigned char *w = c->wbuf;
		uint32_t mk = (uint32_t)rnd();
		unsigned char pl[2] = {0x03, 0xE8}; /* 1000 */
		w[0] = 0x88;
		w[1] = 0x80 | 2;
		memcpy(w + 2, &mk, 4);
		w[6] = pl[0] ^ w[2];
		w[7] = pl[1] ^ w[3];
		c->wlen = 8;
		c->state = ST_CLOSE_SEND;
		c->rlen = 0;
		step(c);
	}
	lim = bench_now_ns() + 2000000000ull;
	for (;;) {
		int busy = 0;
		for (int i = 0; i < g_nconns; i++)
			if (g_conns[i].state == ST_CLOSE_SEND || g_conns[i].state == ST_CLOSE_WAIT)
				busy = 1;
		if (!busy || bench_now_ns() >= lim)
			break;
		poll_once(10);
	}

	long errors = e_connect + e_handshake + e_upgrade + e_io + e_closed + e_timeout;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	               ru.ru_stime.tv_usec / 1e6;
	static const char *mode_name[] = {"ws", "line", "raw"};
	printf("mode=%s conns=%d size=%zu messages=%ld elapsed=%.3f msgs_per_s=%.1f wrong=%ld errors=%ld "
	       "err_connect=%ld err_handshake=%ld err_upgrade=%ld err_io=%ld err_closed=%ld err_timeout=%ld "
	       "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f ready=%ld closed_clean=%ld cpu_s=%.3f %s\n",
	       mode_name[g_mode], g_nconns, g_size, n_msgs, elapsed, elapsed > 0 ? (double)n_msgs / elapsed : 0,
	       n_wrong, errors, e_connect, e_handshake, e_upgrade, e_io, e_closed, e_timeout, pct(0.50),
	       pct(0.90), pct(0.99), (double)g_max_us / 1000.0, n_ready, n_closed_clean, cpu_s, g_tls_info);
	fflush(stdout);
	_exit(0);
}
