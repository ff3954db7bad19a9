"""tcp mode framing end to end: `framing = line | length | raw` with their
limits (max_line, line_ending, line_charset; length_prefix, length_endian,
length_includes_prefix, max_frame; max_bytes, rate_limit), seen from a
backend that records every byte it receives, and the audit entries of a
refused stream (reject reason, close frames count). Plus the config checks
of the framing keys."""

import socket
import ssl
import struct
import threading
import time
from types import SimpleNamespace

import pytest

import backends
import ghutil
from ghutil import run_gatehouse, scaled, tls_connect
from wsclient import audit_entries, audit_global, wait_audit


# ----------------------------------------------------------------- backend

class Recorder(backends.Backend):
    """Records every byte each connection receives; closes a connection
    when the client side (gatehouse) closes it. Sends nothing."""

    def __init__(self):
        self.records = []
        self.cond = threading.Condition()
        super().__init__()

    def handle(self, conn):
        rec = SimpleNamespace(data=bytearray(), closed=threading.Event(), eof=None,
                              index=len(self.records))
        with self.cond:
            rec.index = len(self.records)
            self.records.append(rec)
            self.cond.notify_all()
        try:
            while True:
                try:
                    d = conn.recv(1 << 16)
                except ConnectionResetError:
                    rec.eof = "reset"
                    break
                if not d:
                    rec.eof = "eof"
                    break
                with self.cond:
                    rec.data += d
                    self.cond.notify_all()
        finally:
            rec.closed.set()
            with self.cond:
                self.cond.notify_all()

    def record(self, index=0, timeout=5.0):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.records) > index, scaled(timeout)):
                raise AssertionError(f"backend connection {index} never opened")
            return self.records[index]

    def data(self, index=0):
        with self.cond:
            return bytes(self.records[index].data) if len(self.records) > index else b""

    def wait_bytes(self, n, index=0, timeout=5.0):
        rec = self.record(index, timeout)
        with self.cond:
            if not self.cond.wait_for(lambda: len(rec.data) >= n, scaled(timeout)):
                raise AssertionError(f"backend got {len(rec.data)} of {n} bytes: "
                                     f"{bytes(rec.data[:200])!r}")
            return bytes(rec.data)

    def wait_closed(self, index=0, timeout=5.0):
        rec = self.record(index, timeout)
        if not rec.closed.wait(scaled(timeout)):
            raise AssertionError(f"backend connection {index} still open; "
                                 f"got {bytes(rec.data[:200])!r}")
        return bytes(rec.data)


@pytest.fixture
def rec(backend):
    return backend(Recorder)


@pytest.fixture
def framed(gatehouse, rec, tmp_path):
    """framed(**listener_keys) -> namespace(gh, port, be, audit): a tcp
    listener in front of the recording backend, with an audit log."""
    def start(**keys):
        audit = tmp_path / f"audit-{len(list(tmp_path.glob('audit-*')))}.jsonl"
        gh = gatehouse(rec, global_opts=audit_global(audit), **keys)
        return SimpleNamespace(gh=gh, port=gh.port, be=rec, audit=audit)
    return start


def connect(port, ctx, nodelay=True):
    s = tls_connect(port, ctx)
    if nodelay:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def assert_closed(sock, timeout=5.0):
    """The client side sees the end of the stream (no data comes back:
    tcp mode closes without a word)."""
    _, data, how = ghutil.wait_closed(sock, timeout)
    assert data == b"", f"unexpected bytes from gatehouse: {data[:100]!r}"
    return how


def reject_and_close(f, reason, frames=None):
    """The audit reject entry with that reason, and the close entry of the
    same connection (close reason 'rejected', frames count if given)."""
    rej = wait_audit(f.audit, lambda e: e["event"] == "reject", what="reject")
    assert rej["reason"] == reason, rej
    assert "status" not in rej, rej     # tcp mode: no HTTP status
    close = wait_audit(f.audit, lambda e: e["event"] == "close" and e["conn"] == rej["conn"],
                       what="close")
    assert close["reason"] == "rejected", close
    if frames is not None:
        assert close.get("frames") == frames, close
    audit_entries(f.audit)              # every entry schema-checked
    return rej, close


