#!/usr/bin/python3
"""Generate the small test captures in tests/data/ and their ground truth.

Run with Debian's python (it has scapy):  /usr/bin/python3 scripts/gen-captures.py

Every capture gets tests/data/<name>.truth.json, written from the generator's
own knowledge of what it built:
    {"accepted": [[client_ip, client_port, server_ip, server_port], ...],
     "telnet_alerts": N,
     "network_type": "ipv4" | "ipv6"   (optional: every document's network.type)
     "vlan_id": "<outer vid>"          (optional: every document's network.vlan.id)
     "mirai_scan_syns": N              (optional: Mirai-style scanner SYN alerts)
     "end_counts": [[client_ip, client_port, server_ip, server_port,
                     client_frames, client_bytes, server_frames, server_bytes], ...]
                                       (optional: what each connection end counts)}
The random seed and all packet timestamps are fixed, so the output is
byte-identical on every run.
"""

import json
import os
import random
import sys

from scapy.all import (Dot1AD, Dot1Q, Ether, IP, IPv6, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrHopByHop, PadN, Padding, Raw, TCP, wrpcap)

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'data')
BASE_TIME = 1700000000  # 2023-11-14T22:13:20Z, whole seconds
TELNET_PORT = 23

CLIENT_MAC = '02:00:00:00:00:01'
SERVER_MAC = '02:00:00:00:00:02'


class Clock:
    """Packet clock in integer microseconds, so timestamps never drift."""

    def __init__(self):
        self.usec = 0

    def advance(self, usec):
        self.usec += usec

    def stamp(self, pkt):
        # Integer seconds plus a rounded fraction: stable through pcap's sec/usec split.
        pkt.time = BASE_TIME + self.usec // 1000000 + (self.usec % 1000000) / 1e6
        return pkt


class Flow:
    """One TCP 4-tuple; builds the packets of either side with correct numbers."""

    def __init__(self, cli, cport, srv, sport, cisn, sisn, vlans=(), ext_headers=False):
        self.cli, self.cport, self.srv, self.sport = cli, cport, srv, sport
        self.v6 = ':' in cli
        self.vlans = vlans          # ((ethertype, vid), ...) outermost first
        self.ext = ext_headers      # IPv6 hop-by-hop + destination options
        self.cisn, self.sisn = cisn, sisn
        self.cseq, self.sseq = cisn, sisn  # next sequence number of each side

    def tuple(self):
        return [self.cli, self.cport, self.srv, self.sport]

    def _l2(self, from_client):
        src, dst = (CLIENT_MAC, SERVER_MAC) if from_client else (SERVER_MAC, CLIENT_MAC)
        frame = Ether(src=src, dst=dst)
        for tpid, vid in self.vlans:
            frame = frame / (Dot1AD(vlan=vid) if tpid == 0x88A8 else Dot1Q(vlan=vid))
        return frame

    def _l3(self, from_client):
        src, dst = (self.cli, self.srv) if from_client else (self.srv, self.cli)
        if not self.v6:
            return IP(src=src, dst=dst, ttl=64)
        ip = IPv6(src=src, dst=dst, hlim=64)
        if self.ext:
            ip = ip / IPv6ExtHdrHopByHop(options=[PadN(optdata=b'\x00' * 4)]) \
                    / IPv6ExtHdrDestOpt(options=[PadN(optdata=b'\x00' * 4)])
        return ip

    def pkt(self, from_client, flags, seq=None, ack=None, payload=b''):
        """A segment; seq/ack default to each side's current numbers."""
        if seq is None:
            seq = self.cseq if from_client else self.sseq
        if ack is None:
            ack = self.sseq if from_client else self.cseq
        sport, dport = (self.cport, self.sport) if from_client else (self.sport, self.cport)
        options = [('MSS', 1460)] if 'S' in flags else []
        tcp = TCP(sport=sport, dport=dport, flags=flags, seq=seq % 2**32,
                  ack=(ack % 2**32) if 'A' in flags else 0, window=64240, options=options)
        p = self._l2(from_client) / self._l3(from_client) / tcp
        if payload:
            p = p / Raw(load=payload)
        return p

    # The pieces of a conversation; each advances the sequence numbers it consumes.
    def syn(self):
        p = self.pkt(True, 'S', seq=self.cisn)
        self.cseq = self.cisn + 1
        return p

    def synack(self):
        p = self.pkt(False, 'SA', seq=self.sisn, ack=self.cisn + 1)
        self.sseq = self.sisn + 1
        return p

    def ack(self, from_client=True):
        return self.pkt(from_client, 'A')

    def data(self, from_client, payload):
        p = self.pkt(from_client, 'PA', payload=payload)
        if from_client:
            self.cseq += len(payload)
        else:
            self.sseq += len(payload)
        return p

    def fin(self, from_client):
        p = self.pkt(from_client, 'FA')
        if from_client:
            self.cseq += 1
        else:
            self.sseq += 1
        return p

    def handshake(self):
        return [self.syn(), self.synack(), self.ack()]

    def telnet_exchange(self):
        # A little Telnet: option negotiation, a prompt, a user name.
        return [self.data(False, b'\xff\xfd\x18\xff\xfd\x20'),
                self.ack(True),
                self.data(True, b'\xff\xfc\x18\xff\xfc\x20'),
                self.data(False, b'login: '),
                self.data(True, b'root\r\n'),
                self.ack(False)]

    def fin_close(self):
        return [self.fin(True), self.fin(False), self.ack(True)]


