"""Abuse by one client (issue 12): what one client, or one crashing worker,
must not be able to do to the service. Each test reproduces a sequence
that went wrong before its fix:
  - the supervisor stopped the service when a worker and its replacement
    died within a second (restart with back-off now),
  - max_bytes was ignored under framing = line and length,
  - at max_connections each close logged accept_paused again,
  - redirect mode answered 414 to targets the listener accepts,
  - a long Connection header cost fields x tokens per request,
  - a chunked-body error after the backend had answered left both
    connections waiting for idle_timeout."""

import os
import signal
import socket
import time

import pytest

import backends
from ghutil import scaled, tls_connect, wait_until, recv_exact
from test_framing import Recorder, reject_and_close, assert_closed
from wsclient import audit_global


def children_of(pid):
    """PIDs of the direct children of PID (the workers of a supervisor)."""
    out = set()
    task_dir = f"/proc/{pid}/task"
    for tid in os.listdir(task_dir):
        try:
            with open(f"{task_dir}/{tid}/children") as f:
                out.update(int(x) for x in f.read().split())
        except FileNotFoundError:
            pass
    return out


def echo_served(port, ctx):
    try:
        with tls_connect(port, ctx, timeout=3) as c:
            c.sendall(b"ping\n")
            return recv_exact(c, 5) == b"ping\n"
    except OSError:
        return False


# --------------------------------------------------------------- supervisor

@pytest.mark.timeout_s(60)
def test_worker_and_its_replacement_killed_within_a_second_service_stays(
        gatehouse, backend, ctx):
    echo = backend(backends.Echo)
    gh = gatehouse(echo, global_opts={"workers": 2})
    wait_until(lambda: len(children_of(gh.pid)) == 2, scaled(5), what="two workers")
    time.sleep(1.2)          # past the first start's fail-fast window
    first = children_of(gh.pid)
    victim = min(first)
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: len(children_of(gh.pid) - first) == 1, scaled(5),
               what="a replacement worker")
    replacement = (children_of(gh.pid) - first).pop()
    os.kill(replacement, signal.SIGKILL)   # the replacement dies young
    time.sleep(0.3)
    gh.assert_alive()
    # the slot is filled again after a back-off, and both workers serve
    wait_until(lambda: len(children_of(gh.pid) - first - {replacement}) == 1, scaled(5),
               what="a second replacement after the back-off")
    gh.assert_alive()
    assert len(children_of(gh.pid)) == 2
    assert not gh.events("shutdown_begin"), gh.tail()
    assert gh.events("worker_restart"), gh.tail()
    for _ in range(6):
        assert echo_served(gh.port, ctx)


@pytest.mark.timeout_s(60)
def test_replacements_that_keep_dying_back_off(gatehouse, backend, ctx):
    """Three quick deaths of the same slot: the delays grow, the service stays."""
    echo = backend(backends.Echo)
    gh = gatehouse(echo, global_opts={"workers": 2})
    wait_until(lambda: len(children_of(gh.pid)) == 2, scaled(5), what="two workers")
    time.sleep(1.2)
    seen = set(children_of(gh.pid))
    keep = max(seen)
    for _ in range(3):
        victims = children_of(gh.pid) - {keep}
        wait_until(lambda: children_of(gh.pid) - {keep}, scaled(10), what="a worker to kill")
        victims = children_of(gh.pid) - {keep}
        for v in victims:
            os.kill(v, signal.SIGKILL)
            seen.add(v)
        wait_until(lambda: children_of(gh.pid) - seen, scaled(10), what="a replacement")
        seen |= children_of(gh.pid)
    gh.assert_alive()
    delays = [float(e["delay"]) for e in gh.events("worker_restart")]
    assert len(delays) == 3, gh.tail()
    assert 0 <= delays[0] < delays[1] < delays[2], delays
    assert echo_served(gh.port, ctx)


# --------------------------------------------------------------- max_bytes

@pytest.fixture
def rec(backend):
    return backend(Recorder)


