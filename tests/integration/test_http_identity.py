"""Identity a client must not be able to forge (issue 11, items 3 and 6).

Every request goes through TLS to gatehouse and on to a RecordingBackend;
what the backend received is then read the way a lenient legacy backend
reads it (CGI/WSGI/PHP: field names case-insensitive with '_' and '-' the
same variable, the last line of a name wins). Such a backend must see only
the forwarding and identity values gatehouse wrote:
  - the forwarding family (Forwarded, X-Forwarded-*, X-Real-IP) and
    gatehouse's own fields (X-Request-Id, X-Forwarded-Proto, X-Client-*)
    are dropped from a client in every spelling; a proxy in trusted_proxies
    may pass the family, and its chain is extended (forwarded_for = append);
  - forwarded_headers chooses X-Forwarded-For/-Proto, RFC 7239 Forwarded,
    or both;
  - only "CONNECT" opens a tunnel: "connect" is an ordinary request, so the
    bytes after it are parsed and rebuilt, not passed through;
  - X-Client-Cert-Subject is ASCII with RFC 4514 "\\XX" escapes (distinct
    subjects never collide), X-Client-Cert-URI lists every URI SAN.
"""

import re
import time

import pytest

import http_backends as hb
from ghutil import free_port, render_ini, run_gatehouse, scaled
from test_http import HOST, HttpClient, req_bytes, split_id, start
from test_tls_features import (FAKE_CLIENT, be, cctx, ghs, http_get, mtls, pki,  # noqa: F401
                               proxied_tls, v1_header)

CLIENT_ADDR = "127.0.0.1"
HEX16 = re.compile(r"[0-9a-f]{16}")

# Spellings of the forwarding family and of gatehouse's own fields: the
# issue's list, and more of the same classes.
SPOOFED = [
    "X-Forwarded-For: 6.6.6.1",
    "X_Forwarded_For: 6.6.6.2",
    "x_forwarded_for: 6.6.6.3",
    "X-FORWARDED-FOR: 6.6.6.4",
    "X-Forwarded_For: 6.6.6.5",
    "Forwarded: for=6.6.6.6;proto=http",
    "FORWARDED: for=6.6.6.7",
    "X-Real-IP: 6.6.6.8",
    "X_Real_Ip: 6.6.6.9",
    "X-Forwarded-Host: evil.example",
    "X_Forwarded_Host: evil2.example",
    "X-Forwarded-Port: 80",
    "X-Forwarded-Prefix: /admin",
    "X-Forwarded-Proto: http",
    "X_Forwarded_Proto: http",
    "X-Forwarded-Ssl: off",
    "X-Request-Id: 0123456789abcdef",
    "X_Request_Id: fedcba9876543210",
    "X-Client-Verified: SUCCESS",
    "X_Client_Verified: SUCCESS",
    "X_Client_Cert_Subject: CN=admin",
    "x-client-cert-fingerprint: 00",
    "X_CLIENT_CERT_URI: spiffe://evil",
    "X-Client-IP: 6.6.6.10",
    "X-Client-Anything: forged",
]

# '_' spellings of fields gatehouse interprets: a backend mapping '_' to
# '-' would read framing or hop-by-hop fields gatehouse never checked.
ALIASES = ["Content_Length: 40", "Transfer_Encoding: chunked", "Keep_Alive: 1",
           "Proxy_Connection: keep-alive", "proxy_authorization: Basic Zm9vOmJhcg==",
           "TRAILER_: x-not-an-alias"]


def lenient_view(req):
    """The fields as a lenient backend reads them: '_' = '-', any case,
    the last line of a name wins."""
    out = {}
    for k, v in req.headers:
        out[k.decode("latin-1").lower().replace("_", "-")] = v.decode("latin-1")
    return out


def family_names(req):
    """Names (folded) of the lines in the forwarding / identity family."""
    names = []
    for k, _ in req.headers:
        n = k.decode("latin-1").lower().replace("_", "-")
        if n in ("forwarded", "x-real-ip", "x-request-id") or n.startswith(("x-forwarded-",
                                                                             "x-client-")):
            names.append(k.decode("latin-1"))
    return names


