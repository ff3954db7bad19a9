"""Start-up and reload an operator can trust (issue 14): `-t` leaves no
trace, keys that do nothing on a redirect listener are errors, a second
instance of the same configuration is refused, and `gatehouse -s reload`
reports the reload's result."""

import os
import re
import signal
import backends
from ghutil import (Gatehouse, free_port, recv_exact, run_gatehouse, scaled,
                    tls_connect, wait_until)


def ini_lines(certs, global_lines=(), port=None):
    port = port or free_port()
    return [
        "[global]",                               # 1
        "workers = 1",                            # 2
        "shutdown_grace = 2s",                    # 3
        *global_lines,
        "",
        "[listener:web]",
        f"listen = 127.0.0.1:{port}",
        "backend = 127.0.0.1:9",
        "mode = tcp",
        f"cert = {certs.ec_crt}",
        f"key = {certs.ec_key}",
    ]


def write_ini(tmp_path, lines, name="gatehouse.ini"):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


# ------------------------------------------------- 1. -t creates nothing


def test_check_creates_no_audit_file(certs, tmp_path, gatehouse_bin):
    logs = tmp_path / "logs"
    logs.mkdir()
    p = write_ini(tmp_path, ini_lines(certs, [f"audit_file = {logs}/audit.log"]))
    r = run_gatehouse(["-t", "-c", str(p)])
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(logs)) == [], "gatehouse -t created files"


def test_check_creates_no_pid_file(certs, tmp_path, gatehouse_bin):
    logs = tmp_path / "logs"
    logs.mkdir()
    p = write_ini(tmp_path, ini_lines(certs, [f"audit_file = {logs}/audit.log",
                                              f"pid_file = {logs}/gh.pid"]))
    r = run_gatehouse(["-t", "-c", str(p)])
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(logs)) == [], "gatehouse -t created files"


def test_check_still_refuses_an_unwritable_audit_directory(certs, tmp_path, gatehouse_bin):
    p = write_ini(tmp_path, ini_lines(certs, [f"audit_file = {tmp_path}/no/such/dir/audit.log"]))
    r = run_gatehouse(["-t", "-c", str(p)])
    assert r.returncode == 1, r.stderr
    assert re.search(re.escape(str(p)) + r":4: audit_file: .*no/such/dir", r.stderr), r.stderr
    assert not (tmp_path / "no").exists()


def test_check_still_refuses_an_unwritable_audit_file(certs, tmp_path, gatehouse_bin):
    if os.geteuid() == 0:
        # root writes a mode-0400 file anyway: a directory in its place
        # cannot be opened for writing by anyone
        target = tmp_path / "audit.log"
        target.mkdir()
    else:
        target = tmp_path / "audit.log"
        target.write_text("")
        target.chmod(0o400)
    p = write_ini(tmp_path, ini_lines(certs, [f"audit_file = {target}"]))
    r = run_gatehouse(["-t", "-c", str(p)])
    assert r.returncode == 1, r.stderr
    assert re.search(re.escape(str(p)) + r":4: audit_file: cannot open", r.stderr), r.stderr


# --------------------------------------- 2. hsts on a redirect listener


def test_hsts_on_a_redirect_listener_is_an_error(tmp_path, gatehouse_bin):
    p = write_ini(tmp_path, [
        "[global]",                                       # 1
        "workers = 1",                                    # 2
        "[listener:plain]",                               # 3
        f"listen = 127.0.0.1:{free_port()}",              # 4
        "mode = redirect",                                # 5
        "hsts = max-age=31536000",                        # 6
    ])
    r = run_gatehouse(["-t", "-c", str(p)])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search("^" + re.escape(str(p)) + r":6: hsts: .*redirect", r.stderr, re.M), r.stderr


# ------------------------------------------- 3. one instance per config


def second_instance(ini, timeout=10.0):
    """Starts `gatehouse -c INI` again; it must exit on its own (run_gatehouse
    kills it and raises TimeoutExpired when it runs instead)."""
    return run_gatehouse(["-c", str(ini)], timeout=timeout)


