"""gatehouse-audit (src/tools/gatehouse_audit.c) on logs built by the
reference implementation in auditlog.py: untouched logs, rotated series,
restarts, gaps and interleaved writers verify; every kind of tampering is
named as the exact FILE:LINE with exit 1; truncated writes exit 3; tail
shows entries without letting them act on a terminal.

Every verify case is also run through auditlog.check_chain, which must
agree on the exit status and the FILE:LINE, so the C verifier and the
Python reference keep each other honest.

Environment: GATEHOUSE_AUDIT_BIN, else gatehouse-audit next to
GATEHOUSE_BIN (see conftest.py)."""

import gzip
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import auditlog as al
import ghutil

KEY = bytes(range(7, 39))          # 32 bytes
OTHER_KEY = bytes(range(100, 132))


@pytest.fixture(scope="session")
def audit_bin():
    p = Path(os.environ.get("GATEHOUSE_AUDIT_BIN") or
             Path(ghutil.GATEHOUSE_BIN).parent / "gatehouse-audit")
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"gatehouse-audit not found at {p} (set GATEHOUSE_AUDIT_BIN or build it)")
    return p


@pytest.fixture
def keyfile(tmp_path):
    p = tmp_path / "audit.key"
    p.write_bytes(KEY)
    return p


def run(audit_bin, *args, timeout=60, stdin=None):
    r = subprocess.run([str(audit_bin), *map(str, args)], capture_output=True,
                       timeout=ghutil.scaled(timeout), stdin=stdin)
    # a sanitizer report would otherwise pass for exit status 1 (tampered)
    assert not ghutil.SANITIZER_RE.search(text(r.stderr)), text(r.stderr)
    return r


def text(b):
    return b.decode("utf-8", "backslashreplace")


def verify(audit_bin, files, key=None, keyfile=None, expect=al.INTACT, where=None):
    """Runs gatehouse-audit verify and auditlog.check_chain on files; both
    must give status expect, and for TAMPERED the report FILE:LINE where
    (a (path, line) pair). Returns (stdout, stderr) as text."""
    args = ["verify"] + (["--key", keyfile] if keyfile else []) + list(files)
    r = run(audit_bin, *args)
    out, err = text(r.stdout), text(r.stderr)
    assert r.returncode == expect, f"exit {r.returncode}, want {expect}\n{out}{err}"
    ref = al.check_chain(files, key=key)
    assert ref.status == expect, f"auditlog.check_chain: {ref}"
    if where is not None:
        path, line = where
        want = f"{path}:{line}: "
        lines = out.splitlines()
        if expect == al.TAMPERED:
            assert lines and lines[-1].startswith(want), \
                f"want the report to start with {want!r}:\n{out}{err}"
            assert ref.problem[:2] == (str(path), line), ref
        else:
            assert any(l.startswith(want) for l in lines), f"{want!r} not in:\n{out}{err}"
    return out, err


def summary(out):
    return out.strip().splitlines()[-1]


def lines_of(path):
    return Path(path).read_bytes().splitlines(keepends=True)


def keyed_log(tmp_path, n_traffic=20, name="audit.jsonl", key=KEY, pid=4242):
    """start, n_traffic request/close lines, stop: n_traffic + 2 lines."""
    w = al.Writer(pid=pid, key=key)
    return al.write_log(tmp_path / name, [w.start()] + w.traffic(n_traffic) + [w.stop()]), w


# ------------------------------------------------------------------ intact

def test_untouched_keyed_log_verifies(audit_bin, tmp_path, keyfile):
    p, _ = keyed_log(tmp_path)
    out, err = verify(audit_bin, [p], key=KEY, keyfile=keyfile)
    assert summary(out) == ("intact: 22 entries in 1 file, keyed (hmac-sha256), "
                            "0 gaps (0 entries lost), 0 restarts"), out
    assert err == ""


def test_untouched_unkeyed_log_verifies(audit_bin, tmp_path):
    """Exit 0 (no damage found), but the words say the file is unproven:
    anyone can recompute a SHA-256 chain, so "intact" would be a lie."""
    p, _ = keyed_log(tmp_path, key=None)
    out, _ = verify(audit_bin, [p])
    assert re.search(r"^unproven: 22 entries in 1 file, unkeyed \(sha256\)", summary(out)), out
    assert "intact" not in out, out
    assert "anyone can recompute" in out and "not forgery" in out, out


def test_entries_with_hostile_strings_verify(audit_bin, tmp_path, keyfile):
    """Escaped client bytes (quotes, backslashes, control characters, bytes
    that are not UTF-8, a fake chain field) are data, not structure."""
    w = al.Writer(key=KEY)
    hostile = b'x","chain":"' + b"0" * 64 + b'"}\n{"v":1 \\ \x00\x1b[2J\xff\xc3\x28 \xe2\x80\xae'
    lines = [w.start(), w.entry("reject", conn=1, listener="main", client="127.0.0.1",
                                reason="bad_header_char", status=400, excerpt=hostile),
             w.entry("tls_ok", conn=2, listener="main", client="::1", client_port=1,
                     sni="b\u00fccher.example", alpn="h2", tls_version="TLSv1.3",
                     cipher="TLS_AES_128_GCM_SHA256", resumed=True)]
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    assert p.read_bytes().count(b"\n") == 3
    verify(audit_bin, [p], key=KEY, keyfile=keyfile)
    e = al.read_entries(p)[1]
    assert e["excerpt"].encode("utf-8", "surrogateescape").startswith(b'x","chain"')


def test_rotated_series_verifies(audit_bin, tmp_path, keyfile):
    paths = al.make_series(tmp_path, n_files=4, per_file=6, key=KEY)
    out, _ = verify(audit_bin, paths, key=KEY, keyfile=keyfile)
    assert re.search(r"^intact: 24 entries in 4 files, keyed", summary(out)), out