class Capture:
    def __init__(self, name):
        self.name = name
        self.clock = Clock()
        self.packets = []
        self.accepted = []
        self.extra = {}

    def add(self, pkts, gap_usec=1000):
        for p in pkts:
            self.clock.advance(gap_usec)
            self.packets.append(self.clock.stamp(p))

    def accept(self, flow):
        self.accepted.append(flow.tuple())

    def write(self):
        wrpcap(os.path.join(OUT_DIR, self.name + '.pcap'), self.packets)
        truth = {'accepted': self.accepted,
                 'telnet_alerts': sum(1 for t in self.accepted if t[3] == TELNET_PORT)}
        truth.update(self.extra)
        # One connection per line, so a diff of the truth reads like the list it is.
        rows = ',\n  '.join(json.dumps(t) for t in truth.pop('accepted'))
        text = '{\n "accepted": [%s],\n' % ('\n  ' + rows + '\n ' if rows else '')
        text += ',\n'.join(' %s: %s' % (json.dumps(k), json.dumps(v)) for k, v in truth.items())
        with open(os.path.join(OUT_DIR, self.name + '.truth.json'), 'w') as f:
            f.write(text + '\n}\n')


def full_session(flow, telnet=True):
    pkts = flow.handshake()
    if telnet:
        pkts += flow.telnet_exchange()
    else:
        pkts += [flow.data(True, b'GET / HTTP/1.0\r\n\r\n'), flow.data(False, b'HTTP/1.0 200 OK\r\n\r\n')]
    return pkts + flow.fin_close()


def ipv4_telnet_basic():
    c = Capture('ipv4_telnet_basic')
    f = Flow('192.0.2.10', 40001, '198.51.100.23', 23, 1000, 500000)
    c.add(full_session(f))
    c.accept(f)
    c.extra['network_type'] = 'ipv4'
    return c


def ipv6_telnet():
    c = Capture('ipv6_telnet')
    f = Flow('2001:db8::10', 40002, '2001:db8:1::23', 23, 0xfffffff0, 77777)  # client ISN wraps
    c.add(full_session(f))
    c.accept(f)
    c.extra['network_type'] = 'ipv6'
    return c


def ipv6_ext_headers():
    # Hop-by-hop and destination options on every packet of both directions.
    c = Capture('ipv6_ext_headers')
    f = Flow('2001:db8::11', 40003, '2001:db8:1::23', 23, 424242, 99, ext_headers=True)
    c.add(full_session(f))
    c.accept(f)
    c.extra['network_type'] = 'ipv6'
    return c


def vlan_8021q():
    c = Capture('vlan_8021q')
    f = Flow('10.0.100.5', 40004, '10.0.100.23', 23, 123, 456, vlans=((0x8100, 100),))
    c.add(full_session(f))
    c.accept(f)
    c.extra['vlan_id'] = '100'
    return c


