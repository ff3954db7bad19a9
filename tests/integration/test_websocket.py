"""http mode with `websocket = on` end to end: a client over TLS, gatehouse,
and ws_backend.WsEchoBackend (an RFC 6455 echo server with misbehaviour
options). The upgrade checks (400/403/426, nothing reaches the backend),
the 101 checks (502 unless correct), frame validation each way (close
frame with 1002/1007/1009 to the client, or 1014 for a backend's fault,
both sides closed, the bad frame never reaches the backend, an audit
reject), the audit counts, and websocket = off."""

import re
import time
import zlib
from types import SimpleNamespace

import pytest

import ghutil
import http_backends as hb
from ghutil import run_gatehouse, scaled, wait_until
from ws_backend import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT,
                        WsEchoBackend, accept_for, close_payload, encode_frame, recv_frame,
                        send_frame)
from wsclient import (audit_entries, audit_global, header_lines, read_response,
                      read_until_end, tls_conn, upgrade_request, wait_audit, ws_open)


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def ws(gatehouse, backend, tmp_path):
    """ws(backend_options={...}, **listener_keys) -> namespace(gh, port, be,
    audit): WsEchoBackend behind an http listener with websocket = on and
    an audit log."""
    n = [0]

    def start(backend_options=None, **keys):
        n[0] += 1
        be = backend(WsEchoBackend, **(backend_options or {}))
        audit = tmp_path / f"ws-audit-{n[0]}.jsonl"
        opts = {"mode": "http", "websocket": "on"}
        opts.update(keys)
        gh = gatehouse(be, global_opts=audit_global(audit), **opts)
        return SimpleNamespace(gh=gh, port=gh.port, be=be, audit=audit)
    return start


def open_ws(w, ctx, **kw):
    conn, hs = ws_open(w.port, ctx, **kw)
    assert hs.status == 101, (hs, hs.raw, getattr(hs, "body", b""))
    assert hs.accept_ok, hs.raw
    return conn, hs


def echo(conn, opcode, payload, **kw):
    send_frame(conn, opcode, payload, **kw)
    f = recv_frame(conn, timeout=scaled(5))
    assert f is not None, "EOF instead of the echo"
    return f


def audit_of(w, event, pred=lambda e: True, timeout=5.0):
    return wait_audit(w.audit, lambda e: e["event"] == event and pred(e), timeout=timeout,
                      what=event)


def all_audit(w):
    return audit_entries(w.audit)       # schema-checked


# ------------------------------------------------------------ handshake ok

def test_handshake_101_and_echo(ws, ctx):
    w = ws()
    conn, hs = open_ws(w, ctx, path="/chat?room=1")
    with conn:
        assert hs.header("Sec-WebSocket-Accept") == [accept_for(hs.key)]
        assert [v.lower() for v in hs.header("Upgrade")] == ["websocket"]
        f = echo(conn, OP_TEXT, "h\u00e9llo w\u00f6rld \U0001F600")
        assert (f.opcode, f.fin, f.masked, f.rsv) == (OP_TEXT, True, False, 0)
        assert f.payload == "h\u00e9llo w\u00f6rld \U0001F600".encode()
        data = bytes(range(256))
        f = echo(conn, OP_BINARY, data)
        assert (f.opcode, f.payload) == (OP_BINARY, data)
        # 16-bit length
        f = echo(conn, OP_BINARY, data * 3)
        assert f.payload == data * 3
        # empty messages
        assert echo(conn, OP_TEXT, b"").payload == b""
    req = w.be.wait_connection(0).request
    lines = dict(header_lines(req))
    assert req.startswith(b"GET /chat?room=1 HTTP/1.1\r\n")
    assert lines["upgrade"].lower() == "websocket"
    assert "upgrade" in lines["connection"].lower()
    assert lines["sec-websocket-key"] == hs.key
    assert lines["sec-websocket-version"] == "13"


def test_fragmented_message_with_interleaved_ping(ws, ctx):
    w = ws()
    conn, _ = open_ws(w, ctx)
    with conn:
        send_frame(conn, OP_TEXT, "frag", fin=False)
        send_frame(conn, OP_PING, b"are you there?")
        send_frame(conn, OP_CONT, "men", fin=False)
        send_frame(conn, OP_PONG, b"unsolicited")
        send_frame(conn, OP_CONT, "ted \u00e9", fin=True)
        pong = recv_frame(conn, timeout=5)
        assert (pong.opcode, pong.payload) == (OP_PONG, b"are you there?")
        msg = recv_frame(conn, timeout=5)
        assert (msg.opcode, msg.payload) == (OP_TEXT, "fragmented \u00e9".encode())
        # a UTF-8 character split across two fragments is fine
        euro = "\u20ac".encode()
        send_frame(conn, OP_TEXT, b"a" + euro[:1], fin=False)
        send_frame(conn, OP_CONT, euro[1:] + b"b", fin=True)
        assert recv_frame(conn, timeout=5).payload == b"a" + euro + b"b"
        # a fragmented binary message
        send_frame(conn, OP_BINARY, b"\x00\xff", fin=False)
        send_frame(conn, OP_CONT, b"\xfe", fin=True)
        f = recv_frame(conn, timeout=5)
        assert (f.opcode, f.payload) == (OP_BINARY, b"\x00\xff\xfe")
    be_conn = w.be.wait_closed(0)
    assert [m[0] for m in be_conn.messages] == [OP_TEXT, OP_TEXT, OP_BINARY]


