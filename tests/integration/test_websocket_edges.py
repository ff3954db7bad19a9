"""WebSocket edge cases from RFC 6455 that a lenient backend would get
wrong if gatehouse let them through in part: valid frames ahead of a
violation in the same read, the client's Close as the end of the
conversation (5.5.1), lengths refused at the frame header, a text frame
held whole until its UTF-8 is checked, and many small frames streamed both
ways (throughput). Fixtures and helpers come from test_websocket.py."""

import socket
import threading
import time
from types import SimpleNamespace

import pytest

from ghutil import scaled
from test_websocket import all_audit, audit_of, echo, open_ws, ws  # noqa: F401 (fixture)
from ws_backend import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, WsEchoBackend,
                        _parse_head, _header, accept_for, close_payload, encode_frame,
                        read_head, recv_frame, send_frame)
from wsclient import audit_global, read_until_end


@pytest.fixture
def ws_with(gatehouse, backend, tmp_path):
    """ws_with(BackendClass, **listener_keys): like test_websocket's `ws`
    fixture, for a backend class of this file."""
    def start(cls, **keys):
        be = backend(cls)
        audit = tmp_path / "ws-edges-audit.jsonl"
        opts = {"mode": "http", "websocket": "on"}
        opts.update(keys)
        gh = gatehouse(be, global_opts=audit_global(audit), **opts)
        return SimpleNamespace(gh=gh, port=gh.port, be=be, audit=audit)
    return start


def wait_frames(be_conn, n, timeout=5.0):
    """Waits until the backend saw at least n frames; returns them."""
    deadline = time.monotonic() + scaled(timeout)
    while len(be_conn.frames) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return list(be_conn.frames)


def settle(be_conn, quiet=0.3):
    """Waits until the backend's frame count has not changed for `quiet`
    seconds (or it closed): what it got is then final."""
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + scaled(5)
    while time.monotonic() < deadline:
        n = len(be_conn.frames)
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet or be_conn.closed.is_set():
            break
        time.sleep(0.02)
    return list(be_conn.frames)


# ------------------------------------ valid frames ahead of a violation

def test_valid_frames_in_the_same_write_as_a_violation_reach_the_backend(ws, ctx):
    """Three valid frames and an unmasked one in one TLS record: the
    backend gets the three, whole, and nothing of the fourth."""
    w = ws()
    conn, _ = open_ws(w, ctx)
    good = [encode_frame(OP_TEXT, "one"), encode_frame(OP_BINARY, b"\x00two"),
            encode_frame(OP_PING, b"three")]
    bad = encode_frame(OP_TEXT, "bad", mask=False)
    with conn:
        conn.sendall(b"".join(good) + bad)
        got, how = read_until_end(conn)
    closes = [(f.close_code, f.close_reason) for f in got if f.opcode == OP_CLOSE]
    assert closes == [(1002, b"ws_unmasked")], got
    be = w.be.wait_closed(0)
    assert [f.raw for f in be.frames] == good, (be.frames, be.error)
    close = audit_of(w, "close")
    assert close["ws_frames_in"] == 3, close


def test_valid_frames_ahead_of_bad_utf8_in_the_same_write(ws, ctx):
    w = ws()
    conn, _ = open_ws(w, ctx)
    good = [encode_frame(OP_TEXT, "fine"), encode_frame(OP_TEXT, "caf\u00e9")]
    bad = encode_frame(OP_TEXT, b"bad \xff text")
    with conn:
        conn.sendall(b"".join(good) + bad)
        got, how = read_until_end(conn)
    assert [(f.close_code) for f in got if f.opcode == OP_CLOSE] == [1007], got
    be = w.be.wait_closed(0)
    assert [f.raw for f in be.frames] == good, be.frames


# ------------------------------------------ many small frames, both ways

class FragmentEchoBackend(WsEchoBackend):
    """Echoes every data frame as it comes (fragments stay fragments), the
    way a relaying backend does, so the server-to-client path carries as
    many small frames as the client sent."""

    def _serve(self, sock, conn):
        head = read_head(sock, timeout=30)
        conn.request = head
        _, headers = _parse_head(head)
        key = _header(headers, "Sec-WebSocket-Key")[0]
        sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                      f"{accept_for(key)}\r\n\r\n").encode())
        while True:
            f = recv_frame(sock, timeout=30)
            if f is None:
                return
            conn.frames.append(f)
            if f.opcode == OP_CLOSE:
                send_frame(sock, OP_CLOSE, f.payload[:2], mask=False)
                sock.shutdown(socket.SHUT_WR)
                return
            send_frame(sock, f.opcode, f.payload, fin=f.fin, mask=False)


def test_one_mib_in_64_byte_fragments_echoed_quickly(ws_with, ctx):
    """A 1 MiB text message sent as 16,384 fragments of 64 bytes, each
    echoed by the backend as it comes: every fragment is back within 3.5 s
    (a threaded Python relay does it in about 1.5 s)."""
    n_frames, size = 16384, 64
    w = ws_with(FragmentEchoBackend)
    conn, _ = open_ws(w, ctx)
    frames = [encode_frame(OP_TEXT if i == 0 else OP_CONT, b"x" * size, fin=i == n_frames - 1)
              for i in range(n_frames)]
    got = []
    err = []

    def reader():
        try:
            while len(got) < n_frames:
                f = recv_frame(conn, timeout=scaled(10))
                if f is None:
                    return
                got.append(f)
        except Exception as e:       # reported by the assertion below
            err.append(e)

    with conn:
        t0 = time.monotonic()
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        batch = 256
        for i in range(0, n_frames, batch):
            conn.sendall(b"".join(frames[i:i + batch]))
        th.join(scaled(3.5) - (time.monotonic() - t0))
        elapsed = time.monotonic() - t0
        n_got = len(got)
        th.join(scaled(10))
    assert n_got == n_frames, (f"{n_got} of {n_frames} echoed fragments back in {elapsed:.2f} s",
                               err)
    assert all(f.payload == b"x" * size for f in got)
    assert got[-1].fin and not any(f.fin for f in got[:-1])
