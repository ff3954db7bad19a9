"""TLS policy (versions, suites, groups), real clients (openssl s_client,
curl) and garbage instead of a ClientHello."""

import os
import random
import re
import socket
import ssl
import subprocess
import threading
import time

import pytest

import backends
import ghutil
from ghutil import client_context, recv_exact, scaled, tls_connect, wait_closed

TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256"}


def echo_roundtrip(s, payload=b"ping over tls\n"):
    s.sendall(payload)
    assert recv_exact(s, len(payload)) == payload


class LocalTLSServer:
    """A one-shot python TLS server, used to prove that a client context
    really offers what a test means it to offer (so a refusal by gatehouse
    is not a client-side configuration failure)."""

    def __init__(self, certfile, keyfile, configure):
        self.sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.sctx.load_cert_chain(str(certfile), str(keyfile))
        configure(self.sctx)
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.lsock.settimeout(10)
        self.port = self.lsock.getsockname()[1]
        self.error = None
        self.t = threading.Thread(target=self._serve, daemon=True)
        self.t.start()

    def _serve(self):
        try:
            conn, _ = self.lsock.accept()
            conn.settimeout(10)
            with self.sctx.wrap_socket(conn, server_side=True) as s:
                s.recv(1)
        except Exception as e:  # noqa: BLE001
            self.error = e

    def close(self):
        self.lsock.close()
        self.t.join(timeout=5)


def check_client_works(certfile, keyfile, configure, cctx):
    srv = LocalTLSServer(certfile, keyfile, configure)
    try:
        with tls_connect(srv.port, cctx, timeout=10) as s:
            s.sendall(b"x")
            return s.version(), s.cipher()[0]
    finally:
        srv.close()


# ----------------------------------------------------------- versions


def test_tls13_handshake(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo))
    ctx = client_context(certs.ca, min_version=ssl.TLSVersion.TLSv1_3,
                         max_version=ssl.TLSVersion.TLSv1_3)
    with tls_connect(gh.port, ctx) as s:
        assert s.version() == "TLSv1.3"
        assert s.cipher()[0] in TLS13_SUITES
        echo_roundtrip(s)


@pytest.mark.parametrize("cert", ["ec", "rsa"])
def test_tls12_handshake_ecdhe_aead(gatehouse, backend, certs, cert):
    gh = gatehouse(backend(backends.Echo), cert_kind=cert)
    ctx = client_context(certs.ca, min_version=ssl.TLSVersion.TLSv1_2,
                         max_version=ssl.TLSVersion.TLSv1_2)
    with tls_connect(gh.port, ctx) as s:
        assert s.version() == "TLSv1.2"
        name = s.cipher()[0]
        auth = "ECDSA" if cert == "ec" else "RSA"
        assert name.startswith(f"ECDHE-{auth}-"), name
        assert "GCM" in name or "CHACHA20-POLY1305" in name, name
        echo_roundtrip(s)


def test_tls12_server_prefers_configured_order(gatehouse, backend, certs):
    """ciphers = preference order: the client offers CHACHA20 first, the
    server's list puts AES256-GCM first and AES256-GCM must be chosen."""
    gh = gatehouse(backend(backends.Echo),
                   ciphers="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305")
    ctx = client_context(certs.ca, max_version=ssl.TLSVersion.TLSv1_2,
                         ciphers="ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384")
    with tls_connect(gh.port, ctx) as s:
        assert s.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"


def test_tls13_ciphersuites_key_restricts(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo), ciphersuites="TLS13-AES256-GCM-SHA384")
    ctx = client_context(certs.ca, min_version=ssl.TLSVersion.TLSv1_3)
    with tls_connect(gh.port, ctx) as s:
        assert s.cipher()[0] == "TLS_AES_256_GCM_SHA384"
        echo_roundtrip(s)


def test_tls_min_version_13(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo), tls_min_version="1.3")
    ctx12 = client_context(certs.ca, max_version=ssl.TLSVersion.TLSv1_2)
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with tls_connect(gh.port, ctx12) as s:
            echo_roundtrip(s)
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        assert s.version() == "TLSv1.3"
        echo_roundtrip(s)


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_old_tls_versions_refused(gatehouse, backend, certs, version):
    v = getattr(ssl.TLSVersion, version)
    ctx = client_context(certs.ca, min_version=v, max_version=v,
                         ciphers="DEFAULT:@SECLEVEL=0")

    def allow_old(sctx):
        sctx.minimum_version = v
        sctx.set_ciphers("DEFAULT:@SECLEVEL=0")

    # the client context really speaks this version
    assert check_client_works(certs.ec_crt, certs.ec_key, allow_old, ctx)[0] in (
        "TLSv1", "TLSv1.1")

    sink = backend(backends.SinkHash, reply=False)
    gh = gatehouse(sink)
    mark = gh.mark()
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with tls_connect(gh.port, ctx) as s:
            s.sendall(b"should never reach the backend")
            s.recv(1)
    gh.wait_event("tls_fail", since=mark)
    gh.assert_alive()
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("suite", ["AES128-GCM-SHA256", "AES256-SHA256",
                                   "ECDHE-RSA-AES128-SHA256", "ECDHE-RSA-AES128-SHA"])
