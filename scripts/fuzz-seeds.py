#!/usr/bin/python3
"""Write the seed corpora of the fuzz targets (tests/fuzz) into OUT_DIR/<target>/.

Usage: scripts/fuzz-seeds.py OUT_DIR

Seeds come from what the tests already use: frames of tests/data/*.pcap and
of the shared third-party captures ($FLOWSENTRY_SHARED_PCAPS, default
../shared/pcaps), the shipped configuration and the YAML the configuration
tests feed the loader, and the command lines of the command-line tests.
Only the standard library: it runs where the build runs.
"""

import ast
import glob
import hashlib
import os
import re
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
FRAMES_PER_CAPTURE = 40   # decoder seeds: the first frames of each capture
SEQUENCE_FRAMES = 64      # pipeline seeds: consecutive frames per input


def pcap_frames(path):
    """(time in ms, bytes) of each frame of a classic pcap file."""
    with open(path, 'rb') as f:
        data = f.read()
    magic = data[:4]
    if magic in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1'):
        endian = '<'
    elif magic in (b'\xa1\xb2\xc3\xd4', b'\xa1\xb2\x3c\x4d'):
        endian = '>'
    else:
        return []  # pcapng: not used by the tests
    nano = magic in (b'\x4d\x3c\xb2\xa1', b'\xa1\xb2\x3c\x4d')
    frames, at = [], 24
    while at + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + 'IIII', data[at:at + 16])
        at += 16
        frames.append((sec * 1000 + (frac // 1000000 if nano else frac // 1000), data[at:at + incl]))
        at += incl
    return frames


def captures():
    shared = os.environ.get('FLOWSENTRY_SHARED_PCAPS', os.path.join(ROOT, '..', 'shared', 'pcaps'))
    return sorted(glob.glob(os.path.join(ROOT, 'tests', 'data', '*.pcap')) +
                  glob.glob(os.path.join(shared, '*.pcap')))


def write(out_dir, target, blobs):
    d = os.path.join(out_dir, target)
    os.makedirs(d, exist_ok=True)
    for blob in blobs:
        with open(os.path.join(d, hashlib.sha1(blob).hexdigest()), 'wb') as f:
            f.write(blob)


def sequence(frames):
    """The pipeline target's input: [ms step][length, 2 bytes][frame] records."""
    out, last = b'', frames[0][0]
    for ms, frame in frames:
        out += bytes([max(0, min(255, ms - last))]) + struct.pack('>H', len(frame)) + frame
        last = ms
    return out


def c_string_literals(text):
    return [ast.literal_eval(s).encode() for s in re.findall(r'"(?:[^"\\\n]|\\.)*"', text)]


def main():
    out_dir = sys.argv[1]
    decode, pipeline = [], []
    for path in captures():
        frames = pcap_frames(path)
        decode += [f for _, f in frames[:FRAMES_PER_CAPTURE]]
        for i in range(0, len(frames), SEQUENCE_FRAMES):
            pipeline.append(sequence(frames[i:i + SEQUENCE_FRAMES]))
    write(out_dir, 'decode', decode)
    write(out_dir, 'flow_pipeline', pipeline)

    # Normaliser seeds: frames of the Telnet captures (their payloads hold the
    # IAC sequences), behind a byte that chooses the segment cuts.
    telnet = [path for path in captures() if 'telnet' in os.path.basename(path)]
    write(out_dir, 'telnet_normalizer',
          [bytes([cut]) + frame for path in telnet for cut in (0x00, 0x5a)
           for _, frame in pcap_frames(path)[:FRAMES_PER_CAPTURE]])

    # Login tracker seeds: the Telnet captures' TCP payloads as a conversation,
    # [direction][length][data] records (port 23 on either side tells which).
    conversations = []
    for path in telnet:
        records = b''
        for _, frame in pcap_frames(path):
            if len(frame) < 54 or frame[12:14] != b'\x08\x00' or frame[23] != 6:
                continue
            ihl = (frame[14] & 0x0F) * 4
            tcp = 14 + ihl
            payload = frame[tcp + (frame[tcp + 12] >> 4) * 4:]
            if payload:
                from_client = struct.unpack('>H', frame[tcp + 2:tcp + 4])[0] == 23
                records += bytes([from_client, min(len(payload), 255)]) + payload[:255]
        if records:
            conversations.append(records)
    write(out_dir, 'login_tracker', conversations)

    # Reassembly seeds: streams cut in order, reversed, and overlapping.
    streams = []
    for records in conversations[:4]:
        stream = records[:600]
        n = len(stream)
        for order in ('forward', 'reverse', 'overlap'):
            cuts = [(o, min(37, n - o)) for o in range(0, n, 37)]
            if order == 'reverse':
                cuts.reverse()
            elif order == 'overlap':
                cuts = [(max(0, o - 5), min(47, n - max(0, o - 5))) for o, _ in cuts]
            cuts = cuts[:255]
            streams.append(struct.pack('<IB', 0xFFFFFF00, len(cuts)) +
                           b''.join(struct.pack('<HB', o, l) for o, l in cuts) + stream)
    write(out_dir, 'stream_reassembly', streams)

    # IP reassembly seeds: a datagram's fragments in order, reversed,
    # overlapping and repeated, IPv4 and IPv6; one spanning several blocks;
    # and a flood of first fragments.
    fragments = []
    for v6 in (0, 8):
        cuts = [(o, 48, o + 48 < 200) for o in range(0, 200, 48)]
        for order in (cuts, cuts[::-1], cuts[:1] + [(24, 32, True)] + cuts[1:], [c for c in cuts for _ in (0, 1)]):
            fragments.append(bytes([len(order)]) + b''.join(
                struct.pack('<HBB', o // 8, min(l, 200 - o), int(more) | v6 | 2) for o, l, more in order))
    fragments.append(bytes([64]) + b''.join(struct.pack('<HBB', 0, 40, 1 | (d % 4) << 1 | (d % 3) << 5)
                                            for d in range(64)))
    big = [(o, min(240, 1200 - o), o + 240 < 1200) for o in range(0, 1200, 240)]  # spans three blocks
    fragments.append(bytes([len(big)]) + b''.join(struct.pack('<HBB', o // 8, l, int(m) | 4) for o, l, m in big))
    write(out_dir, 'ip_reassembly', fragments)

    write(out_dir, 'signature_pack',
          [open(p, 'rb').read() for p in glob.glob(os.path.join(ROOT, 'conf', 'signatures', '*.yaml'))])

    configs = [open(p, 'rb').read() for p in glob.glob(os.path.join(ROOT, 'conf', '*.yaml'))]
    test = open(os.path.join(ROOT, 'tests', 'unit', 'test_config.cpp')).read()
    for call in re.findall(r'(?:parse|error_of)\(((?:"(?:[^"\\\n]|\\.)*"\s*)+)', test):
        configs.append(b''.join(c_string_literals(call)))
    write(out_dir, 'config', configs)

    test = open(os.path.join(ROOT, 'tests', 'unit', 'test_command_line.cpp')).read()
    command_lines = [b'\0'.join(c_string_literals(args)[1:])
                     for args in re.findall(r'(?:parse|error_of)\(\{([^}]*)\}', test)]
    write(out_dir, 'command_line', command_lines)


if __name__ == '__main__':
    main()
