"""HTTP/1.1 conformance of mode = http (issue 12, "HTTP/1.1"), written from
RFC 9112 / RFC 9110, each against a RecordingBackend that shows exactly
what reached the backend:

- RFC 9112 2.2: empty lines (CRLF) before a request line are ignored (up
  to four, in any split over reads, also between pipelined requests) and
  never forwarded; a fifth is a 400.
- RFC 9112 3: a request line without an HTTP-version (HTTP/0.9 "GET /")
  is answered 400 as soon as its line ends, not after header_timeout.
- RFC 9110 9.1: WebDAV and custom methods pass by default; CONNECT and
  TRACE (cross-site tracing) do not, in any case; allow_methods narrows.
- RFC 9112 9.3.1 / 9.6: a backend that closes after a response
  (Connection: close, or silently) while the client pipelined more: the
  requests not yet sent go on a new backend connection; one sent and
  unanswered goes again only if idempotent (RFC 9110 9.2.2) and nothing
  of its response was read; a POST is never sent twice: the client gets
  a 502 for it. A POST is never written into a backend connection whose
  end gatehouse already has (checked before its first byte goes): it
  goes on a new connection instead."""

import time

import pytest

import http_backends as hb
from ghutil import scaled
from test_http import HOST, HttpClient, PeerClosed, assert_reject, req_bytes, start

HEADER_TIMEOUT = 10.0


def get(target):
    return req_bytes(f"GET {target} HTTP/1.1", HOST)


def post(target, body):
    return req_bytes(f"POST {target} HTTP/1.1", HOST, f"Content-Length: {len(body)}", body=body)


def read_answers(client, n):
    """n responses, or as many as came before the connection ended."""
    got = []
    try:
        for _ in range(n):
            got.append(client.read_response())
    except PeerClosed:
        pass
    return got


# ============================================ RFC 9112 2.2: leading empty lines


