"""An HTTP/1.1 backend for the mode = http tests that records exactly what it
received.

RecordingBackend is a threaded TCP server on 127.0.0.1 (ephemeral port). It
parses requests minimally: a head up to CRLF CRLF, then a body framed by
Content-Length or chunked (kept as raw bytes, chunk framing included). Every
connection keeps the exact bytes it received (.raw) and the requests cut
from them (.requests, each with .raw = head + body bytes). Each request is
answered by `respond` (a callable, see Response) - by default 200 with a
small text body "METHOD TARGET\n" - so tests can choose chunked, HEAD, 204,
304, Connection: close, close-delimited, 100-continue, malformed, no answer
or a delay.

Stdlib only; the class follows backends.Backend (addr, port, accepted,
close())."""

import re
import socket
import threading
import time

from backends import Backend

CRLF = b"\r\n"


class Request:
    """One request as the backend read it."""

    def __init__(self, head, index):
        self.index = index             # position on its connection
        self.head = head               # bytes, through the final CRLF CRLF
        self.body = b""                # raw body bytes (chunked framing kept)
        self.complete = False          # the whole body arrived
        self.response = None           # bytes the backend answered with
        self.received_at = time.monotonic()
        lines = head[:-4].split(CRLF)
        self.request_line = lines[0]
        parts = lines[0].split(b" ")
        self.method = parts[0].decode("latin-1") if parts else ""
        self.target = parts[1].decode("latin-1") if len(parts) > 1 else ""
        self.version = parts[2].decode("latin-1") if len(parts) > 2 else ""
        self.headers = []              # [(name, value)] as bytes, in order
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            self.headers.append((name, value.strip(b" \t")))

    @property
    def raw(self):
        return self.head + self.body

    def header(self, name):
        """Values of every field called name (case-insensitive), as str."""
        n = name.lower().encode()
        return [v.decode("latin-1") for k, v in self.headers if k.lower() == n]

    def has(self, name):
        return bool(self.header(name))

    def __repr__(self):
        return f"<Request {self.method} {self.target} complete={self.complete} raw={self.raw!r}>"


class Connection:
    """One accepted connection: every byte received and the requests in it.
    Requests are cut from the bytes as soon as they arrive (feed), so the
    record does not depend on how far the backend got with answering."""

    def __init__(self, index):
        self.index = index
        self.raw = bytearray()
        self.requests = []
        self.closed = threading.Event()   # the peer closed (EOF/reset) or we did
        self.eof = None                   # 'eof', 'reset', 'local', ... once closed
        self.parse_error = None           # bytes this parser could not frame
        self._buf = bytearray()
        self._cur = None                  # request whose body is being read
        self._need = 0                    # CL bytes left / chunked sub-state
        self._chunk_state = None

    @property
    def partial(self):
        """Bytes of an unfinished request (a head not complete, or the head
        and body so far of a request whose body did not complete)."""
        if self._cur is not None:
            return self._cur.raw + bytes(self._buf)
        return bytes(self._buf)

    @property
    def complete_requests(self):
        return [r for r in self.requests if r.complete]

    def feed(self, data):
        """Called with the connection's lock held."""
        self.raw += data
        if self.parse_error:
            return
        self._buf += data
        try:
            while self._step():
                pass
        except ValueError as e:
            self.parse_error = f"{e}"

    def _step(self):
        if self._cur is None:
            i = self._buf.find(b"\r\n\r\n")
            if i < 0:
                return False
            head = bytes(self._buf[:i + 4])
            del self._buf[:i + 4]
            req = Request(head, len(self.requests))
            self.requests.append(req)
            te = ",".join(req.header("transfer-encoding")).lower()
            cls = req.header("content-length")
            if "chunked" in te:
                self._cur, self._chunk_state = req, "size"
            elif cls and int(cls[0].split(",")[0].strip()) > 0:
                self._cur, self._chunk_state = req, None
                self._need = int(cls[0].split(",")[0].strip())
            else:
                req.complete = True
            return True
        req = self._cur
        if self._chunk_state is None or self._chunk_state == "data":
            if not self._buf:
                return False
            k = min(self._need, len(self._buf))
            req.body += bytes(self._buf[:k])
            del self._buf[:k]
            self._need -= k
            if self._need == 0:
                if self._chunk_state is None:
                    self._finish()
                else:
                    self._chunk_state = "size"
            return True
        i = self._buf.find(b"\r\n")
        if i < 0:
            return False
        line = bytes(self._buf[:i + 2])
        del self._buf[:i + 2]
        req.body += line
        if self._chunk_state == "size":
            size = int(re.split(rb"[;\s]", line.strip())[0] or b"0", 16)
            if size == 0:
                self._chunk_state = "trailer"
            else:
                self._chunk_state, self._need = "data", size + 2
        elif line == b"\r\n":        # trailer section ends
            self._finish()
        return True

    def _finish(self):
        self._cur.complete = True
        self._cur = None
        self._chunk_state = None

    def __repr__(self):
        return (f"<Connection {self.index} requests={len(self.requests)} eof={self.eof} "
                f"raw={bytes(self.raw)!r}>")


class Response:
    """What to answer one request with. Build with the helpers below or pass
    raw=bytes. close=True closes the connection after sending (for a
    close-delimited body, or to end without answering when raw is b"")."""

    def __init__(self, raw=b"", close=False, delay=0.0, hang=False, chunks=None,
                 chunk_gap=0.0, fin_with_data=False):
        self.raw = raw
        self.close = close
        # close=True: the FIN leaves in the same segment as the response's
        # last bytes (TCP_CORK until the shutdown), so the proxy has the
        # backend's end before it can read the response's end
        self.fin_with_data = fin_with_data
        self.delay = delay           # seconds before answering
        self.hang = hang             # never answer; keep reading
        self.chunks = chunks         # list of bytes sent one by one (after raw)
        self.chunk_gap = chunk_gap