def send_slowly(sock, data, step=1, gap=0.003):
    for i in range(0, len(data), step):
        sock.sendall(data[i:i + step])
        if gap:
            time.sleep(gap)


# ---------------------------------------------------------------- line: lf

def test_line_lf_valid_lines_arrive_exactly(framed, ctx):
    f = framed(framing="line", max_line=64)
    lines = [b"hello\n", b"\n", b"\r\n", b"with \r inside\n", b"x" * 63 + b"\n",
             bytes(range(0x80, 0x90)) + b"\n"]
    payload = b"".join(lines)
    with connect(f.port, ctx) as s:
        s.sendall(payload)
        assert f.be.wait_bytes(len(payload)) == payload
        # an unfinished line is held, not forwarded
        s.sendall(b"partial")
        time.sleep(0.3)
        assert f.be.data() == payload
        s.sendall(b" line\n")
        assert f.be.wait_bytes(len(payload) + 13) == payload + b"partial line\n"
    assert f.be.wait_closed() == payload + b"partial line\n"
    close = wait_audit(f.audit, lambda e: e["event"] == "close", what="close")
    assert close["frames"] == len(lines) + 1, close
    assert not [e for e in audit_entries(f.audit) if e["event"] == "reject"]


def test_line_too_long_rejected_before_terminator(framed, ctx):
    max_line = 32
    f = framed(framing="line", max_line=max_line)
    with connect(f.port, ctx) as s:
        # max_line + 1 bytes and no terminator: nothing can make it valid
        s.sendall(b"y" * (max_line + 1))
        assert_closed(s)
    assert f.be.wait_closed() == b""
    rej, _ = reject_and_close(f, "line_too_long", frames=0)
    assert rej["excerpt"].startswith("y" * 16), rej


def test_line_of_exactly_max_line_passes_one_more_does_not(framed, ctx):
    max_line = 32
    f = framed(framing="line", max_line=max_line)
    ok = b"a" * (max_line - 1) + b"\n"          # max_line bytes, terminator included
    with connect(f.port, ctx) as s:
        s.sendall(ok)
        assert f.be.wait_bytes(len(ok)) == ok
        s.sendall(b"b" * max_line + b"\n")
        assert_closed(s)
    assert f.be.wait_closed() == ok
    reject_and_close(f, "line_too_long", frames=1)


def test_line_valid_lines_before_a_bad_one_arrive(framed, ctx):
    f = framed(framing="line", max_line=16)
    good = b"one\ntwo\nthree\n"
    with connect(f.port, ctx) as s:
        s.sendall(good + b"z" * 40 + b"\n" + b"after\n")   # one write
        assert_closed(s)
    assert f.be.wait_closed() == good
    reject_and_close(f, "line_too_long", frames=3)


def test_line_split_one_byte_per_tls_write(framed, ctx):
    f = framed(framing="line", max_line=128)
    line = "split into many records: caf\u00e9 \u20ac".encode() + b"\n"
    with connect(f.port, ctx) as s:
        send_slowly(s, line[:-1])
        time.sleep(0.1)
        assert f.be.data() == b"", "a line reached the backend before its terminator"
        s.sendall(line[-1:])
        assert f.be.wait_bytes(len(line)) == line
    assert f.be.wait_closed() == line
    close = wait_audit(f.audit, lambda e: e["event"] == "close", what="close")
    assert close["frames"] == 1


def test_line_too_long_trickled(framed, ctx):
    """The limit holds when the line comes one byte per TLS record."""
    f = framed(framing="line", max_line=24)
    with connect(f.port, ctx) as s:
        s.sendall(b"ok\n")
        f.be.wait_bytes(3)
        try:
            send_slowly(s, b"q" * 25)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass
        assert_closed(s)
    assert f.be.wait_closed() == b"ok\n"
    reject_and_close(f, "line_too_long", frames=1)


