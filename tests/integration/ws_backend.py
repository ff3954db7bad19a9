"""A WebSocket (RFC 6455) echo backend and a small client toolkit for the
websocket tests.

WsEchoBackend is a threaded server on 127.0.0.1 (ephemeral port, one thread
per connection; it follows backends.Backend: addr, port, accepted, close()).
It answers an upgrade request with 101 and the right Sec-WebSocket-Accept,
then echoes every text/binary message (fragments reassembled, echoed as one
frame), answers ping with pong, ignores pong, and answers close with close
(same code) before closing. It records what it saw: the handshake request
heads, every frame received, and the messages echoed.

Options to misbehave, for the tests of what gatehouse refuses:
  wrong_accept=True        a Sec-WebSocket-Accept for another key
  mask_server_frames=True  its frames carry a mask (servers must not)
  status=403 (or any)      answer the upgrade with that status, no 101
  extra_headers=[...]      more header lines in the 101 ("Name: value")
  send_after_101=b"..."    raw bytes sent right after the 101 (crafted frames)

The client side works on a plain connected socket:
  ws_connect(sock, ...)   sends an upgrade request, reads the response head,
                          returns a Handshake (status, headers, accept_ok)
  send_frame(sock, ...)   sends one frame; every field may be set, wrong
                          ones included (opcode, RSV bits, FIN, mask or not,
                          the length encoding, a declared length that lies)
  encode_frame(...)       the same bytes without sending them
  recv_frame(sock)        reads one frame (None on EOF), unmasking if masked

Stdlib only."""

import base64
import hashlib
import os
import socket
import struct
import threading
import time

from backends import Backend

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0x0, 0x1, 0x2
OP_CLOSE, OP_PING, OP_PONG = 0x8, 0x9, 0xA

CRLF = b"\r\n"
MAX_HEAD = 16384


def accept_for(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (both str)."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def new_key():
    return base64.b64encode(os.urandom(16)).decode("ascii")


# ------------------------------------------------------------------ frames

class Frame:
    """One frame as read: header fields and the unmasked payload."""

    def __init__(self, fin, rsv, opcode, masked, payload, raw):
        self.fin = fin
        self.rsv = rsv              # the three RSV bits as 0..7 (RSV1 = 4)
        self.opcode = opcode
        self.masked = masked
        self.payload = payload      # unmasked
        self.raw = raw              # the bytes on the wire

    @property
    def close_code(self):
        if self.opcode != OP_CLOSE or len(self.payload) < 2:
            return None
        return struct.unpack(">H", self.payload[:2])[0]

    @property
    def close_reason(self):
        return self.payload[2:] if self.opcode == OP_CLOSE else b""

    def __repr__(self):
        return (f"<Frame fin={int(self.fin)} rsv={self.rsv} op={self.opcode:#x} "
                f"masked={self.masked} payload={self.payload[:40]!r}"
                f"{'...' if len(self.payload) > 40 else ''}>")


def encode_frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length_form=None,
                 declared_length=None):
    """The bytes of one frame.

    mask: True (a random key), a 4-byte key, or False/None (unmasked).
    length_form: None (minimal), 7, 16 or 64: how the length is written,
    so non-minimal encodings can be made. declared_length: the length
    written in the header when it should differ from len(payload) (a 64-bit
    value with the top bit set, a lie)."""
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if declared_length is None else declared_length
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    key = None
    if mask is True:
        key = os.urandom(4)
    elif mask:
        key = bytes(mask)
        assert len(key) == 4
    mbit = 0x80 if key is not None else 0
    if length_form is None:
        length_form = 7 if n < 126 else 16 if n <= 0xFFFF else 64
    if length_form == 7:
        head = bytes([b0, mbit | n])
    elif length_form == 16:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    elif length_form == 64:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    else:
        raise ValueError(f"length_form {length_form!r}")
    if key is None:
        return head + payload
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def send_frame(sock, opcode, payload=b"", **kw):
    """Sends one frame (see encode_frame for the options); returns its bytes."""
    data = encode_frame(opcode, payload, **kw)
    sock.sendall(data)
    return data