def test_later_file_alone_is_a_note(audit_bin, tmp_path):
    """The first file given may continue a chain from a file not given."""
    paths = al.make_series(tmp_path, n_files=3, per_file=5)
    out, _ = verify(audit_bin, [paths[1], paths[2]], where=(paths[1], 1))
    assert "not given" in out


def test_gap_entries_are_reported_not_tampering(audit_bin, tmp_path, keyfile):
    w = al.Writer(key=KEY)
    lines = [w.start()] + w.traffic(4) + [w.gap(5)] + w.traffic(2) + [w.gap(1), w.stop()]
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.LOSS, where=(p, 6))
    assert f"{p}:6: gap: 5 entries lost" in out.splitlines(), out
    assert f"{p}:9: gap: 1 entries lost" in out.splitlines(), out
    assert "2 gaps (6 entries lost)" in summary(out), out
    assert summary(out).startswith("intact, but entries lost or possibly lost:"), out


def test_restart_appending_verifies(audit_bin, tmp_path, keyfile):
    """A new process continues the chain and seq of the file it appends to."""
    w = al.Writer(pid=100, key=KEY)
    lines = [w.start()] + w.traffic(3) + [w.stop()]
    w2 = w.restart(pid=200)
    lines += [w2.start()] + w2.traffic(2)
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, where=(p, 6))
    assert f"{p}:6: restart: pid 200 continues the chain of pid 100" in out, out
    assert "1 restart" in summary(out), out
    assert "possible loss" not in out, out


def test_restart_without_stop_is_possible_loss(audit_bin, tmp_path, keyfile):
    """The writer before a start ended without stop (SIGKILL, crash): what
    it still held is lost and nothing counts it. Not tampering, not intact:
    exit 4 with the start's FILE:LINE and the pid that ended uncleanly."""
    w = al.Writer(pid=100, key=KEY)
    lines = [w.start()] + w.traffic(3)
    w2 = w.restart(pid=200)
    lines += [w2.start()] + w2.traffic(2) + [w2.stop()]
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.LOSS, where=(p, 5))
    assert f"{p}:5: possible loss: pid 100 ended without a stop entry" in out, out
    assert f"last entry is at {p}:4" in out, out
    assert "1 unclean end (possible loss)" in summary(out), out
    assert not summary(out).startswith("intact:"), out
    ref = al.check_chain([p], key=KEY)
    assert [(f, n) for f, n, k, _ in ref.notes if k == "possible_loss"] == [(str(p), 5)]


def test_restart_segment_is_reported_not_intact(audit_bin, tmp_path, keyfile):
    """A writer that could not verify the file's last line starts a new,
    keyed chain whose start says why (new_segment): honest (exit 4, not 1), reported
    with its FILE:LINE and reason, not called intact."""
    w = al.Writer(pid=100, key=KEY)
    lines = [w.start()] + w.traffic(2) + [w.stop()]
    w2 = al.Writer(pid=200, key=KEY)
    lines += [w2.new_segment_start("last_line_unverified")] + w2.traffic(2)
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.LOSS, where=(p, 5))
    assert re.search(rf"^{re.escape(str(p))}:5: new segment: pid 200 .*last_line_unverified",
                     out, re.M), out
    assert "1 new segment" in summary(out), out


@pytest.mark.parametrize("bad", ["not-a-start", "prev-not-genesis"])
def test_new_segment_only_on_a_genesis_start(audit_bin, tmp_path, keyfile, bad):
    """new_segment belongs to a start with prev of 64 zeros: anywhere else
    the entry is not one gatehouse writes."""
    w = al.Writer(pid=100, key=KEY)
    lines = [w.start()] + w.traffic(2)
    if bad == "not-a-start":
        lines.append(w.entry("close", conn=9, new_segment="last_line_unverified"))
    else:
        w2 = w.restart(pid=200)
        w2.segment()
        lines.append(w2.entry("start", version="0.1.0", config="c", config_sha256="ab" * 32,
                              worker=0, workers=1, new_segment="last_line_unverified"))
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(p, 4))
    assert "new_segment" in out.splitlines()[-1], out


def test_restart_segment_cannot_be_forged(audit_bin, tmp_path, keyfile):
    """A new-segment start is keyed like any other entry: one made without
    the key (plain SHA-256, or an HMAC under another key) is tampering."""
    w = al.Writer(pid=100, key=KEY)
    base = [w.start()] + w.traffic(2)
    for forger_key in (None, OTHER_KEY):
        f = al.Writer(pid=666, key=forger_key)
        lines = base + [f.new_segment_start("last_line_unverified"),
                        f.request(method="DELETE", target="/accounts/all")]
        p = al.write_log(tmp_path / "audit.jsonl", lines)
        verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(p, 4))


def test_new_chain_midway_in_a_file_is_tampering(audit_bin, tmp_path):
    """In a file gatehouse begins a new chain (prev of 64 zeros) only at its
    first line, or with new_segment: one in the middle is a genuine segment
    replayed or spliced."""
    w = al.Writer(pid=100)
    lines = [w.start()] + w.traffic(2)
    w2 = al.Writer(pid=200)
    lines += [w2.start()] + w2.traffic(2)
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], expect=al.TAMPERED, where=(p, 4))
    assert "replayed or spliced" in out, out


