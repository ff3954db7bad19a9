#!/usr/bin/env python3
"""Summarise a bench/run.sh raw.tsv: medians, per-core rates, gatehouse ratios.

usage: bench/report.py RAW.tsv [PROXY ...] [--max-other F]

Two ratio tables: gatehouse (tcp mode) against the TLS-offload anchors, and
"http mode": gatehouse-http against haproxy-http (target >= 1.0x) and against
gatehouse in tcp mode (target >= 0.9x).

With the post row: keep-alive POSTs with a 1 KiB body through the http-mode
proxies, and the ratios gatehouse-http (backend_reuse = safe: a new backend
connection per request with a body) / haproxy-http, gatehouse-http-reuse
(backend_reuse = always) / haproxy-http, and gatehouse-http /
gatehouse-http-reuse (the price of safe), with backend connects per request.

With the hs-matrix rows: full and resumed handshakes/s of the tcp-mode
proxies (ECDSA/RSA x TLS 1.3/1.2), gatehouse's ratio to each anchor, and its
full ECDSA TLS 1.3 figure per core as a fraction of what the linked wolfSSL's
ECDSA sign + key-share speed allows on one core (target >= 0.80; the speeds
come from "gatehouse-crypto-speed", proxy "crypto" in raw.tsv, and the
key-share group from negotiated.tsv next to raw.tsv).

With bench/run.sh --baseline: gatehouse-base and gatehouse-http-base ran the
old binary in the same rounds, next to gatehouse and gatehouse-http; a table
of new / base per row (per core, raw, and the per-round ratios), target:
within 3 % (>= 0.97x for rates, <= 1.03x for p99 latency and RSS).

A rate measured while other processes (or softirq) kept CPU 1 busy for more
than F of the time (default 0.25) is "disturbed": medians use only the
undisturbed rounds when there is at least one, and say how many were used.
"""
import argparse
import os
import statistics
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("raw")
ap.add_argument("proxies", nargs="*")
ap.add_argument("--max-other", type=float, default=0.25)
args = ap.parse_args()

vals = defaultdict(lambda: defaultdict(dict))  # proxy -> metric -> round -> value
order = []
with open(args.raw) as f:
    next(f)
    for line in f:
        r, p, m, v = line.rstrip("\n").split("\t")
        if p not in order:
            order.append(p)
        try:
            vals[p][m][int(r)] = float(v)
        except ValueError:
            pass
proxies = args.proxies or [p for p in order if p not in ("plain", "machine", "crypto")]
names = [p for p in proxies if vals[p]]
HTTP = ("gatehouse-http", "haproxy-http", "gatehouse-audit", "gatehouse-http-reuse",
        "gatehouse-http-base")  # HTTP mode: not anchors of the tcp table
BASE_SUFFIX = "-base"  # --baseline: the old binary (not an anchor either)

# row label, rate metric, cpu metric, prefix of the row's other metrics, decimals
ROWS = [("keep-alive 1 KiB req/s", "ka_rps", "ka_cpu", "ka", 0),
        ("full handshakes/s + GET (TLS 1.3)", "hs_rate", "hs_cpu", "hs", 0),
        ("bulk 1 MiB MiB/s", "bulk_mibs", "bulk_cpu", "bulk", 0),
        ("keep-alive POST 1 KiB body req/s", "post_rps", "post_cpu", "post", 0)]


def med(xs):
    return statistics.median(xs) if xs else None


def rounds(p, prefix, metric):
    """rounds to use for a row: the undisturbed ones when there are any"""
    have = sorted(vals[p][metric])
    other = vals[p][prefix + "_cpu1_other"]
    clean = [r for r in have if other.get(r, 0) <= args.max_other]
    return (clean or have), len(clean), len(have)


def rate_med(p, metric, prefix):
    rs, _, _ = rounds(p, prefix, metric)
    return med([vals[p][metric][r] for r in rs])


def share_med(p, metric, cpu, prefix):
    rs, _, _ = rounds(p, prefix, metric)
    return med([vals[p][cpu][r] for r in rs if r in vals[p][cpu]])


