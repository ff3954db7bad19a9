/* proxy_out.h - the PROXY header gatehouse sends a backend
 * (proxy_protocol = v1|v2).
 *
 * Owns: gathering what the header says about one client connection - its
 * address and ours, and for v2 the TLS TLVs (SNI, ALPN, version, cipher,
 * the client certificate, the connection id) - and handing them to the
 * I/O-free builders of proxy_protocol.h. */
#ifndef GATEHOUSE_PROXY_OUT_H
#define GATEHOUSE_PROXY_OUT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "gatehouse/config.h"
#include "gatehouse/proxy_protocol.h"
#include "gatehouse/transport.h"

/* Builds the header for the client at peer, accepted on client_fd, whose
 * side speaks through ops/ctx. Returns its length, or -1. */
int gh_proxy_out_build(enum gh_proxy_out version, const struct sockaddr_storage *peer,
                       int client_fd, const struct gh_transport_ops *ops, void *ctx,
                       uint64_t conn_id, uint8_t *hdr, size_t cap);

#endif
