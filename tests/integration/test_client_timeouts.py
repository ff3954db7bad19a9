"""Waits on the client (issue 12, abuse by one client): request_timeout and
keepalive_timeout (no byte of a request), body_timeout / min_body_rate (a
dripped body, held or streamed) and send_timeout (a client that does not
read). Bounded: every timeout here is a few hundred milliseconds."""

import socket
import time

import pytest

import backends
import http_backends as hb
from ghutil import client_context, scaled, tls_connect, wait_closed
from test_http import HOST, HttpClient, assert_reject, req_bytes, wait_backend_bytes
from test_http_bodies import _check_config, assert_refused_at_key
from test_http_pairing import SlowReader, audit_events, audit_requests, start_http

# long enough never to be what ends a test below
LONG = {"idle_timeout": "30s", "header_timeout": "10s", "request_timeout": "10s",
        "keepalive_timeout": "10s", "body_timeout": "10s", "send_timeout": "10s"}


def listener(**short):
    o = dict(LONG)
    o.update(short)
    return o


def close_reason(gh, since):
    return gh.wait_event("conn_close", since=since)["reason"]


# ------------------------------------------------ no byte of a request

def test_request_timeout_closes_a_silent_client(gatehouse, backend, certs, tmp_path):
    """Handshake done, nothing sent: closed after request_timeout, not
    idle_timeout, without a 408 (nothing was asked), and the backend is
    never contacted."""
    be = backend(hb.RecordingBackend)
    gh = start_http(gatehouse, be.addr, tmp_path / "audit.jsonl",
                    **listener(request_timeout="300ms"))
    mark = gh.mark()
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        elapsed, data, how = wait_closed(s, timeout=5)
    assert data == b"", data
    assert 0.2 <= elapsed < scaled(2), elapsed
    assert close_reason(gh, mark) == "request_timeout"
    assert be.conn_count() == 0


def test_request_timeout_default_is_short(gatehouse, backend, certs):
    """With no timeout key set (idle_timeout 5m), a silent client is gone
    after the 10 s default, not held for idle_timeout."""
    be = backend(hb.RecordingBackend)
    gh = gatehouse(be.addr, mode="http")
    mark = gh.mark()
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        elapsed, data, how = wait_closed(s, timeout=20)
    assert data == b"", data
    assert 9 <= elapsed < scaled(13), elapsed
    assert close_reason(gh, mark) == "request_timeout"


def test_request_timeout_does_not_cut_a_started_head(gatehouse, backend, ctx):
    """Once the first byte came, header_timeout governs the head."""
    be = backend(hb.RecordingBackend)
    gh = gatehouse(be.addr, mode="http", **listener(request_timeout="300ms"))
    with HttpClient(gh.port, ctx) as c:
        c.send(b"GET /slow HTTP/1.1\r\n")
        time.sleep(0.8)
        c.send(f"{HOST}\r\n\r\n".encode())
        assert c.read_response().status == 200


def test_keepalive_timeout_closes_between_requests(gatehouse, backend, ctx):
    """After a complete response the next request has keepalive_timeout to
    begin; the connection then ends silently (close_notify, no 408)."""
    be = backend(hb.RecordingBackend)
    gh = gatehouse(be.addr, mode="http", **listener(keepalive_timeout="300ms"))
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /one HTTP/1.1", HOST))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        rest, how = c.read_to_end()
        elapsed = time.monotonic() - t0
    assert rest == b"" and how == "close_notify", (rest, how)
    assert 0.2 <= elapsed < scaled(2), elapsed
    assert close_reason(gh, mark) == "keepalive_timeout"


def test_each_wait_has_its_own_key(gatehouse, backend, ctx):
    """A short request_timeout does not shorten the wait between requests,
    a short keepalive_timeout not the wait for the first one."""
    be = backend(hb.RecordingBackend)
    gh = gatehouse(be.addr, mode="http", **listener(request_timeout="300ms"))
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /one HTTP/1.1", HOST))
        assert c.read_response().status == 200
        time.sleep(0.8)
        c.send(req_bytes("GET /two HTTP/1.1", HOST))
        assert c.read_response().status == 200
    gh = gatehouse(be.addr, mode="http", **listener(keepalive_timeout="300ms"))
    with HttpClient(gh.port, ctx) as c:
        time.sleep(0.8)
        c.send(req_bytes("GET /three HTTP/1.1", HOST))
        assert c.read_response().status == 200


# ------------------------------------------------ a dripped body