def percore_med(p, metric, cpu, prefix):
    rs, _, _ = rounds(p, prefix, metric)
    return med([vals[p][metric][r] / vals[p][cpu][r] for r in rs
                if vals[p][cpu].get(r, 0) > 0])


def plain_med(metric):
    return med(list(vals["plain"][metric].values()))


def fmt(v, d=0):
    return "-" if v is None else f"{v:,.{d}f}"


w = max([12] + [len(n) + 2 for n in names])


def line(label, cells):
    return f"{label:<44}" + "".join(f"{c:>{w}}" for c in cells)


out = []
nr = len({r for p in names for m in vals[p].values() for r in m})
out.append(f"Medians over {nr} round(s); per-core = rate / proxy CPU share (user+sys of its "
           f"process tree). Rounds with CPU 1 more than {args.max_other:.0%} busy with other "
           "work are left out when a clean one exists.")
out.append("")
# rows that were measured (bench/run.sh --rows can leave some out)
ROWS = [row for row in ROWS if any(vals[p][row[1]] for p in names)]
BASIC = bool(ROWS) or any(vals[p][m] for p in names for m in ("rss_kib_per_conn", "ka_p99_ms", "hs_p99_ms"))
if BASIC:  # not with --rows hs-matrix alone: that has its own tables below
    out.append(line("", names))
for label, m, cpu, pre, d in ROWS:
    out.append(line(label + " (raw)", [fmt(rate_med(p, m, pre), d) for p in names]))
    out.append(line("  proxy CPU share", [fmt(share_med(p, m, cpu, pre), 2) for p in names]))
    out.append(line("  per fully used proxy core", [fmt(percore_med(p, m, cpu, pre), d) for p in names]))
    out.append(line("  rounds used (clean/all)",
                    ["{1}/{2}".format(*rounds(p, pre, m)) if vals[p][m] else "-" for p in names]))


def measured(metric):
    return any(vals[p][metric] for p in names)


if measured("ka_p99_ms"):
    out.append(line("keep-alive p99 latency ms", [fmt(rate_med(p, "ka_p99_ms", "ka"), 2) for p in names]))
if measured("post_p99_ms"):
    out.append(line("keep-alive POST p99 latency ms", [fmt(rate_med(p, "post_p99_ms", "post"), 2) for p in names]))
if measured("post_backend_connects_per_req"):
    out.append(line("POST: backend connects per request",
                    [fmt(med(list(vals[p]["post_backend_connects_per_req"].values())), 3) for p in names]))
if measured("hs_p99_ms"):
    out.append(line("handshake p99 latency ms", [fmt(rate_med(p, "hs_p99_ms", "hs"), 2) for p in names]))
if measured("rss_kib_per_conn"):
    out.append(line("RSS KiB per idle TLS 1.3 conn", [fmt(med(list(vals[p]["rss_kib_per_conn"].values())), 1)
                                                      for p in names]))
    out.append(line("RSS KiB before (fresh process)", [fmt(med(list(vals[p]["rss_base_kib"].values())), 0)
                                                       for p in names]))
out.append("")
if vals["plain"]["ka_rps"]:
    out.append(f"Plaintext ceiling (wrk straight to nginx, no TLS): {fmt(plain_med('ka_rps'))} req/s, "
               f"p99 {fmt(plain_med('ka_p99_ms'), 2)} ms")
else:
    out.append("Plaintext ceiling: not measured (--rows without plain)")
if ROWS:
    out.append("")
    out.append("All rounds, raw rates min..max (load by others on CPU 1 min..max):")
for label, m, cpu, pre, d in ROWS:
    cells = []
    for p in names:
        xs = list(vals[p][m].values())
        os_ = list(vals[p][pre + "_cpu1_other"].values())
        if not xs:
            cells.append("-")
            continue
        s = f"{min(xs):.0f}..{max(xs):.0f}"
        if os_:
            s += f" ({min(os_):.2f}..{max(os_):.2f})"
        cells.append(s)
    out.append(f"  {label}")
    for p, c in zip(names, cells):
        out.append(f"    {p:<{w}}{c}")