def test_new_chain_midway_on_stdout_is_a_note(audit_bin, tmp_path, keyfile):
    """On stdout every worker and every restart begins a new chain anywhere
    in the stream; its start says so (stream stdout, keyed)."""
    w = al.Writer(pid=100, key=KEY)
    lines = [w.start(stdout=True)] + w.traffic(2) + [w.stop()]
    w2 = al.Writer(pid=200, key=KEY)
    lines += [w2.start(stdout=True)] + w2.traffic(2)
    w3 = al.Writer(pid=100, key=KEY)              # pid reused after a clean stop
    lines += [w3.start(stdout=True)] + w3.traffic(1)
    p = al.write_log(tmp_path / "stdout.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile)
    assert f"{p}:5: note: a new chain" in out, out
    assert f"{p}:8: note: a new chain" in out, out


@pytest.mark.parametrize("case", ["file-start-in-stdout", "stdout-start-in-file"])
def test_stdout_starts_cannot_be_mixed(audit_bin, tmp_path, keyfile, case):
    """A stdout start in a file log (a stdout run spliced into it) or a file
    start in a stdout stream: gatehouse writes neither."""
    a = al.Writer(pid=100, key=KEY)
    lines = [a.start(stdout=case != "stdout-start-in-file")] + a.traffic(2)
    b = al.Writer(pid=200, key=KEY)
    lines += [b.start(stdout=case != "file-start-in-stdout")] + b.traffic(1)
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(p, 4))


def test_stdout_same_pid_again_without_stop_is_possible_loss(audit_bin, tmp_path, keyfile):
    """pid 1 in a container, killed and restarted, its stdout captured on:
    the same pid begins a new chain after no stop, an unclean end (4)."""
    a = al.Writer(pid=1, key=KEY)
    lines = [a.start(stdout=True)] + a.traffic(2)
    b = al.Writer(pid=1, key=KEY)
    lines += [b.start(stdout=True)] + b.traffic(1)
    p = al.write_log(tmp_path / "stdout.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.LOSS)
    assert f"{p}:4: possible loss: pid 1 begins a new chain" in out, out


def test_interleaved_writers_verify(audit_bin, tmp_path, keyfile):
    """Two workers on one stdout: their lines interleave, each whole."""
    a, b = al.Writer(pid=100, key=KEY), al.Writer(pid=200, key=KEY)
    la = [a.start(worker=0, workers=2, stdout=True)] + a.traffic(6)
    lb = [b.start(worker=1, workers=2, stdout=True)] + b.traffic(6)
    order = "aabbababbbaaab"
    lines = [la.pop(0) if c == "a" else lb.pop(0) for c in order]
    p = al.write_log(tmp_path / "stdout.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile)
    assert "intact: 14 entries in 1 file" in summary(out), out


def test_interleaved_writers_reordered_within_a_pid(audit_bin, tmp_path):
    a, b = al.Writer(pid=100), al.Writer(pid=200)
    lines = [a.start(stdout=True), b.start(stdout=True), a.request(), b.request(), a.close(),
             b.close()]
    lines[2], lines[4] = lines[4], lines[2]        # pid 100's seq 3 before seq 2
    p = al.write_log(tmp_path / "stdout.jsonl", lines)
    out, _ = verify(audit_bin, [p], expect=al.TAMPERED, where=(p, 3))
    assert "pid 100" in out


@pytest.mark.timeout_s(180)
def test_large_file_streams(audit_bin, tmp_path):
    """A file far larger than the memory the verifier may use: its peak
    resident size stays small."""
    w = al.Writer(pid=7)
    p = tmp_path / "big.jsonl"
    with open(p, "wb") as f:
        f.write(w.start())
        for _ in range(200):
            f.write(b"".join(w.traffic(500)))
    size = p.stat().st_size
    assert size > 30 << 20
    probe = ("import resource, subprocess, sys\n"
             "r = subprocess.run(sys.argv[1:], capture_output=True)\n"
             "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.stdout.write(r.stdout.decode()[-300:])\n")
    r = subprocess.run([sys.executable, "-c", probe, str(audit_bin), "verify", str(p)],
                       capture_output=True, text=True, timeout=ghutil.scaled(120))
    rc, maxrss_kib = map(int, r.stdout.split()[:2])
    assert rc == 0, r.stdout + r.stderr
    assert "unproven: 100001 entries" in r.stdout, r.stdout
    limit_kib = 40 << 10 if ghutil.SCALE == 1 else 200 << 10
    assert maxrss_kib < limit_kib, f"peak RSS {maxrss_kib} KiB for a {size >> 20} MiB file"


# ------------------------------------------------------------------ keys

def test_keyed_log_without_key_asks_for_it(audit_bin, tmp_path):
    p, _ = keyed_log(tmp_path)
    r = run(audit_bin, "verify", p)
    assert r.returncode == 2, r
    assert "--key" in text(r.stderr) and "keyed" in text(r.stderr), r
    assert al.check_chain([p]).status == al.USAGE


def test_key_for_unkeyed_log_is_tampering(audit_bin, tmp_path, keyfile):
    """--key says every entry carries the HMAC chain; an unkeyed log could
    have been written by anyone: tampered at its first line, with a hint
    for a log that never was keyed."""
    p, _ = keyed_log(tmp_path, key=None)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(p, 1))
    assert "unkeyed segment" in out and "without --key" in out, out


def test_wrong_key(audit_bin, tmp_path):
    p, _ = keyed_log(tmp_path)
    other = tmp_path / "other.key"
    other.write_bytes(OTHER_KEY)
    out, _ = verify(audit_bin, [p], key=OTHER_KEY, keyfile=other, expect=al.TAMPERED,
                    where=(p, 1))
    assert "key" in out.splitlines()[-1], out


def test_key_added_later(audit_bin, tmp_path, keyfile):
    """audit_key_file set at a restart without moving the old file away:
    the unkeyed part proves nothing to a key holder, so with --key it is
    tampering (at its first line), and without --key the keyed part needs
    the key. config/audit-log.md says to rotate the file when adding a key."""
    w = al.Writer(pid=100)
    lines = [w.start()] + w.traffic(3) + [w.stop()]
    w2 = w.restart(pid=200)
    w2.key = KEY
    lines += [w2.start()] + w2.traffic(2)
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(p, 1))
    assert "unkeyed segment" in out.splitlines()[-1], out
    r = run(audit_bin, "verify", p)
    assert r.returncode == 2 and f"{p}:6: this log is keyed" in text(r.stderr), r


