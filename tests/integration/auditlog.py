"""A reference implementation of the gatehouse audit log format
(config/audit-log.md), stdlib only.

Builds entries the way gatehouse's writer does (field order v, seq, ts, pid,
event, the event's fields, prev and chain_alg on a segment start, chain
last; the writer's JSON escaping), computes chains, writes files or rotated
series, and parses and checks logs independently of gatehouse-audit:

    w = Writer(pid=4242, key=b"k" * 32)
    lines = [w.start(), w.request(conn=1, method="GET", target="/"), w.stop()]
    write_log(path, lines)
    r = check_chain([path], key=b"k" * 32)
    assert r.status == INTACT, r.problem

check_chain follows the same rules as `gatehouse-audit verify` (see
src/tools/gatehouse_audit.c) and reports the same FILE:LINE, so the tests
can hold the C verifier and this one against each other.
"""

import hashlib
import hmac
import json
import re
import time
from pathlib import Path

GENESIS = "0" * 64
CHAIN_FIELD = b',"chain":"'
HEAD_FIELDS = ("v", "seq", "ts", "pid", "event")
LINE_MAX = 1024 * 1024          # gatehouse-audit keeps at most this much of a line
INT64_MAX = 2 ** 63 - 1

# verify exit statuses
INTACT, TAMPERED, USAGE, TRUNCATED, LOSS = 0, 1, 2, 3, 4
_RANK = {INTACT: 0, LOSS: 1, TRUNCATED: 2}   # the worst finding that is not tampering wins

_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_SURROGATE = re.compile("[\ud800-\udfff]")


# ------------------------------------------------------------------ writing