errs = []
for p in names:
    e = {k: int(sum(v.values())) for k, v in vals[p].items()
         if (k.endswith("errors") or k.endswith("_full_resumed")
             or k in ("hs_resumed", "rss_dropped", "start_failed",
                                           "smoke_failed", "died"))
         and sum(v.values())}
    if e:
        errs.append(f"  {p}: " + ", ".join(f"{k}={v}" for k, v in sorted(e.items())))
busy = len(vals["machine"]["busy_before_round"])
if busy:
    errs.append(f"  machine: busy with other work before {busy} round(s): figures are noisy")
if errs:
    out.append("")
    out.append("Errors / anomalies (summed over rounds):")
    out += errs


def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"


anchors = [p for p in names if p != "gatehouse" and p not in HTTP and not p.endswith(BASE_SUFFIX)]
if "gatehouse" in names and anchors and BASIC:
    out.append("")
    out.append("gatehouse / anchor (>1 = gatehouse better; for RSS and latency <1 is better)")
    out.append(line("", anchors))

    for label, m, cpu, pre, d in ROWS:
        if not vals["gatehouse"][m]:
            continue  # a row of the http-mode proxies only (post)
        g = percore_med("gatehouse", m, cpu, pre)
        out.append(line(label + ", per core", [ratio(g, percore_med(a, m, cpu, pre)) for a in anchors]))
        g = rate_med("gatehouse", m, pre)
        out.append(line(label + ", raw", [ratio(g, rate_med(a, m, pre)) for a in anchors]))
    if measured("rss_kib_per_conn"):
        g = med(list(vals["gatehouse"]["rss_kib_per_conn"].values()))
        out.append(line("RSS per idle connection",
                        [ratio(g, med(list(vals[a]["rss_kib_per_conn"].values()))) for a in anchors]))
    if measured("ka_p99_ms"):
        g = rate_med("gatehouse", "ka_p99_ms", "ka")
        out.append(line("keep-alive p99 latency", [ratio(g, rate_med(a, "ka_p99_ms", "ka")) for a in anchors]))
    if measured("hs_p99_ms"):
        g = rate_med("gatehouse", "hs_p99_ms", "hs")
        out.append(line("handshake p99 latency", [ratio(g, rate_med(a, "hs_p99_ms", "hs")) for a in anchors]))


def round_ratios(a, b, metric, prefix, cpu=None):
    """min..max of the per-round ratios a/b (same round: both ran minutes apart
    at most), over rounds where both are undisturbed (all rounds if none is)"""
    def per(p):
        rs, _, _ = rounds(p, prefix, metric)
        d = {}
        for r in rs:
            v = vals[p][metric][r]
            if cpu is not None:
                c = vals[p][cpu].get(r, 0)
                if c <= 0:
                    continue
                v = v / c
            d[r] = v
        return d
    x, y = per(a), per(b)
    rs = [r for r in x if r in y and y[r]]
    if len(rs) < 2:
        return ""
    qs = [x[r] / y[r] for r in rs]
    return f" ({min(qs):.2f}..{max(qs):.2f})"


def verdict(q, target, higher_better=True):
    if q is None:
        return ""
    ok = q >= target if higher_better else q <= target
    return " ok" if ok else (" BELOW" if higher_better else " ABOVE")


def add_cpu1(p, prefix):
    """metric PREFIX_cpu1 = proxy share + others on CPU 1: everything CPU 1 did
    during the row, softirq included, charged to the proxy (an upper bound of
    its cost; the proxy's own figure leaves out softirq it caused)"""
    for r, c in vals[p][prefix + "_cpu"].items():
        vals[p][prefix + "_cpu1"][r] = c + vals[p][prefix + "_cpu1_other"].get(r, 0)


def cpu1_med(p, prefix="ka"):
    add_cpu1(p, prefix)
    return percore_med(p, prefix + "_rps", prefix + "_cpu1", prefix)


