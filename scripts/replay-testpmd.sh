#!/usr/bin/env bash
# Replay bench: DPDK's testpmd reads CAPTURE in a loop (net_pcap,
# infinite_rx=1) and forwards it into a net_memif server; flowsentry
# attaches as the memif client and inspects it live. At the end: offered and
# received packet rates, drops and alerts, for a person and as JSON.
#
# Usage: scripts/replay-testpmd.sh CAPTURE [SECONDS] [WORKERS]
#   SECONDS  how long to run (default 10)
#   WORKERS  flowsentry workers (default 1; more than one uses the software
#            spreading lcore, memif has no RSS)
# Environment: FLOWSENTRY (binary, default build/flowsentry), REPLAY_JSON
# (also write the JSON there), REPLAY_KEEP (keep the work directory).
#
# Runs with --no-huge on a small machine: the lcores of both processes are
# threads spread over the CPUs this script may use, so the rates measure the
# pipeline on shared cores, not an appliance (see docs/operations.md).
set -euo pipefail

usage() { sed -n '7,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 3 ] || usage
capture=$1
seconds=${2:-10}
workers=${3:-1}
[ -r "$capture" ] || { echo "replay-testpmd: cannot read $capture" >&2; exit 2; }
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "replay-testpmd: SECONDS must be a positive integer" >&2; exit 2; }
[[ $workers =~ ^[1-9][0-9]*$ ]] || { echo "replay-testpmd: WORKERS must be a positive integer" >&2; exit 2; }
case $capture in *,*) echo "replay-testpmd: the capture's name must not contain ','" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
flowsentry=${FLOWSENTRY:-$root/build/flowsentry}
testpmd=$(command -v dpdk-testpmd || true)
[ -x "$flowsentry" ] || { echo "replay-testpmd: no flowsentry binary at $flowsentry (build it, or set FLOWSENTRY)" >&2; exit 2; }
[ -n "$testpmd" ] || { echo "replay-testpmd: dpdk-testpmd not found (apt-get install dpdk)" >&2; exit 2; }

