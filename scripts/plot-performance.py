#!/usr/bin/python3
"""Plot and results tables of docs/performance.md from the JSON lines of
scripts/bench-all.sh (scripts/bench.sh lines, plus "kind" memory,
inspection and replay lines).

  scripts/plot-performance.py [IN.jsonl] [--png OUT.png] [--markdown PAGE.md]

Defaults: docs/performance.jsonl, docs/performance.png, docs/performance.md.
The page's tables between '<!-- results:begin -->' and '<!-- results:end -->'
are rewritten; nothing else on the page is touched. Needs Debian's
python3-matplotlib (scripts/setup.sh installs it).
"""
import argparse
import json
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LINE_RATE_MPPS = 14.88
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def load(path):
    bench, other = {}, {}
    for n, line in enumerate(open(path), 1):
        if not line.strip():
            continue
        try:
            r = json.loads(line)
        except ValueError as e:
            sys.exit(f"{path}:{n}: not JSON: {e}")
        if r.get("kind") is None:
            # Keyed by capture (profile and flows) and workers; the last line wins.
            bench[(r["profile"].removesuffix(".pcap"), r["flows"], r["workers"])] = r
        else:
            other.setdefault(r["kind"], []).append(r)
    if not bench:
        sys.exit(f"{path}: no scripts/bench.sh lines")
    return bench, other


def verdict(ok, text):
    return ("**met**: " if ok else "**not met**: ") + text


def captures(bench):
    """(profile, flows) in the order measured."""
    return list(dict.fromkeys((p, f) for p, f, _ in bench))


def largest(bench, profile):
    """The one-worker line of PROFILE's largest capture."""
    lines = [r for (p, _, w), r in bench.items() if p == profile and w == 1]
    return max(lines, key=lambda r: r["flows"] or 0) if lines else None


def num(value, fmt):
    """A figure, or a dash where the line has none."""
    return "–" if value is None else format(value, fmt)


def label(profile, flows):
    return f"{profile}, {flows:,} flows" if flows else profile


