#!/usr/bin/python3
"""Generate the Telnet payload-inspection captures in tests/data/ and their truth.

Run with Debian's python (it has scapy):  /usr/bin/python3 scripts/gen-telnet-captures.py

Reuses Flow/Capture of scripts/gen-captures.py. Each capture gets
tests/data/<name>.pcap and <name>.telnet-truth.json (a suffix of its own, so
the handshake truth check of test_captures keeps its meaning), written from
what this script put on the wire:
    {"flows": [{"client": [ip, port], "server": [ip, port],
                "signatures": [[id, "to_server" | "to_client"], ...],   each alerts exactly once
                "logins": [[user, "success" | "failure" | "unknown"], ...],   in order
                "nonstandard_port": true | false}],
     "brute_force_sources": [ip, ...],
     "passwords": [...],          never to appear in any output
     "iac_commands_inserted": N}  (Mirai captures) IAC commands added inside the client's commands
Signature ids are those of conf/signatures/telnet.yaml.
"""

import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location('gen_captures', os.path.join(HERE, 'gen-captures.py'))
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)
Flow, Capture = gen.Flow, gen.Capture

from scapy.all import wrpcap  # noqa: E402  (after the generator put scapy in place)

IAC, DONT, DO, WONT, WILL, SB, SE, NOP = 255, 254, 253, 252, 251, 250, 240, 241

# Signature ids (conf/signatures/telnet.yaml).
NEGOTIATION, SERVER_OPTIONS, NAWS_REPLY = 2300001, 2300002, 2300007
MIRAI_QUERY, MIRAI_ANSWER, BUSYBOX_PATH, SHELL_ESCAPE = 2300008, 2300009, 2300014, 2300015
DEFAULT_CREDS, LOGIN_PROMPT, PASSWORD_PROMPT, LOGIN_FAILURE, BUSYBOX_BANNER = 2300017, 2300018, 2300019, 2300020, 2300021

SERVER_NEGOTIATION = bytes([IAC, DO, 24, IAC, DO, 32, IAC, DO, 31])     # TTYPE, TSPEED, NAWS
MIRAI_NAWS = bytes([IAC, WILL, 31, IAC, SB, 31, 0, 80, 0, 24, IAC, SE])
BANNER = b'\r\n\r\nBusyBox v1.19.4 (2014-05-20 11:03:17 CST) built-in shell (ash)\r\n' \
         b'Enter \'help\' for a list of built-in commands.\r\n\r\n# '
MIRAI_COMMANDS = [b'enable\r\n', b'system\r\n', b'shell\r\n', b'sh\r\n', b'/bin/busybox MIRAI\r\n']


class Truth:
    def __init__(self):
        self.flows = []
        self.brute_force_sources = []
        self.passwords = []
        self.extra = {}

    def flow(self, f, signatures=(), logins=(), nonstandard_port=False):
        self.flows.append({'client': [f.cli, f.cport], 'server': [f.srv, f.sport],
                           'signatures': sorted([list(s) for s in signatures]),
                           'logins': [list(l) for l in logins], 'nonstandard_port': nonstandard_port})

    def write(self, cap):
        wrpcap(os.path.join(gen.OUT_DIR, cap.name + '.pcap'), cap.packets)
        with open(os.path.join(gen.OUT_DIR, cap.name + '.telnet-truth.json'), 'w') as out:
            json.dump(dict({'flows': self.flows, 'brute_force_sources': self.brute_force_sources,
                            'passwords': self.passwords}, **self.extra), out, indent=1)
            out.write('\n')


def split(payload, size):
    return [payload[i:i + size] for i in range(0, len(payload), size)]


def client_segments(f, chunks):
    """Client data segments, in order, each followed by the server's ACK."""
    pkts = []
    for c in chunks:
        pkts += [f.data(True, c), f.ack(False)]
    return pkts


def mirai_session(f, commands, password=b'xc3511'):
    """Mirai's scanner then loader: negotiation, default credentials, the shell escape, the query."""
    pkts = f.handshake()
    pkts += [f.data(False, SERVER_NEGOTIATION), f.data(True, MIRAI_NAWS),
             f.data(False, b'\r\nlogin: '), f.data(True, b'root\r\n'),
             f.data(False, b'Password: '), f.data(True, password + b'\r\n'),
             f.data(False, BANNER)]
    pkts += commands(f)
    pkts += [f.data(False, b'MIRAI: applet not found\r\n# ')]
    return pkts + f.fin_close()


