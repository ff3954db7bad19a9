"""Half-close in both directions (mode = tcp).

Client -> gatehouse EOF (close_notify or TCP FIN): gatehouse shuts the
backend's write side and keeps relaying the backend's answer.
Backend EOF: gatehouse sends what is buffered, then close_notify, and keeps
relaying client bytes to the backend until the client closes."""

import hashlib
import os

import pytest

import backends
from ghutil import BioTLS, client_context, scaled


def expected_answer(data):
    return b"got %d bytes sha256=%s\n" % (len(data), hashlib.sha256(data).hexdigest().encode())


@pytest.mark.parametrize("how", ["close_notify", "tcp_shutdown", "close_notify+tcp_shutdown"])
@pytest.mark.parametrize("size", [13, 1 << 20])
def test_client_half_close_still_gets_answer(gatehouse, backend, certs, how, size):
    b = backend(backends.AnswerAfterEOF)
    gh = gatehouse(b)
    data = os.urandom(size)
    c = BioTLS(gh.port, client_context(certs.ca))
    try:
        c.write(data)
        if "close_notify" in how:
            c.send_close_notify()
        if "tcp_shutdown" in how:
            c.shutdown_tcp_write()
        res = b.get_result(timeout=scaled(10))     # backend saw EOF
        assert res["n"] == size and res["sha256"] == hashlib.sha256(data).hexdigest()
        answer, end = c.read_to_end()
        assert answer == expected_answer(data)
        assert end == "close_notify", f"stream ended by {end}, not close_notify"
    finally:
        c.close()


@pytest.mark.parametrize("later", [b"more after the backend's FIN\n", None])
def test_backend_half_close_client_keeps_sending(gatehouse, backend, certs, later):
    greeting = os.urandom(200 * 1024)
    if later is None:
        later = os.urandom(4 << 20)
    b = backend(backends.SendThenRead, greeting)
    gh = gatehouse(b)
    c = BioTLS(gh.port, client_context(certs.ca))
    try:
        got, end = c.read_to_end()
        assert len(got) == len(greeting) and got == greeting
        assert end == "close_notify", f"stream ended by {end}, not close_notify"
        # the backend is still reading: data sent now must reach it
        c.write(later)
        c.send_close_notify()
        res = b.get_result(timeout=scaled(20))
        assert len(res["received"]) == len(later)
        assert res["received"] == later
    finally:
        c.close()


def test_backend_half_close_then_client_tcp_close(gatehouse, backend, certs):
    """After the backend's EOF the client closes TCP without close_notify:
    the backend sees EOF, gatehouse logs conn_close and keeps serving."""
    b = backend(backends.SendThenRead, b"bye\n")
    gh = gatehouse(b)
    mark = gh.mark()
    c = BioTLS(gh.port, client_context(certs.ca))
    got, end = c.read_to_end()
    assert got == b"bye\n" and end == "close_notify"
    c.write(b"last words")
    c.close()
    assert b.get_result(timeout=scaled(10))["received"] == b"last words"
    cc = gh.wait_event("conn_close", since=mark)
    assert cc["reason"] in ("client_eof", "backend_eof"), cc
    gh.assert_alive()


def test_conn_close_byte_counts(gatehouse, backend, certs):
    """conn_close reports bytes_in (client -> backend payload) and
    bytes_out (backend -> client payload)."""
    b = backend(backends.AnswerAfterEOF)
    gh = gatehouse(b)
    mark = gh.mark()
    data = os.urandom(12345)
    c = BioTLS(gh.port, client_context(certs.ca))
    try:
        c.write(data)
        c.send_close_notify()
        answer, end = c.read_to_end()
    finally:
        c.close()
    cc = gh.wait_event("conn_close", since=mark)
    assert cc.get("listener") == "main", cc
    assert int(cc["bytes_in"]) == len(data), cc
    assert int(cc["bytes_out"]) == len(answer), cc


@pytest.mark.parametrize("style", ["close_notify-then-close", "tcp-close", "tcp-shutdown-then-read"])
@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_client_close_reason_is_client_eof(gatehouse, backend, certs, style, version):
    """However the client ends the stream (close_notify, or a plain TCP
    close as many clients do), the log says reason=client_eof."""
    import ssl
    gh = gatehouse(backend(backends.Echo))
    mark = gh.mark()
    ctx = client_context(certs.ca, max_version=getattr(ssl.TLSVersion, version))
    c = BioTLS(gh.port, ctx)
    try:
        c.write(b"ping")
        assert c.read_exact(4) == b"ping"
        if style == "close_notify-then-close":
            c.send_close_notify()
        elif style == "tcp-shutdown-then-read":
            c.shutdown_tcp_write()
            data, end = c.read_to_end()
            assert data == b"" and end == "close_notify", end
    finally:
        c.close()
    cc = gh.wait_event("conn_close", since=mark)
    assert cc["reason"] == "client_eof", cc


@pytest.mark.parametrize("how", ["close_notify", "tcp_shutdown"])
def test_client_sending_nothing_still_gets_server_first_bytes(gatehouse, backend, certs, how):
    """A client that half-closes right after its handshake, before sending a
    byte, still gets what a server-speaks-first backend says: the backend
    connection is opened all the same (HAProxy skips it for such clients)."""
    banner = os.urandom(50_000)
    b = backend(backends.Source, banner)
    gh = gatehouse(b)
    c = BioTLS(gh.port, client_context(certs.ca))
    try:
        if how == "close_notify":
            c.send_close_notify()
        else:
            c.shutdown_tcp_write()
        data, end = c.read_to_end()
    finally:
        c.close()
    assert data == banner
    assert end == "close_notify"
