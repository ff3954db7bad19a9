"""Backends that refuse, reset, hang or never complete the TCP handshake.
Each: the client's connection ends within a bounded time without data, the
log gives the right reason, and gatehouse keeps serving (the same failing
listener again, and a healthy listener in the same process)."""

import ssl
import time

import pytest

import backends
from ghutil import BioTLS, client_context, recv_exact, scaled, tls_connect


def start_pair(gatehouse, backend, bad_backend, **bad_opts):
    echo = backend(backends.Echo)
    return gatehouse(listeners={"bad": dict(backend=bad_backend, **bad_opts),
                                "good": dict(backend=echo)})


def assert_good_serves(gh, certs):
    gh.assert_alive()
    with tls_connect(gh.ports["good"], client_context(certs.ca)) as s:
        s.sendall(b"still alive")
        assert recv_exact(s, 11) == b"still alive"


def client_attempt(port, certs, send=b"hello backend"):
    """TLS connect, send a little, read to the end. Returns
    (elapsed, data, how) where how is close_notify / tcp_eof / reset /
    handshake_failed."""
    t0 = time.monotonic()
    try:
        c = BioTLS(port, client_context(certs.ca), timeout=15)
    except (ssl.SSLError, ConnectionResetError, OSError) as e:
        return time.monotonic() - t0, b"", f"handshake_failed: {e!r}"
    try:
        try:
            c.write(send)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data, how = c.read_to_end()
        return time.monotonic() - t0, data, how
    finally:
        c.close()


@pytest.mark.timeout_s(40)
def test_backend_refused(gatehouse, backend, certs):
    bad = backends.Refuser()
    try:
        gh = start_pair(gatehouse, backend, bad)
        for attempt in range(2):
            mark = gh.mark()
            elapsed, data, how = client_attempt(gh.ports["bad"], certs)
            assert data == b""
            assert how == "close_notify", f"attempt {attempt}: ended by {how}"
            assert elapsed < scaled(3), elapsed
            gh.wait_event("backend_error", since=mark)
            cc = gh.wait_event("conn_close", since=mark, listener="bad")
            assert cc["reason"] == "backend_refused", cc
            assert_good_serves(gh, certs)
    finally:
        bad.close()


@pytest.mark.timeout_s(40)
def test_backend_reset(gatehouse, backend, certs):
    rst = backend(backends.Reset, delay=0.3)
    gh = start_pair(gatehouse, backend, rst)
    for attempt in range(2):
        mark = gh.mark()
        elapsed, data, how = client_attempt(gh.ports["bad"], certs)
        assert data == b""
        assert how in ("close_notify", "tcp_eof", "reset"), how
        assert elapsed < scaled(3), elapsed
        cc = gh.wait_event("conn_close", since=mark, listener="bad")
        assert cc["reason"] == "backend_reset", cc
        assert_good_serves(gh, certs)
    assert rst.accepted >= 2


@pytest.mark.timeout_s(40)
def test_backend_hangs_idle_timeout(gatehouse, backend, certs):
    hang = backend(backends.Hang)
    gh = start_pair(gatehouse, backend, hang, idle_timeout="1s")
    mark = gh.mark()
    elapsed, data, how = client_attempt(gh.ports["bad"], certs)
    assert data == b""
    assert how in ("close_notify", "tcp_eof"), how
    assert 0.8 <= elapsed < scaled(3.5), elapsed
    cc = gh.wait_event("conn_close", since=mark, listener="bad")
    assert cc["reason"] == "idle_timeout", cc
    assert hang.accepted == 1
    assert_good_serves(gh, certs)


@pytest.mark.timeout_s(40)
def test_backend_connect_timeout(gatehouse, backend, certs):
    fb = backends.FullBacklog()
    try:
        assert fb.connect_hangs(), "test setup: the full backlog did not make connect hang"
        gh = start_pair(gatehouse, backend, fb, connect_timeout="1s")
        mark = gh.mark()
        elapsed, data, how = client_attempt(gh.ports["bad"], certs)
        assert data == b""
        assert how == "close_notify", f"ended by {how}"
        assert 0.8 <= elapsed < scaled(3.5), elapsed
        gh.wait_event("backend_error", since=mark)
        cc = gh.wait_event("conn_close", since=mark, listener="bad")
        assert cc["reason"] == "connect_timeout", cc
        assert_good_serves(gh, certs)
    finally:
        fb.close()


def test_backend_closes_at_once(gatehouse, backend, certs):
    """A backend that accepts and closes (FIN) without data: the client gets
    close_notify and no data."""
    src = backend(backends.Source, b"")
    gh = start_pair(gatehouse, backend, src)
    mark = gh.mark()
    elapsed, data, how = client_attempt(gh.ports["bad"], certs, send=b"")
    assert data == b"" and how == "close_notify", how
    cc = gh.wait_event("conn_close", since=mark, listener="bad")
    assert cc["reason"] in ("backend_eof", "client_eof"), cc
    assert_good_serves(gh, certs)
