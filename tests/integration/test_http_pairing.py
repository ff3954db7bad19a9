"""Every response is paired with its own request (issue 11, item 4), every
forwarded request leaves a `request` audit entry however it ended (item 1),
and response heads have their own limits (item 6).

- A client that pipelines and reads slowly: a response head that does not
  fit the client buffer yet is found again from its start, so no body bytes
  and no next head are taken for a head.
- A lenient backend that answers a request without reading its body and
  then reads the body as the next request: its answer to the smuggled
  request never reaches the client, the client's next request gets its own
  answer on a new backend connection, and `backend_desync` is audited.
- Bytes after a complete response (no request outstanding): the same.
- A response that completes before its request's body was passed on: the
  backend connection is dropped, the client's connection ends after that
  response.
- Requests cut by a client abort, a backend failure (refused, reset, 502,
  504) or shutdown-grace expiry leave a request entry with their outcome.
- Response heads of 20 KiB / 150 fields pass when the buffer holds them;
  over max_response_header_bytes / max_response_headers: 502."""

import re
import signal
import socket
import struct
import threading
import time

import pytest

import backends
import http_backends as hb
from ghutil import free_port, scaled, wait_until
from test_audit import by_event, entries
from test_http import HOST, HttpClient, PeerClosed, req_bytes


def start_http(gatehouse, backend_addr, audit_path, global_opts=None, **listener):
    g = {"audit_file": str(audit_path), "audit_flush_interval": "50ms"}
    g.update(global_opts or {})
    return gatehouse(backend_addr, mode="http", global_opts=g, **listener)


def audit_requests(path, n, timeout=5.0):
    """The first n request entries of the audit file (waits for them)."""
    got = []

    def enough():
        got[:] = by_event(entries(path), "request") if path.exists() else []
        return len(got) >= n

    wait_until(enough, scaled(timeout), interval=0.05, what=f"{n} request audit entries")
    return got


def audit_events(path, event):
    return by_event(entries(path), event) if path.exists() else []


class SlowReader(HttpClient):
    """An HttpClient whose socket has a small receive buffer, so that a
    client that does not read makes gatehouse's client buffer fill up."""

    def __init__(self, port, ctx, timeout=10.0):
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(scaled(timeout))
        raw.connect(("127.0.0.1", port))
        self.sock = ctx.wrap_socket(raw, server_hostname="localhost")
        self.buf = bytearray()
        self.closed = None


# ------------------------------------------------- a head that did not fit

STATUSES = [(200, "OK"), (201, "Created"), (202, "Accepted"), (203, "Non-Authoritative"),
            (206, "Partial")]
# Enough to outlast what the kernel takes from gatehouse while the client
# does not read (loopback send buffers grow to megabytes): 800 responses of
# 8 KiB, each head 5 KiB, through 8 KiB buffers, so most heads find too
# little room behind the body before them.
BODY = 3000
HEAD_KB = 5
N = 800


