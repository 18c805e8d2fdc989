#!/usr/bin/env bash
# What signature reloads cost under live load: flowsentry on a net_pcap port
# looping over a capture (infinite_rx=1) for SECONDS (--bench), RUNS times
# each without reloads and with a SIGHUP every 0.5 s; prints per run the
# packets read, documents written, ring drops, documents per 1,000 packets
# and the reloads done (from stderr).
#
# The capture is FLOWS telnet-heavy sessions (scripts/gen-traffic) and
# 120,000 UDP frames that make no document; a flow table of 8 flows, so
# every loop starts the sessions again: documents keep coming, about 4,000
# a second on this machine, which one control thread drains with room to
# spare. The alert ring has 256 records, so a control thread that stops
# draining for a few tens of milliseconds drops records. The shipped pack,
# signature cache off: every reload compiles. flowsentry runs at nice -10
# so that other work on a shared machine does not decide the result (the
# compile thread puts itself at nice 10).
#
#   scripts/bench-reload.sh [SECONDS] [RUNS] [FLOWS]
#
# Environment: FLOWSENTRY_BIN (default build/flowsentry): the binary to run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
runs=${2:-3}
flows=${3:-10}
bin=${FLOWSENTRY_BIN:-build/flowsentry}
work=$(mktemp -d /tmp/flowsentry-bench-reload-XXXXXX)
trap 'rm -rf "$work" "/var/run/dpdk/fs-bench-reload-$$"' EXIT

scripts/gen-traffic telnet-heavy "$work/telnet.pcap" --flows "$flows" >/dev/null 2>&1
/usr/bin/python3 - "$work/udp.pcap" <<'PY'
import struct, sys
from scapy.all import Ether, IP, UDP, raw
frame = raw(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(src="10.9.0.1", dst="10.9.0.2") /
            UDP(sport=5000, dport=9999) / (b"x" * 100))
with open(sys.argv[1], "wb") as out:
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for i in range(120000):
        out.write(struct.pack("<IIII", 1, i, len(frame), len(frame)) + frame)
PY
mergecap -a -F pcap -w "$work/load.pcap" "$work/telnet.pcap" "$work/udp.pcap"
frames=$(($(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['frames'])" "$work/telnet.pcap.json") + 120000))
printf 'telnet:\n  signature_packs: [%s]\n  signature_cache: off\nmempool:\n  mbufs: %d\nalert_ring:\n  size: 256\nflow_table:\n  capacity: 8\n' \
    "$PWD/conf/signatures/telnet.yaml" $((frames + 16384)) >"$work/reload.yaml"
mem_mb=$(((frames + 16384) * 3000 / 1048576 + 1024))

# run MODE: one run, "none" or "every-0.5s"; prints one result line.
run() {
    local mode=$1 stats=$work/stats.json
    rm -f "$stats"
    nice -n -10 "$bin" --no-huge --no-pci -m "$mem_mb" --file-prefix "fs-bench-reload-$$" --lcores 0@0,1@1 \
        --log-level=warning --vdev "net_pcap0,rx_pcap=$work/load.pcap,infinite_rx=1" -- -c "$work/reload.yaml" \
        -o /dev/null --stats-json "$stats" --bench "$seconds" 2>"$work/err.txt" &
    local pid=$!
    if [ "$mode" != none ]; then
        # SIGHUP is caught once start-up is over (before, it would end the
        # process): wait for that, then one every 0.5 s until the end.
        until [ $((0x$(awk '/^SigCgt:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0) & 1)) = 1 ]; do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.01
        done
        while kill -0 "$pid" 2>/dev/null; do
            sleep 0.5
            kill -HUP "$pid" 2>/dev/null || true
        done
    fi
    wait "$pid"
    /usr/bin/python3 - "$mode" "$stats" "$work/err.txt" <<'PY'
import json, sys
mode, stats, err = sys.argv[1], json.load(open(sys.argv[2])), open(sys.argv[3]).read()
w = stats["workers"]
rx = sum(x["worker.rx_packets"] for x in w)
drops = sum(x["worker.ring_drops"] for x in w)
docs = stats["records"]
print(f"{mode} {rx} {docs} {drops} {docs * 1000 / rx:.3f} {err.count('signatures reloaded')} "
      f"{err.count('coalesced so far')}")
PY
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs; $frames frames, ${seconds} s per run"
echo "mode packets documents ring_drops documents_per_1000_packets reloads coalesced"
for _ in $(seq "$runs"); do
    run none
    run every-0.5s
done