@pytest.mark.parametrize("framing", ["line", "length"])
def test_max_bytes_applies_to_framed_streams(gatehouse, rec, ctx, tmp_path, framing):
    audit = tmp_path / "audit.jsonl"
    gh = gatehouse(rec, global_opts=audit_global(audit), framing=framing, max_bytes=100)
    if framing == "line":
        frames = [b"%02d-abcdefghijklmnop\n" % i for i in range(25)]     # 20 bytes each
    else:
        frames = [b"\x00\x00\x00\x10" + b"%02d-abcdefghijklm" % i for i in range(25)]
    s = tls_connect(gh.port, ctx)
    try:
        try:
            for f in frames:
                s.sendall(f)
                time.sleep(0.002)
        except OSError:
            pass                     # gatehouse closed at the budget
        else:
            assert_closed(s)
    finally:
        s.close()
    data = rec.wait_closed()
    # the whole frames inside the 100-byte budget, not one byte more
    assert data == b"".join(frames[:5]), data
    ns = type("F", (), {"audit": audit})
    reject_and_close(ns, "max_bytes", frames=5)


def test_max_bytes_frame_crossing_the_budget_is_held(gatehouse, rec, ctx):
    gh = gatehouse(rec, framing="line", max_bytes=30)
    s = tls_connect(gh.port, ctx)
    try:
        s.sendall(b"0123456789abcdefghi\n" + b"0123456789abcdefghi\n")   # 40 bytes
        assert_closed(s)
    finally:
        s.close()
    assert rec.wait_closed() == b"0123456789abcdefghi\n"


# --------------------------------------------------------- accept at the limit

@pytest.mark.timeout_s(60)
def test_max_connections_episode_logged_once_with_counts(gatehouse, backend, ctx):
    """At the limit every close lets one queued connection in and accepting
    pauses again: one WARN for the episode, then one accept_resumed that
    counts the pauses, not a line per close."""
    echo = backend(backends.Echo)
    limit = 4
    gh = gatehouse(echo, max_connections=limit)
    mark = gh.mark()
    socks = []
    try:
        for _ in range(limit + 16):       # the extra ones wait in the backlog
            socks.append(socket.create_connection(("127.0.0.1", gh.port), timeout=2))
        gh.wait_event("accept_paused", since=mark, timeout=scaled(5))
        for _ in range(16):               # each close admits one and pauses again
            socks.pop(0).close()
            time.sleep(0.05)
        time.sleep(0.2)
        paused = gh.events("accept_paused", since=mark)
        assert len(paused) == 1, f"{len(paused)} accept_paused lines for one episode"
        assert paused[0]["level"] == "warn" and paused[0]["limit"] == str(limit), paused
        assert not gh.events("accept_resumed", since=mark), "episode ended while at the limit"
    finally:
        for s in socks:
            s.close()
    resumed = gh.wait_event("accept_resumed", since=mark, timeout=scaled(5))
    assert int(resumed["pauses"]) >= 10, resumed
    assert float(resumed["duration"]) > 0.5, resumed
    assert echo_served(gh.port, ctx)
    # a new episode is logged again
    mark = gh.mark()
    more = [socket.create_connection(("127.0.0.1", gh.port), timeout=2) for _ in range(limit + 2)]
    try:
        gh.wait_event("accept_paused", since=mark, timeout=scaled(5))
    finally:
        for s in more:
            s.close()


# --------------------------------------------------------------- redirect

from test_http_modes import redirect_listener, plain_exchange  # noqa: E402,F401


@pytest.mark.parametrize("keys,target_len", [
    ({}, 8192 - len("GET  HTTP/1.1")),                       # the default max_request_line, full
    ({}, 2000),
    ({"max_request_line": "32k", "max_header_bytes": "40k"}, 30000),
], ids=["8k_limit", "2000", "32k"])
def test_redirect_any_target_the_listener_accepts(redirect_listener, keys, target_len):
    gh = redirect_listener(**keys)
    target = b"/" + b"a" * (target_len - 1)
    resp = plain_exchange(gh.port, b"GET " + target + b" HTTP/1.1\r\nHost: example.com\r\n\r\n")
    head = resp.split(b"\r\n\r\n", 1)[0]
    assert head.startswith(b"HTTP/1.1 308 Permanent Redirect\r\n"), resp[:200]
    assert b"\r\nLocation: https://example.com" + target + b"\r\n" in head, resp[:200]


def test_redirect_target_over_the_limit_is_414(redirect_listener):
    gh = redirect_listener()
    target = b"/" + b"a" * 8192
    resp = plain_exchange(gh.port, b"GET " + target + b" HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 414 "), resp[:200]


# ------------------------------------------------- Connection token cost