# -------------------------------------------------------------- line: crlf

def test_line_crlf_valid(framed, ctx):
    f = framed(framing="line", line_ending="crlf", max_line=32)
    payload = b"GET thing\r\n\r\nsecond line\r\n"
    with connect(f.port, ctx) as s:
        s.sendall(payload)
        assert f.be.wait_bytes(len(payload)) == payload
    assert f.be.wait_closed() == payload
    close = wait_audit(f.audit, lambda e: e["event"] == "close", what="close")
    assert close["frames"] == 3


@pytest.mark.parametrize("bad", [b"bare lf\n", b"cr then x\rx\r\n"], ids=["bare_lf", "bare_cr"])
def test_line_crlf_bad_line_ending(framed, ctx, bad):
    f = framed(framing="line", line_ending="crlf", max_line=64)
    good = b"fine\r\n"
    with connect(f.port, ctx) as s:
        s.sendall(good + bad)
        assert_closed(s)
    assert f.be.wait_closed() == good
    reject_and_close(f, "bad_line_ending", frames=1)


def test_line_crlf_max_line_counts_both_terminator_bytes(framed, ctx):
    f = framed(framing="line", line_ending="crlf", max_line=8)
    ok = b"123456\r\n"              # 8 bytes
    with connect(f.port, ctx) as s:
        s.sendall(ok + b"1234567\r\n")
        assert_closed(s)
    assert f.be.wait_closed() == ok
    reject_and_close(f, "line_too_long", frames=1)


# ---------------------------------------------------------------- charsets

def test_line_printable_ascii(framed, ctx):
    f = framed(framing="line", line_charset="printable-ascii", max_line=64)
    good = b"plain text\twith a tab ~!\n"
    with connect(f.port, ctx) as s:
        s.sendall(good + b"bell \x07 here\n")
        assert_closed(s)
    assert f.be.wait_closed() == good
    reject_and_close(f, "bad_char", frames=1)


def test_line_printable_ascii_refuses_high_bytes(framed, ctx):
    f = framed(framing="line", line_charset="printable-ascii", max_line=64)
    with connect(f.port, ctx) as s:
        s.sendall("caf\u00e9\n".encode())
        assert_closed(s)
    assert f.be.wait_closed() == b""
    reject_and_close(f, "bad_char", frames=0)


def test_line_utf8_accepts_multibyte(framed, ctx):
    f = framed(framing="line", line_charset="utf8", max_line=128)
    payload = ("h\u00e9llo \u20ac \U0001D11E \u4e2d\u6587\n" "\n" "tab\tok\n").encode()
    with connect(f.port, ctx) as s:
        s.sendall(payload)
        assert f.be.wait_bytes(len(payload)) == payload
    assert f.be.wait_closed() == payload
    close = wait_audit(f.audit, lambda e: e["event"] == "close", what="close")
    assert close["frames"] == 3


@pytest.mark.parametrize("bad,reason", [
    (b"\xc3\x28\n", "bad_utf8"),             # broken sequence
    (b"\xc0\xaf\n", "bad_utf8"),             # overlong "/"
    (b"\xed\xa0\x80\n", "bad_utf8"),         # surrogate
    (b"\xf4\x90\x80\x80\n", "bad_utf8"),     # > U+10FFFF
    (b"open \xe2\x82\n", "bad_utf8"),        # line ends inside a character
    (b"ctl \x01\n", "bad_char"),             # ASCII control
], ids=["broken", "overlong", "surrogate", "too_big", "unfinished", "control"])
def test_line_utf8_refuses(framed, ctx, bad, reason):
    f = framed(framing="line", line_charset="utf8", max_line=64)
    good = "ok \u00e9\n".encode()
    with connect(f.port, ctx) as s:
        s.sendall(good + bad)
        assert_closed(s)
    assert f.be.wait_closed() == good
    reject_and_close(f, reason, frames=1)