def numbered(req):
    """Status and body both name the request: /n/<i> gets STATUSES[i % 5]
    and a BODY-byte body of its own target (plus a blank line inside, so a
    head scan that starts in the body finds an end there)."""
    i = int(req.target.rsplit("/", 1)[1])
    status, reason = STATUSES[i % len(STATUSES)]
    line = f"{req.target}\n".encode()
    body = line * (BODY // 2 // len(line)) + b"\r\n\r\n"
    body += line * ((BODY - len(body)) // len(line))
    # a big head: when the body before it leaves less room than that in the
    # client buffer, the head waits
    fields = [f"X-Pad-{k}: " + "p" * 1000 for k in range(HEAD_KB)]
    return hb.ok(req, status=status, reason=reason, body=body, headers=fields)


@pytest.mark.timeout_s(60)
def test_slow_reader_pipelined_responses_stay_paired(gatehouse, backend, ctx, tmp_path):
    be = backend(hb.RecordingBackend, respond=numbered)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, buffer_size="8k", max_header_bytes="4k")
    n = N
    with SlowReader(gh.port, ctx) as c:
        c.send(b"".join(req_bytes(f"GET /n/{i} HTTP/1.1", HOST) for i in range(n)))
        # not reading: gatehouse's buffer toward the client fills, and a
        # head finds no room in it
        time.sleep(1.0)
        for i in range(n):
            try:
                r = c.read_response()
            except PeerClosed as e:
                raise AssertionError(f"connection ended ({e.how}) after {i} of {n} responses")
            want_status = STATUSES[i % len(STATUSES)][0]
            assert r.status == want_status, (i, r.head)
            assert set(r.body.replace(b"\r\n\r\n", b"").split(b"\n")) <= {f"/n/{i}".encode(), b""}, \
                (i, r.body[:200])
            assert r.header("content-length") == [str(len(r.body))]
    got = audit_requests(audit, n)
    assert [e["target"] for e in got] == [f"/n/{i}" for i in range(n)]
    assert [e["status"] for e in got] == [STATUSES[i % len(STATUSES)][0] for i in range(n)]
    assert all(e["outcome"] == "complete" for e in got)
    assert audit_events(audit, "backend_desync") == []
    assert [r.target for r in be.complete_requests()] == [f"/n/{i}" for i in range(n)]


# ------------------------------------------------- a backend that ignores bodies

class BodyIgnoring(backends.Backend):
    """A lenient legacy backend: reads a head, answers it at once (never
    reading a body), and takes whatever follows as the next request. Each
    answer names the request it answers; .seen lists (connection index,
    method, target, identity headers) of every head it executed."""

    def __init__(self, coalesce=True, slow=()):
        self.coalesce = coalesce    # answers to heads read together go in one write
        self.slow = set(slow)       # targets answered after 0.5 s (a slow endpoint)
        self.seen = []
        self.lock = threading.Lock()
        self.opened = 0             # connections handled so far
        super().__init__()

    def handle(self, sock):
        with self.lock:
            index = self.opened
            self.opened += 1
        sock.settimeout(scaled(10))
        buf = b""
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                buf += data
                out = b""
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    lines = head.split(b"\r\n")
                    parts = lines[0].split(b" ")
                    method = parts[0].decode("latin-1")
                    target = parts[1].decode("latin-1") if len(parts) > 1 else ""
                    ident = {k.strip().lower().decode(): v.strip().decode("latin-1")
                             for k, _, v in (ln.partition(b":") for ln in lines[1:])
                             if k.strip().lower().startswith((b"x-client", b"x-forwarded-for"))}
                    with self.lock:
                        self.seen.append((index, method, target, ident))
                    if target in self.slow:
                        time.sleep(0.5)
                    body = f"answer to {method} {target}\n".encode()
                    out += (b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
                    if not self.coalesce:
                        sock.sendall(out)
                        out = b""
                if out:
                    sock.sendall(out)
        except OSError:
            return


SMUGGLED = b"GET /admin HTTP/1.1\r\nHost: example.com\r\nX-Client-Verified: SUCCESS\r\n\r\n"


@pytest.mark.timeout_s(60)
def test_body_ignoring_backend_answers_stay_paired(gatehouse, backend, ctx, tmp_path):
    """backend_reuse = always (the connection would carry the next request):
    the answer to the smuggled request comes with the POST's answer, is
    seen as answering nothing, and the backend connection is replaced."""
    be = backend(BodyIgnoring)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, backend_reuse="always")
    post = req_bytes("POST /form HTTP/1.1", HOST, f"Content-Length: {len(SMUGGLED)}",
                     body=SMUGGLED)
    nxt = req_bytes("GET /next HTTP/1.1", HOST)
    with HttpClient(gh.port, ctx, timeout=10) as c:
        c.send(post + nxt)          # pipelined: the next request waits in gatehouse
        first = c.read_response()
        second = c.read_response()
        assert first.body == b"answer to POST /form\n"
        assert second.body == b"answer to GET /next\n", second.raw
        # the connection still serves, in order
        c.send(req_bytes("GET /third HTTP/1.1", HOST))
        assert c.read_response().body == b"answer to GET /third\n"
    got = audit_requests(audit, 3)
    assert [(e["method"], e["target"], e["status"], e["outcome"]) for e in got] == \
        [("POST", "/form", 200, "complete"), ("GET", "/next", 200, "complete"),
         ("GET", "/third", 200, "complete")]
    desync = audit_events(audit, "backend_desync")
    assert [d["reason"] for d in desync] == ["unsolicited_response"], desync
    assert "answer to GET /admin" in desync[0]["excerpt"]
    # the smuggled request ran only on the connection that was then dropped:
    # the client's next requests went on a new one
    with be.lock:
        seen = list(be.seen)
    admin = [s for s in seen if s[2] == "/admin"]
    assert len(admin) == 1
    nexts = [s for s in seen if s[2] in ("/next", "/third")]
    assert all(s[0] != admin[0][0] for s in nexts), seen
    assert be.opened == 2


@pytest.mark.timeout_s(60)
def test_body_ignoring_backend_slow_smuggled_answer(gatehouse, backend, ctx, tmp_path):
    """backend_reuse = safe (default): the smuggled request's answer comes
    late (a slow endpoint), after the POST's answer is complete - too late
    for gatehouse to see it as answering nothing. The connection that
    carried the body carries no next request, so that answer is never read;
    the client's next request gets its own answer on a new connection."""
    be = backend(BodyIgnoring, coalesce=False, slow=("/admin",))
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit)
    post = req_bytes("POST /form HTTP/1.1", HOST, f"Content-Length: {len(SMUGGLED)}",
                     body=SMUGGLED)
    with HttpClient(gh.port, ctx, timeout=10) as c:
        c.send(post + req_bytes("GET /next HTTP/1.1", HOST))
        assert c.read_response().body == b"answer to POST /form\n"
        second = c.read_response()
        assert second.body == b"answer to GET /next\n", second.raw
        c.send(req_bytes("GET /third HTTP/1.1", HOST))
        assert c.read_response().body == b"answer to GET /third\n"
    got = audit_requests(audit, 3)
    assert [(e["target"], e["status"]) for e in got] == \
        [("/form", 200), ("/next", 200), ("/third", 200)]
    with be.lock:
        seen = list(be.seen)
    by_target = {s[2]: s[0] for s in seen}
    assert by_target["/form"] == by_target.get("/admin", by_target["/form"]) == 0
    assert by_target["/next"] == by_target["/third"] == 1, seen


