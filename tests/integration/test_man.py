"""The man pages built from config/man (meson, scdoc): each renders with no
warning from man/groff, gatehouse.ini(5) lists every key of the loader's
key table under its section, and gatehouse(8) documents every option that
`gatehouse --help` shows.

The pages are read from the build dir of the binary under test
(GATEHOUSE_BIN's directory). The key list is read from src/config.c's
key_table rows directly, not through the generator that wrote the page, so
a generator that leaves keys out is caught."""

import os
import re
import subprocess
from pathlib import Path

import pytest

from ghutil import GATEHOUSE_BIN, REPO, run_gatehouse

BUILD = Path(GATEHOUSE_BIN).resolve().parent
PAGES = ["gatehouse.8", "gatehouse.ini.5", "gatehouse-audit.1", "gatehouse-crypto-speed.1"]
# ASCII output, wide lines: keys and options are never hyphenated or
# turned into Unicode dashes.
MAN_ENV = dict(os.environ, LC_ALL="C", MANWIDTH="200", MAN_KEEP_FORMATTING="",
               MANPAGER="cat", PAGER="cat")

ROW_RE = re.compile(r'^\s*\{"([a-z0-9_]+)",\s*(GLOBAL|LISTENER|CERT)\(', re.M)
SECTION_TITLES = {"GLOBAL": "[global]", "LISTENER": "[listener:NAME]", "CERT": "[cert:NAME]"}


def table_keys():
    """(section macro, key) for every row of key_table, in table order."""
    text = (REPO / "src" / "config.c").read_text()
    start = text.index("static const struct key_row key_table[]")
    end = text.index("};", start)
    rows = ROW_RE.findall(text[start:end])
    assert len(rows) > 50, f"key_table rows not recognised in src/config.c ({len(rows)})"
    return [(sec, key) for key, sec in rows]


def page(name):
    p = BUILD / name
    if not p.is_file():
        pytest.fail(f"{p} was not built (scdoc missing? configure with -Dman=enabled)")
    return p


def render(name):
    r = subprocess.run(["man", "--warnings", "-l", str(page(name))], env=MAN_ENV,
                       capture_output=True, text=True, timeout=30)
    return r


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_without_warnings(name):
    r = render(name)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", f"man --warnings on {name}:\n{r.stderr}"
    assert "NAME" in r.stdout and "SEE ALSO" in r.stdout, r.stdout[:500]


def sections_of(text):
    """Rendered gatehouse.ini(5) split at its [section] headings."""
    out = {}
    titles = list(SECTION_TITLES.values())
    for i, title in enumerate(titles):
        m = re.search(r"^ {0,4}" + re.escape(title) + r"\s*$", text, re.M)
        assert m, f"heading {title} missing from gatehouse.ini(5)"
        nxt = len(text)
        for later in titles[i + 1:]:
            n = re.search(r"^ {0,4}" + re.escape(later) + r"\s*$", text, re.M)
            if n:
                nxt = min(nxt, n.start())
        see = text.find("\nEXAMPLE", m.end())
        if see != -1:
            nxt = min(nxt, see)
        out[title] = text[m.end():nxt]
    return out


def test_ini_page_lists_every_key_of_the_table_in_its_section():
    r = render("gatehouse.ini.5")
    assert r.returncode == 0, r.stderr
    body = sections_of(r.stdout)
    missing = []
    for sec, key in table_keys():
        part = body[SECTION_TITLES[sec]]
        # each key is an entry of its own: its name alone on a line
        if not re.search(r"^\s+" + re.escape(key) + r"\s*$", part, re.M):
            missing.append(f"{SECTION_TITLES[sec]} {key}")
    assert not missing, "keys of src/config.c missing from gatehouse.ini(5): " + ", ".join(missing)


def test_ini_page_states_defaults_and_ranges_from_the_table():
    text = render("gatehouse.ini.5").stdout
    flat = re.sub(r"\s+", " ", text)
    # rows whose range and default are in the table: the page must say them
    for key, expect in [("workers", "whole number, 1 .. 64. Default: 1."),
                        ("buffer_size", "size, 4k .. 1m. Default: 16k."),
                        ("shutdown_grace", "duration, 0 .. 1h. Default: 30s."),
                        ("mode", "one of: tcp | http | redirect. Default: tcp.")]:
        assert f"{key} {expect}" in flat, f"{key}: expected '{expect}'"


def test_gatehouse_8_documents_every_help_option():
    help_text = run_gatehouse(["--help"]).stdout
    options = sorted(set(re.findall(r"(?<![\w-])(-[A-Za-z])\b", help_text)))
    assert options, f"no options found in --help:\n{help_text}"
    text = render("gatehouse.8").stdout
    section = text[text.index("OPTIONS"):text.index("SIGNALS")]
    undocumented = [o for o in options
                    if not re.search(r"^\s+" + re.escape(o) + r"\b", section, re.M)]
    assert not undocumented, f"options of --help not in gatehouse(8) OPTIONS: {undocumented}"


def test_ini_page_explains_every_key():
    """Each key's entry has its facts and a paragraph of explanation (taken
    from the example config's comment above the key)."""
    body = sections_of(render("gatehouse.ini.5").stdout)
    bare = []
    for sec, key in table_keys():
        part = body[SECTION_TITLES[sec]]
        m = re.search(r"^(\s+)" + re.escape(key) + r"\s*$", part, re.M)
        assert m, key
        # the entry: its indented lines up to the next line at the key's indent
        entry = []
        for line in part[m.end():].splitlines()[1:]:
            if line.strip() and len(line) - len(line.lstrip()) <= len(m.group(1)):
                break
            entry.append(line)
        paragraphs = [p for p in "\n".join(entry).split("\n\n") if p.strip()]
        if len(paragraphs) < 2 or len(paragraphs[1].split()) < 3:
            bare.append(f"{SECTION_TITLES[sec]} {key}")
    assert not bare, "keys without an explanation in gatehouse.ini(5): " + ", ".join(bare)
