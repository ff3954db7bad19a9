"""Self-test of tests/integration/proxyproto.py, the PROXY protocol codec the
integration tests use. Needs no gatehouse binary.

The byte vectors below are also in tests/unit/test_proxy_protocol.c
(test_shared_vectors), where gh_proxy_build_v1/_v2 must produce them: the C
module and this codec agree on the wire format as long as both pass.
"""

import socket

import pytest

import proxyproto as pp

# ---------------------------------------------------------------- shared vectors

VEC_V1_TCP4 = b"PROXY TCP4 192.0.2.1 198.51.100.2 51234 443\r\n"
VEC_V1_TCP6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 51234 443\r\n"
VEC_V2_TCP4_PLAIN = bytes.fromhex(
    "0d0a0d0a000d0a515549540a" "2111000c"
    "c0000201" "c6336402" "c822" "01bb")
VEC_V2_TCP6_TLS = bytes.fromhex(
    "0d0a0d0a000d0a515549540a" "212100fb"      # PROXY TCP6, 251
    "20010db8000000000000000000000001"         # 2001:db8::1
    "20010db8000000000000000000000002"         # 2001:db8::2
    "c822" "01bb"                              # 51234, 443
    "010002" "6832"                            # ALPN
    "020009" "6170692e6c6f63616c"              # AUTHORITY
    "05000b" "636f6e6e2d303030303031"          # UNIQUE_ID
    "200035" "07" "00000000"                   # SSL: client 7, verify 0
    "210007" "544c5376312e33"                  #   SSL_VERSION
    "220009" "616c6963652d636c69"              #   SSL_CN
    "230017" "544c5331332d4145533132382d47434d2d534841323536"  # SSL_CIPHER
    "e10040"                                   # 0xE1 fingerprint
    "3362326434623666386139633065316632613362346335643665376638303931"
    "6132623363346435653666373038313932613362346335643665376638303931"
    "e20016" "434e3d616c6963652d636c692c4f3d4578616d706c65"      # 0xE2 subject
    "e3001a" "7370696666653a2f2f6578616d706c652e6f72672f616c696365"  # 0xE3
    "030004" "90fabfa4")                       # CRC32C

VEC_TLS = pp.GatehouseTLS(
    sni=b"api.local", alpn=b"h2", version=b"TLSv1.3", cipher=b"TLS13-AES128-GCM-SHA256",
    unique_id=b"conn-000001", client_cert=True, resumed=False, verified=True,
    cn=b"alice-cli",
    cert_sha256=b"3b2d4b6f8a9c0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091",
    subject=b"CN=alice-cli,O=Example", san_uri=b"spiffe://example.org/alice", crc32c=True)

S4, D4 = ("192.0.2.1", 51234), ("198.51.100.2", 443)
S6, D6 = ("2001:db8::1", 51234), ("2001:db8::2", 443)


def test_shared_vectors_encode():
    assert pp.encode_v1(S4, D4) == VEC_V1_TCP4
    assert pp.encode_v1(S6, D6) == VEC_V1_TCP6
    assert pp.encode_gatehouse_v2(S4, D4) == VEC_V2_TCP4_PLAIN
    assert pp.encode_gatehouse_v2(S6, D6, VEC_TLS) == VEC_V2_TCP6_TLS


def test_shared_vectors_decode():
    h = pp.decode(VEC_V2_TCP6_TLS)
    assert h.length == len(VEC_V2_TCP6_TLS) == 267
    assert (h.version, h.command, h.family) == (2, "PROXY", "TCP6")
    assert h.src == ("2001:db8::1", 51234) and h.dst == ("2001:db8::2", 443)
    assert h.alpn == b"h2" and h.authority == b"api.local" and h.unique_id == b"conn-000001"
    assert h.ssl.client == 7 and h.ssl.verify == 0 and h.verified
    assert (h.ssl.version, h.ssl.cn, h.ssl.cipher) == (b"TLSv1.3", b"alice-cli",
                                                      b"TLS13-AES128-GCM-SHA256")
    assert h.cert_sha256 == VEC_TLS.cert_sha256
    assert h.cert_subject == b"CN=alice-cli,O=Example"
    assert h.cert_san_uri == b"spiffe://example.org/alice"
    assert h.has_crc32c
    assert [t for t, _ in h.tlvs] == [0x01, 0x02, 0x05, 0x20, 0xE1, 0xE2, 0xE3, 0x03]
    h = pp.decode(VEC_V2_TCP4_PLAIN + b"\x16\x03\x01")
    assert h.length == 28 and h.src == S4 and h.dst == D4 and h.tlvs == []


