#!/usr/bin/python3
"""Generate the IP fragmentation captures in tests/data/ and their truth.

Run with Debian's python (it has scapy):  /usr/bin/python3 scripts/gen-fragment-captures.py

A Mirai Telnet session (gen-telnet-captures.py's) whose every packet larger
than one fragment is cut into IPv4 or IPv6 fragments, delivered in order,
reversed, overlapping or duplicated; and a flood of fragments that never
complete. Fragments are built by hand (offsets, overlaps and ids are the
point), the rest with the Flow/Capture helpers of gen-captures.py.

Each capture gets tests/data/<name>.pcap and <name>.defrag-truth.json:
    {"accepted": [[client_ip, client_port, server_ip, server_port]],  each found once
     "flows": [...],            as in *.telnet-truth.json: the signatures that must alert, once each
     "passwords": [...],        never to appear in any output
     "config": {...},           defrag settings the capture is run with (flood only)
     "defrag": {counter: N}}    every defrag counter that is not zero, from what was put on the wire
The overlap and duplicate counts follow the documented policy (first copy
wins): a fragment whose every byte was already sent, with the same value, is
a duplicate; one that covers sent bytes otherwise is an overlap.
"""

import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('gen_telnet_captures', os.path.join(HERE, 'gen-telnet-captures.py'))
tel = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tel)
gen = tel.gen  # gen-captures.py, as the Telnet generator loaded it
Flow, Capture = gen.Flow, gen.Capture

from scapy.all import (IP, IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,  # noqa: E402
                       IPv6ExtHdrHopByHop, PadN, Raw, wrpcap)

FRAGMENT = 24        # data bytes per fragment: a multiple of 8, room for the TCP header
TIMEOUT_S = 30       # defrag.timeout the flood is built around (the default)
FLOOD_TABLE = 64     # defrag.max_datagrams the flood capture is run with


class Ledger:
    """What the reassembler must count, from the fragments as they go on the wire."""

    def __init__(self):
        self.counts = {}
        self.held = {}   # datagram -> {offset: byte} sent so far

    def add(self, name, n=1):
        self.counts[name] = self.counts.get(name, 0) + n

    def fragment(self, datagram, offset, data):
        self.add('fragments')
        held = self.held.setdefault(datagram, {})
        covered = [i for i in range(offset, offset + len(data)) if i in held]
        same = all(held[i] == data[i - offset] for i in covered)
        if covered and len(covered) == len(data) and same:
            self.add('duplicates')
        elif covered:
            self.add('overlaps')
            self.add('overlap_bytes', len(covered))
        for i, b in enumerate(data):
            held.setdefault(offset + i, b)


def l3_and_data(pkt):
    """(the headers in front of the data as scapy layers, the bytes to fragment) of one packet."""
    if IP in pkt:
        ip = pkt[IP]
        raw = bytes(ip)
        return IP(src=ip.src, dst=ip.dst, ttl=ip.ttl, proto=6), raw[(raw[0] & 15) * 4:]
    ip6 = pkt[IPv6]
    raw = bytes(ip6)
    head = IPv6(src=ip6.src, dst=ip6.dst, hlim=ip6.hlim)
    unfrag = 40
    if IPv6ExtHdrHopByHop in pkt:
        # Both options headers stay in front of the Fragment header.
        head = head / IPv6ExtHdrHopByHop(nh=60, options=[PadN(optdata=b'\x00' * 4)]) \
            / IPv6ExtHdrDestOpt(nh=44, options=[PadN(optdata=b'\x00' * 4)])
        unfrag += 16
    return head, raw[unfrag:]