def test_line_utf8_character_split_across_records(framed, ctx):
    f = framed(framing="line", line_charset="utf8", max_line=64)
    line = "\U0001F600 \u20ac\n".encode()
    with connect(f.port, ctx) as s:
        send_slowly(s, line)
        assert f.be.wait_bytes(len(line)) == line
    assert f.be.wait_closed() == line


# ------------------------------------------------------------------ length

def prefix(n, width, endian):
    fmt = {1: "B", 2: "H", 4: "I"}[width]
    return struct.pack((">" if endian == "big" else "<") + fmt, n)


def frame(payload, width, endian, includes):
    n = len(payload) + (width if includes else 0)
    return prefix(n, width, endian) + payload


LENGTH_CASES = [
    (1, "big", "off"), (1, "little", "on"),
    (2, "big", "off"), (2, "little", "off"), (2, "big", "on"),
    (4, "big", "off"), (4, "little", "on"), (4, "little", "off"),
]


@pytest.mark.parametrize("width,endian,includes", LENGTH_CASES,
                         ids=[f"{w}-{e}-{i}" for w, e, i in LENGTH_CASES])
def test_length_frames_arrive_exactly(framed, ctx, width, endian, includes):
    max_frame = 200 if width == 1 else 3000
    f = framed(framing="length", length_prefix=width, length_endian=endian,
               length_includes_prefix=includes, max_frame=max_frame)
    sizes = [1, 2, 17, 127, max_frame]
    payloads = [bytes((i * 7 + k) & 0xFF for k in range(n)) for i, n in enumerate(sizes)]
    stream = b"".join(frame(p, width, endian, includes == "on") for p in payloads)
    with connect(f.port, ctx) as s:
        s.sendall(stream)
        assert f.be.wait_bytes(len(stream)) == stream
    assert f.be.wait_closed() == stream
    close = wait_audit(f.audit, lambda e: e["event"] == "close", what="close")
    assert close["frames"] == len(payloads), close
    assert not [e for e in audit_entries(f.audit) if e["event"] == "reject"]


@pytest.mark.parametrize("width,endian,includes", [(2, "big", "off"), (4, "little", "on"),
                                                   (1, "big", "off")])
def test_length_over_max_frame_refused_whole(framed, ctx, width, endian, includes):
    max_frame = 100
    f = framed(framing="length", length_prefix=width, length_endian=endian,
               length_includes_prefix=includes, max_frame=max_frame)
    inc = includes == "on"
    good = frame(b"A" * max_frame, width, endian, inc)
    bad = frame(b"B" * (max_frame + 1), width, endian, inc)
    with connect(f.port, ctx) as s:
        s.sendall(good + bad)
        assert_closed(s)
    got = f.be.wait_closed()
    assert got == good, f"backend got {len(got)} bytes; of the refused frame: {got[len(good):][:20]!r}"
    reject_and_close(f, "frame_too_large", frames=1)


def test_length_over_max_frame_refused_from_prefix_alone(framed, ctx):
    """Only the prefix is sent: the frame is refused at once, not when its
    payload would have arrived."""
    f = framed(framing="length", length_prefix=4, max_frame=1000)
    with connect(f.port, ctx) as s:
        s.sendall(prefix(1 << 30, 4, "big"))
        assert_closed(s)
    assert f.be.wait_closed() == b""
    reject_and_close(f, "frame_too_large", frames=0)


@pytest.mark.parametrize("width,includes,value", [
    (2, "off", 0), (4, "off", 0), (1, "off", 0), (2, "on", 2), (4, "on", 4)],
    ids=["2-off-0", "4-off-0", "1-off-0", "2-on-2", "4-on-4"])
def test_length_zero_length_refused(framed, ctx, width, includes, value):
    f = framed(framing="length", length_prefix=width, length_includes_prefix=includes,
               max_frame=100)
    good = frame(b"ok", width, "big", includes == "on")
    with connect(f.port, ctx) as s:
        s.sendall(good + prefix(value, width, "big") + b"junk")
        assert_closed(s)
    assert f.be.wait_closed() == good
    reject_and_close(f, "zero_length", frames=1)