def test_crc32c_check_value():
    assert pp.crc32c(b"123456789") == 0xE3069283
    assert pp.crc32c(b"56789", pp.crc32c(b"1234")) == 0xE3069283
    assert pp.crc32c(bytes(32)) == 0x8A9136AA


# ---------------------------------------------------------------- v1

@pytest.mark.parametrize("src,dst,want", [
    (S4, D4, VEC_V1_TCP4),
    (("::ffff:192.0.2.1", 5), ("::ffff:10.0.0.1", 443), b"PROXY TCP4 192.0.2.1 10.0.0.1 5 443\r\n"),
    (("2001:DB8:0::1", 1), ("::", 0), b"PROXY TCP6 2001:db8::1 :: 1 0\r\n"),
    (S4, D6, b"PROXY UNKNOWN\r\n"),
    (None, None, b"PROXY UNKNOWN\r\n"),
])
def test_v1_encode(src, dst, want):
    assert pp.encode_v1(src, dst) == want


@pytest.mark.parametrize("src,dst", [
    (S4, D4), (S6, D6), (("0.0.0.0", 0), ("255.255.255.255", 65535)),
    (("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535), ("::1", 1)),
])
def test_v1_roundtrip(src, dst):
    data = pp.encode_v1(src, dst) + b"GET / HTTP/1.1\r\n\r\n"
    h = pp.decode(data)
    assert h.version == 1 and h.src == src and h.dst == dst
    assert data[h.length:] == b"GET / HTTP/1.1\r\n\r\n"


@pytest.mark.parametrize("data,reason", [
    (b"\x16\x03\x01", pp.BAD_SIGNATURE),
    (b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", pp.BAD_SIGNATURE),
    (b"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", pp.BAD_V1),
    (b"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", pp.BAD_V1),
    (b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", pp.BAD_ADDRESS),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", pp.BAD_ADDRESS),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", pp.BAD_ADDRESS),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", pp.BAD_V1),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", pp.BAD_V1),
    (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2GET / HTTP/1.1\r\n", pp.BAD_ADDRESS),
    (b"PROXY TCP4 ::1 ::1 1 2\r\n", pp.BAD_ADDRESS),
    (b"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", pp.BAD_ADDRESS),
    (b"PROXY UNKNOWN " + b"x" * 92 + b"\r\n", pp.V1_TOO_LONG),   # 108 bytes
    (b"PROXY UNKNOWN \x01\r\n", pp.BAD_V1),
])
def test_v1_rejects(data, reason):
    with pytest.raises(pp.ProxyError) as e:
        pp.decode(data)
    assert e.value.reason == reason


def test_v1_longest():
    line = b"PROXY UNKNOWN " + b"x" * 91 + b"\r\n"
    assert len(line) == 107 and pp.decode(line).family == "UNKNOWN"


# ---------------------------------------------------------------- v2

ALL_TLVS = [
    (pp.PP2_TYPE_ALPN, b"http/1.1"),
    (pp.PP2_TYPE_NOOP, b"pad"),
    (pp.PP2_TYPE_AUTHORITY, b"example.com"),
    (pp.PP2_TYPE_UNIQUE_ID, b"u" * 128),
    (pp.PP2_TYPE_NETNS, b"blue"),
    (pp.PP2_TYPE_SSL, pp.encode_ssl(pp.PP2_CLIENT_SSL | pp.PP2_CLIENT_CERT_SESS, 0, [
        (pp.PP2_SUBTYPE_SSL_VERSION, b"TLSv1.2"), (pp.PP2_SUBTYPE_SSL_CN, b"bob"),
        (pp.PP2_SUBTYPE_SSL_CIPHER, b"ECDHE-RSA-AES128-GCM-SHA256"),
        (pp.PP2_SUBTYPE_SSL_SIG_ALG, b"RSA-SHA256"), (pp.PP2_SUBTYPE_SSL_KEY_ALG, b"RSA2048"),
    ])),
    (pp.GH_PP2_TYPE_CERT_SHA256, b"ab" * 32),
    (pp.GH_PP2_TYPE_CERT_SUBJECT, b"CN=bob,OU=x"),
    (pp.GH_PP2_TYPE_CERT_SAN_URI, b"spiffe://td/bob"),
    (0xEA, b"vpce-1"),
]


@pytest.mark.parametrize("crc", [False, True])
@pytest.mark.parametrize("src,dst", [(S4, D4), (S6, D6)])
def test_v2_roundtrip(src, dst, crc):
    data = pp.encode_v2(src, dst, ALL_TLVS, crc=crc)
    h = pp.decode(data + b"payload", max_v2_len=pp.V2_ABSOLUTE_MAX)
    assert h.length == len(data) and h.src == src and h.dst == dst
    assert h.tlvs[:len(ALL_TLVS)] == ALL_TLVS and h.has_crc32c == crc
    ssl = h.ssl
    assert (ssl.version, ssl.cn, ssl.cipher, ssl.sig_alg, ssl.key_alg) == (
        b"TLSv1.2", b"bob", b"ECDHE-RSA-AES128-GCM-SHA256", b"RSA-SHA256", b"RSA2048")
    assert h.verified
    # every prefix needs more
    for k in range(len(data)):
        assert pp.decode(data[:k], max_v2_len=pp.V2_ABSOLUTE_MAX) is None


@pytest.mark.parametrize("tls", [
    None,
    pp.GatehouseTLS(),
    pp.GatehouseTLS(sni=b"a.example", version=b"TLSv1.3", crc32c=True),
    pp.GatehouseTLS(client_cert=True, resumed=True, verified=False, cn=b"c",
                    subject=b"CN=c", san_uri=b"spiffe://x/y"),
    pp.GatehouseTLS(client_cert=False, cn=b"not sent", cert_sha256=b"0" * 64),
])
def test_gatehouse_layout_roundtrip(tls):
    data = pp.encode_gatehouse_v2(S4, D4, tls)
    h = pp.decode(data)
    assert h.src == S4 and h.dst == D4
    if tls is None:
        assert h.tlvs == [] and h.ssl is None
        return
    cert = tls.client_cert
    assert h.ssl.client & pp.PP2_CLIENT_SSL
    assert bool(h.ssl.client & pp.PP2_CLIENT_CERT_SESS) == cert
    assert bool(h.ssl.client & pp.PP2_CLIENT_CERT_CONN) == (cert and not tls.resumed)
    assert h.ssl.verify == (0 if cert and tls.verified else 1)
    assert h.authority == tls.sni and h.ssl.version == tls.version
    assert h.ssl.cn == (tls.cn if cert else None)
    assert h.cert_sha256 == (tls.cert_sha256 if cert else None)
    assert h.cert_subject == (tls.subject if cert else None)
    assert h.cert_san_uri == (tls.san_uri if cert else None)
    types = [t for t, _ in h.tlvs]
    body = [t for t in types if t != pp.PP2_TYPE_CRC32C]
    assert body == sorted(body) and (types[-1] == pp.PP2_TYPE_CRC32C) == tls.crc32c


def test_v2_commands_and_families():
    h = pp.decode(pp.encode_v2(command="LOCAL"))
    assert (h.command, h.family, h.src, h.length) == ("LOCAL", "UNSPEC", None, 16)
    # LOCAL: the block is skipped, whatever it holds
    h = pp.decode(pp.encode_v2(command="LOCAL", family="TCP4", address_block=b"\xff" * 5))
    assert h.command == "LOCAL" and h.length == 21
    # PROXY UNSPEC: no address bytes, TLVs right after the fixed part
    h = pp.decode(pp.encode_v2(family="UNSPEC", tlvs=[(pp.PP2_TYPE_AUTHORITY, b"u")]))
    assert (h.command, h.family, h.src, h.authority) == ("PROXY", "UNSPEC", None, b"u")
    # what gatehouse sends without an address pair keeps its TLVs
    h = pp.decode(pp.encode_gatehouse_v2(S4, D6, VEC_TLS))
    assert h.family == "UNSPEC" and h.cert_san_uri == VEC_TLS.san_uri and h.has_crc32c
    h = pp.decode(pp.encode_v2(("/a", 0), ("/b", 0), family="UNIX"))
    assert h.family == "UNIX" and h.src is None and h.length == 16 + 216


@pytest.mark.parametrize("kwargs,reason", [
    (dict(src=S4, dst=D4, ver_cmd=0x11), pp.BAD_VERSION),
    (dict(src=S4, dst=D4, ver_cmd=0x22), pp.BAD_COMMAND),
    (dict(src=S4, dst=D4, family="UDP4"), pp.BAD_FAMILY),
    (dict(src=S4, dst=D4, family=0x13, address_block=b""), pp.BAD_FAMILY),
    (dict(family="TCP4", address_block=b"\0" * 11), pp.BAD_ADDRESS),
    (dict(family="UNSPEC", address_block=b"junk"), pp.BAD_TLV),
    (dict(src=S4, dst=D4, tlvs=b"\x04\x00"), pp.BAD_TLV),
    (dict(src=S4, dst=D4, tlvs=b"\x02\x00\x09exam"), pp.BAD_TLV),
    (dict(src=S4, dst=D4, tlvs=[(1, b"a"), (1, b"b")]), pp.BAD_TLV),
    (dict(src=S4, dst=D4, tlvs=[(5, b"u" * 129)]), pp.BAD_TLV),
    (dict(src=S4, dst=D4, tlvs=[(0x20, b"\x01\0\0\0")]), pp.BAD_TLV),
    (dict(src=S4, dst=D4, tlvs=[(0xF8, b"")]), pp.BAD_TLV),
    (dict(src=S4, dst=D4, tlvs=[(0x04, b"x" * 600)]), pp.TOO_LONG),
])
def test_v2_rejects(kwargs, reason):
    with pytest.raises(pp.ProxyError) as e:
        pp.decode(pp.encode_v2(**kwargs))
    assert e.value.reason == reason


def test_v2_bad_crc():
    data = bytearray(pp.encode_v2(S4, D4, [(pp.PP2_TYPE_AUTHORITY, b"example.com")], crc=True))
    assert pp.decode(bytes(data)).has_crc32c
    data[20] ^= 1
    with pytest.raises(pp.ProxyError) as e:
        pp.decode(bytes(data))
    assert e.value.reason == pp.BAD_CRC


# ---------------------------------------------------------------- over a socket

def test_read_header_socketpair():
    a, b = socket.socketpair()
    try:
        data = pp.encode_gatehouse_v2(S6, D6, VEC_TLS) + b"hello"
        for i in range(0, len(data), 7):        # dribbled in
            a.sendall(data[i:i + 7])
        h, rest = pp.read_header(b, timeout=5)
        got = rest
        while len(got) < 5:
            got += b.recv(16)
        assert h.cert_san_uri == b"spiffe://example.org/alice" and got == b"hello"
        a.sendall(b"\x16\x03\x01")
        a.close()
        with pytest.raises(pp.ProxyError):
            pp.read_header(b, timeout=5)
    finally:
        a.close()
        b.close()
