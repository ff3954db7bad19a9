"""SIGTERM / SIGINT: stop accepting, drain within shutdown_grace, exit 0."""

import hashlib
import os
import signal
import time

import pytest

import backends
from ghutil import STREAM_MB, client_context, recv_exact, scaled, tcp_connect_refused, \
    tls_connect, wait_closed, wait_until

N = STREAM_MB << 20


@pytest.mark.timeout_s(120)
def test_sigterm_during_large_transfer(gatehouse, backend, certs):
    data = os.urandom(N)
    src = backend(backends.Source, data)
    gh = gatehouse(src, global_opts={"shutdown_grace": "60s"})
    h = hashlib.sha256()
    got = 0
    with tls_connect(gh.port, client_context(certs.ca), timeout=60) as s:
        first = recv_exact(s, 1 << 20)          # the transfer is in flight
        h.update(first)
        got += len(first)
        mark = gh.mark()
        gh.send_signal(signal.SIGTERM)
        gh.wait_event("shutdown_begin", since=mark)
        # the listening socket is closed: new connections are refused
        wait_until(lambda: tcp_connect_refused(gh.port), scaled(1.0),
                   what="new connections refused after shutdown_begin")
        assert gh.alive(), "gatehouse exited while a transfer was in flight"
        buf = bytearray(1 << 18)
        while True:
            n = s.recv_into(buf)
            if n == 0:
                break
            h.update(memoryview(buf)[:n])
            got += n
    assert got == N
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    rc = gh.wait(timeout=10)
    assert rc == 0, gh.tail()
    gh.wait_event("shutdown_done", timeout=1)
    closes = gh.events("conn_close")
    assert closes and all(c["reason"] != "shutdown" for c in closes), closes


@pytest.mark.timeout_s(30)
def test_sigterm_grace_expires_with_open_connection(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo), global_opts={"shutdown_grace": "1s"})
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        s.sendall(b"hi")
        assert recv_exact(s, 2) == b"hi"
        t0 = time.monotonic()
        gh.send_signal(signal.SIGTERM)
        rc = gh.wait(timeout=5)
        elapsed = time.monotonic() - t0
        _, data, _ = wait_closed(s, timeout=2)
    assert rc == 0, gh.tail()
    assert 0.8 <= elapsed <= scaled(3), elapsed
    assert data == b""
    gh.wait_event("shutdown_begin", timeout=1)
    gh.wait_event("shutdown_done", timeout=1)
    cc = gh.wait_event("conn_close", timeout=1)
    assert cc["reason"] == "shutdown", cc


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_without_connections_exits_promptly(gatehouse, backend, sig):
    gh = gatehouse(backend(backends.Echo), global_opts={"shutdown_grace": "30s"})
    t0 = time.monotonic()
    gh.send_signal(sig)
    rc = gh.wait(timeout=5)
    assert rc == 0, gh.tail()
    assert time.monotonic() - t0 < scaled(1.5)
    gh.wait_event("shutdown_begin", timeout=1)
    gh.wait_event("shutdown_done", timeout=1)


def test_open_connection_keeps_working_during_grace(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo), global_opts={"shutdown_grace": "30s"})
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        s.sendall(b"before")
        assert recv_exact(s, 6) == b"before"
        mark = gh.mark()
        gh.send_signal(signal.SIGTERM)
        gh.wait_event("shutdown_begin", since=mark)
        time.sleep(0.3)
        s.sendall(b"during grace")
        assert recv_exact(s, 12) == b"during grace"
        t0 = time.monotonic()
    # the last connection closed: exit long before the 30 s grace
    rc = gh.wait(timeout=5)
    assert rc == 0
    assert time.monotonic() - t0 < scaled(3)
    gh.wait_event("shutdown_done", timeout=1)
