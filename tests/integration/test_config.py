"""`gatehouse -t -c FILE`: bad configs exit 1 with FILE:LINE: key: message
for every error; good ones exit 0. `gatehouse -c BAD` does not start."""

import re
import subprocess

import pytest

from ghutil import GATEHOUSE_BIN, REPO, free_port, run_gatehouse, scaled, tcp_connect_refused


def base_lines(certs, port=None):
    port = port or free_port()
    return [
        "; test config",                          # 1
        "[global]",                               # 2
        "workers = 1",                            # 3
        "shutdown_grace = 2s",                    # 4
        "",                                       # 5
        "[listener:web]",                         # 6
        f"listen = 127.0.0.1:{port}",             # 7
        "backend = 127.0.0.1:9",                  # 8
        "mode = tcp",                             # 9
        f"cert = {certs.ec_crt}",                 # 10
        f"key = {certs.ec_key}",                  # 11
    ]


HEADER = 6
LINE = {"listen": 7, "backend": 8, "mode": 9, "cert": 10, "key": 11}


def set_key(lines, key, value):
    """Replaces key's line in the listener (or appends one); returns its
    1-based line number."""
    for i, l in enumerate(lines):
        if i >= HEADER - 1 and re.match(rf"{key}\s*=", l):
            lines[i] = f"{key} = {value}"
            return i + 1
    lines.append(f"{key} = {value}")
    return len(lines)


def set_global(lines, key, value):
    """Sets key in [global] (replacing the line if there is one); returns
    its 1-based line number."""
    for i, l in enumerate(lines[:HEADER - 1]):
        if re.match(rf"{key}\s*=", l):
            lines[i] = f"{key} = {value}"
            return i + 1
    lines.insert(3, f"{key} = {value}")
    return 4


def write(tmp_path, lines, name="test.ini"):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n")
    return p


def check(path):
    return run_gatehouse(["-t", "-c", str(path)])


def assert_error(r, path, line, key=None, mention=None):
    assert r.returncode == 1, f"exit {r.returncode}\nstdout:{r.stdout}\nstderr:{r.stderr}"
    prefix = re.escape(str(path)) + f":{line}: "
    if key is not None:
        prefix += re.escape(key) + ": "
    rx = re.compile("^" + prefix + ".*" + (re.escape(mention) if mention else ""),
                    re.M | re.I)
    assert rx.search(r.stderr), f"no line matching /{rx.pattern}/ in stderr:\n{r.stderr}"


def test_good_config_exits_0(certs, tmp_path, gatehouse_bin):
    p = write(tmp_path, base_lines(certs))
    r = check(p)
    assert r.returncode == 0, r.stderr


def test_every_documented_key_accepted(certs, tmp_path, gatehouse_bin):
    """config/gatehouse.ini, with the test cert and key, passes -t: the
    documented defaults are all valid."""
    text = (REPO / "config" / "gatehouse.ini").read_text()
    text = re.sub(r"(?m)^cert = .*$", f"cert = {certs.ec_crt}", text)
    text = re.sub(r"(?m)^key = .*$", f"key = {certs.ec_key}", text)
    p = tmp_path / "documented.ini"
    p.write_text(text)
    r = check(p)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("key,value", [
    ("handshake_timeout", "500ms"), ("connect_timeout", "1.5m"), ("idle_timeout", "24h"),
    ("idle_timeout", "30"), ("buffer_size", "4k"), ("buffer_size", "1m"),
    ("buffer_size", "65536"), ("max_connections", "1000000"), ("backlog", "65535"),
    ("tls_min_version", "1.3"), ("groups", "P-384:X25519"),
    ("ciphers", "ECDHE-RSA-CHACHA20-POLY1305"),
    ("ciphersuites", "TLS13-CHACHA20-POLY1305-SHA256"),
    ("listen", "localhost:{port}"), ("backend", "[::1]:8080"),
])
def test_good_values_accepted(certs, tmp_path, gatehouse_bin, key, value):
    lines = base_lines(certs)
    set_key(lines, key, value.format(port=free_port()))
    r = check(write(tmp_path, lines))
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("key,value", [("workers", "64"), ("shutdown_grace", "0"),
                                       ("shutdown_grace", "1h"), ("log_level", "debug")])