if "gatehouse-http" in names:
    g = "gatehouse-http"
    # reference, label, target for rates (p99 target: the same margin, inverted)
    refs = [(r, lab, t) for r, lab, t in (("haproxy-http", "vs haproxy-http", 1.0),
                                         ("gatehouse", "vs gatehouse (tcp)", 0.9))
            if r in names]
    # not with --rows post alone: that row has its own table below
    if refs and any(vals[g][m] for m in ("ka_rps", "bulk_mibs", "hs_rate", "rss_kib_per_conn")):
        cw = 28

        def hline(label, cells):
            if all(c == "-" for c in cells):
                return None  # row not measured
            return f"{label:<42}" + "".join(f"{c:>{cw}}" for c in cells)

        def cell(a, b, target, higher_better, extra=""):
            if a is None or b is None or b == 0:
                return "-"
            q = a / b
            return f"{q:.2f}x" + (verdict(q, target, higher_better) if target else "") + extra

        out.append("")
        out.append("http mode: gatehouse-http / reference (>1 = gatehouse-http better for rates,")
        out.append("<1 better for p99; per-round ratios min..max in parentheses)")
        out.append(hline("", [lab for _, lab, _ in refs]))
        out.append(hline("  target", [f">= {t:.2f}x (p99 <= {2 - t:.2f}x)" for _, _, t in refs]))
        out.append(hline("keep-alive 1 KiB req/s, per core",
                         [cell(percore_med(g, "ka_rps", "ka_cpu", "ka"), percore_med(r, "ka_rps", "ka_cpu", "ka"),
                               t, True, round_ratios(g, r, "ka_rps", "ka", "ka_cpu")) for r, _, t in refs]))
        out.append(hline("  per busy CPU 1 (conservative)",
                         [cell(cpu1_med(g), cpu1_med(r), t, True, round_ratios(g, r, "ka_rps", "ka", "ka_cpu1"))
                          for r, _, t in refs]))
        out.append(hline("keep-alive 1 KiB req/s, raw",
                         [cell(rate_med(g, "ka_rps", "ka"), rate_med(r, "ka_rps", "ka"),
                               t, True, round_ratios(g, r, "ka_rps", "ka")) for r, _, t in refs]))
        out.append(hline("keep-alive p99 latency",
                         [cell(rate_med(g, "ka_p99_ms", "ka"), rate_med(r, "ka_p99_ms", "ka"),
                               2 - t, False, round_ratios(g, r, "ka_p99_ms", "ka")) for r, _, t in refs]))
        out.append(hline("bulk 1 MiB MiB/s, per core (no target)",
                         [cell(percore_med(g, "bulk_mibs", "bulk_cpu", "bulk"),
                               percore_med(r, "bulk_mibs", "bulk_cpu", "bulk"), None, True,
                               round_ratios(g, r, "bulk_mibs", "bulk", "bulk_cpu")) for r, _, _ in refs]))
        out.append(hline("bulk 1 MiB MiB/s, raw (no target)",
                         [cell(rate_med(g, "bulk_mibs", "bulk"), rate_med(r, "bulk_mibs", "bulk"), None, True,
                               round_ratios(g, r, "bulk_mibs", "bulk")) for r, _, _ in refs]))
        if vals[g]["hs_rate"]:
            out.append(hline("handshakes/s + GET, per core (no target)",
                             [cell(percore_med(g, "hs_rate", "hs_cpu", "hs"),
                                   percore_med(r, "hs_rate", "hs_cpu", "hs"), None, True) for r, _, _ in refs]))
        out.append(hline("RSS per idle connection (no target)",
                         [cell(med(list(vals[g]["rss_kib_per_conn"].values())),
                               med(list(vals[r]["rss_kib_per_conn"].values())), None, False)
                          for r, _, _ in refs]))
        out.append("Rates through a proxy are client-bound on CPU 0 (see the CPU shares above): the targets are")
        out.append("meant for the per-core ratio. \"per busy CPU 1\" charges all other work CPU 1 did meanwhile")
        out.append("(softirq, other processes) to the proxy: a pessimistic bound. Raw: did the client notice.")
