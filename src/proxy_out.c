/* proxy_out.c - the PROXY header for a backend; see proxy_out.h. */
#include "gatehouse/proxy_out.h"

#include <stdio.h>
#include <string.h>

#include "gatehouse/tls.h"

int gh_proxy_out_build(enum gh_proxy_out version, const struct sockaddr_storage *peer,
                       int client_fd, const struct gh_transport_ops *ops, void *ctx,
                       uint64_t conn_id, uint8_t *hdr, size_t cap)
{
    struct sockaddr_storage local;
    socklen_t local_len = sizeof local;
    int n;

    if (getsockname(client_fd, (struct sockaddr *)&local, &local_len) < 0)
        memset(&local, 0, sizeof local);
    if (version == GH_PROXY_OUT_V1) {
        n = gh_proxy_build_v1((const struct sockaddr *)peer, (const struct sockaddr *)&local,
                              hdr, cap);
    } else {
        struct gh_proxy_tls_info ti;
        struct gh_tls_info info;
        const struct gh_tls_peer *cert = ops->peer(ctx);
        char id[24];
        memset(&ti, 0, sizeof ti);
        ops->info(ctx, &info);
        snprintf(id, sizeof id, "%llu", (unsigned long long)conn_id);
        ti.sni = (struct gh_proxy_str){info.sni, info.sni_len};
        ti.alpn = (struct gh_proxy_str){info.alpn, info.alpn_len};
        ti.version = (struct gh_proxy_str){info.version, strlen(info.version)};
        ti.cipher = (struct gh_proxy_str){info.cipher, strlen(info.cipher)};
        ti.unique_id = (struct gh_proxy_str){id, strlen(id)};
        ti.resumed = info.resumed != 0;
        if (cert) {
            ti.client_cert = true;
            ti.verified = cert->verified;
            ti.cn = (struct gh_proxy_str){cert->cn, strlen(cert->cn)};
            ti.cert_sha256 = (struct gh_proxy_str){cert->sha256, strlen(cert->sha256)};
            ti.subject = (struct gh_proxy_str){cert->subject, strlen(cert->subject)};
            ti.san_uri = (struct gh_proxy_str){cert->uri, strlen(cert->uri)};
        }
        n = gh_proxy_build_v2((const struct sockaddr *)peer, (const struct sockaddr *)&local, &ti,
                              hdr, cap);
    }
    return n;
}