def test_64bit_length_frame(ws, ctx):
    w = ws()
    conn, _ = open_ws(w, ctx)
    payload = bytes((i * 7) & 0xFF for i in range(70000))
    with conn:
        raw = send_frame(conn, OP_BINARY, payload)
        assert raw[1] & 0x7F == 127        # the 64-bit length form
        f = recv_frame(conn, timeout=10)
        assert (f.opcode, f.payload) == (OP_BINARY, payload)
        assert f.raw[1] & 0x7F == 127
        # the same as text, streamed to gatehouse in small writes
        text = ("\u00e9" * 40000).encode()
        frame = encode_frame(OP_TEXT, text)
        for i in range(0, len(frame), 997):
            conn.sendall(frame[i:i + 997])
        f = recv_frame(conn, timeout=10)
        assert (f.opcode, f.payload) == (OP_TEXT, text)


def test_frames_sent_before_the_101_are_held_then_pass(ws, ctx):
    """A client that pipelines its first frame right behind the upgrade
    request: gatehouse holds it until the 101, then validates and forwards."""
    w = ws()
    first = encode_frame(OP_TEXT, "early bird")
    conn, hs = open_ws(w, ctx, after=first)
    with conn:
        f = recv_frame(conn, timeout=5)
        assert (f.opcode, f.payload) == (OP_TEXT, b"early bird")


def test_frames_right_after_the_101_reach_the_client(ws, ctx):
    """The backend's first frame in the same write as its 101."""
    w = ws(backend_options={"send_after_101": encode_frame(OP_TEXT, "welcome", mask=False)})
    conn, _ = open_ws(w, ctx)
    with conn:
        f = recv_frame(conn, timeout=5)
        assert (f.opcode, f.payload) == (OP_TEXT, b"welcome")
        assert echo(conn, OP_TEXT, "x").payload == b"x"


def test_permessage_deflate_rsv1_frames_pass(ws, ctx):
    deflated = zlib.compressobj(wbits=-15)
    body = deflated.compress(b"Hello, compressed world! " * 20) + deflated.flush(zlib.Z_SYNC_FLUSH)
    body = body[:-4]                                 # RFC 7692 7.2.1
    server_frame = encode_frame(OP_TEXT, body, rsv=4, mask=False)
    w = ws(backend_options={
        "extra_headers": ["Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover"],
        "send_after_101": server_frame})
    conn, hs = open_ws(w, ctx, extensions="permessage-deflate; client_max_window_bits")
    with conn:
        assert hs.header("Sec-WebSocket-Extensions")
        f = recv_frame(conn, timeout=5)
        assert (f.opcode, f.rsv, f.payload) == (OP_TEXT, 4, body)
        # the client's compressed frames (RSV1 on the first frame only) pass
        send_frame(conn, OP_TEXT, body[:10], rsv=4, fin=False)
        send_frame(conn, OP_CONT, body[10:], fin=True)
        echo_f = recv_frame(conn, timeout=5)
        assert echo_f.payload == body
        # compressed binary, unfragmented
        f = echo(conn, OP_BINARY, b"\x01\x02\x03", rsv=4)
        assert f.payload == b"\x01\x02\x03"
    be_conn = w.be.wait_closed(0)
    assert [fr.rsv for fr in be_conn.frames[:3]] == [4, 0, 4]
    assert not [e for e in all_audit(w) if e["event"] == "reject"]


def test_allowed_origin_and_no_origin_pass(ws, ctx):
    w = ws(ws_origins="https://a.example, https://b.example:8443")
    for origin in ("https://a.example", "HTTPS://B.EXAMPLE:8443", None):
        conn, _ = open_ws(w, ctx, origin=origin)
        with conn:
            assert echo(conn, OP_TEXT, "hi").payload == b"hi"