def vlan_qinq():
    c = Capture('vlan_qinq')
    f = Flow('10.0.200.5', 40005, '10.0.200.23', 23, 789, 1011,
             vlans=((0x88A8, 200), (0x8100, 300)))
    c.add(full_session(f))
    c.accept(f)
    c.extra['vlan_id'] = '200'
    return c


def rejected():
    c = Capture('rejected')
    f = Flow('192.0.2.20', 40006, '198.51.100.23', 23, 5000, 0)
    c.add([f.syn(), f.pkt(False, 'RA', seq=0, ack=5001)])
    return c


def no_reply():
    # The SYN and two retransmissions with the same ISN (1 s, then 2 s later).
    c = Capture('no_reply')
    f = Flow('192.0.2.21', 40007, '198.51.100.23', 23, 6000, 0)
    c.add([f.syn()])
    c.add([f.syn()], gap_usec=1000000)
    c.add([f.syn()], gap_usec=2000000)
    return c


def half_open():
    # The client answers the SYN-ACK with a bare RST (as a kernel does for a
    # SYN-ACK it has no socket for): no final ACK, so not accepted.
    c = Capture('half_open')
    f = Flow('192.0.2.22', 40008, '198.51.100.23', 23, 7000, 8000)
    c.add([f.syn(), f.synack(), f.pkt(True, 'R', seq=7001)])
    return c


def half_open_rst_ack():
    # As half_open, but the client's reset is RST+ACK acknowledging s+1. A reset
    # is never the handshake's final ACK, whatever its acknowledgement number.
    c = Capture('half_open_rst_ack')
    f = Flow('192.0.2.29', 40014, '198.51.100.23', 23, 22000, 23000)
    c.add([f.syn(), f.synack(), f.pkt(True, 'RA')])
    return c


def wrong_synack_ack():
    # The SYN-ACK acknowledges c+2 instead of c+1; the client still sends an
    # ACK acknowledging s+1 and then data. Not a handshake by the definition.
    c = Capture('wrong_synack_ack')
    f = Flow('192.0.2.23', 40009, '198.51.100.23', 23, 9000, 10000)
    syn = f.syn()
    bad = f.pkt(False, 'SA', seq=10000, ack=9002)
    f.sseq = 10001
    c.add([syn, bad, f.ack(), f.data(True, b'root\r\n')])
    return c


def wrong_final_ack():
    # Correct SYN and SYN-ACK, but the final ACK acknowledges s+2.
    c = Capture('wrong_final_ack')
    f = Flow('192.0.2.24', 40010, '198.51.100.23', 23, 11000, 12000)
    c.add([f.syn(), f.synack(), f.pkt(True, 'A', ack=12002)])
    return c


def duplicates():
    # Each handshake packet twice (as a span port duplicating frames would): one connection.
    c = Capture('duplicates')
    f = Flow('192.0.2.25', 40011, '198.51.100.23', 23, 13000, 14000)
    syn, synack, ack = f.handshake()
    pkts = [syn, syn.copy(), synack, synack.copy(), ack, ack.copy()]
    pkts += f.telnet_exchange() + f.fin_close()
    c.add(pkts)
    c.accept(f)
    return c


def port_reuse():
    # Same 4-tuple twice: connect and FIN close, then 5 s later a new SYN with a new ISN.
    c = Capture('port_reuse')
    f = Flow('192.0.2.26', 40012, '198.51.100.23', 23, 15000, 16000)
    c.add(full_session(f))
    c.accept(f)
    f.cisn, f.sisn = 3000000000, 17000
    c.clock.advance(5000000)
    c.add(full_session(f))
    c.accept(f)
    return c


def client_port_23_to_web():
    # Client port 23 to server port 80: accepted, but the server port is not Telnet.
    c = Capture('client_port_23_to_web')
    f = Flow('192.0.2.27', 23, '198.51.100.80', 80, 18000, 19000)
    c.add(full_session(f, telnet=False))
    c.accept(f)
    return c


def midstream():
    # Telnet data in both directions and a FIN close, but no handshake in the capture.
    c = Capture('midstream')
    f = Flow('192.0.2.28', 40013, '198.51.100.23', 23, 20000, 21000)
    f.cseq, f.sseq = 20500, 21500
    c.add([f.data(False, b'Password: '), f.ack(True), f.data(True, b'secret\r\n'),
           f.ack(False), f.data(False, b'$ '), f.ack(True)] + f.fin_close())
    return c


