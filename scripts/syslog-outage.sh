#!/usr/bin/env bash
# A syslog receiver that restarts in the middle of a live run: what reaches
# it, against the file sink beside it (docs/operations.md#failure-modes-of-sinks).
#
# flowsentry reads Telnet connections (distinct client addresses, 200 per
# second for 14 s, stamped with the wall clock) from a FIFO through a live
# net_pcap port, into a file sink and a syslog sink of an rsyslogd on
# loopback; rsyslogd is stopped for 5 s after 4 s of traffic, then started
# again. Prints the documents of the file sink, how many rsyslog wrote, how
# many of them it never got and how many twice, and the sink's counters.
#
# Usage: scripts/syslog-outage.sh [BINARY] [tcp|udp] [RATE]
#   BINARY  default build/flowsentry; RATE: sinks[].rate (udp only)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/flowsentry}
transport=${2:-tcp}
rate=${3:-}
work=$(mktemp -d /tmp/flowsentry-outage-XXXXXX)
prefix=fs-outage-$$
rs_pid=""
cleanup() {
    [ -n "$rs_pid" ] && kill "$rs_pid" 2>/dev/null || true
    rm -rf "$work" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$work/rsyslog.conf" <<CONF
global(workDirectory="$work")
module(load="im$transport")
input(type="im$transport" address="127.0.0.1" port="$port" ruleset="r")
template(name="t" type="list") { property(name="msg") constant(value="\n") }
ruleset(name="r") { action(type="omfile" file="$work/received.log" template="t") }
CONF
start_rsyslog() {
    rm -f "$work/rs.pid"
    /usr/sbin/rsyslogd -f "$work/rsyslog.conf" -i "$work/rs.pid" >>"$work/rs.log" 2>&1
    for _ in $(seq 50); do [ -s "$work/rs.pid" ] && break; sleep 0.1; done
    rs_pid=$(cat "$work/rs.pid")
    sleep 0.5
}
cat >"$work/flowsentry.yaml" <<CONF
sinks:
  - {type: file, path: '$work/events.ndjson'}
  - {type: syslog, transport: $transport, address: '127.0.0.1:$port'${rate:+, rate: $rate}}
CONF
mkfifo "$work/capture.fifo"

start_rsyslog
/usr/bin/python3 - "$work/capture.fifo" 2800 200 <<'PY' &
import struct, sys, time
from scapy.all import Ether, IP, TCP, raw
path, n, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
mac = dict(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
def connection(i):
    c, s, cp = "10.%d.%d.%d" % (1 + i // 62500, (i // 250) % 250, i % 250 + 1), "203.0.113.7", 20000 + i % 40000
    seg = lambda src, dst, sp, dp, flags, seq, ack: raw(Ether(**mac) / IP(src=src, dst=dst) /
                                                        TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack))
    return [seg(c, s, cp, 23, "S", 1000, 0), seg(s, c, 23, cp, "SA", 5000, 1001), seg(c, s, cp, 23, "A", 1001, 5001),
            seg(c, s, cp, 23, "FA", 1001, 5001), seg(s, c, 23, cp, "FA", 5001, 1002), seg(c, s, cp, 23, "A", 1002, 5002)]
frames = [connection(i) for i in range(n)]
out = open(path, "wb", buffering=0)
out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
start = time.time()
for i, conn in enumerate(frames):
    while time.time() < start + i / rate:
        time.sleep(0.001)
    t = time.time()
    out.write(b"".join(struct.pack("<IIII", int(t), int(t % 1 * 1e6), len(f), len(f)) + f for f in conn))
PY
gen=$!
"$bin" --no-huge --no-pci -m 512 --file-prefix="$prefix" -l 0-1 --log-level=warning \
    --vdev "net_pcap0,rx_pcap=$work/capture.fifo" -- -c "$work/flowsentry.yaml" >"$work/flowsentry.log" 2>&1 &
fs=$!
sleep 12                      # scapy builds the frames (about 8 s), then 4 s of traffic
kill "$rs_pid"; sleep 5       # the receiver is away for 5 s
start_rsyslog
wait "$gen"
sleep 3
kill -INT "$fs"
status=0; wait "$fs" || status=$?
sleep 2
/usr/bin/python3 - "$work" "$status" <<'PY'
import collections, sys
work, status = sys.argv[1], sys.argv[2]
sent = collections.Counter(l.rstrip("\n") for l in open(work + "/events.ndjson"))
got = collections.Counter(l.strip() for l in open(work + "/received.log") if l.strip())
print("file sink %d documents; receiver %d; never received %d; received twice %d; flowsentry exit %s" %
      (sum(sent.values()), sum(got.values()), sum((sent - got).values()), sum((got - sent).values()), status))
PY
grep "output syslog" "$work/flowsentry.log"
