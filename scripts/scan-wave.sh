#!/usr/bin/env bash
# An Internet scan wave through flowsentry, checked against the generator's
# truth: every accepted connection has its connection-accepted document and
# its alert, the scanners (and only they) get their Telnet Scan alert, and no
# document is dropped.
#
# Usage: scripts/scan-wave.sh MODE WORKERS [FLOWS SOURCES ACCEPTED [SECONDS]]
#   MODE     offline: --pcap replay of the capture, lossless, timed
#            live: the capture looped on a net_pcap port (infinite_rx=1) at
#            the workers' full rate for SECONDS (--bench), shipped
#            configuration with a mempool and flow table that fit it
#   FLOWS    SYNs of the wave (default 1000000), from SOURCES sources
#            (default 250000), with ACCEPTED Telnet sessions (default 1000)
# Environment: FLOWSENTRY_BUILD (default build), SCAN_WAVE_KEEP=1 keeps the
# work directory. Prints one JSON line of results (with a hash of the set of
# documents written); exits 1 on any loss.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
workers=${2:-1}
flows=${3:-1000000}
sources=${4:-250000}
accepted=${5:-1000}
seconds=${6:-5}
build=${FLOWSENTRY_BUILD:-build}
case $mode in offline|live) ;; *) sed -n '7,16p' "$0" | sed 's/^# *//' >&2; exit 2 ;; esac
for n in "$workers" "$flows" "$sources" "$accepted" "$seconds"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "scan-wave.sh: '$n' is not a positive integer" >&2; exit 2; }
done

work=$(mktemp -d /tmp/flowsentry-scan-wave-XXXXXX)
prefix="fs-scan-wave-$$"
trap '[ -n "${SCAN_WAVE_KEEP:-}" ] || rm -rf "$work"; rm -rf "/var/run/dpdk/$prefix"' EXIT

scripts/gen-traffic scan-wave "$work/wave.pcap" --flows "$flows" --sources "$sources" --accepted "$accepted" \
    --scanners 20 --scanner-targets 50 2>/dev/null
frames=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["frames"])' "$work/wave.pcap.json")

# The shipped configuration, sized for the capture: every frame fits the
# mempool (a looping port holds them all), every flow the table.
/usr/bin/python3 - "$work" "$workers" "$frames" "$mode" "$sources" <<'PY'
import os, sys, yaml
work, workers, frames, mode, sources = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
c = yaml.safe_load(open("conf/flowsentry.yaml")) or {}
c["workers"] = workers
if mode == "live":
    c.setdefault("mempool", {})["mbufs"] = frames + 16384 * workers
capacity = 1 << max(17, (frames // workers * 2 - 1).bit_length())
c.setdefault("flow_table", {})["capacity"] = capacity
# Every source of the wave falls in one scan window: room for all of them,
# so no scanner's held attempts are evicted (scan.sources_evicted).
c.setdefault("detections", {}).setdefault("scan", {})["max_sources"] = 1 << (2 * sources - 1).bit_length()
# Packs are found next to the configuration: name the shipped ones whole.
t = c.setdefault("telnet", {})
t["signature_packs"] = [os.path.abspath(os.path.join("conf", p)) for p in t.get("signature_packs", [])]
yaml.safe_dump(c, open(work + "/wave.yaml", "w"))
PY
mem_mb=$(( (frames + 16384 * workers) * 3 / 1024 + workers * (600 + sources * 2 * 192 / 1048576 * 2) + 1536 ))

lcores="0@0"
for ((l = 1; l <= workers + 1; ++l)); do lcores+=",$l@$((l % 2))"; done
start=$(date +%s.%N)
if [ "$mode" = offline ]; then
    "$build/flowsentry" --pcap "$work/wave.pcap" -c "$work/wave.yaml" -o "$work/wave.ndjson" \
        --stats-json "$work/stats.json" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
else
    timeout -k 5 $((seconds + 60)) "$build/flowsentry" --no-huge --no-pci -m "$mem_mb" --file-prefix "$prefix" \
        --lcores "$lcores" --log-level=warning \
        --vdev "net_pcap0,rx_pcap=$work/wave.pcap,infinite_rx=1" -- -c "$work/wave.yaml" -o "$work/wave.ndjson" \
        --stats-json "$work/stats.json" --bench "$seconds" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
fi
end=$(date +%s.%N)

/usr/bin/python3 - "$work" "$mode" "$workers" "$start" "$end" <<'PY'
import collections, hashlib, json, sys
work, mode, workers, start, end = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
truth = json.load(open(work + "/wave.pcap.json"))
stats = json.load(open(work + "/stats.json"))
lines = open(work + "/wave.ndjson").read().splitlines()
docs = [json.loads(l) for l in lines]
def w(name):
    return sum(x.get(name, 0) for x in stats["workers"])
starts = [d for d in docs if d["event"].get("action") == "connection-accepted"]
alerts = collections.Counter(d["rule"]["name"] for d in docs if d["event"]["kind"] == "alert")
accepted_alerts = {(d["source"]["ip"], d["source"]["port"], d["destination"]["ip"]) for d in docs
                   if d["event"]["kind"] == "alert" and d["rule"]["name"] == "Accepted Default Telnet Port Connection"}
scanned = sorted({d["source"]["ip"] for d in docs if d["event"]["kind"] == "alert" and d["rule"]["name"] == "Telnet Scan"})
handshakes = w("handshake.accepted")
rx = w("worker.rx_packets")
out = {
    "mode": mode, "workers": workers, "frames": truth["frames"], "rx_packets": rx,
    "seconds": round(stats["run_seconds"] if mode == "live" else end - start, 3),
    "handshakes_accepted": handshakes, "connection_accepted_documents": len(starts),
    "accepted_alert_pairs": len(accepted_alerts), "scan_alert_sources": len(scanned),
    "truth_accepted": truth["accepted"], "truth_scanners": len(truth["scan_alert_sources"]),
    "document_drops": w("worker.document_drops"), "scan_record_drops": w("worker.scan_record_drops"),
    "scan_records": w("worker.events_attempt"), "scan_attempts": w("scan.attempts"),
    "alerts_throttled": stats["detections"]["alerts_throttled"],
    # The set of documents, whatever their order: a replay's is the same for
    # any number of workers.
    "documents": len(lines), "documents_sha256": hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest(),
}
out["mpps"] = round(rx / out["seconds"] / 1e6, 3) if out["seconds"] else 0
problems = []
if out["document_drops"]:
    problems.append("documents dropped")
if len(starts) != handshakes:
    problems.append(f"{handshakes} handshakes but {len(starts)} connection-accepted documents")
if handshakes < truth["accepted"]:
    problems.append(f"{handshakes} handshakes of {truth['accepted']} accepted connections")
if mode == "offline" and len(starts) != truth["accepted"]:
    problems.append(f"{len(starts)} connection-accepted documents, truth {truth['accepted']}")
# One alert per accepted connection: never throttled (by default).
if len(accepted_alerts) < truth["accepted"]:
    problems.append(f"{len(accepted_alerts)} accepted-connection alerts, truth {truth['accepted']}")
if scanned != truth["scan_alert_sources"]:
    problems.append(f"Telnet Scan sources {scanned[:5]}... differ from the truth {truth['scan_alert_sources'][:5]}...")
out["problems"] = problems
print(json.dumps(out))
sys.exit(1 if problems else 0)
PY
