"""Request bodies and their framing (issue 11 item 2), end to end through TLS.

The backend must read exactly what gatehouse checked, also a lenient
legacy backend. Every test asserts the exact bytes the RecordingBackend
received, and reads them twice: the strict way (one framing field, exactly
`chunked`, canonical chunk lines) and the lenient way (last header wins,
only an exact lowercase `chunked` counts, chunk sizes read like strtoul,
extensions ignored). Both readings must give the same requests, bodies and
identity fields.

Covered: empty Transfer-Encoding elements refused; exactly one framing
field on output; chunk sizes checked against max_body at the size line;
chunk framing re-encoded (chunk_extensions); requests held whole up to
max_held_request and sent with Content-Length, so a body that breaks a
rule sends nothing; trailers dropped unless allow_trailers lists them, and
never a field gatehouse owns (mTLS listener)."""

import re
import time

import pytest

import http_backends as hb
from ghutil import render_ini, run_gatehouse, scaled
from test_http import (HOST, HttpClient, assert_closed_after, assert_reject, req_bytes, start,
                       wait_backend_bytes)
# the mTLS listener fixtures of test_tls_features.py (pytest finds fixtures
# imported into a test module)
from test_tls_features import be, cctx, ghs, mtls, pki  # noqa: F401

IDENTITY = ("x-forwarded-for", "x-forwarded-proto", "x-request-id", "x-client-verified",
            "x-client-cert-subject", "x-client-cert-fingerprint", "x-client-cert-uri")


# ===================================================== two models of a backend


class Unreadable(Exception):
    """The strict model refuses these bytes: gatehouse sent ambiguous framing."""


def _heads(raw, pos):
    end = raw.find(b"\r\n\r\n", pos)
    if end < 0:
        return None, pos
    lines = raw[pos:end].split(b"\r\n")
    fields = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        fields.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return (lines[0].decode("latin-1"), fields), end + 4


def strict_read(raw):
    """RFC 9112 read, refusing anything a proxy must not send ambiguously:
    one framing field at most, exactly `chunked`, chunk lines that are
    lowercase hex without leading zeros and nothing else."""
    out, pos = [], 0
    while pos < len(raw):
        head, pos = _heads(raw, pos)
        if head is None:
            raise Unreadable(f"incomplete head at {pos}: {raw[pos:pos + 80]!r}")
        line, fields = head
        names = [n.lower() for n, _ in fields]
        te = [v for n, v in fields if n.lower() == "transfer-encoding"]
        cl = [v for n, v in fields if n.lower() == "content-length"]
        if len(te) + len(cl) > 1:
            raise Unreadable(f"{len(te)} TE and {len(cl)} CL fields: {fields}")
        for n in IDENTITY:
            if names.count(n) > 1:
                raise Unreadable(f"{n} twice")
        body, trailers = b"", []
        if te:
            if te[0] != "chunked":
                raise Unreadable(f"Transfer-Encoding: {te[0]!r}")
            while True:
                eol = raw.index(b"\r\n", pos)
                size_line = raw[pos:eol]
                if not re.fullmatch(rb"[1-9a-f][0-9a-f]*|0", size_line):
                    raise Unreadable(f"chunk line {size_line!r}")
                size = int(size_line, 16)
                pos = eol + 2
                if size == 0:
                    break
                body += raw[pos:pos + size]
                if raw[pos + size:pos + size + 2] != b"\r\n":
                    raise Unreadable("chunk data not followed by CRLF")
                pos += size + 2
            while True:
                eol = raw.index(b"\r\n", pos)
                tl = raw[pos:eol]
                pos = eol + 2
                if not tl:
                    break
                n, _, v = tl.partition(b":")
                trailers.append((n.decode("latin-1"), v.strip().decode("latin-1")))
        elif cl:
            if not re.fullmatch(r"[0-9]+", cl[0]):
                raise Unreadable(f"Content-Length: {cl[0]!r}")
            n = int(cl[0])
            body, pos = raw[pos:pos + n], pos + n
        ident = {n.lower(): v for n, v in fields if n.lower() in IDENTITY}
        out.append((line, ident, body, trailers))
    return out


