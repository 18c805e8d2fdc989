#!/usr/bin/env bash
# Side-by-side throughput: flowsentry against dpdk-testpmd --forward-mode=rxonly
# on the same net_pcap port looping over the same capture (infinite_rx=1),
# run alternately RUNS times; prints the median Mpps of each, their ratio,
# flowsentry's cycles per packet (its own TSC counters), the payload it
# scanned, what it lost (documents and attempt records the rings had no room
# for, lines a sink dropped: a fast run that loses them is not fast) and the
# peak memory of both, for a person and as one JSON line
# (also appended to $BENCH_JSON if set; scripts/plot-performance.py reads it).
#
#   scripts/bench.sh PROFILE [SECONDS] [RUNS] [FLOWS]
#
# PROFILE is a scripts/gen-traffic profile (syn-flood, dc-mix, telnet-heavy,
# many-flows) or a capture file. The pcap PMD loads the whole capture into
# mbufs for infinite_rx, so FLOWS (default 100000) bounds the memory used.
# No NIC, no hugepages needed.
#
# Environment:
#   FLOWSENTRY_BUILD  meson build directory to build and run (default build)
#   BENCH_CONFIG      configuration to run flowsentry with (default
#                     conf/flowsentry.yaml, the shipped one with its signature
#                     pack); bench.sh only sizes mempool and flow table, sets
#                     workers, and resolves its pack paths
#   BENCH_WORKERS     workers (default 1). With N > 1 the capture is split by
#                     flow into N files, one rx_pcap queue each, and worker i
#                     polls queue i (spreading off, like symmetric RSS);
#                     testpmd gets --rxq=N --nb-cores=N on the same queues.
#                     Lcores beyond the CPUs this script may use share CPUs.
#   BENCH_BASELINE    another build directory (an older commit's) run the same
#                     way in the same loop, alternating: its median Mpps and
#                     cycles per packet are reported beside this build's
#   BENCH_JSON        append the result line to this file
#   BENCH_KEEP        keep the work directory (captures, configuration, output)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '9p' "$0" | sed 's/^# *//' >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 4 ] || usage
profile=$1
seconds=${2:-5}
runs=${3:-3}
flows=${4:-100000}
workers=${BENCH_WORKERS:-1}
build=${FLOWSENTRY_BUILD:-build}
config=${BENCH_CONFIG:-conf/flowsentry.yaml}
for n in "$seconds" "$runs" "$flows" "$workers"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: '$n' is not a positive integer" >&2; usage; }
done
[ -r "$config" ] || { echo "bench.sh: cannot read the configuration $config" >&2; exit 2; }

scripts/setup.sh
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" flowsentry >/dev/null

work=$(mktemp -d /tmp/flowsentry-bench-XXXXXX)
trap '[ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"; rm -rf "/var/run/dpdk/fs-bench-$$" "/var/run/dpdk/fs-bench-tp-$$"' EXIT

if [ -f "$profile" ]; then
    capture=$profile
else
    capture=$work/$profile.pcap
    scripts/gen-traffic "$profile" "$capture" --flows "$flows" >&2
fi
case $capture in *,*) echo "bench.sh: the capture's name must not contain ','" >&2; exit 2 ;; esac

# Counts the capture (frames, TCP payload bytes), splits it by flow into one
# file per worker queue, and writes flowsentry's configuration.
capacity=$((flows * 2 > 131072 ? flows * 2 : 131072))
read -r frames payload_bytes < <(/usr/bin/python3 - "$capture" "$workers" "$work" "$config" "$capacity" <<'PY'
import os, struct, sys, zlib
import yaml
capture, workers, work, config, capacity = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
f = open(capture, "rb")
head = f.read(24)
if len(head) < 24 or head[:4] != b"\xd4\xc3\xb2\xa1":
    sys.exit(f"bench.sh: {capture}: not a little-endian pcap file")
outs = [open(os.path.join(work, f"queue{i}.pcap"), "wb") for i in range(workers)] if workers > 1 else []
for o in outs:
    o.write(head)
frames = payload = 0
while True:
    h = f.read(16)
    if len(h) < 16:
        break
    data = f.read(struct.unpack("<IIII", h)[2])
    frames += 1
    queue = 0
    if len(data) >= 34 and data[12:14] == b"\x08\x00":
        ihl = (data[14] & 0x0F) * 4
        total = struct.unpack("!H", data[16:18])[0]
        ends = sorted((data[26:30] + data[34:36], data[30:34] + data[36:38]))  # both directions alike
        queue = zlib.crc32(ends[0] + ends[1] + data[23:24]) % workers
        if data[23] == 6 and len(data) >= 14 + ihl + 13:
            payload += max(0, total - ihl - (data[14 + ihl + 12] >> 4) * 4)
    if outs:
        outs[queue].write(h + data)
c = yaml.safe_load(open(config)) or {}
base = os.path.dirname(os.path.abspath(config))
packs = c.setdefault("telnet", {}).get("signature_packs", [])
c["telnet"]["signature_packs"] = [p if p.startswith("/") else os.path.join(base, p) for p in packs]
c["workers"] = workers
c.setdefault("mempool", {})["mbufs"] = frames + 16384 * workers
c.setdefault("flow_table", {})["capacity"] = capacity
c["stats"] = {"interval": 0}
if workers > 1:
    c.setdefault("spreading", {})["mode"] = "off"
yaml.safe_dump(c, open(os.path.join(work, "bench.yaml"), "w"))
print(frames, payload)
PY
)
[ -n "${frames:-}" ] || { echo "bench.sh: could not read $capture" >&2; exit 1; }
# Every frame sits in an mbuf for infinite_rx, plus the RX rings and caches;
# then each worker's flow table. Without hugepages -m is an upper bound.
mbufs=$((frames + 16384 * workers))
mem_mb=$(( (mbufs * 3000 + workers * capacity * 1024) / 1048576 + 1536 ))
if [ "$workers" -gt 1 ]; then
    vdev="net_pcap0,infinite_rx=1"
    for ((q = 0; q < workers; q++)); do vdev+=",rx_pcap=$work/queue$q.pcap"; done
