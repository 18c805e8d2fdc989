#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (meson test).
# Usage: scripts/test.sh [BUILD_DIR] [extra meson test arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
build=${1:-build}
shift || true

[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build"

status=0
rm -f "$build"/*.xml  # gtest results of an earlier run must not be counted
meson test -C "$build" --print-errorlogs "$@" || status=$?

# Fuzz smoke: every libFuzzer target for a few seconds (scripts/fuzz.sh), in
# a clang build with ASan and UBSan next to this one. With
# FLOWSENTRY_SANITIZE=1 (CI) the whole suite runs in that build as well.
sanitized="$build-fuzz"
echo "fuzz smoke: ${FLOWSENTRY_FUZZ_SECONDS:-5} s per target in $sanitized" >&2
rm -f "$sanitized/fuzz-results.txt"
FUZZ_BUILD="$sanitized" scripts/fuzz.sh "${FLOWSENTRY_FUZZ_SECONDS:-5}" || status=$?
# Benchmark smoke: scripts/bench.sh on two profiles for 1 s each, no
# thresholds; each profile is one test case.
bench_results="$build/bench-smoke-results.txt"
rm -f "$bench_results"
scripts/bench-smoke.sh "$build" "$bench_results" || status=1
results=("$build")
if [ "${FLOWSENTRY_SANITIZE:-0}" = 1 ]; then
    echo "sanitised suite (ASan, UBSan) in $sanitized" >&2
    ninja -C "$sanitized"
    rm -f "$sanitized"/*.xml
    meson test -C "$sanitized" --print-errorlogs "$@" || status=$?
    results+=("$sanitized")
fi

# One closing line that CI and people read the same way, counting test
# cases (each GoogleTest case from the XML meson has it write).
/usr/bin/python3 - "$sanitized/fuzz-results.txt" "$bench_results" "${results[@]}" <<'PY'
import json, os, sys
import xml.etree.ElementTree as ET
passed = failed = skipped = 0
smokes = []
for path, missing in ((sys.argv[1], "fuzz smoke did not run"), (sys.argv[2], "bench smoke did not run")):
    smokes += (open(path).readlines() or [missing]) if os.path.exists(path) else [missing]
for result in smokes:
    ok = ": OK," in result
    passed += ok
    failed += not ok
for build, line in ((b, l) for b in sys.argv[3:] for l in open(os.path.join(b, "meson-logs", "testlog.json"))):
    t = json.loads(line)
    ok = t["result"] in ("OK", "EXPECTEDFAIL")
    xml = os.path.join(build, t["name"].split(" / ")[-1] + ".xml")
    if not os.path.exists(xml):
        passed += ok
        failed += not ok
        continue
    root = ET.parse(xml).getroot()
    n = lambda k: int(root.get(k, 0))
    bad = n("failures") + n("errors")
    skip = n("skipped") + n("disabled")
    passed += n("tests") - bad - skip
    failed += bad if (bad or ok) else 1  # a crash after the XML was written
    skipped += skip
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