def targets(bench, other):
    """Rows of (target, measured, verdict) for every target of issue 5."""
    rows = []
    syn = largest(bench, "syn-flood")
    if syn:
        rows.append((f"SYN flood, {syn['flows']:,} flows, one worker: ≥ 14.88 Mpps", f"{syn['flowsentry_mpps']:.2f} Mpps",
                     verdict(syn["flowsentry_mpps"] >= LINE_RATE_MPPS,
                             f"{syn['flowsentry_mpps'] / LINE_RATE_MPPS:.2f} × line rate")))
        rows.append(("SYN flood: ≥ 0.6 × testpmd rxonly", f"{syn['ratio']:.2f} × ({syn['testpmd_rxonly_mpps']:.1f} Mpps)",
                     verdict(syn["ratio"] >= 0.6, f"ratio {syn['ratio']:.2f}")))
    if syn:
        rows.append((f"SYN flood, {syn['flows']:,} flows (issue 13): ≤ 150 cycles per packet of worker time",
                     f"{syn['cycles_per_packet']:.0f} cycles/packet",
                     verdict(syn["cycles_per_packet"] <= 150, f"{syn['cycles_per_packet']:.0f} cycles/packet")))
    mix = largest(bench, "dc-mix")
    if mix:
        rows.append(("Datacenter mix, one worker (issue 13): ≥ 0.6 × testpmd rxonly",
                     f"{mix['ratio']:.2f} × ({mix['testpmd_rxonly_mpps']:.1f} Mpps)",
                     verdict(mix["ratio"] >= 0.6, f"ratio {mix['ratio']:.2f}")))
        rows.append(("Datacenter mix: ≥ 0.8 × testpmd rxonly", f"{mix['ratio']:.2f} × ({mix['testpmd_rxonly_mpps']:.1f} Mpps)",
                     verdict(mix["ratio"] >= 0.8, f"ratio {mix['ratio']:.2f}")))
    for scan in other.get("telnet_scan", [])[-1:]:
        # Named BM_InspectFlow/1448/0 before the text-only variant was added.
        per_byte = [i for i in other.get("inspection", [])
                    if i["name"] in ("BM_InspectFlow/1448/0/1", "BM_InspectFlow/1448/0")]
        limit = [i for i in other.get("inspection", []) if i["name"] == "BM_HyperscanOnly/1448/0/1"]
        bound = f"; the inspector alone on 1448-byte segments: {per_byte[-1]['gbps']:.2f} Gbit/s" if per_byte else ""
        if per_byte and limit:
            bound += (f", {per_byte[-1]['gbps'] / limit[-1]['gbps']:.2f} × Hyperscan streaming alone over the same "
                      f"bytes ({limit[-1]['gbps']:.2f} Gbit/s)")
        rows.append((f"Telnet-heavy ({scan['flows']:,} flows, offline replay): payload scanning ≥ 10 Gbit/s per worker",
                     f"{scan['scanned_gbps_per_busy_worker']:.3f} Gbit/s per busy worker "
                     f"({scan['scanned_bytes']:,} bytes scanned, {scan['scanned_bytes_per_frame']:.0f} B per frame)",
                     verdict(scan["scanned_gbps_per_busy_worker"] >= 10,
                             f"{scan['scanned_gbps_per_busy_worker'] / 10:.3f} × target{bound}")))
    for m in other.get("memory", [])[-1:]:
        # The table is allocated and zeroed for its capacity at start, so a
        # slot is what each flow costs: its DPDK heap share is the verdict;
        # the peak RSS per slot adds the EAL's --no-huge page bookkeeping.
        heap = m.get("table_heap_bytes_per_flow")
        per_flow = heap if heap is not None else m["bytes_per_table_slot"]
        measured = (f"{heap} B per flow of DPDK heap for a 1,048,576-flow table; " if heap is not None else "")
        measured += (f"{m['bytes_per_table_slot']} B per table slot of peak RSS (1,048,576 vs 65,536 slots"
                     + ("; with --no-huge the EAL keeps a 48-byte memseg per 4 KiB page of -m" if heap is not None else "")
                     + f"); {m['bytes_per_tracked_flow']} B more of RSS per flow of a 250,000-flow replay than of a 1,000-flow one, "
                     "outside the table, which is allocated whole at start")
        rows.append(("Memory: ≤ 128 bytes per tracked flow", measured,
                     verdict(per_flow <= 128, f"{per_flow} B per flow")))
        rows.append(("1,000,000 concurrent flows per worker in a stated budget",
                     f"{per_flow * 1048576 / 2**20:.0f} MiB for a 1,048,576-flow table",
                     verdict(True, "table sized by `flow_table.capacity`, allocated at start")))
    cpus = other["machine"][-1]["cpus"] if other.get("machine") else 0
    for profile, flows in captures(bench):
        one, two = bench.get((profile, flows, 1)), bench.get((profile, flows, 2))
        if one and two and one["flowsentry_mpps"]:
            s = two["flowsentry_mpps"] / one["flowsentry_mpps"]
            t = two["testpmd_rxonly_mpps"] / one["testpmd_rxonly_mpps"] if one["testpmd_rxonly_mpps"] else 0
            measured = f"{s:.2f} × (testpmd 2 vs 1 cores: {t:.2f} ×)"
            if cpus < 3:
                rows.append((f"Scaling, {label(profile, flows)}: 2 workers ≥ 1.8 × one", measured,
                             f"**cannot be shown here**: {cpus} CPUs shared with other work, the control thread "
                             "on a worker's CPU; the method needs ≥ 3 cores"))
            else:
                rows.append((f"Scaling, {label(profile, flows)}: 2 workers ≥ 1.8 × one", measured,
                             verdict(s >= 1.8, f"{s:.2f} ×")))
    return rows