if "gatehouse-audit" in names and "gatehouse-http" in names:
    a, g = "gatehouse-audit", "gatehouse-http"
    out.append("")
    out.append("audit log: gatehouse-audit (http mode, audit file on disk, fsync interval)")
    out.append("        / gatehouse-http (the same without the audit log); target >= 0.90x")
    for label, m, c, pre in (("keep-alive 1 KiB req/s, per core", "ka_rps", "ka_cpu", "ka"),
                             ("keep-alive 1 KiB req/s, raw", "ka_rps", None, "ka")):
        x = percore_med(a, m, c, pre) if c else rate_med(a, m, pre)
        y = percore_med(g, m, c, pre) if c else rate_med(g, m, pre)
        if x is None or not y:
            continue
        q = x / y
        out.append(f"{label:<42}{q:>10.2f}x{verdict(q, 0.9)}{round_ratios(a, g, m, pre, c)}")

# post row: what a request body costs. gatehouse-http (backend_reuse = safe)
# opens a backend connection for every request with a body; gatehouse-http-reuse
# (always) and haproxy-http (http-reuse never, but it keeps its connection)
# reuse theirs. No target: safe does more work than HAProxy by design.
POST_PAIRS = [(a, b, lab) for a, b, lab in
              (("gatehouse-http", "haproxy-http", "gatehouse-http / haproxy-http"),
               ("gatehouse-http-reuse", "haproxy-http", "gatehouse-http-reuse / haproxy-http"),
               ("gatehouse-http", "gatehouse-http-reuse", "gatehouse-http / gatehouse-http-reuse"))
              if a in names and b in names and vals[a]["post_rps"] and vals[b]["post_rps"]]
if POST_PAIRS:
    out.append("")
    out.append("keep-alive POST, 1 KiB body (post row): ratio of the medians (>1 = first better for rates,")
    out.append("<1 better for p99; per-round ratios min..max in parentheses; no target)")
    cw = 22
    out.append(f"{'':<40}" + "".join(f"{c:>{cw}}" for c in
                                      ("per core", "per busy CPU 1", "raw", "p99")))

    def pcell(a, b, extra=""):
        return "-" if a is None or not b else f"{a / b:.2f}x{extra}"

    for a, b, lab in POST_PAIRS:
        cells = [pcell(percore_med(a, "post_rps", "post_cpu", "post"), percore_med(b, "post_rps", "post_cpu", "post"),
                       round_ratios(a, b, "post_rps", "post", "post_cpu")),
                 pcell(cpu1_med(a, "post"), cpu1_med(b, "post"),
                       round_ratios(a, b, "post_rps", "post", "post_cpu1")),
                 pcell(rate_med(a, "post_rps", "post"), rate_med(b, "post_rps", "post"),
                       round_ratios(a, b, "post_rps", "post")),
                 pcell(rate_med(a, "post_p99_ms", "post"), rate_med(b, "post_p99_ms", "post"),
                       round_ratios(a, b, "post_p99_ms", "post"))]
        out.append(f"{lab:<40}" + "".join(f"{c:>{cw}}" for c in cells))
    if any(b == "gatehouse-http-reuse" for _, b, _ in POST_PAIRS):
        out.append("gatehouse-http / gatehouse-http-reuse is the price of backend_reuse = safe: one backend connect")
        out.append("(and close) per request with a body; see \"POST: backend connects per request\" above.")