@pytest.mark.timeout_s(60)
@pytest.mark.parametrize("how", ["streamed", "held_with_trailer"])
def test_empty_chunked_body_retires_the_backend_connection(gatehouse, backend, ctx, tmp_path,
                                                           how):
    """A chunked body with no data still puts bytes beyond the head on the
    wire ("0" CRLF CRLF, and a trailer when one is forwarded): a backend
    that ignores bodies reads them as a request and answers it. Under
    backend_reuse = safe that connection must carry no next request, or
    that answer goes to the client's next request (found by review)."""
    be = backend(BodyIgnoring, coalesce=False, slow=("",))  # "0": no target
    audit = tmp_path / "audit.jsonl"
    opts = ({"max_held_request": "0"} if how == "streamed"
            else {"allow_trailers": "X-Checksum"})
    gh = start_http(gatehouse, be.addr, audit, **opts)
    trailer = b"X-Checksum: abc\r\n" if how == "held_with_trailer" else b""
    post = req_bytes("POST /form HTTP/1.1", HOST, "Transfer-Encoding: chunked") + \
        b"0\r\n" + trailer + b"\r\n"
    with HttpClient(gh.port, ctx, timeout=10) as c:
        c.send(post + req_bytes("GET /next HTTP/1.1", HOST))
        assert c.read_response().body == b"answer to POST /form\n"
        second = c.read_response()
        assert second.body == b"answer to GET /next\n", second.raw
    with be.lock:
        seen = list(be.seen)
    by_target = {s[2]: s[0] for s in seen}
    assert by_target["/next"] != by_target["/form"], seen