def fast_open():
    # TCP Fast Open (RFC 7413): the SYN carries the client's first bytes. The
    # first server takes them (its SYN-ACK acknowledges c+1+n), the second
    # declines them (c+1) and the client sends them again.
    c = Capture('fast_open')
    data = b'\xff\xfb\x18\xff\xfb\x1f'  # IAC WILL TTYPE, IAC WILL NAWS
    for cport, taken in ((40101, True), (40102, False)):
        f = Flow('192.0.2.101', cport, '198.51.100.23', 23, 31000 + cport, 41000 + cport)
        syn = f.pkt(True, 'S', seq=f.cisn, payload=data)
        f.cseq = f.cisn + 1 + (len(data) if taken else 0)
        synack = f.pkt(False, 'SA', seq=f.sisn, ack=f.cseq)
        f.sseq = f.sisn + 1
        pkts = [syn, synack, f.ack()]
        if not taken:
            pkts.append(f.data(True, data))
        c.add(pkts + [f.data(False, b'login: '), f.data(True, b'root\r\n')] + f.fin_close())
        c.accept(f)
    return c


def lost_final_ack():
    # The tap lost each client's final ACK. The first server speaks first (a
    # banner), so the client's next segment acknowledges s+1+banner; the second
    # client speaks first (ack s+1). The third client acknowledges more than
    # its server ever sent: not accepted.
    c = Capture('lost_final_ack')
    banner = b'\xff\xfd\x18\xff\xfd\x1f\r\nrouter login: '
    f = Flow('192.0.2.102', 40201, '198.51.100.23', 23, 52000, 62000)
    f.syn(), f.synack()
    pkts = [f.pkt(True, 'S', seq=f.cisn), f.pkt(False, 'SA', seq=f.sisn, ack=f.cisn + 1),
            f.data(False, banner), f.data(True, b'\xff\xfc\x18'), f.data(True, b'admin\r\n')]
    c.add(pkts + f.fin_close())
    c.accept(f)
    g = Flow('192.0.2.102', 40202, '198.51.100.23', 23, 53000, 63000)
    g.syn(), g.synack()
    c.add([g.pkt(True, 'S', seq=g.cisn), g.pkt(False, 'SA', seq=g.sisn, ack=g.cisn + 1),
           g.data(True, b'\xff\xfb\x18'), g.data(False, banner)] + g.fin_close())
    c.accept(g)
    h = Flow('192.0.2.102', 40203, '198.51.100.23', 23, 54000, 64000)
    c.add([h.syn(), h.synack(), h.data(False, banner),
           h.pkt(True, 'PA', ack=h.sseq + 100, payload=b'admin\r\n')])
    return c


def forged_synack():
    # Before the real SYN-ACK, one acknowledging a number the client never
    # sent (forged, or stale from an old connection); the client resets it
    # with <SEQ=SEG.ACK> and stays in SYN-SENT (RFC 793, RFC 5961). The real
    # SYN-ACK and the final ACK follow: one connection.
    c = Capture('forged_synack')
    f = Flow('192.0.2.103', 40301, '198.51.100.23', 23, 71000, 81000)
    forged_ack = 0x5eed0001
    pkts = [f.syn(), f.pkt(False, 'SA', seq=0x0badcafe, ack=forged_ack),
            f.pkt(True, 'R', seq=forged_ack), f.synack(), f.ack()]
    c.add(pkts + f.telnet_exchange() + f.fin_close())
    c.accept(f)
    return c


def reuse_after_reset():
    # A connection reset by the server, then the same 4-tuple with a new ISN
    # (retransmitted SYN and SYN-ACK on the way); then a half-open scan of the
    # same server from another port: two connections, the scan none.
    c = Capture('reuse_after_reset')
    f = Flow('192.0.2.104', 40401, '198.51.100.23', 23, 91000, 92000)
    c.add(f.handshake() + [f.data(False, b'login: '), f.pkt(False, 'RA')])
    c.accept(f)
    f.cisn, f.sisn = 2000000000, 93000
    syn = f.syn()
    synack = f.synack()
    c.add([syn, syn.copy(), synack, synack.copy(), f.ack()] + f.telnet_exchange() + f.fin_close(),
          gap_usec=200000)
    c.accept(f)
    scan = Flow('192.0.2.104', 40402, '198.51.100.23', 23, 94000, 95000)
    c.add([scan.syn(), scan.synack(), scan.pkt(True, 'R', seq=scan.cisn + 1)])
    return c


