"""mode = http end to end: what the backend receives (exact bytes), what the
client gets back, and what is logged.

Every request goes through TLS to gatehouse and on to a RecordingBackend
(http_backends.py) that keeps the raw bytes of every connection, so each
test can assert exactly what reached the backend - and, for the requests
gatehouse must reject, that nothing did."""

import re
import socket
import ssl
import time
from types import SimpleNamespace

import pytest

import backends
import http_backends as hb
from ghutil import (BioTLS, Gatehouse, client_context, free_port, render_ini, run_gatehouse, scaled,
                    sha256, tls_connect)

REQ_ID_RE = re.compile(rb"\r\nX-Request-Id: ([^\r\n]*)\r\n")
HEX16 = re.compile(r"[0-9a-f]{16}")
CLIENT_ADDR = "127.0.0.1"
HOST = "Host: example.com"

REASONS = {400: "Bad Request", 405: "Method Not Allowed", 408: "Request Timeout",
           413: "Content Too Large", 414: "URI Too Long",
           431: "Request Header Fields Too Large", 501: "Not Implemented",
           502: "Bad Gateway", 504: "Gateway Timeout", 505: "HTTP Version Not Supported"}


# ===================================================================== client


class PeerClosed(Exception):
    def __init__(self, how, data=b""):
        super().__init__(how)
        self.how = how
        self.data = data


class HttpResponse(SimpleNamespace):
    def header(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]


class HttpClient:
    """An HTTP/1.1 client over one TLS connection: raw writes, response
    parsing with framing (CL, chunked, close-delimited, HEAD, 1xx/204/304)."""

    def __init__(self, port, ctx, timeout=3.0):
        self.sock = tls_connect(port, ctx, timeout=timeout)
        self.buf = bytearray()
        self.closed = None        # how the peer ended: close_notify / tcp_eof / reset

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _more(self):
        if self.closed:
            raise PeerClosed(self.closed, bytes(self.buf))
        try:
            data = self.sock.recv(1 << 16)
        except ssl.SSLEOFError:
            data, self.closed = b"", "tcp_eof"
        except ssl.SSLError as e:
            if "UNEXPECTED_EOF" not in str(e) and "EOF occurred" not in str(e):
                raise
            data, self.closed = b"", "tcp_eof"
        except ConnectionResetError:
            data, self.closed = b"", "reset"
        if not data:
            self.closed = self.closed or "close_notify"
            raise PeerClosed(self.closed, bytes(self.buf))
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._more()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                return self._take(i + 2)
            self._more()

    def read_head(self):
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                return self._take(i + 4)
            self._more()

    def read_response(self, method="GET", interim=False):
        """The next response (the final one, 1xx skipped unless interim).
        .raw is every byte of it (interim responses included)."""
        raw = b""
        while True:
            head = self.read_head()
            raw += head
            lines = head[:-4].split(b"\r\n")
            m = re.match(rb"HTTP/1\.[01] (\d{3})(?: (.*))?$", lines[0])
            assert m, f"bad status line {lines[0]!r} in {head!r}"
            status = int(m.group(1))
            headers = []
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                headers.append((k.decode("latin-1"), v.strip().decode("latin-1")))
            r = HttpResponse(status=status, head=head, headers=headers, body=b"", raw=raw,
                             interim=[])
            if status < 200:
                if interim:
                    return r
                continue
            te = ",".join(r.header("transfer-encoding")).lower()
            cl = r.header("content-length")
            if method == "HEAD" or status in (204, 304):
                pass
            elif "chunked" in te:
                body = bytearray()
                while True:
                    line = self._line()
                    raw += line
                    size = int(re.split(rb"[;\s]", line.strip())[0], 16)
                    if size == 0:
                        while True:
                            t = self._line()
                            raw += t
                            if t == b"\r\n":
                                break
                        break
                    data = self._take(size + 2)
                    raw += data
                    body += data[:-2]
                r.body = bytes(body)
            elif cl:
                r.body = self._take(int(cl[0]))
                raw += r.body
            else:
                try:
                    while True:
                        self._more()
                except PeerClosed:
                    pass
                r.body = bytes(self.buf)
                raw += r.body
                self.buf.clear()
            r.raw = raw
            return r

    def read_to_end(self):
        """Reads until the peer ends the connection; returns (bytes, how)."""
        try:
            while True:
                self._more()
        except PeerClosed as e:
            data = bytes(self.buf)
            self.buf.clear()
            return data, e.how
        except socket.timeout:
            raise AssertionError(f"connection still open; got so far {bytes(self.buf)!r}") \
                from None


def req_bytes(line, *headers, body=b""):
    h = "".join(f"{x}\r\n" for x in headers)
    return f"{line}\r\n{h}\r\n".encode("latin-1") + body


def rebuilt(line, *headers, xff=CLIENT_ADDR, close=False, keep_alive=False):
    """The head gatehouse should send, X-Request-Id value as <ID>."""
    lines = [line, *headers, f"X-Forwarded-For: {xff}", "X-Forwarded-Proto: https",
             "X-Request-Id: <ID>"]
    if close:
        lines.append("Connection: close")
    if keep_alive:
        lines.append("Connection: keep-alive")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def split_id(head):
    """(head with the X-Request-Id value replaced by <ID>, the id)."""
    ids = REQ_ID_RE.findall(head)
    assert len(ids) == 1, f"expected one X-Request-Id in {head!r}"
    rid = ids[0].decode()
    assert HEX16.fullmatch(rid), f"X-Request-Id {rid!r} is not 16 hex digits"
    return REQ_ID_RE.sub(b"\r\nX-Request-Id: <ID>\r\n", head), rid


def reject_body(status, rule):
    return f"{status} {REASONS[status]}: {rule}\n".encode()


def assert_reject(resp, status, rule=None):
    assert resp.status == status, f"expected {status}, got {resp.raw!r}"
    assert resp.header("connection") == ["close"], resp.raw
    if rule is not None:
        assert resp.body == reject_body(status, rule), resp.raw


def assert_closed_after(client, timeout=5.0):
    """Nothing more after the response, and the stream ends with close_notify."""
    client.sock.settimeout(scaled(timeout))
    rest, how = client.read_to_end()
    assert rest == b"", f"unexpected bytes after the response: {rest!r}"
    assert how == "close_notify", f"connection ended by {how}, not close_notify"


def http_listener(**opts):
    o = {"mode": "http"}
    o.update(opts)
    return o


def start(gatehouse, backend, **opts):
    return gatehouse(backend, **http_listener(**opts))


def request_events(gh, since=0, n=1, timeout=5.0):
    gh.wait_for_log(r"\bevent=request\b", since=since, count=n, timeout=timeout)
    return gh.events("request", since=since)


# ============================================================ 1. valid requests

