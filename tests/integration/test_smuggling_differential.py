"""Differential request-smuggling test (issue 11, "Done when").

Every variant below goes through TLS to one gatehouse (mode = http) and on
to a live backend, which keeps the exact bytes of every backend connection.
Those bytes are then read by two backend models (smuggle_models.py):
STRICT (RFC 9112) and LENIENT (a legacy backend: last field wins, only an
exact `chunked` counts, loose chunks, `_` = `-` in names). For each variant
either gatehouse refuses the request - and then nothing of it reached the
backend - or both models read exactly the same requests (method, target,
body) with the same identity headers, and those are gatehouse's own: the
fields gatehouse sets on a clean request on that listener (learnt at the
start: X-Forwarded-For = the client address, X-Forwarded-Proto = https, a
fresh X-Request-Id, and on the "mtls" listener its X-Client-* fields), each
exactly once (a first-wins backend must not find a client's copy either),
none in a trailer. And the client gets, for every request gatehouse
accepted, the answer to that request (the backends name the request they
answer).

Owns: the variant table and the verdict per variant; the models and the
live backends are smuggle_models.py's.

Variants marked `ignoring` run a second time against a backend that never
reads request bodies (it answers right after the head and runs the body as
the next request): gatehouse must still pair every answer with its request.
Variants marked `mtls` run again on a listener that asks for a client
certificate, where gatehouse sets X-Client-* itself.

No variant is expected to fail: the ones that fail on a given build are its
holes; the assertion message shows what each model read."""

import enum
import re
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from types import SimpleNamespace

import pytest

import smuggle_models as sm
from ghutil import Gatehouse, client_context, free_port, render_ini, scaled
from test_http import HttpClient, PeerClosed, req_bytes

HOST = "Host: example.com"
CLIENT_ADDR = "127.0.0.1"
HEX16 = re.compile(r"[0-9a-f]{16}")
READ_TIMEOUT = 1.5          # a request gatehouse neither answers nor refuses by then is lost
GATEHOUSE_REJECT_STATUSES = {400, 405, 411, 413, 414, 417, 431, 501, 505}


# =============================================================== model self-test


def _reads(raw):
    return (sm.read_stream(raw, sm.ReadModel.STRICT), sm.read_stream(raw, sm.ReadModel.LENIENT),
            sm.read_stream(raw, sm.ReadModel.IGNORE_BODY))


def test_models_agree_on_a_plain_stream():
    raw = (req_bytes("POST /a HTTP/1.1", HOST, "Content-Length: 5", "X-Forwarded-For: 1.2.3.4",
                     body=b"hello") +
           req_bytes("POST /b HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                     body=b"3\r\nabc\r\n2;e=\"q\"\r\nde\r\n0\r\n\r\n") +
           req_bytes("GET /c HTTP/1.1", HOST))
    strict, lenient, ignoring = _reads(raw)
    assert strict.error is None and strict.rest == b""
    assert strict.keys() == lenient.keys()
    assert [(r.method, r.target, r.body) for r in strict.requests] == [
        ("POST", "/a", b"hello"), ("POST", "/b", b"abcde"), ("GET", "/c", b"")]
    assert strict.requests[0].identity == {"x-forwarded-for": "1.2.3.4"}
    # the body-ignoring model runs the bodies as requests
    assert [r.method for r in ignoring.requests][:2] == ["POST", "helloPOST"]


