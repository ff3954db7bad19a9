"""Start-up and reload an operator can trust (issue 14): `-t` leaves no
trace, keys that do nothing on a redirect listener are errors, a second
instance of the same configuration is refused, and `gatehouse -s reload`
reports the reload's result."""

import os
import re
import signal
import subprocess
import time

import pytest

from ghutil import GATEHOUSE_BIN, free_port, run_gatehouse, scaled, wait_until


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