else
    vdev="net_pcap0,rx_pcap=$capture,infinite_rx=1"
fi
# Lcore l on the l-th CPU we may use, round robin: main lcore 0, then the
# workers (testpmd: its forwarding cores).
mapfile -t cpus < <(/usr/bin/python3 -c 'import os; print("\n".join(map(str, sorted(os.sched_getaffinity(0)))))')
lcores=""
for ((l = 0; l <= workers; l++)); do lcores+="${lcores:+,}$l@${cpus[$((l % ${#cpus[@]}))]}"; done

fail() {  # CAUSE OUTPUT [TIME_OUTPUT]
    echo "bench.sh: $1; last lines of its output:" >&2
    tail -15 "$2" >&2
    # /usr/bin/time says how it ended: "Command terminated by signal 11", ...
    [ -z "${3:-}" ] || grep -v '^[0-9]*$' "$3" >&2 || true
    exit 1
}

# testpmd's own Rx-pps between two "show port stats" (its TSC), once the
# prompt shows it is ready: the window does not include the capture preload.
run_testpmd() {
    local out=$work/testpmd.txt
    : >"$out"
    {
        for _ in $(seq 9000); do grep -q -e 'testpmd> ' -e 'EAL: Error' "$out" && break; sleep 0.1; done
        echo start; sleep 1; echo "show port stats all"; sleep "$seconds"; echo "show port stats all"
        echo stop; echo quit
    } | /usr/bin/time -f '%M' -o "$work/tp-rss.txt" timeout -s KILL $((seconds + 900)) \
        dpdk-testpmd --no-huge --no-pci -m "$mem_mb" --file-prefix "fs-bench-tp-$$" --lcores "$lcores" \
        --log-level=warning --vdev "$vdev" -- -i --forward-mode=rxonly --rxq="$workers" --txq="$workers" \
        --nb-cores="$workers" --total-num-mbufs="$mbufs" >"$out" 2>&1 || true
    local pps
    pps=$(grep -oE 'Rx-pps: +[0-9]+' "$out" | tail -1 | grep -oE '[0-9]+$' || true)
    [ -n "$pps" ] && [ "$(grep -c 'Rx-pps:' "$out")" -ge 2 ] || fail "testpmd gave no rate" "$out" "$work/tp-rss.txt"
    echo "$(/usr/bin/python3 -c "print($pps / 1e6)") $(( $(tail -1 "$work/tp-rss.txt" | grep -oE '^[0-9]+$' || echo 0) / 1024 ))"
}