def drip(c, data, gap):
    for i in range(len(data)):
        try:
            c.send(data[i:i + 1])
        except OSError:
            return
        time.sleep(gap)


def test_held_body_dripped_gets_408(gatehouse, backend, ctx, tmp_path):
    """A body that fits max_held_request, one byte per 0.6 s with
    body_timeout 300ms: 408, a reject entry, nothing reaches the backend."""
    audit = tmp_path / "audit.jsonl"
    be = backend(hb.RecordingBackend)
    gh = start_http(gatehouse, be.addr, audit, **listener(body_timeout="300ms"))
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /drip HTTP/1.1", HOST, "Content-Length: 10", body=b"a"))
        t0 = time.monotonic()
        c.sock.settimeout(scaled(0.6))
        resp = None
        for _ in range(10):
            time.sleep(0.6)
            try:
                resp = c.read_response()
                break
            except (socket.timeout, TimeoutError):
                c.sock.settimeout(scaled(5))
                c.send(b"b")
                c.sock.settimeout(scaled(0.6))
        elapsed = time.monotonic() - t0
    assert resp is not None, "no answer to a dripped body"
    assert_reject(resp, 408)
    assert elapsed < scaled(3), elapsed
    gh.wait_event("reject", since=mark, rule="body_timeout", status="408")
    assert close_reason(gh, mark) == "body_timeout"
    rej = [e for e in audit_events(audit, "reject") if e["reason"] == "body_timeout"]
    assert len(rej) == 1 and rej[0]["status"] == 408, rej
    assert be.conn_count() == 0 and not be.all_requests()


def test_streamed_body_dripped_gets_408_and_its_request_entry(gatehouse, backend, ctx,
                                                              tmp_path):
    """Streamed (max_held_request = 0): the head went to the backend, the
    drip is cut with a 408, the request entry says refused/408."""
    audit = tmp_path / "audit.jsonl"
    be = backend(hb.RecordingBackend)
    gh = start_http(gatehouse, be.addr, audit,
                    **listener(body_timeout="300ms", max_held_request="0"))
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /stream HTTP/1.1", HOST, "Content-Length: 100",
                         body=b"x" * 10))
        wait_backend_bytes(be, lambda raw: raw.endswith(b"\r\n\r\n" + b"x" * 10), "the head")
        c.sock.settimeout(scaled(5))
        resp = c.read_response()  # no more bytes sent: the period brings none
    assert_reject(resp, 408)
    (req,) = audit_requests(audit, 1)
    assert req["outcome"] == "refused" and req["status"] == 408, req
    assert req["request_body"] == 10, req
    rej = [e for e in audit_events(audit, "reject") if e["reason"] == "body_timeout"]
    assert len(rej) == 1 and rej[0]["status"] == 408, rej
    conn = be.wait_conn_closed(0)
    assert not conn.requests[0].complete


def test_min_body_rate_cuts_a_slow_trickle(gatehouse, backend, ctx):
    """10 bytes every 0.1 s (100 B/s) under min_body_rate = 1k: each 300ms
    period brings 30 of the 300 bytes it needs."""
    be = backend(hb.RecordingBackend)
    gh = gatehouse(be.addr, mode="http",
                   **listener(body_timeout="300ms", min_body_rate="1k"))
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /slow HTTP/1.1", HOST, "Content-Length: 2000"))
        t0 = time.monotonic()
        c.sock.settimeout(scaled(5))
        for _ in range(30):
            try:
                c.send(b"y" * 10)
            except OSError:
                break
            time.sleep(0.1)
            if gh.events("reject", since=mark, rule="body_timeout"):
                break
        resp = c.read_response()
    assert_reject(resp, 408)
    assert time.monotonic() - t0 < scaled(2.5)
    assert not be.all_requests()


def test_body_that_keeps_up_is_not_cut(gatehouse, backend, ctx):
    """A byte every 0.1 s for 2 s with body_timeout 600ms and no minimum
    rate: each period brings something, the request completes although
    the whole body took three periods."""
    be = backend(hb.RecordingBackend)
    gh = gatehouse(be.addr, mode="http", **listener(body_timeout="600ms", min_body_rate="0"))
    body = b"0123456789abcdefghij"
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /ok HTTP/1.1", HOST, f"Content-Length: {len(body)}"))
        drip(c, body, 0.1)
        assert c.read_response().status == 200
    assert be.wait_requests(1)[0].body == body


# ------------------------------------------------ a client that does not read

BIG = 4 << 20


