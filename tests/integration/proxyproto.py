"""PROXY protocol v1/v2 encoder and decoder for the integration tests (stdlib only).

Two uses:
  - a backend that reads the header gatehouse sends and checks what it says
    (read_header() on the accepted socket, then Header's fields);
  - a client standing in for a load balancer in front of gatehouse, sending a
    header (encode_v1 / encode_v2, with any TLVs, well formed or not).

The decoder is as strict as src/proxy_protocol.c and fails with the same
reason names (ProxyError.reason), so a test can tell a header gatehouse
should have refused from one it should have accepted. encode_gatehouse_v2
lays a header out exactly as gh_proxy_build_v2 does; the byte vectors in
test_proxyproto_selftest.py and tests/unit/test_proxy_protocol.c pin that
both sides agree.

Spec: HAProxy's "The PROXY protocol, versions 1 & 2" (2020/03/05).
"""

import ipaddress
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

V1_MAX_LEN = 107
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
V2_HEADER_LEN = 16
V2_DEFAULT_MAX = 536                 # GH_PROXY_V2_DEFAULT_MAX
V2_ABSOLUTE_MAX = 16 + 65535

PP2_TYPE_ALPN = 0x01
PP2_TYPE_AUTHORITY = 0x02
PP2_TYPE_CRC32C = 0x03
PP2_TYPE_NOOP = 0x04
PP2_TYPE_UNIQUE_ID = 0x05
PP2_TYPE_SSL = 0x20
PP2_SUBTYPE_SSL_VERSION = 0x21
PP2_SUBTYPE_SSL_CN = 0x22
PP2_SUBTYPE_SSL_CIPHER = 0x23
PP2_SUBTYPE_SSL_SIG_ALG = 0x24
PP2_SUBTYPE_SSL_KEY_ALG = 0x25
PP2_TYPE_NETNS = 0x30

PP2_CLIENT_SSL = 0x01
PP2_CLIENT_CERT_CONN = 0x02
PP2_CLIENT_CERT_SESS = 0x04

# gatehouse's own TLVs (include/gatehouse/proxy_protocol.h)
GH_PP2_TYPE_CERT_SHA256 = 0xE1       # 64 lowercase hex digits
GH_PP2_TYPE_CERT_SUBJECT = 0xE2      # subject DN
GH_PP2_TYPE_CERT_SAN_URI = 0xE3      # first URI SAN (SPIFFE ID)

# family/protocol byte -> (name, address block length)
V2_FAMILIES = {
    0x00: ("UNSPEC", 0),
    0x11: ("TCP4", 12), 0x12: ("UDP4", 12),
    0x21: ("TCP6", 36), 0x22: ("UDP6", 36),
    0x31: ("UNIX", 216), 0x32: ("UNIX_DGRAM", 216),
}
V2_FAMILY_BYTE = {name: b for b, (name, _) in V2_FAMILIES.items()}

# Reason names, as gh_proxy_reason_name prints them.
BAD_SIGNATURE = "proxy_bad_signature"
BAD_V1 = "proxy_bad_v1"
V1_TOO_LONG = "proxy_v1_too_long"
BAD_VERSION = "proxy_bad_version"
BAD_COMMAND = "proxy_bad_command"
BAD_FAMILY = "proxy_bad_family"
BAD_ADDRESS = "proxy_bad_address"
TOO_LONG = "proxy_too_long"
BAD_TLV = "proxy_bad_tlv"
BAD_CRC = "proxy_bad_crc"


class ProxyError(ValueError):
    """A header that is not valid; reason is one of the names above."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


# ------------------------------------------------------------------ CRC32C

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC32C (Castagnoli), continuing from crc like gh_proxy_crc32c."""
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ------------------------------------------------------------------ values

@dataclass
class SSLInfo:
    client: int
    verify: int
    version: Optional[bytes] = None
    cn: Optional[bytes] = None
    cipher: Optional[bytes] = None
    sig_alg: Optional[bytes] = None
    key_alg: Optional[bytes] = None
    subtlvs: List[Tuple[int, bytes]] = field(default_factory=list)   # all, in order