def markdown(bench, other):
    out = [BEGIN, "", "Generated by `scripts/plot-performance.py` from `docs/performance.jsonl` "
           "(`scripts/bench-all.sh`); do not edit by hand.", ""]
    first = next(iter(bench.values()))
    dates = sorted({r["date"] for r in bench.values()})
    commits = ", ".join(f"`{c}`" for c in sorted({r["commit"] for r in bench.values()}))
    out += [f"Measured {' and '.join(dates) if len(dates) < 3 else dates[0] + ' to ' + dates[-1]} on commit "
            f"{commits} (`-dirty`: with uncommitted changes), {first['runs']} alternating runs of "
            f"{first['seconds']} s each, medians."]
    for m in other.get("machine", [])[-1:]:
        out += ["", f"Machine: {m['cpu']} (family {m['cpu_family']}), {m['cpus']} CPUs ({m['threads_per_core']} thread "
                    f"per core), {m['memory_gib']} GiB, Linux {m['kernel']}, {m['os']}, DPDK {m['dpdk']}, "
                    f"Hyperscan {m['hyperscan']}; load average {m['load_average_at_start']:.1f} when the "
                    "measurements started (other work on the same CPUs)."]
    out += [""]
    out += ["| profile | flows | frames looped | workers | testpmd rxonly Mpps | flowsentry Mpps | ratio | "
            "cycles/packet | Gbit/s scanned per worker | peak RSS flowsentry / testpmd |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for profile, flows in captures(bench):
        for workers in (1, 2):
            r = bench.get((profile, flows, workers))
            if r:
                out.append(f"| {profile} | {flows or 0:,} | {r['frames']:,} | {workers} | {r['testpmd_rxonly_mpps']:.2f} | "
                           f"{r['flowsentry_mpps']:.2f} | {r['ratio']:.2f} | {r['cycles_per_packet']:.0f} | "
                           f"{num(r.get('scanned_gbps_per_worker'), '.3f')} | {r['peak_rss_mib']:.0f} / "
                           f"{num(r.get('testpmd_peak_rss_mib'), '.0f')} MiB |")
    before = [(k, r) for k, r in bench.items() if r.get("baseline_mpps")]
    if before:
        # BENCH_BASELINE: an older build run in the same loop, alternating.
        out += ["", f"Before and after, in the same runs (`BENCH_BASELINE={before[0][1]['baseline']}`, the older "
                    "build alternating with this one and testpmd):", "",
                "| profile | flows | workers | testpmd rxonly Mpps | before: Mpps, ratio, cycles/packet | "
                "after: Mpps, ratio, cycles/packet | after / before |", "|---|---|---|---|---|---|---|"]
        for profile, flows in captures(bench):
            for workers in (1, 2):
                r = bench.get((profile, flows, workers))
                if r and r.get("baseline_mpps"):
                    out.append(f"| {profile} | {flows or 0:,} | {workers} | {r['testpmd_rxonly_mpps']:.2f} | "
                               f"{r['baseline_mpps']:.2f}, {r['baseline_ratio']:.2f}, "
                               f"{r['baseline_cycles_per_packet']:.0f} | {r['flowsentry_mpps']:.2f}, {r['ratio']:.2f}, "
                               f"{r['cycles_per_packet']:.0f} | {r['flowsentry_mpps'] / r['baseline_mpps']:.2f} × |")
    if any(r.get("recovered_from_log") for r in bench.values()):
        out += ["", "Rows with a dash were rebuilt from the per-run lines of `bench-all.sh`'s log (its last "
                    "step failed and took the JSON lines with it): a dash is a figure the log does not have. "
                    "The others are later `bench.sh` runs of the same capture, which replace the earlier line."]
    out += ["", "| target (issues 5 and 13) | measured | verdict |", "|---|---|---|"]
    out += [f"| {t} | {m} | {v} |" for t, m, v in targets(bench, other)]
    for r in other.get("replay", [])[-1:]:
        out += ["", f"testpmd → memif → flowsentry (`scripts/replay-testpmd.sh`, {r['capture']}, {r['seconds']} s, "
                    f"{r['workers']} worker): offered {r['offered']['pps'] / 1e6:.2f} Mpps, delivered into memif "
                    f"{r['delivered']['pps'] / 1e6:.2f} Mpps, received by flowsentry {r['received']['pps'] / 1e6:.2f} Mpps; "
                    f"{r['drops']['testpmd_tx_dropped']:,} found the memif ring full; {r['accepted']:,} accepted "
                    f"connections, {r['alerts']:,} alerts, worker errors {r['worker_errors']}."]
    out += ["", END]
    return "\n".join(out)


def plot(bench, png):
    fig, (left, right) = plt.subplots(2, 1, figsize=(11, 9))
    profiles = captures(bench)
    width = 0.2
    series = [(1, "testpmd_rxonly_mpps", "testpmd_runs", "testpmd rxonly, 1 core", "#bbbbbb"),
              (1, "flowsentry_mpps", "flowsentry_runs", "flowsentry, 1 worker", "#1f77b4"),
              (2, "testpmd_rxonly_mpps", "testpmd_runs", "testpmd rxonly, 2 cores", "#777777"),
              (2, "flowsentry_mpps", "flowsentry_runs", "flowsentry, 2 workers*", "#ff7f0e")]
    for k, (workers, key, runs, name, colour) in enumerate(series):
        xs = [i + (k - 1.5) * width for i, p in enumerate(profiles)]
        ys = [bench[(*p, workers)][key] if (*p, workers) in bench else 0 for p in profiles]
        left.bar(xs, ys, width, label=name, color=colour)
        for x, p in zip(xs, profiles):
            if (*p, workers) in bench:
                pts = bench[(*p, workers)][runs]
                left.plot([x] * len(pts), pts, "k.", markersize=3)
    left.axhline(LINE_RATE_MPPS, color="red", linestyle="--", linewidth=1)
    left.text(len(profiles) - 0.5, LINE_RATE_MPPS, "10 GbE, 64 B", color="red", va="bottom", ha="right", fontsize=8)
    ticks = [f"{p}\n{f:,} flows" if f else p for p, f in profiles]
    left.set_xticks(range(len(profiles)), ticks, fontsize=8)
    left.set_ylabel("Mpps (median; dots: each run)")
    left.set_title("Throughput on a looping net_pcap port")
    left.legend(fontsize=8)

    for k, workers in enumerate((1, 2)):
        xs = [i + (k - 0.5) * 0.35 for i in range(len(profiles))]
        ys = [bench[(*p, workers)]["ratio"] if (*p, workers) in bench else 0 for p in profiles]
        right.bar(xs, ys, 0.35, label=f"{workers} worker{'s*' if workers > 1 else ''}",
                  color="#1f77b4" if workers == 1 else "#ff7f0e")
    goals = {"syn-flood": 0.6, "dc-mix": 0.8}
    for j, (p, _) in enumerate(profiles):
        if p in goals:
            right.hlines(goals[p], j - 0.4, j + 0.4, colors="red", linestyles="--", linewidth=1)
    right.set_xticks(range(len(profiles)), ticks, fontsize=8)
    right.set_ylabel("flowsentry / testpmd rxonly")
    right.set_title("Ratio to testpmd (red: target)")
    right.legend(fontsize=8)
    fig.text(0.01, 0.01, "* 2 workers + control thread on 2 shared CPUs (oversubscribed); "
             "the scaling target needs ≥ 3 cores", fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(png, dpi=100)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jsonl", nargs="?", default="docs/performance.jsonl")
    ap.add_argument("--png", default="docs/performance.png")
    ap.add_argument("--markdown", default="docs/performance.md")
    args = ap.parse_args()
    bench, other = load(args.jsonl)
    plot(bench, args.png)
    page = open(args.markdown).read()
    if page.count(BEGIN) != 1 or page.count(END) != 1:
        sys.exit(f"{args.markdown}: needs exactly one '{BEGIN}' and one '{END}' line")
    page = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: markdown(bench, other), page, flags=re.S)
    open(args.markdown, "w").write(page)
    print(f"wrote {args.png} and the results of {args.markdown}", file=sys.stderr)


if __name__ == "__main__":
    main()