# ---------------------------------------------------------------- baseline
# --baseline: the new binary / the old one, same rows, same rounds
BASE_PAIRS = [(p, p + BASE_SUFFIX) for p in ("gatehouse", "gatehouse-http") if p in names and p + BASE_SUFFIX in names]
BASE_TARGET = 0.97  # "within 3 %"
if BASE_PAIRS:
    out.append("")
    out.append("baseline: new / old binary, same rounds (>1 = new better for rates, <1 better for p99 and")
    out.append(f"RSS; target within 3 %: >= {BASE_TARGET:.2f}x for rates, <= {2 - BASE_TARGET:.2f}x for p99/RSS;"
               " per-round ratios min..max in parentheses)")
    cw = 30
    out.append(f"{'':<42}" + "".join(f"{f'{a} / base':>{cw}}" for a, _ in BASE_PAIRS))

    def bcell(x, y, higher_better, extra=""):
        if x is None or not y:
            return "-"
        q = x / y
        return f"{q:.3f}x{verdict(q, BASE_TARGET if higher_better else 2 - BASE_TARGET, higher_better)}{extra}"

    for label, m, cpu, pre, d in ROWS:
        if not any(vals[a][m] and vals[b][m] for a, b in BASE_PAIRS):
            continue
        out.append(f"{label + ', per core':<42}" + "".join(
            f"{bcell(percore_med(a, m, cpu, pre), percore_med(b, m, cpu, pre), True, round_ratios(a, b, m, pre, cpu)):>{cw}}"
            for a, b in BASE_PAIRS))
        out.append(f"{label + ', raw':<42}" + "".join(
            f"{bcell(rate_med(a, m, pre), rate_med(b, m, pre), True, round_ratios(a, b, m, pre)):>{cw}}"
            for a, b in BASE_PAIRS))
    for label, m, pre in (("keep-alive p99 latency", "ka_p99_ms", "ka"), ("handshake p99 latency", "hs_p99_ms", "hs")):
        if any(vals[a][m] and vals[b][m] for a, b in BASE_PAIRS):
            out.append(f"{label:<42}" + "".join(
                f"{bcell(rate_med(a, m, pre), rate_med(b, m, pre), False, round_ratios(a, b, m, pre)):>{cw}}"
                for a, b in BASE_PAIRS))
    if any(vals[a]["rss_kib_per_conn"] and vals[b]["rss_kib_per_conn"] for a, b in BASE_PAIRS):
        out.append(f"{'RSS per idle connection':<42}" + "".join(
            f"{bcell(med(list(vals[a]['rss_kib_per_conn'].values())), med(list(vals[b]['rss_kib_per_conn'].values())), False):>{cw}}"
            for a, b in BASE_PAIRS))
    if nr < 3:
        out.append(f"{nr} round(s): too few for a verdict on this noisy VM; run --rounds 3 or more.")

# ---------------------------------------------------------------- hs-matrix
HSM = [(mode, key, ver) for mode in ("full", "resumed") for key in ("ecdsa", "rsa")
       for ver in ("13", "12")]


def hsm_pre(mode, key, ver):
    return f"hsm_{key}_{ver}_{mode}"


def hsm_label(mode, key, ver):
    return f"{mode:<8}{key.upper():<6}TLS 1.{ver[1]}"