def mirai_scan_bad_offset():
    # Mirai-style scanner SYNs (sequence number = destination address) whose
    # data offset says 24 bytes while the IP datagram holds 20 of TCP: the
    # option sits in the Ethernet padding, as in scanners' real traffic.
    c = Capture('mirai_scan_bad_offset')
    n = 0
    for host in range(1, 5):
        dst = '10.30.1.%d' % host
        seq = int.from_bytes(bytes(int(x) for x in dst.split('.')), 'big')
        for port in (23, 2323):
            p = Ether(src=CLIENT_MAC, dst=SERVER_MAC) / IP(src='198.18.0.66', dst=dst, ttl=64, len=40) / \
                TCP(sport=50000 + host, dport=port, flags='S', seq=seq, window=14600, dataofs=6) / \
                Padding(load=b'\x02\x04\x05\xb4\x00\x00')
            c.add([p])
            n += 1
    c.extra['mirai_scan_syns'] = n
    return c


def counting_tail():
    # What a connection end counts: every frame of the connection, each
    # direction, with its bytes as captured. Here a client segment cut short
    # of its IP length (a broken copy, as in nDPI's telnet sample), and after
    # the FIN exchange the last ACK and a late reset.
    c = Capture('counting_tail')
    f = Flow('192.0.2.105', 40501, '198.51.100.23', 23, 96000, 97000)
    pkts = f.handshake() + f.telnet_exchange()
    whole = f.data(True, b'ls -l /tmp\r\n')
    pkts += [whole, Ether(bytes(whole)[:14 + 20 + 20])]
    pkts += [f.ack(False)] + f.fin_close() + [f.pkt(True, 'R')]
    c.add(pkts)
    c.accept(f)
    counts = [0, 0, 0, 0]
    for p in pkts:
        side = 0 if p[IP].src == f.cli else 2
        counts[side] += 1
        counts[side + 1] += len(bytes(p))
    c.extra['end_counts'] = [f.tuple() + counts]
    return c


def midstream_reoriented_late():
    # Telnet on 10023 joined mid-stream: no port tells the server, so the
    # first sender (the server's IAC WILL ECHO, WILL SGA) is taken for the
    # client, and inspection starts that way round; the real client's answer
    # changes nothing; the server's `login:` prompt proves the orientation
    # wrong. Nothing is accepted (no handshake).
    c = Capture('midstream_reoriented_late')
    f = Flow('192.0.2.106', 40601, '198.51.100.90', 10023, 98000, 99000)
    f.cseq, f.sseq = 98500, 99500
    c.add([f.data(False, b'\xff\xfb\x01\xff\xfb\x03'), f.data(True, b'\xff\xfd\x01\xff\xfd\x03'),
           f.data(False, b'\r\nrouter login: '), f.data(True, b'operator\r\n'),
           f.data(False, b'Password: '), f.data(True, b'hunter22\r\n'),
           f.data(False, b'\r\nrouter> ')] + f.fin_close())
    return c