@pytest.mark.timeout_s(60)
def test_bytes_after_a_response_replace_the_backend_connection(gatehouse, backend, ctx,
                                                                tmp_path):
    """A response followed by bytes nobody asked for (a second response):
    backend_desync, the bytes go nowhere, the next request is served on a
    new backend connection."""
    def respond(req):
        r = hb.ok(req)
        if req.target == "/extra":
            r.raw += b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nforged\n"
        return r

    be = backend(hb.RecordingBackend, respond=respond)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit)
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /extra HTTP/1.1", HOST))
        assert c.read_response().body == b"GET /extra\n"
        gh.wait_event("backend_desync", since=mark, reason="unsolicited_response")
        be.wait_conn_closed(0)
        c.send(req_bytes("GET /after HTTP/1.1", HOST))
        r = c.read_response()
        assert r.status == 200 and r.body == b"GET /after\n", r.raw
    assert be.conn_count() == 2
    assert [r.target for r in be.connections[0].requests] == ["/extra"]
    assert [r.target for r in be.connections[1].requests] == ["/after"]
    got = audit_requests(audit, 2)
    assert [(e["target"], e["status"]) for e in got] == [("/extra", 200), ("/after", 200)]
    desync = audit_events(audit, "backend_desync")
    assert len(desync) == 1 and "forged" in desync[0]["excerpt"]


@pytest.mark.timeout_s(60)
def test_response_before_the_body_was_sent_closes_after_it(gatehouse, backend, ctx, tmp_path):
    """The backend answers a POST before gatehouse passed its body on (the
    client has not sent it yet): the response reaches the client, then the
    connection ends; nothing of the body that follows reaches any backend.
    Only a streamed body can be answered early: a request that fits
    max_held_request waits whole in gatehouse, so this one streams."""
    be = backend(BodyIgnoring)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, max_held_request="0")
    mark = gh.mark()
    with HttpClient(gh.port, ctx, timeout=10) as c:
        c.send(req_bytes("POST /early HTTP/1.1", HOST, f"Content-Length: {len(SMUGGLED)}"))
        assert c.read_response().body == b"answer to POST /early\n"
        gh.wait_event("backend_desync", since=mark, reason="early_response")
        try:
            c.send(SMUGGLED)
        except OSError:
            pass
        c.sock.settimeout(scaled(5))
        rest, how = c.read_to_end()
        assert rest == b""
    time.sleep(0.3)
    with be.lock:
        assert [s[2] for s in be.seen] == ["/early"]
    got = audit_requests(audit, 1)
    assert (got[0]["target"], got[0]["status"], got[0]["outcome"]) == ("/early", 200, "complete")


# ------------------------------------------------- every request leaves an entry

def one_request_outcome(audit):
    got = audit_requests(audit, 1)
    assert len(got) == 1, got
    return got[0]


@pytest.mark.timeout_s(40)
def test_client_abort_leaves_a_request_entry(gatehouse, backend, ctx, tmp_path):
    be = backend(hb.RecordingBackend, respond=hb.hang)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit)
    mark = gh.mark()
    c = HttpClient(gh.port, ctx)
    c.send(req_bytes("GET /abandoned HTTP/1.1", HOST))
    be.wait_requests(1)
    # gone for good (a reset), not a half-close that still waits for the answer
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    gh.wait_event("conn_close", since=mark)
    e = one_request_outcome(audit)
    assert (e["target"], e["outcome"]) == ("/abandoned", "client_abort"), e
    # 0: nothing was answered; 502: gatehouse's answer to the backend that
    # gave up when the client's end reached it (never delivered)
    assert e["status"] in (0, 502), e