def test_bad_key_file_exits_2(audit_bin, tmp_path):
    p, _ = keyed_log(tmp_path)
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 31)
    for kf in (short, tmp_path / "missing.key", tmp_path):
        r = run(audit_bin, "verify", "--key", kf, p)
        assert r.returncode == 2, (kf, r)
        assert text(r.stderr).strip(), r


# ------------------------------------------------------------------ tampering

@pytest.fixture
def victim(tmp_path):
    """A keyed log of 22 lines: 1 start, 2..21 request/close, 22 stop."""
    p, w = keyed_log(tmp_path)
    return p


def rewrite(path, lines):
    Path(path).write_bytes(b"".join(lines))


def flip(line, old, new):
    assert line.count(old) >= 1, (line, old)
    i = line.index(old)
    return line[:i] + new + line[i + len(old):]


@pytest.mark.parametrize("what,old,new", [
    ("value", b'"method":"GET"', b'"method":"SET"'),
    ("seq", b'"seq":10,', b'"seq":11,'),
    ("seq_higher", b'"seq":10,', b'"seq":19,'),
    ("seq_lower", b'"seq":10,', b'"seq":9,'),
    ("seq_same", b'"seq":10,', b'"seq":00,'),
    ("event", b'"event":"request"', b'"event":"rEquest"'),
    ("pid", b'"pid":4242', b'"pid":4243'),
    ("status", b'"status":200', b'"status":500'),
])
def test_one_byte_changed(audit_bin, victim, keyfile, what, old, new):
    lines = lines_of(victim)
    assert lines[9].startswith(b'{"v":1,"seq":10,') and b'"request"' in lines[9]
    if what != "seq_lower":
        assert len(old) == len(new) and sum(a != b for a, b in zip(old, new)) == 1
    lines[9] = flip(lines[9], old, new)
    rewrite(victim, lines)
    verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(victim, 10))


def test_one_byte_changed_in_chain(audit_bin, victim, keyfile):
    lines = lines_of(victim)
    i = lines[9].rindex(b'"}') - 5
    c = lines[9][i:i + 1]
    lines[9] = lines[9][:i] + (b"0" if c != b"0" else b"1") + lines[9][i + 1:]
    rewrite(victim, lines)
    out, _ = verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED,
                    where=(victim, 10))
    assert "changed" in out.splitlines()[-1]


def test_one_byte_changed_unkeyed(audit_bin, tmp_path):
    p, _ = keyed_log(tmp_path, key=None)
    lines = lines_of(p)
    lines[14] = flip(lines[14], b'"listener":"main"', b'"listener":"mair"')
    rewrite(p, lines)
    verify(audit_bin, [p], expect=al.TAMPERED, where=(p, 15))


def test_first_line_deleted(audit_bin, victim, keyfile):
    rewrite(victim, lines_of(victim)[1:])
    out, _ = verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED,
                    where=(victim, 1))
    assert "removed" in out.splitlines()[-1]


def test_middle_line_deleted(audit_bin, victim, keyfile):
    lines = lines_of(victim)
    del lines[9]
    rewrite(victim, lines)
    out, _ = verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED,
                    where=(victim, 10))
    assert "removed" in out.splitlines()[-1] and "9 to 11" in out.splitlines()[-1]


def test_adjacent_lines_swapped(audit_bin, victim, keyfile):
    lines = lines_of(victim)
    lines[9], lines[10] = lines[10], lines[9]
    rewrite(victim, lines)
    verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(victim, 10))


def test_distant_lines_swapped(audit_bin, victim, keyfile):
    lines = lines_of(victim)
    lines[4], lines[15] = lines[15], lines[4]
    rewrite(victim, lines)
    verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(victim, 5))


def test_duplicated_line_inserted(audit_bin, victim, keyfile):
    lines = lines_of(victim)
    lines.insert(10, lines[9])
    rewrite(victim, lines)
    out, _ = verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED,
                    where=(victim, 11))
    assert "reordered or inserted" in out.splitlines()[-1]


def test_forged_unkeyed_line_in_keyed_log(audit_bin, victim, keyfile):
    """A forger without the key recomputes the chain as plain SHA-256 and
    renumbers everything after the insertion: still caught at the forgery."""
    entries = [al.parse_line(l) for l in lines_of(victim)]
    forged = []
    prev = entries[9].chain
    for i, e in enumerate(entries):
        if i <= 9:
            forged.append(al.make_line(e.body, e.chain))
            continue
        if i == 10:
            body = al.make_body(11, e["ts"], 4242, "request",
                                [("conn", 99), ("method", "DELETE"), ("target", "/admin")])
            prev = al.chain_value(prev, body)
            forged.append(al.make_line(body, prev))
        body = e.body.replace(b'"seq":%d,' % e["seq"], b'"seq":%d,' % (e["seq"] + 1))
        prev = al.chain_value(prev, body)
        forged.append(al.make_line(body, prev))
    rewrite(victim, forged)
    assert len(forged) == 23 and b'"method":"DELETE"' in forged[10]
    verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(victim, 11))


def test_forged_unkeyed_segment_in_keyed_log(audit_bin, victim, keyfile):
    """A forged 'reopen' declaring chain_alg sha256 (a downgrade) after
    keyed entries."""
    lines = lines_of(victim)
    e10 = al.parse_line(lines[9])
    body = al.make_body(11, e10["ts"], 4242, "reopen", prev=e10.chain, chain_alg="sha256")
    lines.insert(10, al.make_line(body, al.chain_value(e10.chain, body)))
    rewrite(victim, lines)
    out, _ = verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED,
                    where=(victim, 11))
    assert "unkeyed" in out.splitlines()[-1]