def test_close_handshake(ws, ctx):
    w = ws()
    conn, _ = open_ws(w, ctx)
    with conn:
        send_frame(conn, OP_CLOSE, close_payload(1000, "bye \u00e9"))
        frames, how = read_until_end(conn)
    assert [(f.opcode, f.close_code) for f in frames] == [(OP_CLOSE, 1000)]
    assert w.be.wait_closed(0).close_code == 1000


def test_browser_style_handshake_and_subprotocol(ws, ctx):
    w = ws(backend_options={"extra_headers": ["Sec-WebSocket-Protocol: chat.v2"]},
           ws_origins="https://app.example")
    conn, hs = open_ws(w, ctx, origin="https://app.example", protocols=["chat.v1", "chat.v2"],
                       omit=["Upgrade", "Connection"],
                       extra_headers=["Upgrade: WebSocket", "Connection: keep-alive, Upgrade",
                                      "User-Agent: test"])
    with conn:
        assert hs.header("Sec-WebSocket-Protocol") == ["chat.v2"]
        assert echo(conn, OP_TEXT, "hi").payload == b"hi"


@pytest.mark.parametrize("n", [0, 125, 126, 65535, 65536, 1 << 20])
def test_length_boundaries(ws, ctx, n):
    """Around the 7/16/64-bit length forms, and exactly ws_max_frame (1 MiB
    by default)."""
    w = ws()
    conn, _ = open_ws(w, ctx)
    payload = bytes((i * 11) & 0xFF for i in range(n))
    with conn:
        f = echo(conn, OP_BINARY, payload)
        assert (f.opcode, len(f.payload)) == (OP_BINARY, n)
        assert f.payload == payload


def test_utf8_character_split_around_a_ping(ws, ctx):
    w = ws()
    conn, _ = open_ws(w, ctx)
    euro = "\u20ac".encode()
    with conn:
        send_frame(conn, OP_TEXT, b"a" + euro[:1], fin=False)
        send_frame(conn, OP_PING, b"mid-character")
        send_frame(conn, OP_CONT, euro[1:2], fin=False)
        send_frame(conn, OP_CONT, euro[2:] + b"z", fin=True)
        assert recv_frame(conn, timeout=5).opcode == OP_PONG
        assert recv_frame(conn, timeout=5).payload == b"a" + euro + b"z"


def test_rsv1_on_continuation_refused_even_with_deflate(ws, ctx):
    w = ws(backend_options={"extra_headers": ["Sec-WebSocket-Extensions: permessage-deflate"]})
    conn, _ = open_ws(w, ctx, extensions="permessage-deflate")
    with conn:
        send_frame(conn, OP_BINARY, b"\x01", rsv=4, fin=False)
        send_frame(conn, OP_CONT, b"\x02", rsv=4, fin=True)
        got, how = read_until_end(conn)
    assert [(f.opcode, f.close_code, f.close_reason) for f in got] == [
        (OP_CLOSE, 1002, b"ws_bad_rsv")]
    assert audit_of(w, "reject")["reason"] == "ws_bad_rsv"
    # and on a control frame
    conn, _ = open_ws(w, ctx, extensions="permessage-deflate")
    with conn:
        send_frame(conn, OP_PING, b"p", rsv=4)
        got, how = read_until_end(conn)
    assert [(f.opcode, f.close_code) for f in got] == [(OP_CLOSE, 1002)]


def test_server_frame_over_ws_max_frame_is_1014(ws, ctx):
    big = encode_frame(OP_BINARY, b"\x00" * 4096, mask=False)
    w = ws(ws_max_frame="1k", backend_options={"send_after_101": big})
    conn, _ = open_ws(w, ctx)
    with conn:
        got, how = read_until_end(conn)
    assert [(f.opcode, f.close_code, f.close_reason) for f in got] == [
        (OP_CLOSE, 1014, b"ws_frame_too_large")]
    assert audit_of(w, "reject")["reason"] == "ws_frame_too_large"


def test_ws_origins_every_listed_entry_counts(ws, ctx, tmp_path, certs):
    """Each origin in ws_origins is allowed, the 16th as much as the 1st;
    a longer list is a config error rather than entries dropped silently."""
    origins = [f"https://app{i}.example" for i in range(1, 17)]
    w = ws(ws_origins=", ".join(origins))
    for origin in (origins[0], origins[7], origins[15]):
        conn, hs = ws_open(w.port, ctx, origin=origin)
        with conn:
            assert hs.status == 101, f"{origin} (entry {origins.index(origin) + 1}) " \
                                     f"refused: {hs.status_line} {hs.body!r}"
    ini = tmp_path / "many-origins.ini"
    ini.write_text(ghutil.render_ini({}, {"w": {
        "listen": f"127.0.0.1:{ghutil.free_port()}", "backend": "127.0.0.1:1", "mode": "http",
        "cert": str(certs.ec_crt), "key": str(certs.ec_key), "websocket": "on",
        "ws_origins": ", ".join(origins + ["https://app17.example"])}}))
    r = ghutil.run_gatehouse(["-t", "-c", str(ini)])
    assert r.returncode != 0
    assert re.search(rf"{re.escape(str(ini))}:\d+: ws_origins: more than 16 origins", r.stderr), \
        r.stderr