def test_good_global_values_accepted(certs, tmp_path, gatehouse_bin, key, value):
    lines = base_lines(certs)
    set_global(lines, key, value)
    r = check(write(tmp_path, lines))
    assert r.returncode == 0, r.stderr


BAD_LISTENER_VALUES = [
    ("idle_timeout", "5 parsecs"), ("idle_timeout", "-1s"), ("idle_timeout", "25h"),
    ("handshake_timeout", "0"), ("handshake_timeout", "2h"), ("connect_timeout", "abc"),
    ("connect_timeout", "10x"), ("buffer_size", "1k"), ("buffer_size", "2m"),
    ("buffer_size", "16q"), ("max_connections", "0"), ("max_connections", "1000001"),
    ("backlog", "0"), ("backlog", "65536"), ("mode", "https"), ("tls_min_version", "1.1"),
    ("tls_min_version", "1.0"), ("ciphers", "AES128-GCM-SHA256"),
    ("ciphers", "ECDHE-RSA-AES128-SHA"), ("ciphers", "NO-SUCH-CIPHER"),
    ("ciphersuites", "TLS13-NOPE"), ("groups", "P-521"), ("groups", "ffdhe2048"),
    ("groups", ""), ("listen", "127.0.0.1"), ("listen", "example.com:443"),
    ("listen", "127.0.0.1:0x"), ("backend", "127.0.0.1:70000"), ("backend", "nowhere:80"),
]


@pytest.mark.parametrize("key,value", BAD_LISTENER_VALUES)
def test_bad_listener_value(certs, tmp_path, gatehouse_bin, key, value):
    lines = base_lines(certs)
    line = set_key(lines, key, value)
    p = write(tmp_path, lines)
    assert_error(check(p), p, line, key)


@pytest.mark.parametrize("key,value", [("workers", "0"), ("workers", "65"), ("workers", "two"),
                                       ("shutdown_grace", "2h"), ("shutdown_grace", "soon"),
                                       ("log_level", "verbose")])
def test_bad_global_value(certs, tmp_path, gatehouse_bin, key, value):
    lines = base_lines(certs)
    line = set_global(lines, key, value)
    p = write(tmp_path, lines)
    assert_error(check(p), p, line, key)


def test_unknown_key(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs) + ["frobnicate = 1"]
    p = write(tmp_path, lines)
    assert_error(check(p), p, len(lines), "frobnicate")


def test_unknown_global_key(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs)
    line = set_global(lines, "colour", "blue")
    p = write(tmp_path, lines)
    assert_error(check(p), p, line, "colour")


def test_unknown_section(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs) + ["", "[bogus]"]
    p = write(tmp_path, lines)
    assert_error(check(p), p, len(lines), mention="bogus")


def test_duplicate_key(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs) + ["backend = 127.0.0.1:10"]
    p = write(tmp_path, lines)
    assert_error(check(p), p, len(lines), "backend")


def test_continuation_line_refused(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs)
    lines.insert(9, "   127.0.0.1:11")        # line 10, indented: a continuation
    p = write(tmp_path, lines)
    r = check(p)
    assert_error(r, p, 10)


@pytest.mark.parametrize("key", ["listen", "backend", "cert", "key"])
def test_missing_required_key(certs, tmp_path, gatehouse_bin, key):
    lines = base_lines(certs)
    del lines[LINE[key] - 1]
    p = write(tmp_path, lines)
    assert_error(check(p), p, HEADER, key)


@pytest.mark.parametrize("name", ["x" * 33, "bad name", "semi;colon", ""])
def test_bad_listener_name(certs, tmp_path, gatehouse_bin, name):
    lines = base_lines(certs)
    lines[HEADER - 1] = f"[listener:{name}]"
    p = write(tmp_path, lines)
    assert_error(check(p), p, HEADER)


def test_no_listener(tmp_path, gatehouse_bin):
    p = write(tmp_path, ["[global]", "workers = 1"])
    r = check(p)
    assert r.returncode == 1, r.stderr
    assert re.search("^" + re.escape(str(p)) + r":\d+: ", r.stderr, re.M), r.stderr