@dataclass
class Header:
    version: int                         # 1 or 2
    command: str                         # "PROXY" or "LOCAL"
    family: str                          # TCP4, TCP6, UNKNOWN (v1), UNSPEC, UNIX...
    src: Optional[Tuple[str, int]]       # (address text, port) for TCP4/TCP6
    dst: Optional[Tuple[str, int]]
    length: int                          # bytes the header takes
    tlvs: List[Tuple[int, bytes]] = field(default_factory=list)  # top level, NOOP included
    ssl: Optional[SSLInfo] = None
    has_crc32c: bool = False

    def tlv(self, type_: int) -> Optional[bytes]:
        for t, v in self.tlvs:
            if t == type_:
                return v
        return None

    @property
    def alpn(self):
        return self.tlv(PP2_TYPE_ALPN)

    @property
    def authority(self):
        return self.tlv(PP2_TYPE_AUTHORITY)

    @property
    def unique_id(self):
        return self.tlv(PP2_TYPE_UNIQUE_ID)

    @property
    def cert_sha256(self):
        return self.tlv(GH_PP2_TYPE_CERT_SHA256)

    @property
    def cert_subject(self):
        return self.tlv(GH_PP2_TYPE_CERT_SUBJECT)

    @property
    def cert_san_uri(self):
        return self.tlv(GH_PP2_TYPE_CERT_SAN_URI)

    @property
    def verified(self) -> bool:
        """The client presented a certificate and it was verified."""
        return self.ssl is not None and self.ssl.verify == 0 and bool(
            self.ssl.client & PP2_CLIENT_CERT_SESS)


# ------------------------------------------------------------------ encoding

def _ip(host: str):
    """ipaddress object; IPv4-mapped IPv6 becomes the IPv4 it carries."""
    a = ipaddress.ip_address(host)
    if a.version == 6 and a.ipv4_mapped is not None:
        return a.ipv4_mapped
    return a


def _pair(src, dst):
    """(family 4 or 6, src ip, dst ip) or None when v1 would say UNKNOWN."""
    if src is None or dst is None:
        return None
    s, d = _ip(src[0]), _ip(dst[0])
    if s.version != d.version:
        return None
    return s.version, s, d


def encode_v1(src=None, dst=None) -> bytes:
    """src/dst: (host, port). UNKNOWN when either is None or families differ
    (after mapped IPv6 is read as IPv4), as gh_proxy_build_v1 does."""
    p = _pair(src, dst)
    if p is None:
        return b"PROXY UNKNOWN\r\n"
    ver, s, d = p
    return f"PROXY TCP{ver} {s.compressed} {d.compressed} {src[1]} {dst[1]}\r\n".encode()


def encode_v1_raw(proto: str, src_text: str, dst_text: str, sport, dport) -> bytes:
    """A v1 line from text fields as given (for sending malformed headers)."""
    return f"PROXY {proto} {src_text} {dst_text} {sport} {dport}\r\n".encode()