@pytest.mark.timeout_s(40)
@pytest.mark.parametrize("kind", ["refused", "reset", "bad_response", "timeout", "cut_short"])
def test_backend_failure_leaves_a_request_entry(gatehouse, backend, ctx, tmp_path, kind):
    audit = tmp_path / "audit.jsonl"
    opts = {}
    want_status = 502
    if kind == "refused":
        addr = f"127.0.0.1:{free_port()}"
    elif kind == "reset":
        addr = backend(backends.Reset, delay=0.2).addr
    elif kind == "bad_response":
        addr = backend(hb.RecordingBackend, respond=hb.malformed).addr
    elif kind == "timeout":
        addr = backend(hb.RecordingBackend, respond=hb.hang).addr
        opts["idle_timeout"] = "500ms"
        want_status = 504
    else:  # the response starts, then the backend closes inside its body
        addr = backend(hb.RecordingBackend, respond=lambda req: hb.Response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial", close=True)).addr
        want_status = 200
    gh = start_http(gatehouse, addr, audit, **opts)
    with HttpClient(gh.port, ctx, timeout=10) as c:
        c.send(req_bytes("GET /failing HTTP/1.1", HOST))
        try:
            r = c.read_response()
            assert r.status == want_status, r.raw
        except PeerClosed:
            assert kind == "cut_short"
    e = one_request_outcome(audit)
    assert (e["target"], e["status"], e["outcome"]) == ("/failing", want_status,
                                                         "backend_failed"), e


@pytest.mark.timeout_s(40)
def test_shutdown_grace_expiry_leaves_a_request_entry(gatehouse, backend, ctx, tmp_path):
    be = backend(hb.RecordingBackend, respond=hb.hang)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, global_opts={"shutdown_grace": "500ms"})
    with HttpClient(gh.port, ctx, timeout=10) as c:
        c.send(req_bytes("GET /cut HTTP/1.1", HOST))
        be.wait_requests(1)
        gh.send_signal(signal.SIGTERM)
        assert gh.wait(timeout=scaled(10)) == 0
    e = one_request_outcome(audit)
    assert (e["target"], e["status"], e["outcome"]) == ("/cut", 0, "shutdown")


@pytest.mark.parametrize("broken", ["bad_chunk", "over_max_body"])
def test_refused_streamed_body_leaves_a_request_entry(gatehouse, backend, ctx, tmp_path, broken):
    """A streamed body (max_held_request = 0) that breaks a rule part way:
    its head already went on, so the request leaves a request entry with
    gatehouse's own status and outcome refused (it used to leave the queue
    without one)."""
    be = backend(hb.RecordingBackend, respond=hb.hang)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, max_held_request="0", max_body="1k")
    bad, status = ((b"zz\r\n", 400) if broken == "bad_chunk" else (b"800\r\n", 413))
    with HttpClient(gh.port, ctx, timeout=10) as c:
        c.send(req_bytes("POST /streamed HTTP/1.1", HOST, "Transfer-Encoding: chunked") +
               b"5\r\nhello\r\n")
        wait_until(lambda: b"5\r\nhello\r\n" in b"".join(bytes(x.raw) for x in be.connections),
                   scaled(5), what="the head and first chunk at the backend")
        c.send(bad)
        assert c.read_response().status == status
    e = one_request_outcome(audit)
    assert (e["target"], e["status"], e["outcome"]) == ("/streamed", status, "refused"), e
    assert e["request_body"] == 5, e


class AnswersEarlyInPart(backends.Backend):
    """Reads a request head, answers it at once with the head and the first
    bytes of a response (Content-Length: 100, or close-delimited), then
    keeps reading without sending more: the client has part of an answer
    while its body is still streaming."""

    def __init__(self, framing):
        self.framing = framing
        self.got = b""
        self.lock = threading.Lock()
        super().__init__()

    def handle(self, sock):
        sock.settimeout(scaled(10))
        answered = False
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    return
                with self.lock:
                    self.got += data
                if not answered and b"\r\n\r\n" in self.got:
                    length = b"Content-Length: 100\r\n" if self.framing == "length" else b""
                    sock.sendall(b"HTTP/1.1 200 OK\r\n" + length + b"\r\npart")
                    answered = True
        except OSError:
            return