# A made-up writer (issue 11): an invented pid, an unkeyed "start" with an
# all-zero prev, SHA-256-chained entries (a tls_ok for a client certificate,
# a DELETE). The forged lines' indexes after insertion into the 22 victim
# lines, and the line the report must name (the forged start's).
@pytest.mark.parametrize("positions", [
    pytest.param((0, 6, 13), id="interleaved"),
    pytest.param((0, 23, 24), id="start-prepended-entries-appended"),
    pytest.param((0, 1, 2), id="prepended"),
    pytest.param((22, 23, 24), id="appended"),
    pytest.param((9, 12, 20), id="interleaved-midway"),
])
def test_forged_writer_in_keyed_log(audit_bin, victim, keyfile, positions):
    lines = al.forge_writer(31337, lines_of(victim), positions)
    rewrite(victim, lines)
    assert b'"target":"/accounts/all"' in lines[positions[2]]
    out, _ = verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED,
                    where=(victim, positions[0] + 1))
    assert "unkeyed segment" in out.splitlines()[-1], out
    assert "intact" not in out, out


def test_forged_writer_in_rotated_series(audit_bin, tmp_path, keyfile):
    """The same writer made up in the oldest file of a keyed series."""
    paths = al.make_series(tmp_path, n_files=3, per_file=6, key=KEY)
    rewrite(paths[0], al.forge_writer(31337, lines_of(paths[0]), (0, 3, 7)))
    verify(audit_bin, paths, key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(paths[0], 1))


# Genuine entries moved (review of issue 11, round 1): every line below
# carries a valid HMAC under the real key, so only where a chain may begin
# tells them from what gatehouse writes. A: three runs of one file (pid 100
# lines 1-8, restarts pid 200 lines 9-16 and pid 300 lines 17-22), B:
# another genuine log under the same key (pid 400, lines 1-6).
def genuine_runs():
    w1 = al.Writer(pid=100, key=KEY)
    a = [w1.start()] + w1.traffic(6) + [w1.stop()]
    w2 = w1.restart(pid=200)
    a += [w2.start()] + w2.traffic(6) + [w2.stop()]
    w3 = w2.restart(pid=300)
    a += [w3.start()] + w3.traffic(4) + [w3.stop()]
    wb = al.Writer(pid=400, key=KEY, t0=1795800000.0)
    b = [wb.start()] + wb.traffic(4) + [wb.stop()]
    return a, b


@pytest.mark.parametrize("case,line", [
    pytest.param("replayed", 23, id="whole-log-replayed"),          # cat A A
    pytest.param("reordered", 1, id="run-3-first-then-run-1"),
    pytest.param("first-run-deleted", 1, id="first-run-deleted"),
    pytest.param("tail-covered", 13, id="tail-cut-and-covered-by-B"),
    pytest.param("inserted", 13, id="B-inserted-mid-file"),
    pytest.param("replayed-run", 17, id="run-2-replayed-after-itself"),
])
def test_genuine_entries_replayed_reordered_or_spliced(audit_bin, tmp_path, keyfile, case,
                                                        line):
    """gatehouse begins a chain (prev of 64 zeros) only at a file's first
    line or with new_segment, begins a file with another prev only as a
    reopen, and continues a chain once: a replay, a reordering, a cut head
    or a splice from another genuine log breaks one of these at the named
    line (baseline: exit 0, "intact")."""
    a, b = genuine_runs()
    lines = {
        "replayed": a + a,
        "reordered": a[16:] + a[:8],                 # as (tail -n +144 A; head -98 A)
        "first-run-deleted": a[8:],
        "tail-covered": a[:12] + b,
        "inserted": a[:12] + b + a[12:],
        "replayed-run": a[:16] + a[8:16] + a[16:],
    }[case]
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TAMPERED,
                    where=(p, line))
    assert "intact" not in out, out


def test_transplanted_run_adopted_by_a_restart(audit_bin, tmp_path, keyfile):
    """A's first run appended to B, then a gatehouse restart on B: its last
    line (A's stop) verifies against the line before it, so the new start
    continues the chain of another pid's transplanted stop (seq 9). The
    verifier names the transplanted start (baseline: exit 0)."""
    a, b = genuine_runs()
    lines = b + a[:8]
    prev = al.parse_line(a[7].rstrip(b"\n")).chain
    w = al.Writer(pid=500, key=KEY, prev=prev, seq=8)
    lines += [w.start()] + w.traffic(2) + [w.stop()]
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(p, 7))
    assert "replayed or spliced" in out, out


def test_overlapping_instances_on_one_file_are_not_tampering(audit_bin, tmp_path, keyfile):
    """Two instances may overlap on one file (SO_REUSEPORT: start the new
    one, then stop the old): the new start continues the old pid's chain
    and the old pid writes on with its own. Each chain value is continued
    once, so that is not a replay; at the start the old pid has no stop
    yet, which reads as possible loss (4), never tampering."""
    w1 = al.Writer(pid=100, key=KEY)
    lines = [w1.start()] + w1.traffic(2)
    w2 = w1.restart(pid=200)
    lines += [w2.start(), w1.request(conn=7), w2.request(conn=1), w1.stop()]
    lines += w2.traffic(2) + [w2.stop()]
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.LOSS)
    assert f"{p}:4: restart: pid 200 continues the chain of pid 100" in out, out


