#!/usr/bin/env python3
"""Summarise a bench/run.sh raw.tsv: medians, per-core rates, gatehouse ratios.

usage: bench/report.py RAW.tsv [PROXY ...] [--max-other F]

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
nr = max((len(vals[p]["ka_rps"]) for p in names), default=0)
out.append(f"Medians over {nr} round(s); per-core = rate / proxy CPU share (user+sys of its "
           f"process tree). Rounds with CPU 1 more than {args.max_other:.0%} busy with other "
           "work are left out when a clean one exists.")
out.append("")
out.append(line("", names))
for label, m, cpu, pre, d in ROWS:
    out.append(line(label + " (raw)", [fmt(rate_med(p, m, pre), d) for p in names]))
    out.append(line("  proxy CPU share", [fmt(share_med(p, m, cpu, pre), 2) for p in names]))
    out.append(line("  per fully used proxy core", [fmt(percore_med(p, m, cpu, pre), d) for p in names]))
    out.append(line("  rounds used (clean/all)",
                    ["{1}/{2}".format(*rounds(p, pre, m)) if vals[p][m] else "-" for p in names]))
out.append(line("keep-alive p99 latency ms", [fmt(rate_med(p, "ka_p99_ms", "ka"), 2) for p in names]))
out.append(line("handshake p99 latency ms", [fmt(rate_med(p, "hs_p99_ms", "hs"), 2) for p in names]))
out.append(line("RSS KiB per idle TLS 1.3 conn", [fmt(med(list(vals[p]["rss_kib_per_conn"].values())), 1)
                                                  for p in names]))
out.append(line("RSS KiB before (fresh process)", [fmt(med(list(vals[p]["rss_base_kib"].values())), 0)
                                                   for p in names]))
out.append("")
out.append(f"Plaintext ceiling (wrk straight to nginx, no TLS): {fmt(plain_med('ka_rps'))} req/s, "
           f"p99 {fmt(plain_med('ka_p99_ms'), 2)} ms")
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
        out.append(f"    {p:<12}{c}")

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

if "gatehouse" in names and len(names) > 1:
    anchors = [p for p in names if p != "gatehouse"]
    out.append("")
    out.append("gatehouse / anchor (>1 = gatehouse better; for RSS and latency <1 is better)")
    out.append(line("", anchors))

    def ratio(a, b):
        return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"

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
print("\n".join(out))
