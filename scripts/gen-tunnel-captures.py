#!/usr/bin/python3
"""Generate the tunnel captures in tests/data/ and their ground truth.

Run with Debian's python (it has scapy):  /usr/bin/python3 scripts/gen-tunnel-captures.py

Each capture carries Mirai-style Telnet connections (scripts/gen-telnet-captures.py's
mirai_session: default credentials, the shell escape, /bin/busybox MIRAI) inside one
encapsulation, built by wrapping every packet of gen-captures.py's Flow. Directions
may use different outer headers (mirror sessions, label stacks, sensors), as on real
links. tests/data/tunnel_<name>.pcap gets tunnel_<name>.tunnel-truth.json, written
from what this script put on the wire:
    {"connections": [{"client": [ip, port], "server": [ip, port],
                      "tunnel": {"type": "vxlan", "id": 5001 | null, "id_type": "vxlan" | null,
                                 "outer": {"to_server": [src, dst] | null, "to_client": [src, dst] | null},
                                 "erspan_session": {"to_server": n, "to_client": n} | null,
                                 "outer_vlan": "100" | null},
                      "signatures": [[id, "to_server" | "to_client"], ...],
                      "logins": [[user, outcome], ...]}],
     "layers": {"<layer counter name>": packets carrying that layer, ...},   every other layer 0
     "passwords": [...]}
"""

import importlib.util
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _load('gen_captures', 'gen-captures.py')
telnet = _load('gen_telnet_captures', 'gen-telnet-captures.py')

from scapy.all import Dot1Q, Ether, GRE, IP, IPv6, UDP, wrpcap  # noqa: E402
from scapy.contrib.erspan import ERSPAN_II, ERSPAN_III, ERSPAN_PlatformSpecific  # noqa: E402
from scapy.contrib.geneve import GENEVE, GeneveOptions  # noqa: E402
from scapy.contrib.mpls import MPLS  # noqa: E402
from scapy.layers.vxlan import VXLAN  # noqa: E402

ROUTER_A, ROUTER_B = '02:00:00:00:0a:01', '02:00:00:00:0a:02'  # the outer frames' MACs


def outer_ether(to_server, vlan=None):
    src, dst = (ROUTER_A, ROUTER_B) if to_server else (ROUTER_B, ROUTER_A)
    frame = Ether(src=src, dst=dst)
    return frame / Dot1Q(vlan=vlan) if vlan is not None else frame


def both_ways(a, b):
    """Outer addresses of a tunnel between two endpoints: a to b, then back."""
    return {'to_server': [a, b], 'to_client': [b, a]}


def outer_ip(outer, to_server, vlan=None, **fields):
    """The outer Ethernet and IPv4 header of one direction."""
    src, dst = outer['to_server' if to_server else 'to_client']
    return outer_ether(to_server, vlan) / IP(src=src, dst=dst, ttl=64, **fields)


