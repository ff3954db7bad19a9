"""Backend models for the differential request-smuggling test: how three
kinds of backend read the raw bytes of one backend connection.

Owns: reading an HTTP/1.1 request stream (bytes a backend received) into
the sequence of requests a given backend model would run, and the live
backends built on those models. Owns nothing of gatehouse.

Models (ReadModel):
  STRICT       RFC 9112 exactly: CRLF only, token field names, no space
               before the colon, no obs-fold, Content-Length digits (a list
               of identical values allowed), Transfer-Encoding list whose
               last coding is chunked (once), never with Content-Length (an
               intermediary must remove it) nor in HTTP/1.0, chunk sizes
               1*HEXDIG, extensions by the grammar, CRLF after chunk data,
               trailer fields with the header syntax. Anything else is an
               error at an offset: a strict backend stops there.
  LENIENT      A legacy backend: lines end at LF (CR before it dropped),
               field names trimmed (space before the colon accepted), obs-fold
               lines appended to the field before, `_` and `-` alike in every
               field name (CGI/WSGI/PHP: Content_Length is CONTENT_LENGTH),
               the last field wins for duplicates (Content-Length and
               Transfer-Encoding too), only the exact, case-sensitive value
               `chunked` counts as chunked (anything else falls back to
               Content-Length, else no body), chunk sizes read like strtoul
               (whitespace, optional 0x, hex digits as far as they go),
               extensions ignored, the rest of the line after chunk data
               skipped, trailer lines skipped, never an error.
  IGNORE_BODY  LENIENT heads, but the body is never read: the bytes after
               a head are the next request.

The identity headers a model sees are the fields of the identity family
(Forwarded, X-Forwarded-*, X-Real-IP, X-Client-*, X-Request-Id) by that
model's own name matching; `identity` is last-wins, `identity_fields` every
occurrence in order (a first-wins backend would take the first)."""

import enum
import re
import socket
import threading
import time
from dataclasses import dataclass, field

from backends import Backend


class ReadModel(enum.Enum):
    STRICT = "strict"
    LENIENT = "lenient"
    IGNORE_BODY = "ignore_body"


class ReadState(enum.Enum):
    COMPLETE = "complete"          # head and body read
    BODY_INCOMPLETE = "body_incomplete"  # head read, the stream ended in the body
    ERROR = "error"                # STRICT only: a framing rule broken here


# strict-model rule names: why a strict backend stops reading
class StrictRule(enum.Enum):
    BARE_LF = "bare_lf"
    BARE_CR = "bare_cr"
    BAD_REQUEST_LINE = "bad_request_line"
    BAD_FIELD_NAME = "bad_field_name"
    SPACE_BEFORE_COLON = "space_before_colon"
    OBS_FOLD = "obs_fold"
    BAD_CONTENT_LENGTH = "bad_content_length"
    CL_MISMATCH = "cl_mismatch"
    CL_WITH_TE = "cl_with_te"
    TE_HTTP10 = "te_http10"
    TE_NOT_CHUNKED = "te_not_chunked"
    BAD_CHUNK_SIZE = "bad_chunk_size"
    BAD_CHUNK_EXT = "bad_chunk_ext"
    NO_CRLF_AFTER_DATA = "no_crlf_after_data"
    BAD_TRAILER = "bad_trailer"


IDENTITY_EXACT = ("forwarded", "x-real-ip", "x-request-id")
IDENTITY_PREFIXES = ("x-forwarded-", "x-client-")

TOKEN_RE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
REQUEST_LINE_RE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP/(\d)\.(\d)")
HEX_RE = re.compile(rb"[0-9A-Fa-f]+")
# chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), value token or quoted-string
CHUNK_EXT_RE = re.compile(
    rb'(?:[ \t]*;[ \t]*[!#$%&\'*+\-.^_`|~0-9A-Za-z]+'
    rb'(?:[ \t]*=[ \t]*(?:[!#$%&\'*+\-.^_`|~0-9A-Za-z]+|"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]'
    rb'|\\[\t \x21-\x7e\x80-\xff])*"))?)*')