tcp = [p for p in names if p not in HTTP and any(k.startswith("hsm_") for k in vals[p])]
if tcp:
    hanchors = [p for p in tcp if p != "gatehouse"]
    gh = "gatehouse" if "gatehouse" in tcp else None
    rw = max([10] + [len(a) + 5 for a in hanchors])

    def hsm_table(title, cell, ratios, d=0):
        out.append("")
        out.append(title)
        head = f"{'':<24}" + "".join(f"{p:>{w}}" for p in tcp)
        if gh and ratios:
            head += "  " + "".join(f"{'gh/' + a:>{rw}}" for a in hanchors)
        out.append(head)
        for mode, key, ver in HSM:
            pre = hsm_pre(mode, key, ver)
            if not any(vals[p][pre + "_rate"] for p in tcp):
                continue
            cells = [cell(p, pre) for p in tcp]
            row = f"{hsm_label(mode, key, ver):<24}" + "".join(f"{fmt(c, d):>{w}}" for c in cells)
            if gh and ratios:
                g = cell(gh, pre)
                row += "  " + "".join(f"{ratio(g, cell(a, pre)):>{rw}}" for a in hanchors)
            out.append(row)

    out.append("")
    out.append("Handshake matrix (hs-matrix): connect, handshake, close; 50 at a time; no request.")
    out.append("full = no session offered; resumed = each connection offers the session (ticket or")
    out.append("session ID; TLS 1.3: PSK with (EC)DHE) of the one before. Medians over the clean rounds.")
    hsm_table("handshakes/s per fully used proxy core (rate / proxy CPU share); gh/x > 1 = gatehouse faster",
              lambda p, pre: percore_med(p, pre + "_rate", pre + "_cpu", pre), True)
    hsm_table("handshakes/s, raw (what the client on CPU 0 got)",
              lambda p, pre: rate_med(p, pre + "_rate", pre), True)
    hsm_table("proxy CPU share (of CPU 1) during the load",
              lambda p, pre: share_med(p, pre + "_rate", pre + "_cpu", pre), False, 2)

    def resumed_pct(p, pre):
        hs = sum(vals[p][pre + "_handshakes"].values())
        res = sum(vals[p][pre + "_resumed"].values())
        return 100.0 * res / hs if hs else None
    hsm_table("resumed handshakes, % of all (all rounds; full must be 0; resumed: all but each of the\n"
              "50 connections' first, i.e. 100 - 50/handshakes per round)", resumed_pct, False, 1)
    cr = {p: "{}/{}".format(min(rounds(p, hsm_pre(*k), hsm_pre(*k) + "_rate")[1] for k in HSM
                               if vals[p][hsm_pre(*k) + "_rate"]),
                           max(rounds(p, hsm_pre(*k), hsm_pre(*k) + "_rate")[2] for k in HSM
                               if vals[p][hsm_pre(*k) + "_rate"]))
          for p in tcp}
    out.append(f"{'rounds used (clean/all), worst cell':<24}" + "".join(f"{cr[p]:>{w}}" for p in tcp))

    # negotiated parameters (round 1, openssl s_client with default settings)
    neg = {}
    negf = os.path.join(os.path.dirname(os.path.abspath(args.raw)), "negotiated.tsv")
    if os.path.exists(negf):
        with open(negf) as f:
            next(f, None)
            rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
        for r in rows:
            if len(r) >= 9:
                neg[(r[0], r[1], r[2])] = r
        if rows:
            out.append("")
            out.append("Negotiated by a default OpenSSL 3 client (openssl s_client, round 1; ticket = the server")
            out.append("issued a session ticket; resumed = a second s_client resumed with the first one's session):")
            out.append(f"  {'proxy':<11}{'key':<7}{'TLS':<5}{'cipher':<31}{'group':<12}{'signature':<11}ticket resumed")
            for r in rows:
                if len(r) >= 9:
                    out.append(f"  {r[0]:<11}{r[1]:<7}{r[2]:<5}{r[4]:<31}{r[5]:<12}{r[6]:<11}{r[7]:<7}{r[8]}")

    # the ceiling: what the linked wolfSSL's crypto allows on one core
    # ops per CPU second: gatehouse-crypto-speed counts per wall second, so divide by
    # its CPU share in that round (1.0 on an idle CPU 1)
    cshare = vals["crypto"]["cpu_share"]
    speeds = {m: {r: v / min(1.0, cshare[r]) if cshare.get(r, 0) > 0.2 else v
                  for r, v in vals["crypto"][m].items()}
              for m in ("ecdsa_p256_sign", "x25519", "ecdhe_p256") if vals["crypto"][m]}
    if not speeds:  # older runs: the one crypto speed run at the start
        cf = os.path.join(os.path.dirname(os.path.abspath(args.raw)), "crypto-speed.txt")
        if os.path.exists(cf):
            with open(cf) as f:
                for line in f:
                    w_ = line.split()
                    if line.startswith("ECDSA P-256 sign"):
                        speeds["ecdsa_p256_sign"] = {0: float(w_[3])}
                    elif line.startswith("ECDHE P-256"):
                        speeds["ecdhe_p256"] = {0: float(w_[2])}
                    elif line.startswith("X25519 ECDHE"):
                        speeds["x25519"] = {0: float(w_[2])}
    group = neg.get(("gatehouse", "ecdsa", "1.3"), [""] * 9)[5]
    share_op = "ecdhe_p256" if group in ("P-256", "prime256v1") else "x25519"
    pre = hsm_pre("full", "ecdsa", "13")
    if gh and "ecdsa_p256_sign" in speeds and share_op in speeds and vals[gh][pre + "_rate"]:
        sign = med(list(speeds["ecdsa_p256_sign"].values()))
        kx = med(list(speeds[share_op].values()))
        ceil = 1 / (1 / sign + 1 / kx)
        opname = {"x25519": "X25519", "ecdhe_p256": "P-256 ECDHE"}[share_op]
        g = percore_med(gh, pre + "_rate", pre + "_cpu", pre)
        out.append("")
        cs = med(list(cshare.values()))
        out.append(f"Ceiling: the linked wolfSSL on one core (gatehouse-crypto-speed on CPU 1, median of "
                   f"{len(speeds['ecdsa_p256_sign'])} run(s)"
                   + (f"; per CPU second: divided by its CPU share, median {cs:.2f}" if cs else "") + "):")
        out.append(f"  ECDSA P-256 sign {fmt(sign)}/s; X25519 key pair + shared secret "
                   f"{fmt(med(list(speeds['x25519'].values())) if 'x25519' in speeds else None)}/s; "
                   f"P-256 ECDHE {fmt(med(list(speeds['ecdhe_p256'].values())) if 'ecdhe_p256' in speeds else None)}/s")
        out.append(f"  key share negotiated in gatehouse's full ECDSA TLS 1.3 handshake: {group or '? (no negotiated.tsv)'}"
                   f" -> {opname}")
        out.append(f"  full ECDSA TLS 1.3 handshake = 1 sign + 1 {opname}: ceiling 1 / (1/{sign:.0f} + 1/{kx:.0f}) "
                   f"= {fmt(ceil)}/s per core")
        # per round (all rounds, disturbed or not): gatehouse per core / that round's ceiling
        fr = []
        for r in sorted(vals[gh][pre + "_rate"]):
            c = vals[gh][pre + "_cpu"].get(r, 0)
            s_, k_ = speeds["ecdsa_p256_sign"].get(r), speeds[share_op].get(r)
            if c > 0 and s_ and k_:
                fr.append(vals[gh][pre + "_rate"][r] / c / (1 / (1 / s_ + 1 / k_)))
        spread = f" (each round against its own ceiling: {min(fr):.2f}..{max(fr):.2f})" if len(fr) >= 2 else ""
        q = g / ceil if g else None
        out.append(f"  gatehouse full ECDSA TLS 1.3, per core: {fmt(g)}/s = "
                   f"{'-' if q is None else f'{q:.2f}'} of the ceiling (target >= 0.80){verdict(q, 0.80)}{spread}")
        # The ceiling counts crypto only; a tcp-mode proxy also pays the
        # kernel for two TCP connections per handshake (client and backend;
        # on loopback the sender's CPU also runs the receiver's softirq).
        # User space alone shows how close the TLS work itself comes.
        if any(vals[p].get(pre + "_ucpu") for p in tcp):
            out.append("  proxy CPU per full ECDSA TLS 1.3 handshake, µs (medians; = user space + kernel), and")
            out.append("  user space alone against the ceiling (handshakes per user-CPU second / ceiling):")
            for p in tcp:
                rs, _, _ = rounds(p, pre, pre + "_rate")
                rs = [r for r in rs if vals[p][pre + "_ucpu"].get(r) and vals[p][pre + "_rate"][r] > 0]
                if not rs:
                    continue
                rate_ = vals[p][pre + "_rate"]
                tot = med([vals[p][pre + "_cpu"][r] / rate_[r] * 1e6 for r in rs])
                usr = med([vals[p][pre + "_ucpu"][r] / rate_[r] * 1e6 for r in rs])
                ker = med([(vals[p][pre + "_cpu"][r] - vals[p][pre + "_ucpu"][r]) / rate_[r] * 1e6
                           for r in rs])
                out.append(f"    {p:<10}{tot:>6.0f} = {usr:>4.0f} + {ker:>4.0f}   user space alone: "
                           f"{fmt(1e6 / usr)}/s = {1e6 / usr / ceil:.2f} of the ceiling")
            out.append(f"    (the ceiling's own crypto: {1e6 / ceil:.0f} µs per handshake)")
        for a in hanchors:
            x = percore_med(a, pre + "_rate", pre + "_cpu", pre)
            q = g / x if g and x else None
            v = "" if q is None else (" ok" if q > 1 else " BELOW")
            out.append(f"  gatehouse / {a:<8} full ECDSA TLS 1.3, per core: "
                       f"{'-' if q is None else f'{q:.2f}x'} (target > 1){v}"
                       f"{round_ratios(gh, a, pre + '_rate', pre, pre + '_cpu')}")
print("\n".join(x for x in out if x is not None))