def body_for(req):
    return f"{req.method} {req.target}\n".encode("latin-1")


def ok(req, status=200, reason="OK", body=None, headers=(), close=False):
    """A Content-Length response; for HEAD the length of the body that a
    GET would get, and no body."""
    body = body_for(req) if body is None else body
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: text/plain",
            f"Content-Length: {len(body)}"]
    head += list(headers)
    if close:
        head.append("Connection: close")
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    if req.method != "HEAD":
        data += body
    return Response(data, close=close)


def chunked(req, pieces=None, headers=(), trailers=b""):
    pieces = [body_for(req)[:3], body_for(req)[3:]] if pieces is None else pieces
    head = ["HTTP/1.1 200 OK", "Content-Type: text/plain", "Transfer-Encoding: chunked"]
    head += list(headers)
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    if req.method == "HEAD":
        return Response(data)
    for p in pieces:
        if p:
            data += b"%x\r\n" % len(p) + p + CRLF
    data += b"0\r\n" + trailers + CRLF
    return Response(data)


def no_content(req, status=204, reason="No Content", headers=()):
    head = [f"HTTP/1.1 {status} {reason}"] + list(headers)
    return Response(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))


def not_modified(req):
    return no_content(req, 304, "Not Modified", headers=("ETag: \"v1\"",))


def close_delimited(req, body=None):
    body = body_for(req) + b"until close\n" if body is None else body
    return Response(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body, close=True)


def malformed(req):
    return Response(b"HTTP/1.1 2x0 Broken\r\nContent-Length: 2\r\n\r\nhi")


def no_answer(req):
    return Response(b"", close=True)


def hang(req):
    return Response(hang=True)


def default_respond(req):
    return ok(req)


class RecordingBackend(Backend):
    """Records connections and requests; answers each request with
    respond(req) -> Response. expect_continue: answer 100 Continue to a head
    with Expect: 100-continue before reading its body (otherwise the body is
    simply read). Thread-safe accessors below."""

    def __init__(self, respond=default_respond, expect_continue=True, continue_delay=0.0):
        self.respond = respond
        self.expect_continue = expect_continue
        self.continue_delay = continue_delay
        self.connections = []
        self.cond = threading.Condition()
        super().__init__()

    # ---------------------------------------------------------- accessors
    def all_requests(self):
        with self.cond:
            return [r for c in self.connections for r in c.requests]

    def complete_requests(self):
        return [r for r in self.all_requests() if r.complete]

    def conn_count(self):
        with self.cond:
            return len(self.connections)

    def total_bytes(self):
        with self.cond:
            return sum(len(c.raw) for c in self.connections)

    def wait_requests(self, n, timeout=5.0):
        """Waits until n complete requests arrived (over all connections)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [r for c in self.connections for r in c.requests if r.complete]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"backend got {len(got)} of {n} requests within {timeout}s: "
                        f"{self.connections!r}")
                self.cond.wait(left)

    def wait_conn_closed(self, index=0, timeout=5.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.connections) <= index:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"backend connection {index} never opened")
                self.cond.wait(left)
            conn = self.connections[index]
        if not conn.closed.wait(max(0.0, deadline - time.monotonic())):
            raise AssertionError(f"backend connection {index} still open after {timeout}s: "
                                 f"{conn!r}")
        return conn

    # ------------------------------------------------------------- server
    def handle(self, sock):
        with self.cond:
            conn = Connection(len(self.connections))
            self.connections.append(conn)
            self.cond.notify_all()
        sock.settimeout(30)
        try:
            self._serve(sock, conn)
        except _Closed as e:
            conn.eof = e.how
        except socket.timeout:
            conn.eof = "timeout"
        except (ConnectionResetError, BrokenPipeError):
            conn.eof = "reset"
        except OSError as e:
            conn.eof = f"error: {e!r}"
        finally:
            with self.cond:
                if conn.eof is None:
                    conn.eof = "local"
                conn.closed.set()
                self.cond.notify_all()

    def _more(self, sock, conn):
        try:
            data = sock.recv(1 << 16)
        except ConnectionResetError:
            raise _Closed("reset") from None
        if not data:
            raise _Closed("eof")
        with self.cond:
            conn.feed(data)
            self.cond.notify_all()
        if conn.parse_error:
            raise _Closed(f"unparsable: {conn.parse_error}")

    def _serve(self, sock, conn):
        i = 0
        while not self._stop.is_set():
            while len(conn.requests) <= i:
                self._more(sock, conn)
            req = conn.requests[i]
            if (self.expect_continue and not req.complete and
                    "100-continue" in ",".join(req.header("expect")).lower()):
                if self.continue_delay:
                    time.sleep(self.continue_delay)
                sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            while not req.complete:
                self._more(sock, conn)
            resp = self.respond(req)
            with self.cond:
                req.response = resp.raw + b"".join(resp.chunks or ())
            if resp.delay:
                if self._stop.wait(resp.delay):
                    return
            if resp.hang:
                # keep reading (and recording) until the peer goes away
                while True:
                    self._more(sock, conn)
            if resp.fin_with_data:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
            if resp.raw:
                sock.sendall(resp.raw)
            for piece in resp.chunks or ():
                if resp.chunk_gap:
                    time.sleep(resp.chunk_gap)
                sock.sendall(piece)
            if resp.close:
                try:
                    sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                # record anything more the peer sends, until it closes
                while True:
                    self._more(sock, conn)
            i += 1


class _Closed(Exception):
    def __init__(self, how):
        super().__init__(how)
        self.how = how
