#!/usr/bin/env bash
# Every measurement of docs/performance.md, as JSON lines, then the plot and
# the results table (scripts/plot-performance.py). One command regenerates
# the report:
#
#   scripts/bench-all.sh [SECONDS] [RUNS] [OUT.jsonl]
#
# SECONDS per run (default 3), RUNS alternating runs per figure (default 3,
# the medians are reported), OUT.jsonl (default docs/performance.jsonl,
# rewritten). FLOWSENTRY_BUILD is the build directory (default build).
# It measures, in this order:
#   - scripts/bench.sh on the 1M-flow SYN flood of the target, one worker;
#     then on every gen-traffic profile at a few hundred thousand frames
#     with 1 and 2 workers (2 workers: the capture split by flow over 2
#     rx_pcap queues)
#   - memory per flow: peak RSS of offline replays of many-flows captures
#     of two sizes against the same flow table, and of the same tiny
#     capture against two table capacities; and the DPDK heap a
#     1,048,576-flow table takes (bench_fast_path)
#   - bench_telnet_inspection: Telnet payload inspection per byte, and Hyperscan
#     alone over the same bytes (its limit)
#   - one scripts/replay-testpmd.sh run (testpmd -> memif -> flowsentry)
# About 15 minutes on a 2-CPU machine.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-3}
runs=${2:-3}
out=${3:-docs/performance.jsonl}
build=${FLOWSENTRY_BUILD:-build}
export FLOWSENTRY_BUILD=$build

scripts/setup.sh
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" flowsentry benchmarks/bench_telnet_inspection benchmarks/bench_fast_path >/dev/null

work=$(mktemp -d /tmp/flowsentry-bench-all-XXXXXX)
trap 'rm -rf "$work"' EXIT
# Lines go to OUT.partial as they are measured, so a late failure keeps them.
results=$out.partial
: >"$results"

# The machine, for the report.
/usr/bin/python3 - >>"$results" <<'PY'
import json, os, platform, re, subprocess
def out(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True).stdout.strip()
lscpu = out("lscpu")
field = lambda name: (re.search(rf"^{name}:\s*(.*)$", lscpu, re.M) or [None, "?"])[1]
mem_kb = int(re.search(r"MemTotal:\s*(\d+)", open("/proc/meminfo").read()).group(1))
print(json.dumps({"kind": "machine", "cpu": field("Model name"), "cpu_family": field("CPU family"),
                  "cpus": os.cpu_count(), "threads_per_core": field("Thread\\(s\\) per core"),
                  "memory_gib": round(mem_kb / 2**20, 1), "kernel": platform.release(),
                  "dpdk": out("dpkg-query", "-W", "-f=${Version}", "dpdk"),
                  "hyperscan": out("pkg-config", "--modversion", "libhs"),
                  "os": "Debian " + open("/etc/debian_version").read().strip(),
                  "load_average_at_start": os.getloadavg()[0]}))
PY

bench() {  # WORKERS PROFILE FLOWS
    echo "bench-all: $2, $3 flows, $1 worker(s)" >&2
    BENCH_WORKERS=$1 BENCH_JSON="$results" scripts/bench.sh "$2" "$seconds" "$runs" "$3" >/dev/null
}
# The SYN flood at the size of the target (1M distinct flows: 1M frames,
# several GB of mbufs and minutes of start-up here). The others are sized so
# the looped capture stays a few hundred thousand frames (the pcap PMD holds
# all of it in mbufs), so 1 and 2 workers can be compared in the time.
bench 1 syn-flood 1000000
for workers in 1 2; do
    for spec in "syn-flood 100000" "dc-mix 20000" "telnet-heavy 5000" "many-flows 100000"; do
        bench "$workers" $spec
    done
done

# Peak RSS of an offline replay (no looping, the pcap PMD reads the file as
# it goes): the difference between two captures against the same table is
# what the extra tracked flows cost; between two capacities on the same tiny
# capture, what a table slot costs before any flow uses it.
rss_of() {  # CAPTURE CAPACITY -> peak RSS in KiB
    printf 'flow_table:\n  capacity: %s\n' "$2" >"$work/mem.yaml"
    /usr/bin/time -f '%M' -o "$work/rss.txt" "$build/flowsentry" --pcap "$1" -c "$work/mem.yaml" -o /dev/null \
        --stats-json "$work/mem.json" 2>"$work/mem.err" || { tail "$work/mem.err" >&2; exit 1; }
    tail -1 "$work/rss.txt"
}
echo "bench-all: memory per flow" >&2
scripts/gen-traffic many-flows "$work/few.pcap" --flows 1000 2>/dev/null
scripts/gen-traffic many-flows "$work/many.pcap" --flows 250000 2>/dev/null
few=$(rss_of "$work/few.pcap" 1048576)
many=$(rss_of "$work/many.pcap" 1048576)
small_table=$(rss_of "$work/few.pcap" 65536)
# And what the table itself takes from DPDK's heap: the peak RSS also holds
# the EAL's page bookkeeping, which with --no-huge is a 48-byte memseg per
# 4 KiB page of -m (and -m grows with the table).
"$build/benchmarks/bench_fast_path" --benchmark_filter='BM_FlowTableLookupHit/1048576$' --benchmark_min_time=0.01 \
    --benchmark_format=json >"$work/table.json" 2>/dev/null