def test_length_shorter_than_its_prefix_is_bad_length(framed, ctx):
    f = framed(framing="length", length_prefix=4, length_includes_prefix="on", max_frame=100)
    with connect(f.port, ctx) as s:
        s.sendall(prefix(3, 4, "big") + b"abc")
        assert_closed(s)
    assert f.be.wait_closed() == b""
    reject_and_close(f, "bad_length", frames=0)


def test_length_frame_streamed_in_small_pieces(framed, ctx):
    f = framed(framing="length", length_prefix=4, length_endian="little", max_frame=4096)
    payload = bytes(range(256)) * 4
    fr = frame(payload, 4, "little", False)
    with connect(f.port, ctx) as s:
        # the prefix a byte at a time: held until complete
        send_slowly(s, fr[:3])
        time.sleep(0.1)
        assert f.be.data() == b""
        # once complete and valid, prefix and payload go on as they arrive
        s.sendall(fr[3:4 + 100])
        assert f.be.wait_bytes(104) == fr[:104]
        send_slowly(s, fr[104:], step=37, gap=0.002)
        assert f.be.wait_bytes(len(fr)) == fr
        # a second frame right behind it, in pieces too
        fr2 = frame(b"second", 4, "little", False)
        send_slowly(s, fr2, step=3)
        assert f.be.wait_bytes(len(fr) + len(fr2)) == fr + fr2
    f.be.wait_closed()
    close = wait_audit(f.audit, lambda e: e["event"] == "close", what="close")
    assert close["frames"] == 2


@pytest.mark.timeout_s(60)
def test_lines_as_long_as_the_buffer(framed, ctx):
    """max_line = buffer_size: every line fills the whole buffer before its
    terminator; many of them back to back still flow (the buffer is
    compacted under a held line, nothing stalls)."""
    f = framed(framing="line", max_line="4k", buffer_size="4k")
    lines = b"".join(bytes([0x41 + i % 26]) * 4095 + b"\n" for i in range(64))
    with connect(f.port, ctx, nodelay=False) as s:
        s.sendall(lines)
        assert f.be.wait_bytes(len(lines), timeout=20) == lines
    f.be.wait_closed()
    close = wait_audit(f.audit, lambda e: e["event"] == "close", what="close")
    assert close["frames"] == 64


def test_proxy_header_is_not_framed(framed, ctx):
    """proxy_protocol = v1 puts gatehouse's own header in front: it is not
    client data, so neither the line rules nor the frame count see it."""
    f = framed(framing="line", line_charset="printable-ascii", max_line=32,
               proxy_protocol="v1")
    with connect(f.port, ctx) as s:
        s.sendall(b"hello\n")
        got = f.be.wait_bytes(1)
        deadline = time.monotonic() + scaled(5)
        while not got.endswith(b"hello\n") and time.monotonic() < deadline:
            time.sleep(0.01)
            got = f.be.data()
    assert got.startswith(b"PROXY TCP4 127.0.0.1 127.0.0.1 ") and got.endswith(b"\r\nhello\n"), got
    f.be.wait_closed()
    close = wait_audit(f.audit, lambda e: e["event"] == "close", what="close")
    assert close["frames"] == 1 and close["reason"] != "rejected", close


# --------------------------------------------------------------------- raw

def test_raw_max_bytes(framed, ctx):
    f = framed(max_bytes=1000)
    data = bytes(i & 0xFF for i in range(1500))
    with connect(f.port, ctx) as s:
        s.sendall(data)
        assert_closed(s)
    assert f.be.wait_closed() == data[:1000]
    rej, close = reject_and_close(f, "max_bytes")
    assert "frames" not in close     # raw has no frames