def test_second_instance_on_a_pid_file_is_refused(gatehouse, backend, tmp_path):
    pid_file = tmp_path / "gh.pid"
    gh = gatehouse(backend(backends.Echo), global_opts={"pid_file": pid_file})
    assert pid_file.read_text().strip() == str(gh.pid)
    r = second_instance(gh.ini_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"pid {gh.pid}" in r.stderr and str(pid_file) in r.stderr, r.stderr
    gh.assert_alive()
    assert pid_file.read_text().strip() == str(gh.pid), "the refused one overwrote the pid"


def test_second_instance_beside_the_audit_file_is_refused(gatehouse, backend, tmp_path):
    audit = tmp_path / "audit-%w.jsonl"
    gh = gatehouse(backend(backends.Echo), global_opts={"workers": 2, "audit_file": audit})
    r = second_instance(gh.ini_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"pid {gh.pid}" in r.stderr and f"{audit}.pid" in r.stderr, r.stderr
    gh.assert_alive()


def test_the_lock_is_free_once_the_drain_starts(gatehouse, backend, ctx, tmp_path):
    """The upgrade hook: a new instance may start while the old one drains."""
    pid_file = tmp_path / "gh.pid"
    gh = gatehouse(backend(backends.Echo), global_opts={"pid_file": pid_file,
                                                        "shutdown_grace": "20s"})
    held = tls_connect(gh.port, ctx)
    try:
        held.sendall(b"ping")
        assert recv_exact(held, 4) == b"ping"
        mark = gh.mark()
        gh.send_signal(signal.SIGTERM)
        gh.wait_event("shutdown_begin", since=mark)
        assert gh.alive(), "the old instance should still drain its connection"
        new = Gatehouse(gh.ini_path, tmp_path / "new.stderr", tmp_path / "new.stdout",
                        gh.ports)
        try:
            new.wait_ready()
            wait_until(lambda: pid_file.read_text().strip() == str(new.pid), scaled(5),
                       what="the new instance's pid in the pid file")
        finally:
            new.stop()
    finally:
        held.close()


# ------------------------------------------------ 4. gatehouse -s reload


def reload_cmd(ini):
    return run_gatehouse(["-s", "reload", "-c", str(ini)], timeout=GH_WAIT + 10)


GH_WAIT = 10


def test_reload_command_reports_an_applied_reload(gatehouse, backend, tmp_path):
    pid_file = tmp_path / "gh.pid"
    gh = gatehouse(backend(backends.Echo), global_opts={"pid_file": pid_file})
    for seq in (1, 2):
        mark = gh.mark()
        r = reload_cmd(gh.ini_path)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert re.match(rf"pid={gh.pid} seq={seq} result=ok errors=0$", r.stdout), r.stdout
        gh.wait_event("reloaded", since=mark)


def test_reload_command_reports_a_refused_reload(gatehouse, backend, tmp_path):
    pid_file = tmp_path / "gh.pid"
    gh = gatehouse(backend(backends.Echo), global_opts={"pid_file": pid_file, "workers": 2},
                   wait_ready=True)
    text = gh.ini_path.read_text()
    lines = text.splitlines()
    n = next(i for i, l in enumerate(lines) if l.startswith("listen ="))
    lines[n] = f"listen = 127.0.0.1:{free_port()}"
    gh.ini_path.write_text("\n".join(lines) + "\n")
    r = reload_cmd(gh.ini_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "result=refused" in r.stderr, r.stderr
    # (the line is the listener's section header: reload.c's existing rule)
    assert re.search("^" + re.escape(str(gh.ini_path)) + r":\d+: listen: .*needs a restart",
                     r.stderr, re.M), r.stderr
    gh.assert_alive()


def test_reload_refuses_a_pid_file_change(gatehouse, backend, tmp_path):
    gh = gatehouse(backend(backends.Echo), global_opts={"pid_file": tmp_path / "a.pid"})
    text = gh.ini_path.read_text().replace(str(tmp_path / "a.pid"), str(tmp_path / "b.pid"))
    gh.ini_path.write_text(text)
    line_no = next(i for i, l in enumerate(text.splitlines(), 1) if l.startswith("pid_file"))
    # asked through the old file, which the running instance still holds
    ask = tmp_path / "ask.ini"
    ask.write_text(text.replace(str(tmp_path / "b.pid"), str(tmp_path / "a.pid")))
    r = reload_cmd(ask)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search("^" + re.escape(str(gh.ini_path)) + rf":{line_no}: pid_file: .*restart",
                     r.stderr, re.M), r.stderr
    assert not (tmp_path / "b.pid").exists()
    gh.assert_alive()


def test_reload_command_without_a_running_instance_fails(certs, tmp_path, gatehouse_bin):
    p = write_ini(tmp_path, ini_lines(certs, [f"pid_file = {tmp_path}/gh.pid"]))
    r = reload_cmd(p)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "no running instance" in r.stderr, r.stderr
    assert not (tmp_path / "gh.pid").exists()


def test_reload_command_unknown_signal_is_usage(certs, tmp_path, gatehouse_bin):
    p = write_ini(tmp_path, ini_lines(certs))
    r = run_gatehouse(["-s", "restart", "-c", str(p)])
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "reload" in r.stderr, r.stderr


# ------------------------------------------- 5. client_ca by SIGHUP


def test_turning_client_ca_on_by_reload_names_client_ca(gatehouse, backend, certs, tmp_path):
    pid_file = tmp_path / "gh.pid"
    gh = gatehouse(backend(backends.Echo), mode="http",
                   global_opts={"pid_file": pid_file})
    with open(gh.ini_path, "a") as f:
        f.write(f"client_ca = {certs.ca}\n")
    n_lines = len(gh.ini_path.read_text().splitlines())
    r = reload_cmd(gh.ini_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search("^" + re.escape(str(gh.ini_path)) + rf":{n_lines}: client_ca: .*2k",
                     r.stderr, re.M), r.stderr
    assert not re.search(r": buffer_size: ", r.stderr), r.stderr
    gh.assert_alive()


def test_check_refuses_a_pid_file_it_could_not_create(certs, tmp_path, gatehouse_bin):
    p = write_ini(tmp_path, ini_lines(certs, [f"pid_file = {tmp_path}/no/such/dir/gh.pid"]))
    r = run_gatehouse(["-t", "-c", str(p)])
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search(re.escape(str(p)) + r":4: pid_file: cannot open the instance file .*no/such",
                     r.stderr), r.stderr