def _strtoul_hex(b):
    m = re.match(rb"[ \t]*([0-9a-fA-F]*)", b)
    return int(m.group(1) or b"0", 16)


def lenient_read(raw):
    """A legacy backend: the last field of a name wins, only an exact
    lowercase `chunked` means chunked, chunk sizes are read like strtoul
    (hex prefix, rest of the line ignored: extensions, junk), Content-Length
    like atoi. Trailer fields are merged into the fields (last wins)."""
    out, pos = [], 0
    while pos < len(raw):
        head, pos = _heads(raw, pos)
        if head is None:
            break
        line, fields = head
        last = {}
        for n, v in fields:
            last[n.lower()] = v
        body, trailers = b"", []
        if last.get("transfer-encoding") == "chunked":
            while True:
                eol = raw.find(b"\r\n", pos)
                if eol < 0:
                    break
                size = _strtoul_hex(raw[pos:eol])
                pos = eol + 2
                if size == 0:
                    break
                body += raw[pos:pos + size]
                pos += size + 2
            while True:
                eol = raw.find(b"\r\n", pos)
                if eol < 0:
                    break
                tl = raw[pos:eol]
                pos = eol + 2
                if not tl:
                    break
                n, _, v = tl.partition(b":")
                trailers.append((n.decode("latin-1"), v.strip().decode("latin-1")))
                last[n.decode("latin-1").lower()] = v.strip().decode("latin-1")
        elif "content-length" in last:
            m = re.match(r"\s*([0-9]*)", last["content-length"])
            n = int(m.group(1) or "0")
            body, pos = raw[pos:pos + n], pos + n
        ident = {n: v for n, v in last.items() if n in IDENTITY}
        out.append((line, ident, body, trailers))
    return out


def same_reading(raw):
    """Both models read raw alike; returns the strict reading."""
    strict = strict_read(bytes(raw))
    lenient = lenient_read(bytes(raw))
    assert lenient == strict, f"lenient {lenient!r}\n!= strict {strict!r}\nraw {bytes(raw)!r}"
    return strict


def test_models_tell_a_smuggled_request_apart():
    """The models themselves: a request the old pass-through forwarded is
    read differently by the two (so same_reading can fail)."""
    smuggled = (b"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                b"Transfer-Encoding:\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\n"
                b"X-Client-Verified: SUCCESS\r\n\r\n")
    with pytest.raises(Unreadable):
        strict_read(smuggled)
    # the empty field is "the last TE": no body, then the smuggled request
    lenient = lenient_read(smuggled)
    assert [r[0] for r in lenient] == ["POST /a HTTP/1.1", "0", "GET /admin HTTP/1.1"]
    assert lenient[2][1] == {"x-client-verified": "SUCCESS"}
    padded = (b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"0005;x=\"1\r\n\"\r\nhello\r\n0\r\n\r\n")
    with pytest.raises(Unreadable):
        strict_read(padded)
    ok = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\nX-Forwarded-For: 1\r\n\r\nhello"
    assert same_reading(ok) == [("POST /a HTTP/1.1", {"x-forwarded-for": "1"}, b"hello", [])]


# ================================================================== helpers


def backend_raw(be):
    return b"".join(bytes(c.raw) for c in be.connections)


def one_request(be, n=1):
    """The backend's bytes once n requests arrived, read both ways."""
    be.wait_requests(n)
    reading = same_reading(backend_raw(be))
    assert len(reading) == n, reading
    return reading


def assert_nothing_reached_backend(be, settle=0.3):
    time.sleep(scaled(settle))
    assert be.conn_count() == 0 and be.total_bytes() == 0, be.connections


def chunk(data, size_text=None):
    return (size_text if size_text is not None else b"%x" % len(data)) + b"\r\n" + data + b"\r\n"


# A first chunk larger than the default max_held_request (64k): the body
# streams with the default configuration, as it would on today's main.
FILLER = b"f" * 70000
BIG_FIRST = chunk(FILLER, b"00011170")          # zero-padded on purpose
BIG_FIRST_OUT = b"11170\r\n" + FILLER + b"\r\n"  # as gatehouse writes it


# ====================================== 1. Transfer-Encoding: empty elements


