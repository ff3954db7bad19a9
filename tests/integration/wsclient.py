"""Client-side helpers for test_websocket.py and test_framing.py.

ws_backend.read_head/ws_connect peek with MSG_PEEK, which Python's ssl
sockets refuse; BufConn wraps a (TLS) socket with a read-ahead buffer
instead, so an HTTP head can be read and the bytes after it stay available
to ws_backend.recv_frame (which only needs recv/settimeout/gettimeout).

Also: reading an HTTP response (head + Content-Length body), reading
frames until the peer ends the stream, and reading the audit log
(schema-checked, like test_audit.py does). Stdlib + jsonschema only."""

import json
import re
import socket
import ssl
import time
from pathlib import Path

import ghutil
from ghutil import scaled
from ws_backend import Handshake, new_key, recv_frame

CRLF = b"\r\n"
MAX_HEAD = 65536


class BufConn:
    """A socket with a read-ahead buffer: recv() serves buffered bytes
    first. Everything else is passed to the wrapped socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def recv(self, n):
        if self.buf:
            out = bytes(self.buf[:n])
            del self.buf[:n]
            return out
        return self.sock.recv(n)

    def unread(self, data):
        self.buf[:0] = data

    def sendall(self, data):
        return self.sock.sendall(data)

    def send(self, data):
        return self.sock.send(data)

    def settimeout(self, t):
        self.sock.settimeout(t)

    def gettimeout(self):
        return self.sock.gettimeout()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_head(conn, timeout=5.0):
    """Reads through the first CRLF CRLF; bytes past it stay in conn.buf."""
    deadline = time.monotonic() + scaled(timeout)
    data = bytearray(conn.buf)
    conn.buf.clear()
    old = conn.gettimeout()
    try:
        while True:
            end = data.find(CRLF + CRLF)
            if end >= 0:
                conn.unread(bytes(data[end + 4:]))
                return bytes(data[:end + 4])
            if len(data) > MAX_HEAD:
                raise ValueError("head too large")
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout(f"no complete head; got {bytes(data)!r}")
            conn.sock.settimeout(left)
            chunk = conn.sock.recv(65536)
            if not chunk:
                raise EOFError(f"EOF before the end of the head; got {bytes(data)!r}")
            data += chunk
    finally:
        conn.sock.settimeout(old)


def recv_exact(conn, n, timeout=5.0):
    old = conn.gettimeout()
    conn.settimeout(scaled(timeout))
    try:
        buf = bytearray()
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise EOFError(f"EOF after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)
    finally:
        conn.settimeout(old)


class Response(Handshake):
    """A response head (Handshake gives status, headers, accept_ok) and its
    Content-Length body."""

    def __init__(self, key, head, body=b""):
        super().__init__(key, head)
        self.body = body


def read_response(conn, key=None, timeout=5.0):
    head = read_head(conn, timeout)
    r = Response(key or "", head)
    cl = r.header("Content-Length")
    if r.status != 101 and cl:
        r.body = recv_exact(conn, int(cl[0]), timeout)
    return r


def upgrade_request(path="/", host="localhost", key=None, method="GET", version="13",
                    origin=None, extensions=None, protocols=None, extra_headers=(),
                    omit=(), http_version="HTTP/1.1"):
    """The bytes of an upgrade request. omit: header names to leave out
    (e.g. "Sec-WebSocket-Key"). Returns (bytes, key)."""
    key = new_key() if key is None else key
    fields = [("Host", host), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
              ("Sec-WebSocket-Key", key)]
    if version is not None:
        fields.append(("Sec-WebSocket-Version", version))
    if origin is not None:
        fields.append(("Origin", origin))
    if extensions:
        fields.append(("Sec-WebSocket-Extensions", extensions))
    if protocols:
        fields.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
    omit_l = {o.lower() for o in omit}
    lines = [f"{method} {path} {http_version}"]
    lines += [f"{k}: {v}" for k, v in fields if k.lower() not in omit_l]
    lines += list(extra_headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), key


def tls_conn(port, ctx, timeout=10.0):
    return BufConn(ghutil.tls_connect(port, ctx, timeout=timeout))


def ws_open(port, ctx, after=b"", **kw):
    """TLS connect, send an upgrade request (plus `after`, raw bytes in the
    same write), read the response head. Returns (conn, Response)."""
    conn = tls_conn(port, ctx)
    try:
        req, key = upgrade_request(**kw)
        conn.sendall(req + after)
        return conn, read_response(conn, key=key)
    except BaseException:
        conn.close()
        raise


def read_until_end(conn, timeout=5.0, max_frames=100):
    """Reads frames until the peer ends the stream. Returns (frames, how),
    how in 'eof' (close_notify), 'tcp_eof' (FIN without close_notify),
    'reset', 'tls_error'. Fails if the
    stream is still open after timeout."""
    frames = []
    deadline = time.monotonic() + scaled(timeout)
    while len(frames) < max_frames:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"stream still open after {timeout}s; frames so far {frames}")
        try:
            f = recv_frame(conn, timeout=left)
        except socket.timeout:
            raise AssertionError(
                f"stream still open after {timeout}s; frames so far {frames}") from None
        except (ConnectionResetError, BrokenPipeError):
            return frames, "reset"
        except ssl.SSLError as e:
            if "EOF" in str(e):
                return frames, "tcp_eof"     # no close_notify
            return frames, "tls_error"
        except EOFError:
            return frames, "eof"
        if f is None:
            return frames, "eof"
        frames.append(f)
    raise AssertionError(f"more than {max_frames} frames: {frames[:5]}...")


# ------------------------------------------------------------------- audit

def _validator():
    import jsonschema
    schema = json.loads((ghutil.REPO / "config" / "audit-schema.json").read_text())
    return jsonschema.Draft202012Validator(schema)


_VALIDATOR = None


def audit_entries(path, validate=True):
    """Every complete line of an audit file, parsed (and schema-checked)."""
    global _VALIDATOR
    p = Path(path)
    if not p.exists():
        return []
    out = []
    for raw in p.read_bytes().split(b"\n")[:-1]:
        e = json.loads(raw.decode("utf-8"))
        if validate:
            if _VALIDATOR is None:
                _VALIDATOR = _validator()
            _VALIDATOR.validate(e)
        out.append(e)
    return out


def wait_audit(path, pred, timeout=5.0, what="audit entry"):
    """Waits until some entry satisfies pred; returns the first such."""
    found = []

    def look():
        found[:] = [e for e in audit_entries(path, validate=False) if pred(e)]
        return bool(found)

    ghutil.wait_until(look, scaled(timeout), interval=0.02,
                      what=f"{what} in {path}: {_tail(path)}")
    return found[0]


def _tail(path, n=8):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except FileNotFoundError:
        return "(no file)"


def audit_global(path):
    return {"audit_file": str(path), "audit_flush_interval": "50ms"}


def header_lines(head):
    """Header lines of a raw head as (name_lower, value) str pairs."""
    out = []
    for line in head.split(CRLF)[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        out.append((name.strip().decode("latin-1").lower(), value.strip().decode("latin-1")))
    return out


def status_of(data):
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None