MIRAI_SIGNATURES = [(NEGOTIATION, 'to_client'), (NEGOTIATION, 'to_server'), (SERVER_OPTIONS, 'to_client'),
                    (NAWS_REPLY, 'to_server'), (LOGIN_PROMPT, 'to_client'), (PASSWORD_PROMPT, 'to_client'),
                    (DEFAULT_CREDS, 'to_server'), (BUSYBOX_BANNER, 'to_client'), (SHELL_ESCAPE, 'to_server'),
                    (BUSYBOX_PATH, 'to_server'), (MIRAI_QUERY, 'to_server'), (MIRAI_ANSWER, 'to_client')]


def mirai_capture(name, port, commands, nonstandard=False):
    cap, truth = Capture(name), Truth()
    f = Flow('203.0.113.66', 40123, '10.10.0.23', port, 0x11110000, 0x22220000)
    cap.add(mirai_session(f, commands))
    truth.flow(f, MIRAI_SIGNATURES, [['root', 'success']], nonstandard)
    truth.passwords.append('xc3511')
    truth.extra['iac_commands_inserted'] = getattr(commands, 'inserted', 0)
    return cap, truth


def mirai_midstream(name, port):
    """Mirai's session seen from after the handshake (the tap joined late):
    the server speaks first. On 23 (telnet.ports) the port names the server;
    on 2323 nothing does until the server's IAC DO TERMINAL-TYPE."""
    cap, truth = Capture(name), Truth()
    f = Flow('203.0.113.67', 40125, '10.10.0.24', port, 0x33330000, 0x44440000)
    cap.add(mirai_session(f, in_order)[3:])
    truth.flow(f, MIRAI_SIGNATURES, [['root', 'success']])
    truth.passwords.append('xc3511')
    return cap, truth


def in_order(f):
    return client_segments(f, MIRAI_COMMANDS)


def one_byte_segments(f):
    return client_segments(f, split(b''.join(MIRAI_COMMANDS), 1))


def with_iac_commands(f):
    # IAC NOP inside every word, an AYT, a whole subnegotiation and a
    # negotiation in the middle of the query: none of it is data.
    text = b''.join(MIRAI_COMMANDS)
    noisy = b''
    for i, byte in enumerate(text):
        noisy += bytes([byte])
        if byte not in b'\r\n' and i % 2 == 0:
            noisy += bytes([IAC, NOP])
    cut = noisy.index(b'M')
    noisy = noisy[:cut] + bytes([IAC, SB, 24, 0]) + b'xterm' + bytes([IAC, SE, IAC, WONT, 1]) + noisy[cut:]
    with_iac_commands.inserted = noisy.count(bytes([IAC, NOP])) + 2
    return client_segments(f, split(noisy, 7))


def out_of_order(f):
    """The client's commands in 3-byte segments sent last first, then a retransmission and an overlap."""
    text = b''.join(MIRAI_COMMANDS)
    start = f.cseq
    pieces = [(start + i, text[i:i + 3]) for i in range(0, len(text), 3)]
    f.cseq += len(text)
    pkts = [f.pkt(True, 'PA', seq=s, payload=p) for s, p in reversed(pieces[1:])]
    # While the start is missing, a copy with other bytes over held data
    # (8 bytes that must lose: the first copy wins); then the start, then a
    # retransmission of it (6 bytes, not scanned twice).
    pkts.append(f.pkt(True, 'PA', seq=start + 4, payload=b'XXXXXXXX'))
    pkts.append(f.pkt(True, 'PA', seq=start, payload=pieces[0][1]))
    pkts.append(f.pkt(True, 'PA', seq=start, payload=text[:6]))
    return pkts + [f.ack(False)]


def login_retry():
    """An interactive login: one wrong password, then the right one."""
    cap, truth = Capture('telnet_login_retry'), Truth()
    f = Flow('192.0.2.50', 51515, '10.10.0.5', 23, 5000, 9000)
    wrong, right = b'wrongpass1', b's3cret-Pass'
    pkts = f.handshake()
    pkts += [f.data(False, bytes([IAC, DO, 24, IAC, WILL, 1])), f.data(True, bytes([IAC, WILL, 24, IAC, DO, 1])),
             f.data(False, b'Ubuntu 22.04 LTS\r\nhost login: '), f.data(True, b'alice\r\n'),
             f.data(False, b'Password: '), f.data(True, wrong + b'\r\n'),
             f.data(False, b'\r\nLogin incorrect\r\nhost login: '), f.data(True, b'alice\r\n'),
             f.data(False, b'Password: '), f.data(True, right + b'\r\n'),
             f.data(False, b'\r\nLast login: Mon Nov 20 10:00:00 from 192.0.2.50\r\n'),
             f.data(False, b'alice@host:~$ ')]
    cap.add(pkts + f.fin_close())
    truth.flow(f, [(NEGOTIATION, 'to_client'), (NEGOTIATION, 'to_server'), (LOGIN_PROMPT, 'to_client'),
                   (PASSWORD_PROMPT, 'to_client'), (LOGIN_FAILURE, 'to_client')],
               [['alice', 'failure'], ['alice', 'success']])
    truth.passwords += [wrong.decode(), right.decode()]
    return cap, truth