def test_models_differ_on_known_smuggling_pairs():
    smuggled = req_bytes("GET /admin HTTP/1.1", HOST, "X_Forwarded_For: 6.6.6.6")
    # TE: chunked plus an empty TE line: RFC reads chunked, last-wins reads no body
    te_empty = req_bytes("POST /a HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                         "Transfer-Encoding:", body=b"%x\r\n" % len(smuggled) + smuggled +
                         b"\r\n0\r\n\r\n")
    strict, lenient, _ = _reads(te_empty)
    assert [r.target for r in strict.requests] == ["/a"] and strict.requests[0].body == smuggled
    # LENIENT runs the body as requests: the chunk-size line as a request line,
    # the smuggled request's lines as its fields, forged identity included
    assert len(lenient.requests) > 1 and lenient.requests[0].body == b""
    assert any(r.identity.get("x-forwarded-for") == "6.6.6.6" for r in lenient.requests)
    assert strict.keys() != lenient.keys()
    # `_` for `-`: only the legacy models see the forged X-Forwarded-For
    s, l, _ = _reads(smuggled)
    assert s.requests[0].identity == {} and l.requests[0].identity == {"x-forwarded-for": "6.6.6.6"}
    # Content_Length is CONTENT_LENGTH to a CGI backend
    cl_us = req_bytes("POST /u HTTP/1.1", HOST, "Content_Length: %d" % len(smuggled),
                      body=smuggled)
    s, l, _ = _reads(cl_us)
    assert [r.target for r in s.requests] == ["/u", "/admin"]
    assert [r.target for r in l.requests] == ["/u"] and l.requests[0].body == smuggled
    # Chunked in another case: RFC chunked, a legacy backend reads no body
    s, l, _ = _reads(req_bytes("POST /c HTTP/1.1", HOST, "Transfer-Encoding: Chunked",
                               body=b"0\r\n\r\n"))
    assert s.error is None and len(s.requests) == 1
    assert len(l.requests) == 2 and l.requests[1].method == "0"
    # loose chunk parsing: data not followed by CRLF swallows the next request for LENIENT
    s, l, _ = _reads(req_bytes("POST /d HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                               body=b"5\r\nhello0\r\n\r\n") + req_bytes("GET /n HTTP/1.1", HOST))
    assert s.error and "no_crlf_after_data" in s.error
    assert [r.target for r in l.requests] == ["/d"]
    # strtoul sizes: 0x prefix and leading blanks are a size to LENIENT, an error to STRICT
    s, l, _ = _reads(req_bytes("POST /e HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                               body=b" 0x5\r\nhello\r\n0\r\n\r\n"))
    assert s.error and "bad_chunk_size" in s.error
    assert l.requests[0].body == b"hello" and l.keys() != s.keys()
    # trailers: STRICT keeps them (for the identity check), LENIENT skips them
    s, l, _ = _reads(req_bytes("POST /t HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                               body=b"0\r\nX-Client-Verified: SUCCESS\r\n\r\n"))
    assert s.requests[0].trailer_identity_fields == [("x-client-verified", "SUCCESS")]
    assert l.requests[0].trailers == []


def test_models_incomplete_and_errors():
    s, l, i = _reads(req_bytes("POST /a HTTP/1.1", HOST, "Content-Length: 10", body=b"abc"))
    assert s.requests[0].state is sm.ReadState.BODY_INCOMPLETE and s.requests[0].body == b"abc"
    assert s.keys() == l.keys()
    assert i.requests[0].state is sm.ReadState.COMPLETE and i.rest == b"abc"
    s, l, _ = _reads(b"GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n")
    assert s.error and "space_before_colon" in s.error and s.requests == []
    assert l.requests[0].fields[-1] == ("x-a", "b")
    s, _, _ = _reads(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n")
    assert s.error and "obs_fold" in s.error
    s, _, _ = _reads(req_bytes("POST / HTTP/1.1", HOST, "Content-Length: 1",
                               "Transfer-Encoding: chunked", body=b"0\r\n\r\n"))
    assert s.error and "cl_with_te" in s.error


# ===================================================================== variants

SMUGGLED = req_bytes("GET /admin HTTP/1.1", HOST, "X-Forwarded-For: 6.6.6.6",
                     "X-Client-Verified: SUCCESS", "X-Client-Cert-Subject: CN=admin")
SMUGGLED2 = req_bytes("DELETE /accounts/all HTTP/1.1", HOST, "X_Forwarded_For: 6.6.6.6")
# the start of a head: the next request on the connection would complete it
PARTIAL_HEAD = b"GET /admin HTTP/1.1\r\nX-Forwarded-For: 6.6.6.6\r\nX-Ignore: zz"
NEXT = req_bytes("GET /next HTTP/1.1", HOST)
NEXT_SENT = ("GET", "/next", b"")


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


LAST = b"0\r\n\r\n"
# a body past the bound up to which gatehouse may hold a request whole
# (issue 11: about 64 KiB), so it takes the streaming path
STREAMED = bytes(range(97, 123)) * 4000


def chunks_of(data, size=16384):
    return b"".join(chunk(data[i:i + size]) for i in range(0, len(data), size))


@dataclass
class Variant:
    writes: list                       # bytes the client writes, one write each
    sent: list                         # [(method, target, body)] the client meant, in order
    ignoring: bool = False             # also against the body-ignoring backend
    mtls: bool = False                 # also on the listener with client certificates
    gap: float = 0.0                   # seconds between writes (separate reads in gatehouse)
    read_delay: float = 0.0            # seconds the client waits before reading (a slow reader)
    read_pace: float = 0.0             # seconds the client waits before each read of a record
    why: str = ""


def post_chunked(target, body, *extra, te=("Transfer-Encoding: chunked",)):
    return req_bytes(f"POST {target} HTTP/1.1", HOST, *te, *extra, body=body)


def te_variant(*te_lines, mtls=False):
    """A chunked POST whose body is a request, with the given TE lines, then a GET."""
    return Variant([post_chunked("/te", chunk(SMUGGLED) + LAST, te=te_lines) + NEXT],
                   [("POST", "/te", SMUGGLED), NEXT_SENT], mtls=mtls)


def chunk_variant(body, decoded, mtls=False):
    return Variant([post_chunked("/c", body) + NEXT], [("POST", "/c", decoded), NEXT_SENT],
                   mtls=mtls)


def header_variant(*fields):
    return Variant([req_bytes("GET /h HTTP/1.1", HOST, *fields) + NEXT],
                   [("GET", "/h", b""), NEXT_SENT], ignoring=True, mtls=True)


VARIANTS = {
    # ---------------------------------------------------------- TE / CL
    "connection_names_te": te_variant("Connection: Transfer-Encoding",
                                      "Transfer-Encoding: chunked"),
    "connection_names_content_length": Variant(
        [req_bytes("POST /b HTTP/1.1", HOST, "Connection: Content-Length",
                   f"Content-Length: {len(SMUGGLED)}", body=SMUGGLED) + NEXT],
        [("POST", "/b", SMUGGLED), NEXT_SENT], ignoring=True),
    "connect_lowercase_tunnel": Variant(
        [req_bytes("connect example.com:443 HTTP/1.1", "Host: example.com:443") + SMUGGLED],
        [("connect", "example.com:443", b""), ("GET", "/admin", b"")],
        why="a lowercase connect that the proxy tunnels passes later bytes unchecked"),
    "cl_te": Variant([req_bytes("POST /s HTTP/1.1", HOST, f"Content-Length: {5 + len(SMUGGLED)}",
                                "Transfer-Encoding: chunked", body=LAST + SMUGGLED) + NEXT],
                     [("POST", "/s", b""), ("GET", "/admin", b""), NEXT_SENT]),
    "te_cl": Variant([req_bytes("POST /s HTTP/1.1", HOST, "Transfer-Encoding: chunked",
                                "Content-Length: 4", body=chunk(SMUGGLED) + LAST) + NEXT],
                     [("POST", "/s", SMUGGLED), NEXT_SENT]),
    "te_chunked_then_empty_line": te_variant("Transfer-Encoding: chunked", "Transfer-Encoding:",
                                             mtls=True),
    "te_empty_line_then_chunked": te_variant("Transfer-Encoding:", "Transfer-Encoding: chunked"),
    "te_comma_chunked_comma": te_variant("Transfer-Encoding: ,chunked,"),
    "te_chunked_trailing_comma": te_variant("Transfer-Encoding: chunked, "),
    "te_chunked_empty_elements": te_variant("Transfer-Encoding: , , chunked"),
    "te_Chunked_case": te_variant("Transfer-Encoding: Chunked"),
    "te_CHUNKED_case": te_variant("Transfer-Encoding: CHUNKED"),
    "te_ows_around": te_variant("Transfer-Encoding: \t chunked \t"),
    "te_lowercase_name": te_variant("transfer-encoding: chunked"),
    "te_chunked_nbsp": te_variant("Transfer-Encoding: chunked\xa0"),
    "te_twice": te_variant("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"),
    "te_identity_chunked": te_variant("Transfer-Encoding: identity, chunked"),
    "te_obs_fold": te_variant("Transfer-Encoding:", " chunked"),
    "te_space_before_colon": te_variant("Transfer-Encoding : chunked"),
    "te_underscore_name": Variant(
        [req_bytes("POST /u HTTP/1.1", HOST, "Transfer_Encoding: chunked") + NEXT],
        [("POST", "/u", b""), NEXT_SENT],
        why="CGI reads Transfer_Encoding as TRANSFER_ENCODING: the GET becomes chunk data"),
    "cl_underscore_name": Variant(
        [req_bytes("POST /u HTTP/1.1", HOST, f"Content_Length: {len(SMUGGLED)}") + SMUGGLED + NEXT],
        [("POST", "/u", b""), ("GET", "/admin", b""), NEXT_SENT],
        why="CGI reads Content_Length as CONTENT_LENGTH"),
    "te_and_te_underscore": te_variant("Transfer-Encoding: chunked",
                                       "Transfer_Encoding: identity"),
    "cl_and_cl_underscore": Variant(
        [req_bytes("POST /d HTTP/1.1", HOST, "Content-Length: 5", "Content_Length: 200",
                   body=b"hello") + SMUGGLED + NEXT],
        [("POST", "/d", b"hello"), ("GET", "/admin", b""), NEXT_SENT]),
    "te_http10": Variant([req_bytes("POST /old HTTP/1.0", "Transfer-Encoding: chunked",
                                    body=chunk(b"hello") + LAST)],
                         [("POST", "/old", b"hello")]),
    "te_http10_keep_alive": Variant(
        [req_bytes("POST /old HTTP/1.0", "Connection: keep-alive", "Transfer-Encoding: chunked",
                   body=chunk(SMUGGLED) + LAST) + NEXT],
        [("POST", "/old", SMUGGLED), NEXT_SENT]),
    "cl_duplicate_identical": Variant(
        [req_bytes("POST /d HTTP/1.1", HOST, "Content-Length: 5", "Content-Length: 5",
                   body=b"hello") + NEXT], [("POST", "/d", b"hello"), NEXT_SENT]),
    "cl_list_identical": Variant(
        [req_bytes("POST /d HTTP/1.1", HOST, "Content-Length: 5, 5", body=b"hello") + NEXT],
        [("POST", "/d", b"hello"), NEXT_SENT]),
    "cl_internal_space": Variant(
        [req_bytes("POST /d HTTP/1.1", HOST, "Content-Length: 1 0", body=b"0123456789") + NEXT],
        [("POST", "/d", b"0123456789"), NEXT_SENT]),
    "cl_tab_ows": Variant(
        [req_bytes("POST /d HTTP/1.1", HOST, "Content-Length:\t5\t", body=b"hello") + NEXT],
        [("POST", "/d", b"hello"), NEXT_SENT]),
    "cl_leading_zeros": Variant(
        [req_bytes("POST /d HTTP/1.1", HOST, "Content-Length: 0005", body=b"hello") + NEXT],
        [("POST", "/d", b"hello"), NEXT_SENT]),
    # ------------------------------------------------------- chunk framing
    "chunk_plain": chunk_variant(chunk(b"hello") + chunk(b" world") + LAST, b"hello world"),
    "chunk_zero_padded": chunk_variant(b"0005\r\nhello\r\n0000\r\n\r\n", b"hello"),
    "chunk_zero_padded_past_64_bits": chunk_variant(b"0" * 20 + b"5\r\nhello\r\n0\r\n\r\n",
                                                    b"hello"),
    "chunk_upper_hex": chunk_variant(b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
    "chunk_huge_size": Variant([post_chunked("/c", b"100000005\r\nhello\r\n")],
                               [("POST", "/c", None)],
                               why="4 GiB chunk under max_body 1m: 413 at the size line"),
    "chunk_huge_size_then_request": Variant(
        [post_chunked("/c", b"fffffffffffffff\r\n" + SMUGGLED)], [("POST", "/c", None)]),
    "chunk_ext": chunk_variant(b"5;name=value\r\nhello\r\n0\r\n\r\n", b"hello"),
    "chunk_ext_quoted": chunk_variant(b'5;a="b;c=\\"d\\""\r\nhello\r\n0\r\n\r\n', b"hello"),
    "chunk_ext_bws": chunk_variant(b"5 ; a = b\r\nhello\r\n0\r\n\r\n", b"hello"),
    "chunk_ext_on_last": chunk_variant(b"5\r\nhello\r\n0;x=\"y\"\r\n\r\n", b"hello"),
    "chunk_0x_prefix": chunk_variant(b"0x5\r\nhello\r\n0\r\n\r\n", b"hello"),
    "chunk_leading_space": chunk_variant(b" 5\r\nhello\r\n0\r\n\r\n", b"hello"),
    "chunk_size_trailing_tab": chunk_variant(b"5\t\r\nhello\r\n0\r\n\r\n", b"hello"),
    "chunk_ext_lf_in_quoted": chunk_variant(b'5;a="x\ny"\r\nhello\r\n0\r\n\r\n', b"hello"),
    "chunk_bare_lf_size": chunk_variant(b"5\nhello\r\n0\r\n\r\n", b"hello"),
    "chunk_bare_lf_after_data": chunk_variant(b"5\r\nhello\n0\r\n\r\n", b"hello"),
    "chunk_no_crlf_after_data": chunk_variant(b"5\r\nhello0\r\n\r\n", b"hello"),
    "chunk_data_longer_than_size": chunk_variant(b"3\r\nhello\r\n0\r\n\r\n", b"hel"),
    "chunk_bare_lf_last": chunk_variant(b"5\r\nhello\r\n0\n\n", b"hello"),
    "trailer_benign": chunk_variant(b"5\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n", b"hello"),
    "trailer_identity_names": chunk_variant(
        b"5\r\nhello\r\n0\r\nX-Forwarded-For: 6.6.6.6\r\nX-Client-Verified: SUCCESS\r\n"
        b"X-Client-Cert-Subject: CN=admin\r\nX_Real_IP: 6.6.6.6\r\n\r\n", b"hello", mtls=True),
    "trailer_obs_fold": chunk_variant(b"5\r\nhello\r\n0\r\nX-T: a\r\n X-Client-Verified: SUCCESS\r\n\r\n",
                                      b"hello"),
    "many_tiny_chunks": chunk_variant(b"".join(chunk(bytes([97 + i % 26])) for i in range(5000))
                                      + LAST, bytes(97 + i % 26 for i in range(5000))),
    "trailer_framing_names": chunk_variant(
        b"5\r\nhello\r\n0\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n", b"hello"),
    "te_Chunked_case_streamed": Variant(
        [post_chunked("/big", chunks_of(STREAMED) + LAST, te=("Transfer-Encoding: Chunked",))
         + NEXT], [("POST", "/big", STREAMED), NEXT_SENT],
        why="a streamed body must be re-framed too"),
    "trailer_identity_streamed": Variant(
        [post_chunked("/big", chunks_of(STREAMED) + b"0\r\nX-Client-Verified: SUCCESS\r\n"
                      b"X_Forwarded_For: 6.6.6.6\r\n\r\n") + NEXT],
        [("POST", "/big", STREAMED), NEXT_SENT], mtls=True),
    "cl_over_max_body": Variant(
        [req_bytes("POST /c HTTP/1.1", HOST, "Content-Length: 2000000", body=b"x" * 100)],
        [("POST", "/c", None)]),
    "chunk_framing_split_across_reads": Variant(
        [b"POST /s HTTP/1.1\r\nHost: example.com\r\nTransfer-Enc", b"oding: chun",
         b"ked\r\n\r", b"\n", b"5", b";a=\"", b"b\"\r", b"\nhel", b"lo\r", b"\n0\r\nX-Client-Veri",
         b"fied: SUCCESS\r\n\r", b"\n" + NEXT], [("POST", "/s", b"hello"), NEXT_SENT],
        mtls=True, gap=0.02, why="incremental parsing: every boundary inside the framing"),
    "expect_continue_bad_chunk": Variant(
        [post_chunked("/x", chunk(b"hello") + b"zz\r\n\r\n", "Expect: 100-continue")],
        [("POST", "/x", b"hello")], why="a held request asking for 100-continue, broken body"),
    "bad_chunk_after_pause": Variant(
        [post_chunked("/x", chunk(b"hello")), b"zz\r\n\r\n"], [("POST", "/x", b"hello")],
        gap=0.2, why="a held request broken after a pause"),
    "expect_continue_bad_chunk_later": Variant(
        [post_chunked("/x", chunk(b"hello"), "Expect: 100-continue"), b"zz\r\n\r\n"],
        [("POST", "/x", b"hello")], gap=0.2,
        why="a held request asking for 100-continue, broken after a pause"),
    "chunk_body_is_request": Variant([post_chunked("/c", chunk(SMUGGLED) + LAST) + NEXT],
                                     [("POST", "/c", SMUGGLED), NEXT_SENT], ignoring=True),
    # ---------------------------------------------------- header-name spoofs
    "xff_exact": header_variant("X-Forwarded-For: 6.6.6.6"),
    "xff_underscore": header_variant("X_Forwarded_For: 6.6.6.6"),
    "xff_mixed_separator": header_variant("X-Forwarded_For: 6.6.6.6"),
    "xff_lowercase_twice": header_variant("x-forwarded-for: 6.6.6.6", "X-FORWARDED-FOR: 7.7.7.7"),
    "client_cert_subject": header_variant("X-Client-Cert-Subject: CN=admin"),
    "client_cert_subject_underscore": header_variant("X_Client_Cert_Subject: CN=admin"),
    "client_verified_underscore": header_variant("X_Client_Verified: SUCCESS"),
    "client_other_name": header_variant("X-Client-Role: admin"),
    "forwarded": header_variant("Forwarded: for=6.6.6.6;proto=https;host=admin.internal"),
    "x_real_ip": header_variant("X-Real-IP: 6.6.6.6"),
    "x_forwarded_host_port": header_variant("X-Forwarded-Host: admin.internal",
                                            "X-Forwarded-Port: 8443"),
    "request_id_underscore": header_variant("X_Request_Id: forged-id"),
    "proto_downgrade_underscore": header_variant("X_Forwarded_Proto: http"),
    "real_ip_upper_underscore": header_variant("X_REAL_IP: 6.6.6.6"),
    "client_subject_odd_case": header_variant("x-ClIeNt-CeRt-SuBjEcT: CN=admin"),
    "connection_lists_identity": header_variant(
        "Connection: X-Forwarded-For, X-Forwarded-Proto, X-Request-Id, X-Client-Verified",
        "Connection: X_Client_Cert_Subject, Forwarded"),
    "xff_obs_fold": header_variant("X-Other: a", " X-Forwarded-For: 6.6.6.6"),
    "xff_space_before_colon": header_variant("X-Forwarded-For : 6.6.6.6"),
    "client_verified_tab_before_colon": header_variant("X-Client-Verified\t: SUCCESS"),
    # ------------------------------------------------------------ pipelining
    "http10_close_then_request": Variant([req_bytes("GET /old HTTP/1.0") + SMUGGLED],
                                         [("GET", "/old", b"")], ignoring=True,
                                         why="nothing after a closing HTTP/1.0 request"),
    "connection_close_then_request": Variant(
        [req_bytes("GET /last HTTP/1.1", HOST, "Connection: close") + SMUGGLED],
        [("GET", "/last", b"")], ignoring=True),
    "upgrade_not_accepted_then_request": Variant(
        [req_bytes("GET /ws HTTP/1.1", HOST, "Upgrade: websocket", "Connection: Upgrade",
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")
         + SMUGGLED], [("GET", "/ws", b""), ("GET", "/admin", b"")], ignoring=True, mtls=True,
        why="the backend answers 200, not 101: what follows is HTTP, not a tunnel"),
    "http10_keep_alive_body_is_request": Variant(
        [req_bytes("POST /old HTTP/1.0", "Connection: keep-alive",
                   f"Content-Length: {len(SMUGGLED)}", body=SMUGGLED) + NEXT],
        [("POST", "/old", SMUGGLED), NEXT_SENT], ignoring=True),
    "connect_lowercase_origin_form": Variant(
        [req_bytes("connect / HTTP/1.1", HOST) + SMUGGLED],
        [("connect", "/", b""), ("GET", "/admin", b"")]),
    "pipeline_gets": Variant(
        [req_bytes("GET /p1 HTTP/1.1", HOST) + req_bytes("GET /p2 HTTP/1.1", HOST) + NEXT],
        [("GET", "/p1", b""), ("GET", "/p2", b""), NEXT_SENT], ignoring=True),
    "post_body_is_request": Variant(
        [req_bytes("POST /b HTTP/1.1", HOST, f"Content-Length: {len(SMUGGLED)}", body=SMUGGLED)
         + NEXT], [("POST", "/b", SMUGGLED), NEXT_SENT], ignoring=True, mtls=True),
    "post_body_is_two_requests": Variant(
        [req_bytes("POST /b HTTP/1.1", HOST, f"Content-Length: {len(SMUGGLED + SMUGGLED2)}",
                   body=SMUGGLED + SMUGGLED2) + NEXT],
        [("POST", "/b", SMUGGLED + SMUGGLED2), NEXT_SENT], ignoring=True),
    "get_body_is_request": Variant(
        [req_bytes("GET /g HTTP/1.1", HOST, f"Content-Length: {len(SMUGGLED)}", body=SMUGGLED)
         + NEXT], [("GET", "/g", SMUGGLED), NEXT_SENT], ignoring=True),
    "expect_continue_body_is_request": Variant(
        [req_bytes("POST /b HTTP/1.1", HOST, "Expect: 100-continue",
                   f"Content-Length: {len(SMUGGLED)}"), SMUGGLED + NEXT],
        [("POST", "/b", SMUGGLED), NEXT_SENT], ignoring=True,
        why="the body-ignoring backend answers before the body: its bytes are a request"),
    "post_form_body_then_get": Variant(
        [req_bytes("POST /f HTTP/1.1", HOST, "Content-Length: 3", body=b"x=1") + NEXT],
        [("POST", "/f", b"x=1"), NEXT_SENT], ignoring=True,
        why="a body that is no request: the ignoring backend prefixes it to the next one"),
    "post_body_is_partial_head": Variant(
        [req_bytes("POST /f HTTP/1.1", HOST, f"Content-Length: {len(PARTIAL_HEAD)}",
                   body=PARTIAL_HEAD)
         + NEXT],
        [("POST", "/f", PARTIAL_HEAD),
         NEXT_SENT], ignoring=True,
        why="the next request's head would become the smuggled one's last field"),
    "post_body_is_request_split_writes": Variant(
        [req_bytes("POST /b HTTP/1.1", HOST, f"Content-Length: {len(SMUGGLED)}"),
         SMUGGLED + NEXT], [("POST", "/b", SMUGGLED), NEXT_SENT], ignoring=True),
    "pipeline_thirty": Variant(
        [b"".join(req_bytes(f"GET /q{i} HTTP/1.1", HOST) for i in range(30))],
        [("GET", f"/q{i}", b"") for i in range(30)], ignoring=True),
    "pipeline_big_answers_slow_reader": Variant(
        [b"".join(req_bytes(f"GET {sm.BIG_ANSWER_PREFIX}{i} HTTP/1.1", HOST) for i in range(20))],
        [("GET", f"{sm.BIG_ANSWER_PREFIX}{i}", b"") for i in range(20)], ignoring=True,
        read_delay=0.2, read_pace=0.002,
        why="response heads that find gatehouse's buffer to the client full"),
    "head_answered_with_body_then_get": Variant(
        [req_bytes("HEAD /h HTTP/1.1", HOST) + NEXT], [("HEAD", "/h", b""), NEXT_SENT],
        why="the backend sends a body after its HEAD answer: bytes nobody asked for"),
    "pipeline_mixed_ten": Variant(
        [b"".join(req_bytes(f"POST /m{i} HTTP/1.1", HOST, "Content-Length: 3", body=b"x=%d" % i)
                  if i % 2 else req_bytes(f"GET /m{i} HTTP/1.1", HOST) for i in range(10))],
        [("POST", f"/m{i}", b"x=%d" % i) if i % 2 else ("GET", f"/m{i}", b"")
         for i in range(10)], ignoring=True),
}


def _params():
    out = []
    for name, v in VARIANTS.items():
        out.append(pytest.param(name, "strict", id=f"{name}-strict"))
        if v.ignoring:
            out.append(pytest.param(name, "ignoring", id=f"{name}-ignoring"))
        if v.mtls:
            out.append(pytest.param(name, "mtls", id=f"{name}-mtls"))
    return out


# ====================================================================== fixture

# listener name -> the model its live backend reads with; "mtls" asks for a
# client certificate, so gatehouse sets its own X-Client-* fields there
LISTENER_MODELS = {"strict": sm.ReadModel.STRICT, "ignoring": sm.ReadModel.IGNORE_BODY,
                   "mtls": sm.ReadModel.STRICT}


def _client_cert(certs, d):
    """A client certificate from the session test CA (gatehouse's client_ca)."""
    (d / "client.ext").write_text("basicConstraints = critical, CA:FALSE\n"
                                  "keyUsage = critical, digitalSignature\n"
                                  "extendedKeyUsage = clientAuth\n")
    for args in (["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", "client.key", "-out", "client.csr", "-subj",
                  "/O=Example Org/CN=smuggling client"],
                 ["x509", "-req", "-in", "client.csr", "-CA", str(certs.ca), "-CAkey",
                  str(certs.dir / "ca.key"), "-CAcreateserial", "-days", "3", "-sha256",
                  "-extfile", "client.ext", "-out", "client.crt"]):
        r = subprocess.run(["openssl", *args], cwd=d, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    return d / "client.crt", d / "client.key"


def _baseline_identity(env, listener):
    """gatehouse's own identity fields on this listener, learnt from two
    clean requests on two connections: {name: value} for the values both
    share, None for those that differ (the request id)."""
    be = env.backends[listener]
    seen = []
    for i in range(2):
        before = be.conn_count()
        responses, ending, detail = exchange(env.gh.ports[listener], env.ctxs[listener],
                                             [req_bytes(f"GET /baseline{i} HTTP/1.1", HOST)],
                                             ["GET"])
        assert [r.status for r in responses] == [200], (listener, ending, detail)
        conns = be.wait_quiet(before, timeout=scaled(2.0))
        (req,) = sm.read_stream(bytes(conns[0].raw), sm.ReadModel.STRICT).requests
        seen.append(dict(req.identity_fields))
        assert len(req.identity_fields) == len(seen[-1]), req.identity_fields
    assert seen[0].keys() == seen[1].keys(), seen
    base = {n: (v if seen[1][n] == v else None) for n, v in seen[0].items()}
    # sanity: what every build of gatehouse sets
    assert base.get("x-forwarded-for") == CLIENT_ADDR and base.get("x-forwarded-proto") == "https"
    assert "x-request-id" in base and base["x-request-id"] is None, base
    if listener == "mtls":
        assert base.get("x-client-verified") == "SUCCESS", base
    return base


@pytest.fixture(scope="module")
def env(gatehouse_bin, certs, tmp_path_factory):
    """One gatehouse, a mode = http listener per LISTENER_MODELS entry."""
    d = tmp_path_factory.mktemp("smuggling")
    client_crt, client_key = _client_cert(certs, d)
    bes = {name: sm.ModelBackend(model) for name, model in LISTENER_MODELS.items()}
    listeners, ports, ctxs = {}, {}, {}
    for name, be in bes.items():
        port = free_port()
        listeners[name] = {"listen": f"127.0.0.1:{port}", "backend": be.addr, "mode": "http",
                           "cert": str(certs.ec_crt), "key": str(certs.ec_key),
                           "max_body": "1m"}
        ports[name] = port
        ctxs[name] = client_context(certs.ca)
    listeners["mtls"]["client_ca"] = str(certs.ca)
    ctxs["mtls"].load_cert_chain(str(client_crt), str(client_key))
    ini = d / "gatehouse.ini"
    ini.write_text(render_ini({"workers": 1, "shutdown_grace": "3s", "log_level": "info"},
                              listeners))
    gh = Gatehouse(ini, d / "gatehouse.stderr", d / "gatehouse.stdout", ports)
    try:
        gh.wait_ready()
        e = SimpleNamespace(gh=gh, backends=bes, ctxs=ctxs)
        e.identity = {name: _baseline_identity(e, name) for name in LISTENER_MODELS}
        yield e
    finally:
        gh.stop()
        for b in bes.values():
            b.close()
    rep = gh.sanitizer_report()
    assert not rep, f"sanitizer report in {gh.log_path}:\n{rep}"


# ======================================================================== test


class Ending(enum.Enum):
    """How the client's exchange ended."""
    ALL_ANSWERED = "all answered"
    REFUSED = "refused"                # a gatehouse refusal (4xx/5xx, Connection: close)
    CLOSED = "closed"                  # the connection ended before every answer
    STALLED = "stalled"                # neither answered nor closed within READ_TIMEOUT
    GARBLED = "garbled"                # bytes that are not an HTTP response


class PacedClient(HttpClient):
    """HttpClient that waits `pace` seconds before each read: a client that
    keeps gatehouse's buffer toward it full the whole time."""

    def __init__(self, port, ctx, timeout, pace):
        super().__init__(port, ctx, timeout=timeout)
        self.pace = pace

    def _more(self):
        if self.pace:
            time.sleep(self.pace)
        super()._more()


def exchange(port, ctx, writes, methods, gap=0.0, read_delay=0.0, read_pace=0.0):
    """Sends the writes (gap seconds apart), waits read_delay, reads a
    response per entry of methods (the request's method: HEAD has no body),
    read_pace seconds before each read: (responses, Ending, detail)."""
    responses = []
    n = len(methods)
    with PacedClient(port, ctx, READ_TIMEOUT, read_pace) as c:
        ending, detail = Ending.ALL_ANSWERED, ""
        try:
            for i, w in enumerate(writes):
                if i and gap:
                    time.sleep(gap)
                c.send(w)
            time.sleep(read_delay)
            while len(responses) < n:
                r = c.read_response(methods[len(responses)])
                responses.append(r)
                if r.status in GATEHOUSE_REJECT_STATUSES:
                    ending = Ending.REFUSED
                    break
        except PeerClosed as e:
            ending, detail = Ending.CLOSED, e.how
        except socket.timeout:
            ending, detail = Ending.STALLED, f"nothing more within {READ_TIMEOUT}s"
        except AssertionError as e:            # HttpClient: not a status line
            ending, detail = Ending.GARBLED, str(e)
        except (ssl.SSLError, OSError) as e:
            ending, detail = Ending.CLOSED, repr(e)
    return responses, ending, detail


def expected_answer(sent):
    method, target, _ = sent
    return b"" if method == "HEAD" else sm.answer_body(method, target)


def answers(r, sent):
    """Is response r the backend's answer to the request sent?"""
    method, target, _ = sent
    return (r.status == 200 and r.header("x-answer-to") == [f"{method} {target}"] and
            r.body == expected_answer(sent))


def check_client_side(v, responses, ending, detail):
    """(requests the backend may have read, problems). Answered requests come
    first, each with its own answer (anything else is mis-pairing); then
    either a refusal or the end of the connection refuses the rest, and
    nothing of those may reach the backend (check_backend_side). A request
    neither answered nor refused (gatehouse stalls on it) is a problem."""
    problems = []
    answered = 0
    for i, r in enumerate(responses):
        if i < len(v.sent) and answers(r, v.sent[i]):
            answered += 1
            continue
        if r.status in GATEHOUSE_REJECT_STATUSES and r.header("connection") == ["close"]:
            return answered, problems
        problems.append(f"client request {i} {v.sent[i][:2]} got the answer {r.status} "
                        f"{r.header('x-answer-to')} {short(r.body)!r} (mis-paired or failed; "
                        f"expected "
                        f"{short(expected_answer(v.sent[i]))!r})")
        # gatehouse forwarded it: the backend check below still holds
        return len(responses), problems
    if ending in (Ending.STALLED, Ending.GARBLED):
        problems.append(f"client requests {[s[:2] for s in v.sent[answered:]]} neither answered "
                        f"nor refused: {ending.value} ({detail})")
    return answered, problems


def check_identity(req, model, own, where):
    """Every identity field a model sees is one of gatehouse's own (`own`,
    from the listener's baseline), each once, with gatehouse's value."""
    fields = req.identity_fields
    problems = []
    if sorted(n for n, _ in fields) != sorted(own):
        problems.append(f"{where}: {model.value} model sees identity fields {fields} "
                        f"(gatehouse sets exactly {sorted(own)}, once each)")
    else:
        got = dict(fields)
        bad = {n: v for n, v in got.items() if own[n] is not None and v != own[n]}
        if bad or not HEX16.fullmatch(got["x-request-id"]):
            problems.append(f"{where}: {model.value} model sees identity {got}, not "
                            f"gatehouse's {own}")
    if req.trailer_identity_fields:
        problems.append(f"{where}: identity fields in the trailer: {req.trailer_identity_fields}")
    return problems


def short(value, keep=160):
    """bytes (or a structure holding them) for a message: long bytes cut."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value) if len(value) <= keep else \
            bytes(value[:keep]) + b"...(%d bytes)" % len(value)
    if isinstance(value, (list, tuple)):
        return type(value)(short(x, keep) for x in value)
    return value


def check_backend_side(v, conns, forwarded, own):
    """Problems with what the backend connections received: the two models
    must read the same, every identity field must be gatehouse's own, and
    the requests read must be exactly those the client got answers to."""
    problems = []
    strict_seen = []
    for conn in conns:
        raw = bytes(conn.raw)
        strict = sm.read_stream(raw, sm.ReadModel.STRICT)
        lenient = sm.read_stream(raw, sm.ReadModel.LENIENT)
        where = f"backend connection {conn.index}"
        if strict.keys() != lenient.keys():
            problems.append(f"{where}: STRICT and LENIENT read different requests:\n"
                            f"    strict : {strict.requests} error={strict.error} "
                            f"rest={strict.rest[:80]!r}\n"
                            f"    lenient: {lenient.requests} rest={lenient.rest[:80]!r}\n"
                            f"    bytes  : {raw[:600]!r}")
        for model, reading in ((sm.ReadModel.STRICT, strict), (sm.ReadModel.LENIENT, lenient)):
            for k, req in enumerate(reading.requests):
                problems += check_identity(req, model, own, f"{where} request {k} "
                                                       f"{req.method} {req.target}")
        strict_seen += [(r.method, r.target, r.body, r.state) for r in strict.requests]
        if strict.error:
            strict_seen.append(("<framing error>", strict.error, raw[-120:], None))
        elif strict.rest:
            strict_seen.append(("<unfinished head>", "", strict.rest[:120], None))
    want = [(m, t, b, sm.ReadState.COMPLETE) for m, t, b in v.sent[:forwarded]]
    for i, seen in enumerate(strict_seen[:len(want)]):
        # a backend that answers before the body (a body-ignoring one) may
        # get only part of it: gatehouse then drops that backend connection
        if (seen[3] is sm.ReadState.BODY_INCOMPLETE and want[i][2] is not None and
                want[i][:2] == seen[:2] and want[i][2].startswith(seen[2])):
            strict_seen[i] = want[i]
    if strict_seen != want:
        problems.append("the backend (STRICT) read " + repr(short(strict_seen)) +
                        f"\n    but gatehouse answered {[s[:2] for s in v.sent[:forwarded]]}"
                        f" (bodies {short([s[2] for s in v.sent[:forwarded]])}) and refused or held "
                        f"the rest: nothing of a request not answered may reach the backend")
    return problems


@pytest.mark.timeout_s(20)
@pytest.mark.parametrize("name,kind", _params())
def test_smuggling_differential(env, name, kind):
    v = VARIANTS[name]
    be = env.backends[kind]
    before = be.conn_count()
    env.gh.assert_alive()
    responses, ending, detail = exchange(env.gh.ports[kind], env.ctxs[kind], v.writes,
                                         [s[0] for s in v.sent], v.gap, v.read_delay,
                                         v.read_pace)
    conns = be.wait_quiet(before, timeout=scaled(2.0))
    forwarded, problems = check_client_side(v, responses, ending, detail)
    print(f"{name}/{kind}: answers {[(r.status, r.body[:60]) for r in responses]} "
          f"({ending.value} {detail}); "
          f"backend bytes {[bytes(c.raw[:400]) for c in conns]}")
    problems += check_backend_side(v, conns, forwarded, env.identity[kind])
    assert not problems, (f"{name} via the {kind} backend ({v.why or 'see the variant'}):\n"
                          f"  client sent {[s[:2] for s in v.sent]}, got "
                          f"{[(r.status, short(r.body)) for r in responses]} ({ending.value} "
                          f"{detail})\n  - " +
                          "\n  - ".join(problems))
