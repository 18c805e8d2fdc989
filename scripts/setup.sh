#!/usr/bin/env bash
# Installs what flowsentry needs to build, test and run, from Debian's
# packages only. Does nothing when everything is already there.
set -euo pipefail

packages=(
    build-essential pkg-config meson ninja-build
    dpdk dpdk-dev libdpdk-dev          # EAL, ethdev, net_pcap/memif/ring PMDs, dpdk-testpmd
    libhyperscan-dev libyaml-cpp-dev rapidjson-dev libssl-dev libpcap-dev
    libgtest-dev libbenchmark-dev
    tshark python3-scapy               # independent ground truth and capture generation
    time                               # peak memory in scripts/bench.sh
    python3-yaml python3-matplotlib    # scripts/bench.sh configuration, scripts/plot-performance.py
    rsyslog                            # a real syslog receiver for the sink test
    clang libclang-rt-14-dev           # libFuzzer, ASan and UBSan builds (scripts/fuzz.sh)
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >&2
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