VALID = {
    "get": (req_bytes("GET /path/a.txt?q=1&r=%20x HTTP/1.1", HOST, "User-Agent:  curl/8  ",
                      "Accept: */*", "X-Tab:\tv1\t"),
            rebuilt("GET /path/a.txt?q=1&r=%20x HTTP/1.1", HOST, "User-Agent: curl/8",
                    "Accept: */*", "X-Tab: v1"),
            b"", "GET", "/path/a.txt?q=1&r=%20x"),
    "head": (req_bytes("HEAD /h HTTP/1.1", HOST),
             rebuilt("HEAD /h HTTP/1.1", HOST), b"", "HEAD", "/h"),
    "post_cl": (req_bytes("POST /form HTTP/1.1", HOST, "Content-Type: text/plain",
                          "Content-Length: 11", body=b"hello world"),
                rebuilt("POST /form HTTP/1.1", HOST, "Content-Type: text/plain",
                        "Content-Length: 11"),
                b"hello world", "POST", "/form"),
    "post_cl_duplicate_identical": (
        req_bytes("POST /dup HTTP/1.1", HOST, "Content-Length: 3", "Content-Length: 3",
                  body=b"abc"),
        rebuilt("POST /dup HTTP/1.1", HOST, "Content-Length: 3"), b"abc", "POST", "/dup"),
    "post_chunked": (
        req_bytes("POST /up HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                  body=b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"),
        # held whole (it fits max_held_request): de-chunked, Content-Length,
        # extension and trailer dropped (issue 11 item 2)
        rebuilt("POST /up HTTP/1.1", HOST, "Content-Length: 11"),
        b"hello world", "POST", "/up"),
    "put_empty_cl": (req_bytes("PUT /e HTTP/1.1", HOST, "Content-Length: 0"),
                     rebuilt("PUT /e HTTP/1.1", HOST, "Content-Length: 0"), b"", "PUT", "/e"),
    "options_asterisk": (req_bytes("OPTIONS * HTTP/1.1", HOST),
                         rebuilt("OPTIONS * HTTP/1.1", HOST), b"", "OPTIONS", "*"),
    "absolute_form": (req_bytes("GET http://example.com/abs?x=1 HTTP/1.1", "Host: EXAMPLE.com:80"),
                      rebuilt("GET http://example.com/abs?x=1 HTTP/1.1", "Host: EXAMPLE.com:80"),
                      b"", "GET", "http://example.com/abs?x=1"),
    "http10_keep_alive": (req_bytes("GET /ten HTTP/1.0", "Connection: keep-alive"),
                          rebuilt("GET /ten HTTP/1.0", keep_alive=True), b"", "GET", "/ten"),
}


@pytest.mark.parametrize("name", list(VALID))
def test_valid_request_forwarded_exactly(gatehouse, backend, ctx, name):
    raw, want_head, want_body, method, target = VALID[name]
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(raw)
        resp = c.read_response(method)
        (got,) = be.wait_requests(1)
        head, rid = split_id(got.head)
        assert head == want_head
        assert got.body == want_body
        assert be.conn_count() == 1 and len(be.connections[0].requests) == 1
        # the client gets the backend's answer byte for byte
        assert resp.raw == got.response
        assert resp.status == 200
        if method == "HEAD":
            assert resp.body == b"" and resp.header("content-length") == [str(len(f"HEAD {target}\n"))]
        else:
            assert resp.body == f"{method} {target}\n".encode()
        # the connection stays usable after it: a second request on it
        c.send(req_bytes("GET /again HTTP/1.1", HOST))
        again = c.read_response()
        assert again.status == 200 and again.body == b"GET /again\n"
    reqs = be.wait_requests(2)
    _, rid2 = split_id(reqs[1].head)
    assert rid2 != rid
    ev = request_events(gh, since=mark, n=2)
    assert ev[0]["request_id"] == rid
    assert ev[0]["method"] == method and ev[0]["target"] == target
    assert ev[0]["status"] == "200"
    body_bytes = 11 if name == "post_chunked" else len(want_body)
    assert ev[0]["request_body"] == str(body_bytes)
    assert ev[0]["response_bytes"] == str(len(resp.raw))
    assert ev[1]["request_id"] == rid2