# ---------------------------------------------------------- upgrade refusals

REFUSALS = [
    # id, request options, status, reason
    ("missing_key", {"omit": ["Sec-WebSocket-Key"]}, 400, "ws_bad_key"),
    ("key_15_bytes", {"key": "AAAAAAAAAAAAAAAAAAAA"}, 400, "ws_bad_key"),
    ("key_not_base64", {"key": "!!!!!!!!!!!!!!!!!!!!!!=="}, 400, "ws_bad_key"),
    ("key_17_bytes", {"key": "AAAAAAAAAAAAAAAAAAAAAAA="}, 400, "ws_bad_key"),
    ("version_8", {"version": "8"}, 426, "ws_bad_version"),
    ("no_version", {"version": None}, 426, "ws_bad_version"),
    ("post", {"method": "POST", "extra_headers": ["Content-Length: 0"]}, 400, "ws_bad_method"),
    ("http_1_0", {"http_version": "HTTP/1.0"}, 400, "ws_bad_http_version"),
    ("upgrade_list", {"omit": ["Upgrade"], "extra_headers": ["Upgrade: websocket, h2c"]},
     400, "ws_bad_upgrade"),
    ("no_connection_upgrade", {"omit": ["Connection"], "extra_headers": ["Connection: keep-alive"]},
     400, "ws_bad_connection"),
    ("body", {"extra_headers": ["Content-Length: 4"]}, 400, "ws_request_body"),
]