def tlv(type_: int, value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise ValueError("TLV value over 65535 bytes")
    return struct.pack("!BH", type_, len(value)) + value


def encode_ssl(client: int, verify: int, subtlvs=()) -> bytes:
    """The value of a PP2_TYPE_SSL TLV; subtlvs is [(subtype, bytes)]."""
    return struct.pack("!BI", client, verify) + b"".join(tlv(t, v) for t, v in subtlvs)


def encode_v2(src=None, dst=None, tlvs=(), command: str = "PROXY", family=None,
              crc: bool = False, address_block: Optional[bytes] = None,
              length: Optional[int] = None, ver_cmd: Optional[int] = None) -> bytes:
    """A v2 header. family: a name (TCP4, UNSPEC...) or byte; by default TCP4/
    TCP6 from src/dst, or UNSPEC. tlvs: [(type, bytes)] or raw bytes. crc
    appends a CRC32C TLV (last) and fills it in. address_block, length and
    ver_cmd override what is computed, for malformed headers."""
    fam = V2_FAMILY_BYTE[family] if isinstance(family, str) else family
    ip_family = fam is None or fam in (0x11, 0x12, 0x21, 0x22)
    p = _pair(src, dst) if ip_family else None
    if fam is None:
        fam = 0x00 if p is None else V2_FAMILY_BYTE[f"TCP{p[0]}"]
    if address_block is None:
        if fam in (0x11, 0x12, 0x21, 0x22):
            if p is None:
                raise ValueError("TCP/UDP family needs src and dst of one family")
            _, s, d = p
            address_block = s.packed + d.packed + struct.pack("!HH", src[1], dst[1])
        elif fam in (0x31, 0x32):
            a = (src[0] if src else "").encode()
            b = (dst[0] if dst else "").encode()
            address_block = a.ljust(108, b"\0")[:108] + b.ljust(108, b"\0")[:108]
        else:
            address_block = b""
    body = address_block + (tlvs if isinstance(tlvs, (bytes, bytearray))
                             else b"".join(tlv(t, v) for t, v in tlvs))
    if crc:
        body += tlv(PP2_TYPE_CRC32C, b"\0\0\0\0")
    if ver_cmd is None:
        ver_cmd = 0x20 | (1 if command == "PROXY" else 0)
    n = len(body) if length is None else length
    hdr = V2_SIG + struct.pack("!BBH", ver_cmd, fam, n) + body
    if crc:
        c = crc32c(hdr)
        hdr = hdr[:-4] + struct.pack("!I", c)
    return hdr


@dataclass
class GatehouseTLS:
    """What gh_proxy_build_v2's struct gh_proxy_tls_info carries."""
    sni: Optional[bytes] = None
    alpn: Optional[bytes] = None
    version: Optional[bytes] = None
    cipher: Optional[bytes] = None
    unique_id: Optional[bytes] = None
    client_cert: bool = False
    resumed: bool = False
    verified: bool = False
    cn: Optional[bytes] = None
    cert_sha256: Optional[bytes] = None
    subject: Optional[bytes] = None
    san_uri: Optional[bytes] = None
    crc32c: bool = False


def encode_gatehouse_v2(src=None, dst=None, tls: Optional[GatehouseTLS] = None) -> bytes:
    """The exact bytes gh_proxy_build_v2 writes for the same inputs: TLVs in
    ascending type order (ALPN, AUTHORITY, UNIQUE_ID, SSL with VERSION, CN,
    CIPHER, then 0xE1-0xE3), absent values left out, CRC32C last."""
    tlvs = []
    if tls is not None:
        cert = tls.client_cert
        for t, v in ((PP2_TYPE_ALPN, tls.alpn), (PP2_TYPE_AUTHORITY, tls.sni),
                     (PP2_TYPE_UNIQUE_ID, tls.unique_id)):
            if v:
                tlvs.append((t, v))
        client = PP2_CLIENT_SSL
        if cert and not tls.resumed:
            client |= PP2_CLIENT_CERT_CONN
        if cert:
            client |= PP2_CLIENT_CERT_SESS
        subs = [(PP2_SUBTYPE_SSL_VERSION, tls.version),
                (PP2_SUBTYPE_SSL_CN, tls.cn if cert else None),
                (PP2_SUBTYPE_SSL_CIPHER, tls.cipher)]
        tlvs.append((PP2_TYPE_SSL, encode_ssl(client, 0 if cert and tls.verified else 1,
                                              [(t, v) for t, v in subs if v])))
        if cert:
            for t, v in ((GH_PP2_TYPE_CERT_SHA256, tls.cert_sha256),
                         (GH_PP2_TYPE_CERT_SUBJECT, tls.subject),
                         (GH_PP2_TYPE_CERT_SAN_URI, tls.san_uri)):
                if v:
                    tlvs.append((t, v))
    return encode_v2(src, dst, tlvs, crc=bool(tls and tls.crc32c))


# ------------------------------------------------------------------ decoding

class _Need(Exception):
    """The bytes so far are a valid start: more are needed."""


class _Cursor:
    """The line, byte by byte, as src/proxy_protocol.c reads it: running out
    is "need more" unless the line would pass 107 bytes."""

    def __init__(self, data: bytes):
        self.d, self.pos = data, 0

    def next(self) -> int:
        if self.pos >= V1_MAX_LEN:
            raise ProxyError(V1_TOO_LONG)
        if self.pos >= len(self.d):
            raise _Need()
        c = self.d[self.pos]
        self.pos += 1
        return c

    def expect(self, lit: bytes, reason: str):
        for b in lit:
            if self.next() != b:
                raise ProxyError(reason)


_SEPS = b" \r\n"
_DIGITS = b"0123456789"
_V4CHARS = _DIGITS + b"."
_V6CHARS = _DIGITS + b"abcdefABCDEF:."
_V4 = re.compile(rb"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\."
                 rb"(0|[1-9][0-9]{0,2})")
_PORT = re.compile(rb"0|[1-9][0-9]{0,4}")


def _token(cur: _Cursor, allowed: bytes, maxlen: int) -> Tuple[bytes, int]:
    """A field up to its separator (SP, CR or LF), and the separator. A byte
    outside allowed, or one too many, is proxy_bad_address at once; an empty
    field is proxy_bad_v1."""
    tok = bytearray()
    while True:
        c = cur.next()
        if c in _SEPS:
            if not tok:
                raise ProxyError(BAD_V1, "empty field")
            return bytes(tok), c
        if c not in allowed or len(tok) == maxlen:
            raise ProxyError(BAD_ADDRESS, repr(bytes(tok + bytes([c]))))
        tok.append(c)


def _v1_addr(cur: _Cursor, ver: int) -> Tuple[str, int]:
    if ver == 4:
        text, sep = _token(cur, _V4CHARS, 15)
        m = _V4.fullmatch(text)
        if not m or any(int(g) > 255 for g in m.groups()):
            raise ProxyError(BAD_ADDRESS, repr(text))
        return text.decode(), sep
    text, sep = _token(cur, _V6CHARS, 45)
    try:
        packed = socket.inet_pton(socket.AF_INET6, text.decode())
    except OSError:
        raise ProxyError(BAD_ADDRESS, repr(text)) from None
    return socket.inet_ntop(socket.AF_INET6, packed), sep


def _v1_port(cur: _Cursor) -> Tuple[int, int]:
    text, sep = _token(cur, _DIGITS, 5)
    if not _PORT.fullmatch(text) or int(text) > 65535:
        raise ProxyError(BAD_ADDRESS, repr(text))
    return int(text), sep


def _sep(got: int, want: bytes):
    if got != want[0]:
        raise ProxyError(BAD_V1, f"{bytes([got])!r} where {want!r} belongs")


def _decode_v1(data: bytes) -> Optional[Header]:
    cur = _Cursor(data)
    try:
        cur.expect(b"PROXY", BAD_SIGNATURE)
        cur.expect(b" ", BAD_V1)
        c = cur.next()
        if c == ord("U"):
            cur.expect(b"NKNOWN", BAD_V1)
            c = cur.next()
            if c == ord(" "):
                while True:
                    c = cur.next()
                    if c == ord("\r"):
                        break
                    if not 0x20 <= c <= 0x7E:
                        raise ProxyError(BAD_V1, "control byte after UNKNOWN")
            elif c != ord("\r"):
                raise ProxyError(BAD_V1)
            cur.expect(b"\n", BAD_V1)
            return Header(1, "PROXY", "UNKNOWN", None, None, cur.pos)
        if c != ord("T"):
            raise ProxyError(BAD_V1)
        cur.expect(b"CP", BAD_V1)
        c = cur.next()
        if c not in b"46":
            raise ProxyError(BAD_V1)
        ver = c - ord("0")
        cur.expect(b" ", BAD_V1)
        sa, sep = _v1_addr(cur, ver)
        _sep(sep, b" ")
        da, sep = _v1_addr(cur, ver)
        _sep(sep, b" ")
        sp, sep = _v1_port(cur)
        _sep(sep, b" ")
        dp, sep = _v1_port(cur)
        _sep(sep, b"\r")
        cur.expect(b"\n", BAD_V1)
        return Header(1, "PROXY", f"TCP{ver}", (sa, sp), (da, dp), cur.pos)
    except _Need:
        return None


def _split_tlvs(block: bytes, what: str):
    out, pos = [], 0
    while pos < len(block):
        if len(block) - pos < 3:
            raise ProxyError(BAD_TLV, f"truncated {what} TLV header")
        t, n = struct.unpack_from("!BH", block, pos)
        if n > len(block) - pos - 3:
            raise ProxyError(BAD_TLV, f"{what} TLV 0x{t:02x} overruns")
        out.append((t, block[pos + 3:pos + 3 + n], pos))
        pos += 3 + n
    return out


_ONCE = {PP2_TYPE_ALPN, PP2_TYPE_AUTHORITY, PP2_TYPE_CRC32C, PP2_TYPE_UNIQUE_ID,
         PP2_TYPE_SSL, PP2_TYPE_NETNS}
_SSL_NAMES = {PP2_SUBTYPE_SSL_VERSION: "version", PP2_SUBTYPE_SSL_CN: "cn",
              PP2_SUBTYPE_SSL_CIPHER: "cipher", PP2_SUBTYPE_SSL_SIG_ALG: "sig_alg",
              PP2_SUBTYPE_SSL_KEY_ALG: "key_alg"}


def _decode_ssl(v: bytes) -> SSLInfo:
    if len(v) < 5:
        raise ProxyError(BAD_TLV, "SSL TLV under 5 bytes")
    client, verify = struct.unpack_from("!BI", v)
    info = SSLInfo(client, verify)
    for t, sv, _ in _split_tlvs(v[5:], "SSL sub-"):
        info.subtlvs.append((t, sv))
        name = _SSL_NAMES.get(t)
        if name:
            if getattr(info, name) is not None:
                raise ProxyError(BAD_TLV, f"SSL sub-TLV 0x{t:02x} twice")
            setattr(info, name, sv)
    return info


def _decode_v2(data: bytes, max_len: int) -> Optional[Header]:
    if not data.startswith(V2_SIG[:min(len(data), 12)]):
        raise ProxyError(BAD_SIGNATURE)
    if len(data) < 13:
        return None
    ver, cmd = data[12] >> 4, data[12] & 0x0F
    if ver != 2:
        raise ProxyError(BAD_VERSION)
    if cmd not in (0, 1):
        raise ProxyError(BAD_COMMAND)
    if len(data) < 14:
        return None
    fam = data[13]
    if fam not in V2_FAMILIES or (cmd == 1 and fam & 0x0F == 2):
        raise ProxyError(BAD_FAMILY, f"0x{fam:02x}")
    name, alen = V2_FAMILIES[fam]
    if len(data) < 16:
        return None
    total = 16 + struct.unpack_from("!H", data, 14)[0]
    if total > max_len:
        raise ProxyError(TOO_LONG, f"{total} > {max_len}")
    if cmd == 1 and total - 16 < alen:
        raise ProxyError(BAD_ADDRESS, "length shorter than the address block")
    if len(data) < total:
        return None
    if cmd == 0:
        return Header(2, "LOCAL", name, None, None, total)
    a = data[16:16 + alen]
    src = dst = None
    if fam == 0x11:
        sp, dp = struct.unpack_from("!HH", a, 8)
        src = (socket.inet_ntop(socket.AF_INET, a[0:4]), sp)
        dst = (socket.inet_ntop(socket.AF_INET, a[4:8]), dp)
    elif fam == 0x21:
        sp, dp = struct.unpack_from("!HH", a, 32)
        src = (socket.inet_ntop(socket.AF_INET6, a[0:16]), sp)
        dst = (socket.inet_ntop(socket.AF_INET6, a[16:32]), dp)
    start = 16 + alen
    items = _split_tlvs(data[start:total], "")
    if any(t >= 0xF8 for t, _, _ in items):
        raise ProxyError(BAD_TLV, "multi-byte type range 0xF8-0xFF")
    crcs = [(v, pos) for t, v, pos in items if t == PP2_TYPE_CRC32C]
    if len(crcs) > 1 or any(len(v) != 4 for v, _ in crcs):
        raise ProxyError(BAD_TLV, "CRC32C TLV twice or not 4 bytes")
    if crcs:
        at = start + crcs[0][1] + 3
        if crc32c(data[:at] + b"\0\0\0\0" + data[at + 4:total]) != \
                struct.unpack_from("!I", data, at)[0]:
            raise ProxyError(BAD_CRC)
    h = Header(2, "PROXY", name, src, dst, total, has_crc32c=bool(crcs))
    seen = set()
    for t, v, _ in items:
        if t in _ONCE:
            if t in seen:
                raise ProxyError(BAD_TLV, f"TLV 0x{t:02x} twice")
            seen.add(t)
        if t == PP2_TYPE_AUTHORITY and len(v) > 255:
            raise ProxyError(BAD_TLV, "AUTHORITY over 255 bytes")
        if t == PP2_TYPE_UNIQUE_ID and len(v) > 128:
            raise ProxyError(BAD_TLV, "UNIQUE_ID over 128 bytes")
        if t == PP2_TYPE_SSL:
            h.ssl = _decode_ssl(v)
        h.tlvs.append((t, v))
    return h


def decode(data: bytes, max_v2_len: int = V2_DEFAULT_MAX) -> Optional[Header]:
    """The header at the start of data; None when more bytes are needed;
    ProxyError (with .reason) when it is not valid. data[h.length:] is
    payload. Same verdicts and reasons as gh_proxy_parse; on a prefix it may
    answer None where C already fails (C checks IPv4 octets and ports digit
    by digit, this once the field's separator is there)."""
    data = bytes(data)
    if not data:
        return None
    if data[0:1] == b"P":
        return _decode_v1(data)
    if data[0:1] == b"\r":
        return _decode_v2(data, max_v2_len)
    raise ProxyError(BAD_SIGNATURE)


def read_header(sock: socket.socket, timeout: float = 5.0,
                max_v2_len: int = V2_ABSOLUTE_MAX) -> Tuple[Header, bytes]:
    """Reads from sock until a whole header is there. Returns the header and
    the bytes read past it (the start of the payload). Raises ProxyError on
    a bad header, ConnectionError if the peer closes first, TimeoutError."""
    buf = b""
    deadline = time.monotonic() + timeout
    while True:
        h = decode(buf, max_v2_len)
        if h is not None:
            return h, buf[h.length:]
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete PROXY header in {timeout}s ({len(buf)} bytes)")
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} bytes, before a whole header")
        buf += chunk