def close_payload(code, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode("utf-8")
    return struct.pack(">H", code) + reason


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None if not buf else bytes(buf)
        buf += chunk
    return bytes(buf)


def recv_frame(sock, timeout=5.0, max_payload=1 << 26):
    """Reads one frame. Returns None on EOF before a frame starts; raises
    EOFError on EOF inside one, socket.timeout when nothing comes."""
    old = sock.gettimeout()
    sock.settimeout(timeout)
    try:
        head = _recv_exact(sock, 2)
        if head is None:
            return None
        if len(head) < 2:
            raise EOFError("EOF inside a frame header")
        b0, b1 = head
        n = b1 & 0x7F
        ext = b""
        if n == 126:
            ext = _recv_exact(sock, 2) or b""
            if len(ext) < 2:
                raise EOFError("EOF inside a frame header")
            n = struct.unpack(">H", ext)[0]
        elif n == 127:
            ext = _recv_exact(sock, 8) or b""
            if len(ext) < 8:
                raise EOFError("EOF inside a frame header")
            n = struct.unpack(">Q", ext)[0]
        key = b""
        if b1 & 0x80:
            key = _recv_exact(sock, 4) or b""
            if len(key) < 4:
                raise EOFError("EOF inside a frame header")
        if n > max_payload:
            raise ValueError(f"frame of {n} bytes")
        data = _recv_exact(sock, n) if n else b""
        if data is None or len(data) < n:
            raise EOFError("EOF inside a frame payload")
        payload = bytes(b ^ key[i & 3] for i, b in enumerate(data)) if key else data
        return Frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, bool(key), payload,
                     head + ext + key + data)
    finally:
        sock.settimeout(old)


# --------------------------------------------------------------- handshake

def _parse_head(head):
    lines = head[:-4].split(CRLF)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip().decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return lines[0].decode("latin-1"), headers


def _header(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


class Handshake:
    """The server's answer to ws_connect."""

    def __init__(self, key, head):
        self.key = key
        self.raw = head
        self.status_line, self.headers = _parse_head(head)
        parts = self.status_line.split(" ", 2)
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

    def header(self, name):
        return _header(self.headers, name)

    @property
    def accept_ok(self):
        return self.header("Sec-WebSocket-Accept") == [accept_for(self.key)]

    @property
    def switched(self):
        """101 with the right accept: frames may follow."""
        return self.status == 101 and self.accept_ok

    def __repr__(self):
        return f"<Handshake {self.status_line!r} accept_ok={self.accept_ok}>"


def read_head(sock, timeout=5.0):
    """Reads an HTTP head (through CRLF CRLF) without reading past it: the
    bytes after it stay in the socket for recv_frame."""
    old = sock.gettimeout()
    deadline = time.monotonic() + timeout
    seen = 0
    try:
        while True:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            peek = sock.recv(MAX_HEAD, socket.MSG_PEEK)
            if not peek:
                raise EOFError("EOF before the end of the head")
            end = peek.find(CRLF + CRLF)
            if end >= 0:
                return _recv_exact(sock, end + 4)
            if len(peek) >= MAX_HEAD:
                raise ValueError("head too large")
            if time.monotonic() >= deadline:
                raise socket.timeout("no complete head")
            if len(peek) == seen:
                time.sleep(0.005)   # a peek does not wait for new bytes
            seen = len(peek)
    finally:
        sock.settimeout(old)


def ws_connect(sock, path="/", host="localhost", key=None, origin=None, protocols=None,
               extensions=None, version="13", extra_headers=(), timeout=5.0):
    """Sends an upgrade request and reads the response head. Returns a
    Handshake; frames may be exchanged when .switched. Every header can be
    made wrong: version, key (any str), extra_headers (more lines)."""
    key = new_key() if key is None else key
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}"]
    if version is not None:
        lines.append(f"Sec-WebSocket-Version: {version}")
    if origin is not None:
        lines.append(f"Origin: {origin}")
    if protocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(protocols))
    if extensions:
        lines.append(f"Sec-WebSocket-Extensions: {extensions}")
    lines.extend(extra_headers)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    return Handshake(key, read_head(sock, timeout))


