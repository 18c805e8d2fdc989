#!/usr/bin/env bash
# CI smoke of scripts/bench.sh: each profile once for 1 s on a few thousand
# flows, no thresholds. A profile passes when bench.sh ran to the end and its
# JSON line has sane fields (both rates and both peak memories > 0, cycles
# per packet > 0, the frame count of the generator's own summary). Writes
# one line per profile to RESULTS ("PROFILE: OK, ..." or "PROFILE: FAILED:
# cause"), which scripts/test.sh counts; exits 1 if any failed.
#
#   scripts/bench-smoke.sh BUILD_DIR RESULTS
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/bench-smoke.sh BUILD_DIR RESULTS}
results=${2:?usage: scripts/bench-smoke.sh BUILD_DIR RESULTS}
: >"$results"
work=$(mktemp -d /tmp/flowsentry-bench-smoke-XXXXXX)
trap 'rm -rf "$work"' EXIT

# Prints the verdict line of PROFILE's JSON line; exits 1 when it fails.
check() {
    /usr/bin/python3 - "$1" "$work/$1.jsonl" "$work/$1.pcap.json" <<'PY'
import json, sys
profile, line, truth = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
try:
    lines = open(line).read().splitlines()
    r = json.loads(lines[-1]) if len(lines) == 1 else {}
except (OSError, ValueError):
    r = {}
checks = [("one JSON line", bool(r)),
          ("flowsentry_mpps > 0", r.get("flowsentry_mpps", 0) > 0),
          ("testpmd_rxonly_mpps > 0", r.get("testpmd_rxonly_mpps", 0) > 0),
          ("peak_rss_mib > 0", r.get("peak_rss_mib", 0) > 0),
          ("testpmd_peak_rss_mib > 0", r.get("testpmd_peak_rss_mib", 0) > 0),
          ("cycles_per_packet > 0", r.get("cycles_per_packet", 0) > 0),
          (f"frames == {truth['frames']} (generator)", r.get("frames") == truth["frames"])]
bad = [name for name, ok in checks if not ok]
if bad:
    print(f"bench smoke {profile}: FAILED: {', '.join(bad)} in {r}")
    sys.exit(1)
print(f"bench smoke {profile}: OK, flowsentry {r['flowsentry_mpps']} Mpps, testpmd {r['testpmd_rxonly_mpps']} Mpps, "
      f"{r['cycles_per_packet']} cycles/packet, {r['peak_rss_mib']} MiB")
PY
}

status=0
for profile in syn-flood dc-mix; do
    # The capture is made here, so its summary is the independent truth.
    scripts/gen-traffic "$profile" "$work/$profile.pcap" --flows 2000 --seed 7 2>/dev/null
    rm -f "$work/$profile.jsonl"
    if ! FLOWSENTRY_BUILD="$build" BENCH_JSON="$work/$profile.jsonl" \
        scripts/bench.sh "$work/$profile.pcap" 1 1 2000 >"$work/$profile.out" 2>&1; then
        tail -20 "$work/$profile.out" >&2
        echo "bench smoke $profile: FAILED: scripts/bench.sh exited with an error" | tee -a "$results" >&2
        status=1
        continue
    fi
    verdict=$(check "$profile") || status=1
    echo "${verdict:-bench smoke $profile: FAILED: the check of its JSON line did not run}" >>"$results"
done
cat "$results" >&2
exit $status