/usr/bin/python3 - "$few" "$many" "$small_table" "$work/table.json" >>"$results" <<'PY'
import json, sys
few, many, small = (int(x) * 1024 for x in sys.argv[1:4])
table = json.load(open(sys.argv[4]))["benchmarks"][0]["table_bytes_per_flow"]
print(json.dumps({"kind": "memory", "capacity": 1048576,
                  "bytes_per_tracked_flow": round((many - few) / (250000 - 1000)),
                  "bytes_per_table_slot": round((few - small) / (1048576 - 65536)),
                  "table_heap_bytes_per_flow": round(table, 1),
                  "rss_mib": {"1000_flows": few >> 20, "250000_flows": many >> 20, "capacity_65536": small >> 20}}))
PY

# Payload scanning: the looped runs above scan each Telnet session once (the
# next passes are retransmissions to the reassembly), so the scanning rate
# comes from one offline pass over a telnet-heavy capture: bytes Hyperscan
# scanned (the worker's counters) per second the worker was busy.
echo "bench-all: Telnet payload scanning (offline replay)" >&2
scripts/gen-traffic telnet-heavy "$work/telnet.pcap" --flows 20000 2>/dev/null
"$build/flowsentry" --pcap "$work/telnet.pcap" -c conf/flowsentry.yaml -o /dev/null --stats-json "$work/telnet.json" 2>"$work/telnet.err" ||
    { tail "$work/telnet.err" >&2; exit 1; }
/usr/bin/python3 - "$work/telnet.json" "$work/telnet.pcap.json" >>"$results" <<'PY'
import json, sys
s, truth = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
ws = s["workers"]
scanned = sum(w["worker.inspect_bytes_to_server"] + w["worker.inspect_bytes_to_client"] for w in ws)
busy_s = sum(w["worker.busy_cycles"] for w in ws) / s["tsc_hz"]
rx = sum(w["worker.rx_packets"] for w in ws)
print(json.dumps({"kind": "telnet_scan", "flows": truth["flows"], "frames": truth["frames"], "received": rx,
                  "scanned_bytes": scanned, "scanned_bytes_per_frame": round(scanned / max(rx, 1), 1),
                  "busy_seconds": round(busy_s, 4), "run_seconds": round(s["run_seconds"], 4),
                  "scanned_gbps_per_busy_worker": round(scanned * 8 / busy_s / 1e9 / len(ws), 4),
                  "scanned_gbps_wall": round(scanned * 8 / s["run_seconds"] / 1e9, 4)}))
PY

echo "bench-all: payload inspection per byte" >&2
"$build/benchmarks/bench_telnet_inspection" --benchmark_min_time=0.2 --benchmark_format=json \
    --benchmark_filter='BM_InspectFlow/1448/0/1|BM_HyperscanOnly/1448/0/1|BM_Normalize/1448/1' \
    >"$work/inspection.json" 2>/dev/null
/usr/bin/python3 - "$work/inspection.json" >>"$results" <<'PY'
import json, sys
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    print(json.dumps({"kind": "inspection", "name": b["name"], "bytes_per_second": round(b["bytes_per_second"]),
                      "gbps": round(b["bytes_per_second"] * 8 / 1e9, 3),
                      "ns_per_byte": round(1e9 / b["bytes_per_second"], 3)}))
PY

# testpmd loads the looped capture into its 16,384 mbufs: keep it under that.
# At least 5 s: the memif link can take seconds to come up on a loaded machine.
echo "bench-all: testpmd -> memif -> flowsentry replay" >&2
scripts/gen-traffic dc-mix "$work/replay.pcap" --flows 800 2>/dev/null
FLOWSENTRY="$build/flowsentry" REPLAY_JSON="$work/replay.json" \
    scripts/replay-testpmd.sh "$work/replay.pcap" $((seconds > 5 ? seconds : 5)) 1 >/dev/null
/usr/bin/python3 -c 'import json, sys; r = json.load(open(sys.argv[1])); r["kind"] = "replay"
r["capture"] = "dc-mix, 800 flows"; print(json.dumps(r))' "$work/replay.json" >>"$results"

mv "$results" "$out"
/usr/bin/python3 scripts/plot-performance.py "$out"
