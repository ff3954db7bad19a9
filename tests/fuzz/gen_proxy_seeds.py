#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz_http_proxy and fuzz_websocket_2way
into tests/fuzz/corpus/{http_proxy,websocket_2way}/ (the layouts are in the
targets' header comments). Run it again after changing a layout; the
campaign's finds (content-hash names) are left alone."""
import base64
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = b"\n~~\n"          # between two backend answers (fuzz_proxy_conn.h)


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def proxy_input(cfg, chunk, seed, client, backend):
    return bytes([cfg, chunk]) + struct.pack(">IH", seed, len(client)) + client + backend


def answers(*rs):
    return MARK.join(rs)


H = b"Host: a.example\r\n"
OK0 = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
OK2 = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
OKC = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
OK10 = b"HTTP/1.0 200 OK\r\n\r\nuntil close"


def http_proxy_seeds():
    s = {}
    get = b"GET / HTTP/1.1\r\n" + H + b"\r\n"
    s["get"] = ([get], [OK2])
    s["pipeline3"] = ([get, b"HEAD /h HTTP/1.1\r\n" + H + b"\r\n", get],
                      [OK2, b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", OKC])
    s["post_length"] = ([b"POST /p HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello", get], [OK2, OK0])
    s["post_chunked"] = ([b"POST /c HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                          b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nX-T: 1\r\nX-Other: 2\r\n\r\n", get], [OKC, OK2])
    s["expect_100"] = ([b"PUT /u HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"],
                       [b"HTTP/1.1 100 Continue\r\n\r\n" + OK2])
    s["big_body_streamed"] = ([b"POST /big HTTP/1.1\r\n" + H + b"Content-Length: 3000\r\n\r\n" + b"x" * 3000],
                              [OK0])
    s["big_chunked_streamed"] = ([b"POST /bigc HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                                  + b"400\r\n" + b"y" * 1024 + b"\r\n" + b"400\r\n" + b"z" * 1024
                                  + b"\r\n0\r\n\r\n"], [OK0])
    s["cl_te_conflict"] = ([b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"0\r\n\r\nGET /smuggled HTTP/1.1\r\n" + H + b"\r\n"], [OK0])
    s["te_not_final"] = ([b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"], [OK0])
    s["duplicate_cl"] = ([b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", get],
                         [OK0, OK0])
    # a lenient backend reads '_' as '-': these must not reach it
    s["underscore_cl"] = ([b"GET / HTTP/1.1\r\n" + H + b"Content_Length: 3\r\n\r\n", get], [OK0, OK0])
    s["underscore_te"] = ([b"GET / HTTP/1.1\r\n" + H + b"Transfer_Encoding: chunked\r\n\r\n", get],
                          [OK0, OK0])
    s["bad_chunk_midway"] = ([b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX\r\n0\r\n\r\n"],
                             [OK0])
    s["connection_close"] = ([b"GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n", get], [OK2])
    s["http10_keepalive"] = ([b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", get], [OK10])
    s["backend_close"] = ([get, get], [b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", OK2])
    s["connect"] = ([b"CONNECT a.example:443 HTTP/1.1\r\n" + H + b"\r\ntunnel bytes"],
                    [b"HTTP/1.1 200 Connection established\r\n\r\nback"])
    s["empty_lines"] = ([b"\r\n\r\n" + get], [OK2])
    s["trusted_chain"] = ([b"GET / HTTP/1.1\r\n" + H + b"X-Forwarded-For: 192.0.2.1\r\n"
                           b"Forwarded: for=192.0.2.1\r\nX-Secret: 1\r\nConnection: X-Secret\r\n\r\n"], [OK2])
    s["response_interim_204_304"] = ([get, get, b"HEAD / HTTP/1.1\r\n" + H + b"\r\n"],
                                     [b"HTTP/1.1 103 Early Hints\r\nLink: </s>\r\n\r\n"
                                      b"HTTP/1.1 204 No Content\r\n\r\n",
                                      b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
                                      b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"])
    s["bad_response"] = ([get], [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nok"])
    s["unsolicited"] = ([get], [OK2 + OK2])
    s["obs_fold_report"] = ([b"GET / HTTP/1.1\r\n" + H + b"X-A: b\r\n c\r\n\r\n"], [OK2])
    out = []
    variants = [(0x00, 0x00), (0x01, 0x01), (0x02, 0x02), (0x20, 0x03), (0x5e, 0x07), (0x84, 0x0e)]
    for i, (name, (client, backend)) in enumerate(sorted(s.items())):
        cfg, chunk = variants[i % len(variants)]
        out.append((name, proxy_input(cfg, chunk, 0x1000 + i, b"".join(client), answers(*backend))))
        # the same with the other config extremes
        out.append((name + "-v", proxy_input(cfg ^ 0x25, chunk ^ 0x01, 0x2000 + i, b"".join(client),
                                             answers(*backend))))
    return out


def ws_frame(op, payload, mask=None, fin=True, rsv1=False, length_form=None):
    b0 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | op
    n = len(payload)
    if length_form == 16 or (length_form is None and 126 <= n < 65536):
        hdr = bytes([b0, (0x80 if mask else 0) | 126]) + struct.pack(">H", n)
    elif length_form == 64 or (length_form is None and n >= 65536):
        hdr = bytes([b0, (0x80 if mask else 0) | 127]) + struct.pack(">Q", n)
    else:
        hdr = bytes([b0, (0x80 if mask else 0) | n])
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        hdr += mask
    return hdr + payload


def websocket_2way_seeds():
    K = b"\x11\x22\x33\x44"
    def c(op, p, **kw):
        return ws_frame(op, p, mask=K, **kw)
    def s(op, p, **kw):
        return ws_frame(op, p, **kw)
    seeds = {
        "echo": (c(1, b"hello") + c(2, b"\x00\x01") + c(9, b"ping"),
                 s(1, b"hello") + s(10, b"ping") + s(2, b"\xff")),
        "fragmented": (c(1, b"hel", fin=False) + c(9, b"") + c(0, "lo \u00e9".encode(), fin=True),
                       s(2, b"ab", fin=False) + s(0, b"cd")),
        "close_both": (c(8, struct.pack(">H", 1000) + b"bye") + c(1, b"after close"),
                       s(8, struct.pack(">H", 1001)) + s(1, b"after")),
        "client_unmasked": (s(1, b"unmasked"), s(1, b"fine")),
        "server_masked": (c(1, b"fine"), c(1, b"masked from server")),
        "bad_utf8": (c(1, b"ok\xc3") + c(1, b"x"), s(1, b"ok")),
        "bad_close_code": (c(8, struct.pack(">H", 1005)), b""),
        "long_frames": (c(2, b"b" * 300) + c(1, b"t" * 700), s(2, b"s" * 300, length_form=16)),
        "nonminimal": (c(2, b"ab", length_form=16), s(2, b"ab", length_form=64)),
        "rsv_opcode": (c(3, b"x"), s(1, b"x", rsv1=True)),
        "control_too_long": (c(9, b"p" * 126), s(9, b"")),
        "continuation_without_start": (c(0, b"x"), s(0, b"y")),
    }
    out = []
    for i, (name, (cl, be)) in enumerate(sorted(seeds.items())):
        cfg = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05][i % 6]
        chunk = [0x00, 0x01, 0x02, 0x03, 0x06][i % 5]
        out.append((name, proxy_input(cfg, chunk, 0x3000 + i, cl, be)))
    return out


if __name__ == "__main__":
    for name, data in http_proxy_seeds():
        write("http_proxy", name, data)
    for name, data in websocket_2way_seeds():
        write("websocket_2way", name, data)