def brute_force():
    """Five connections from one source, each a failed login: one brute-force alert."""
    cap, truth = Capture('telnet_brute_force'), Truth()
    for i, pw in enumerate([b'Tr0ub4dor', b'winter2024', b'admin123', b'letmein', b'qwerty']):
        f = Flow('198.51.100.7', 41000 + i, '10.10.0.8', 23, 100000 * (i + 1), 200000 * (i + 1))
        pkts = f.handshake() + [f.data(False, b'login: '), f.data(True, b'admin\r\n'),
                                f.data(False, b'Password: '), f.data(True, pw + b'\r\n'),
                                f.data(False, b'\r\nLogin incorrect\r\n')] + f.fin_close()
        cap.add(pkts, gap_usec=200000)
        truth.flow(f, [(LOGIN_PROMPT, 'to_client'), (PASSWORD_PROMPT, 'to_client'), (LOGIN_FAILURE, 'to_client')],
                   [['admin', 'failure']])
        truth.passwords.append(pw.decode())
    truth.brute_force_sources.append('198.51.100.7')
    return cap, truth


def http_lookalike():
    """Telnet's and Mirai's strings inside HTTP on port 80: no Telnet alert of any kind."""
    cap, truth = Capture('http_telnet_strings'), Truth()
    f = Flow('192.0.2.80', 50080, '10.10.0.80', 80, 7000, 8000)
    body = b'login: root\r\nPassword: \r\n/bin/busybox MIRAI\r\nMIRAI: applet not found\r\n' + \
        bytes([IAC, DO, 24, IAC, DO, 32, IAC, WILL, 1])
    pkts = f.handshake() + [f.data(True, b'POST /upload HTTP/1.1\r\nHost: x\r\n\r\n' + body),
                            f.data(False, b'HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n' % len(body) + body)]
    cap.add(pkts + f.fin_close())
    truth.flow(f)
    return cap, truth


def nonstandard_port():
    """Telnet on port 8023: identified by its option negotiation, inspected, and alerted."""
    cap, truth = Capture('telnet_nonstandard_port'), Truth()
    f = Flow('192.0.2.90', 50900, '10.10.0.90', 8023, 3000, 4000)
    pkts = f.handshake() + [f.data(False, SERVER_NEGOTIATION), f.data(True, bytes([IAC, WONT, 24, IAC, WONT, 32])),
                            f.data(False, b'\r\nrouter login: '), f.data(True, b'operator\r\n'),
                            f.data(False, b'Password: '), f.data(True, b'hunter22\r\n'),
                            f.data(False, b'\r\nrouter> ')]
    cap.add(pkts + f.fin_close())
    truth.flow(f, [(NEGOTIATION, 'to_client'), (NEGOTIATION, 'to_server'), (SERVER_OPTIONS, 'to_client'),
                   (LOGIN_PROMPT, 'to_client'), (PASSWORD_PROMPT, 'to_client')],
               [['operator', 'success']], nonstandard_port=True)
    truth.passwords.append('hunter22')
    return cap, truth


def main():
    made = [mirai_capture('telnet_mirai_23', 23, in_order),
            mirai_capture('telnet_mirai_2323', 2323, in_order, nonstandard=True),
            mirai_capture('telnet_mirai_1byte', 23, one_byte_segments),
            mirai_capture('telnet_mirai_iac_nop', 23, with_iac_commands),
            mirai_capture('telnet_mirai_out_of_order', 23, out_of_order),
            login_retry(), brute_force(), http_lookalike(), nonstandard_port(),
            mirai_midstream('telnet_mirai_midstream_23', 23), mirai_midstream('telnet_mirai_midstream_2323', 2323)]
    for cap, truth in made:
        truth.write(cap)
        print('%-28s %4d packets, %d flows' % (cap.name, len(cap.packets), len(truth.flows)), file=sys.stderr)


if __name__ == '__main__':
    main()