def big_response(req):
    return hb.ok(req, body=b"z" * BIG)


def test_send_timeout_http(gatehouse, backend, ctx, tmp_path):
    """Pipelined requests for large responses, never read: the connection
    ends after send_timeout (not idle_timeout), the request is audited
    client_abort."""
    audit = tmp_path / "audit.jsonl"
    be = backend(hb.RecordingBackend, respond=big_response)
    gh = start_http(gatehouse, be.addr, audit, **listener(send_timeout="300ms"))
    mark = gh.mark()
    c = SlowReader(gh.port, ctx)
    try:
        c.send(req_bytes("GET /a HTTP/1.1", HOST) + req_bytes("GET /b HTTP/1.1", HOST))
        t0 = time.monotonic()
        gh.wait_event("conn_close", since=mark, timeout=scaled(5))
        elapsed = time.monotonic() - t0
    finally:
        c.close()
    assert close_reason(gh, mark) == "send_timeout"
    assert elapsed < scaled(3), elapsed
    (req,) = audit_requests(audit, 1)
    assert req["outcome"] == "client_abort", req


def test_send_timeout_tcp(gatehouse, backend, certs):
    """tcp mode too: a backend that sends 8 MB to a client that reads
    nothing."""
    gh = gatehouse(backend(backends.Source, b"s" * (8 << 20)), idle_timeout="30s",
                   send_timeout="300ms")
    mark = gh.mark()
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.settimeout(scaled(5))
    raw.connect(("127.0.0.1", gh.port))
    s = client_context(certs.ca).wrap_socket(raw, server_hostname="localhost")
    try:
        t0 = time.monotonic()
        gh.wait_event("conn_close", since=mark, timeout=scaled(5))
        elapsed = time.monotonic() - t0
    finally:
        s.close()
    assert close_reason(gh, mark) == "send_timeout"
    assert elapsed < scaled(3), elapsed


def test_slow_reader_that_reads_is_not_cut(gatehouse, backend, ctx):
    """send_timeout counts time without progress, not the whole response:
    1 MiB read in 64 KiB steps 0.1 s apart (1.6 s) with send_timeout 600ms."""
    size = 1 << 20
    be = backend(hb.RecordingBackend, respond=lambda req: hb.ok(req, body=b"r" * size))
    gh = gatehouse(be.addr, mode="http", **listener(send_timeout="600ms"))
    c = SlowReader(gh.port, ctx)
    try:
        c.send(req_bytes("GET /big HTTP/1.1", HOST))
        got = 0
        head = b""
        while b"\r\n\r\n" not in head:
            head += c.sock.recv(4096)
        got = len(head.split(b"\r\n\r\n", 1)[1])
        while got < size:
            time.sleep(0.1)
            chunk = c.sock.recv(64 << 10)
            assert chunk, f"closed after {got} bytes"
            got += len(chunk)
    finally:
        c.close()
    assert got == size


# ------------------------------------------------ config

BAD_KEYS = {
    "request_zero": ({"request_timeout": "0"}, "request_timeout"),
    "keepalive_negative": ({"keepalive_timeout": "-1s"}, "keepalive_timeout"),
    "body_word": ({"body_timeout": "soon"}, "body_timeout"),
    "send_zero": ({"send_timeout": "0s"}, "send_timeout"),
    "rate_word": ({"min_body_rate": "fast"}, "min_body_rate"),
    "tcp_request": ({"mode": "tcp", "request_timeout": "5s"}, "request_timeout"),
    "tcp_keepalive": ({"mode": "tcp", "keepalive_timeout": "5s"}, "keepalive_timeout"),
    "tcp_body": ({"mode": "tcp", "body_timeout": "5s"}, "body_timeout"),
    "tcp_rate": ({"mode": "tcp", "min_body_rate": "1k"}, "min_body_rate"),
}


@pytest.mark.parametrize("name", list(BAD_KEYS))
def test_timeout_keys_refused_with_file_line(tmp_path, certs, name):
    assert_refused_at_key(tmp_path, certs, *BAD_KEYS[name])


def test_timeout_keys_accepted(tmp_path, certs):
    for opts in ({"request_timeout": "2s", "keepalive_timeout": "1m", "body_timeout": "30s",
                  "min_body_rate": "0", "send_timeout": "2m"},
                 {"mode": "tcp", "send_timeout": "5s"}):
        _, r = _check_config(tmp_path, certs, **opts)
        assert r.returncode == 0, (opts, r.stderr)