work=$(mktemp -d /tmp/flowsentry-replay-XXXXXX)
sock=$work/memif.sock
tp_prefix=fs-replay-tp-$$
fs_prefix=fs-replay-fs-$$
tp_pid='' fs_pid=''
cleanup() {
    [ -n "$fs_pid" ] && kill -KILL "$fs_pid" 2>/dev/null || true
    [ -n "$tp_pid" ] && kill -KILL "$tp_pid" 2>/dev/null || true
    rm -rf "/var/run/dpdk/$tp_prefix" "/var/run/dpdk/$fs_prefix"
    [ -n "${REPLAY_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

mapfile -t cpus < <(/usr/bin/python3 -c 'import os; print("\n".join(map(str, sorted(os.sched_getaffinity(0)))))')
cpu() { echo "${cpus[$(($1 % ${#cpus[@]}))]}"; }

# testpmd: lcore 0 main, lcore 1 forwards port 0 (pcap) to port 1 (memif).
"$testpmd" --no-huge -m 512 --no-pci --file-prefix="$tp_prefix" --lcores "0@$(cpu 0),1@$(cpu 1)" \
    --log-level=warning \
    --vdev "net_pcap0,rx_pcap=$capture,infinite_rx=1" \
    --vdev "net_memif0,role=server,socket=$sock,socket-abstract=no,rsize=14" \
    -- --total-num-mbufs=16384 --nb-cores=1 --forward-mode=io --stats-period=1 \
    >"$work/testpmd.out" 2>&1 &
tp_pid=$!
# The socket exists before testpmd has started its ports; a client that
# connects earlier may never see the link come up. testpmd prints its first
# statistics block once it forwards.
for _ in $(seq 300); do
    grep -q '^Port statistics' "$work/testpmd.out" 2>/dev/null && [ -S "$sock" ] && break
    kill -0 "$tp_pid" 2>/dev/null || break
    sleep 0.1
done
grep -q '^Port statistics' "$work/testpmd.out" 2>/dev/null && [ -S "$sock" ] ||
    { tail -20 "$work/testpmd.out" >&2; echo "replay-testpmd: testpmd did not start forwarding" >&2; exit 1; }

# flowsentry: main lcore, the workers, and the spreading lcore when needed.
lcores="0@$(cpu 0)"
for ((l = 1; l <= workers + 1; l++)); do lcores+=",$l@$(cpu "$l")"; done
printf 'workers: %s\nlink_up_timeout: 10\nstats:\n  interval: 1\n' "$workers" >"$work/flowsentry.yaml"
"$flowsentry" --no-huge --no-pci -m 1024 --file-prefix="$fs_prefix" --lcores "$lcores" --log-level=warning \
    --vdev "net_memif0,role=client,socket=$sock,socket-abstract=no,rsize=14" \
    -- -c "$work/flowsentry.yaml" -o "$work/events.ndjson" --stats-json "$work/stats.json" \
    2>"$work/flowsentry.err" &
fs_pid=$!

# A background job of a non-interactive shell starts with SIGINT ignored:
# until flowsentry has installed its handler (its first stats line shows
# the control loop runs), a SIGINT would be lost. Wait for that first.
for _ in $(seq 600); do
    grep -q '^flowsentry: stats' "$work/flowsentry.err" 2>/dev/null && break
    kill -0 "$fs_pid" 2>/dev/null || break
    sleep 0.1
done
sleep "$seconds"
# Waits up to $2 seconds for process $1 to end; never forever.
ended_within() {
    for _ in $(seq $(($2 * 10))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    return 1
}
# flowsentry (the memif client) first: DPDK 22.11's memif unmaps the shared
# rings from its interrupt thread when the server goes away, under a burst
# that may be reading them (docs/operations.md). It drains and writes its
# stats; then testpmd prints its totals on SIGINT.
kill -INT "$fs_pid" 2>/dev/null || true
# A clean stop takes well under a second.
ended_within "$fs_pid" 30 || { echo "replay-testpmd: flowsentry did not stop on SIGINT" >&2; kill -KILL "$fs_pid"; }
fs_status=0
wait "$fs_pid" || fs_status=$?
fs_pid=''
kill -INT "$tp_pid" 2>/dev/null || true
# testpmd can stay in its memif teardown after it has printed its totals.
ended_within "$tp_pid" 10 || kill -KILL "$tp_pid" 2>/dev/null || true
wait "$tp_pid" 2>/dev/null || true
tp_pid=''

/usr/bin/python3 - "$work" "$seconds" "$workers" "$fs_status" "${REPLAY_JSON:-}" "$capture" <<'PY'
import json, os, re, sys
work, seconds, workers, fs_status, json_path, capture = sys.argv[1:]
seconds = int(seconds)

# testpmd's closing "Accumulated forward statistics": what it sent into
# memif, and what found the memif ring full (flowsentry not keeping up).
# Port 1's own block reads 0 once the memif client has gone; the forward
# streams' totals stay (port 0, the pcap side, transmits nothing).
out = open(os.path.join(work, "testpmd.out"), errors="replace").read()
blocks = re.findall(r"Accumulated forward statistics for all ports\+*\s*(.*?)\+{10}", out, re.S)
offered = dropped = 0
if blocks:
    tx = re.search(r"TX-packets:\s*(\d+)\s+TX-dropped:\s*(\d+)", blocks[-1])
    if tx:
        offered, dropped = int(tx.group(1)), int(tx.group(2))

stats = {}
try:
    stats = json.load(open(os.path.join(work, "stats.json")))
except (OSError, ValueError):
    pass
wk = stats.get("workers", [])
received = sum(w.get("worker.rx_packets", 0) for w in wk)
accepted = sum(w.get("handshake.accepted", 0) for w in wk)
alerts = sum(w.get("worker.alerts", 0) for w in wk)
worker_errors = sum(w.get("worker.document_drops", 0) + w.get("worker.scan_record_drops", 0) +
                    w.get("worker.flow_table_full", 0) for w in wk)
ports = stats.get("ports", [])
imissed = sum(p.get("imissed", 0) for p in ports)
nombuf = sum(p.get("rx_nombuf", 0) for p in ports)
spread_drops = stats.get("spreader", {}).get("ring_drops", 0)

result = {
    "capture": capture,
    "seconds": seconds,
    "workers": int(workers),
    "offered": {"packets": offered + dropped, "pps": (offered + dropped) // seconds},
    "delivered": {"packets": offered, "pps": offered // seconds},
    "received": {"packets": received, "pps": received // seconds},
    "drops": {"testpmd_tx_dropped": dropped, "imissed": imissed, "rx_nombuf": nombuf,
              "spread_ring_drops": spread_drops},
    "accepted": accepted,
    "alerts": alerts,
    "worker_errors": worker_errors,
    "flowsentry_exit_status": int(fs_status),
}
print(f"offered  {offered + dropped} packets ({(offered + dropped) // seconds} pps) by testpmd; "
      f"{offered} fit into memif, {dropped} found its ring full")
print(f"received {received} packets ({received // seconds} pps) by {workers} worker(s)")
print(f"drops    imissed={imissed} rx_nombuf={nombuf} spread_ring_drops={spread_drops}")
print(f"found    {accepted} accepted connections, {alerts} alerts; worker errors {worker_errors}; "
      f"flowsentry exit {fs_status}")
text = json.dumps(result)
print(text)
if json_path:
    with open(json_path, "w") as f:
        f.write(text + "\n")
if not stats:
    print(open(os.path.join(work, "flowsentry.err"), errors="replace").read()[-2000:], file=sys.stderr)
    sys.exit(1)
PY
