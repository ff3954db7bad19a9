"""WebSocket edge cases from RFC 6455 that a lenient backend would get
wrong if gatehouse let them through in part: valid frames ahead of a
violation in the same read, the client's Close as the end of the
conversation (5.5.1), lengths refused at the frame header, a text frame
held whole until its UTF-8 is checked, and many small frames streamed both
ways (throughput). Fixtures and helpers come from test_websocket.py."""

import select
import socket
import ssl
import time
from types import SimpleNamespace

import pytest

from ghutil import scaled
import ghutil
from test_websocket import all_audit, audit_of, echo, open_ws, ws  # noqa: F401 (fixture)
from ws_backend import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, WsEchoBackend,
                        _parse_head, _header, accept_for, close_payload, encode_frame,
                        read_head, recv_frame, send_frame)
from wsclient import audit_global, read_until_end, upgrade_request


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


# --------------------------------------- the client's Close ends it (5.5.1)

CLOSE_1000 = encode_frame(OP_CLOSE, close_payload(1000, "bye"))
BIG_TEXT = "t" * 100_000          # over the held bound: streamed as checked


def _close_cases():
    return {
        "two_closes": ([], CLOSE_1000, [encode_frame(OP_CLOSE, close_payload(1001))]),
        "ping_after_close": ([], CLOSE_1000, [encode_frame(OP_PING, b"late")]),
        "text_after_close": ([], CLOSE_1000, [encode_frame(OP_TEXT, "late")]),
        "close_between_fragments": ([encode_frame(OP_TEXT, "first half ", fin=False)],
                                    CLOSE_1000,
                                    [encode_frame(OP_CONT, "second half", fin=True)]),
        "large_text_then_close_then_ping": ([encode_frame(OP_TEXT, BIG_TEXT)], CLOSE_1000,
                                            [encode_frame(OP_PING, b"late")]),
    }


@pytest.mark.parametrize("split", [False, True], ids=["one_write", "after_close_later"])
@pytest.mark.parametrize("case", list(_close_cases()))
def test_data_after_a_client_close_is_dropped_not_refused(ws, ctx, case, split):
    """What the client sends after its Close is discarded: the Close (and
    everything before it) reaches the backend, the backend's Close reaches
    the client, and nothing is refused (no 1002, no reject entry)."""
    before, close, after = _close_cases()[case]
    w = ws(idle_timeout="30s")
    conn, _ = open_ws(w, ctx)
    with conn:
        if split:
            conn.sendall(b"".join(before) + close)
            be = w.be.wait_connection(0)
            wait_frames(be, len(before) + 1)
            conn.sendall(b"".join(after))
        else:
            conn.sendall(b"".join(before + [close] + after))
        got, how = read_until_end(conn, timeout=10)
    be = w.be.wait_closed(0)
    assert [f.raw for f in be.frames] == before + [close], (be.frames, be.error)
    assert be.close_code == 1000
    closes = [(f.close_code, f.close_reason) for f in got if f.opcode == OP_CLOSE]
    assert closes == [(1000, b"")], got      # the backend's echo of the code, not 1002
    if case == "large_text_then_close_then_ping":
        assert [f.payload for f in got if f.opcode == OP_TEXT] == [BIG_TEXT.encode()]
    entries = all_audit(w)
    assert not [e for e in entries if e["event"] == "reject"], entries
    close_entry = audit_of(w, "close")
    assert close_entry["reason"] != "rejected", close_entry
    assert close_entry["ws_frames_in"] == len(before) + 1, close_entry


# ------------------------------------------------ lengths at the header

class RawBackend(WsEchoBackend):
    """Switches, then records every byte it receives, as a backend that
    acts on a frame's payload as it streams in would see it."""

    def _serve(self, sock, conn):
        switch(sock, conn)
        conn.raw = bytearray()
        while True:
            data = sock.recv(65536)
            if not data:
                return
            conn.raw += data


def raw_until_closed(w):
    be = w.be.wait_closed(0, timeout=scaled(10))
    return bytes(be.raw)


def test_frame_over_ws_max_frame_refused_before_any_byte(ws_with, ctx):
    """The header of a frame declares more than ws_max_frame: nothing of
    it (header or payload) reaches the backend; the frame before it does."""
    w = ws_with(RawBackend, ws_max_frame="1k")
    conn, _ = open_ws(w, ctx)
    ok = encode_frame(OP_BINARY, b"b" * 1000)
    big = encode_frame(OP_BINARY, b"B" * 1025)
    with conn:
        conn.sendall(ok + big[:600])
        got, how = read_until_end(conn)
    assert [(f.opcode, f.close_code) for f in got] == [(OP_CLOSE, 1009)], got
    assert raw_until_closed(w) == ok