def test_two_listeners_same_address(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs)
    second = [l.replace("[listener:web]", "[listener:web2]") for l in lines[HEADER - 1:]]
    lines += [""] + second
    p = write(tmp_path, lines)
    r = check(p)
    second_header = len(base_lines(certs)) + 2
    second_listen = second_header + 1
    assert r.returncode == 1, r.stderr
    assert re.search("^" + re.escape(str(p)) + rf":({second_header}|{second_listen}): ",
                     r.stderr, re.M), r.stderr


def test_cert_file_missing(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs)
    set_key(lines, "cert", str(tmp_path / "no-such.crt"))
    p = write(tmp_path, lines)
    assert_error(check(p), p, LINE["cert"], "cert")


def test_key_file_missing(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs)
    set_key(lines, "key", str(tmp_path / "no-such.key"))
    p = write(tmp_path, lines)
    assert_error(check(p), p, LINE["key"], "key")


def test_cert_not_pem(certs, tmp_path, gatehouse_bin):
    junk = tmp_path / "junk.crt"
    junk.write_text("this is not a certificate\n")
    lines = base_lines(certs)
    set_key(lines, "cert", str(junk))
    p = write(tmp_path, lines)
    assert_error(check(p), p, LINE["cert"], "cert")


@pytest.mark.parametrize("pair", ["other-ec-key", "rsa-key-for-ec-cert"])
def test_key_not_matching_cert(certs, tmp_path, gatehouse_bin, pair):
    lines = base_lines(certs)
    set_key(lines, "key", str(certs.other_key if pair == "other-ec-key" else certs.rsa_key))
    p = write(tmp_path, lines)
    assert_error(check(p), p, LINE["key"], "key")


def test_every_error_reported(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs)
    l1 = set_global(lines, "workers", "0")                   # line 3
    lines.append("idle_timeout = forever")
    l2 = len(lines)
    lines.append("bogus_key = 1")
    l3 = len(lines)
    lines.append("buffer_size = 1k")
    l4 = len(lines)
    p = write(tmp_path, lines)
    r = check(p)
    for line, key in [(l1, "workers"), (l2, "idle_timeout"), (l3, "bogus_key"),
                      (l4, "buffer_size")]:
        assert_error(r, p, line, key)


def test_missing_config_file(tmp_path, gatehouse_bin):
    r = check(tmp_path / "absent.ini")
    assert r.returncode == 1, r
    assert str(tmp_path / "absent.ini") in r.stderr


@pytest.mark.parametrize("bad", ["syntax", "key-mismatch"])
def test_run_with_bad_config_does_not_start(certs, tmp_path, gatehouse_bin, bad):
    port = free_port()
    lines = base_lines(certs, port)
    if bad == "syntax":
        lines.append("idle_timeout = 5 parsecs")
    else:
        set_key(lines, "key", str(certs.other_key))
    p = write(tmp_path, lines)
    proc = subprocess.Popen([GATEHOUSE_BIN, "-c", str(p)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=scaled(10))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=5)
        pytest.fail("gatehouse -c with a bad config kept running")
    assert proc.returncode != 0, err
    assert "event=ready" not in err, err
    assert re.search("^" + re.escape(str(p)) + r":\d+: ", err, re.M), err
    assert tcp_connect_refused(port)


# ---- the key table: indentation, one error per mistake, hints ------------

def config_errors(r, path):
    """The FILE:LINE: error lines of a -t run."""
    assert r.returncode == 1, f"exit {r.returncode}\nstderr:{r.stderr}"
    return [l for l in r.stderr.splitlines() if l.startswith(f"{path}:")]


@pytest.mark.parametrize("indent", ["    ", "\t", " "])
def test_indented_keys_accepted(certs, tmp_path, gatehouse_bin, indent):
    """Indentation is layout: indented keys and headers load like the rest
    (they used to be taken for continuation lines)."""
    lines = [indent + l if "=" in l or l.startswith("[listener") else l
             for l in base_lines(certs)]
    p = write(tmp_path, lines)
    r = check(p)
    assert r.returncode == 0, r.stderr


