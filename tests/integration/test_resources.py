"""Resource limits: memory stays bounded under a fast sender and a slow
receiver, and running out of file descriptors pauses accept instead of
spinning, then recovers."""

import os
import resource
import socket
import ssl
import threading
import time

import pytest

import backends
from ghutil import client_context, recv_exact, scaled, tls_connect, wait_until


# Growth allowed while the other side stalls: buffers are 16 KiB per
# direction, plus wolfSSL's record buffers and allocator slack. Under
# AddressSanitizer every allocation carries redzones and a quarantine, so
# the bound is looser there, still far below the 64+ MiB on offer.
RSS_SLACK_KIB = 24 * 1024 if os.environ.get("GATEHOUSE_SANITIZED") else 4096


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


class Flood(backends.Backend):
    """Writes `total` bytes as fast as the socket takes them."""

    def __init__(self, total):
        self.total = total
        super().__init__()

    def handle(self, conn):
        chunk = b"\xa5" * (1 << 20)
        sent = 0
        conn.settimeout(60)
        try:
            while sent < self.total:
                sent += conn.send(chunk[: min(len(chunk), self.total - sent)])
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.results.put({"sent": sent})


@pytest.mark.timeout_s(120)
def test_slow_reader_does_not_grow_memory(gatehouse, backend, certs):
    """The backend can send 64 MiB at once; the client reads nothing for a
    while. gatehouse must stop reading the backend once its buffer is full
    (backpressure), so its RSS stays put, and every byte still arrives."""
    total = 64 << 20
    b = backend(Flood, total)
    gh = gatehouse(b)
    before = rss_kib(gh.pid)
    s = tls_connect(gh.port, client_context(certs.ca))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    try:
        time.sleep(scaled(2.0))            # the client reads nothing meanwhile
        during = rss_kib(gh.pid)
        assert during - before < RSS_SLACK_KIB, \
            f"RSS grew {during - before} KiB while the client did not read"
        got = 0
        s.settimeout(scaled(30))
        while got < total:
            d = s.recv(1 << 20)
            if not d:
                break
            got += len(d)
        assert got == total
    finally:
        s.close()


def test_fast_client_slow_backend_does_not_grow_memory(gatehouse, backend, certs):
    """The mirror case: the client sends as fast as it can into a backend
    that does not read. gatehouse stops reading the client."""
    b = backend(backends.Hang)
    gh = gatehouse(b)
    before = rss_kib(gh.pid)
    s = tls_connect(gh.port, client_context(certs.ca))
    s.setblocking(False)
    pushed = 0
    chunk = os.urandom(64 * 1024)
    deadline = time.monotonic() + scaled(3.0)
    try:
        while time.monotonic() < deadline and pushed < (256 << 20):
            try:
                pushed += s.send(chunk)
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                time.sleep(0.01)
        during = rss_kib(gh.pid)
        assert during - before < RSS_SLACK_KIB, f"RSS grew {during - before} KiB"
        # the kernel buffers on both sides are bounded too, so the client
        # must have been stopped well before 256 MiB
        assert pushed < (64 << 20), f"client pushed {pushed} bytes into a backend that never reads"
    finally:
        s.close()


@pytest.mark.timeout_s(90)
def test_out_of_file_descriptors_pauses_accept_then_recovers(gatehouse, backend, certs):
    echo = backend(backends.Echo)
    gh = gatehouse(echo)
    limit = 48
    resource.prlimit(gh.pid, resource.RLIMIT_NOFILE, (limit, limit))
    mark = gh.mark()
    ctx = client_context(certs.ca)
    held = []
    # each served client costs gatehouse two descriptors (client + backend)
    for _ in range(limit):
        try:
            s = socket.create_connection(("127.0.0.1", gh.port), timeout=2)
            held.append(s)
        except OSError:
            break
    gh.wait_event("accept_paused", since=mark, timeout=scaled(10))
    assert len(gh.events("accept_paused", since=mark)) == 1, "accept_paused logged more than once"

    # while paused, the listen socket stays readable: a spinning loop would
    # burn a core; a paused one sleeps
    t0 = cpu_seconds(gh.pid)
    time.sleep(1.0)
    used = cpu_seconds(gh.pid) - t0
    assert used < 0.3, f"gatehouse used {used:.2f} s of CPU in 1 s while out of descriptors"
    gh.assert_alive()
    for s in held:
        s.close()
    # once descriptors come back, new clients are served again
    def served():
        try:
            with tls_connect(gh.port, ctx, timeout=3) as c:
                c.sendall(b"ping\n")
                return recv_exact(c, 5) == b"ping\n"
        except OSError:
            return False
    wait_until(served, scaled(20), interval=0.3, what="a client served after descriptors freed")
    gh.wait_event("accept_resumed", since=mark)
