"""Differences the issue-13 refactor (transport/mode/pump, events, config
table) brought in against the build before it, each pinned down: the old
behaviour is the contract.

Found by running the same raw-socket scenarios against main's binary and
this one and comparing what the backend read, what the client got, the
log lines and the audit entries."""

import time

import pytest

import backends
from ghutil import BioTLS, client_context, scaled


@pytest.mark.parametrize("how", ["close_notify", "tcp_shutdown"])
def test_client_end_of_stream_does_not_restart_idle_timeout(gatehouse, backend, certs, how):
    """The client's end of stream is not activity: idle_timeout runs from
    the last byte that moved, so a client that sends its FIN late does not
    stretch the wait for a silent backend (the refactored pump counted the
    end as a moved byte and restarted the clock)."""
    gh = gatehouse(backend(backends.Hang), idle_timeout="2s")
    mark = gh.mark()
    c = BioTLS(gh.port, client_context(certs.ca))
    try:
        c.write(b"x")
        t0 = time.monotonic()
        time.sleep(1.5)
        if how == "close_notify":
            c.send_close_notify()
        else:
            c.shutdown_tcp_write()
        data, end = c.read_to_end()
        elapsed = time.monotonic() - t0
    finally:
        c.close()
    assert data == b""
    assert end in ("close_notify", "tcp_eof"), end
    cc = gh.wait_event("conn_close", since=mark)
    assert cc["reason"] == "idle_timeout", cc
    # 2 s after the last byte, not 2 s after the end (3.5 s)
    assert 1.8 <= elapsed < 2.0 + scaled(0.8), elapsed


def test_client_end_of_stream_does_not_delay_the_504(gatehouse, backend, certs):
    """http mode: a request waits for a backend that never answers; the
    client ends its side later. The 504 comes idle_timeout after the last
    byte moved, not after the client's end."""
    gh = gatehouse(backend(backends.Hang), mode="http", idle_timeout="2s")
    mark = gh.mark()
    c = BioTLS(gh.port, client_context(certs.ca))
    try:
        c.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        t0 = time.monotonic()
        time.sleep(1.5)
        c.send_close_notify()
        data, end = c.read_to_end()
        elapsed = time.monotonic() - t0
    finally:
        c.close()
    assert data.startswith(b"HTTP/1.1 504 "), data[:80]
    assert end in ("close_notify", "tcp_eof"), end
    err = gh.wait_event("backend_error", since=mark)
    assert err["reason"] == "response_timeout", err
    assert 1.8 <= elapsed < 2.0 + scaled(0.8), elapsed