def test_series_file_beginning_a_new_chain_is_possible_loss(audit_bin, tmp_path, keyfile):
    """A later file of a series that begins a new chain at its first line is
    what gatehouse writes when the file was moved away while it was down;
    nothing links it to the file before, so files between may be missing:
    possible loss (exit 4) at its FILE:1, not a note (baseline: exit 0)."""
    a, b = genuine_runs()
    p1 = al.write_log(tmp_path / "audit.jsonl.1", a)
    p2 = al.write_log(tmp_path / "audit.jsonl", b)
    out, _ = verify(audit_bin, [p1, p2], key=KEY, keyfile=keyfile, expect=al.LOSS)
    assert f"{p2}:1: possible loss: this file begins a new chain" in out, out
    assert "1 file beginning a new chain (possible loss)" in summary(out), out
    ref = al.check_chain([p1, p2], key=KEY)
    assert [(f, n) for f, n, k, _ in ref.notes if k == "possible_loss"] == [(str(p2), 1)]


def test_garbage_line_inserted(audit_bin, victim, keyfile):
    lines = lines_of(victim)
    lines.insert(7, b'{"v":1,"seq":8,"note":"hello"\n')
    rewrite(victim, lines)
    out, _ = verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED,
                    where=(victim, 8))
    assert "not a valid entry" in out.splitlines()[-1]


def test_overlong_line_is_an_error_not_a_crash(audit_bin, victim, keyfile):
    lines = lines_of(victim)
    lines.insert(3, b'{"v":1,"x":"' + b"A" * (2 << 20) + b'"}\n')
    rewrite(victim, lines)
    out, _ = verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED,
                    where=(victim, 4))
    assert "longer than 1048576 bytes" in out.splitlines()[-1]


def test_long_line_within_limit_verifies(audit_bin, tmp_path, keyfile):
    w = al.Writer(key=KEY)
    lines = [w.start(), w.entry("reject", excerpt="\x01" * 60000), w.stop()]  # ~360 KB escaped
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    assert len(lines[1]) > 300000
    verify(audit_bin, [p], key=KEY, keyfile=keyfile)


def test_seq_at_int64_limit(audit_bin, tmp_path):
    """seq runs up to 2^63-1; one more is not an entry (no overflow)."""
    w = al.Writer(prev="ab" * 32, seq=al.INT64_MAX - 3)
    lines = [w.reopen()] + w.traffic(2)
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    assert al.parse_line(lines[-1])["seq"] == al.INT64_MAX
    verify(audit_bin, [p])
    al.write_log(p, lines + [w.request()])
    out, _ = verify(audit_bin, [p], expect=al.TAMPERED, where=(p, 4))
    assert "seq" in out.splitlines()[-1]
    al.write_log(p, lines + [lines[-1]])              # the last seq again
    out, _ = verify(audit_bin, [p], expect=al.TAMPERED, where=(p, 4))
    assert "reordered or inserted" in out.splitlines()[-1]


# ------------------------------------------------------------------ series

def test_empty_files(audit_bin, tmp_path):
    """An empty file (logrotate's create, no entry yet) is fine, alone or
    in a series."""
    empty = al.write_log(tmp_path / "empty.jsonl", b"")
    out, _ = verify(audit_bin, [empty])
    assert summary(out).startswith("unproven: 0 entries in 1 file"), out
    paths = al.make_series(tmp_path, n_files=2, per_file=4)
    out, _ = verify(audit_bin, [paths[0], empty, paths[1], empty])
    assert summary(out).startswith("unproven: 8 entries in 4 files"), out


def test_blank_line_inserted(audit_bin, victim, keyfile):
    lines = lines_of(victim)
    lines.insert(5, b"\n")
    rewrite(victim, lines)
    verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(victim, 6))


def test_series_missing_middle_file(audit_bin, tmp_path, keyfile):
    paths = al.make_series(tmp_path, n_files=3, per_file=5, key=KEY)
    out, _ = verify(audit_bin, [paths[0], paths[2]], key=KEY, keyfile=keyfile,
                    expect=al.TAMPERED, where=(paths[2], 1))
    assert "missing or out of order" in out.splitlines()[-1]


@pytest.mark.parametrize("order,where", [
    ((0, 2, 1), (2, 1)),       # the newest file's reopen continues nothing given before it
    ((2, 1, 0), (1, 1)),
    ((1, 0, 2), (0, 5)),       # the first file continues the last entry of a later one
    ((1, 0), (0, 5)),
    ((2, 0, 1), (1, 5)),
])
def test_series_out_of_order(audit_bin, tmp_path, keyfile, order, where):
    paths = al.make_series(tmp_path, n_files=3, per_file=5, key=KEY)
    given = [paths[i] for i in order]
    out, _ = verify(audit_bin, given, key=KEY, keyfile=keyfile, expect=al.TAMPERED,
                    where=(paths[where[0]], where[1]))
    assert "out of order" in out.splitlines()[-1], out


def test_series_line_numbers_per_file(audit_bin, tmp_path, keyfile):
    paths = al.make_series(tmp_path, n_files=3, per_file=5, key=KEY)
    lines = lines_of(paths[1])
    lines[2] = flip(lines[2], b'"reason":"client_eof"', b'"reason":"client_EOF"')
    rewrite(paths[1], lines)
    verify(audit_bin, paths, key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(paths[1], 3))


# ------------------------------------------------------------------ truncation

def test_truncated_last_line(audit_bin, victim, keyfile):
    data = victim.read_bytes()
    victim.write_bytes(data[:-40])                   # mid-chain of line 22, no newline
    out, _ = verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TRUNCATED,
                    where=(victim, 22))
    assert "truncated" in out and "intact, but truncated: 21 entries" in summary(out), out
    assert [(str(victim), 22)] == al.check_chain([victim], key=KEY).truncated()


def test_truncated_last_line_at_every_kind_of_place(audit_bin, victim, keyfile):
    data = victim.read_bytes()
    start = data.rindex(b"\n", 0, len(data) - 1) + 1
    for cut in (1, 2, 30, 100, len(data) - start - 3, len(data) - start - 1):
        victim.write_bytes(data[:start + cut])
        verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TRUNCATED,
               where=(victim, 22))


