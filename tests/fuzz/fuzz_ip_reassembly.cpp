// libFuzzer target: IP reassembly. The input is a list of fragments of four
// datagrams (IPv4 or IPv6, any offset, length, order, overlap, repeat, time
// step), built into frames, decoded and given to a reassembler with small
// bounds, so every limit, eviction and timeout is reached. A fragment's bytes
// are a function of its datagram and offset unless it is marked as a
// conflicting copy: whatever completes without a conflicting copy must
// carry exactly those bytes and decode as an ordinary packet. At the end
// every block is free again.
//
// Input: [count: 1 byte] then per fragment 4 bytes:
//        [offset in 8-byte units: 2 bytes, little endian, 13 bits]
//        [data length: 1 byte]
//        [flags: bit 0 more, bits 1-2 datagram, bit 3 IPv6, bit 4 conflicting copy, bits 5-7 time step]
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "flowsentry/decode.hpp"
#include "flowsentry/ip_reassembly.hpp"

using namespace flowsentry;

namespace {

constexpr uint64_t kSecond = 1000000000ull;

uint8_t byte_at(unsigned datagram, uint32_t offset, bool conflicting)
{
    return static_cast<uint8_t>(offset * 7 + datagram * 31 + (conflicting ? 101 : 0));
}

void put16(std::vector<uint8_t> &b, uint32_t v)
{
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

std::vector<uint8_t> frame_of(unsigned datagram, bool v6, uint32_t offset, uint32_t len, bool more,
                              bool conflicting)
{
    std::vector<uint8_t> b = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    if (v6) {
        put16(b, 0x86DD);
        b.insert(b.end(), {0x60, 0, 0, 0});
        put16(b, 8 + len);
        b.push_back(44);
        b.push_back(64);
        for (int i = 0; i < 32; ++i)
            b.push_back(static_cast<uint8_t>(i == 15 ? 1 : i == 31 ? 2 : 0x20));
        b.push_back(6);
        b.push_back(0);
        put16(b, offset | (more ? 1 : 0));
        b.insert(b.end(), {0, 0, 0, static_cast<uint8_t>(datagram)});
    } else {
        put16(b, 0x0800);
        b.insert(b.end(), {0x45, 0});
        put16(b, 20 + len);
        put16(b, datagram);
        put16(b, (more ? 0x2000 : 0) | offset / 8);
        b.insert(b.end(), {64, 6, 0, 0, 192, 0, 2, 1, 10, 0, 0, 23});
    }
    for (uint32_t i = 0; i < len; ++i)
        b.push_back(byte_at(datagram, offset + i, conflicting));
    return b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    DefragLimits limits;
    limits.max_datagrams = 3;  // four datagrams: the table fills
    limits.max_datagram_size = 2048;
    limits.max_bytes = defrag_min_bytes(limits.max_datagram_size) + 2 * kDefragBlockBytes;
    limits.max_fragments_per_datagram = 16;
    limits.timeout_ns = 5 * kSecond;
    DefragCounters counters;
    IpReassembler r(limits, counters);

    bool conflicted[2][4] = {};  // a conflicting copy was sent since the datagram last completed
    uint64_t now = kSecond, given = 0;
    const size_t count = data[0];
    for (size_t i = 0, at = 1; i < count && at + 4 <= size; ++i, at += 4) {
        const uint32_t offset = (static_cast<uint32_t>(data[at] | data[at + 1] << 8) & 0x1FFF) * 8;
        const uint32_t len = data[at + 2];
        const uint8_t flags = data[at + 3];
        const bool more = flags & 1, v6 = flags & 8, conflicting = flags & 16;
        const unsigned datagram = (flags >> 1) & 3;
        now += (flags >> 5) * kSecond;
        const std::vector<uint8_t> frame = frame_of(datagram, v6, offset, len, more, conflicting);
        DecodedPacket pkt;
        const DecodeResult res = decode_packet(frame.data(), static_cast<uint32_t>(frame.size()), pkt);
        if (res != DecodeResult::ipv4_fragment && res != DecodeResult::ipv6_fragment)
            continue;
        conflicted[v6][datagram] |= conflicting;
        const ReassembledFrame out = r.add(frame.data(), static_cast<uint32_t>(frame.size()), pkt, now);
        ++given;
        r.expire(now, 2);
        if (out.data == nullptr)
            continue;
        DecodedPacket whole;
        const DecodeResult wr = decode_packet(out.data, out.len, whole);
        if (wr == DecodeResult::ipv4_fragment || wr == DecodeResult::ipv6_fragment)
            std::abort();  // the length fields and Fragment header were fixed
        const uint32_t prefix = v6 ? 14 + 48 : 14 + 20;
        if (out.len < prefix)
            std::abort();
        if (!conflicted[v6][datagram])
            for (uint32_t k = prefix; k < out.len; ++k)
                if (out.data[k] != byte_at(datagram, k - prefix, false))
                    std::abort();
        conflicted[v6][datagram] = false;
    }
    r.flush();
    if (counters.fragments.get() != given || r.in_progress() != 0 || r.free_blocks() != r.total_blocks())
        std::abort();
    return 0;
}
