#!/usr/bin/env bash
# Two builds of bench_telnet_inspection side by side (an old commit's and
# this tree's, both built with this tree's benchmarks/bench_telnet_inspection.cpp
# so that they run the same benchmarks), on a shared, noisy machine: the two
# binaries alternate RUNS times, each run with REPS repetitions of every
# benchmark in random order (--benchmark_enable_random_interleaving), all
# with the pack conf/signatures/telnet.yaml of this tree. Prints per
# benchmark the median MB/s of each build over all its repetitions, and per
# segment size the ratio of the whole inspector (BM_InspectFlow) to
# Hyperscan streaming alone over the same bytes (BM_HyperscanOnly, its
# limit), taken in each run from that run's medians, then the median (and
# range) over the runs.
#
#   scripts/bench-inspection-ab.sh OLD_BINARY NEW_BINARY [RUNS] [REPS]
#
# An old build, e.g. of main's 5822103:
#   mkdir ../old && git archive 5822103 | tar -x -C ../old
#   cp benchmarks/bench_telnet_inspection.cpp ../old/benchmarks/
#   (cd ../old && meson setup build && ninja -C build benchmarks/bench_telnet_inspection)
# Environment: BENCH_FILTER (default: every benchmark but 1-byte segments),
# AB_OUT (directory for the JSON of each run; default a temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."

old=${1:?usage: scripts/bench-inspection-ab.sh OLD_BINARY NEW_BINARY [RUNS] [REPS]}
new=${2:?usage: scripts/bench-inspection-ab.sh OLD_BINARY NEW_BINARY [RUNS] [REPS]}
runs=${3:-5}
reps=${4:-3}
filter=${BENCH_FILTER:-'Normalize|LoginServer|/1448/|/64/'}
out=${AB_OUT:-$(mktemp -d)}
mkdir -p "$out"

for i in $(seq "$runs"); do
    for build in old new; do
        bin=$old
        [ "$build" = new ] && bin=$new
        "$bin" --benchmark_filter="$filter" --benchmark_repetitions="$reps" \
            --benchmark_enable_random_interleaving=true --benchmark_format=json \
            conf/signatures/telnet.yaml >"$out/$build.$i.json" 2>/dev/null
    done
done

/usr/bin/python3 - "$out" "$runs" <<'PY'
import json, statistics as st, sys

out, runs = sys.argv[1], int(sys.argv[2])
pairs = {"1448-byte segments, with IAC": ("BM_InspectFlow/1448/0/1", "BM_HyperscanOnly/1448/0/1"),
         "1448-byte segments, text only": ("BM_InspectFlow/1448/0/0", "BM_HyperscanOnly/1448/0/0"),
         "64-byte segments, with IAC": ("BM_InspectFlow/64/0/1", "BM_HyperscanOnly/64/0/1")}
rates, extra, ratios = {}, {}, {}
for build in ("old", "new"):
    for i in range(1, runs + 1):
        run = {}
        for b in json.load(open(f"{out}/{build}.{i}.json"))["benchmarks"]:
            if b.get("run_type") != "iteration":
                continue
            mbs = b.get("bytes_per_second", 0) / 1e6
            rates.setdefault(b["run_name"], {}).setdefault(build, []).append(mbs)
            run.setdefault(b["run_name"], []).append(mbs)
            extra[(b["run_name"], build)] = {k: b[k] for k in ("flow_bytes", "findings", "matches") if k in b}
        for what, (inspector, limit) in pairs.items():
            if inspector in run and limit in run:
                ratios.setdefault(what, {}).setdefault(build, []).append(
                    st.median(run[inspector]) / st.median(run[limit]))
print(f"{'benchmark':30} {'old MB/s':>9} {'new MB/s':>9} {'new/old':>7}  counters old | new")
for name, by in rates.items():
    o, n = st.median(by["old"]), st.median(by["new"])
    print(f"{name:30} {o:9.0f} {n:9.0f} {n / o:7.2f}  {extra.get((name, 'old'), {})} | {extra.get((name, 'new'), {})}")
print("\nwhole inspector / Hyperscan alone over the same bytes (per run, median and range):")
for what, by in ratios.items():
    o, n = by["old"], by["new"]
    print(f"  {what:30} old {st.median(o):.2f} ({min(o):.2f}..{max(o):.2f})  "
          f"new {st.median(n):.2f} ({min(n):.2f}..{max(n):.2f})")
PY