# flowsentry stops itself after SECONDS of polling (--bench); the timeout
# only ends a run that would not. $1: the build directory.
run_flowsentry() {
    local stats=$work/flowsentry.json
    rm -f "$stats"
    /usr/bin/time -f '%M' -o "$work/rss.txt" timeout -s KILL $((seconds + 900)) \
        "$1/flowsentry" --no-huge --no-pci -m "$mem_mb" --file-prefix "fs-bench-$$" --lcores "$lcores" \
        --log-level=warning --vdev "$vdev" -- -c "$work/bench.yaml" -o /dev/null \
        --stats-json "$stats" --bench "$seconds" >/dev/null 2>"$work/flowsentry.err" || true
    [ -s "$stats" ] || fail "flowsentry wrote no statistics" "$work/flowsentry.err" "$work/rss.txt"
    /usr/bin/python3 - "$stats" "$work/rss.txt" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ws = s["workers"]
total = lambda k: sum(w[k] for w in ws)
rx = total("worker.rx_packets")
scanned = total("worker.inspect_bytes_to_server") + total("worker.inspect_bytes_to_client")
# What a looping run lost: documents and attempt records the rings had no
# room for, and lines a sink dropped. A fast run that loses them is not fast.
lost = total("worker.document_drops") + total("worker.scan_record_drops") + sum(o["dropped"] for o in s["outputs"])
print(rx / s["run_seconds"] / 1e6, total("worker.busy_cycles") / max(rx, 1),
      scanned * 8 / s["run_seconds"] / 1e9 / len(ws), int(open(sys.argv[2]).read().split()[-1]) // 1024, lost)
PY
}

baseline=${BENCH_BASELINE:-}
if [ -n "$baseline" ]; then
    [ -x "$baseline/flowsentry" ] || { echo "bench.sh: no flowsentry binary in $baseline" >&2; exit 2; }
fi
tp=() fs=() cpp=() scan=() rss=() tprss=() base=() basecpp=() lost=()
for i in $(seq "$runs"); do
    read -r mpps mem < <(run_testpmd) || exit 1
    tp+=("$mpps"); tprss+=("$mem")
    read -r mpps cycles gbps mem dropped < <(run_flowsentry "$build") || exit 1
    fs+=("$mpps"); cpp+=("$cycles"); scan+=("$gbps"); rss+=("$mem"); lost+=("$dropped")
    line="run $i: testpmd ${tp[-1]} Mpps, flowsentry $mpps Mpps, $cycles cycles/packet, ${mem} MiB, $dropped lost"
    if [ -n "$baseline" ]; then
        read -r mpps cycles _ _ _ < <(run_flowsentry "$baseline") || exit 1
        base+=("$mpps"); basecpp+=("$cycles")
        line+=", baseline $mpps Mpps, $cycles cycles/packet"
    fi
    echo "$line" >&2
done

/usr/bin/python3 - "$profile" "$frames" "$payload_bytes" "$seconds" "$workers" "$flows" "$config" "$capture" \
    "${tp[*]}" "${fs[*]}" "${cpp[*]}" "${scan[*]}" "${rss[*]}" "${tprss[*]}" "$baseline" "${base[*]}" "${basecpp[*]}" \
    "${lost[*]}" <<'PY'
import json, os, statistics, subprocess, sys, time
profile, frames, payload, seconds, workers, flows, config, capture = sys.argv[1:9]
baseline, base, basecpp = sys.argv[15], [float(x) for x in sys.argv[16].split()], [float(x) for x in sys.argv[17].split()]
lost = [int(x) for x in sys.argv[18].split()]
frames, payload, seconds, workers = int(frames), int(payload), int(seconds), int(workers)
tp, fs, cpp, scan, rss, tprss = ([float(x) for x in a.split()] for a in sys.argv[9:15])
med = statistics.median
commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
truth = capture + ".json"
r = {"profile": os.path.basename(profile), "flows": json.load(open(truth))["flows"] if os.path.exists(truth) else None,
     "frames": frames, "payload_bytes": payload, "workers": workers, "seconds": seconds, "runs": len(fs),
     "config": config, "commit": commit, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
     "testpmd_rxonly_mpps": round(med(tp), 3), "flowsentry_mpps": round(med(fs), 3),
     "ratio": round(med(fs) / med(tp), 3) if med(tp) else None,
     "cycles_per_packet": round(med(cpp), 1),
     # Payload bytes Hyperscan scanned per second and worker (its counters),
     # and the TCP payload the worker went through (capture bytes x rate).
     "scanned_gbps_per_worker": round(med(scan), 3),
     "payload_gbps_per_worker": round(med(fs) * 1e6 * payload / frames * 8 / 1e9 / workers, 3),
     "peak_rss_mib": max(rss), "testpmd_peak_rss_mib": max(tprss),
     "testpmd_runs": tp, "flowsentry_runs": [round(x, 3) for x in fs],
     # documents, attempt records and output lines lost, the worst run
     "lost_max": max(lost)}
if baseline:
    r.update({"baseline": baseline, "baseline_mpps": round(med(base), 3),
              "baseline_ratio": round(med(base) / med(tp), 3) if med(tp) else None,
              "baseline_cycles_per_packet": round(med(basecpp), 1), "baseline_runs": [round(x, 3) for x in base]})
print(f"{r['profile']}, {workers} worker(s): flowsentry {r['flowsentry_mpps']} Mpps, testpmd rxonly "
      f"{r['testpmd_rxonly_mpps']} Mpps, ratio {r['ratio']}, {r['cycles_per_packet']} cycles/packet, "
      f"{r['scanned_gbps_per_worker']} Gbit/s scanned per worker, peak RSS {r['peak_rss_mib']} MiB "
      f"(testpmd {r['testpmd_peak_rss_mib']} MiB), median of {r['runs']} runs of {seconds} s, "
      f"{r['lost_max']} documents or lines lost in the worst run")
if baseline:
    print(f"baseline {baseline}: {r['baseline_mpps']} Mpps, ratio {r['baseline_ratio']}, "
          f"{r['baseline_cycles_per_packet']} cycles/packet")
line = json.dumps(r)
print(line)
if os.environ.get("BENCH_JSON"):
    with open(os.environ["BENCH_JSON"], "a") as f:
        f.write(line + "\n")
PY
