"""Command line: -V, -h, bad usage, the shipped demo config, and the
gatehouse-crypto-speed tool (GATEHOUSE_CRYPTO_SPEED_BIN, else next to
gatehouse)."""

import os
import re
import subprocess
from pathlib import Path

import pytest

import ghutil
from ghutil import REPO, run_gatehouse, scaled


def test_version(gatehouse_bin):
    r = run_gatehouse(["-V"])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"gatehouse", out, re.I), out
    assert re.search(r"\d+\.\d+", out), out
    assert re.search(r"wolfssl\S*\s+\S*\d+\.\d+", out, re.I), out
    assert re.search(r"\b(asm|assembly)\b", out, re.I), out


def crypto_speed_bin():
    p = Path(os.environ.get("GATEHOUSE_CRYPTO_SPEED_BIN") or
             Path(ghutil.GATEHOUSE_BIN).parent / "gatehouse-crypto-speed")
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"gatehouse-crypto-speed not found at {p} "
                    "(set GATEHOUSE_CRYPTO_SPEED_BIN or build it)")
    return p


@pytest.mark.timeout_s(120)
def test_crypto_speed(gatehouse_bin):
    r = subprocess.run([str(crypto_speed_bin())], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=scaled(100))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    # gatehouse -V's facts head the report, so a saved figure says which
    # wolfSSL build it measured.
    assert re.search(r"wolfssl\S*\s+\S*\d+\.\d+", out, re.I), out
    assert re.search(r"\bassembly\b", out, re.I), out
    m = re.search(r"AES-?(128|256)?-?GCM.*?([\d.]+)\s*Mi?B/s", out, re.I)
    assert m and float(m.group(2)) > 0, out
    for alg in ("ECDSA", "ECDHE"):
        m = re.search(alg + r".*?([\d.]+)\s*ops/s", out, re.I)
        assert m and float(m.group(1)) > 0, f"{alg} ops/s missing:\n{out}"


@pytest.mark.parametrize("args", [["-x"], ["extra-arg"]])
def test_crypto_speed_bad_usage_exits_2(gatehouse_bin, args):
    r = subprocess.run([str(crypto_speed_bin()), *args], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=scaled(20))
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "usage" in r.stderr, r.stderr


def test_help(gatehouse_bin):
    r = run_gatehouse(["-h"])
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert re.search(r"usage", out, re.I), out
    for opt in ("-c", "-t", "-V"):
        assert opt in out, out


# --crypto-speed moved to gatehouse-crypto-speed: the proxy refuses it.
@pytest.mark.parametrize("args", [["--no-such-option"], ["-c"], ["-t", "-c"], ["-x"],
                                  ["-c", "a.ini", "extra-arg"], ["--crypto-speed"]])
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
