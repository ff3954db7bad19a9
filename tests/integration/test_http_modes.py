"""mode = redirect (plaintext, 308 to https) and CONNECT tunnels in
mode = http."""

import socket
import threading

import pytest

import backends
from ghutil import Gatehouse, free_port, recv_exact, render_ini, run_gatehouse, scaled, tls_connect


def plain_exchange(port, request, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while True:
            d = s.recv(65536)
            if not d:
                return data
            data += d


@pytest.fixture
def redirect_listener(tmp_path):
    started = []

    def start(**opts):
        port = free_port()
        o = {"listen": f"127.0.0.1:{port}", "mode": "redirect"}
        o.update(opts)
        ini = tmp_path / f"redirect-{len(started)}.ini"
        ini.write_text(render_ini({"shutdown_grace": "1s"}, {"plain": o}))
        gh = Gatehouse(ini, tmp_path / f"redirect-{len(started)}.log",
                       tmp_path / f"redirect-{len(started)}.out", {"plain": port})
        started.append(gh)
        gh.wait_ready()
        return gh

    yield start
    for gh in started:
        gh.stop()
        assert not gh.sanitizer_report(), gh.sanitizer_report()


def test_redirect_to_https_same_host_and_target(redirect_listener):
    gh = redirect_listener()
    resp = plain_exchange(gh.port, b"GET /a/b?c=d HTTP/1.1\r\nHost: example.com:80\r\n\r\n")
    head = resp.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 308 Permanent Redirect\r\n"), resp
    assert b"\r\nLocation: https://example.com/a/b?c=d\r\n" in head, resp
    assert b"\r\nConnection: close" in head
    gh.wait_event("redirect")


def test_redirect_port_in_location(redirect_listener):
    gh = redirect_listener(redirect_port=8443)
    resp = plain_exchange(gh.port, b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert b"\r\nLocation: https://example.com:8443/\r\n" in resp, resp


@pytest.mark.parametrize("request_bytes,status", [
    (b"GET / HTTP/1.1\r\n\r\n", b"400"),                                  # no Host
    (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", b"400"),                    # bad Host
    (b"GET / HTTP/1.1\nHost: example.com\n\n", b"400"),                  # bare LF
    (b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n", b"400"),  # not origin-form
])
def test_redirect_refuses_what_it_cannot_redirect_safely(redirect_listener, request_bytes, status):
    gh = redirect_listener()
    resp = plain_exchange(gh.port, request_bytes)
    assert resp.startswith(b"HTTP/1.1 " + status), resp
    assert b"Location:" not in resp


@pytest.mark.parametrize("key,value", [("cert", "/nonexistent.pem"), ("backend", "127.0.0.1:1"),
                                       ("tls_min_version", "1.3")])
def test_redirect_listener_rejects_tls_and_backend_keys(tmp_path, key, value):
    ini = tmp_path / "r.ini"
    ini.write_text(render_ini({}, {"plain": {"listen": "127.0.0.1:18099", "mode": "redirect",
                                             key: value}}))
    r = run_gatehouse(["-t", "-c", str(ini)])
    assert r.returncode == 1
    assert f"{ini}:" in r.stderr and f": {key}: not used by a plaintext redirect listener" in r.stderr


class ConnectTarget(backends.Backend):
    """Answers one CONNECT with 200, then echoes the tunnel."""

    def handle(self, conn):
        conn.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head:
            d = conn.recv(4096)
            if not d:
                return
            head += d
        head, rest = head.split(b"\r\n\r\n", 1)
        self.results.put({"head": head, "early": rest})
        conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        if rest:
            conn.sendall(rest)
        while True:
            d = conn.recv(65536)
            if not d:
                break
            conn.sendall(d)


def test_connect_tunnel_when_allowed(gatehouse, backend, certs):
    from ghutil import client_context
    b = backend(ConnectTarget)
    gh = gatehouse(b, mode="http", allow_methods="CONNECT, GET")
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        # tunnel bytes sent before the answer must wait for it, not be
        # parsed as a request
        s.sendall(b"CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n"
                  b"early bytes\n")
        answer = recv_exact(s, len(b"HTTP/1.1 200 Connection established\r\n\r\n"))
        assert answer.startswith(b"HTTP/1.1 200")
        assert recv_exact(s, len(b"early bytes\n")) == b"early bytes\n"
        s.sendall(b"\x00\x01 not http at all \xff\r\n")
        assert recv_exact(s, 22) == b"\x00\x01 not http at all \xff\r\n"
    got = b.get_result(timeout=scaled(5))
    assert got["head"].startswith(b"CONNECT db.internal:5432 HTTP/1.1\r\n")


def test_connect_refused_by_default(gatehouse, backend, certs):
    from ghutil import client_context
    b = backend(ConnectTarget)
    gh = gatehouse(b, mode="http")
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        s.sendall(b"CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n")
        data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n"), data
    assert b.accepted == 0