STRTOUL_HEX_RE = re.compile(rb"[ \t\r\n\v\f]*(?:0[xX](?=[0-9A-Fa-f]))?([0-9A-Fa-f]*)")
STRICT_MAX_SIZE_DIGITS = 16         # a 64-bit size; more is an error, not a wrap


def normalize_name(name, model):
    """The name a model matches a field by: lower case, and for the legacy
    models `_` read as `-`."""
    n = name.decode("latin-1").strip(" \t").lower()
    if model is not ReadModel.STRICT:
        n = n.replace("_", "-")
    return n


def is_identity_name(norm):
    return norm in IDENTITY_EXACT or norm.startswith(IDENTITY_PREFIXES)


@dataclass
class ModelRequest:
    """One request as a model read it."""
    method: str
    target: str
    version: str
    fields: list                      # [(normalized name, value str)] in order
    body: bytes = b""                 # the payload (chunk framing removed)
    trailers: list = field(default_factory=list)   # [(normalized name, value str)]
    state: ReadState = ReadState.COMPLETE
    start: int = 0                    # offset of the request line in the stream
    end: int = 0                      # offset after the request

    @property
    def identity_fields(self):
        return [(n, v) for n, v in self.fields if is_identity_name(n)]

    @property
    def identity(self):
        return dict(self.identity_fields)          # last wins

    @property
    def trailer_identity_fields(self):
        return [(n, v) for n, v in self.trailers if is_identity_name(n)]

    def key(self):
        """What the differential compares: the request a backend runs."""
        return (self.method, self.target, self.body, tuple(sorted(self.identity.items())),
                self.state.value)

    def __repr__(self):
        body = self.body if len(self.body) <= 160 else self.body[:160] + b"...(%d bytes)" % len(
            self.body)
        return (f"<{self.state.value} {self.method} {self.target} body={body!r} "
                f"identity={self.identity}>")


@dataclass
class StreamReading:
    """Everything a model read from one connection's bytes."""
    model: ReadModel
    requests: list                    # ModelRequest, in order (the last may be incomplete)
    error: str = None                 # STRICT: "rule at offset N"
    rest: bytes = b""                 # bytes after the last request: an unfinished head

    def keys(self):
        out = [r.key() for r in self.requests]
        if self.error:
            out.append(("error",))
        elif self.rest.strip(b"\r\n"):
            out.append(("unfinished head", self.rest))
        return out


class _Incomplete(Exception):
    """The stream ended before the thing being read."""


class _StrictError(Exception):
    def __init__(self, rule, offset):
        super().__init__(f"{rule.value} at offset {offset}")
        self.rule = rule
        self.offset = offset


# ----------------------------------------------------------------- lines


def _strict_line(data, pos):
    """(line without CRLF, next pos); CR and LF only as CRLF."""
    i = data.find(b"\n", pos)
    if i < 0:
        cr = data.find(b"\r", pos)
        if cr >= 0 and cr + 1 < len(data):
            raise _StrictError(StrictRule.BARE_CR, cr)
        raise _Incomplete()
    if i == pos or data[i - 1:i] != b"\r":
        raise _StrictError(StrictRule.BARE_LF, i)
    line = data[pos:i - 1]
    cr = line.find(b"\r")
    if cr >= 0:
        raise _StrictError(StrictRule.BARE_CR, pos + cr)
    return line, i + 1


def _lenient_line(data, pos):
    i = data.find(b"\n", pos)
    if i < 0:
        raise _Incomplete()
    line = data[pos:i]
    if line.endswith(b"\r"):
        line = line[:-1]
    return line, i + 1


# ----------------------------------------------------------------- heads