def test_raw_max_bytes_exactly_reached_stays_open(framed, ctx):
    f = framed(max_bytes=1000)
    data = bytes(i & 0xFF for i in range(1000))
    with connect(f.port, ctx) as s:
        s.sendall(data[:600])
        s.sendall(data[600:])
        assert f.be.wait_bytes(1000) == data
        time.sleep(0.2)
        assert not f.be.record().closed.is_set(), "closed at exactly max_bytes"
        s.sendall(b"!")
        assert_closed(s)
    assert f.be.wait_closed() == data
    reject_and_close(f, "max_bytes")


@pytest.mark.timeout_s(60)
def test_raw_rate_limit_slows_but_delivers(framed, ctx):
    rate = 64 * 1024
    total = 256 * 1024
    f = framed(rate_limit="64k")
    data = bytes((i * 31) & 0xFF for i in range(total))
    with connect(f.port, ctx) as s:
        t0 = time.monotonic()
        s.sendall(data)
        got = f.be.wait_bytes(total, timeout=40)
        elapsed = time.monotonic() - t0
    assert got == data
    # a full bucket (one second's worth) at the start, then `rate` bytes/s:
    # (total - rate) / rate = 3 s. Lower bound with slack, never an upper one.
    assert elapsed >= 0.8 * (total - rate) / rate, f"256 KiB at 64k/s took {elapsed:.2f}s"
    assert f.be.wait_closed(timeout=10) == data


@pytest.mark.parametrize("keys", [{}, {"max_bytes": 0}], ids=["default", "max_bytes_0"])
def test_raw_without_limits_is_intact(framed, ctx, keys):
    total = 256 * 1024
    f = framed(**keys)
    data = bytes((i * 13) & 0xFF for i in range(total))
    with connect(f.port, ctx) as s:
        s.sendall(data)
        assert f.be.wait_bytes(total, timeout=20) == data
    assert f.be.wait_closed() == data
    close = wait_audit(f.audit, lambda e: e["event"] == "close", what="close")
    assert "frames" not in close and close["bytes_in"] == total


def test_rate_limit_with_line_framing(framed, ctx):
    """The two compose: lines still arrive whole under a rate limit."""
    f = framed(framing="line", max_line=1024, rate_limit=8192)
    lines = b"".join(b"%05d " % i + b"x" * 100 + b"\n" for i in range(200))   # ~21 KiB
    with connect(f.port, ctx) as s:
        t0 = time.monotonic()
        s.sendall(lines)
        assert f.be.wait_bytes(len(lines), timeout=30) == lines
        elapsed = time.monotonic() - t0
    assert elapsed >= 0.8 * (len(lines) - 8192) / 8192, elapsed
    f.be.wait_closed()
    close = wait_audit(f.audit, lambda e: e["event"] == "close", what="close")
    assert close["frames"] == 200


# ------------------------------------------------------------------ config

def base_ini(certs, mode="tcp"):
    return [
        "[global]",                                   # 1
        "workers = 1",                                # 2
        "[listener:a]",                               # 3
        f"listen = 127.0.0.1:{ghutil.free_port()}",   # 4
        "backend = 127.0.0.1:9",                      # 5
        f"mode = {mode}",                             # 6
        f"cert = {certs.ec_crt}",                     # 7
        f"key = {certs.ec_key}",                      # 8
    ]


def check_config(tmp_path, lines):
    p = tmp_path / "framing.ini"
    p.write_text("\n".join(lines) + "\n")
    return p, run_gatehouse(["-t", "-c", str(p)])


TCP_KEYS = [("framing", "line"), ("line_ending", "crlf"), ("line_charset", "utf8"),
            ("max_line", "1k"), ("length_prefix", "2"), ("length_endian", "little"),
            ("length_includes_prefix", "on"), ("max_frame", "4k"), ("max_bytes", "1m"),
            ("rate_limit", "64k")]


