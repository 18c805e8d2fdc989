#!/usr/bin/env bash
# Start-up time of a replay: `flowsentry --pcap` on a one-packet capture,
# from exec to exit, RUNS times each (median and range in seconds):
#   no-packs     no -c: handshakes only, nothing to compile
#   packs-cold   the shipped pack, telnet.signature_cache: off (compiled every run)
#   packs-warm   the shipped pack, a signature cache filled by one run before
# The machine's load average is printed with them: on a shared machine the
# figures are an upper bound.
#
#   scripts/bench-startup.sh [BUILD_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-5}
bin=$build/flowsentry
work=$(mktemp -d /tmp/flowsentry-bench-startup-XXXXXX)
trap 'rm -rf "$work"' EXIT

editcap -r tests/data/rejected.pcap "$work/one.pcap" 1 >/dev/null
pack=$PWD/conf/signatures/telnet.yaml
printf 'telnet:\n  signature_packs: [%s]\n  signature_cache: off\n' "$pack" >"$work/cold.yaml"
printf 'telnet:\n  signature_packs: [%s]\n  signature_cache: %s/cache\n' "$pack" "$work" >"$work/warm.yaml"
"$bin" -c "$work/warm.yaml" --pcap "$work/one.pcap" -o /dev/null 2>/dev/null

# Prints "NAME: median M s (min A, max B) over N runs" for the command after NAME.
measure() {
    local name=$1
    shift
    local times=()
    for _ in $(seq "$runs"); do
        local start end
        start=$(date +%s.%N)
        "$@" -o /dev/null 2>/dev/null
        end=$(date +%s.%N)
        times+=("$(echo "$end - $start" | bc)")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" '
        { t[NR] = $1 }
        END { printf "%s: median %.3f s (min %.3f, max %.3f) over %d runs\n", name, t[int((NR + 1) / 2)], t[1], t[NR], NR }'
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
measure no-packs "$bin" --pcap "$work/one.pcap"
measure packs-cold "$bin" -c "$work/cold.yaml" --pcap "$work/one.pcap"
measure packs-warm "$bin" -c "$work/warm.yaml" --pcap "$work/one.pcap"
