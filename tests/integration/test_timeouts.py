"""handshake_timeout and idle_timeout."""

import socket
import time

import pytest

import backends
from ghutil import BioTLS, client_context, recv_exact, scaled, tls_connect, wait_closed


@pytest.mark.parametrize("send", [b"", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(16)],
                         ids=["silent", "partial-hello"])
def test_handshake_timeout(gatehouse, backend, certs, send):
    echo = backend(backends.Echo)
    gh = gatehouse(echo, handshake_timeout="1s", idle_timeout="30s")
    mark = gh.mark()
    with socket.create_connection(("127.0.0.1", gh.port), timeout=scaled(5)) as s:
        if send:
            s.sendall(send)
        elapsed, data, how = wait_closed(s, timeout=5)
    assert 0.8 <= elapsed < scaled(3), elapsed
    cc = gh.wait_event("conn_close", since=mark)
    assert cc["reason"] == "handshake_timeout", cc
    assert echo.accepted == 0 or echo.results.get(timeout=5).get("echoed") == 0
    with tls_connect(gh.port, client_context(certs.ca)) as t:
        t.sendall(b"ok")
        assert recv_exact(t, 2) == b"ok"


def test_handshake_timeout_not_applied_after_handshake(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo), handshake_timeout="1s", idle_timeout="30s")
    with tls_connect(gh.port, client_context(certs.ca)) as t:
        time.sleep(2.0)
        t.sendall(b"still here")
        assert recv_exact(t, 10) == b"still here"


def test_idle_timeout(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo), idle_timeout="1s")
    mark = gh.mark()
    c = BioTLS(gh.port, client_context(certs.ca))
    try:
        c.write(b"hello")
        assert c.read_exact(5) == b"hello"
        t0 = time.monotonic()
        data, how = c.read_to_end()
        elapsed = time.monotonic() - t0
    finally:
        c.close()
    assert data == b""
    assert how in ("close_notify", "tcp_eof"), how
    assert 0.8 <= elapsed < scaled(3), elapsed
    cc = gh.wait_event("conn_close", since=mark)
    assert cc["reason"] == "idle_timeout", cc
    assert cc["bytes_in"] == "5" and cc["bytes_out"] == "5", cc


def test_idle_timer_reset_by_client_traffic(gatehouse, backend, certs):
    gh = gatehouse(backend(backends.Echo), idle_timeout="1s")
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            s.sendall(b"k")
            assert recv_exact(s, 1) == b"k"
            time.sleep(0.3)
    assert not gh.events("conn_close", reason="idle_timeout")


def test_idle_timer_reset_by_backend_traffic(gatehouse, backend, certs):
    """Only the backend talks (a byte every 0.3 s for 3 s): not idle."""
    gh = gatehouse(backend(backends.Trickle, interval=0.3, count=10), idle_timeout="1s")
    with tls_connect(gh.port, client_context(certs.ca)) as s:
        s.settimeout(scaled(10))
        got = bytearray()
        while True:
            chunk = s.recv(100)
            if not chunk:
                break
            got += chunk
    assert bytes(got) == b"." * 10 + b"END"
    assert not gh.events("conn_close", reason="idle_timeout")
