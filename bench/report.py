#!/usr/bin/env python3
"""Summarise a bench/run.sh raw.tsv: medians, per-core rates, gatehouse ratios.

usage: bench/report.py RAW.tsv [PROXY ...] [--max-other F]

Two ratio tables: gatehouse (tcp mode) against the TLS-offload anchors, and
"http mode": gatehouse-http against haproxy-http (target >= 1.0x) and against
gatehouse in tcp mode (target >= 0.9x).

A rate measured while other processes (or softirq) kept CPU 1 busy for more
than F of the time (default 0.25) is "disturbed": medians use only the
undisturbed rounds when there is at least one, and say how many were used.
"""
import argparse
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
proxies = args.proxies or [p for p in order if p not in ("plain", "machine")]
names = [p for p in proxies if vals[p]]
HTTP = ("gatehouse-http", "haproxy-http")  # proxies in HTTP mode: not anchors of the tcp table

# row label, rate metric, cpu metric, prefix of the row's other metrics, decimals
ROWS = [("keep-alive 1 KiB req/s", "ka_rps", "ka_cpu", "ka", 0),
        ("full handshakes/s + GET (TLS 1.3)", "hs_rate", "hs_cpu", "hs", 0),
        ("bulk 1 MiB MiB/s", "bulk_mibs", "bulk_cpu", "bulk", 0)]


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
out.append(line("", names))
# rows that were measured (bench/run.sh --rows can leave some out)
ROWS = [row for row in ROWS if any(vals[p][row[1]] for p in names)]
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
         if (k.endswith("errors") or k in ("hs_resumed", "rss_dropped", "start_failed",
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


anchors = [p for p in names if p != "gatehouse" and p not in HTTP]
if "gatehouse" in names and anchors:
    out.append("")
    out.append("gatehouse / anchor (>1 = gatehouse better; for RSS and latency <1 is better)")
    out.append(line("", anchors))

    for label, m, cpu, pre, d in ROWS:
        g = percore_med("gatehouse", m, cpu, pre)
        out.append(line(label + ", per core", [ratio(g, percore_med(a, m, cpu, pre)) for a in anchors]))
        g = rate_med("gatehouse", m, pre)
        out.append(line(label + ", raw", [ratio(g, rate_med(a, m, pre)) for a in anchors]))
    g = med(list(vals["gatehouse"]["rss_kib_per_conn"].values()))
    out.append(line("RSS per idle connection",
                    [ratio(g, med(list(vals[a]["rss_kib_per_conn"].values()))) for a in anchors]))
    g = rate_med("gatehouse", "ka_p99_ms", "ka")
    out.append(line("keep-alive p99 latency", [ratio(g, rate_med(a, "ka_p99_ms", "ka")) for a in anchors]))
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


def cpu1_med(p):
    add_cpu1(p, "ka")
    return percore_med(p, "ka_rps", "ka_cpu1", "ka")


if "gatehouse-http" in names:
    g = "gatehouse-http"
    # reference, label, target for rates (p99 target: the same margin, inverted)
    refs = [(r, lab, t) for r, lab, t in (("haproxy-http", "vs haproxy-http", 1.0),
                                         ("gatehouse", "vs gatehouse (tcp)", 0.9))
            if r in names]
    if refs:
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
print("\n".join(x for x in out if x is not None))