def one_request(gatehouse, backend, ctx, *headers, target="/id", **opts):
    be_ = backend(hb.RecordingBackend)
    gh = start(gatehouse, be_, **opts)
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes(f"GET {target} HTTP/1.1", HOST, *headers, "Accept: */*"))
        assert c.read_response().status == 200
    (got,) = be_.wait_requests(1)
    return got


# ============================================================ A. the family


def test_every_spelling_stripped_from_a_client(gatehouse, backend, ctx):
    got = one_request(gatehouse, backend, ctx, *SPOOFED, *ALIASES)
    _, rid = split_id(got.head)
    view = lenient_view(got)
    # the lenient backend reads gatehouse's values only
    assert view["x-forwarded-for"] == CLIENT_ADDR, got.head
    assert view["x-forwarded-proto"] == "https", got.head
    assert view["x-request-id"] == rid and rid not in ("0123456789abcdef", "fedcba9876543210")
    for gone in ("forwarded", "x-real-ip", "x-forwarded-host", "x-forwarded-port",
                 "x-forwarded-prefix", "x-forwarded-ssl", "x-client-verified",
                 "x-client-cert-subject", "x-client-cert-fingerprint", "x-client-cert-uri",
                 "x-client-ip", "x-client-anything", "content-length", "transfer-encoding",
                 "keep-alive", "proxy-connection", "proxy-authorization"):
        assert gone not in view, f"{gone} reached the backend: {got.head!r}"
    # exactly gatehouse's three lines, in gatehouse's spelling
    assert sorted(family_names(got)) == ["X-Forwarded-For", "X-Forwarded-Proto",
                                         "X-Request-Id"], got.head
    assert view["accept"] == "*/*"
    assert view["trailer-"] == "x-not-an-alias"  # not a name gatehouse interprets: kept


def test_untrusted_sender_stripped_even_with_trusted_proxies(gatehouse, backend, ctx):
    """trusted_proxies names other networks: 127.0.0.1 is a client like any."""
    got = one_request(gatehouse, backend, ctx, *SPOOFED, trusted_proxies="192.0.2.0/24",
                      forwarded_for="append", forwarded_headers="both")
    view = lenient_view(got)
    assert view["x-forwarded-for"] == CLIENT_ADDR, got.head
    assert view["forwarded"] == f"for={CLIENT_ADDR};proto=https", got.head
    assert "x-forwarded-host" not in view and "x-real-ip" not in view, got.head
    assert sorted(family_names(got)) == ["Forwarded", "X-Forwarded-For", "X-Forwarded-Proto",
                                         "X-Request-Id"], got.head


def test_trusted_proxy_chain_extended(gatehouse, backend, ctx):
    """From a trusted proxy the family passes ('-' spellings only) and the
    chains get this hop appended; gatehouse's own fields are still its own."""
    got = one_request(gatehouse, backend, ctx,
                      "X-Forwarded-For: 192.0.2.1", "Forwarded: for=192.0.2.1;proto=https",
                      "X-Forwarded-Host: app.example", "X_Forwarded_Host: evil.example",
                      "X-Real-IP: 192.0.2.1", "X-Forwarded-For: 198.51.100.2",
                      "X-Forwarded-Proto: http", "X-Request-Id: 0123456789abcdef",
                      "X-Client-Verified: SUCCESS",
                      trusted_proxies="127.0.0.0/8", forwarded_for="append",
                      forwarded_headers="both")
    head, rid = split_id(got.head)
    lines = head.split(b"\r\n")
    assert b"X-Forwarded-For: 192.0.2.1, 198.51.100.2, 127.0.0.1" in lines, head
    assert b"Forwarded: for=192.0.2.1;proto=https, for=127.0.0.1;proto=https" in lines, head
    assert b"X-Forwarded-Host: app.example" in lines and b"X-Real-IP: 192.0.2.1" in lines
    view = lenient_view(got)
    assert view["x-forwarded-host"] == "app.example", head
    assert view["x-forwarded-proto"] == "https" and view["x-request-id"] == rid
    assert "x-client-verified" not in view
    assert sorted(family_names(got)) == ["Forwarded", "X-Forwarded-For", "X-Forwarded-Host",
                                         "X-Forwarded-Proto", "X-Real-IP", "X-Request-Id"]