def test_empty_lines_before_request_line_are_ignored(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(b"\r\n" + get("/one"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"GET /one\n", r.raw
        # four, split over reads, the CR apart from its LF
        for piece in (b"\r\n\r", b"\n\r\n", b"\r\n" + get("/two")):
            c.send(piece)
            time.sleep(0.05)
        r = c.read_response()
        assert r.status == 200 and r.body == b"GET /two\n", r.raw
        # between pipelined requests (a client's CRLF after a body)
        c.send(post("/p", b"abc") + b"\r\n" + get("/three"))
        assert c.read_response().body == b"POST /p\n"
        assert c.read_response().body == b"GET /three\n"
    reqs = be.wait_requests(4)
    assert [r.request_line for r in reqs] == [b"GET /one HTTP/1.1", b"GET /two HTTP/1.1",
                                             b"POST /p HTTP/1.1", b"GET /three HTTP/1.1"]
    assert reqs[2].body == b"abc"
    assert all(not c.raw.startswith(b"\r\n") and b"abc\r\n" not in c.raw
               for c in be.connections), "an empty line reached the backend"


def test_too_many_empty_lines_are_a_400(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(b"\r\n" * 5 + get("/x"))
        assert_reject(c.read_response(), 400, "bad_request_line")
    assert be.conn_count() == 0


# ======================================== RFC 9112 3: HTTP/0.9 request lines


def test_request_line_without_version_is_answered_at_once(gatehouse, backend, ctx):
    """"GET /" then CRLF is no HTTP/1.x request line: 400 when the line
    ends, long before header_timeout (before the fix: 408 after it)."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, header_timeout=f"{HEADER_TIMEOUT:g}s")
    for line in (b"GET /\r\n", b"GET / \r\n", b"GET\r\n", b"\r\nGET /index.html\r\n"):
        with HttpClient(gh.port, ctx, timeout=scaled(HEADER_TIMEOUT / 3)) as c:
            t0 = time.monotonic()
            c.send(line)
            try:
                r = c.read_response()
            except (PeerClosed, TimeoutError, OSError) as e:
                raise AssertionError(f"{line!r}: no answer within "
                                     f"{time.monotonic() - t0:.1f}s ({e!r})") from None
            assert_reject(r, 400, "bad_request_line")
            assert time.monotonic() - t0 < HEADER_TIMEOUT / 3, line
    assert be.conn_count() == 0


def test_unsupported_version_is_answered_at_once(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, header_timeout=f"{HEADER_TIMEOUT:g}s")
    with HttpClient(gh.port, ctx, timeout=scaled(HEADER_TIMEOUT / 3)) as c:
        c.send(b"GET / HTTP/2.0\r\n")
        assert_reject(c.read_response(), 505, "bad_version")
    assert be.conn_count() == 0


# ================================================= RFC 9110 9.1: methods

WEBDAV_AND_CUSTOM = ["PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
                     "REPORT", "VERSION-CONTROL", "SEARCH", "PURGE", "get"]


def test_webdav_and_custom_methods_pass_by_default(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        for m in WEBDAV_AND_CUSTOM:
            c.send(req_bytes(f"{m} /dav/x HTTP/1.1", HOST, "Depth: 1"))
            r = c.read_response()
            assert r.status == 200 and r.body == f"{m} /dav/x\n".encode(), (m, r.raw)
    assert [r.method for r in be.wait_requests(len(WEBDAV_AND_CUSTOM))] == WEBDAV_AND_CUSTOM


def test_connect_and_trace_refused_by_default_in_any_case(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    for line in ("TRACE / HTTP/1.1", "trace / HTTP/1.1", "Trace / HTTP/1.1",
                 "CONNECT example.com:443 HTTP/1.1", "connect /x HTTP/1.1"):
        with HttpClient(gh.port, ctx) as c:
            c.send(req_bytes(line, HOST))
            assert_reject(c.read_response(), 405, "method_not_allowed")
    assert be.conn_count() == 0


def test_allow_methods_narrows(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, allow_methods="GET, PROPFIND, VERSION-CONTROL")
    for m, status in (("PROPFIND", 200), ("VERSION-CONTROL", 200), ("GET", 200),
                      ("MKCOL", 405), ("POST", 405), ("propfind", 405), ("TRACE", 405)):
        with HttpClient(gh.port, ctx) as c:
            c.send(req_bytes(f"{m} / HTTP/1.1", HOST))
            r = c.read_response()
            assert r.status == status, (m, r.raw)
    assert [r.method for r in be.wait_requests(3)] == ["PROPFIND", "VERSION-CONTROL", "GET"]


# =========================== RFC 9112 9.3.1 / 9.6: backend closes, client pipelined


def closing(req):
    """Connection: close on every response, then the backend closes."""
    return hb.ok(req, close=True)


def silently_closing(req):
    """A keep-alive looking response, then the backend closes anyway."""
    return hb.Response(hb.ok(req).raw, close=True)


def assert_each_request_on_its_connection(be, want):
    reqs = be.wait_requests(len(want))
    assert [(r.method, r.target) for r in reqs] == want
    with be.cond:
        per_conn = [len(c.requests) for c in be.connections]
    assert per_conn == [1] * len(want), per_conn


def test_pipelined_gets_backend_announces_close(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend, closing)
    gh = start(gatehouse, be)
    targets = [f"/g{i}" for i in range(5)]
    with HttpClient(gh.port, ctx) as c:
        c.send(b"".join(get(t) for t in targets))
        got = read_answers(c, 5)
        assert [(r.status, r.body) for r in got] == [(200, f"GET {t}\n".encode())
                                                     for t in targets]
    assert_each_request_on_its_connection(be, [("GET", t) for t in targets])


def test_pipelined_post_in_the_middle_backend_announces_close(gatehouse, backend, ctx):
    """The POST never went on a connection the backend said it closes: it
    goes, once, on a new one like the GETs around it."""
    be = backend(hb.RecordingBackend, closing)
    gh = start(gatehouse, be)
    reqs = [get("/a"), get("/b"), post("/p", b"x" * 100), get("/c"), get("/d")]
    with HttpClient(gh.port, ctx) as c:
        c.send(b"".join(reqs))
        got = read_answers(c, 5)
        assert [r.body for r in got] == [b"GET /a\n", b"GET /b\n", b"POST /p\n", b"GET /c\n",
                                         b"GET /d\n"]
    assert_each_request_on_its_connection(
        be, [("GET", "/a"), ("GET", "/b"), ("POST", "/p"), ("GET", "/c"), ("GET", "/d")])
    assert be.complete_requests()[2].body == b"x" * 100


def test_pipelined_gets_backend_closes_silently(gatehouse, backend, ctx):
    """No Connection: close, the backend just closes after each response:
    every GET is still answered, in order (a GET that went on a connection
    already closing is sent again)."""
    be = backend(hb.RecordingBackend, silently_closing)
    gh = start(gatehouse, be)
    targets = [f"/s{i}" for i in range(5)]
    with HttpClient(gh.port, ctx) as c:
        c.send(b"".join(get(t) for t in targets))
        got = read_answers(c, 5)
        assert [(r.status, r.body) for r in got] == [(200, f"GET {t}\n".encode())
                                                     for t in targets]
    answered = [r.target for r in be.all_requests() if r.response]
    assert answered == targets, answered


def test_idempotent_request_sent_again_once(gatehouse, backend, ctx):
    """The backend closes without answering a GET: it goes again on a new
    connection (once); the client sees only the answer."""
    seen = []

    def first_unanswered(req):
        seen.append(req.target)
        if seen.count(req.target) == 1 and req.target == "/retry":
            return hb.no_answer(req)
        return hb.ok(req)

    be = backend(hb.RecordingBackend, first_unanswered)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(get("/before") + get("/retry") + get("/after"))
        got = read_answers(c, 3)
        assert [(r.status, r.body) for r in got] == [
            (200, b"GET /before\n"), (200, b"GET /retry\n"), (200, b"GET /after\n")]
    assert seen == ["/before", "/retry", "/retry", "/after"]
    gh.wait_for_log(r"event=backend_retry\b.*method=GET")


def test_idempotent_request_not_sent_a_third_time(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend, lambda req: hb.no_answer(req)
                 if req.target == "/never" else hb.ok(req))
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(get("/first") + get("/never"))
        got = read_answers(c, 2)
        assert [r.status for r in got] == [200, 502], [r.raw for r in got]
    assert [r.target for r in be.all_requests()] == ["/first", "/never", "/never"]


def test_first_request_on_a_fresh_connection_is_not_sent_again(gatehouse, backend, ctx):
    """A backend that closes a connection it just opened before answering
    has failed: 502 at once, no second attempt (only a reused connection
    may have been closed under a request in flight)."""
    be = backend(hb.RecordingBackend, hb.no_answer)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(get("/fresh"))
        assert c.read_response().status == 502
    assert [r.target for r in be.all_requests()] == ["/fresh"]


def test_post_sent_and_unanswered_is_not_sent_again(gatehouse, backend, ctx):
    """RFC 9112 9.3.1: a proxy MUST NOT retry a non-idempotent request. The
    backend closes after reading the POST without answering: the client
    gets a 502 for it, the connection ends (what it pipelined behind is
    not processed: RFC 9112 9.3.2 lets it retry that itself), and the
    backend saw the POST exactly once."""
    be = backend(hb.RecordingBackend, lambda req: hb.no_answer(req)
                 if req.method == "POST" else hb.ok(req))
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(get("/a") + post("/p", b"pay once") + get("/c"))
        got = read_answers(c, 3)
        assert [r.status for r in got] == [200, 502], [r.raw for r in got]
        assert got[0].body == b"GET /a\n"
    assert [(r.method, r.target) for r in be.all_requests()] == [("GET", "/a"), ("POST", "/p")]
    assert be.complete_requests()[1].body == b"pay once"


def test_backend_closing_while_a_request_is_held(gatehouse, backend, ctx):
    """The backend closes its idle connection while gatehouse is still
    collecting the next request (held whole until its body is complete):
    that request goes on a new connection when it is complete."""
    def late_close(req):
        """Answers, then closes 0.5 s later (an empty piece after a gap)."""
        return hb.Response(hb.ok(req).raw, chunks=[b""], chunk_gap=0.5, close=True)

    be = backend(hb.RecordingBackend, late_close)
    gh = start(gatehouse, be)
    body = b"0123456789" * 10
    with HttpClient(gh.port, ctx) as c:
        c.send(get("/a"))
        assert c.read_response().body == b"GET /a\n"
        whole = post("/held", body)
        c.send(whole[:-50])              # held: nothing of it goes yet
        be.wait_conn_closed(0)           # the backend's end reached gatehouse meanwhile
        c.send(whole[-50:])
        r = c.read_response()
        assert r.status == 200 and r.body == b"POST /held\n", r.raw
    reqs = be.wait_requests(2)
    assert reqs[1].body == body and be.conn_count() == 2


def test_pipelined_post_in_the_middle_backend_closes_silently(gatehouse, backend, ctx):
    """The backend closes after each response without saying so. Whether
    the POST went out on the closing connection is a race; either way it
    reaches the backend at most once: answered (200) when it went on a new
    connection, or a 502 and the end of the client connection (RFC 9112
    9.3.1: never sent again; the requests behind it are the client's to
    retry). Every GET before it is answered."""
    be = backend(hb.RecordingBackend, silently_closing)
    gh = start(gatehouse, be)
    reqs = [get("/a"), get("/b"), post("/p", b"once"), get("/c"), get("/d")]
    with HttpClient(gh.port, ctx) as c:
        c.send(b"".join(reqs))
        got = read_answers(c, 5)
    for i in range(be.conn_count()):     # all it read is recorded
        be.wait_conn_closed(i)
    assert [r.body for r in got[:2]] == [b"GET /a\n", b"GET /b\n"], [r.raw for r in got]
    assert len(got) >= 3 and got[2].status in (200, 502), [r.raw for r in got]
    if got[2].status == 200:
        assert [r.body for r in got[2:]] == [b"POST /p\n", b"GET /c\n", b"GET /d\n"]
    else:
        assert len(got) == 3
    posts = [r for r in be.all_requests() if r.method == "POST"]
    assert len(posts) == 1 and posts[0].body == b"once", posts


def closing_with_fin(req):
    """Answers keep-alive style, and its FIN travels with the response's
    last bytes: the end is there before gatehouse has the response whole."""
    return hb.Response(hb.ok(req).raw, close=True, fin_with_data=True)


@pytest.mark.parametrize("body_len", [100, 200_000], ids=["held", "streamed"])
def test_post_never_written_into_a_connection_known_closed(gatehouse, backend, ctx, body_len):
    """The backend closes after each response without saying so, its FIN
    in the same segment as the response. The pipelined POST behind a GET
    must not be written into that closed connection (where it could only
    end in a 502: RFC 9112 9.3.1 forbids sending it again): gatehouse sees
    the end before the POST's first byte goes, and sends it on a new
    connection. Every request is answered, each reaches the backend once,
    each on a connection of its own; the POST's body arrives whole."""
    be = backend(hb.RecordingBackend, closing_with_fin)
    gh = start(gatehouse, be)
    body = bytes(range(256)) * (body_len // 256) + b"z" * (body_len % 256)
    reqs = [get("/a"), post("/p", body), get("/c")]
    with HttpClient(gh.port, ctx) as c:
        c.send(b"".join(reqs))
        got = read_answers(c, 3)
    assert [(r.status, r.body) for r in got] == [
        (200, b"GET /a\n"), (200, b"POST /p\n"), (200, b"GET /c\n")], [r.raw[:80] for r in got]
    for i in range(be.conn_count()):     # all it read is recorded
        be.wait_conn_closed(i)
    assert [(r.method, r.target) for r in be.all_requests()] == [
        ("GET", "/a"), ("POST", "/p"), ("GET", "/c")]
    with be.cond:
        per_conn = [[r.target for r in conn.requests] for conn in be.connections]
    assert per_conn == [["/a"], ["/p"], ["/c"]], per_conn
    assert be.complete_requests()[1].body == body
    gh.wait_for_log(r"event=backend_retry\b.*method=POST reason=closed_before_sent")