class TunnelFlow(gen.Flow):
    """A Flow whose every packet goes through `wrap(inner_frame, to_server)`."""

    def __init__(self, wrap, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.wrap = wrap

    def pkt(self, from_client, flags, seq=None, ack=None, payload=b''):
        return self.wrap(super().pkt(from_client, flags, seq, ack, payload), from_client)


def inner_ip(frame):
    """The IP packet of an inner Ethernet frame (for tunnels that carry IP, not Ethernet)."""
    return frame[IPv6] if IPv6 in frame else frame[IP]


class TunnelCapture:
    def __init__(self, name, layers):
        self.cap = gen.Capture('tunnel_' + name)
        self.layers = layers          # counter names every packet of this capture carries
        self.connections = []
        self.passwords = []

    def connection(self, f, tunnel):
        self.connections.append({'client': [f.cli, f.cport], 'server': [f.srv, f.sport], 'tunnel': tunnel,
                                 'signatures': sorted([list(s) for s in telnet.MIRAI_SIGNATURES]),
                                 'logins': [['root', 'success']]})
        self.passwords.append('xc3511')

    def write(self):
        out = os.path.join(gen.OUT_DIR, self.cap.name)
        wrpcap(out + '.pcap', self.cap.packets)
        n = len(self.cap.packets)
        truth = {'connections': self.connections, 'layers': {layer: n for layer in self.layers},
                 'passwords': sorted(set(self.passwords))}
        with open(out + '.tunnel-truth.json', 'w') as f:
            json.dump(truth, f, indent=1)
            f.write('\n')


def tunnel_truth(type_, id_=None, outer=None, erspan=None, outer_vlan=None):
    return {'type': type_, 'id': id_, 'id_type': type_ if id_ is not None else None,
            'outer': outer, 'erspan_session': erspan, 'outer_vlan': outer_vlan}


def mirai(wrap, cli, cport, srv, isn):
    f = TunnelFlow(wrap, cli, cport, srv, 23, isn, isn + 0x01000000)
    return f, telnet.mirai_session(f, telnet.in_order)


def mpls():
    """Two labels each way (different stacks per direction), IPv4 inside, outer VLAN 100."""
    tc = TunnelCapture('mpls', ['mpls'])

    def wrap(frame, to_server):
        labels = (16, 1001) if to_server else (17, 2002)
        return outer_ether(to_server, 100) / MPLS(label=labels[0], s=0, ttl=64) / \
            MPLS(label=labels[1], s=1, ttl=64) / inner_ip(frame)
    f, pkts = mirai(wrap, '203.0.113.66', 40101, '10.20.0.23', 0x10000000)
    tc.cap.add(pkts)
    tc.connection(f, tunnel_truth('mpls', outer_vlan='100'))
    return tc


def gre_key():
    """GRE with a key (and checksum) carrying IPv4; each direction its own outer pair."""
    tc = TunnelCapture('gre_key', ['gre'])
    outer = both_ways('192.0.2.1', '192.0.2.2')

    def wrap(frame, to_server):
        return outer_ip(outer, to_server) / GRE(key_present=1, key=4242, chksum_present=1, proto=0x0800) / \
            inner_ip(frame)
    f, pkts = mirai(wrap, '203.0.113.67', 40102, '10.20.0.24', 0x20000000)
    tc.cap.add(pkts)
    tc.connection(f, tunnel_truth('gre', 4242, outer))
    return tc


def erspan2():
    """ERSPAN type II from two mirror sessions: each direction mirrored by another switch."""
    tc = TunnelCapture('erspan2', ['gre', 'erspan2'])
    outer = {'to_server': ['192.0.2.101', '192.0.2.200'], 'to_client': ['192.0.2.102', '192.0.2.200']}
    session = {'to_server': 10, 'to_client': 11}
    seq = [0]

    def wrap(frame, to_server):
        seq[0] += 1
        return outer_ip(outer, to_server) / GRE(seqnum_present=1, sequence_number=seq[0], proto=0x88BE) / \
            ERSPAN_II(ver=1, session_id=session['to_server' if to_server else 'to_client'], index=7) / frame
    f, pkts = mirai(wrap, '203.0.113.68', 40103, '10.20.0.25', 0x30000000)
    tc.cap.add(pkts)
    tc.connection(f, tunnel_truth('erspan2', outer=outer, erspan=session))
    return tc


def erspan3():
    """ERSPAN type III with the platform-specific subheader, inner frames on VLAN 30."""
    tc = TunnelCapture('erspan3', ['gre', 'erspan3'])
    outer = {'to_server': ['192.0.2.111', '192.0.2.210'], 'to_client': ['192.0.2.111', '192.0.2.210']}
    session = {'to_server': 300, 'to_client': 300}

    def wrap(frame, to_server):
        return outer_ip(outer, to_server) / GRE(proto=0x22EB) / \
            ERSPAN_III(session_id=session['to_server' if to_server else 'to_client'], timestamp=1234, o=1) / \
            ERSPAN_PlatformSpecific(platf_id=3, info1=1, info2=2) / frame
    f = TunnelFlow(wrap, '203.0.113.69', 40104, '10.20.0.26', 23, 0x40000000, 0x41000000,
                   vlans=((0x8100, 30),))
    tc.cap.add(telnet.mirai_session(f, telnet.in_order))
    tc.connection(f, tunnel_truth('erspan3', outer=outer, erspan=session))
    return tc


def vxlan_tenants():
    """Two tenants (VNIs 5001 and 5002) with the same inner addresses and ports, interleaved."""
    tc = TunnelCapture('vxlan_tenants', ['vxlan'])
    sessions = []
    for vni, vtep_c, vtep_s, isn in ((5001, '198.18.0.1', '198.18.0.2', 0x50000000),
                                     (5002, '198.18.0.3', '198.18.0.4', 0x60000000)):
        outer = both_ways(vtep_c, vtep_s)

        def wrap(frame, to_server, vni=vni, outer=outer):
            return outer_ip(outer, to_server, 100) / UDP(sport=49152 + vni % 1000, dport=4789) / \
                VXLAN(vni=vni) / frame
        f, pkts = mirai(wrap, '10.0.0.5', 40105, '10.0.0.23', isn)
        tc.connection(f, tunnel_truth('vxlan', vni, outer, outer_vlan='100'))
        sessions.append(pkts)
    for a, b in zip(*sessions):
        tc.cap.add([a, b])
    return tc


def geneve_options():
    """Geneve with two options (12 bytes), inner Ethernet."""
    tc = TunnelCapture('geneve', ['geneve'])
    outer = both_ways('198.18.1.1', '198.18.1.2')
    options = [GeneveOptions(classid=0x0102, type=0x80, data=b'\xde\xad\xbe\xef'),
               GeneveOptions(classid=0x0103, type=0x01, data=b'')]

    def wrap(frame, to_server):
        return outer_ip(outer, to_server) / UDP(sport=50000, dport=6081) / \
            GENEVE(vni=0x00abcd, proto=0x6558, options=options) / frame
    f, pkts = mirai(wrap, '203.0.113.70', 40106, '10.20.0.27', 0x70000000)
    tc.cap.add(pkts)
    tc.connection(f, tunnel_truth('geneve', 0x00abcd, outer))
    return tc


def ip_in_ip(name, layer, proto, outer, client, server, isn):
    """An IP packet straight inside IPv4 (protocol 4 or 41)."""
    tc = TunnelCapture(name, [layer])

    def wrap(frame, to_server):
        return outer_ip(outer, to_server, proto=proto) / inner_ip(frame)
    f, pkts = mirai(wrap, client[0], client[1], server, isn)
    tc.cap.add(pkts)
    tc.connection(f, tunnel_truth(layer, outer=outer))
    return tc


def ipv6_in_ipv4():
    """6in4: IPv6 Telnet inside IPv4 protocol 41."""
    return ip_in_ip('ipv6_in_ipv4', 'ipv6_in_ip', 41, both_ways('192.0.2.41', '192.0.2.42'),
                    ('2001:db8:66::1', 40107), '2001:db8:23::23', 0x80000000)


def ipip():
    """IPv4 in IPv4 (protocol 4)."""
    return ip_in_ip('ipip', 'ipip', 4, both_ways('192.0.2.4', '192.0.2.5'),
                    ('203.0.113.71', 40108), '10.20.0.28', 0x90000000)


def main():
    for build in (mpls, gre_key, erspan2, erspan3, vxlan_tenants, geneve_options, ipv6_in_ipv4, ipip):
        tc = build()
        tc.write()
        print('wrote', tc.cap.name, len(tc.cap.packets), 'packets')


if __name__ == '__main__':
    main()