@pytest.mark.parametrize("field,value", [
    ("Forwarded", 'for="1.1.1.1'),            # an open quote would swallow our hop
    ("Forwarded", "for=1.1.1.1,,for=2.2.2.2"),
    ("X-Forwarded-For", "9.9.9.9, "),         # an empty element shifts the chain
    ("X-Forwarded-For", "9.9.9.9 6.6.6.6"),
])
def test_trusted_proxy_unreadable_chain_is_replaced(gatehouse, backend, ctx, field, value):
    """A trusted sender's chain that gatehouse cannot read is not extended
    (found by review: `for="1.1.1.1` swallowed the appended hop): both
    chains start again at this hop, whatever else the sender sent."""
    got = one_request(gatehouse, backend, ctx, f"{field}: {value}",
                      trusted_proxies="127.0.0.0/8", forwarded_for="append",
                      forwarded_headers="both")
    head, _ = split_id(got.head)
    lines = head.split(b"\r\n")
    fwd = [ln for ln in lines if ln.lower().startswith(b"forwarded:")]
    xff = [ln for ln in lines if ln.lower().startswith(b"x-forwarded-for:")]
    if field == "Forwarded":
        assert fwd == [b"Forwarded: for=127.0.0.1;proto=https"], head
    else:
        assert xff == [b"X-Forwarded-For: 127.0.0.1"], head
    assert value.encode() not in head, head


def test_trusted_proxy_replace_drops_its_chain(gatehouse, backend, ctx):
    got = one_request(gatehouse, backend, ctx, "X-Forwarded-For: 192.0.2.1",
                      "Forwarded: for=192.0.2.1", "X-Forwarded-Host: app.example",
                      trusted_proxies="127.0.0.1")
    view = lenient_view(got)
    assert view["x-forwarded-for"] == CLIENT_ADDR and "forwarded" not in view, got.head
    assert view["x-forwarded-host"] == "app.example", got.head


def test_forwarded_only(gatehouse, backend, ctx):
    """forwarded_headers = forwarded: RFC 7239 only, no X-Forwarded-*."""
    got = one_request(gatehouse, backend, ctx, *SPOOFED, forwarded_headers="forwarded")
    head, _ = split_id(got.head)
    assert b"\r\nForwarded: for=127.0.0.1;proto=https\r\n" in head, head
    assert sorted(family_names(got)) == ["Forwarded", "X-Request-Id"], head


@pytest.mark.parametrize("trusted,expect_xff", [
    ("203.0.113.0/24", f"192.0.2.1, {FAKE_CLIENT[0]}"),   # the PROXY source is trusted
    ("127.0.0.1", FAKE_CLIENT[0]),                         # the balancer is not the sender
])
def test_trust_follows_the_proxy_protocol_source(ghs, be, pki, trusted, expect_xff):
    """Behind accept_proxy the sender is the PROXY header's source, not the
    balancer's TCP address: trusted_proxies is matched against it."""
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": {"backend": rec, "mode": "http", "accept_proxy": "v1",
                      "proxy_trusted": "127.0.0.1/32", "trusted_proxies": trusted,
                      "forwarded_for": "append"}})
    with proxied_tls(gh.port, v1_header(), cctx(pki)) as s:
        s.sendall(b"GET /x HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 192.0.2.1\r\n"
                  b"X-Real-IP: 192.0.2.1\r\n\r\n")
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            assert chunk
            buf += chunk
    (req,) = rec.wait_requests(1)
    view = lenient_view(req)
    assert view["x-forwarded-for"] == expect_xff, req.head
    assert ("x-real-ip" in view) == (trusted != "127.0.0.1"), req.head


def test_append_needs_trusted_proxies(tmp_path):
    ini = tmp_path / "g.ini"
    ini.write_text(render_ini({"workers": 1}, {"web": {
        "listen": f"127.0.0.1:{free_port()}", "backend": "127.0.0.1:9", "mode": "http",
        "cert": "/nonexistent.crt", "key": "/nonexistent.key", "forwarded_for": "append"}}))
    r = run_gatehouse(["-t", "-c", str(ini)])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search(r":\d+: forwarded_for: append needs trusted_proxies", r.stdout + r.stderr)