def fragment_frame(pkt, head, ident, offset, chunk, more):
    """One fragment: the packet's Ethernet header, its IP headers, this part of the data."""
    l2 = pkt.copy()
    l2.remove_payload()
    if IPv6 in head:
        last = head.copy()
        return l2 / last / IPv6ExtHdrFragment(nh=6, offset=offset // 8, m=int(more), id=ident) / Raw(chunk)
    return l2 / IP(src=head.src, dst=head.dst, ttl=head.ttl, proto=6, id=ident,
                   flags='MF' if more else 0, frag=offset // 8) / Raw(chunk)


def plan(data, variant):
    """(offset, bytes, more) of each fragment of `data`, in wire order."""
    total = len(data)
    if variant == 'overlap':
        # Each fragment 8 bytes longer than the stride (the same bytes twice),
        # and after the first one a copy of its last 8 bytes in X: it loses.
        pieces, off = [], 0
        while off < total:
            end = min(off + FRAGMENT + 8, total)
            pieces.append((off, data[off:end], end < total))
            off += FRAGMENT
            if end == total:
                break
        return pieces[:1] + [(FRAGMENT, b'X' * 8, True)] + pieces[1:]
    pieces = [(off, data[off:off + FRAGMENT], off + FRAGMENT < total) for off in range(0, total, FRAGMENT)]
    if variant == 'reversed':
        return pieces[::-1]
    if variant == 'duplicate':
        return [p for p in pieces[:-1] for _ in range(2)] + pieces[-1:]
    return pieces


class Fragmenter:
    """Cuts every packet whose data does not fit a first fragment; the rest pass whole."""

    def __init__(self, variant, ledger, first_id):
        self.variant, self.ledger, self.next_id = variant, ledger, first_id

    def __call__(self, pkts):
        out = []
        for pkt in pkts:
            head, data = l3_and_data(pkt)
            if len(data) <= FRAGMENT + 8:  # fits the first fragment of every variant
                out.append(pkt)
                continue
            ident, self.next_id = self.next_id, self.next_id + 1
            for offset, chunk, more in plan(data, self.variant):
                self.ledger.fragment(ident, offset, chunk)
                out.append(fragment_frame(pkt, head, ident, offset, chunk, more))
            self.ledger.add('reassembled')
        return out


def one_segment_commands(f):
    """The loader's commands in one segment, so they span several fragments."""
    return tel.client_segments(f, [b''.join(tel.MIRAI_COMMANDS)])


def write(cap, truth, ledger, config=None):
    wrpcap(os.path.join(gen.OUT_DIR, cap.name + '.pcap'), cap.packets)
    doc = {'accepted': cap.accepted, 'flows': truth.flows, 'passwords': truth.passwords,
           'config': config or {}, 'defrag': dict(sorted(ledger.counts.items()))}
    with open(os.path.join(gen.OUT_DIR, cap.name + '.defrag-truth.json'), 'w') as out:
        json.dump(doc, out, indent=1)
        out.write('\n')


def session_capture(name, flow, variant, first_id):
    cap, truth, ledger = Capture(name), tel.Truth(), Ledger()
    cap.add(Fragmenter(variant, ledger, first_id)(tel.mirai_session(flow, one_segment_commands)))
    cap.accept(flow)
    truth.flow(flow, tel.MIRAI_SIGNATURES, [['root', 'success']])
    truth.passwords.append('xc3511')
    return cap, truth, ledger


def incomplete_first_fragment(src, ident, data_len=32):
    """The first fragment of a datagram whose other fragments never come."""
    p = gen.Flow(src, 6000 + ident % 50000, '10.10.0.23', 23, ident, 0).pkt(True, 'PA', payload=b'F' * 64)
    head, data = l3_and_data(p)
    return p, head, data[:data_len]


def flood_capture():
    """Tiny first fragments, then more incomplete datagrams than the table
    holds, then (past the timeout) a fragmented Mirai session, then a few
    datagrams still incomplete at the end of the capture."""
    cap, truth, ledger = Capture('frag_flood'), tel.Truth(), Ledger()
    tiny, flood, leftover = 10, 5 * FLOOD_TABLE, 3
    # Tiny first fragments (8 bytes: the TCP flags in the next one), each
    # followed by the rest of its datagram, which is discarded.
    pkts = []
    for i in range(tiny):
        p, head, data = incomplete_first_fragment('198.51.100.9', 100 + i)
        pkts.append(fragment_frame(p, head, 100 + i, 0, data[:8], True))
        pkts.append(fragment_frame(p, head, 100 + i, 8, data[8:], False))
        ledger.add('fragments', 2)
        ledger.add('tiny_first')
        ledger.add('discarded')
    cap.add(pkts, gap_usec=100)
    # The flood, from many sources. The dropped tiny ones make room first
    # (no counter: they were counted), then the oldest incomplete ones go.
    pkts = []
    for i in range(flood):
        p, head, data = incomplete_first_fragment('198.51.100.%d' % (10 + i % 200), 1000 + i)
        pkts.append(fragment_frame(p, head, 1000 + i, 0, data, True))
        ledger.add('fragments')
    cap.add(pkts, gap_usec=100)
    ledger.add('evicted', flood - (FLOOD_TABLE - tiny) - tiny)
    ledger.add('timed_out', FLOOD_TABLE)  # all of the table's last ones, past the timeout
    # Past the timeout, the session: every flood datagram is due by then.
    f = Flow('203.0.113.77', 41777, '10.10.0.23', 23, 0x33330000, 0x44440000)
    session = Fragmenter('in_order', ledger, 20000)(tel.mirai_session(f, one_segment_commands))
    cap.clock.advance((TIMEOUT_S + 5) * 1000000)
    cap.add(session)
    cap.accept(f)
    truth.flow(f, tel.MIRAI_SIGNATURES, [['root', 'success']])
    truth.passwords.append('xc3511')
    # Still incomplete when the capture ends: flushed at shutdown.
    pkts = []
    for i in range(leftover):
        p, head, data = incomplete_first_fragment('198.51.100.250', 30000 + i)
        pkts.append(fragment_frame(p, head, 30000 + i, 0, data, True))
        ledger.add('fragments')
        ledger.add('flushed')
    cap.add(pkts)
    return cap, truth, ledger, {'max_datagrams': FLOOD_TABLE}


def main():
    os.makedirs(gen.OUT_DIR, exist_ok=True)
    made = []
    for n, variant in enumerate(['in_order', 'reversed', 'overlap', 'duplicate']):
        v4 = Flow('203.0.113.%d' % (70 + n), 40200 + n, '10.10.0.23', 23, 0x11110000 + n, 0x22220000 + n)
        made.append(session_capture('frag_ipv4_' + variant, v4, variant, 500 + 100 * n) + (None,))
        v6 = Flow('2001:db8:66::%d' % (70 + n), 40300 + n, '2001:db8:10::23', 23, 0x5550000 + n, 0x6660000 + n,
                  ext_headers=True)
        made.append(session_capture('frag_ipv6_' + variant, v6, variant, 0x10000 + 100 * n) + (None,))
    made.append(flood_capture())
    for cap, truth, ledger, config in made:
        write(cap, truth, ledger, config)
        print('%-22s %4d packets  %s' % (cap.name, len(cap.packets), json.dumps(ledger.counts)), file=sys.stderr)


if __name__ == '__main__':
    main()