def test_partial_line_then_restart(audit_bin, tmp_path, keyfile):
    """The writer died mid-line; the next one ended the line with a newline
    and continued the chain from the last whole entry."""
    w = al.Writer(pid=100, key=KEY)
    lines = [w.start()] + w.traffic(5)
    w2 = w.restart(pid=200)
    lines.append(w.request()[:57] + b"\n")           # line 7: the partial entry
    lines += [w2.start()] + w2.traffic(3)
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    out, _ = verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TRUNCATED, where=(p, 7))
    assert f"{p}:7: truncated" in out, out
    assert f"{p}:8" in out                              # names where the chain restarts
    assert [(str(p), 7)] == al.check_chain([p], key=KEY).truncated()


def test_partial_line_not_followed_by_restart_is_tampering(audit_bin, tmp_path, keyfile):
    w = al.Writer(pid=100, key=KEY)
    lines = [w.start()] + w.traffic(3)
    lines.append(w.request()[:57] + b"\n")            # line 5
    lines += w.traffic(3)
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(p, 5))


def test_partial_line_at_end_of_rotated_file(audit_bin, tmp_path, keyfile):
    """Rotation after a crash: the old file keeps its partial last line, the
    restart finds the new file empty and begins a new chain there (truncated
    wins over the possible loss of the unlinked file). A restart never
    continues the chain of another file: a start that does is spliced."""
    w = al.Writer(pid=100, key=KEY)
    first = [w.start()] + w.traffic(3)
    w2 = w.restart(pid=200)
    first.append(w.request()[:80])                     # line 5, no newline
    p1 = al.write_log(tmp_path / "audit.jsonl.1", first)
    w3 = al.Writer(pid=200, key=KEY)
    p2 = al.write_log(tmp_path / "audit.jsonl", [w3.start()] + w3.traffic(2))
    out, _ = verify(audit_bin, [p1, p2], key=KEY, keyfile=keyfile, expect=al.TRUNCATED,
                    where=(p1, 5))
    assert f"{p2}:1: possible loss: this file begins a new chain" in out, out
    p2 = al.write_log(tmp_path / "audit.jsonl", [w2.start()] + w2.traffic(2))
    verify(audit_bin, [p1, p2], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(p2, 1))


def test_tampering_wins_over_truncation(audit_bin, tmp_path, keyfile):
    w = al.Writer(pid=100, key=KEY)
    lines = [w.start()] + w.traffic(5)
    lines[3] = flip(lines[3], b'"target":"/"', b'"target":"?"')
    data = b"".join(lines)[:-10]
    p = al.write_log(tmp_path / "audit.jsonl", data)
    verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(p, 4))


# ------------------------------------------------------------------ not an audit file

def not_audit(audit_bin, files, keyfile=None):
    """Runs verify on files that are not audit logs: exit 2, "not an audit
    file" on stderr, nothing called tampered or intact."""
    args = ["verify"] + (["--key", keyfile] if keyfile else []) + list(files)
    r = run(audit_bin, *args)
    out, err = text(r.stdout), text(r.stderr)
    assert r.returncode == al.USAGE, f"exit {r.returncode}\n{out}{err}"
    assert "not an audit file" in err, err
    assert "tamper" not in out + err and "intact" not in out, out + err
    assert al.check_chain(files, key=KEY if keyfile else None).status == al.USAGE
    return err


@pytest.mark.parametrize("with_key", [True, False])
def test_gzip_rotation_is_not_an_audit_file(audit_bin, victim, keyfile, with_key):
    """A cron job verifying a compressed rotation must not hear tampering."""
    gz = victim.with_name("audit.jsonl.1.gz")
    gz.write_bytes(gzip.compress(victim.read_bytes()))
    err = not_audit(audit_bin, [gz], keyfile=keyfile if with_key else None)
    assert "gzip" in err and "zcat" in err, err
    # in a series too, before or after the plain files
    not_audit(audit_bin, [gz, victim], keyfile=keyfile if with_key else None)


def test_decompressed_rotation_verifies_from_stdin(audit_bin, victim, keyfile, tmp_path):
    """zcat FILE.gz | gatehouse-audit verify --key K -"""
    gz = tmp_path / "audit.jsonl.1.gz"
    gz.write_bytes(gzip.compress(victim.read_bytes()))
    zcat = subprocess.Popen(["zcat", str(gz)], stdout=subprocess.PIPE)
    try:
        r = run(audit_bin, "verify", "--key", keyfile, "-", stdin=zcat.stdout)
    finally:
        zcat.stdout.close()
        zcat.wait(timeout=ghutil.scaled(10))
    assert r.returncode == 0, r
    assert summary(text(r.stdout)).startswith("intact: 22 entries"), r


@pytest.mark.parametrize("content", [
    pytest.param(b"2026-12-07T16:00:00Z gatehouse[41]: info listening port=8443\n"
                 b"2026-12-07T16:00:01Z gatehouse[41]: warn audit_partial_line\n", id="other-log"),
    pytest.param(bytes(range(256)) * 64, id="binary"),
    pytest.param(b'{"level":"info","msg":"hello"}\n{"level":"warn","msg":"x"}\n', id="json-lines"),
    pytest.param(b"\x28\xb5\x2f\xfd" + bytes(4000), id="zstd"),
])
def test_other_files_are_not_audit_files(audit_bin, tmp_path, keyfile, content):
    p = al.write_log(tmp_path / "other.log", content)
    not_audit(audit_bin, [p], keyfile=keyfile)
    not_audit(audit_bin, [p])


def test_damaged_first_line_of_an_audit_file_is_still_tampering(audit_bin, victim, keyfile):
    """"Not an audit file" is only for files without a single entry: an
    audit log whose first line was overwritten stays tampered (exit 1)."""
    lines = lines_of(victim)
    lines[0] = b"2026-12-07T16:00:00Z hello\n"
    rewrite(victim, lines)
    verify(audit_bin, [victim], key=KEY, keyfile=keyfile, expect=al.TAMPERED, where=(victim, 1))


