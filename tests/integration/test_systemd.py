"""systemd integration: the sd_notify protocol (Type=notify) against a test
NOTIFY_SOCKET, the watchdog pings, and `systemd-analyze verify` on the unit
file. The test socket checks what systemd checks: every datagram comes from
the main process (SO_PASSCRED), never from a worker."""

import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import uuid

import pytest

import backends
from ghutil import REPO, GATEHOUSE_BIN, addr_text, recv_exact, scaled, tls_connect

UNIT = REPO / "config" / "systemd" / "gatehouse.service"


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's: a path, or an
    abstract name ("@..."). Records (sender pid, message) pairs."""

    def __init__(self, tmp_path, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        if abstract:
            name = f"gatehouse-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + name)
            self.env = "@" + name
        else:
            path = str(tmp_path / "notify.sock")
            self.sock.bind(path)
            self.env = path

    def recv(self, timeout):
        """One (pid, message) or None when nothing comes within timeout."""
        self.sock.settimeout(scaled(timeout))
        try:
            data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        except socket.timeout:
            return None
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = struct.unpack("iII", payload[:12])[0]
        return pid, data.decode()

    def expect(self, gh, timeout=10.0):
        got = self.recv(timeout)
        assert got is not None, f"no notify message within {timeout}s; log:\n{gh.tail()}"
        pid, msg = got
        assert pid == gh.pid, f"{msg!r} sent by pid {pid}, not the main process {gh.pid}"
        return msg

    def drain(self, timeout):
        out = []
        deadline = time.monotonic() + scaled(timeout)
        while time.monotonic() < deadline:
            got = self.recv(max(0.01, deadline - time.monotonic()))
            if got:
                out.append(got)
        return out

    def close(self):
        self.sock.close()


@pytest.fixture(params=["path", "abstract"])
def notify(request, tmp_path, monkeypatch):
    n = NotifySocket(tmp_path, abstract=request.param == "abstract")
    monkeypatch.setenv("NOTIFY_SOCKET", n.env)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield n
    n.close()


def echo_once(port, ctx):
    with tls_connect(port, ctx) as s:
        s.sendall(b"ping")
        return recv_exact(s, 4)


def monotonic_usec():
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


@pytest.mark.parametrize("workers", [1, 2])
def test_notify_messages_in_order_across_start_reload_refusal_stop(
        notify, workers, gatehouse, backend, ctx):
    b = backend(backends.Echo)
    gh = gatehouse(b, wait_ready=False, global_opts={"workers": workers})
    assert notify.expect(gh) == "READY=1\nSTATUS=serving 1 listener"
    # READY means listening: a connection right now is served
    assert echo_once(gh.port, ctx) == b"ping"

    before = monotonic_usec()
    gh.send_signal(signal.SIGHUP)
    reloading = notify.expect(gh)
    after = monotonic_usec()
    m = re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=(\d+)", reloading)
    assert m, reloading
    assert before <= int(m.group(1)) <= after
    assert notify.expect(gh) == "READY=1\nSTATUS=reload applied"

    # a broken file: refused with its two errors, the old one keeps serving
    good = gh.ini_path.read_text()
    gh.ini_path.write_text(good + "idle_timeout = forever\nbogus_key = 1\n")
    gh.send_signal(signal.SIGHUP)
    assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", notify.expect(gh))
    assert notify.expect(gh) == "READY=1\nSTATUS=reload refused: 2 errors"
    assert echo_once(gh.port, ctx) == b"ping"

    gh.send_signal(signal.SIGTERM)
    assert notify.expect(gh) == "STOPPING=1\nSTATUS=draining"
    assert gh.wait() == 0
    # nothing more, and nothing from a worker at any point
    assert notify.drain(0.3) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_watchdog_pings_every_half_interval(notify, workers, gatehouse, backend, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "400000")
    b = backend(backends.Echo)
    gh = gatehouse(b, wait_ready=False, global_opts={"workers": workers})
    assert notify.expect(gh).startswith("READY=1\n")
    window = scaled(1.5)
    start = time.monotonic()
    pings = []
    while time.monotonic() - start < window:
        got = notify.recv(window - (time.monotonic() - start))
        if got is None:
            break
        pid, msg = got
        assert pid == gh.pid and msg == "WATCHDOG=1", got
        pings.append(time.monotonic())
    # every 0.2 s: about 7 in 1.5 s; at least 3, and not a flood
    assert len(pings) >= 3, pings
    assert len(pings) <= window / 0.2 + 2, pings


def test_watchdog_for_another_pid_is_not_ours(notify, gatehouse, backend, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.setenv("WATCHDOG_PID", "1")
    gh = gatehouse(backend(backends.Echo), wait_ready=False)
    assert notify.expect(gh).startswith("READY=1\n")
    assert notify.drain(0.8) == []


def test_no_message_without_notify_socket(gatehouse, backend, ctx, tmp_path, monkeypatch):
    listening = NotifySocket(tmp_path, abstract=False)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    try:
        gh = gatehouse(backend(backends.Echo), global_opts={"workers": 2})
        assert echo_once(gh.port, ctx) == b"ping"
        gh.send_signal(signal.SIGHUP)
        gh.wait_event("reloaded")
        gh.send_signal(signal.SIGTERM)
        assert gh.wait() == 0
        assert listening.drain(0.3) == []
        assert not re.search(r"\bevent=notify_", gh.text()), gh.tail()
    finally:
        listening.close()


@pytest.mark.parametrize("target", ["/nonexistent/notify.sock", "@gatehouse-test-nobody-listens"])
def test_notify_socket_pointing_nowhere_does_not_stop_serving(
        target, gatehouse, backend, ctx, monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", target)
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    gh = gatehouse(backend(backends.Echo))
    assert echo_once(gh.port, ctx) == b"ping"
    gh.send_signal(signal.SIGHUP)
    gh.wait_event("reloaded")
    time.sleep(scaled(0.5))   # a few failed watchdog pings
    assert echo_once(gh.port, ctx) == b"ping"
    gh.assert_alive()
    # the failure is logged once, not once per message
    assert len(gh.events("notify_failed")) == 1, gh.tail()
    gh.send_signal(signal.SIGTERM)
    assert gh.wait() == 0


def test_check_mode_does_not_notify(notify, certs, backend, tmp_path):
    """`gatehouse -t` (the unit's ExecStartPre) is not the service: a READY=1
    from it would tell systemd the service runs before it started."""
    b = backend(backends.Echo)
    ini = tmp_path / "check.ini"
    ini.write_text(
        "[global]\n\n[listener:main]\nmode = tcp\nlisten = 127.0.0.1:1\n"
        f"backend = {addr_text(b)}\ncert = {certs.ec_crt}\nkey = {certs.ec_key}\n")
    r = subprocess.run([GATEHOUSE_BIN, "-t", "-c", str(ini)], capture_output=True, text=True,
                       timeout=scaled(20), env=dict(os.environ, NOTIFY_SOCKET=notify.env))
    assert r.returncode == 0, r.stderr
    assert notify.drain(0.2) == []


def test_unit_file_verifies(tmp_path):
    """systemd-analyze verify on the unit, its paths pointed at this build
    (verify needs ExecStart's binary to exist). The man pages it names come
    with the package, so --man=no."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze missing: scripts/setup-debian.sh --tests installs systemd"
    text = UNIT.read_text()
    assert "/usr/sbin/gatehouse " in text and "/etc/gatehouse/gatehouse.ini" in text
    for key in ("Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "NoNewPrivileges=yes",
                "ProtectSystem=strict", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                "SystemCallFilter=@system-service", "LogsDirectory=gatehouse",
                "StateDirectory=gatehouse", "WatchdogSec="):
        assert re.search(rf"(?m)^{re.escape(key)}", text), key
    # TimeoutStopSec above the default shutdown_grace (config/gatehouse.ini)
    grace = int(re.search(r"(?m)^shutdown_grace = (\d+)s",
                          (REPO / "config" / "gatehouse.ini").read_text()).group(1))
    assert int(re.search(r"(?m)^TimeoutStopSec=(\d+)s", text).group(1)) > grace
    unit = tmp_path / "gatehouse.service"
    unit.write_text(text.replace("/usr/sbin/gatehouse", str(GATEHOUSE_BIN))
                    .replace("/etc/gatehouse/gatehouse.ini",
                             str(REPO / "config" / "gatehouse.ini")))
    r = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True,
                       text=True, timeout=scaled(60))
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 0 and out == "", out


def test_replaced_worker_sends_nothing_and_ready_is_not_repeated(
        notify, gatehouse, backend, ctx):
    """A worker's death and its replacement are the supervisor's business:
    systemd hears nothing (a second READY=1 would be a lie about a restart)."""
    gh = gatehouse(backend(backends.Echo), wait_ready=False, global_opts={"workers": 2})
    assert notify.expect(gh) == "READY=1\nSTATUS=serving 1 listener"
    children = (f"/proc/{gh.pid}/task/{gh.pid}/children")
    workers = [int(p) for p in open(children).read().split()]
    assert len(workers) == 2, workers
    time.sleep(1.2)   # past the supervisor's fail-fast second (RESPAWN_MIN_INTERVAL)
    mark = gh.mark()
    os.kill(workers[0], signal.SIGKILL)
    gh.wait_event("worker_restarted", since=mark)
    gh.wait_for_log(r"\bevent=ready\b", since=mark)
    assert echo_once(gh.port, ctx) == b"ping"
    assert notify.drain(0.3) == []
    gh.send_signal(signal.SIGTERM)
    assert notify.expect(gh) == "STOPPING=1\nSTATUS=draining"
    assert gh.wait() == 0