TE_EMPTY = {
    "leading_trailing_comma": ["Transfer-Encoding: ,chunked,"],
    "empty_element": ["Transfer-Encoding: chunked, ,"],
    "empty_line_after": ["Transfer-Encoding: chunked", "Transfer-Encoding:"],
    "empty_line_before": ["Transfer-Encoding:", "Transfer-Encoding: chunked"],
}


@pytest.mark.parametrize("name", list(TE_EMPTY))
def test_te_empty_elements_refused(gatehouse, backend, ctx, name):
    """The lenient backend took the empty field as "the last TE": no body,
    and the smuggled GET /admin below ran with forged identity fields."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    mark = gh.mark()
    smuggle = (b"0\r\n\r\nGET /admin HTTP/1.1\r\nHost: example.com\r\n"
               b"X-Client-Verified: SUCCESS\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n")
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /te HTTP/1.1", HOST, *TE_EMPTY[name]) + smuggle)
        assert_reject(c.read_response(), 400, "te_empty_element")
        assert_closed_after(c)
    gh.wait_event("reject", since=mark, rule="te_empty_element", status=400)
    assert_nothing_reached_backend(be)


def test_one_transfer_encoding_line_exact_lowercase(gatehouse, backend, ctx):
    """`Transfer-Encoding: CHUNKED` is chunked (codings are case-insensitive)
    but a backend that only knows the exact `chunked` reads no body and the
    chunk lines as the next request. gatehouse writes its own single line
    (streamed here) or Content-Length (held)."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    body = chunk(b"hello") + b"0\r\n\r\n"
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /upper HTTP/1.1", HOST, "Transfer-Encoding: CHUNKED", body=body))
        assert c.read_response().status == 200
    ((line, ident, got, _),) = one_request(be)
    assert line == "POST /upper HTTP/1.1" and got == b"hello"
    head = be.all_requests()[0].head
    assert b"CHUNKED" not in head and head.count(b"Content-Length: 5\r\n") == 1
    assert b"Transfer-Encoding" not in head


