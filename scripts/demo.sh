#!/usr/bin/env bash
# Installs what is missing, builds, and replays bundled captures through the
# full DPDK pipeline (net_pcap vdevs, --no-huge --no-pci: no NIC, no hugepages)
# with the default configuration (the checkout's conf/flowsentry.yaml and its
# signature pack, found without -c): accepted connections over IPv4 and IPv6,
# and a Mirai session with its payload detections.
# Prints the ECS NDJSON events on stdout and the counters on stderr.
# Usage: scripts/demo.sh [CAPTURE...]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build flowsentry >/dev/null

captures=("$@")
[ ${#captures[@]} -gt 0 ] || captures=(tests/data/demo.pcap tests/data/telnet_mirai_23.pcap)
args=()
for c in "${captures[@]}"; do args+=(--pcap "$c"); done
echo "== flowsentry ${args[*]}" >&2
exec build/flowsentry "${args[@]}"