@pytest.mark.parametrize("key,value", TCP_KEYS, ids=[k for k, _ in TCP_KEYS])
def test_config_framing_keys_only_in_tcp_mode(certs, tmp_path, gatehouse_bin, key, value):
    lines = base_ini(certs, mode="http") + [f"{key} = {value}"]
    p, r = check_config(tmp_path, lines)
    assert r.returncode == 1, r.stderr
    want = f"{p}:{len(lines)}: {key}: only with mode = tcp"
    assert want in r.stderr, r.stderr
    # exactly that one error
    errs = [l for l in r.stderr.splitlines() if l.startswith(f"{p}:")]
    assert errs == [want], errs


@pytest.mark.parametrize("key,value", TCP_KEYS, ids=[k for k, _ in TCP_KEYS])
def test_config_framing_keys_accepted_in_tcp_mode(certs, tmp_path, gatehouse_bin, key, value):
    _, r = check_config(tmp_path, base_ini(certs) + [f"{key} = {value}"])
    assert r.returncode == 0, r.stderr


def test_config_max_line_larger_than_buffer_size(certs, tmp_path, gatehouse_bin):
    lines = base_ini(certs) + ["buffer_size = 16k", "framing = line", "max_line = 32k"]
    p, r = check_config(tmp_path, lines)
    assert r.returncode == 1, r.stderr
    assert f"{p}:{len(lines)}: max_line: larger than buffer_size" in r.stderr, r.stderr
    # equal is fine
    lines = base_ini(certs) + ["buffer_size = 16k", "framing = line", "max_line = 16k"]
    _, r = check_config(tmp_path, lines)
    assert r.returncode == 0, r.stderr


def test_config_default_max_line_larger_than_small_buffer(certs, tmp_path, gatehouse_bin):
    """The default max_line (8k) does not fit buffer_size = 4k: still an
    error, reported at a real line of the file."""
    lines = base_ini(certs) + ["buffer_size = 4k", "framing = line"]
    p, r = check_config(tmp_path, lines)
    assert r.returncode == 1, r.stderr
    assert "max_line: larger than buffer_size" in r.stderr, r.stderr


@pytest.mark.parametrize("key,value", [
    ("framing", "xml"), ("line_ending", "cr"), ("line_charset", "latin1"), ("max_line", "1"),
    ("length_prefix", "3"), ("length_endian", "middle"), ("length_includes_prefix", "maybe"),
    ("max_frame", "0"), ("max_bytes", "lots"), ("rate_limit", "fast")])
def test_config_bad_framing_values(certs, tmp_path, gatehouse_bin, key, value):
    lines = base_ini(certs) + [f"{key} = {value}"]
    p, r = check_config(tmp_path, lines)
    assert r.returncode == 1, r.stderr
    assert f"{p}:{len(lines)}: {key}: " in r.stderr, r.stderr


# ------------------------------------------------------- end of the stream

@pytest.mark.parametrize("keys,tail", [
    ({"framing": "line"}, b"no terminator"),
    ({"framing": "length", "length_prefix": 4}, b"\x00\x00"),
], ids=["line", "length_prefix"])
def test_client_eof_with_unfinished_frame_closes_promptly(framed, ctx, keys, tail):
    """The client ends its stream (close_notify) inside a line or a length
    prefix: those bytes can never become a valid frame. The complete
    frames before reach the backend, the backend sees the end of the
    stream, and the connection is gone soon: not only at idle_timeout."""
    f = framed(idle_timeout="30s", **keys)
    good = b"done\n" if keys["framing"] == "line" else b"\x00\x00\x00\x04done"
    bio = ghutil.BioTLS(f.port, ctx)
    try:
        bio.write(good + tail)
        assert f.be.wait_bytes(len(good)) == good
        bio.send_close_notify()
        bio.shutdown_tcp_write()
        rec = f.be.record()
        assert rec.closed.wait(scaled(5)), (
            "backend connection still open 5 s after the client's close_notify "
            f"with {len(tail)} unfinished bytes held; backend got {bytes(rec.data)!r}")
        assert bytes(rec.data) == good
    finally:
        bio.close()