def many_flows(rng):
    """300 flows of mixed outcomes, interleaved in a seeded random order."""
    c = Capture('many_flows')
    kinds = ['telnet'] * 60 + ['other'] * 60 + ['rejected'] * 60 + ['no_reply'] * 60 \
        + ['half_open'] * 30 + ['telnet_v6'] * 15 + ['other_v6'] * 15
    rng.shuffle(kinds)
    queues = []
    used = set()
    for i, kind in enumerate(kinds):
        while True:
            cport = rng.randrange(1024, 65536)
            if cport not in used:
                used.add(cport)
                break
        v6 = kind.endswith('_v6')
        cli = '2001:db8:2::%x' % (i + 1) if v6 else '10.1.%d.%d' % (i // 200, i % 200 + 1)
        srv_last = rng.randrange(1, 8)
        if kind.startswith('telnet') or kind in ('rejected', 'no_reply', 'half_open'):
            sport = 23 if kind.startswith('telnet') else rng.choice([23, 2323, 22, 80])
        else:
            sport = rng.choice([22, 80, 443, 2323, 8080])
        srv = '2001:db8:3::%d' % srv_last if v6 else '172.16.0.%d' % srv_last
        f = Flow(cli, cport, srv, sport, rng.randrange(2**32), rng.randrange(2**32))
        if kind in ('telnet', 'telnet_v6'):
            pkts = full_session(f, telnet=True)
        elif kind in ('other', 'other_v6'):
            pkts = full_session(f, telnet=False)
        elif kind == 'rejected':
            pkts = [f.syn(), f.pkt(False, 'RA', seq=0, ack=f.cisn + 1)]
        elif kind == 'no_reply':
            pkts = [f.syn(), f.syn()]
        else:  # half_open
            pkts = [f.syn(), f.synack(), f.pkt(True, 'R', seq=f.cisn + 1)]
        queues.append((f, kind, pkts))

    # Merge: repeatedly take the next packet of a random flow that has some left.
    # A flow counts as accepted in the order its final ACK appears.
    positions = [0] * len(queues)
    live = list(range(len(queues)))
    while live:
        k = rng.randrange(len(live))
        q = live[k]
        f, kind, pkts = queues[q]
        c.add([pkts[positions[q]]], gap_usec=rng.randrange(100, 2000))
        if positions[q] == 2 and kind in ('telnet', 'other', 'telnet_v6', 'other_v6'):
            c.accept(f)
        positions[q] += 1
        if positions[q] == len(pkts):
            live[k] = live[-1]
            live.pop()
    return c


def demo():
    """What scripts/demo.sh replays: a few minutes of an uplink with Telnet in it."""
    c = Capture('demo')
    telnet = Flow('10.20.0.5', 51000, '203.0.113.7', 23, 11000, 910000)
    c.add(full_session(telnet))
    c.accept(telnet)
    web = Flow('10.20.0.8', 51544, '198.51.100.80', 443, 31000, 77000)
    c.add(full_session(web, telnet=False), gap_usec=400000)
    c.accept(web)
    refused = Flow('192.0.2.44', 41022, '10.20.0.9', 23, 4400, 0)
    c.add([refused.syn(), refused.pkt(False, 'RA', seq=0, ack=4401)], gap_usec=250000)
    # A scanner sweeping port 23: nobody answers.
    for host in range(1, 6):
        probe = Flow('198.18.0.9', 60000 + host, '10.20.1.%d' % host, 23, 0x0A140100 + host, 0)
        c.add([probe.syn()], gap_usec=2000)
    v6 = Flow('2001:db8:20::5', 52200, '2001:db8:99::23', 23, 123456, 654321)
    c.add(full_session(v6), gap_usec=900000)
    c.accept(v6)
    return c


def telnet_pairs():
    """300 accepted Telnet connections, each its own client/server pair: every
    one must get its accepted-connection alert (issue 16: a global throttle of
    100 per rule hid 200 of them)."""
    c = Capture('telnet_pairs')
    for i in range(300):
        cli = '10.2.%d.%d' % (i // 250, i % 250 + 1)
        srv = '198.51.100.%d' % (i % 50 + 1)
        f = Flow(cli, 40000 + i, srv, TELNET_PORT, 1000000 * (i + 1), 500000 * (i + 1))
        c.add(full_session(f), gap_usec=2000)
        c.accept(f)
    return c


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    rng = random.Random(20240601)
    captures = [ipv4_telnet_basic(), ipv6_telnet(), ipv6_ext_headers(), vlan_8021q(),
                vlan_qinq(), rejected(), no_reply(), half_open(), half_open_rst_ack(),
                wrong_synack_ack(),
                wrong_final_ack(), duplicates(), port_reuse(), client_port_23_to_web(),
                midstream(), many_flows(rng), demo(), fast_open(), lost_final_ack(), forged_synack(),
                reuse_after_reset(), mirai_scan_bad_offset(), counting_tail(), midstream_reoriented_late(),
                telnet_pairs()]
    for cap in captures:
        cap.write()
        print('%-24s %5d packets, %3d accepted, %3d telnet alerts'
              % (cap.name, len(cap.packets), len(cap.accepted),
                 sum(1 for t in cap.accepted if t[3] == TELNET_PORT)), file=sys.stderr)


if __name__ == '__main__':
    main()
