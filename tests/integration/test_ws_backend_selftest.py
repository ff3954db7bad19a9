"""Self-test of ws_backend.py: its echo server against its own client
helpers, directly (no gatehouse), so the tests that use them stand on a
known-good backend."""

import socket

import pytest

from ws_backend import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                        WsEchoBackend, accept_for, close_payload, encode_frame, recv_frame,
                        send_frame, ws_connect)


def _connect(backend):
    return socket.create_connection(("127.0.0.1", backend.port), timeout=5)


def test_accept_rfc_example():
    assert accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_encode_frame_rfc_examples():
    # RFC 6455 5.7
    assert encode_frame(OP_TEXT, b"Hello", mask=False) == bytes.fromhex("810548656c6c6f")
    assert (encode_frame(OP_TEXT, b"Hello", mask=bytes.fromhex("37fa213d"))
            == bytes.fromhex("818537fa213d7f9f4d5158"))
    assert encode_frame(OP_TEXT, b"Hel", fin=False, mask=False) == bytes.fromhex("010348656c")
    assert encode_frame(OP_CONT, b"lo", mask=False) == bytes.fromhex("80026c6f")
    assert encode_frame(OP_BINARY, bytes(256), mask=False)[:4] == bytes.fromhex("827e0100")
    assert encode_frame(OP_BINARY, bytes(65536), mask=False)[:10] == bytes.fromhex(
        "827f0000000000010000")
    # crafted: non-minimal and lying lengths, RSV bits
    assert encode_frame(OP_BINARY, b"ab", mask=False, length_form=64)[:10] == bytes.fromhex(
        "827f0000000000000002")
    assert encode_frame(OP_BINARY, b"", mask=False, declared_length=1 << 63)[1:10] == \
        bytes.fromhex("7f8000000000000000")
    assert encode_frame(OP_TEXT, b"", rsv=4, mask=False)[0] == 0xC1


def test_handshake_echo_ping_close():
    with WsEchoBackend() as be:
        with _connect(be) as s:
            hs = ws_connect(s, path="/chat", origin="http://example.com")
            assert hs.status == 101 and hs.accept_ok and hs.switched, hs
            send_frame(s, OP_TEXT, "h\u00e9llo")
            f = recv_frame(s)
            assert (f.opcode, f.payload, f.fin, f.masked) == (OP_TEXT, "h\u00e9llo".encode(),
                                                              True, False)
            # a fragmented binary message with a ping in the middle
            send_frame(s, OP_BINARY, b"\x00\x01", fin=False)
            send_frame(s, OP_PING, b"are you there")
            send_frame(s, OP_CONT, b"\x02", fin=True)
            pong = recv_frame(s)
            assert (pong.opcode, pong.payload) == (OP_PONG, b"are you there")
            echo = recv_frame(s)
            assert (echo.opcode, echo.payload) == (OP_BINARY, b"\x00\x01\x02")
            # a 16-bit length
            send_frame(s, OP_BINARY, bytes(range(256)) * 2)
            assert recv_frame(s).payload == bytes(range(256)) * 2
            send_frame(s, OP_CLOSE, close_payload(1000, "bye"))
            c = recv_frame(s)
            assert c.opcode == OP_CLOSE and c.close_code == 1000
            assert recv_frame(s) is None            # the backend closed
        conn = be.wait_closed()
        assert conn.close_code == 1000
        assert conn.messages == [(OP_TEXT, "h\u00e9llo".encode()),
                                 (OP_BINARY, b"\x00\x01\x02"),
                                 (OP_BINARY, bytes(range(256)) * 2)]
        assert b"Origin: http://example.com" in conn.request
        assert all(f.masked for f in conn.frames)


def test_backend_closes_on_unmasked_client_frame():
    with WsEchoBackend() as be:
        with _connect(be) as s:
            assert ws_connect(s).switched
            send_frame(s, OP_TEXT, "x", mask=False)
            f = recv_frame(s)
            assert f.opcode == OP_CLOSE and f.close_code == 1002
        assert be.wait_closed().error == "unmasked frame"


@pytest.mark.parametrize("option", ["wrong_accept", "mask_server_frames", "no_101"])
def test_misbehaviour(option):
    kw = {"status": 403} if option == "no_101" else {option: True}
    with WsEchoBackend(**kw) as be:
        with _connect(be) as s:
            hs = ws_connect(s)
            if option == "no_101":
                assert hs.status == 403 and not hs.switched
                return
            if option == "wrong_accept":
                assert hs.status == 101 and not hs.accept_ok and not hs.switched
                return
            assert hs.switched
            send_frame(s, OP_TEXT, "masked?")
            f = recv_frame(s)
            assert f.masked and f.payload == b"masked?"


def test_send_after_101_and_bad_key():
    crafted = encode_frame(OP_TEXT, b"unsolicited", mask=False)
    with WsEchoBackend(send_after_101=crafted) as be:
        with _connect(be) as s:
            assert ws_connect(s).switched
            f = recv_frame(s)
            assert f.payload == b"unsolicited" and f.raw == crafted
        with _connect(be) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
            head = s.recv(4096)
            assert head.startswith(b"HTTP/1.1 400")