def test_truncated_first_entry_is_still_truncation(audit_bin, tmp_path, keyfile):
    """A writer that stopped inside the file's first entry left a line that
    starts like an entry: truncated (3), as before, not "not an audit file"."""
    w = al.Writer(key=KEY)
    p = al.write_log(tmp_path / "audit.jsonl", w.start()[:50])
    verify(audit_bin, [p], key=KEY, keyfile=keyfile, expect=al.TRUNCATED, where=(p, 1))


# ------------------------------------------------------------------ help, usage, I/O

def test_help(audit_bin):
    for arg in ("--help", "-h", "help"):
        r = run(audit_bin, arg)
        out = text(r.stdout)
        assert r.returncode == 0, r
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
                        "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
            assert re.search(rf"^{section}$", out, re.M), (arg, section)
        assert "config/audit-log.md" in out
        assert "verify [--key KEYFILE] FILE..." in out and "tail [-n N] FILE" in out


@pytest.mark.parametrize("args", [
    [], ["--bogus"], ["-x"], ["frobnicate"], ["verify"], ["verify", "--key"],
    ["verify", "--bogus", "f"], ["verify", "--key", "a", "--key", "b", "f"], ["tail"],
    ["tail", "-n"], ["tail", "-n", "x", "f"], ["tail", "-n", "-3", "f"], ["tail", "-n", "3x", "f"],
    ["tail", "f", "g"], ["tail", "--bogus", "f"],
])
def test_bad_usage_exits_2(audit_bin, args):
    r = run(audit_bin, *args)
    assert r.returncode == 2, (args, r)
    assert text(r.stderr).strip() and "usage" in text(r.stderr), r
    assert r.stdout == b""


def test_io_errors_exit_2(audit_bin, tmp_path, victim):
    for args in (["verify", tmp_path / "missing.jsonl"], ["verify", tmp_path],
                 ["verify", victim, tmp_path / "missing.jsonl"], ["tail", tmp_path / "nope"],
                 ["tail", tmp_path]):
        r = run(audit_bin, *args)
        assert r.returncode == 2, (args, r)
        assert text(r.stderr).strip(), r
    # the missing file is found before anything is judged
    r = run(audit_bin, "verify", victim, tmp_path / "missing.jsonl")
    assert b"intact" not in r.stdout


def test_verify_reads_stdin(audit_bin, tmp_path):
    p, _ = keyed_log(tmp_path, key=None)
    with open(p, "rb") as f:
        r = run(audit_bin, "verify", "-", stdin=f)
    assert r.returncode == 0, r
    assert summary(text(r.stdout)).startswith("unproven: 22 entries")


# ------------------------------------------------------------------ tail

def test_tail_prints_last_entries(audit_bin, victim):
    r = run(audit_bin, "tail", "-n", "3", victim)
    assert r.returncode == 0, r
    out = text(r.stdout).splitlines()
    assert len(out) == 3, out
    ts = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"
    assert re.match(ts + r" #20 request pid=4242 conn=10 ", out[0]), out
    assert out[1].split()[1:3] == ["#21", "close"], out
    assert out[2].split()[1:3] == ["#22", "stop"], out
    assert "chain=" not in r.stdout.decode() and " v=" not in r.stdout.decode()
    r = run(audit_bin, "tail", victim)
    assert len(text(r.stdout).splitlines()) == 20
    r = run(audit_bin, "tail", "-n100", victim)
    assert len(text(r.stdout).splitlines()) == 22
    r = run(audit_bin, "tail", "-n", "0", victim)
    assert r.returncode == 0 and r.stdout == b""


def test_tail_escapes_terminal_controls(audit_bin, tmp_path):
    w = al.Writer()
    lines = [w.start(),
             w.entry("reject", excerpt=b"GET /\x1b[2J\x1b]0;owned\x07 \r\n\x7f\\x"),
             w.entry("tls_ok", sni="evil\u202eexe.example", detail="a b=c \"q\"",
                     client_cert_subject="\u009b31m"),
             w.entry("request", **{"ke\x1by": "v", "target": "/"})]
    p = al.write_log(tmp_path / "audit.jsonl", lines)
    r = run(audit_bin, "tail", "-n", "3", p)
    assert r.returncode == 0, r
    out = r.stdout
    assert len(out.splitlines()) == 3, out
    for bad in (b"\x1b", b"\x07", b"\r", b"\x7f", "\u202e".encode(), "\u009b".encode()):
        assert bad not in out, (bad, out)
    s = text(out)
    assert "excerpt=GET /\\x1b[2J\\x1b]0;owned\\x07 \\r\\n\\x7f\\\\x" in s or \
        'excerpt="GET /\\x1b[2J\\x1b]0;owned\\x07 \\r\\n\\x7f\\\\x"' in s, s
    assert "sni=evil\\u202eexe.example" in s, s
    assert 'detail="a b=c \\"q\\""' in s, s
    assert "client_cert_subject=\\u009b31m" in s, s
    assert "ke\\x1by=v" in s, s


def test_tail_shows_a_partial_last_line_safely(audit_bin, tmp_path):
    w = al.Writer()
    data = b"".join([w.start(), w.request()]) + b'{"v":1,"seq":3,"x":"\x1b[31m'
    p = al.write_log(tmp_path / "audit.jsonl", data)
    r = run(audit_bin, "tail", "-n", "2", p)
    assert r.returncode == 0, r
    out = r.stdout.splitlines()
    assert len(out) == 2 and out[1].startswith(b"-- not a valid entry"), out
    assert b"\x1b" not in r.stdout and b"\\x1b[31m" in out[1]