@pytest.mark.parametrize("opts,status,reason", [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_upgrade_refused(ws, ctx, opts, status, reason):
    w = ws()
    conn = tls_conn(w.port, ctx)
    with conn:
        req, key = upgrade_request(**opts)
        body = b"abcd" if "Content-Length: 4" in opts.get("extra_headers", []) else b""
        conn.sendall(req + body)
        r = read_response(conn, key=key)
        assert r.status == status, (r.raw, r.body)
        assert not r.header("Sec-WebSocket-Accept")
        assert reason.encode() in r.body, r.body
        if status == 426:
            assert r.header("Sec-WebSocket-Version") == ["13"], r.raw
        frames, how = read_until_end(conn)      # then the connection closes
        assert frames == []
    rej = audit_of(w, "reject")
    assert (rej["reason"], rej["status"]) == (reason, status), rej
    time.sleep(0.2)
    assert w.be.accepted == 0 and w.be.connections == [], \
        "a refused upgrade reached the backend"
    all_audit(w)


def test_origin_not_allowed_403(ws, ctx):
    w = ws(ws_origins="https://a.example")
    for origin in ("https://evil.example", "https://a.example.evil", "http://a.example"):
        conn = tls_conn(w.port, ctx)
        with conn:
            req, key = upgrade_request(origin=origin)
            conn.sendall(req)
            r = read_response(conn, key=key)
            assert r.status == 403, (origin, r.raw, r.body)
            assert b"ws_origin_denied" in r.body
    wait_until(lambda: len([e for e in audit_entries(w.audit, validate=False)
                            if e["event"] == "reject"]) >= 3, scaled(5), what="3 rejects")
    rejs = [e for e in all_audit(w) if e["event"] == "reject"]
    assert [e["reason"] for e in rejs] == ["ws_origin_denied"] * 3
    assert all(e["status"] == 403 for e in rejs)
    assert w.be.accepted == 0


def test_two_origins_denied(ws, ctx):
    w = ws(ws_origins="https://a.example")
    conn = tls_conn(w.port, ctx)
    with conn:
        req, key = upgrade_request(origin="https://a.example",
                                   extra_headers=["Origin: https://a.example"])
        conn.sendall(req)
        assert read_response(conn, key=key).status == 403
    assert w.be.accepted == 0


# -------------------------------------------------------- backend misbehaving

def test_wrong_accept_is_502_never_frame_mode(ws, ctx):
    w = ws(backend_options={"wrong_accept": True})
    early = encode_frame(OP_TEXT, "pipelined before the 101")
    conn = tls_conn(w.port, ctx)
    with conn:
        req, key = upgrade_request()
        conn.sendall(req + early)
        r = read_response(conn, key=key)
        assert r.status == 502, (r.raw, r.body)
        assert not r.header("Sec-WebSocket-Accept")
        frames, how = read_until_end(conn)
        assert frames == []
    be_conn = w.be.wait_closed(0)
    assert be_conn.frames == [], "a frame reached the backend although the switch failed"
    err = audit_of(w, "backend_error")
    assert err["detail"] == "bad_response:ws_bad_accept", err
    req_entries = [e for e in all_audit(w) if e["event"] == "request"]
    assert all(e["status"] != 101 for e in req_entries), req_entries


@pytest.mark.parametrize("extra,why", [
    (["Sec-WebSocket-Extensions: permessage-deflate"], "ws_bad_extension"),   # not offered
    (["Sec-WebSocket-Protocol: chat"], "ws_bad_protocol"),                    # not offered
], ids=["deflate_not_offered", "protocol_not_offered"])
def test_bad_101_headers_are_502(ws, ctx, extra, why):
    w = ws(backend_options={"extra_headers": extra})
    conn = tls_conn(w.port, ctx)
    with conn:
        req, key = upgrade_request()
        conn.sendall(req)
        assert read_response(conn, key=key).status == 502
    assert audit_of(w, "backend_error")["detail"] == f"bad_response:{why}"


def test_non_101_answer_is_forwarded(ws, ctx):
    w = ws(backend_options={"status": 403})
    conn = tls_conn(w.port, ctx)
    with conn:
        req, key = upgrade_request()
        conn.sendall(req)
        r = read_response(conn, key=key)
        assert r.status == 403, r.raw
    req_e = audit_of(w, "request")
    assert req_e["status"] == 403


def test_masked_server_frames_are_refused(ws, ctx):
    w = ws(backend_options={"mask_server_frames": True})
    conn, _ = open_ws(w, ctx)
    with conn:
        send_frame(conn, OP_TEXT, "please echo")
        frames, how = read_until_end(conn)
    assert len(frames) == 1, frames
    f = frames[0]
    assert f.opcode == OP_CLOSE and not f.masked
    assert f.close_code == 1014, f
    assert f.close_reason == b"ws_masked"
    rej = audit_of(w, "reject")
    assert rej["reason"] == "ws_masked", rej
    w.be.wait_closed(0)
    close = audit_of(w, "close")
    assert close["ws_frames_in"] == 1 and close["ws_frames_out"] == 0, close
    all_audit(w)


def test_bad_server_frame_after_good_ones(ws, ctx):
    """Valid server frames before a bad one reach the client; the bad one
    does not: the client gets a 1014 close instead."""
    bad = encode_frame(OP_TEXT, "masked!", mask=True)
    w = ws(backend_options={"send_after_101": encode_frame(OP_TEXT, "hello", mask=False) + bad})
    conn, _ = open_ws(w, ctx)
    with conn:
        frames, how = read_until_end(conn)
    assert [(f.opcode, f.payload) for f in frames[:1]] == [(OP_TEXT, b"hello")], frames
    assert [(f.opcode, f.close_code, f.close_reason) for f in frames[1:]] == [
        (OP_CLOSE, 1014, b"ws_masked")], frames
    assert audit_of(w, "reject")["reason"] == "ws_masked"


# ------------------------------------------------ client frame violations

def _cases():
    big = 1024
    return [
        # id, frames to send (after a valid exchange), code, reason, listener keys
        ("unmasked", [encode_frame(OP_TEXT, "no mask", mask=False)], 1002, "ws_unmasked", {}),
        ("opcode_3", [encode_frame(0x3, b"x")], 1002, "ws_bad_opcode", {}),
        ("opcode_11", [encode_frame(0xB, b"x")], 1002, "ws_bad_opcode", {}),
        ("rsv1_without_deflate", [encode_frame(OP_TEXT, "x", rsv=4)], 1002, "ws_bad_rsv", {}),
        ("rsv2", [encode_frame(OP_BINARY, b"x", rsv=2)], 1002, "ws_bad_rsv", {}),
        ("ping_126", [encode_frame(OP_PING, b"p" * 126)], 1002, "ws_control_too_long", {}),
        ("fragmented_ping", [encode_frame(OP_PING, b"p", fin=False)], 1002,
         "ws_control_fragmented", {}),
        ("continuation_without_start", [encode_frame(OP_CONT, b"orphan")], 1002,
         "ws_bad_continuation", {}),
        ("text_inside_fragmented", [encode_frame(OP_TEXT, "start", fin=False),
                                    encode_frame(OP_TEXT, "again")], 1002,
         "ws_expected_continuation", {}),
        ("over_max_frame", [encode_frame(OP_BINARY, b"b" * (big + 1))], 1009,
         "ws_frame_too_large", {"ws_max_frame": big}),
        ("over_max_message", [encode_frame(OP_BINARY, b"1" * 800, fin=False),
                              encode_frame(OP_CONT, b"2" * 800, fin=False),
                              encode_frame(OP_CONT, b"3" * 800, fin=True)], 1009,
         "ws_message_too_large", {"ws_max_message": 2000}),
        ("utf8_split_across_fragments", [encode_frame(OP_TEXT, b"ok \xe2\x82", fin=False),
                                         encode_frame(OP_CONT, b"\x28 bad", fin=True)], 1007,
         "ws_bad_utf8", {}),
        ("utf8_unfinished_at_message_end", [encode_frame(OP_TEXT, b"end \xe2\x82")], 1007,
         "ws_bad_utf8", {}),
        ("close_1005", [encode_frame(OP_CLOSE, close_payload(1005))], 1002,
         "ws_bad_close_code", {}),
        ("close_999", [encode_frame(OP_CLOSE, close_payload(999))], 1002,
         "ws_bad_close_code", {}),
        ("close_bad_utf8_reason", [encode_frame(OP_CLOSE, close_payload(1000, b"bye \xff"))], 1007,
         "ws_bad_utf8", {}),
        ("close_one_byte", [encode_frame(OP_CLOSE, b"\x03")], 1002, "ws_bad_close_payload", {}),
        ("length_top_bit", [encode_frame(OP_BINARY, b"", length_form=64,
                                         declared_length=1 << 63)], 1002, "ws_bad_length", {}),
        ("nonminimal_length", [encode_frame(OP_BINARY, b"ab", length_form=16)], 1002,
         "ws_nonminimal_length", {}),
    ]


CASES = _cases()


@pytest.mark.parametrize("frames,code,reason,keys", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_client_frame_violation(ws, ctx, frames, code, reason, keys):
    w = ws(**keys)
    conn, _ = open_ws(w, ctx)
    with conn:
        # a valid exchange first: frame mode works
        assert echo(conn, OP_TEXT, "before").payload == b"before"
        be_conn = w.be.wait_connection(0)
        # every frame but the bad one goes alone, and reaches the backend
        # before the next is sent
        for fr in frames[:-1]:
            n = len(be_conn.frames)
            conn.sendall(fr)
            deadline = time.monotonic() + scaled(5)
            while len(be_conn.frames) == n and time.monotonic() < deadline:
                time.sleep(0.01)
            assert len(be_conn.frames) == n + 1, "a valid frame did not reach the backend"
        conn.sendall(frames[-1])
        got, how = read_until_end(conn)
    assert how == "eof", f"the stream ended by {how}, not close_notify"
    closes = [f for f in got if f.opcode == OP_CLOSE]
    assert len(closes) == 1, got
    f = closes[0]
    assert not f.masked and f.fin
    assert f.close_code == code, f
    assert f.close_reason == reason.encode(), f
    rej = audit_of(w, "reject")
    assert rej["reason"] == reason, rej
    assert "status" not in rej
    be_conn = w.be.wait_closed(0)
    close = audit_of(w, "close")
    assert close["reason"] == "rejected", close
    sent_ok = len(frames)               # "before" + the valid ones
    assert len(be_conn.frames) == sent_ok, (
        f"backend got {len(be_conn.frames)} frames, expected {sent_ok}: {be_conn.frames}")
    assert all(bf.raw != frames[-1] for bf in be_conn.frames), "the refused frame reached the backend"
    assert close["ws_frames_in"] == sent_ok, close
    all_audit(w)


def test_violation_in_a_frame_streamed_byte_by_byte(ws, ctx):
    """The same verdict however the stream is split: an invalid UTF-8 byte
    in a text frame sent one byte per TLS record."""
    w = ws()
    conn, _ = open_ws(w, ctx)
    with conn:
        fr = encode_frame(OP_TEXT, b"valid prefix \xc3\xa9 then \xc0\xaf")
        for i in range(len(fr)):
            conn.sendall(fr[i:i + 1])
            time.sleep(0.002)
        got, how = read_until_end(conn)
    assert [(f.opcode, f.close_code) for f in got] == [(OP_CLOSE, 1007)]
    assert w.be.wait_closed(0).frames == []
    assert audit_of(w, "reject")["reason"] == "ws_bad_utf8"


def test_oversized_frame_refused_from_its_header(ws, ctx):
    """Only the header of a frame over ws_max_frame is sent: it is refused
    at once (1009), without waiting for the payload."""
    w = ws(ws_max_frame="1k")
    conn, _ = open_ws(w, ctx)
    with conn:
        hdr = encode_frame(OP_BINARY, b"", declared_length=1 << 20)   # 64-bit form, header only
        conn.sendall(hdr + b"\x00" * 10)
        got, how = read_until_end(conn, timeout=3)
    assert [(f.opcode, f.close_code) for f in got] == [(OP_CLOSE, 1009)]


@pytest.mark.parametrize("tail", [
    b"",                                                       # between frames
    b"\x81",                                                   # one header byte
    encode_frame(OP_BINARY, b"x" * 300)[:3],                   # inside a 16-bit length
    encode_frame(OP_CLOSE, close_payload(1000, "bye"))[:7],    # a held close frame
], ids=["between_frames", "header_byte", "inside_length", "inside_close_frame"])
def test_client_eof_inside_a_frame_closes_promptly(ws, ctx, tail):
    """The client ends the stream (close_notify) where a frame is not
    complete: what is held can never be forwarded, and the backend must
    see the end of the stream soon (not only at idle_timeout)."""
    w = ws(idle_timeout="30s")
    bio = ghutil.BioTLS(w.port, ctx)
    try:
        req, key = upgrade_request()
        bio.write(req)
        head = b""
        while b"\r\n\r\n" not in head:
            head += bio.read()
        assert head.startswith(b"HTTP/1.1 101")
        bio.write(encode_frame(OP_TEXT, "whole") + tail)
        be_conn = w.be.wait_connection(0)
        deadline = time.monotonic() + scaled(5)
        while not be_conn.frames and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [f.payload for f in be_conn.frames] == [b"whole"]
        bio.send_close_notify()
        bio.shutdown_tcp_write()
        assert be_conn.closed.wait(scaled(5)), "backend still open 5 s after the client's end"
    finally:
        bio.close()


def _http_then_ws(req):
    """RecordingBackend answer: 101 to an upgrade, 200 to anything else."""
    keys = req.header("sec-websocket-key")
    if req.has("upgrade") and keys:
        return hb.Response(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            f"Sec-WebSocket-Accept: {accept_for(keys[0])}\r\n\r\n").encode())
    return hb.ok(req)


@pytest.mark.parametrize("pipelined", [False, True], ids=["sequential", "pipelined"])
def test_upgrade_as_second_request_on_a_keepalive_connection(gatehouse, backend, ctx, pipelined):
    be = backend(hb.RecordingBackend, respond=_http_then_ws)
    gh = gatehouse(be, mode="http", websocket="on")
    conn = tls_conn(gh.port, ctx)
    with conn:
        first = b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
        up, key = upgrade_request(path="/second")
        if pipelined:
            conn.sendall(first + up)
            assert read_response(conn).status == 200
        else:
            conn.sendall(first)
            assert read_response(conn).status == 200
            conn.sendall(up)
        r = read_response(conn, key=key)
        assert r.status == 101 and r.accept_ok, r.raw
        fr = encode_frame(OP_TEXT, "frame after a keep-alive upgrade")
        conn.sendall(fr)
        deadline = time.monotonic() + scaled(5)
        while bytes(be.connections[0].raw).find(fr) < 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        raw = bytes(be.connections[0].raw)
        assert raw.endswith(fr), raw[-200:]
        assert be.conn_count() == 1


# ------------------------------------------------------------ websocket off

def test_websocket_off_strips_upgrade(gatehouse, backend, ctx):
    be = backend(hb.RecordingBackend)
    gh = gatehouse(be, mode="http")           # websocket defaults to off
    conn = tls_conn(gh.port, ctx)
    with conn:
        req, key = upgrade_request(path="/ws")
        conn.sendall(req)
        r = read_response(conn, key=key)
        assert r.status == 200, r.raw
        assert r.body == b"GET /ws\n"
    got = be.wait_requests(1)[0]
    assert not got.has("upgrade"), got.head
    for v in got.header("connection"):
        assert "upgrade" not in v.lower(), got.head


def test_websocket_off_101_is_502(gatehouse, backend, ctx):
    def answer_101(req):
        key = (req.header("sec-websocket-key") or ["x"])[0]
        return hb.Response(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\n"
                            f"Sec-WebSocket-Accept: {accept_for(key)}\r\n\r\n").encode())
    be = backend(hb.RecordingBackend, respond=answer_101)
    gh = gatehouse(be, mode="http", websocket="off")
    conn = tls_conn(gh.port, ctx)
    with conn:
        req, key = upgrade_request()
        conn.sendall(req)
        r = read_response(conn, key=key)
        assert r.status == 502, r.raw
        frames, how = read_until_end(conn)
        assert frames == []


def test_websocket_on_other_upgrade_is_refused(ws, ctx):
    """With websocket = on, a request with an Upgrade field that is not
    exactly "websocket" is an upgrade request that fails the checks: 400
    ws_bad_upgrade from gatehouse, nothing to the backend. (With
    websocket = off the same request would go on with Upgrade stripped.)"""
    w = ws()
    conn = tls_conn(w.port, ctx)
    with conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
        r = read_response(conn)
        assert r.status == 400, r.raw
        assert b"ws_bad_upgrade" in r.body
    assert audit_of(w, "reject")["reason"] == "ws_bad_upgrade"
    assert w.be.accepted == 0


# ------------------------------------------------------------------ audit

def test_audit_counts_and_request_101(ws, ctx):
    w = ws()
    conn, hs = open_ws(w, ctx, path="/audit-me")
    with conn:
        assert echo(conn, OP_TEXT, "one").payload == b"one"
        send_frame(conn, OP_BINARY, b"tw", fin=False)
        send_frame(conn, OP_CONT, b"o", fin=True)
        assert recv_frame(conn, timeout=5).payload == b"two"
        assert echo(conn, OP_PING, b"p").opcode == OP_PONG
        send_frame(conn, OP_CLOSE, close_payload(1000))
        frames, how = read_until_end(conn)
        assert [f.opcode for f in frames] == [OP_CLOSE]
    close = audit_of(w, "close")
    # in: text, binary, continuation, ping, close; out: text, binary, pong, close
    assert close["ws_frames_in"] == 5, close
    assert close["ws_frames_out"] == 4, close
    assert close["ws_messages_in"] == 2, close
    assert close["requests"] == 1, close
    reqs = [e for e in all_audit(w) if e["event"] == "request"]
    assert len(reqs) == 1, reqs
    assert reqs[0]["status"] == 101 and reqs[0]["target"] == "/audit-me", reqs[0]
    assert reqs[0]["conn"] == close["conn"]
    assert not [e for e in all_audit(w) if e["event"] == "reject"]


def test_refused_upgrade_does_not_affect_the_next_connection(ws, ctx):
    w = ws()
    conn = tls_conn(w.port, ctx)
    with conn:
        req, key = upgrade_request(version="12")
        conn.sendall(req)
        assert read_response(conn, key=key).status == 426
    conn, _ = open_ws(w, ctx)
    with conn:
        assert echo(conn, OP_TEXT, "ok").payload == b"ok"


# ------------------------------------------------------------------ config

def _ini(certs, mode, extra):
    return "\n".join([
        "[global]", "workers = 1", "[listener:a]",
        f"listen = 127.0.0.1:{ghutil.free_port()}", "backend = 127.0.0.1:9", f"mode = {mode}",
        f"cert = {certs.ec_crt}", f"key = {certs.ec_key}", *extra]) + "\n"


WS_KEYS = [("websocket", "on"), ("ws_origins", "https://a.example"), ("ws_max_frame", "64k"),
           ("ws_max_message", "1m")]


@pytest.mark.parametrize("key,value", WS_KEYS, ids=[k for k, _ in WS_KEYS])
def test_config_ws_keys_accepted_in_http_mode(certs, tmp_path, gatehouse_bin, key, value):
    p = tmp_path / "ws.ini"
    p.write_text(_ini(certs, "http", [f"{key} = {value}"]))
    r = run_gatehouse(["-t", "-c", str(p)])
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("key,value", WS_KEYS, ids=[k for k, _ in WS_KEYS])
def test_config_ws_keys_only_in_http_mode(certs, tmp_path, gatehouse_bin, key, value):
    p = tmp_path / "ws.ini"
    p.write_text(_ini(certs, "tcp", [f"{key} = {value}"]))
    r = run_gatehouse(["-t", "-c", str(p)])
    assert r.returncode == 1, f"{key} in mode = tcp accepted:\n{r.stdout}{r.stderr}"
    assert f"{p}:9: {key}: only with mode = http" in r.stderr, r.stderr


def test_config_http_key_in_tcp_mode_reported_once(certs, tmp_path, gatehouse_bin):
    """One misplaced key, one error, at its own line (no phantom errors for
    keys that are not in the file)."""
    p = tmp_path / "ws.ini"
    p.write_text(_ini(certs, "tcp", ["max_headers = 10"]))
    r = run_gatehouse(["-t", "-c", str(p)])
    assert r.returncode == 1
    errs = [l for l in r.stderr.splitlines() if l.startswith(f"{p}:")]
    assert errs == [f"{p}:9: max_headers: only with mode = http"], errs


@pytest.mark.parametrize("key", ["ws_max_frame", "ws_max_message"])
def test_config_ws_limits_below_125(certs, tmp_path, gatehouse_bin, key):
    p = tmp_path / "ws.ini"
    p.write_text(_ini(certs, "http", [f"{key} = 100"]))
    r = run_gatehouse(["-t", "-c", str(p)])
    assert r.returncode == 1
    assert f"{p}:9: {key}: " in r.stderr, r.stderr