def _strict_fields(data, pos, rule_on_bad):
    """Field lines up to the empty line: ([(raw name, value)], pos after)."""
    out = []
    while True:
        at = pos
        line, pos = _strict_line(data, pos)
        if line == b"":
            return out, pos
        if line[:1] in (b" ", b"\t"):
            raise _StrictError(StrictRule.OBS_FOLD if out else rule_on_bad, at)
        name, colon, value = line.partition(b":")
        if not colon:
            raise _StrictError(rule_on_bad, at)
        if name[-1:] in (b" ", b"\t"):
            raise _StrictError(StrictRule.SPACE_BEFORE_COLON, at)
        if not TOKEN_RE.fullmatch(name):
            raise _StrictError(rule_on_bad, at)
        value = value.strip(b" \t")
        if re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", value):
            raise _StrictError(rule_on_bad, at)
        out.append((name, value))


def _lenient_fields(data, pos):
    out = []
    while True:
        line, pos = _lenient_line(data, pos)
        if line == b"":
            return out, pos
        if line[:1] in (b" ", b"\t") and out:
            name, value = out[-1]
            out[-1] = (name, value + b" " + line.strip(b" \t"))
            continue
        name, _, value = line.partition(b":")
        out.append((name.strip(b" \t"), value.strip(b" \t")))


def _strict_head(data, pos):
    line, pos2 = _strict_line(data, pos)
    m = REQUEST_LINE_RE.fullmatch(line)
    if not m:
        raise _StrictError(StrictRule.BAD_REQUEST_LINE, pos)
    fields, pos2 = _strict_fields(data, pos2, StrictRule.BAD_FIELD_NAME)
    version = f"HTTP/{m.group(3).decode()}.{m.group(4).decode()}"
    return m.group(1).decode("latin-1"), m.group(2).decode("latin-1"), version, fields, pos2


def _lenient_head(data, pos):
    line, pos2 = _lenient_line(data, pos)
    parts = line.split()
    fields, pos2 = _lenient_fields(data, pos2)
    method = parts[0].decode("latin-1") if parts else ""
    target = parts[1].decode("latin-1") if len(parts) > 1 else ""
    version = parts[2].decode("latin-1") if len(parts) > 2 else ""
    return method, target, version, fields, pos2


# --------------------------------------------------------------- framing


class _Framing(enum.Enum):
    NONE = "none"
    LENGTH = "length"
    CHUNKED = "chunked"


def _strict_framing(fields, version, head_pos):
    te = [v for n, v in fields if n.lower() == b"transfer-encoding"]
    cl = [v for n, v in fields if n.lower() == b"content-length"]
    if te:
        if cl:
            raise _StrictError(StrictRule.CL_WITH_TE, head_pos)
        if version == "HTTP/1.0":
            raise _StrictError(StrictRule.TE_HTTP10, head_pos)
        codings = [c.strip(b" \t").lower() for c in b",".join(te).split(b",")]
        codings = [c for c in codings if c]          # RFC 9110 5.6.1: empty elements
        if codings != [b"chunked"]:
            raise _StrictError(StrictRule.TE_NOT_CHUNKED, head_pos)
        return _Framing.CHUNKED, 0
    if cl:
        values = [x.strip(b" \t") for v in cl for x in v.split(b",")]
        if not all(re.fullmatch(rb"[0-9]{1,18}", x) for x in values):
            raise _StrictError(StrictRule.BAD_CONTENT_LENGTH, head_pos)
        if len({int(x) for x in values}) != 1:
            raise _StrictError(StrictRule.CL_MISMATCH, head_pos)
        return _Framing.LENGTH, int(values[0])
    return _Framing.NONE, 0


def _atoi(value):
    m = re.match(rb"[ \t]*\+?([0-9]*)", value)
    return int(m.group(1)) if m.group(1) else 0


def _lenient_framing(fields):
    last = {}
    for n, v in fields:
        last[normalize_name(n, ReadModel.LENIENT)] = v
    if last.get("transfer-encoding", b"").strip(b" \t") == b"chunked":
        return _Framing.CHUNKED, 0
    if "content-length" in last:
        n = _atoi(last["content-length"])
        return (_Framing.LENGTH, n) if n > 0 else (_Framing.NONE, 0)
    return _Framing.NONE, 0