def test_indented_key_is_a_key(certs, tmp_path, gatehouse_bin):
    """An indented key is the key itself: given twice, it is a duplicate."""
    lines = base_lines(certs) + ["    backend = 127.0.0.1:10"]
    p = write(tmp_path, lines)
    errs = config_errors(check(p), p)
    assert errs == [f"{p}:{len(lines)}: backend: duplicate key (first set at line "
                    f"{LINE['backend']})"], errs


def test_duplicate_key_names_the_first_line(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs) + ["", "mode = http"]
    p = write(tmp_path, lines)
    assert_error(check(p), p, len(lines), "mode", mention=f"first set at line {LINE['mode']}")


@pytest.mark.parametrize("typo,key", [("idle_timout", "idle_timeout"),
                                      ("backend_reuze", "backend_reuse"),
                                      ("bakcend", "backend"),
                                      ("max_header", "max_headers"),
                                      ("colour", None)])
def test_unknown_key_suggests_the_nearest(certs, tmp_path, gatehouse_bin, typo, key):
    lines = base_lines(certs)
    lines.append(f"{typo} = 1")
    p = write(tmp_path, lines)
    errs = config_errors(check(p), p)
    assert len(errs) == 1, errs
    assert errs[0].startswith(f"{p}:{len(lines)}: {typo}: unknown key in [listener:web]"), errs
    if key:
        assert errs[0].endswith(f"did you mean {key}?"), errs
    else:
        assert "did you mean" not in errs[0], errs


def test_global_typo_suggests_a_global_key(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs)
    line = set_global(lines, "worker", "2")
    p = write(tmp_path, lines)
    errs = config_errors(check(p), p)
    assert errs == [f"{p}:{line}: worker: unknown key in [global]; did you mean workers?"], errs


ONE_MISTAKE = {
    # a refused mode: the keys that depend on it are not judged against tcp
    "mode": (["mode = htp", "max_headers = 10", "header_timeout = 5s"], "mode"),
    # a refused buffer_size is not "smaller than the head needs"
    "buffer_size": (["mode = http", "buffer_size = lots"], "buffer_size"),
    # a refused proxy_trusted is not "missing" for accept_proxy
    "proxy_trusted": (["accept_proxy = v2", "proxy_trusted = 10.0.0.0/99"], "proxy_trusted"),
    # a refused trusted_proxies is not "missing" for forwarded_for = append
    "trusted_proxies": (["mode = http", "forwarded_for = append",
                         "trusted_proxies = 10.0.0.0/99"], "trusted_proxies"),
    # an indented key is not a continuation line (nor then a missing key)
    "indent": (["mode = http", "  hsts = includeSubDomains"], "hsts"),
}


@pytest.mark.parametrize("case", sorted(ONE_MISTAKE))
def test_one_mistake_one_error(certs, tmp_path, gatehouse_bin, case):
    extra, key = ONE_MISTAKE[case]
    lines = [l for l in base_lines(certs) if not l.startswith("mode =")] + extra
    bad = next(i + 1 for i, l in enumerate(lines) if l.strip().startswith(key + " ="))
    p = write(tmp_path, lines)
    errs = config_errors(check(p), p)
    assert len(errs) == 1 and errs[0].startswith(f"{p}:{bad}: {key}: "), errs


def test_cert_section_bad_path_one_error(certs, tmp_path, gatehouse_bin):
    """cert = (empty) in [cert:NAME] is refused once, not also "missing"."""
    lines = base_lines(certs) + ["[cert:other]", "cert =", f"key = {certs.ec_key}"]
    p = write(tmp_path, lines)
    errs = config_errors(check(p), p)
    assert errs == [f"{p}:{len(lines) - 1}: cert: empty path"], errs


def test_key_of_another_section_says_where_it_belongs(certs, tmp_path, gatehouse_bin):
    lines = base_lines(certs)
    in_global = set_global(lines, "backlog", "10")
    lines.append("workers = 2")
    lines.append("names = www.example")
    p = write(tmp_path, lines)
    errs = config_errors(check(p), p)
    assert errs == [
        f"{p}:{in_global}: backlog: unknown key in [global]; it belongs in [listener:NAME]",
        f"{p}:{len(lines) - 1}: workers: unknown key in [listener:web]; it belongs in [global]",
        f"{p}:{len(lines)}: names: unknown key in [listener:web]; it belongs in [cert:NAME]",
    ], errs
