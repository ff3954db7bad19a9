/* tickets.h - session ticket keys shared by workers and instances.
 *
 * TLS 1.2 session tickets and TLS 1.3 resumption tickets are encrypted
 * with AES-256-GCM under a key derived from one secret and the current
 * rotation period:
 *     key(e)  = HMAC-SHA256(secret, "gatehouse ticket key"  || e)
 *     name(e) = HMAC-SHA256(secret, "gatehouse ticket name" || e)[0..16)
 * where e = floor(unix time / ticket_rotation), as 8 bytes big-endian.
 * Every process holding the same secret (ticket_key_file) and a clock
 * within one period derives the same keys with no coordination, so a client
 * resumes on any worker of any instance behind a load balancer. New tickets
 * use key(e); tickets under key(e-1) and key(e-2) are still accepted (and
 * replaced), and key(e+1) too, for clocks a little ahead. Without a key
 * file the secret is random, made once before the workers fork: shared by
 * the workers, not by other instances.
 *
 * Owns: the secret, the derived keys, and the wolfSSL ticket callback. */
#ifndef GATEHOUSE_TICKETS_H
#define GATEHOUSE_TICKETS_H

#include <stddef.h>
#include <stdint.h>

/* Reads key_file ("" = random secret). Returns 0, or -1 with a reason. */
int gh_tickets_init(const char *key_file, double rotation, char *why, size_t why_len);

/* Tickets of one listener: its keys are derived with its id too, so a
 * ticket is only good where it was issued. */
#define GH_TICKET_SCOPE_MAX 64
struct gh_ticket_scope;
struct gh_ticket_scope *gh_tickets_scope_new(const char *id);
void gh_tickets_scope_free(struct gh_ticket_scope *scope);

/* Installs the ticket callback and lifetime hint on a wolfSSL context
 * (a WOLFSSL_CTX *, untyped so this header needs no wolfSSL headers). */
int gh_tickets_install(void *wolfssl_ctx, struct gh_ticket_scope *scope);

/* No resumption at all on this context: no tickets (TLS 1.2 or 1.3) and no
 * session cache. For listeners that check client certificates: a resumed
 * session skips the certificate, and wolfSSL (without OPENSSL_EXTRA) does
 * not give the verified identity back on resumption. */
int gh_tickets_disable(void *wolfssl_ctx);

/* Tickets issued and accepted by this process, for the shutdown log. */
struct gh_ticket_stats {
    uint64_t issued, accepted, renewed, rejected;
};
void gh_tickets_stats(struct gh_ticket_stats *out);

#endif
