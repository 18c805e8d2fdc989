#!/usr/bin/env bash
# Where a worker's time goes, by stage: runs flowsentry (one worker, the
# shipped configuration) on a looping net_pcap port under `perf record`,
# then attributes every sample of the worker thread to its shared library
# (the pcap PMD, the mbuf library) or, inside flowsentry, to the source file
# of the innermost inlined function at that address (decode.hpp,
# flow_key.hpp, flow_table.cpp, worker.cpp, ...): the per-stage breakdown
# that function names alone cannot give once LTO inlines the stages into
# the burst loop.
#
#   scripts/profile-worker.sh CAPTURE [SECONDS]
#
# Builds PROFILE_BUILD (default build-prof: the release build with debug
# information, the same code) and needs `perf`.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '11p' "$0" | sed 's/^# *//' >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
capture=$1
seconds=${2:-5}
build=${PROFILE_BUILD:-build-prof}
[ -r "$capture" ] || { echo "profile-worker.sh: cannot read $capture" >&2; exit 2; }
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage
case $capture in *,*) echo "profile-worker.sh: the capture's name must not contain ','" >&2; exit 2 ;; esac
command -v perf >/dev/null || { echo "profile-worker.sh: needs perf (apt-get install linux-perf)" >&2; exit 2; }

scripts/setup.sh
[ -f "$build/build.ninja" ] || meson setup "$build" -Ddebug=true >/dev/null
ninja -C "$build" flowsentry >/dev/null

work=$(mktemp -d /tmp/flowsentry-profile-XXXXXX)
trap 'rm -rf "$work" "/var/run/dpdk/fs-profile-$$"' EXIT
frames=$(capinfos -c -M "$capture" | sed -n 's/^Number of packets: *//p')
[[ $frames =~ ^[1-9][0-9]*$ ]] || { echo "profile-worker.sh: $capture holds no frames" >&2; exit 2; }
/usr/bin/python3 - "$work" "$frames" <<'PY'
import os, sys, yaml
work, frames = sys.argv[1], int(sys.argv[2])
c = yaml.safe_load(open("conf/flowsentry.yaml")) or {}
base = os.path.abspath("conf")
c["telnet"]["signature_packs"] = [p if p.startswith("/") else os.path.join(base, p) for p in c["telnet"].get("signature_packs", [])]
c["workers"] = 1
c.setdefault("mempool", {})["mbufs"] = frames + 16384
c.setdefault("flow_table", {})["capacity"] = max(131072, 2 * frames)
c["stats"] = {"interval": 0}
yaml.safe_dump(c, open(os.path.join(work, "profile.yaml"), "w"))
PY
mapfile -t cpus < <(/usr/bin/python3 -c 'import os; print("\n".join(map(str, sorted(os.sched_getaffinity(0)))))')
mem_mb=$(( (frames + 16384) * 3000 / 1048576 + 1536 + frames * 2 * 1024 / 1048576 ))
perf record -q -o "$work/perf.data" -- "$build/flowsentry" --no-huge --no-pci -m "$mem_mb" \
    --file-prefix "fs-profile-$$" --lcores "0@${cpus[0]},1@${cpus[$((1 % ${#cpus[@]}))]}" --log-level=warning \
    --vdev "net_pcap0,rx_pcap=$capture,infinite_rx=1" -- -c "$work/profile.yaml" -o /dev/null \
    --stats-json "$work/stats.json" --bench "$seconds" >/dev/null 2>"$work/err.txt" ||
    { echo "profile-worker.sh: flowsentry failed:" >&2; tail -5 "$work/err.txt" >&2; exit 1; }
perf script -i "$work/perf.data" --comm rte-worker-1 -F ip,sym,symoff,dso 2>/dev/null >"$work/samples.txt"

/usr/bin/python3 - "$build/flowsentry" "$work/samples.txt" "$work/stats.json" <<'PY'
import collections, json, re, subprocess, sys
binary, samples, stats = sys.argv[1:4]

def symbols(demangle):
    out = {}
    args = ["nm", "--defined-only"] + (["-C"] if demangle else []) + [binary]
    for line in subprocess.run(args, capture_output=True, text=True).stdout.splitlines():
        p = line.split(None, 2)
        if len(p) == 3:
            try:
                address = int(p[0], 16)
            except ValueError:
                continue
            out.setdefault(p[2], address)
            out.setdefault(p[2].split("(", 1)[0], address)  # perf names C++ functions without arguments
    return out

start = symbols(True)
start.update(symbols(False))
by_dso, at = collections.Counter(), collections.Counter()
for line in open(samples):
    m = re.match(r"\s*[0-9a-f]+\s+(.*)\+0x([0-9a-f]+)\s+\((.*)\)", line)
    dso = line.strip().rsplit("(", 1)[-1].rstrip(")").split("/")[-1]
    by_dso[dso] += 1
    if m and m.group(3).endswith("/flowsentry") and m.group(1) in start:
        at[start[m.group(1)] + int(m.group(2), 16)] += 1
total = sum(by_dso.values())
if total == 0:
    sys.exit("profile-worker.sh: no samples of the worker thread")
# addr2line -i prints the innermost inlined function's place first.
out = subprocess.run(["addr2line", "-a", "-i", "-e", binary] + [hex(a) for a in at],
                     capture_output=True, text=True).stdout.splitlines()
file_of, current = {}, None
for line in out:
    if line.startswith("0x"):
        current = int(line, 16)
    elif current is not None and current not in file_of:
        file_of[current] = line.split(":")[0].rsplit("/", 1)[-1]
by_file = collections.Counter()
for a, n in at.items():
    by_file[file_of.get(a, "?")] += n
s = json.load(open(stats))
w = s["workers"][0]
print(f"{w['worker.rx_packets'] / s['run_seconds'] / 1e6:.2f} Mpps, "
      f"{w['worker.busy_cycles'] / max(w['worker.rx_packets'], 1):.0f} cycles/packet (receive_burst and free), "
      f"{total} samples of the worker thread")
print("| where | share of the worker's samples |")
print("|---|---|")
for dso, n in by_dso.most_common():
    if dso != "flowsentry" and 100 * n / total >= 0.5:
        print(f"| {dso} | {100 * n / total:.1f} % |")
for f, n in by_file.most_common():
    if 100 * n / total >= 0.5:
        print(f"| flowsentry: {f} | {100 * n / total:.1f} % |")
PY