def escape(value):
    """The inside of a JSON string as gatehouse writes it: '"' and '\\'
    backslashed; control characters, DEL and every byte that is not part of
    valid UTF-8 as \\u00XX (the byte's value); valid UTF-8 as is. value is
    str (encoded as UTF-8, surrogateescape'd bytes come back as bytes) or
    bytes. Returns bytes."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    out = bytearray()
    i = 0
    n = len(value)
    while i < n:
        b = value[i]
        if b in (0x22, 0x5C):
            out += b"\\" + bytes([b])
            i += 1
        elif 0x20 <= b < 0x7F:
            out.append(b)
            i += 1
        elif b < 0x80:
            out += b"\\u%04x" % b
            i += 1
        else:
            k = _utf8_len(value, i)
            if k:
                out += value[i:i + k]
                i += k
            else:
                out += b"\\u%04x" % b
                i += 1
    return bytes(out)


def _utf8_len(b, i):
    """Length of the valid UTF-8 sequence at b[i], or 0."""
    for k in (2, 3, 4):
        try:
            b[i:i + k].decode("utf-8")
            return k
        except UnicodeDecodeError:
            continue
    return 0


def json_value(v):
    """A field value as bytes: str/bytes as an escaped JSON string, bool as
    true/false, int as digits. (None is not written: absent fields are left
    out.)"""
    if isinstance(v, bool):
        return b"true" if v else b"false"
    if isinstance(v, int):
        return str(v).encode()
    if isinstance(v, (str, bytes)):
        return b'"' + escape(v) + b'"'
    raise TypeError(f"audit field values are str, bytes, int or bool, not {type(v).__name__}")


def format_ts(t):
    """RFC 3339 UTC with microseconds: 2026-11-26T14:23:44.123456Z."""
    secs = int(t)
    us = int(round((t - secs) * 1e6))
    if us >= 1000000:
        secs, us = secs + 1, us - 1000000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + ".%06dZ" % us


def make_body(seq, ts, pid, event, fields=(), prev=None, chain_alg=None):
    """BODY: the line from '{' up to, not including, ',"chain":"'. fields
    is an iterable of (key, value) pairs or a dict, in order; values that
    are None are left out."""
    items = fields.items() if isinstance(fields, dict) else fields
    out = b'{"v":1,"seq":%d,"ts":%s,"pid":%d,"event":%s' % (
        seq, json_value(ts), pid, json_value(event))
    for k, v in items:
        if v is None:
            continue
        out += b"," + json_value(k) + b":" + json_value(v)
    if prev is not None:
        out += b',"prev":"' + prev.encode() + b'","chain_alg":"' + chain_alg.encode() + b'"'
    return out


def chain_value(prev, body, key=None):
    """HMAC-SHA256(key, PREV || BODY), or SHA-256(PREV || BODY) without a
    key, as lowercase hex."""
    data = prev.encode("ascii") + body
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def make_line(body, chain):
    """The whole line, newline included."""
    return body + CHAIN_FIELD + chain.encode() + b'"}\n'


class Writer:
    """One writing process: its pid, seq and chain. Every method returns
    one complete line (bytes, ending in a newline). The first entry (or the
    first after segment()) carries prev and chain_alg."""

    def __init__(self, pid=4242, key=None, prev=GENESIS, seq=0, t0=1795703024.0):
        self.pid = pid
        self.key = key
        self.prev = prev
        self.seq = seq
        self.t = t0
        self.segment_start = True

    @property
    def chain_alg(self):
        return "hmac-sha256" if self.key else "sha256"

    def segment(self):
        """The next entry starts a segment (a new file or a restart)."""
        self.segment_start = True

    def entry(self, event, fields=(), **kw):
        """The next line for EVENT with fields (pairs or dict), then kw."""
        items = list(fields.items() if isinstance(fields, dict) else fields) + list(kw.items())
        self.seq += 1
        self.t += 0.000250
        seg = self.segment_start
        body = make_body(self.seq, format_ts(self.t), self.pid, event, items,
                         prev=self.prev if seg else None,
                         chain_alg=self.chain_alg if seg else None)
        self.prev = chain_value(self.prev, body, self.key)
        self.segment_start = False
        return make_line(body, self.prev)

    def restart(self, pid):
        """The Writer of a new process (pid) appending to this one's file, as
        gatehouse does on a restart: it continues this chain and this seq;
        its first entry should be start()."""
        return Writer(pid=pid, key=self.key, prev=self.prev, seq=self.seq, t0=self.t + 1.0)

    def start(self, worker=0, workers=1, stdout=False):
        """A start entry; stdout: as written to stdout (stream stdout, which
        only a start that begins a new chain carries)."""
        self.segment_start = True
        extra = {"stream": "stdout"} if stdout else {}
        return self.entry("start", version="0.1.0", config="/etc/gatehouse/gatehouse.ini",
                          config_sha256="ab" * 32, worker=worker, workers=workers, **extra)

    def reopen(self):
        self.segment_start = True
        return self.entry("reopen")

    def gap(self, lost):
        return self.entry("gap", lost=lost)

    def new_segment_start(self, reason="last_line_unverified", worker=0, workers=1):
        """The start gatehouse writes when it refuses to continue the chain
        of the file's last line: a new chain (prev of 64 zeros, seq 1),
        keyed like every other entry, with new_segment saying why."""
        self.prev, self.seq, self.segment_start = GENESIS, 0, True
        return self.entry("start", version="0.1.0", config="/etc/gatehouse/gatehouse.ini",
                          config_sha256="ab" * 32, worker=worker, workers=workers,
                          new_segment=reason)

    def stop(self, reason="signal", open_conns=0):
        return self.entry("stop", version="0.1.0", config="/etc/gatehouse/gatehouse.ini",
                          config_sha256="ab" * 32, reason=reason, open=open_conns)

    def request(self, conn=1, method="GET", target="/", host="example.test", status=200):
        return self.entry("request", conn=conn, listener="main", request_id=f"r{self.seq}",
                          method=method, target=target, host=host, request_body=0,
                          status=status, response_bytes=12, backend="127.0.0.1:8080",
                          ttfb_us=150, total_us=300)

    def close(self, conn=1, reason="client_eof"):
        return self.entry("close", conn=conn, listener="main", client="127.0.0.1",
                          client_port=40000 + conn, duration_us=1200, bytes_in=80,
                          bytes_out=200, reason=reason)

    def traffic(self, n, conn0=1):
        """n lines of ordinary traffic (alternating request and close)."""
        out = []
        for i in range(n):
            c = conn0 + i // 2
            out.append(self.request(conn=c) if i % 2 == 0 else self.close(conn=c))
        return out


def write_log(path, lines):
    """Writes lines (bytes each, or one bytes blob) to path."""
    data = lines if isinstance(lines, (bytes, bytearray)) else b"".join(lines)
    Path(path).write_bytes(data)
    return Path(path)


def make_series(directory, n_files=3, per_file=10, key=None, pid=4242, name="audit.jsonl"):
    """A rotated series as logrotate leaves it, oldest first:
    name.{n-1} ... name.1 name. The first file opens with start (a new
    chain), every later one with reopen (SIGUSR1). Returns the paths."""
    directory = Path(directory)
    w = Writer(pid=pid, key=key)
    paths = []
    for i in range(n_files):
        lines = [w.start() if i == 0 else w.reopen()]
        lines += w.traffic(per_file - 1)
        suffix = "" if i == n_files - 1 else f".{n_files - 1 - i}"
        paths.append(write_log(directory / (name + suffix), lines))
    return paths


# ------------------------------------------------------------------ reading

class UnsupportedVersion(ValueError):
    """v is an integer other than 1 (gatehouse-audit exits 2 on it)."""


class Entry:
    """One parsed line: fields (dict, in line order), body (bytes), chain
    (str)."""

    def __init__(self, fields, body, chain):
        self.fields = fields
        self.body = body
        self.chain = chain

    def __getitem__(self, k):
        return self.fields[k]

    def get(self, k, default=None):
        return self.fields.get(k, default)

    def __repr__(self):
        return f"Entry({self.fields!r})"


def _pairs(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError(f"duplicate key {k!r}")
        if isinstance(v, (dict, list)):
            raise ValueError(f"nested value for {k!r} (entries are flat)")
        d[k] = v
    return d


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def parse_json_line(line):
    """line (bytes, without its newline) as one flat JSON object, as
    strictly as src/audit_json.c: UTF-8, no duplicate keys, no nesting,
    no NaN/Infinity, no lone surrogates, nothing before '{' or after '}'.
    Returns a dict; raises ValueError."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogateescape")
    if not line.startswith(b"{") or not line.endswith(b"}"):
        raise ValueError("not exactly one JSON object")
    text = line.decode("utf-8")            # strict: overlongs, surrogates, > U+10FFFF fail
    obj = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    for k, v in obj.items():
        if _SURROGATE.search(k) or (isinstance(v, str) and _SURROGATE.search(v)):
            raise ValueError("a lone UTF-16 surrogate escape")
    if len(obj) > 64:
        raise ValueError("more than 64 fields")
    return obj