def _strict_chunked(data, pos):
    """(payload, trailer fields, pos after)."""
    body = bytearray()
    while True:
        at = pos
        line, pos = _strict_line(data, pos)
        m = HEX_RE.match(line)
        if not m or len(m.group(0)) > STRICT_MAX_SIZE_DIGITS:
            raise _StrictError(StrictRule.BAD_CHUNK_SIZE, at)
        if CHUNK_EXT_RE.fullmatch(line, m.end()) is None:
            raise _StrictError(StrictRule.BAD_CHUNK_EXT, at)
        size = int(m.group(0), 16)
        if size == 0:
            trailers, pos = _strict_fields(data, pos, StrictRule.BAD_TRAILER)
            return bytes(body), trailers, pos
        if len(data) < pos + size + 2:
            body += data[pos:pos + size]
            raise _Incomplete(bytes(body))
        body += data[pos:pos + size]
        pos += size
        if data[pos:pos + 2] != b"\r\n":
            raise _StrictError(StrictRule.NO_CRLF_AFTER_DATA, pos)
        pos += 2


def _lenient_chunked(data, pos):
    body = bytearray()
    while True:
        line, pos = _lenient_line(data, pos)
        digits = STRTOUL_HEX_RE.match(line).group(1)
        size = min(int(digits, 16), (1 << 64) - 1) if digits else 0
        if size == 0:
            while True:                   # trailer lines: skipped
                line, pos = _lenient_line(data, pos)
                if line == b"":
                    return bytes(body), [], pos
        if len(data) < pos + size:
            body += data[pos:]
            raise _Incomplete(bytes(body))
        body += data[pos:pos + size]
        pos += size
        _, pos = _lenient_line(data, pos)      # CRLF after data, or whatever is there


# ----------------------------------------------------------------- stream


def read_stream(data, model):
    """Reads a backend connection's bytes the way `model` does."""
    data = bytes(data)
    strict = model is ReadModel.STRICT
    out = StreamReading(model, [])
    pos = 0
    while pos < len(data):
        # RFC 9112 2.2: empty lines before a request line are ignored
        while data.startswith(b"\r\n", pos) or (not strict and data.startswith(b"\n", pos)):
            pos += 2 if data.startswith(b"\r\n", pos) else 1
        if pos >= len(data):
            break
        start = pos
        try:
            if strict:
                method, target, version, raw_fields, pos = _strict_head(data, pos)
                framing, length = _strict_framing(raw_fields, version, start)
            else:
                method, target, version, raw_fields, pos = _lenient_head(data, pos)
                framing, length = _lenient_framing(raw_fields)
                if model is ReadModel.IGNORE_BODY:
                    framing, length = _Framing.NONE, 0
        except _Incomplete:
            out.rest = data[start:]
            return out
        except _StrictError as e:
            out.error = str(e)
            out.rest = data[start:]
            return out
        fields = [(normalize_name(n, model), v.decode("latin-1")) for n, v in raw_fields]
        req = ModelRequest(method, target, version, fields, start=start)
        out.requests.append(req)
        try:
            if framing is _Framing.LENGTH:
                if len(data) < pos + length:
                    req.body = data[pos:]
                    raise _Incomplete()
                req.body, pos = data[pos:pos + length], pos + length
            elif framing is _Framing.CHUNKED:
                if strict:
                    req.body, raw_trailers, pos = _strict_chunked(data, pos)
                else:
                    req.body, raw_trailers, pos = _lenient_chunked(data, pos)
                req.trailers = [(normalize_name(n, model), v.decode("latin-1"))
                                for n, v in raw_trailers]
        except _Incomplete as e:
            if e.args:
                req.body = e.args[0]
            req.state = ReadState.BODY_INCOMPLETE
            req.end = len(data)
            return out
        except _StrictError as e:
            req.state = ReadState.ERROR
            out.error = str(e)
            req.end = len(data)
            return out
        req.end = pos
    return out