def test_frame_taking_its_message_past_ws_max_message_refused_at_its_header(ws_with, ctx):
    w = ws_with(RawBackend, ws_max_message="2k")
    conn, _ = open_ws(w, ctx)
    first = [encode_frame(OP_BINARY, b"1" * 900, fin=False),
             encode_frame(OP_CONT, b"2" * 900, fin=False)]
    third = encode_frame(OP_CONT, b"3" * 900, fin=True)   # 2700 > 2048
    with conn:
        conn.sendall(b"".join(first) + third[:300])
        got, how = read_until_end(conn)
    assert [(f.opcode, f.close_code, f.close_reason) for f in got] == [
        (OP_CLOSE, 1009, b"ws_message_too_large")], got
    assert raw_until_closed(w) == b"".join(first)


# ------------------------------------- a text frame is held until checked

def _dribble(conn, data, pause=0.003):
    for i in range(len(data)):
        conn.sendall(data[i:i + 1])
        time.sleep(pause)


def test_bad_utf8_text_frame_in_many_small_reads_reaches_nothing(ws_with, ctx):
    """A text frame whose last character is bad, sent one byte per TLS
    record after a valid one: the backend gets the valid frame and not
    one byte of the bad one (not its header, not its valid prefix)."""
    w = ws_with(RawBackend)
    conn, _ = open_ws(w, ctx)
    ok = encode_frame(OP_TEXT, "valid \u00e9")
    bad = encode_frame(OP_TEXT, b"valid prefix \xc3\xa9 then \xed\xa0\x80")  # surrogate
    with conn:
        conn.sendall(ok)
        _dribble(conn, bad)
        got, how = read_until_end(conn)
    assert [(f.opcode, f.close_code) for f in got] == [(OP_CLOSE, 1007)], got
    assert raw_until_closed(w) == ok


def test_text_message_ending_inside_a_character_reaches_nothing_of_its_frame(ws_with, ctx):
    w = ws_with(RawBackend)
    conn, _ = open_ws(w, ctx)
    first = encode_frame(OP_TEXT, b"starts \xe2", fin=False)    # split character: fine
    last = encode_frame(OP_CONT, b"\x82\xac and ends \xe2\x82", fin=True)
    with conn:
        conn.sendall(first)
        _dribble(conn, last)
        got, how = read_until_end(conn)
    assert [(f.opcode, f.close_code) for f in got] == [(OP_CLOSE, 1007)], got
    assert raw_until_closed(w) == first


def test_valid_text_frames_in_small_reads_pass_whole(ws_with, ctx):
    w = ws_with(FragmentEchoBackend)
    conn, _ = open_ws(w, ctx)
    frames = [encode_frame(OP_TEXT, "h\u00e9llo \u20ac ", fin=False),
              encode_frame(OP_CONT, "w\U0001f600rld", fin=True)]
    with conn:
        _dribble(conn, b"".join(frames), pause=0.001)
        got = [recv_frame(conn, timeout=scaled(5)) for _ in frames]
    assert b"".join(f.payload for f in got).decode() == "h\u00e9llo \u20ac w\U0001f600rld"
    assert [f.raw for f in w.be.wait_connection(0).frames] == frames


# ------------------------------------------ many small frames, both ways

def switch(sock, conn):
    """Answers the upgrade request on sock with a correct 101."""
    head = read_head(sock, timeout=30)
    conn.request = head
    _, headers = _parse_head(head)
    key = _header(headers, "Sec-WebSocket-Key")[0]
    sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                  f"{accept_for(key)}\r\n\r\n").encode())


class FragmentEchoBackend(WsEchoBackend):
    """Echoes every data frame as it comes (fragments stay fragments), the
    way a relaying backend does, so the server-to-client path carries as
    many small frames as the client sent."""

    def _serve(self, sock, conn):
        switch(sock, conn)
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


class RefragmentBackend(WsEchoBackend):
    """Reads a whole message, then echoes it as fragments of `size` bytes,
    each with its own send() and Nagle left on (no TCP_NODELAY): the
    server-to-client path gets a burst of small frames with nothing of
    the client's in between."""

    size = 64

    def _serve(self, sock, conn):
        switch(sock, conn)
        parts = []
        while True:
            f = recv_frame(sock, timeout=30, max_payload=1 << 21)
            if f is None or f.opcode == OP_CLOSE:
                return
            conn.frames.append(f)
            parts.append(f.payload)
            if not f.fin:
                continue
            data, parts = b"".join(parts), []
            n = len(data) // self.size
            for i in range(n):
                sock.sendall(encode_frame(OP_TEXT if i == 0 else OP_CONT,
                                          data[i * self.size:(i + 1) * self.size],
                                          fin=i == n - 1, mask=False))


