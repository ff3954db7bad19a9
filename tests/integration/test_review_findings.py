"""Findings of the outside review of the backend-reuse resend (commit
6b2fb92) and the memory give-back (commits 1575d0b, 4447aab).

Each test fails on the code before its fix."""

import os
import socket
import struct
import time

import pytest

import http_backends as hb
import proxyproto
from ghutil import scaled
from test_http import HttpClient
from test_http_conformance import closing_with_fin, get, post, read_answers


def ctxt_switches(pid):
    """Voluntary context switches of every thread of pid: a process blocked
    in epoll_wait with nothing to do makes none."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total


def test_memory_timer_stops_on_an_idle_worker_with_open_connections(gatehouse, backend, ctx):
    """The memory timer (1 s) stops once the pools are at their floor and
    nothing closed during an interval. Two keep-alive connections stay
    open and idle, a third closes: the worker then has nothing to do and
    must block in epoll_wait. Before the fix the close count was only reset
    by a heap trim, which needs the worker to be "quieter" (half or fewer of
    its peak open): with 2 of a peak of 3 open it never was, and the timer
    woke the idle worker every second for as long as the two stayed open."""
    be = backend(hb.RecordingBackend)
    gh = gatehouse(be, mode="http", idle_timeout="5m")   # keepalive_timeout: 15 s
    stay = [HttpClient(gh.port, ctx), HttpClient(gh.port, ctx)]
    try:
        for c in stay:
            c.send(get("/keep"))
            assert read_answers(c, 1)[0].status == 200
        with HttpClient(gh.port, ctx) as c:
            c.send(get("/once"))
            assert read_answers(c, 1)[0].status == 200
        # the close starts the timer; let its intervals run their course
        # (pool shrink, then a quiet interval)
        time.sleep(scaled(4))
        before = ctxt_switches(gh.pid)
        time.sleep(scaled(3.5))
        woke = ctxt_switches(gh.pid) - before
        assert woke <= 1, f"idle worker woke {woke} times in {scaled(3.5):.1f} s"
    finally:
        for c in stay:
            c.close()


# ------------------------------------------ a refusal behind requests in flight

BAD_REQUEST = b"GET /bad\x01 HTTP/1.1\r\nHost: x\r\n\r\n"


class ResetAfterFirst(hb.RecordingBackend):
    """Answers the first request of each connection, then resets it
    (SO_LINGER 0): what gatehouse sends after that is never read."""

    def _serve(self, sock, conn):
        while not conn.requests or not conn.requests[0].complete:
            self._more(sock, conn)
        sock.sendall(hb.ok(conn.requests[0]).raw)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


@pytest.mark.parametrize("end", ["fin", "reset"])
def test_refusal_behind_a_failed_request_is_not_its_answer(gatehouse, backend, ctx, end):
    """GET /a, a POST and a malformed request, pipelined. The backend
    answers /a and ends its connection (a FIN with the response, or a
    reset) without answering the POST. The client pairs responses by
    order: the second one it reads is the POST's answer. It must be a 502
    (the backend failed it), never the 400 meant for the malformed request
    behind it, and it must come at once.
    Before the fix: with a reset the client read the 400 as the POST's
    answer; with a FIN the backend's end was ignored while the refusal was
    pending (close_after_flush) and the client got nothing until
    idle_timeout."""
    be = backend(hb.RecordingBackend, closing_with_fin) if end == "fin" \
        else backend(ResetAfterFirst)
    gh = gatehouse(be, mode="http", idle_timeout="10s")
    started = time.monotonic()
    with HttpClient(gh.port, ctx, timeout=scaled(20)) as c:
        c.send(get("/a") + post("/p", b"x" * 100) + BAD_REQUEST)
        got = read_answers(c, 3)
    took = time.monotonic() - started
    assert [r.status for r in got] == [200, 502], [r.raw[:80] for r in got]
    assert took < scaled(5), f"the POST's answer took {took:.1f} s"
    gh.wait_for_log(r"event=request\b.*method=POST.*status=502.*outcome=backend_failed")
    # The connection's end was there before the POST's first byte: the POST
    # is not written into it (a backend that shut only its sending side, as
    # this one, would read it and could act on it while the client gets a
    # 502 and may send it again), and it cannot go on a new one.
    be.wait_conn_closed(0)
    with be.cond:
        per_conn = [[(r.method, r.target) for r in conn.requests] for conn in be.connections]
    assert per_conn == [[("GET", "/a")]], per_conn


# --------------------------------- the resend keeps the PROXY header (coverage)

class _Prefixed:
    """A socket whose first reads return bytes already read past a header."""

    def __init__(self, sock, rest):
        self._sock, self._rest = sock, rest

    def recv(self, n, *args):
        if self._rest:
            data, self._rest = self._rest[:n], self._rest[n:]
            return data
        return self._sock.recv(n, *args)

    def __getattr__(self, name):
        return getattr(self._sock, name)


class ProxyHeaderRecording(hb.RecordingBackend):
    """A RecordingBackend behind proxy_protocol: each connection's PROXY
    header is decoded (proxyproto, strict) and kept, then HTTP as usual."""

    def __init__(self, *args, **kwargs):
        self.proxy_headers = []
        super().__init__(*args, **kwargs)

    def handle(self, sock):
        try:
            header, rest = proxyproto.read_header(sock, timeout=scaled(5))
        except (proxyproto.ProxyError, ConnectionError, TimeoutError, OSError) as e:
            self.proxy_headers.append(e)
            sock.close()
            return
        self.proxy_headers.append(header)
        super().handle(_Prefixed(sock, rest))


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_post_resent_on_a_new_connection_gets_its_proxy_header(gatehouse, backend, ctx,
                                                               version):
    """The POST behind GET /a goes on a new backend connection because the
    first one closed (closed_before_sent): that connection, too, starts
    with a whole PROXY header, and carries the POST alone."""
    be = backend(ProxyHeaderRecording, closing_with_fin)
    gh = gatehouse(be, mode="http", proxy_protocol=version)
    with HttpClient(gh.port, ctx) as c:
        c.send(get("/a") + post("/p", b"x" * 100))
        got = read_answers(c, 2)
    assert [(r.status, r.body) for r in got] == [(200, b"GET /a\n"), (200, b"POST /p\n")]
    gh.wait_for_log(r"event=backend_retry\b.*method=POST reason=closed_before_sent")
    for i in range(2):
        be.wait_conn_closed(i)
    assert len(be.proxy_headers) == 2, be.proxy_headers
    assert all(isinstance(h, proxyproto.Header) for h in be.proxy_headers), be.proxy_headers
    with be.cond:
        per_conn = [[(r.method, r.target, r.body) for r in conn.requests]
                    for conn in be.connections]
    assert per_conn == [[("GET", "/a", b"")], [("POST", "/p", b"x" * 100)]], per_conn


# ------------------------- nothing after a close-delimited response (6b2fb92)

def close_delimited_a(req):
    """/a: a close-delimited response (no length: its end is the
    connection's end), its FIN with its last bytes or after them; anything
    else: an ordinary keep-alive answer."""
    if req.target == "/a":
        return hb.Response(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil-close",
                           close=True, fin_with_data=close_delimited_a.fin_with_data,
                           delay=0.4)
    return hb.ok(req)


@pytest.mark.parametrize("fin_with_data", [True, False], ids=["fin_with_data", "fin_after"])
def test_nothing_is_glued_after_a_close_delimited_body(gatehouse, backend, ctx, monkeypatch,
                                                       fin_with_data):
    """On a reused backend connection, GET /a is answered with a
    close-delimited body; the client pipelined a POST behind it (it waits
    behind the kept head of /a). The close that ends /a's body is the end
    of the client's connection too: the POST is never answered and never
    reaches any backend. Before the fix, 6b2fb92 found the backend closed
    before the POST's first byte and sent it on a new connection
    (closed_before_sent): its response went to the client inside /a's
    body ("until-closeHTTP/1.1 200 OK..."), a response the client cannot
    tell from /a's bytes, for a POST the backend did execute. (On main the
    client got /a's end only at idle_timeout.)"""
    monkeypatch.setattr(close_delimited_a, "fin_with_data", fin_with_data, raising=False)
    be = backend(hb.RecordingBackend, close_delimited_a)
    gh = gatehouse(be, mode="http", idle_timeout="10s")
    with HttpClient(gh.port, ctx, timeout=scaled(20)) as c:
        c.send(get("/0"))
        assert read_answers(c, 1)[0].status == 200
        started = time.monotonic()
        c.send(get("/a"))
        time.sleep(0.1)
        c.send(post("/p", b"x" * 100))
        got = read_answers(c, 2)
        took = time.monotonic() - started
    assert [(r.status, r.body) for r in got] == [(200, b"until-close")], \
        [r.raw[:120] for r in got]
    assert took < scaled(5), f"/a's end came after {took:.1f} s"
    be.wait_conn_closed(0)
    time.sleep(scaled(0.3))
    with be.cond:
        per_conn = [[(r.method, r.target) for r in conn.requests] for conn in be.connections]
    assert per_conn == [[("GET", "/0"), ("GET", "/a")]], per_conn