@pytest.mark.parametrize("framing", ["length", "close"])
def test_refused_streamed_body_after_part_of_its_answer_adds_nothing(gatehouse, backend, ctx,
                                                                     tmp_path, framing):
    """The backend answered a streamed request in part (head and 4 body
    bytes) before its body broke a rule (a bad chunk): no 400 may follow,
    it would land inside that answer (as its body, or with Content-Length
    as a response the client never asked for). The client gets the part
    it was sent, then the connection ends; the refusal is still logged
    and the request entry says refused with the backend's status.
    (Found by fuzz_http_proxy.)"""
    be = backend(AnswersEarlyInPart, framing)
    audit = tmp_path / "audit.jsonl"
    gh = start_http(gatehouse, be.addr, audit, max_held_request="0")
    mark = gh.mark()
    with HttpClient(gh.port, ctx, timeout=10) as c:
        c.send(req_bytes("POST /part HTTP/1.1", HOST, "Transfer-Encoding: chunked") +
               b"5\r\nhello\r\n")
        head = c.read_head()
        assert head.startswith(b"HTTP/1.1 200 OK\r\n"), head
        assert c._take(4) == b"part"
        c.send(b"zz\r\n")
        c.sock.settimeout(scaled(5))
        rest, how = c.read_to_end()
        assert rest == b"", rest
    gh.wait_event("reject", since=mark, rule="bad_chunk_size")
    e = one_request_outcome(audit)
    assert (e["target"], e["status"], e["outcome"]) == ("/part", 200, "refused"), e
    with be.lock:
        assert b"zz" not in be.got


# ------------------------------------------------- response head limits

def big_head_response(n_fields, field_bytes):
    def respond(req):
        fields = [f"X-Big-{i}: " + "v" * field_bytes for i in range(n_fields)]
        return hb.ok(req, headers=fields)
    return respond


@pytest.mark.timeout_s(40)
def test_large_response_head_passes_when_the_buffer_holds_it(gatehouse, backend, ctx):
    # 150 fields, about 20 KiB: over the request defaults (100, 16 KiB)
    be = backend(hb.RecordingBackend, respond=big_head_response(150, 125))
    gh = gatehouse(be.addr, mode="http", buffer_size="32k")
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /big HTTP/1.1", HOST))
        r = c.read_response()
        assert r.status == 200, r.raw[:200]
        assert len(r.head) > 20 * 1024 and len(r.headers) > 150
        assert r.body == b"GET /big\n"
        assert r.raw == be.complete_requests()[0].response


@pytest.mark.timeout_s(40)
@pytest.mark.parametrize("limit", [{"max_response_headers": "120"},
                                   {"max_response_header_bytes": "16k"}])
def test_response_head_over_its_limit_is_502(gatehouse, backend, ctx, limit):
    be = backend(hb.RecordingBackend, respond=big_head_response(150, 125))
    gh = gatehouse(be.addr, mode="http", buffer_size="32k", **limit)
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /big HTTP/1.1", HOST))
        r = c.read_response()
        assert r.status == 502, r.raw[:200]
    gh.wait_event("backend_error", since=mark, reason="bad_response")


def test_response_head_limit_larger_than_the_buffer_is_refused(gatehouse_bin, certs, tmp_path):
    from ghutil import render_ini, run_gatehouse
    ini = tmp_path / "g.ini"
    ini.write_text(render_ini({"workers": 1}, {"main": {
        "listen": f"127.0.0.1:{free_port()}", "backend": "127.0.0.1:9", "mode": "http",
        "cert": str(certs.ec_crt), "key": str(certs.ec_key), "buffer_size": "32k",
        "max_response_header_bytes": "64k"}}))
    r = run_gatehouse(["-t", "-c", str(ini)])
    assert r.returncode != 0
    assert re.search(r"g\.ini:\d+: max_response_header_bytes: larger than buffer_size",
                     r.stdout + r.stderr), \
        r.stdout + r.stderr