def forge_writer(pid, real_lines, positions, t0=1795703024.0):
    """What someone without the key can do to a keyed log: make up a
    writer (an invented pid) whose unkeyed 'start' has an all-zero prev and
    whose entries are chained with plain SHA-256, and put its lines among
    real_lines. positions: for each forged line (the start first, then
    a tls_ok with a made-up client certificate and a DELETE request), the
    index in the result where it goes. Returns the new list of lines."""
    w = Writer(pid=pid, key=None, t0=t0)
    forged = [w.start(),
              w.entry("tls_ok", conn=7, listener="main", client="203.0.113.9", client_port=4711,
                      sni="bank.example", alpn="http/1.1", tls_version="TLSv1.3",
                      cipher="TLS_AES_128_GCM_SHA256", resumed=False, cert="default",
                      client_cert_subject="CN=admin", client_cert_sha256="ee" * 32),
              w.request(conn=7, method="DELETE", target="/accounts/all")]
    assert len(positions) == len(forged)
    out = list(real_lines)
    for pos, line in zip(positions, forged):
        out.insert(pos, line)
    return out


def parse_line(line):
    """One audit line (bytes; a trailing newline is allowed) as an Entry.
    Checks the schema's frame: the head fields in order, integer v == 1,
    seq and pid in 1..2^63-1, string ts, non-empty string event, chain last as 64 lowercase hex
    ending the line as ,"chain":"HEX"}, prev + chain_alg together.
    Raises ValueError."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogateescape")
    if line.endswith(b"\n"):
        line = line[:-1]
    if b"\n" in line:
        raise ValueError("more than one line")
    obj = parse_json_line(line)
    keys = list(obj)
    if tuple(keys[:5]) != HEAD_FIELDS:
        raise ValueError(f"entries start with {', '.join(HEAD_FIELDS)}, not {', '.join(keys[:5])}")
    if type(obj["v"]) is not int:
        raise ValueError("v is not an integer")
    if obj["v"] != 1:
        raise UnsupportedVersion(f"schema version {obj['v']} (known: 1)")
    if keys[-1] != "chain":
        raise ValueError("chain is not the last field")
    for k in ("seq", "pid"):
        if type(obj[k]) is not int or not 1 <= obj[k] <= INT64_MAX:
            raise ValueError(f"{k} is not a positive integer (int64)")
    if not isinstance(obj["ts"], str):
        raise ValueError("ts is not a string")
    if not isinstance(obj["event"], str) or not obj["event"]:
        raise ValueError("event is not a non-empty string")
    sep = line.rfind(CHAIN_FIELD)
    chain = obj["chain"]
    if (sep < 0 or not isinstance(chain, str) or not _HEX64.match(chain)
            or line[sep + len(CHAIN_FIELD):] != chain.encode() + b'"}'):
        raise ValueError('it does not end with ,"chain":"HEX"} (64 lowercase hex)')
    if "prev" in obj:
        if not isinstance(obj["prev"], str) or not _HEX64.match(obj["prev"]):
            raise ValueError("prev is not 64 lowercase hex")
        if obj.get("chain_alg") not in ("hmac-sha256", "sha256"):
            raise ValueError("a segment start without chain_alg hmac-sha256 or sha256")
    if "new_segment" in obj and (obj["event"] != "start" or obj.get("prev") != GENESIS
                                 or not isinstance(obj["new_segment"], str)
                                 or not obj["new_segment"]):
        raise ValueError("new_segment outside a start that begins a new chain")
    if obj["event"] == "gap" and (type(obj.get("lost")) is not int
                                  or not 1 <= obj["lost"] <= INT64_MAX):
        raise ValueError("a gap entry without a positive lost count")
    return Entry(obj, line[:sep], chain)


def read_entries(path):
    """Every line of path parsed (raises on the first bad one)."""
    return [parse_line(l) for l in Path(path).read_bytes().splitlines()]


class Result:
    """What check_chain found. status: INTACT, TAMPERED, USAGE (keyed log
    without key, not an audit file), TRUNCATED or LOSS (gaps, a writer that
    ended without stop, a new segment, a later file that begins a new
    chain). problem: (file,
    line, text) of the tampering or usage problem, else None. notes:
    (file, line, kind, text) for gaps ("gap"), truncations ("truncated"),
    restarts ("restart"), unclean ends ("possible_loss"), starts with
    new_segment ("new_segment"), new chains and unknown earlier files ("note")."""

    def __init__(self):
        self.status = INTACT
        self.problem = None
        self.notes = []
        self.entries = 0
        self.gaps = 0
        self.lost = 0
        self.restarts = 0
        self.unclean_ends = 0
        self.new_segments = 0
        self.unlinked_files = 0      # later files that begin a new chain (possible loss)
        self.keyed = False
        self.last_chain = None

    def where(self):
        """'FILE:LINE' of the problem, or None."""
        return f"{self.problem[0]}:{self.problem[1]}" if self.problem else None

    def truncated(self):
        return [(f, l) for f, l, kind, _ in self.notes if kind == "truncated"]

    def __repr__(self):
        return (f"Result(status={self.status}, problem={self.problem}, entries={self.entries}, "
                f"gaps={self.gaps}, lost={self.lost}, restarts={self.restarts})")


def _split_lines(data):
    """(content, has_newline) for every line of data."""
    out = []
    start = 0
    while start < len(data):
        nl = data.find(b"\n", start)
        if nl < 0:
            out.append((data[start:], False))
            break
        out.append((data[start:nl], True))
        start = nl + 1
    return out


def check_chain(files, key=None):
    """Verifies files (paths, oldest first) as gatehouse-audit verify does;
    files are named in findings as str(path). Returns a Result."""
    r = Result()
    writers = {}                 # pid -> [seq, chain, keyed, stopped, (file, line) of its last,
                                 #         pid, (file, line) where another start continued it]
    stdout_stream = False        # the log's first entry is a stdout start
    last_chain = None
    lines_seen = 0
    pending = []                 # (file, line, why) of lines that are not whole entries
    unknown_prev = None          # (chain, file, line): the first entry continues a file not given

    def tamper(f, n, text):
        r.status = TAMPERED
        r.problem = (f, n, text)
        return r

    def usage(f, n, text):
        r.status = USAGE
        r.problem = (f, n, text)
        return r

    def raise_status(st):
        if _RANK[st] > _RANK[r.status]:
            r.status = st

    def chain_of(keyed, prev, body):
        return chain_value(prev, body, key if keyed else None)

    for path in files:
        fname = str(path)
        data = Path(path).read_bytes()
        if data.startswith(b"\x1f\x8b"):
            return usage(fname, None, "not an audit file: gzip-compressed")
        file_entries = 0
        for n, (content, has_nl) in enumerate(_split_lines(data), start=1):
            lines_seen += 1
            e = None
            if len(content) > LINE_MAX:
                pending.append((fname, n, "longer than the line limit"))
                continue
            try:
                parse_json_line(content)
            except ValueError as ex:
                pending.append((fname, n, f"not one JSON object: {ex}"))
                continue
            try:
                e = parse_line(content)
                why = None
                file_entries += 1
            except UnsupportedVersion as ex:
                file_entries += 1
                if pending:
                    return tamper(*pending[0])
                return usage(fname, n, str(ex))
            except ValueError as ex:
                why = str(ex)
                if file_entries == 0 and not data.startswith(b'{"v":'):
                    pending.append((fname, n, f"not an audit entry: {why}"))
                    continue
            if pending:
                if (e is not None and "prev" in e.fields and last_chain is not None
                        and (e["prev"] == last_chain
                             or (n == 1 and e["event"] == "start" and e["prev"] == GENESIS))):
                    for pf, pn, pwhy in pending:
                        r.notes.append((pf, pn, "truncated", pwhy))
                    raise_status(TRUNCATED)
                    pending = []
                else:
                    return tamper(*pending[0])
            if e is None:
                return tamper(fname, n, f"not an audit entry: {why}")
            pid, seq = e["pid"], e["seq"]
            if "prev" in e.fields:
                keyed = e["chain_alg"] == "hmac-sha256"
                if keyed and not key:
                    return usage(fname, n, "this log is keyed: pass --key")
                if not keyed and key:
                    return tamper(fname, n, "an unkeyed segment in a log verified with --key")
                if chain_of(keyed, e["prev"], e.body) != e.chain:
                    return tamper(fname, n, "entry changed: its chain does not match")
                genesis = e["prev"] == GENESIS
                event = e["event"]
                is_stdout = e.get("stream") == "stdout"
                if "stream" in e.fields and (event != "start" or not genesis or not is_stdout):
                    return tamper(fname, n, "not an audit entry: stream outside a genesis start")
                frm = None
                if last_chain is not None and not genesis:
                    for p, st in writers.items():
                        if st[1] == e["prev"]:
                            frm = st
                            break
                self_w = writers.get(pid)
                if frm is not None:
                    if frm[6] is not None:
                        return tamper(fname, n, "replayed or spliced: chain already continued")
                    if seq != frm[0] + 1:
                        return tamper(fname, n, "seq does not follow the chain it continues")
                    if n == 1 and event != "reopen":
                        return tamper(fname, n, "spliced: a file's first line continuing is a reopen")
                    if event == "start" and not frm[3]:
                        r.unclean_ends += 1
                        raise_status(LOSS)
                        r.notes.append((fname, n, "possible_loss",
                                        f"pid {frm[5]} ended without a stop entry"))
                    if event == "start":
                        r.restarts += 1
                        r.notes.append((fname, n, "restart", f"pid {pid}"))
                    if event == "start" or frm[5] != pid:
                        frm[6] = (fname, n)
                elif genesis:
                    if seq != 1:
                        return tamper(fname, n, "a new chain that does not start at seq 1")
                    if event != "start" and not (event == "reopen" and n == 1):
                        return tamper(fname, n, "a new chain that does not begin with a start")
                    if lines_seen == 1 and is_stdout:
                        stdout_stream = True
                    if "new_segment" in e.fields:
                        r.new_segments += 1
                        raise_status(LOSS)
                        r.notes.append((fname, n, "new_segment", e["new_segment"]))
                    elif is_stdout != stdout_stream:
                        return tamper(fname, n, "spliced: stdout and file starts mixed")
                    elif lines_seen == 1:
                        pass
                    elif is_stdout:
                        if self_w is not None and not self_w[3]:
                            r.unclean_ends += 1
                            raise_status(LOSS)
                            r.notes.append((fname, n, "possible_loss",
                                            f"pid {pid} begins a new chain without a stop"))
                        r.notes.append((fname, n, "note", "a new chain"))
                    elif n == 1:
                        r.unlinked_files += 1
                        raise_status(LOSS)
                        r.notes.append((fname, n, "possible_loss", "file begins a new chain"))
                    else:
                        return tamper(fname, n, "replayed or spliced: a new chain in the middle "
                                                "of a file")
                elif lines_seen == 1:
                    if event != "reopen":
                        return tamper(fname, n, "entries removed: the first line continues a "
                                                "chain not given, but is not a reopen")
                    r.notes.append((fname, n, "note", "continues a file not given"))
                    unknown_prev = (e["prev"], fname, n)
                else:
                    return tamper(fname, n, "prev matches no earlier entry")
                writers[pid] = [seq, e.chain, keyed, e["event"] == "stop", (fname, n), pid, None]
                if keyed:
                    r.keyed = True
            else:
                st = writers.get(pid)
                if st is None:
                    return tamper(fname, n,
                                  f"pid {pid} has no start or reopen entry before this line")
                ok = chain_of(st[2], st[1], e.body) == e.chain
                if seq > st[0] + 1:
                    return tamper(fname, n, "entries removed")
                if seq <= st[0]:
                    return tamper(fname, n, "entry reordered or inserted")
                if not ok:
                    return tamper(fname, n, "entry changed: its chain does not match")
                st[0], st[1], st[3], st[4] = seq, e.chain, e["event"] == "stop", (fname, n)
                st[6] = None             # a new chain value, not continued yet
            if unknown_prev and e.chain == unknown_prev[0]:
                return tamper(fname, n, f"files out of order: {unknown_prev[1]}:{unknown_prev[2]} "
                                        "continues from this entry")
            r.entries += 1
            last_chain = e.chain
            r.last_chain = e.chain
            if e["event"] == "gap":
                r.gaps += 1
                r.lost += e["lost"]
                raise_status(LOSS)
                r.notes.append((fname, n, "gap", f"gap: {e['lost']} entries lost"))
            if not has_nl:
                r.notes.append((fname, n, "truncated", "no newline"))
                raise_status(TRUNCATED)
        if data and file_entries == 0 and not data.startswith(b'{"v":'):
            return usage(fname, None, "not an audit file")
    if len(pending) == 1:
        f, n, why = pending[0]
        r.notes.append((f, n, "truncated", why))
        raise_status(TRUNCATED)
    elif len(pending) > 1:
        return tamper(*pending[0])
    return r
