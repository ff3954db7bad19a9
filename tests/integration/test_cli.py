"""Command line: -V, --crypto-speed, -h, bad usage, and the shipped demo
config."""

import re
import subprocess

import pytest

from ghutil import REPO, run_gatehouse


def test_version(gatehouse_bin):
    r = run_gatehouse(["-V"])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"gatehouse", out, re.I), out
    assert re.search(r"\d+\.\d+", out), out
    assert re.search(r"wolfssl\S*\s+\S*\d+\.\d+", out, re.I), out
    assert re.search(r"\b(asm|assembly)\b", out, re.I), out


@pytest.mark.timeout_s(120)
def test_crypto_speed(gatehouse_bin):
    r = run_gatehouse(["--crypto-speed"], timeout=100)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    m = re.search(r"AES-?(128|256)?-?GCM.*?([\d.]+)\s*Mi?B/s", out, re.I)
    assert m and float(m.group(2)) > 0, out
    for alg in ("ECDSA", "ECDHE"):
        m = re.search(alg + r".*?([\d.]+)\s*ops/s", out, re.I)
        assert m and float(m.group(1)) > 0, f"{alg} ops/s missing:\n{out}"


def test_help(gatehouse_bin):
    r = run_gatehouse(["-h"])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"usage", out, re.I), out
    for opt in ("-c", "-t", "-V"):
        assert opt in out, out


@pytest.mark.parametrize("args", [["--no-such-option"], ["-c"], ["-t", "-c"], ["-x"],
                                  ["-c", "a.ini", "extra-arg"]])
def test_bad_usage_exits_2(gatehouse_bin, args):
    r = run_gatehouse(args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip(), "bad usage should explain itself on stderr"


def test_demo_config_checks(gatehouse_bin, tmp_path):
    """config/demo.ini as shipped passes -t once the throwaway certificate
    that scripts/demo.sh makes exists (made here in a copy of the layout,
    so the work tree is not touched)."""
    demo = REPO / "config" / "demo.ini"
    assert demo.is_file(), f"{demo} is missing"
    (tmp_path / "config").mkdir()
    (tmp_path / ".demo").mkdir()
    copy = tmp_path / "config" / "demo.ini"
    copy.write_text(demo.read_text())
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", ".demo/key.pem",
                    "-out", ".demo/cert.pem", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=30)
    r = run_gatehouse(["-t", "-c", str(copy)], cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    # and it names the demo backend's default address
    assert re.search(r"(?m)^backend\s*=\s*(127\.0\.0\.1|localhost):8080\s*$", demo.read_text())