def test_non_pfs_or_non_aead_tls12_suite_refused(gatehouse, backend, certs, suite):
    """A TLS 1.2 client offering only a suite without ECDHE or without AEAD
    (RSA certificate, so the RSA key exchange would be possible)."""
    ctx = client_context(certs.ca, max_version=ssl.TLSVersion.TLSv1_2, ciphers=suite)

    def allow(sctx):
        sctx.maximum_version = ssl.TLSVersion.TLSv1_2
        sctx.set_ciphers(suite)

    assert check_client_works(certs.rsa_crt, certs.rsa_key, allow, ctx)[1] == suite

    gh = gatehouse(backend(backends.Echo), cert_kind="rsa")
    mark = gh.mark()
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with tls_connect(gh.port, ctx) as s:
            echo_roundtrip(s)
    gh.wait_event("tls_fail", since=mark)
    gh.assert_alive()


# ----------------------------------------------------------- openssl CLI


def s_client(port, ca, *args, timeout=15):
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
         "-CAfile", str(ca), "-verify_return_error", "-brief", *args],
        input=b"", capture_output=True, timeout=scaled(timeout))


def test_openssl_s_client_tls13(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo))
    r = s_client(gh.port, certs.ca, "-tls1_3")
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, out
    assert "Protocol version: TLSv1.3" in out, out
    assert "Verification: OK" in out, out
    # default group preference: X25519 first
    assert re.search(r"Temp Key: X25519", out), out


@pytest.mark.parametrize("group,shown", [("X25519", "X25519"), ("P-256", "prime256v1"),
                                         ("P-384", "secp384r1")])
@pytest.mark.parametrize("proto", ["-tls1_3", "-tls1_2"])
def test_groups_accepted(gatehouse, backend, certs, group, shown, proto):
    # TLS 1.2 clients apply their group list to an ECDSA certificate's curve
    # too, so the TLS 1.2 case uses the RSA certificate.
    gh = gatehouse(backend(backends.Echo), cert_kind="rsa" if proto == "-tls1_2" else "ec")
    r = s_client(gh.port, certs.ca, proto, "-groups", group)
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode == 0, out
    assert re.search(rf"Temp Key: .*{shown}", out), out


@pytest.mark.parametrize("group", ["P-521", "ffdhe2048"])
def test_groups_not_configured_refused(gatehouse, backend, certs, group):
    gh = gatehouse(backend(backends.Echo))
    r = s_client(gh.port, certs.ca, "-tls1_3", "-groups", group)
    out = (r.stdout + r.stderr).decode(errors="replace")
    assert r.returncode != 0, out
    assert "CONNECTION ESTABLISHED" not in out, out
    gh.assert_alive()


def test_groups_key_restricts(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo), groups="P-384")
    ok = s_client(gh.port, certs.ca, "-tls1_3", "-groups", "P-384:X25519")
    out = (ok.stdout + ok.stderr).decode(errors="replace")
    assert ok.returncode == 0 and "secp384r1" in out, out
    bad = s_client(gh.port, certs.ca, "-tls1_3", "-groups", "X25519")
    out = (bad.stdout + bad.stderr).decode(errors="replace")
    assert bad.returncode != 0 and "CONNECTION ESTABLISHED" not in out, out


# ----------------------------------------------------------- curl + demo


@pytest.mark.parametrize("how", ["cacert-ip", "cacert-localhost", "insecure", "tls12-rsa"])
def test_curl_through_demo_backend(gatehouse, demo_backend, certs, how):
    gh = gatehouse(demo_backend.addr, cert_kind="rsa" if how == "tls12-rsa" else "ec")
    host = "localhost" if how == "cacert-localhost" else "127.0.0.1"
    args = ["curl", "-sS", "--max-time", str(int(scaled(15))),
            "-o", "-", "-w", "\nHTTPCODE=%{http_code}\n"]
    if how == "insecure":
        args.append("--insecure")
    else:
        args += ["--cacert", str(certs.ca)]
    if how == "tls12-rsa":
        args += ["--tlsv1.2", "--tls-max", "1.2"]
    args.append(f"https://{host}:{gh.port}/hello/world?q=1")
    r = subprocess.run(args, capture_output=True, text=True, timeout=scaled(30))
    assert r.returncode == 0, r.stderr
    assert "HTTPCODE=200" in r.stdout, r.stdout
    assert "demo backend" in r.stdout, r.stdout
    assert "GET /hello/world?q=1 HTTP/1.1" in r.stdout, r.stdout