def stream_frames(port, ctx, frames, expect, budget, write_first=False):
    """One thread, no blocking: writes `frames` one TLS record each (as a
    browser sends them) while reading what comes back, for at most
    `budget` seconds. Returns (server frames as (fin, opcode, payload
    length), seconds). The upgrade goes first, over the same BioTLS.
    write_first: nothing is read until every frame is written (a client
    that sends a whole message before it looks at the answers), so both
    directions' small frames wait in the proxy's buffers and sockets."""
    bio = ghutil.BioTLS(port, ctx)
    try:
        req, _ = upgrade_request()
        bio.write(req)
        head = b""
        while b"\r\n\r\n" not in head:
            head += bio.read()
        assert head.startswith(b"HTTP/1.1 101"), head
        plain = bytearray(head.split(b"\r\n\r\n", 1)[1])
        sock = bio.sock
        sock.setblocking(False)
        pending = bytearray()       # TLS bytes not yet taken by the socket
        got = []
        sent = 0
        t0 = time.monotonic()
        while len(got) < expect and time.monotonic() - t0 < budget:
            while sent < len(frames) and len(pending) < (1 << 16):
                bio.obj.write(frames[sent])
                sent += 1
                pending += bio.out.read()
            want_write = [sock] if pending else []
            reading = not write_first or (sent == len(frames) and not pending)
            r, wr, _ = select.select([sock] if reading else [], want_write, [], 0.05)
            if wr:
                try:
                    n = sock.send(pending)
                    del pending[:n]
                except BlockingIOError:
                    pass
            if r:
                data = sock.recv(1 << 18)
                if not data:
                    break
                bio.inc.write(data)
                while True:
                    try:
                        chunk = bio.obj.read(1 << 18)
                    except ssl.SSLWantReadError:
                        break
                    if not chunk:
                        break
                    plain += chunk
                while len(plain) >= 2:           # unmasked server frames
                    n7 = plain[1] & 0x7f
                    hlen = 2 + (2 if n7 == 126 else 8 if n7 == 127 else 0)
                    if len(plain) < hlen:
                        break
                    n = (n7 if n7 < 126 else int.from_bytes(plain[2:hlen], "big"))
                    if len(plain) < hlen + n:
                        break
                    got.append((bool(plain[0] & 0x80), plain[0] & 0x0f, n))
                    del plain[:hlen + n]
        return got, time.monotonic() - t0
    finally:
        bio.close()


N_FRAGMENTS, FRAGMENT = 16384, 64      # 1 MiB in 64-byte fragments


def fragments(n=N_FRAGMENTS, size=FRAGMENT):
    return [encode_frame(OP_TEXT if i == 0 else OP_CONT, b"x" * size, fin=i == n - 1)
            for i in range(n)]


def assert_one_message_in_fragments(got, took, n=N_FRAGMENTS, size=FRAGMENT):
    assert len(got) == n, f"{len(got)} of {n} echoed fragments back in {took:.2f} s"
    assert all(length == size for _, _, length in got)
    assert got[0][1] == OP_TEXT and all(op == OP_CONT for _, op, _ in got[1:])
    assert got[-1][0] and not any(fin for fin, _, _ in got[:-1])


# The report: 16,384 fragments of 64 bytes echoed back take more
# than 3.5 s through gatehouse (about 6,700 back by then), 1.5 s through a
# naive threaded Python relay. Not reproduced: the three tests below are
# the most demanding of the client/backend variants tried (see
# bench/README.md, "Small-frame streaming"), each in 0.4 to 1.4 s through
# gatehouse on the 2-core test machine, at or under the relay's time. A
# client whose sender and reader threads share one TLS object saw the
# issue's symptom (a recv() returning b"" with TLS records still waiting
# in its socket, after a few hundred or thousand fragments) through
# gatehouse and through the relay alike: a race in that client, which the
# tests' single-threaded non-blocking client avoids.

def test_one_mib_in_64_byte_fragments_echoed_quickly(ws_with, ctx):
    """A 1 MiB text message sent as 16,384 fragments of 64 bytes, one TLS
    record each, each echoed by the backend as it comes: every fragment is
    back within 3.5 s (a threaded Python relay does it in about 1.5 s)."""
    w = ws_with(FragmentEchoBackend)
    got, took = stream_frames(w.port, ctx, fragments(), N_FRAGMENTS, scaled(3.5))
    assert_one_message_in_fragments(got, took)


def test_one_mib_in_64_byte_fragments_all_written_before_any_echo_is_read(ws_with, ctx):
    """The same 16,384 fragments written before the client reads anything:
    the echoes pile up behind a client that does not read yet, and both
    directions' small frames wait in gatehouse's buffers and sockets at
    once; all of them are back within 3.5 s of the first write."""
    w = ws_with(FragmentEchoBackend)
    got, took = stream_frames(w.port, ctx, fragments(), N_FRAGMENTS, scaled(3.5),
                              write_first=True)
    assert_one_message_in_fragments(got, took)
    assert len(w.be.wait_connection(0).frames) == N_FRAGMENTS


@pytest.mark.parametrize("sent_as", ["one frame", "64-byte fragments"])
def test_one_mib_echoed_as_64_byte_fragments_after_it_is_whole(ws_with, ctx, sent_as):
    """The backend reads the whole message, then sends it back as 16,384
    fragments of 64 bytes, one send() each without TCP_NODELAY: a burst of
    small server frames, every one checked by gatehouse on the way to the
    client; all are back within 3.5 s."""
    w = ws_with(RefragmentBackend)
    frames = ([encode_frame(OP_TEXT, b"x" * (N_FRAGMENTS * FRAGMENT))]
              if sent_as == "one frame" else fragments())
    got, took = stream_frames(w.port, ctx, frames, N_FRAGMENTS, scaled(3.5))
    assert_one_message_in_fragments(got, took)