def test_http10_without_keep_alive_closes(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /old HTTP/1.0", HOST))
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"GET /old\n"
        (got,) = be.wait_requests(1)
        assert split_id(got.head)[0] == rebuilt("GET /old HTTP/1.0", HOST, close=True)
        assert_closed_after(c)


def test_connection_close_request_closes_after_response(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        # the second request after Connection: close must never be forwarded
        c.send(req_bytes("GET /last HTTP/1.1", HOST, "Connection: close") +
               req_bytes("GET /never HTTP/1.1", HOST))
        resp = c.read_response()
        assert resp.status == 200 and resp.body == b"GET /last\n"
        assert_closed_after(c)
    conn = be.wait_conn_closed(0)
    assert len(conn.requests) == 1
    assert split_id(conn.requests[0].head)[0] == rebuilt("GET /last HTTP/1.1", HOST, close=True)
    assert b"/never" not in conn.raw


# ============================================================== 2. rejections

BIG_HEADERS = tuple(f"X-H{i}: v" for i in range(100))   # + Host = 101 fields
CHUNKED_HEAD = ("POST /c HTTP/1.1", HOST, "Transfer-Encoding: chunked")


def chunked_req(body, listener_head=CHUNKED_HEAD):
    return req_bytes(*listener_head, body=body)


# name: (bytes, status, rule, listener)
REJECTS = {
    # request smuggling: CL.TE / TE.CL / TE.TE
    "cl_te": (req_bytes("POST / HTTP/1.1", HOST, "Content-Length: 6",
                        "Transfer-Encoding: chunked", body=b"0\r\n\r\nG"),
              400, "cl_te_conflict", "main"),
    "te_cl": (req_bytes("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                        "Content-Length: 4", body=b"5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n"),
              400, "cl_te_conflict", "main"),
    "te_xchunked": (req_bytes("POST / HTTP/1.1", HOST, "Transfer-Encoding: xchunked",
                              body=b"0\r\n\r\n"), 400, "te_not_chunked", "main"),
    "te_chunked_identity": (req_bytes("POST / HTTP/1.1", HOST,
                                      "Transfer-Encoding: chunked, identity", body=b"0\r\n\r\n"),
                            400, "te_not_chunked", "main"),
    "te_chunked_twice": (req_bytes("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                                   "Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
                         400, "te_not_chunked", "main"),
    "te_chunked_param": (req_bytes("POST / HTTP/1.1", HOST, "Transfer-Encoding: chunked;q=1",
                                   body=b"0\r\n\r\n"), 400, "te_not_chunked", "main"),
    "te_obs_fold_value": (req_bytes("POST / HTTP/1.1", HOST, "Transfer-Encoding:",
                                    " chunked", body=b"0\r\n\r\n"),
                          400, "te_not_chunked", "main"),
    "te_fold_first_line": (req_bytes("POST / HTTP/1.1", " Transfer-Encoding: chunked", HOST,
                                     body=b"0\r\n\r\n"), 400, "bad_header_name", "main"),
    "te_space_before_colon": (req_bytes("POST / HTTP/1.1", HOST, "Transfer-Encoding : chunked",
                                        body=b"0\r\n\r\n"), 400, "space_before_colon", "main"),
    "te_gzip_chunked": (req_bytes("POST / HTTP/1.1", HOST, "Transfer-Encoding: gzip, chunked",
                                  body=b"0\r\n\r\n"), 501, "te_unsupported", "main"),
    "te_http10": (req_bytes("POST / HTTP/1.0", "Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
                  400, "te_http10", "main"),
    # Content-Length
    "cl_differing": (req_bytes("POST / HTTP/1.1", HOST, "Content-Length: 5",
                               "Content-Length: 6", body=b"hello!"), 400, "cl_mismatch", "main"),
    "cl_list_differing": (req_bytes("POST / HTTP/1.1", HOST, "Content-Length: 5, 6",
                                    body=b"hello!"), 400, "cl_mismatch", "main"),
    "cl_plus": (req_bytes("POST / HTTP/1.1", HOST, "Content-Length: +5", body=b"hello"),
                400, "bad_content_length", "main"),
    "cl_negative": (req_bytes("POST / HTTP/1.1", HOST, "Content-Length: -1"),
                    400, "bad_content_length", "main"),
    "cl_hex": (req_bytes("POST / HTTP/1.1", HOST, "Content-Length: 0x5", body=b"hello"),
               400, "bad_content_length", "main"),
    "cl_overflow": (req_bytes("POST / HTTP/1.1", HOST,
                              "Content-Length: 99999999999999999999999"),
                    400, "bad_content_length", "main"),
    "cl_folded": (req_bytes("POST / HTTP/1.1", HOST, "Content-Length: 5", " 0", body=b"hello"),
                  400, "bad_content_length", "main"),
    "cl_over_max_body": (req_bytes("POST / HTTP/1.1", HOST, "Content-Length: 1025",
                                   body=b"x" * 100), 413, "body_too_large", "small"),
    # line endings and bytes
    "bare_lf_request_line": (b"GET / HTTP/1.1\nHost: example.com\r\n\r\n", 400, "bare_lf", "main"),
    "bare_lf_header": (b"GET / HTTP/1.1\r\nHost: example.com\nX: y\r\n\r\n", 400, "bare_lf",
                       "main"),
    "bare_lf_end": (b"GET / HTTP/1.1\r\nHost: example.com\r\n\n", 400, "bare_lf", "main"),
    "bare_cr": (b"GET / HTTP/1.1\r\nHost: example.com\rX-A: b\r\n\r\n", 400, "bare_cr", "main"),
    "nul_in_value": (b"GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\x00b\r\n\r\n",
                     400, "nul_byte", "main"),
    "nul_in_target": (b"GET /a\x00b HTTP/1.1\r\nHost: example.com\r\n\r\n", 400, "nul_byte",
                      "main"),
    "ctl_in_value": (b"GET / HTTP/1.1\r\nHost: example.com\r\nX-A: a\x01b\r\n\r\n",
                     400, "bad_header_char", "main"),
    "obs_fold": (req_bytes("GET / HTTP/1.1", HOST, "X-Folded: a", " b"), 400, "obs_fold", "main"),
    # field names
    "header_name_space": (req_bytes("GET / HTTP/1.1", HOST, "X A: b"), 400, "bad_header_name",
                          "main"),
    "header_name_at": (req_bytes("GET / HTTP/1.1", HOST, "X@Y: b"), 400, "bad_header_name",
                       "main"),
    "header_empty_name": (req_bytes("GET / HTTP/1.1", HOST, ": b"), 400, "bad_header_name",
                          "main"),
    "header_no_colon": (req_bytes("GET / HTTP/1.1", HOST, "NoColonHere"), 400, "no_colon",
                        "main"),
    # Host
    "missing_host": (req_bytes("GET / HTTP/1.1", "Accept: */*"), 400, "missing_host", "main"),
    "two_hosts": (req_bytes("GET / HTTP/1.1", HOST, "Host: evil.example"),
                  400, "duplicate_host", "main"),
    "bad_host": (req_bytes("GET / HTTP/1.1", "Host: exa mple.com"), 400, "bad_host", "main"),
    "host_bad_port": (req_bytes("GET / HTTP/1.1", "Host: example.com:99999"), 400, "bad_host",
                      "main"),
    "host_mismatch": (req_bytes("GET http://a.example/ HTTP/1.1", "Host: b.example"),
                      400, "host_mismatch", "main"),
    # request line
    "http12": (req_bytes("GET / HTTP/1.2", HOST), 505, "bad_version", "main"),
    "http20": (req_bytes("GET / HTTP/2.0", HOST), 505, "bad_version", "main"),
    "http_lowercase": (req_bytes("GET / http/1.1", HOST), 400, "bad_request_line", "main"),
    "http09": (b"GET /\r\n\r\n", 400, "bad_request_line", "main"),
    "double_space": (req_bytes("GET  / HTTP/1.1", HOST), 400, "bad_request_line", "main"),
    # RFC 9112 2.2: up to four are ignored (test_http_conformance.py)
    "too_many_empty_lines": (b"\r\n" * 5 + req_bytes("GET / HTTP/1.1", HOST), 400,
                             "bad_request_line", "main"),
    "bad_target_char": (req_bytes("GET /a<b> HTTP/1.1", HOST), 400, "bad_target_char", "main"),
    "asterisk_get": (req_bytes("GET * HTTP/1.1", HOST), 400, "asterisk_not_options", "main"),
    "authority_get": (req_bytes("GET example.com:443 HTTP/1.1", HOST),
                      400, "authority_not_connect", "main"),
    "method_trace": (req_bytes("TRACE / HTTP/1.1", HOST), 405, "method_not_allowed", "main"),
    "method_trace_lowercase": (req_bytes("trace / HTTP/1.1", HOST), 405, "method_not_allowed",
                               "main"),
    "method_connect": (req_bytes("CONNECT example.com:443 HTTP/1.1", "Host: example.com:443"),
                       405, "method_not_allowed", "main"),
    "method_post_getonly": (req_bytes("POST / HTTP/1.1", HOST, "Content-Length: 1", body=b"x"),
                            405, "method_not_allowed", "getonly"),
    # limits
    "request_line_too_long": (req_bytes("GET /" + "a" * 9000 + " HTTP/1.1", HOST),
                              414, "request_line_too_long", "main"),
    "too_many_headers": (req_bytes("GET / HTTP/1.1", HOST, *BIG_HEADERS), 431, "header_count",
                         "main"),
    "header_block_too_large": (req_bytes("GET / HTTP/1.1", HOST,
                                         *(f"X-Big{i}: {'v' * 4000}" for i in range(5))),
                               431, "header_too_large", "main"),
    # chunked bodies (head valid, body broken in the same write)
    "chunk_size_overflow": (chunked_req(b"10000000000000000\r\n"), 400, "bad_chunk_size", "main"),
    "chunk_size_not_hex": (chunked_req(b"zz\r\nhello\r\n0\r\n\r\n"), 400, "bad_chunk_size",
                           "main"),
    "chunk_size_negative": (chunked_req(b"-5\r\nhello\r\n0\r\n\r\n"), 400, "bad_chunk_size",
                            "main"),
    "chunk_size_space": (chunked_req(b"5 \r\nhello\r\n0\r\n\r\n"), 400, "bad_chunk_size", "main"),
    "chunk_bad_ext": (chunked_req(b"5;=x\r\nhello\r\n0\r\n\r\n"), 400, "bad_chunk_ext", "main"),
    "chunk_ext_too_long": (chunked_req(b"5;a=" + b"b" * 300 + b"\r\nhello\r\n0\r\n\r\n"),
                           400, "chunk_ext_too_long", "main"),
    "chunk_bad_end": (chunked_req(b"5\r\nhelloXX0\r\n\r\n"), 400, "bad_chunk_end", "main"),
    "chunk_bare_lf": (chunked_req(b"5\nhello\r\n0\r\n\r\n"), 400, "bare_lf", "main"),
    "chunk_bad_trailer": (chunked_req(b"0\r\nX Y: z\r\n\r\n"), 400, "bad_trailer", "main"),
    "chunk_trailer_too_large": (chunked_req(b"0\r\nX-T: " + b"t" * 5000 + b"\r\n\r\n"),
                                400, "trailer_too_large", "main"),
    "chunked_over_max_body": (chunked_req(b"300\r\n" + b"a" * 0x300 + b"\r\n300\r\n" +
                                          b"b" * 0x300 + b"\r\n0\r\n\r\n"),
                              413, "body_too_large", "small"),
}

SHARED_LISTENERS = {
    "main": {},
    "small": {"max_body": "1k"},
    "getonly": {"allow_methods": "GET, HEAD"},
}


@pytest.fixture(scope="module")
def shared(gatehouse_bin, certs, tmp_path_factory):
    """One gatehouse with a listener per SHARED_LISTENERS entry, each with
    its own RecordingBackend, for the table-driven rejection tests."""
    d = tmp_path_factory.mktemp("http-shared")
    bes = {name: hb.RecordingBackend() for name in SHARED_LISTENERS}
    listeners, ports = {}, {}
    for name, opts in SHARED_LISTENERS.items():
        port = free_port()
        listeners[name] = {"listen": f"127.0.0.1:{port}", "backend": bes[name].addr,
                           "mode": "http", "cert": str(certs.ec_crt), "key": str(certs.ec_key),
                           **opts}
        ports[name] = port
    ini = d / "gatehouse.ini"
    ini.write_text(render_ini({"workers": 1, "shutdown_grace": "3s", "log_level": "info"},
                              listeners))
    gh = Gatehouse(ini, d / "gatehouse.stderr", d / "gatehouse.stdout", ports)
    try:
        gh.wait_ready()
        yield SimpleNamespace(gh=gh, backends=bes, ctx=client_context(certs.ca))
    finally:
        gh.stop()
        for b in bes.values():
            b.close()
    rep = gh.sanitizer_report()
    assert not rep, f"sanitizer report in {gh.log_path}:\n{rep}"


def probe_backend_untouched(env, listener, accepted_before):
    """Proves that no connection reached the backend since accepted_before:
    a fresh valid request must be the only new connection. (The kernel
    queues connections in order, so an earlier one would be accepted
    first.)"""
    be = env.backends[listener]
    target = f"/probe-{time.monotonic_ns()}"
    with HttpClient(env.gh.ports[listener], env.ctx) as c:
        c.send(req_bytes(f"GET {target} HTTP/1.1", HOST))
        r = c.read_response()
        assert r.status == 200 and r.body == f"GET {target}\n".encode()
    assert be.accepted - accepted_before == 1, \
        f"backend got {be.accepted - accepted_before - 1} connection(s) besides the probe"
    new = [c for c in be.connections if c.requests and c.requests[0].target == target]
    assert len(new) == 1
    assert new[0].raw.startswith(f"GET {target} ".encode())


@pytest.mark.parametrize("name", list(REJECTS))
def test_reject(shared, name):
    raw, status, rule, listener = REJECTS[name]
    gh, be = shared.gh, shared.backends[listener]
    before = be.accepted
    mark = gh.mark()
    with HttpClient(gh.ports[listener], shared.ctx) as c:
        c.send(raw)
        ev = gh.wait_event("reject", since=mark, rule=rule)
        assert ev["status"] == str(status) and ev["listener"] == listener
        # the backend first (once gatehouse has decided), then the client
        probe_backend_untouched(shared, listener, before)
        resp = c.read_response()
        assert_reject(resp, status, rule)
        assert_closed_after(c)
    gh.wait_event("conn_close", since=mark, reason="rejected")


def test_reject_after_valid_request_on_same_connection(shared):
    """A rejected request on a kept-alive connection: the earlier one is
    answered, the bad one never reaches the backend, which sees its
    connection closed."""
    gh, be = shared.gh, shared.backends["main"]
    before = be.accepted
    n_conns = len(be.connections)
    with HttpClient(gh.ports["main"], shared.ctx) as c:
        c.send(req_bytes("GET /first HTTP/1.1", HOST))
        assert c.read_response().body == b"GET /first\n"
        smuggle = req_bytes("POST /x HTTP/1.1", HOST, "Content-Length: 6",
                            "Transfer-Encoding: chunked", body=b"0\r\n\r\nG")
        c.send(smuggle)
        assert_reject(c.read_response(), 400, "cl_te_conflict")
        assert_closed_after(c)
    assert be.accepted - before == 1
    conn = be.wait_conn_closed(n_conns)
    assert [r.target for r in conn.requests] == ["/first"]
    assert b"/x" not in conn.raw and conn.partial == b""


# ---------------------------------------------------- bodies that break midway


def wait_backend_bytes(be, pred, what, timeout=5.0):
    deadline = time.monotonic() + scaled(timeout)
    while not (be.connections and pred(bytes(be.connections[0].raw))):
        assert time.monotonic() < deadline, f"backend never got {what}: {be.connections!r}"
        time.sleep(0.01)


def test_chunked_body_breaks_after_first_chunk(gatehouse, backend, ctx):
    """A streamed body (max_held_request = 0; held ones are in
    test_http_bodies.py): what went on stays, the rest never goes."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, max_held_request="0")
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /stream HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                         body=b"5\r\nhello\r\n"))
        # the head and the first chunk reach the backend
        wait_backend_bytes(be, lambda raw: raw.endswith(b"5\r\nhello\r\n"), "the first chunk")
        c.send(b"5x\r\nworld\r\n0\r\n\r\n")
        gh.wait_event("reject", since=mark, rule="bad_chunk_size", status=400)
        # the backend's connection ends with the request incomplete
        conn = be.wait_conn_closed(0)
        assert len(conn.requests) == 1 and not conn.requests[0].complete
        assert conn.requests[0].body == b"5\r\nhello\r\n"
        assert b"world" not in conn.raw
        assert be.conn_count() == 1
        # and the client is told
        assert_reject(c.read_response(), 400, "bad_chunk_size")
        assert_closed_after(c)


def test_chunked_body_grows_past_max_body(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, max_body="4k", max_held_request="0")  # streamed
    mark = gh.mark()
    piece = b"400\r\n" + b"z" * 1024 + b"\r\n"
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /big HTTP/1.1", HOST, "Transfer-Encoding: chunked") + piece * 3)
        # 3 KiB so far: all of it forwarded
        wait_backend_bytes(be, lambda raw: raw.endswith(piece * 3), "the first 3 KiB")
        c.send(piece * 3)
        gh.wait_event("reject", since=mark, rule="body_too_large", status=413)
        conn = be.wait_conn_closed(0)
        assert len(conn.requests) == 1 and not conn.requests[0].complete
        # never more than max_body of data went on (the fifth chunk is
        # refused at its size line), in gatehouse's chunk framing
        assert (piece * 4).startswith(conn.requests[0].body)
        assert_reject(c.read_response(), 413, "body_too_large")
        assert_closed_after(c)


# ======================================================= 3. pipelining, keep-alive


def test_pipelined_valid_then_invalid(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    mark = gh.mark()
    valid = [req_bytes("GET /p1 HTTP/1.1", HOST),
             req_bytes("POST /p2 HTTP/1.1", HOST, "Content-Length: 3", body=b"two"),
             req_bytes("GET /p3 HTTP/1.1", HOST)]
    bad = req_bytes("GET /p4 HTTP/1.1", HOST, "Host: other.example")
    with HttpClient(gh.port, ctx) as c:
        c.send(b"".join(valid) + bad)
        # the backend gets exactly the three valid ones
        reqs = be.wait_requests(3)
        assert [r.target for r in reqs] == ["/p1", "/p2", "/p3"]
        assert reqs[1].body == b"two"
        got = [c.read_response() for _ in range(3)]
        assert [r.status for r in got] == [200, 200, 200]
        assert [r.body for r in got] == [b"GET /p1\n", b"POST /p2\n", b"GET /p3\n"]
        assert_reject(c.read_response(), 400, "duplicate_host")
        assert_closed_after(c)
    # backend_reuse = safe: the connection that carried /p2's body carries
    # nothing more; /p3 went on a new one
    first, second = be.wait_conn_closed(0), be.wait_conn_closed(1)
    assert be.conn_count() == 2
    assert [r.target for r in first.requests] == ["/p1", "/p2"]
    assert [r.target for r in second.requests] == ["/p3"]
    for conn in (first, second):
        assert b"/p4" not in conn.raw and conn.partial == b""
    ev = request_events(gh, since=mark, n=3)
    assert [e["target"] for e in ev] == ["/p1", "/p2", "/p3"]


def test_pipelined_requests_answered_in_order(gatehouse, backend, ctx):
    """12 requests in one write (more than the 8 that may be in flight),
    the backend slower on early ones: all answered, in order."""
    def respond(req):
        r = hb.ok(req)
        n = int(req.target.rsplit("/", 1)[1])
        r.delay = 0.05 if n < 3 else 0.0
        return r

    be = backend(hb.RecordingBackend, respond=respond)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(b"".join(req_bytes(f"GET /q/{i} HTTP/1.1", HOST) for i in range(12)))
        bodies = [c.read_response().body for _ in range(12)]
    assert bodies == [f"GET /q/{i}\n".encode() for i in range(12)]
    assert [r.target for r in be.wait_requests(12)] == [f"/q/{i}" for i in range(12)]


def test_request_after_full_pipeline_not_swallowed(gatehouse, backend, ctx):
    """9 requests in one write (one more than may be in flight), then a 10th
    after the first 8 answers: the 9th and the 10th are each forwarded and
    answered - neither waits for more client bytes nor disappears."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(b"".join(req_bytes(f"GET /r/{i} HTTP/1.1", HOST) for i in range(9)))
        assert [c.read_response().body for _ in range(8)] == \
            [f"GET /r/{i}\n".encode() for i in range(8)]
        time.sleep(0.3)
        c.send(req_bytes("GET /r/9 HTTP/1.1", HOST))
        reqs = be.wait_requests(10)
        assert [r.target for r in reqs] == [f"/r/{i}" for i in range(10)]
        assert [c.read_response().body for _ in range(2)] == [b"GET /r/8\n", b"GET /r/9\n"]


def test_keep_alive_50_requests(gatehouse, backend, ctx):
    """One backend connection for all 50 (POSTs among them): backend_reuse =
    always, for a backend that reads every body."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, backend_reuse="always")
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        for i in range(50):
            if i % 2:
                c.send(req_bytes(f"POST /k/{i} HTTP/1.1", HOST, f"Content-Length: {len(str(i))}",
                                 body=str(i).encode()))
            else:
                c.send(req_bytes(f"GET /k/{i} HTTP/1.1", HOST))
            r = c.read_response()
            assert r.status == 200, r.raw
            assert r.body == f"{'POST' if i % 2 else 'GET'} /k/{i}\n".encode()
    reqs = be.wait_requests(50)
    assert be.conn_count() == 1
    ids = [split_id(r.head)[1] for r in reqs]
    assert len(set(ids)) == 50
    ev = request_events(gh, since=mark, n=50)
    assert len(ev) == 50
    assert [e["request_id"] for e in ev] == ids
    assert [e["target"] for e in ev] == [f"/k/{i}" for i in range(50)]


# ----------------------------------------------------------- large bodies


def test_large_bodies_stream_intact(gatehouse, backend, ctx):
    """Bodies bigger than the buffers: a 900 KiB Content-Length upload, the
    same as chunked, and a 3 MiB download, all byte for byte."""
    big_resp = bytes(range(256)) * (3 * 4096)

    def respond(req):
        if req.target == "/download":
            return hb.ok(req, body=big_resp)
        return hb.ok(req, body=b"%d %s" % (len(req.body), sha256(req.body).encode()))

    be = backend(hb.RecordingBackend, respond=respond)
    gh = start(gatehouse, be)
    mark = gh.mark()
    up = bytes((i * 7) & 0xFF for i in range(900 * 1024))
    chunked_body = b"".join(b"%x;n=%d\r\n" % (len(p), i) + p + b"\r\n"
                            for i, p in enumerate(up[k:k + 70000]
                                                  for k in range(0, len(up), 70000)))
    chunked_body += b"0\r\n\r\n"
    # what the backend reads: gatehouse's own chunk framing, extensions dropped
    rechunked = b"".join(b"%x\r\n" % len(p) + p + b"\r\n"
                         for p in (up[k:k + 70000] for k in range(0, len(up), 70000)))
    rechunked += b"0\r\n\r\n"
    with HttpClient(gh.port, ctx, timeout=10) as c:
        c.send(req_bytes("POST /cl HTTP/1.1", HOST, f"Content-Length: {len(up)}", body=up))
        r = c.read_response()
        assert r.body == b"%d %s" % (len(up), sha256(up).encode())
        c.send(req_bytes("POST /chunked HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                         body=chunked_body))
        r = c.read_response()
        assert r.body == b"%d %s" % (len(rechunked), sha256(rechunked).encode())
        c.send(req_bytes("GET /download HTTP/1.1", HOST))
        r = c.read_response()
        assert r.status == 200 and len(r.body) == len(big_resp) and r.body == big_resp
    ev = request_events(gh, since=mark, n=3)
    assert [e["request_body"] for e in ev] == [str(len(up)), str(len(up)), "0"]


# ====================================================== 4. report and log_rules

LOGGED = {
    "obs_fold": (req_bytes("GET /f HTTP/1.1", HOST, "X-Folded: a", " b"),
                 rebuilt("GET /f HTTP/1.1", HOST, "X-Folded: a   b")),
    "bad_target_char": (req_bytes("GET /a<b>|c HTTP/1.1", HOST),
                        rebuilt("GET /a<b>|c HTTP/1.1", HOST)),
    "missing_host": (req_bytes("GET /nohost HTTP/1.1", "Accept: */*"),
                     rebuilt("GET /nohost HTTP/1.1", "Accept: */*")),
}


@pytest.mark.parametrize("how", ["report", "log_rules"])
def test_policy_rule_logged_and_forwarded(gatehouse, backend, ctx, how):
    be = backend(hb.RecordingBackend)
    opts = ({"validation": "report"} if how == "report"
            else {"log_rules": "obs_fold, bad_target_char , missing_host"})
    gh = start(gatehouse, be, **opts)
    for i, (rule, (raw, want)) in enumerate(LOGGED.items()):
        mark = gh.mark()
        with HttpClient(gh.port, ctx) as c:
            c.send(raw)
            r = c.read_response()
            assert r.status == 200, (rule, r.raw)
        got = be.wait_requests(i + 1)[i]
        head, rid = split_id(got.head)
        assert head == want, rule
        ev = gh.wait_event("anomaly", since=mark, rule=rule)
        assert ev["action"] == "log" and ev["request_id"] == rid
        assert not gh.events("reject", since=mark)


def test_log_rules_only_listed_rules(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, log_rules="obs_fold")
    with HttpClient(gh.port, ctx) as c:
        c.send(LOGGED["obs_fold"][0])
        assert c.read_response().status == 200
    before = be.accepted
    with HttpClient(gh.port, ctx) as c:
        c.send(LOGGED["missing_host"][0])
        assert_reject(c.read_response(), 400, "missing_host")
        assert_closed_after(c)
    time.sleep(0.2)
    assert be.accepted == before and len(be.all_requests()) == 1


FRAMING_IN_REPORT = {
    "cl_te": (REJECTS["cl_te"][0], 400, "cl_te_conflict"),
    "bare_lf": (REJECTS["bare_lf_header"][0], 400, "bare_lf"),
    "cl_differing": (REJECTS["cl_differing"][0], 400, "cl_mismatch"),
    "te_space_before_colon": (REJECTS["te_space_before_colon"][0], 400, "space_before_colon"),
    "chunk_size": (REJECTS["chunk_size_not_hex"][0], 400, "bad_chunk_size"),
    "http12": (REJECTS["http12"][0], 505, "bad_version"),
    "te_gzip": (REJECTS["te_gzip_chunked"][0], 501, "te_unsupported"),
}


FRAMING_IN_REPORT["cl_over_max_body"] = (REJECTS["cl_over_max_body"][0], 413, "body_too_large")


@pytest.mark.parametrize("name", list(FRAMING_IN_REPORT))
def test_framing_rules_enforced_in_report_mode(gatehouse, backend, ctx, name):
    raw, status, rule = FRAMING_IN_REPORT[name]
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, validation="report", max_body="1k")
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(raw)
        gh.wait_event("reject", since=mark, rule=rule, status=status)
        time.sleep(0.2)
        assert be.accepted == 0 and be.total_bytes() == 0
        assert_reject(c.read_response(), status, rule)
        assert_closed_after(c)
    assert not gh.events("anomaly", since=mark)


@pytest.mark.parametrize("value", ["cl_te_conflict", "obs_fold, bare_lf", "no_such_rule"])
def test_log_rules_framing_rule_is_config_error(tmp_path, certs, value):
    ini = tmp_path / "g.ini"
    ini.write_text(render_ini({"workers": 1}, {"x": {
        "listen": f"127.0.0.1:{free_port()}", "backend": "127.0.0.1:9", "mode": "http",
        "cert": str(certs.ec_crt), "key": str(certs.ec_key), "log_rules": value}}))
    r = run_gatehouse(["-t", "-c", str(ini)])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "log_rules" in r.stdout + r.stderr


# ============================================================ 5. header spoofing


def test_forwarding_headers_replaced(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /s HTTP/1.1", HOST, "X-Forwarded-For: 6.6.6.6",
                         "X-Forwarded-Proto: http", "X-Request-Id: 0123456789abcdef",
                         "x-forwarded-for: 7.7.7.7", "X-Client-Cert-Subject: CN=admin",
                         "X-Client-Cert-Fingerprint: 00", "X-Client-Verified: SUCCESS",
                         "Accept: */*"))
        assert c.read_response().status == 200
    (got,) = be.wait_requests(1)
    head, rid = split_id(got.head)
    assert head == rebuilt("GET /s HTTP/1.1", HOST, "Accept: */*")
    assert rid != "0123456789abcdef"


def test_forwarded_for_append(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, forwarded_for="append", trusted_proxies="127.0.0.1")
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /a HTTP/1.1", HOST, "X-Forwarded-For: 192.0.2.1",
                         "Accept: */*", "X-Forwarded-For: 198.51.100.2, 203.0.113.3"))
        assert c.read_response().status == 200
        c.send(req_bytes("GET /b HTTP/1.1", HOST))
        assert c.read_response().status == 200
    first, second = be.wait_requests(2)
    lines = split_id(first.head)[0].split(b"\r\n")
    assert lines[:4] == [b"GET /a HTTP/1.1", b"Host: example.com",
                         b"X-Forwarded-For: 192.0.2.1, 198.51.100.2, 203.0.113.3, 127.0.0.1",
                         b"Accept: */*"]
    assert lines[4:] == [b"X-Forwarded-Proto: https", b"X-Request-Id: <ID>", b"", b""]
    assert split_id(second.head)[0] == rebuilt("GET /b HTTP/1.1", HOST)


def test_hop_by_hop_headers_removed(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, forwarded_for="append", trusted_proxies="127.0.0.1")
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("POST /h HTTP/1.1", HOST, "Connection: X-Forwarded-For, Host",
                         "Connection: Content-Length, x-custom, X-Request-Id, Keep-Alive",
                         "Keep-Alive: timeout=5", "X-Custom: secret", "X-Other: kept",
                         "TE: trailers", "Upgrade: websocket", "Proxy-Connection: keep-alive",
                         "Proxy-Authorization: Basic Zm9vOmJhcg==", "X-Forwarded-For: 192.0.2.9",
                         "Content-Length: 4", body=b"data"))
        r = c.read_response()
        assert r.status == 200
    (got,) = be.wait_requests(1)
    head, _ = split_id(got.head)
    assert head == (b"POST /h HTTP/1.1\r\nHost: example.com\r\nX-Other: kept\r\n"
                    b"X-Forwarded-For: 192.0.2.9, 127.0.0.1\r\nContent-Length: 4\r\n"
                    b"X-Forwarded-Proto: https\r\nX-Request-Id: <ID>\r\n\r\n")
    assert got.body == b"data"


# ========================================================== 6. response framing


def respond_by_target(req):
    t = req.target
    if t.startswith("/head"):
        return hb.ok(req, body=b"0123456789abc")
    if t.startswith("/204"):
        return hb.no_content(req)
    if t.startswith("/304"):
        return hb.not_modified(req)
    if t.startswith("/chunked"):
        return hb.chunked(req, pieces=[b"abc", b"defgh", b"i" * 300],
                          trailers=b"X-Checksum: 42\r\n")
    if t.startswith("/sts"):
        return hb.ok(req, headers=("Strict-Transport-Security: max-age=1",))
    if t.startswith("/close"):
        return hb.close_delimited(req)
    if t.startswith("/1xx"):
        return hb.Response(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + hb.ok(req).raw)
    return hb.ok(req)


def test_response_framing_keeps_pairing(gatehouse, backend, ctx):
    """HEAD with a Content-Length, 204, 304, a chunked body with trailers and
    a 103 before the answer each end where they should: the response to the
    next request on the connection comes out intact."""
    be = backend(hb.RecordingBackend, respond=respond_by_target)
    gh = start(gatehouse, be)
    mark = gh.mark()
    seq = [("HEAD", "/head"), ("GET", "/after-head"), ("GET", "/204"), ("GET", "/after-204"),
           ("GET", "/304"), ("GET", "/after-304"), ("GET", "/chunked"), ("GET", "/after-chunked"),
           ("GET", "/1xx"), ("GET", "/after-1xx")]
    with HttpClient(gh.port, ctx) as c:
        for method, target in seq:
            c.send(req_bytes(f"{method} {target} HTTP/1.1", HOST))
            r = c.read_response(method)
            (got,) = [x for x in be.wait_requests(1) if x.target == target]
            assert r.raw == got.response, target
            if target == "/head":
                assert r.header("content-length") == ["13"] and r.body == b""
            elif target == "/chunked":
                assert r.body == b"abcdefgh" + b"i" * 300
                assert r.raw.endswith(b"0\r\nX-Checksum: 42\r\n\r\n")
            elif target == "/204":
                assert r.status == 204
            elif target == "/304":
                assert r.status == 304
            elif target == "/1xx":
                assert r.raw.startswith(b"HTTP/1.1 103 Early Hints\r\n") and r.status == 200
            else:
                assert r.body == f"{method} {target}\n".encode()
        # and pipelined, five per write (at most 8 may be in flight)
        for part in (seq[:5], seq[5:]):
            c.send(b"".join(req_bytes(f"{m} {t} HTTP/1.1", HOST) for m, t in part))
            for method, target in part:
                r = c.read_response(method)
                assert r.status in (200, 204, 304), (target, r.raw)
                if target.startswith("/after"):
                    assert r.body == f"GET {target}\n".encode()
    ev = request_events(gh, since=mark, n=2 * len(seq))
    assert [(e["method"], e["target"]) for e in ev] == seq * 2
    assert [e["status"] for e in ev[:len(seq)]] == ["200", "200", "204", "200", "304", "200",
                                                   "200", "200", "200", "200"]


def test_close_delimited_response(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend, respond=respond_by_target)
    gh = start(gatehouse, be)
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /close HTTP/1.1", HOST))
        head = c.read_head()
        assert head == b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
        body, how = c.read_to_end()
        assert body == b"GET /close\nuntil close\n"
        assert how == "close_notify"
    ev = request_events(gh, since=mark)
    assert ev[0]["status"] == "200" and ev[0]["response_bytes"] == str(len(head) + len(body))


def test_backend_connection_close_ends_only_the_backend_connection(gatehouse, backend, ctx):
    """A response with Connection: close (and a Content-Length) is the last
    one on its backend connection; Connection is hop-by-hop: the client's
    connection goes on without it, the next request on a new backend
    connection (issue 12; test_http_conformance.py pipelines)."""
    be = backend(hb.RecordingBackend, respond=lambda req: hb.ok(req, close=True))
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        for target in ("/one", "/two"):
            c.send(req_bytes(f"GET {target} HTTP/1.1", HOST))
            r = c.read_response()
            assert r.status == 200 and r.body == f"GET {target}\n".encode()
            assert r.header("connection") == [], r.raw
    assert be.conn_count() == 2


def test_backend_http10_response_ends_client_connection(gatehouse, backend, ctx):
    """An HTTP/1.0 status line says "close" by itself: the client
    connection closes after it."""
    be = backend(hb.RecordingBackend, respond=lambda req: hb.Response(
        b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nold", close=True))
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /one HTTP/1.1", HOST))
        r = c.read_response()
        assert r.status == 200 and r.body == b"old"
        assert_closed_after(c)


def test_client_close_notify_after_request_still_answered(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    c = BioTLS(gh.port, ctx)
    try:
        c.write(req_bytes("GET /bye HTTP/1.1", HOST))
        c.send_close_notify()
        data, how = c.read_to_end()
    finally:
        c.close()
    (got,) = be.wait_requests(1)
    assert data == got.response
    assert how == "close_notify"


def test_expect_100_continue(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("PUT /upload HTTP/1.1", HOST, "Expect: 100-continue",
                         "Content-Length: 10"))
        interim = c.read_response("PUT", interim=True)
        assert interim.raw == b"HTTP/1.1 100 Continue\r\n\r\n"
        c.send(b"0123456789")
        r = c.read_response("PUT")
        assert r.status == 200 and r.body == b"PUT /upload\n"
        c.send(req_bytes("GET /next HTTP/1.1", HOST))
        assert c.read_response().body == b"GET /next\n"
    first = be.wait_requests(2)[0]
    # held until its body was complete: gatehouse sent the 100 itself and
    # the backend gets the whole request without Expect
    assert split_id(first.head)[0] == rebuilt("PUT /upload HTTP/1.1", HOST, "Content-Length: 10")
    assert first.body == b"0123456789"


def test_hsts_added_once(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend, respond=respond_by_target)
    gh = start(gatehouse, be, hsts="max-age=600")
    with HttpClient(gh.port, ctx) as c:
        for target in ("/plain", "/sts", "/chunked", "/204"):
            c.send(req_bytes(f"GET {target} HTTP/1.1", HOST))
            r = c.read_response()
            sts = r.header("strict-transport-security")
            want = ["max-age=1"] if target == "/sts" else ["max-age=600"]
            assert sts == want, (target, r.raw)
            (got,) = [x for x in be.all_requests() if x.target == target]
            if target != "/sts":
                # the backend's head with the one field added at its end
                want_raw = got.response.replace(
                    b"\r\n\r\n", b"\r\nStrict-Transport-Security: max-age=600\r\n\r\n", 1)
                assert r.raw == want_raw
            else:
                assert r.raw == got.response
        # gatehouse's own error answers carry it too
        c.send(req_bytes("GET /x HTTP/1.1"))
        r = c.read_response()
        assert_reject(r, 400, "missing_host")
        assert r.header("strict-transport-security") == ["max-age=600"]


# ============================================================ 7. backend errors


def test_backend_refused_502(gatehouse, ctx):
    bad = backends.Refuser()
    try:
        gh = gatehouse(bad, mode="http")
        mark = gh.mark()
        with HttpClient(gh.port, ctx) as c:
            t0 = time.monotonic()
            c.send(req_bytes("GET / HTTP/1.1", HOST))
            r = c.read_response()
            assert_reject(r, 502)
            assert_closed_after(c)
            assert time.monotonic() - t0 < scaled(3)
        gh.wait_event("backend_error", since=mark, reason="refused")
    finally:
        bad.close()


def test_backend_hangs_504(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend, respond=hb.hang)
    gh = start(gatehouse, be, idle_timeout="1s")
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        t0 = time.monotonic()
        c.send(req_bytes("GET /slow HTTP/1.1", HOST))
        r = c.read_response()
        elapsed = time.monotonic() - t0
        assert_reject(r, 504)
        assert_closed_after(c)
    assert 0.8 <= elapsed < scaled(3), elapsed
    gh.wait_event("backend_error", since=mark, reason="response_timeout")
    be.wait_conn_closed(0)


@pytest.mark.parametrize("kind", ["malformed", "bare_lf", "no_answer", "bad_chunked",
                                  "cl_te_response", "switching_protocols"])
def test_backend_bad_response_502(gatehouse, backend, ctx, kind):
    respond = {
        "malformed": hb.malformed,
        "bare_lf": lambda req: hb.Response(b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi"),
        "no_answer": hb.no_answer,
        "bad_chunked": lambda req: hb.Response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        "cl_te_response": lambda req: hb.Response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0\r\n\r\n"),
        "switching_protocols": lambda req: hb.Response(
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: evil\r\n\r\n"),
    }[kind]
    be = backend(hb.RecordingBackend, respond=respond)
    gh = start(gatehouse, be)
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /bad HTTP/1.1", HOST))
        if kind == "bad_chunked":
            # the head went out before the body turned out broken: the
            # client sees the response cut short, never a complete one
            head = c.read_head()
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            rest, how = c.read_to_end()
            assert b"zz" not in rest
        else:
            r = c.read_response()
            assert_reject(r, 502)
            assert_closed_after(c)
    if kind not in ("no_answer", "switching_protocols"):
        gh.wait_event("backend_error", since=mark, reason="bad_response")
    # never logged as a complete answer; the request itself is still logged
    # with how it ended (a cut response keeps the status it had)
    assert not gh.events("request", since=mark, outcome="complete")
    assert [e["outcome"] for e in gh.events("request", since=mark)] == ["backend_failed"]


# ============================================================ 8. header timeout


def test_header_timeout_408(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, header_timeout="1s")
    mark = gh.mark()
    with HttpClient(gh.port, ctx) as c:
        t0 = time.monotonic()
        c.send(b"GET /slow HTTP/1.1\r\nHost: exa")
        r = c.read_response()
        elapsed = time.monotonic() - t0
        assert r.status == 408 and r.header("connection") == ["close"], r.raw
        assert_closed_after(c)
    assert 0.9 <= elapsed < scaled(3), elapsed
    gh.wait_event("reject", since=mark, rule="header_timeout", status=408)
    time.sleep(0.2)
    assert be.accepted == 0


def test_header_timeout_trickle_does_not_extend(gatehouse, backend, ctx):
    """A byte every 0.1 s does not restart the head deadline."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, header_timeout="1s")
    with HttpClient(gh.port, ctx) as c:
        t0 = time.monotonic()
        c.sock.settimeout(0.1)
        head = b"GET /trickle HTTP/1.1\r\nHost: example.com\r\nX-Pad: " + b"a" * 100
        for ch in head:
            if time.monotonic() - t0 > scaled(2.5):
                break
            try:
                c.send(bytes([ch]))
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                break
            try:
                c._more()
                break                      # something came back
            except socket.timeout:
                continue
            except PeerClosed:
                break
        c.sock.settimeout(scaled(1))
        r = c.read_response()
        elapsed = time.monotonic() - t0
        assert r.status == 408, r.raw
    assert elapsed < scaled(2.5), elapsed
    assert be.accepted == 0


@pytest.mark.parametrize("how", ["close_notify", "tcp_fin"])
def test_client_ends_during_head_closes_promptly(gatehouse, backend, ctx, how):
    """The client ends its stream with half a head buffered: nothing more
    can come, so gatehouse closes the connection at once (not after a
    timeout), and the backend never sees a connection."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be)          # header_timeout 10s, idle_timeout 5m
    mark = gh.mark()
    c = BioTLS(gh.port, ctx)
    try:
        c.write(b"GET /partial HTTP/1.1\r\nHost: exa")
        if how == "close_notify":
            c.send_close_notify()
        c.shutdown_tcp_write()
        gh.wait_event("conn_close", since=mark, timeout=2)
    finally:
        c.close()
    assert be.accepted == 0


def test_idle_keep_alive_no_408(gatehouse, backend, ctx):
    """After a complete exchange, an idle kept-alive connection is not a
    slow head: no 408 is sent, it is closed at idle_timeout silently."""
    be = backend(hb.RecordingBackend)
    gh = start(gatehouse, be, header_timeout="1s", idle_timeout="2s")
    with HttpClient(gh.port, ctx) as c:
        c.send(req_bytes("GET /one HTTP/1.1", HOST))
        assert c.read_response().status == 200
        t0 = time.monotonic()
        c.sock.settimeout(scaled(4))
        rest, how = c.read_to_end()
        assert rest == b"", rest
        assert time.monotonic() - t0 >= 1.5