def test_curl_keepalive_several_requests(gatehouse, demo_backend, certs):
    """Three requests that curl sends over one kept-alive connection."""
    gh = gatehouse(demo_backend.addr)
    url = f"https://127.0.0.1:{gh.port}/"
    r = subprocess.run(["curl", "-sS", "--cacert", str(certs.ca), "--max-time", "20",
                        url + "a", url + "b", url + "c"],
                       capture_output=True, text=True, timeout=scaled(30))
    assert r.returncode == 0, r.stderr
    for p in "abc":
        assert f"GET /{p} HTTP/1.1" in r.stdout, r.stdout
    ghutil.wait_until(lambda: gh.events("conn_close"), scaled(5), what="conn_close")
    time.sleep(0.2)
    assert len(gh.events("conn_close")) == 1, gh.events("conn_close")


def test_curl_wrong_ca_fails(gatehouse, demo_backend, certs, tmp_path):
    """The certificate check is real: another CA does not verify it."""
    gh = gatehouse(demo_backend.addr)
    other = tmp_path / "other-ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(tmp_path / "o.key"),
                    "-out", str(other), "-days", "1", "-subj", "/CN=other"],
                   check=True, capture_output=True, timeout=30)
    r = subprocess.run(["curl", "-sS", "--cacert", str(other), "--max-time", "15",
                        f"https://127.0.0.1:{gh.port}/"], capture_output=True, text=True,
                       timeout=scaled(30))
    assert r.returncode != 0


def test_full_chain_cert_served(gatehouse, backend, certs):
    """cert = leaf + CA chain file works."""
    gh = gatehouse(backend(backends.Echo), cert=str(certs.ec_chain))
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        echo_roundtrip(s)


@pytest.mark.parametrize("kind", ["ec_key_sec1", "rsa_key_pkcs1"])
def test_traditional_pem_keys(gatehouse, backend, certs, kind):
    crt = certs.ec_crt if kind.startswith("ec") else certs.rsa_crt
    gh = gatehouse(backend(backends.Echo), cert=str(crt), key=str(getattr(certs, kind)))
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        echo_roundtrip(s)


# ----------------------------------------------------------- garbage


def _garbage():
    data = bytearray(random.Random(1234).randbytes(4096))
    data[0] = 0x42   # not a TLS record type, not an SSLv2 header
    return bytes(data)


@pytest.mark.parametrize("payload", [
    pytest.param(_garbage(), id="random-bytes"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: test\r\n\r\n", id="plain-http"),
    pytest.param(b"\x16\x03\x01\xff\xff" + bytes(200), id="oversized-record"),
    pytest.param(b"\x16\x03\x01\x00\x30" + b"\x01\x00\x00\x2c" + bytes(44), id="zeroed-hello"),
])
def test_garbage_instead_of_client_hello(gatehouse, backend, certs, payload):
    sink = backend(backends.SinkHash, reply=False)
    gh = gatehouse(sink, handshake_timeout="30s")
    mark = gh.mark()
    with socket.create_connection(("127.0.0.1", gh.port), timeout=scaled(10)) as s:
        s.sendall(payload)
        secs, data, how = wait_closed(s, timeout=5)
    assert not data.startswith(b"HTTP/"), data[:100]
    fail = gh.wait_event("tls_fail", since=mark)
    # the reason is wolfSSL's error text, quoted once: readable words, no
    # escaped quotes or backslashes piling up
    reason = fail.get("reason", "")
    assert re.fullmatch(r"[A-Za-z0-9 _.,:()/'=-]+", reason), fail
    cc = gh.wait_event("conn_close", since=mark)
    assert cc.get("reason") == "tls_error", cc
    # nothing reached the backend
    while not sink.results.empty():
        assert sink.results.get()["n"] == 0
    gh.assert_alive()
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        s.sendall(b"after garbage")
    r = sink.get_result(timeout=scaled(10))
    while r["n"] == 0:
        r = sink.get_result(timeout=scaled(10))
    assert r["n"] == len(b"after garbage")


def test_client_closes_mid_handshake(gatehouse, backend, certs):
    """A client that sends half a ClientHello then closes: gatehouse cleans
    up and keeps serving."""
    gh = gatehouse(backend(backends.Echo))
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", gh.port), timeout=5) as s:
            s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(20))
    ghutil.wait_until(lambda: len(gh.events("conn_close")) >= 3, scaled(5),
                      what="3 conn_close events")
    gh.assert_alive()
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        echo_roundtrip(s)