# ----------------------------------------------------------- live backend


BIG_ANSWER_PREFIX = "/big-answer/"     # a target asking for a large answer
BIG_ANSWER_BYTES = 128 * 1024 + 77
BIG_ANSWER_HEAD_PAD = 8000              # bytes of one padding field in a large answer's head


def answer_body(method, target):
    """The live backends' answer body: a line naming the request answered,
    padded to BIG_ANSWER_BYTES for targets under BIG_ANSWER_PREFIX (to fill
    gatehouse's buffer toward a slow client; answer_for pads their heads
    too, so a head may find too little room there)."""
    body = f"{method} {target}\n".encode("latin-1")
    if target.startswith(BIG_ANSWER_PREFIX):
        body += b"." * (BIG_ANSWER_BYTES - len(body))
    return body


def answer_for(req):
    """The live backends' answer: 200 with answer_body() and an X-Answer-To
    field naming the request too (a HEAD answer has no body to look at).
    A HEAD gets the body as well, as a careless backend sends it: bytes
    after a response that nobody asked for."""
    body = answer_body(req.method, req.target)
    pad = b""
    if req.target.startswith(BIG_ANSWER_PREFIX):
        pad = b"X-Pad: " + b"p" * BIG_ANSWER_HEAD_PAD + b"\r\n"      # a large head, too
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Answer-To: %s %s\r\n"
            b"%sContent-Length: %d\r\n\r\n"
            % (req.method.encode("latin-1"), req.target.encode("latin-1"), pad, len(body))) + body


class ModelConnection:
    """One accepted connection: its bytes and what the model answered."""

    def __init__(self, index):
        self.index = index
        self.raw = bytearray()
        self.answered = []            # ModelRequest, in answer order
        self.closed = threading.Event()


class ModelBackend(Backend):
    """A live backend that reads with `model` and answers every request it
    has read at once (a body-ignoring model answers right after the head,
    before any body byte, and runs whatever follows as the next request).
    All answers due after one recv go out in one write, as a server working
    through a pipelined buffer does."""

    def __init__(self, model):
        self.model = model
        self.connections = []
        self.cond = threading.Condition()
        super().__init__()

    def handle(self, sock):
        with self.cond:
            conn = ModelConnection(len(self.connections))
            self.connections.append(conn)
        sock.settimeout(30)
        try:
            while not self._stop.is_set():
                try:
                    data = sock.recv(1 << 16)
                except (ConnectionResetError, socket.timeout):
                    return
                if not data:
                    return
                with self.cond:
                    conn.raw += data
                    reading = read_stream(conn.raw, self.model)
                    # a strict backend answers only what it read before an error
                    done = [r for r in reading.requests if r.state is ReadState.COMPLETE]
                    new = done[len(conn.answered):]
                    conn.answered += new
                    self.cond.notify_all()
                if new:
                    sock.sendall(b"".join(answer_for(r) for r in new))
                if reading.error:
                    return            # a strict backend closes on a framing error
        finally:
            with self.cond:
                conn.closed.set()
                self.cond.notify_all()

    def conn_count(self):
        with self.cond:
            return len(self.connections)

    def since(self, index):
        with self.cond:
            return list(self.connections[index:])

    def wait_quiet(self, index, timeout, settle=0.15):
        """Waits until every connection from `index` on is closed, or no
        byte arrived for `settle` seconds; returns those connections."""
        deadline = time.monotonic() + timeout
        last = None
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            with self.cond:
                conns = list(self.connections[index:])
                sizes = tuple(len(c.raw) for c in conns)
            if conns and all(c.closed.is_set() for c in conns):
                return conns
            if sizes != last:
                last, quiet_since = sizes, time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return conns
            time.sleep(0.02)
        return self.since(index)