# ====================================================== C. methods: CONNECT


def test_lowercase_connect_is_not_a_tunnel(gatehouse, backend, ctx):
    """A 2xx without framing to "connect" is an ordinary close-delimited
    response, not a tunnel: the bytes the client sends next are a request,
    parsed and rebuilt (or held until the backend is done), never passed
    through raw with the client's forwarding fields. ("connect" is not an
    allow_methods word: it gets here with method_not_allowed logged
    instead of enforced.)"""
    def respond(req):
        if req.method == "connect":
            return hb.Response(raw=b"HTTP/1.1 200 Connection established\r\n\r\n")
        return hb.ok(req)

    be_ = backend(hb.RecordingBackend, respond)
    gh = start(gatehouse, be_, log_rules="method_not_allowed")
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("connect /t HTTP/1.1", HOST))
        assert c.read_head().startswith(b"HTTP/1.1 200 ")
        c.send(req_bytes("GET /after HTTP/1.1", HOST, "X-Forwarded-For: 6.6.6.6",
                         "X-Client-Verified: SUCCESS"))
        deadline = time.monotonic() + scaled(1.5)
        while time.monotonic() < deadline and len(be_.complete_requests()) < 2:
            time.sleep(0.02)
    reqs = be_.complete_requests()
    assert reqs[0].method == "connect"
    for r in reqs[1:]:
        view = lenient_view(r)
        assert view["x-forwarded-for"] == CLIENT_ADDR, r.head
        assert "x-client-verified" not in view, r.head
        assert HEX16.fullmatch(view.get("x-request-id", "")), r.head


# =========================================== D. client certificate headers


def test_cert_subject_escaped_not_collapsed(ghs, be, pki):
    """Two subjects that differ only in a non-ASCII letter reach the
    backend as different ASCII strings, with RFC 4514 \\XX escapes."""
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec)})
    seen = {}
    for name in ("client_utf8_a", "client_utf8_b"):
        status, _, _ = http_get(gh.port, cctx(pki, client=getattr(pki, name)))
        assert status == 200
    reqs = rec.wait_requests(2)
    for name, req in zip(("client_utf8_a", "client_utf8_b"), reqs):
        v = lenient_view(req)["x-client-cert-subject"]
        assert all(0x20 <= ord(ch) < 0x7f for ch in v), v
        seen[name] = v
    assert seen["client_utf8_a"] == "CN=caf\\C3\\A9,O=Example Org", seen
    assert seen["client_utf8_b"] == "CN=caf\\C3\\A8,O=Example Org", seen
    assert "x-client-cert-truncated" not in lenient_view(reqs[0])


def test_cert_every_uri_san(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec, client_allow_uri="spiffe://example.org/third")})
    status, _, _ = http_get(gh.port, cctx(pki, client=pki.client_uris))
    assert status == 200
    (req,) = rec.wait_requests(1)
    v = lenient_view(req)["x-client-cert-uri"]
    assert v == ('spiffe://example.org/first, "https://example.org/a,b", '
                 'spiffe://example.org/third'), v
    names = [k.decode().lower() for k, _ in req.headers]
    assert names.count("x-client-cert-uri") == 1, req.head


def test_cert_subject_truncation_marked(ghs, be, pki):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec)})
    status, _, _ = http_get(gh.port, cctx(pki, client=pki.client_long))
    assert status == 200
    (req,) = rec.wait_requests(1)
    view = lenient_view(req)
    assert view["x-client-cert-truncated"] == "subject", req.head
    assert len(view["x-client-cert-subject"]) <= 3 * 512


@pytest.mark.parametrize("spoof", ["X-Client-Cert-Truncated: none",
                                   "X_Client_Cert_Truncated: none"])
def test_cert_truncated_not_forgeable(ghs, be, pki, spoof):
    rec = be(hb.RecordingBackend)
    gh = ghs({"web": mtls(pki, rec)})
    status, _, _ = http_get(gh.port, cctx(pki, client=pki.client_ok),
                            extra=spoof.encode() + b"\r\n")
    assert status == 200
    (req,) = rec.wait_requests(1)
    assert "x-client-cert-truncated" not in lenient_view(req), req.head