def test_streamed_body_gets_one_transfer_encoding_line(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    body = BIG_FIRST + chunk(b"hello") + b"0\r\n\r\n"
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /s HTTP/1.1", HOST, "Transfer-Encoding: Chunked", body=body))
        assert c.read_response().status == 200
    ((_, _, got, _),) = one_request(be)
    assert got == FILLER + b"hello"
    req = be.all_requests()[0]
    assert req.header("transfer-encoding") == ["chunked"] and not req.has("content-length")
    assert req.body == BIG_FIRST_OUT + b"5\r\nhello\r\n0\r\n\r\n"


# ========================================================== 2. chunk sizes


def test_chunk_over_max_body_refused_at_size_line_held(gatehouse, backend, ctx):
    """`100000005` (4 GiB) with max_body 1m: 413 at the size line; the
    request was held, so the backend sees nothing at all."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /huge HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                         body=b"100000005\r\n" + b"A" * 1000))
        assert_reject(c.read_response(), 413, "body_too_large")
    gh.wait_event("reject", since=mark, rule="body_too_large", status=413)
    assert_nothing_reached_backend(be)


def test_chunk_over_max_body_refused_at_size_line_streamed(gatehouse, backend, ctx):
    """Streamed (over max_held_request): the head and earlier chunks went
    on, but not one byte of the chunk that breaks max_body."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /huge HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                         body=BIG_FIRST + chunk(b"first")))
        wait_backend_bytes(be, lambda raw: raw.endswith(b"5\r\nfirst\r\n"), "the first chunk")
        c.send(b"100000005\r\n" + b"B" * 1000)
        assert_reject(c.read_response(), 413, "body_too_large")
    gh.wait_event("reject", since=mark, rule="body_too_large", status=413)
    conn = be.wait_conn_closed(0)
    assert b"B" not in bytes(conn.raw) and b"100000005" not in bytes(conn.raw)
    assert conn.requests[0].body == BIG_FIRST_OUT + b"5\r\nfirst\r\n"
    assert not conn.requests[0].complete


def test_chunk_framing_reencoded_when_streamed(gatehouse, backend, ctx):
    """Zero-padded and uppercase sizes, quoted extensions with `;` inside:
    the backend reads gatehouse's canonical framing only."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    body = (BIG_FIRST + chunk(b"hello", b"0005") + chunk(b"0123456789", b"A") +
            chunk(b"abc", b"3;x=\"1;2\" ; y") + chunk(b"d", b"00000000000001;z=\"\\\"\"") +
            b"0;last=1\r\n\r\n")
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /enc HTTP/1.1", HOST, "Transfer-Encoding: chunked", body=body))
        assert c.read_response().status == 200
    ((_, _, got, _),) = one_request(be)
    assert got == FILLER + b"hello0123456789abcd"
    assert be.all_requests()[0].body == BIG_FIRST_OUT + (b"5\r\nhello\r\na\r\n0123456789\r\n3\r\nabc\r\n"
                                         b"1\r\nd\r\n0\r\n\r\n")


def test_chunk_extensions_forward_opt_in(gatehouse, backend, ctx):
    """chunk_extensions = forward: the client's (checked) extensions follow
    gatehouse's canonical size; the size itself is still re-encoded."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, max_held_request="0", chunk_extensions="forward")
    body = chunk(b"hello", b"0005 ;sig=\"a;b\"") + b"0;end\r\n\r\n"
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /ext HTTP/1.1", HOST, "Transfer-Encoding: chunked", body=body))
        assert c.read_response().status == 200
    be.wait_requests(1)
    assert be.all_requests()[0].body == b"5;sig=\"a;b\"\r\nhello\r\n0;end\r\n\r\n"
    assert lenient_read(backend_raw(be))[0][2] == b"hello"


# ================================================== 3. held requests


def test_held_chunked_body_goes_with_content_length(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    body = chunk(b"hello ", b"06") + chunk(b"world") + b"0\r\n\r\n"
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /held HTTP/1.1", HOST, "Transfer-Encoding: chunked", body=body))
        assert c.read_response().status == 200
    ((line, ident, got, trailers),) = one_request(be)
    assert got == b"hello world" and trailers == []
    req = be.all_requests()[0]
    assert req.header("content-length") == ["11"] and not req.has("transfer-encoding")
    assert req.body == b"hello world"
    assert ident["x-forwarded-for"] == "127.0.0.1"


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_held_request_sends_nothing_until_complete(gatehouse, backend, ctx, framing):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    data = b"x" * 3000
    if framing == "length":
        head = req_bytes("POST /wait HTTP/1.1", HOST, f"Content-Length: {len(data)}")
        first, rest = data[:1000], data[1000:]
    else:
        head = req_bytes("POST /wait HTTP/1.1", HOST, "Transfer-Encoding: chunked")
        first, rest = chunk(data[:1000]), chunk(data[1000:]) + b"0\r\n\r\n"
    with HttpClient(gh.port, ctx) as c:
        c.send(head + first)
        # the head and the first part are with gatehouse, none with the backend
        assert_nothing_reached_backend(be, settle=0.5)
        c.send(rest)
        assert c.read_response().status == 200
    ((_, _, got, _),) = one_request(be)
    assert got == data
    assert be.all_requests()[0].header("content-length") == [str(len(data))]


# (a good first part, sent on its own, then the part that breaks a rule)
BROKEN_BODIES = {
    "bad_chunk_size": (chunk(b"hello"), b"5x\r\nworld\r\n0\r\n\r\n", 400, "bad_chunk_size"),
    "bad_chunk_end": (chunk(b"hello"), b"5\r\nworldX\r\n0\r\n\r\n", 400, "bad_chunk_end"),
    "bare_lf": (chunk(b"hello"), b"5\nworld\r\n0\r\n\r\n", 400, "bare_lf"),
    "over_max_body": (chunk(b"z" * 3000), chunk(b"z" * 3000), 413, "body_too_large"),
}


@pytest.mark.parametrize("name", list(BROKEN_BODIES))
def test_held_body_breaking_a_rule_sends_nothing(gatehouse, backend, ctx, name):
    """Today's main sent the head and the first chunk, then aborted."""
    good, bad, status, rule = BROKEN_BODIES[name]
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, max_body="4k")
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /broken HTTP/1.1", HOST, "Transfer-Encoding: chunked") + good)
        time.sleep(scaled(0.3))   # the first part arrives on its own
        c.send(bad)
        assert_reject(c.read_response(), status, rule)
        assert_closed_after(c)
    gh.wait_event("reject", since=mark, rule=rule, status=status)
    assert_nothing_reached_backend(be)


def test_held_request_client_abort_sends_nothing(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /abort HTTP/1.1", HOST, "Content-Length: 5000", body=b"a" * 2000))
        time.sleep(scaled(0.2))
    gh.wait_for_log(r"\bevent=conn_close\b.*\brequests=0\b", since=mark)
    assert_nothing_reached_backend(be)


def test_held_requests_pipelined(gatehouse, backend, ctx):
    """Held requests keep their order with plain ones around them."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    reqs = (req_bytes("GET /1 HTTP/1.1", HOST) +
            req_bytes("POST /2 HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                      body=chunk(b"two") + b"0\r\n\r\n") +
            req_bytes("POST /3 HTTP/1.1", HOST, "Content-Length: 5", body=b"three") +
            req_bytes("GET /4 HTTP/1.1", HOST))
    with HttpClient(gh.port, ctx) as c:
        c.send(reqs)
        assert [c.read_response().body for _ in range(4)] == [
            b"GET /1\n", b"POST /2\n", b"POST /3\n", b"GET /4\n"]
    reading = one_request(be, 4)
    assert [(r[0].split()[1], r[2]) for r in reading] == [
        ("/1", b""), ("/2", b"two"), ("/3", b"three"), ("/4", b"")]


def test_larger_than_held_bound_streams(gatehouse, backend, ctx):
    """Over max_held_request: streamed as before, with gatehouse's chunk
    framing (or the Content-Length as checked); a backend may then see a
    head and part of a body before the connection closes."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, max_held_request="1k")
    data = bytes(range(256)) * 16
    body = chunk(data[:3000], b"0BB8") + chunk(data[3000:]) + b"0\r\n\r\n"
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /big HTTP/1.1", HOST, "Transfer-Encoding: chunked", body=body))
        assert c.read_response().status == 200
        c.send(req_bytes("POST /bigcl HTTP/1.1", HOST, f"Content-Length: {len(data)}",
                         body=data))
        assert c.read_response().status == 200
    reading = one_request(be, 2)
    assert [r[2] for r in reading] == [data, data]
    first, second = be.all_requests()
    assert first.header("transfer-encoding") == ["chunked"]
    assert first.body == b"bb8\r\n" + data[:3000] + b"\r\n" + b"%x\r\n" % (len(data) - 3000) + \
        data[3000:] + b"\r\n0\r\n\r\n"
    assert second.header("content-length") == [str(len(data))]


def test_expect_continue_is_held_and_answered_by_gatehouse(gatehouse, backend, ctx):
    """The client waits for 100 Continue before its body. gatehouse answers
    the 100 itself and holds the request like any other, so the backend
    sees nothing until the body is complete, and then no Expect (it must
    not answer a 100 of its own for a body it already has)."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /e HTTP/1.1", HOST, "Content-Length: 5",
                         "Expect: 100-continue"))
        resp = c.read_response(interim=True)
        assert resp.raw == b"HTTP/1.1 100 Continue\r\n\r\n"
        assert_nothing_reached_backend(be)
        c.send(b"hello")
        final = c.read_response()
        assert final.status == 200 and final.raw.count(b"HTTP/1.1 ") == 1
    ((_, _, got, _),) = one_request(be)
    assert got == b"hello"
    (req,) = be.all_requests()
    assert req.header("expect") == [] and req.header("content-length") == ["5"]


def test_expect_continue_body_breaking_a_rule_sends_nothing(gatehouse, backend, ctx):
    """After gatehouse's 100, a chunked body that breaks a rule is refused
    and nothing of the request reaches the backend (a backend's own 100
    would have come after the head had gone on)."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /e HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                         "Expect: 100-continue"))
        assert c.read_response(interim=True).status == 100
        c.send(b"5\r\nhello\r\nzz\r\n")
        assert c.read_response().status == 400
    assert_nothing_reached_backend(be)


def test_expect_continue_body_sent_at_once_gets_no_late_100(gatehouse, backend, ctx):
    """A client that sends its body without waiting for the 100 needs none:
    no 100 may arrive after (or inside) the final response."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /e HTTP/1.1", HOST, "Content-Length: 5",
                         "Expect: 100-continue") + b"hello" +
               req_bytes("GET /next HTTP/1.1", HOST))
        first = c.read_response(interim=True)
        second = c.read_response(interim=True)
        assert b"100 Continue" not in first.raw + second.raw
        assert (first.status, second.status) == (200, 200)
        assert second.body == b"GET /next\n"


# ================================================================ 4. trailers


TRAILERS = (b"X-Checksum: abc\r\nX-Client-Verified: SUCCESS\r\n"
            b"X-Client-Cert-Subject: CN=admin\r\nX-Forwarded-For: 10.0.0.1\r\n"
            b"X-Request-Id: 0000000000000001\r\nContent-Length: 0\r\n"
            b"Transfer-Encoding: chunked\r\nHost: evil\r\n")


@pytest.mark.parametrize("held", [True, False])
def test_trailers_dropped_by_default(gatehouse, backend, ctx, held):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    first = b"" if held else BIG_FIRST
    body = first + chunk(b"hello") + b"0\r\n" + TRAILERS + b"\r\n"
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /t HTTP/1.1", HOST, "Transfer-Encoding: chunked", body=body))
        assert c.read_response().status == 200
    ((_, ident, got, trailers),) = one_request(be)
    assert got == (b"" if held else FILLER) + b"hello" and trailers == []
    assert ident["x-forwarded-for"] == "127.0.0.1" and "x-client-verified" not in ident
    assert b"X-Checksum" not in backend_raw(be) and b"CN=admin" not in backend_raw(be)


@pytest.mark.parametrize("allow", [False, True])
@pytest.mark.parametrize("held", [True, False])
def test_trailers_never_owned_fields_mtls(ghs, be, pki, held, allow):
    """On an mTLS listener, trailers named like the identity fields never
    reach the backend; with allow_trailers listing them too, only
    X-Checksum goes on. A held body carrying an allowed trailer goes
    re-chunked (one framing field, the trailer after the last chunk)."""
    rec = be(hb.RecordingBackend)
    opts = {}
    if allow:
        opts["allow_trailers"] = ("X-Checksum, X-Client-Verified, X-Client-Cert-Subject, "
                                  "X-Forwarded-For, X-Request-Id, Content-Length, Host")
    gh = ghs({"web": mtls(pki, rec, **opts)})
    first = b"" if held else BIG_FIRST
    body = first + chunk(b"hello") + b"0\r\n" + TRAILERS + b"\r\n"
    with HttpClient(gh.port, cctx(pki, client=pki.client_ok)) as c:
        c.send(req_bytes("POST /mtls HTTP/1.1", HOST, "Transfer-Encoding: chunked", body=body))
        assert c.read_response().status == 200
    ((_, ident, got, trailers),) = one_request(rec)
    assert got == (b"" if held else FILLER) + b"hello"
    assert trailers == ([("X-Checksum", "abc")] if allow else [])
    assert ident["x-client-verified"] == "SUCCESS"
    assert ident["x-client-cert-subject"] == pki.client_ok.subject_rfc4514
    assert ident["x-forwarded-for"] == "127.0.0.1"
    req = rec.all_requests()[0]
    if allow or not held:
        assert req.header("transfer-encoding") == ["chunked"]
        assert req.body == ((b"" if held else BIG_FIRST_OUT) + b"5\r\nhello\r\n0\r\n" +
                            (b"X-Checksum: abc\r\n" if allow else b"") + b"\r\n")
    else:
        assert req.header("content-length") == ["5"] and req.body == b"hello"


# ====================================================== differential check


VARIANTS = [
    req_bytes("POST /v1 HTTP/1.1", HOST, "Content-Length: 3", body=b"abc"),
    req_bytes("POST /v2 HTTP/1.1", HOST, "Content-Length: 3", "Content-Length: 3", body=b"abc"),
    req_bytes("POST /v3 HTTP/1.1", HOST, "Content-Length: 003", body=b"abc"),
    req_bytes("POST /v4 HTTP/1.1", HOST, "Transfer-Encoding: chunked",
              body=chunk(b"abc", b"003") + b"0\r\n\r\n"),
    req_bytes("POST /v5 HTTP/1.1", HOST, "transfer-encoding:  Chunked ",
              body=chunk(b"abc", b"3;a=\"0\"") + b"0\r\n\r\n"),
    req_bytes("POST /v6 HTTP/1.1", HOST, "Transfer-Encoding: chunked",
              body=chunk(b"abc") + b"0\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n"),
    req_bytes("POST /v7 HTTP/1.1", HOST, "X-Forwarded-For: 6.6.6.6",
              "X-Client-Verified: SUCCESS", "Content-Length: 0"),
    req_bytes("GET /v8 HTTP/1.1", HOST),
]


@pytest.mark.parametrize("max_held", [None, "0"])
def test_differential_strict_and_lenient_backends(gatehouse, backend, ctx, max_held):
    """Framing variants pipelined on one connection, held (the default) and
    streamed: the strict and the lenient backend read the same requests,
    bodies and identity fields, and the lenient one reads no extra request."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, **({"max_held_request": max_held} if max_held else {}))
    with HttpClient(gh.port, ctx) as c:
        c.send(b"".join(VARIANTS))
        for _ in VARIANTS:
            assert c.read_response().status == 200
    reading = one_request(be, len(VARIANTS))
    assert [r[0].split()[1] for r in reading] == [f"/v{i}" for i in range(1, 9)]
    assert [r[2] for r in reading] == [b"abc"] * 6 + [b"", b""]
    for _, ident, _, trailers in reading:
        assert ident["x-forwarded-for"] == "127.0.0.1" and trailers == []
        assert "x-client-verified" not in ident


# ================================================================== config


def _check_config(tmp_path, certs, **listener):
    o = {"listen": "127.0.0.1:9", "backend": "127.0.0.1:9", "mode": "http",
         "cert": str(certs.ec_crt), "key": str(certs.ec_key)}
    o.update(listener)
    ini = tmp_path / "bodies.ini"
    ini.write_text(render_ini({"workers": 1}, {"main": o}))
    return ini, run_gatehouse(["-t", "-c", str(ini)])


BAD_KEYS = {
    # explicit buffer_size: a held request must fit in it
    "held_over_buffer": ({"buffer_size": "32k", "max_held_request": "31k"}, "max_held_request"),
    "held_over_limit": ({"max_held_request": "2m"}, "max_held_request"),
    "trailer_over_buffer": ({"buffer_size": "20k", "max_held_request": "4k",
                             "max_trailer_bytes": "64k"}, "max_trailer_bytes"),
    "ext_word": ({"chunk_extensions": "keep"}, "chunk_extensions"),
    "trailer_name": ({"allow_trailers": "X-Ok, Bad Name"}, "allow_trailers"),
    "trailer_empty": ({"allow_trailers": "X-Ok,,Y"}, "allow_trailers"),
    "tcp_mode": ({"mode": "tcp", "max_held_request": "1k"}, "max_held_request"),
}


def assert_refused_at_key(tmp_path, certs, opts, key):
    """gatehouse -t refuses the listener OPTS and names FILE:LINE: KEY."""
    ini, r = _check_config(tmp_path, certs, **opts)
    assert r.returncode != 0, r.stderr
    text = ini.read_text().splitlines()
    line = next(i for i, t in enumerate(text, 1) if t.startswith(f"{key} ="))
    assert re.search(rf"{re.escape(str(ini))}:{line}: {key}: ", r.stderr), r.stderr


@pytest.mark.parametrize("name", list(BAD_KEYS))
def test_body_keys_refused_with_file_line(tmp_path, certs, name):
    assert_refused_at_key(tmp_path, certs, *BAD_KEYS[name])


def test_body_keys_accepted(tmp_path, certs):
    for opts in ({"max_held_request": "0"}, {"buffer_size": "20k"},  # default shrinks to fit
                 {"buffer_size": "32k", "max_held_request": "30k"},
                 {"chunk_extensions": "forward", "allow_trailers": "X-Checksum, grpc-status"}):
        _, r = _check_config(tmp_path, certs, **opts)
        assert r.returncode == 0, (opts, r.stderr)