# ------------------------------------------------------------------ server

class WsConnection:
    """What the backend saw on one connection."""

    def __init__(self, index):
        self.index = index
        self.request = None          # the upgrade request head (bytes)
        self.request_headers = []
        self.frames = []             # every Frame received
        self.messages = []           # (opcode, payload) echoed
        self.close_code = None       # code of the client's close, if any
        self.error = None            # why the backend stopped early
        self.closed = threading.Event()

    def __repr__(self):
        return (f"<WsConnection {self.index} frames={len(self.frames)} "
                f"messages={len(self.messages)} close={self.close_code} error={self.error}>")


class WsEchoBackend(Backend):
    def __init__(self, wrong_accept=False, mask_server_frames=False, status=101,
                 extra_headers=(), send_after_101=b""):
        self.wrong_accept = wrong_accept
        self.mask_server_frames = mask_server_frames
        self.status = status
        self.extra_headers = list(extra_headers)
        self.send_after_101 = send_after_101
        self.connections = []
        self.cond = threading.Condition()
        super().__init__()

    # ---------------------------------------------------------- accessors
    def wait_connection(self, index=0, timeout=5.0):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.connections) > index, timeout):
                raise AssertionError(f"backend connection {index} never opened")
            return self.connections[index]

    def wait_closed(self, index=0, timeout=5.0):
        conn = self.wait_connection(index, timeout)
        if not conn.closed.wait(timeout):
            raise AssertionError(f"backend connection {index} still open: {conn!r}")
        return conn

    # ------------------------------------------------------------- server
    def _send(self, sock, opcode, payload=b""):
        send_frame(sock, opcode, payload, mask=self.mask_server_frames)

    def handle(self, sock):
        with self.cond:
            conn = WsConnection(len(self.connections))
            self.connections.append(conn)
            self.cond.notify_all()
        try:
            self._serve(sock, conn)
        except (OSError, EOFError, ValueError) as e:
            conn.error = conn.error or repr(e)
        finally:
            conn.closed.set()

    def _serve(self, sock, conn):
        head = read_head(sock, timeout=30)
        conn.request = head
        _, conn.request_headers = _parse_head(head)
        keys = _header(conn.request_headers, "Sec-WebSocket-Key")
        if len(keys) != 1:
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                         b"Connection: close\r\n\r\n")
            conn.error = "no key"
            return
        if self.status != 101:
            sock.sendall(f"HTTP/1.1 {self.status} No\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n".encode())
            return
        accept = accept_for(new_key() if self.wrong_accept else keys[0])
        lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Accept: {accept}"]
        lines.extend(self.extra_headers)
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.send_after_101)

        message_op, parts = None, []
        while True:
            f = recv_frame(sock, timeout=30)
            if f is None:
                conn.error = conn.error or "eof"
                return
            conn.frames.append(f)
            if not f.masked:
                # RFC 6455 5.1: a server closes on an unmasked client frame
                self._send(sock, OP_CLOSE, close_payload(1002, "unmasked"))
                conn.error = "unmasked frame"
                return
            if f.opcode == OP_PING:
                self._send(sock, OP_PONG, f.payload)
            elif f.opcode == OP_PONG:
                pass
            elif f.opcode == OP_CLOSE:
                conn.close_code = f.close_code
                self._send(sock, OP_CLOSE, f.payload[:2])
                sock.shutdown(socket.SHUT_WR)
                return
            elif f.opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                if f.opcode != OP_CONT:
                    message_op, parts = f.opcode, []
                parts.append(f.payload)
                if f.fin and message_op is not None:
                    payload = b"".join(parts)
                    with self.cond:
                        conn.messages.append((message_op, payload))
                        self.cond.notify_all()
                    self._send(sock, message_op, payload)
                    message_op, parts = None, []
            else:
                self._send(sock, OP_CLOSE, close_payload(1002, "opcode"))
                conn.error = f"opcode {f.opcode:#x}"
                return