import http_backends as hb  # noqa: E402
from test_http import HttpClient, PeerClosed, start as start_http  # noqa: E402
from test_resources import cpu_seconds  # noqa: E402


def head_with(last_field, n_fields=250):
    fields = "".join(f"h{i:03d}: v\r\n" for i in range(n_fields))
    return (f"GET / HTTP/1.1\r\nHost: example.com\r\n{fields}{last_field}\r\n\r\n").encode()


@pytest.mark.timeout_s(90)
def test_long_connection_header_costs_what_its_size_costs(gatehouse, backend, ctx):
    """A Connection field of ~9,000 tokens in front of 250 fields: answered,
    the named fields removed, and gatehouse's CPU for it within a small
    factor of an ordinary head of the same size (fields x tokens before)."""
    be = backend(hb.RecordingBackend)
    gh = start_http(gatehouse, be, max_headers=256, max_header_bytes="64k")
    tokens = ",".join(f"t{i:04d}" for i in range(9000))            # names no field
    long_conn = head_with("Connection: h007," + tokens)
    ordinary = head_with("X-Filler: " + "a" * (len(long_conn) - len(head_with("X-Filler: "))))
    assert len(ordinary) == len(long_conn)
    n = 40

    def cpu_for(head):
        with HttpClient(gh.port, ctx, timeout=scaled(30)) as c:
            c.send(head)                                # warm the connection up
            assert c.read_response().status == 200
            t0 = cpu_seconds(gh.pid)
            for _ in range(n):
                c.send(head)
                assert c.read_response().status == 200
            return cpu_seconds(gh.pid) - t0

    base = cpu_for(ordinary)
    heavy = cpu_for(long_conn)
    last = be.complete_requests()[-1]
    assert not last.has("h007") and last.has("h008"), "the named field was not removed"
    assert heavy <= 3 * base + 0.05, \
        f"{n} long-Connection heads cost {heavy:.3f} s of CPU, ordinary ones {base:.3f} s"


# ------------------------------------- chunked-body error after the answer

class AnswerAtHead(backends.Backend):
    """Answers 200 as soon as a request head arrives, without waiting for
    its body, then keeps reading (a backend that ignores bodies)."""

    def __init__(self):
        self.received = bytearray()
        super().__init__()

    def handle(self, conn):
        conn.settimeout(30)
        answered = False
        try:
            while True:
                d = conn.recv(1 << 16)
                if not d:
                    return
                self.received += d
                if not answered and b"\r\n\r\n" in self.received:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    answered = True
        except OSError:
            return


@pytest.mark.timeout_s(40)
@pytest.mark.parametrize("broken", ["bad_chunk", "over_max_body"])
def test_chunked_body_error_after_the_backend_answered(gatehouse, backend, ctx, tmp_path, broken):
    """The backend answers the head of a streamed chunked request; then the
    client's body breaks a rule. The request has left the queue already:
    gatehouse must still send its 400/413 and close both sides at once,
    not underflow its queue counter and wait for idle_timeout."""
    be = backend(AnswerAtHead)
    gh = start_http(gatehouse, be, max_held_request="0", max_body="1k", idle_timeout="60s")
    bad, status = ((b"zz\r\n", 400) if broken == "bad_chunk" else (b"800\r\n", 413))
    with HttpClient(gh.port, ctx, timeout=scaled(5)) as c:
        c.send(b"POST /streamed HTTP/1.1\r\nHost: example.com\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        first = c.read_response()
        assert first.status == 200 and first.body == b"ok", first.raw
        t0 = time.monotonic()
        try:
            c.send(bad)
        except OSError:
            pass
        # Either gatehouse ended the connection after the early answer
        # (backend_desync: the rest of the body can no longer be trusted to
        # be read by the backend), or it refuses the body now. Never silence
        # until idle_timeout (the socket timeout fails this read).
        try:
            second = c.read_response()
        except PeerClosed as e:
            assert e.data == b"", e.data
        else:
            assert second.status == status, second.raw
            assert second.header("connection") == ["close"], second.raw
            rest, how = c.read_to_end()
            assert rest == b"", rest
        assert time.monotonic() - t0 < scaled(3)
    gh.assert_alive()
    # the worker still serves others
    with HttpClient(gh.port, ctx, timeout=scaled(5)) as c:
        c.send(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
        assert c.read_response().status == 200
