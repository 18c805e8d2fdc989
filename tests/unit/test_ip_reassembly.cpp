// IP reassembly on byte buffers: fragments built here, decoded by
// decode_packet (as the worker does), reassembled, and the result decoded
// again. Order, overlaps (first copy wins), duplicates, evasion (tiny first
// fragment, a fragment inside the TCP header, inconsistent lengths), every
// limit, the timeout, IPv6 with extension headers, and floods staying bounded.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "flowsentry/decode.hpp"
#include "flowsentry/ip_reassembly.hpp"

using namespace flowsentry;

namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kSecond = 1000000000ull;

void put16(Bytes &b, uint32_t v)
{
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

void put32(Bytes &b, uint32_t v)
{
    put16(b, v >> 16);
    put16(b, v & 0xFFFF);
}

uint16_t be16(const uint8_t *p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// A TCP segment (20-byte header, PSH ACK) carrying `payload`: the datagram data.
Bytes tcp_segment(const std::string &payload, uint16_t sport = 40000, uint16_t dport = 23)
{
    Bytes t;
    put16(t, sport);
    put16(t, dport);
    put32(t, 1000);
    put32(t, 2000);
    t.push_back(0x50);
    t.push_back(0x18);
    put16(t, 64240);
    put16(t, 0);
    put16(t, 0);
    t.insert(t.end(), payload.begin(), payload.end());
    return t;
}

struct Frag {
    uint32_t offset;
    Bytes data;
    bool more;
};

// Ethernet (optionally one 802.1Q tag), then an IPv4 fragment of the datagram.
Bytes ipv4_frame(const Frag &f, uint16_t id, uint16_t vlan = 0)
{
    Bytes b = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
    if (vlan != 0) {
        put16(b, 0x8100);
        put16(b, vlan);
    }
    put16(b, 0x0800);
    b.push_back(0x45);
    b.push_back(0);
    put16(b, static_cast<uint32_t>(20 + f.data.size()));
    put16(b, id);
    put16(b, (f.more ? 0x2000 : 0) | (f.offset / 8));
    b.push_back(64);
    b.push_back(6);
    put16(b, 0);
    for (uint8_t a : {192, 0, 2, 1})
        b.push_back(a);
    for (uint8_t a : {10, 0, 0, 23})
        b.push_back(a);
    b.insert(b.end(), f.data.begin(), f.data.end());
    return b;
}

// Ethernet, IPv6, Hop-by-Hop and Destination options (8 bytes each), then a
// Fragment header and the fragment's data.
Bytes ipv6_frame(const Frag &f, uint32_t id)
{
    Bytes b = {0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01};
    put16(b, 0x86DD);
    put32(b, 0x60000000);
    put16(b, static_cast<uint32_t>(8 + 8 + 8 + f.data.size()));
    b.push_back(0);  // Hop-by-Hop
    b.push_back(64);
    const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05};
    const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x23};
    b.insert(b.end(), src, src + 16);
    b.insert(b.end(), dst, dst + 16);
    for (uint8_t nh : {uint8_t{60}, uint8_t{44}}) {  // HBH -> DestOpt -> Fragment, PadN 4
        b.push_back(nh);
        b.push_back(0);
        for (uint8_t x : {1, 4, 0, 0, 0, 0})
            b.push_back(x);
    }
    b.push_back(6);
    b.push_back(0);
    put16(b, f.offset | (f.more ? 1 : 0));
    put32(b, id);
    b.insert(b.end(), f.data.begin(), f.data.end());
    return b;
}

// The IPv4 fragment frame inside VXLAN (outer IPv4, UDP 4789) of tenant `vni`.
Bytes vxlan_frame(const Frag &f, uint16_t id, uint32_t vni)
{
    const Bytes inner = ipv4_frame(f, id);
    Bytes b = {0x02, 0, 0, 0, 0, 0x0a, 0x02, 0, 0, 0, 0, 0x0b};
    put16(b, 0x0800);
    b.push_back(0x45);
    b.push_back(0);
    put16(b, static_cast<uint32_t>(20 + 8 + 8 + inner.size()));
    put16(b, 0);
    put16(b, 0x4000);
    b.push_back(64);
    b.push_back(17);
    put16(b, 0);
    for (uint8_t a : {172, 16, 0, 1, 172, 16, 0, 2})
        b.push_back(a);
    put16(b, 50000);
    put16(b, 4789);
    put16(b, static_cast<uint32_t>(8 + 8 + inner.size()));
    put16(b, 0);
    put32(b, 0x08000000);
    put32(b, vni << 8);
    b.insert(b.end(), inner.begin(), inner.end());
    return b;
}

// Cuts `datagram` into fragments of `size` bytes (a multiple of 8).
std::vector<Frag> cut(const Bytes &datagram, uint32_t size)
{
    std::vector<Frag> out;
    for (uint32_t o = 0; o < datagram.size(); o += size) {
        const uint32_t n = std::min<uint32_t>(size, static_cast<uint32_t>(datagram.size()) - o);
        out.push_back({o, Bytes(datagram.begin() + o, datagram.begin() + o + n), o + n < datagram.size()});
    }
    return out;
}

// `datagram` cut after its first `first` bytes, the rest in fragments of `size`.
std::vector<Frag> cut_after(const Bytes &datagram, uint32_t first, uint32_t size)
{
    std::vector<Frag> frags = {{0, Bytes(datagram.begin(), datagram.begin() + first), true}};
    for (const Frag &f : cut(Bytes(datagram.begin() + first, datagram.end()), size))
        frags.push_back({f.offset + first, f.data, f.more});
    return frags;
}

const std::string kPayload = "/bin/busybox MIRAI\r\nroot\r\nxc3511\r\nenable\r\nsystem\r\nshell\r\nsh\r\n"
                             "a longer tail so the datagram spans more than one 512-byte block of the pool: "
                             "0123456789012345678901234567890123456789012345678901234567890123456789012345678901"
                             "0123456789012345678901234567890123456789012345678901234567890123456789012345678901"
                             "0123456789012345678901234567890123456789012345678901234567890123456789012345678901"
                             "0123456789012345678901234567890123456789012345678901234567890123456789012345678901"
                             "0123456789012345678901234567890123456789012345678901234567890123456789012345678901";

class DefragTest : public ::testing::Test {
protected:
    DefragLimits limits(uint32_t datagrams = 64, uint64_t bytes = 1u << 20, uint32_t size = 65535,
                        uint32_t fragments = 64, uint64_t timeout_s = 30)
    {
        DefragLimits l;
        l.max_datagrams = datagrams;
        l.max_bytes = bytes;
        l.max_datagram_size = size;
        l.max_fragments_per_datagram = fragments;
        l.timeout_ns = timeout_s * kSecond;
        return l;
    }

    // Decodes `frame` as the worker does; it must be a fragment.
    ReassembledFrame give(IpReassembler &r, const Bytes &frame, uint64_t now_ns = 0)
    {
        DecodedPacket pkt;
        const DecodeResult res = decode_packet(frame.data(), static_cast<uint32_t>(frame.size()), pkt);
        EXPECT_TRUE(res == DecodeResult::ipv4_fragment || res == DecodeResult::ipv6_fragment)
            << decode_result_name(res);
        return r.add(frame.data(), static_cast<uint32_t>(frame.size()), pkt, now_ns);
    }

    // The reassembled frame decodes as an ordinary TCP packet; returns its payload.
    std::string payload_of(const ReassembledFrame &out, DecodedPacket &pkt)
    {
        EXPECT_NE(out.data, nullptr);
        if (out.data == nullptr)
            return "";
        EXPECT_EQ(decode_packet(out.data, out.len, pkt), DecodeResult::ok);
        return std::string(reinterpret_cast<const char *>(out.data) + pkt.payload_offset, pkt.payload_len);
    }

    std::string payload_of(const ReassembledFrame &out)
    {
        DecodedPacket pkt;
        return payload_of(out, pkt);
    }

    // Feeds `frags` in the given order; only the last may complete.
    ReassembledFrame feed_v4(IpReassembler &r, const std::vector<Frag> &frags, uint16_t id = 7, uint16_t vlan = 0)
    {
        ReassembledFrame out;
        for (size_t i = 0; i < frags.size(); ++i) {
            out = give(r, ipv4_frame(frags[i], id, vlan));
            if (i + 1 < frags.size()) {
                EXPECT_EQ(out.data, nullptr) << "completed early at fragment " << i;
            }
        }
        return out;
    }

    DefragCounters c;
};

}  // namespace

TEST_F(DefragTest, InOrderIpv4DecodesAsTheWholeSegment)
{
    IpReassembler r(limits(), c);
    const Bytes seg = tcp_segment(kPayload);
    const std::vector<Frag> frags = cut(seg, 96);
    ASSERT_GT(frags.size(), 5u);
    const ReassembledFrame out = feed_v4(r, frags);
    DecodedPacket pkt;
    EXPECT_EQ(payload_of(out, pkt), kPayload);
    EXPECT_EQ(pkt.src_port, 40000);
    EXPECT_EQ(pkt.dst_port, 23);
    EXPECT_EQ(pkt.ip_len, 20 + seg.size());
    // Total length, flags/offset and a valid header checksum.
    const uint8_t *ip = out.data + 14;
    EXPECT_EQ(be16(ip + 2), 20 + seg.size());
    EXPECT_EQ(be16(ip + 6), 0);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2)
        sum += be16(ip + i);
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    EXPECT_EQ(sum, 0xFFFFu);
    EXPECT_EQ(out.len, 14 + 20 + seg.size());
    EXPECT_EQ(c.fragments.get(), frags.size());
    EXPECT_EQ(c.reassembled.get(), 1u);
    EXPECT_EQ(c.overlaps.get() + c.duplicates.get() + c.inconsistent.get(), 0u);
    EXPECT_EQ(r.in_progress(), 0u);
    EXPECT_EQ(r.free_blocks(), r.total_blocks());
}

TEST_F(DefragTest, ReversedOrderGivesTheSameBytes)
{
    IpReassembler r(limits(), c);
    std::vector<Frag> frags = cut(tcp_segment(kPayload), 64);
    std::reverse(frags.begin(), frags.end());
    EXPECT_EQ(payload_of(feed_v4(r, frags)), kPayload);
    EXPECT_EQ(c.reassembled.get(), 1u);
}

TEST_F(DefragTest, ShuffledOrderGivesTheSameBytes)
{
    IpReassembler r(limits(), c);
    std::vector<Frag> frags = cut(tcp_segment(kPayload), 24);
    std::vector<Frag> order;
    for (size_t i = 0; i < frags.size(); i += 2)
        order.push_back(frags[i]);
    for (size_t i = 1; i < frags.size(); i += 2)
        order.push_back(frags[i]);
    EXPECT_EQ(payload_of(feed_v4(r, order)), kPayload);
}

TEST_F(DefragTest, OverlapsKeepTheFirstCopyBothWays)
{
    IpReassembler r(limits(), c);
    const Bytes seg = tcp_segment(kPayload);
    const std::vector<Frag> frags = cut(seg, 40);  // [0,40) [40,80) [80,120) ...
    // Before [40,80): 24 bytes of X at [32,56): its first 8 lose to held
    // data, its last 16 are first there and win over [40,80)'s copy.
    const Frag evil{32, Bytes(24, 'X'), true};
    std::vector<Frag> order = {frags[0], evil};
    order.insert(order.end(), frags.begin() + 1, frags.end());
    std::string want(seg.begin() + 20, seg.end());
    std::fill(want.begin() + (40 - 20), want.begin() + (56 - 20), 'X');
    EXPECT_EQ(payload_of(feed_v4(r, order)), want);
    EXPECT_EQ(c.overlaps.get(), 2u);
    EXPECT_EQ(c.overlap_bytes.get(), 8u + 16u);
    EXPECT_EQ(c.duplicates.get(), 0u);
}

TEST_F(DefragTest, ExactDuplicatesAreCountedAndChangeNothing)
{
    IpReassembler r(limits(), c);
    const std::vector<Frag> frags = cut(tcp_segment(kPayload), 80);
    std::vector<Frag> order = {frags[0], frags[0], frags[1], frags[1]};
    order.insert(order.end(), frags.begin() + 2, frags.end());
    EXPECT_EQ(payload_of(feed_v4(r, order)), kPayload);
    EXPECT_EQ(c.duplicates.get(), 2u);
    EXPECT_EQ(c.overlaps.get(), 0u);
}

TEST_F(DefragTest, SameRangeOtherBytesIsAnOverlapNotADuplicate)
{
    IpReassembler r(limits(), c);
    const std::vector<Frag> frags = cut(tcp_segment(kPayload), 80);
    Frag other = frags[1];
    std::fill(other.data.begin(), other.data.end(), 'Z');
    std::vector<Frag> order = {frags[0], frags[1], other};
    order.insert(order.end(), frags.begin() + 2, frags.end());
    EXPECT_EQ(payload_of(feed_v4(r, order)), kPayload);
    EXPECT_EQ(c.overlaps.get(), 1u);
    EXPECT_EQ(c.overlap_bytes.get(), 80u);
    EXPECT_EQ(c.duplicates.get(), 0u);
}

TEST_F(DefragTest, DuplicateLastFragmentAfterCompletionStartsANewDatagram)
{
    IpReassembler r(limits(), c);
    const std::vector<Frag> frags = cut(tcp_segment(kPayload), 80);
    EXPECT_NE(feed_v4(r, frags).data, nullptr);
    EXPECT_EQ(give(r, ipv4_frame(frags.back(), 7)).data, nullptr);
    EXPECT_EQ(r.in_progress(), 1u);
    EXPECT_EQ(r.expire(31 * kSecond, 64), 1u);
    EXPECT_EQ(c.timed_out.get(), 1u);
}

TEST_F(DefragTest, TinyFirstFragmentDropsTheDatagram)
{
    IpReassembler r(limits(), c);
    // 8 bytes: ports and sequence number, the flags in the next fragment.
    const std::vector<Frag> frags = cut_after(tcp_segment(kPayload), 8, 64);
    for (const Frag &f : frags)
        EXPECT_EQ(give(r, ipv4_frame(f, 9), kSecond).data, nullptr);
    EXPECT_EQ(c.tiny_first.get(), 1u);
    EXPECT_EQ(c.discarded.get(), frags.size() - 1);
    EXPECT_EQ(c.reassembled.get(), 0u);
    EXPECT_EQ(r.free_blocks(), r.total_blocks());  // a dropped datagram holds nothing
    // Known as dropped until its timeout, then gone without counting as timed out.
    EXPECT_EQ(r.expire(30 * kSecond, 64), 0u);
    EXPECT_EQ(r.expire(31 * kSecond, 64), 1u);
    EXPECT_EQ(r.in_progress(), 0u);
    EXPECT_EQ(c.timed_out.get(), 0u);
}

TEST_F(DefragTest, TinyFirstArrivingLastIsCaughtByTheFragmentAfterIt)
{
    IpReassembler r(limits(), c);
    std::vector<Frag> frags = cut_after(tcp_segment(kPayload), 16, 64);
    // Offset 16 is inside the TCP header: the second fragment drops it.
    std::reverse(frags.begin(), frags.end());
    for (const Frag &f : frags)
        EXPECT_EQ(give(r, ipv4_frame(f, 9)).data, nullptr);
    EXPECT_EQ(c.transport_overlap.get(), 1u);
    EXPECT_EQ(c.tiny_first.get(), 0u);
    EXPECT_EQ(c.discarded.get(), 1u);  // the tiny first one, after
    EXPECT_EQ(c.reassembled.get(), 0u);
}

TEST_F(DefragTest, FragmentInsideTheTcpHeaderDropsTheDatagram)
{
    IpReassembler r(limits(), c);
    const std::vector<Frag> frags = cut(tcp_segment(kPayload), 40);
    // RFC 1858: offset 8 rewrites the flags of a header already seen.
    const Frag rewrite{8, Bytes(32, 0), true};
    EXPECT_EQ(give(r, ipv4_frame(frags[0], 3)).data, nullptr);
    EXPECT_EQ(give(r, ipv4_frame(rewrite, 3)).data, nullptr);
    EXPECT_EQ(feed_v4(r, std::vector<Frag>(frags.begin() + 1, frags.end()), 3).data, nullptr);
    EXPECT_EQ(c.transport_overlap.get(), 1u);
    EXPECT_EQ(c.reassembled.get(), 0u);
}

TEST_F(DefragTest, InconsistentLengthsDropTheDatagram)
{
    const Bytes seg = tcp_segment(kPayload);
    const std::vector<Frag> frags = cut(seg, 80);
    // Each order on a reassembler of its own: the last fragment given drops the datagram.
    const auto expect_inconsistent = [&](const char *why, const std::vector<Frag> &order) {
        SCOPED_TRACE(why);
        DefragCounters cc;
        IpReassembler r(limits(), cc);
        for (const Frag &f : order)
            EXPECT_EQ(give(r, ipv4_frame(f, 1)).data, nullptr);
        EXPECT_EQ(cc.inconsistent.get(), 1u);
    };
    expect_inconsistent("middle fragment not a multiple of 8",
                        {{80, Bytes(frags[1].data.begin(), frags[1].data.end() - 3), true}});
    expect_inconsistent("two different last fragments", {frags.back(), {frags[1].offset, frags[1].data, false}});
    expect_inconsistent("data past the last fragment",
                        {frags.back(), {static_cast<uint32_t>(seg.size() + 8 - seg.size() % 8), Bytes(16, 'Y'), true}});
    expect_inconsistent("a last fragment ending before data already held", {frags[2], {80, frags[0].data, false}});
}

TEST_F(DefragTest, FragmentLimitDropsTheDatagram)
{
    IpReassembler r(limits(64, 1u << 20, 65535, 4), c);
    const std::vector<Frag> frags = cut(tcp_segment(kPayload), 64);
    ASSERT_GT(frags.size(), 4u);
    EXPECT_EQ(feed_v4(r, frags).data, nullptr);
    EXPECT_EQ(c.too_many_fragments.get(), 1u);
    EXPECT_EQ(c.discarded.get(), frags.size() - 5);
    EXPECT_EQ(r.free_blocks(), r.total_blocks());
}

TEST_F(DefragTest, DatagramSizeLimitDropsTheDatagram)
{
    IpReassembler r(limits(64, 1u << 20, 256), c);
    const std::vector<Frag> frags = cut(tcp_segment(kPayload), 64);
    EXPECT_EQ(feed_v4(r, frags).data, nullptr);
    EXPECT_EQ(c.too_big.get(), 1u);
    EXPECT_EQ(c.reassembled.get(), 0u);
}

TEST_F(DefragTest, PastTheIpLengthIsOversize)
{
    IpReassembler r(limits(), c);
    // Ping of death: the last fragment ends past 65535 bytes of datagram.
    const Frag last{65528, Bytes(16, 'P'), false};
    EXPECT_EQ(give(r, ipv4_frame(last, 5)).data, nullptr);
    EXPECT_EQ(c.oversize.get(), 1u);
    // 65535 - 20 bytes of data exactly is the largest that fits.
    DefragCounters cc;
    IpReassembler big(limits(64, 1u << 20), cc);
    const Frag edge{65512, Bytes(3, 'E'), false};
    EXPECT_EQ(give(big, ipv4_frame(edge, 5)).data, nullptr);
    EXPECT_EQ(cc.oversize.get(), 0u);
    EXPECT_EQ(big.in_progress(), 1u);
}

TEST_F(DefragTest, TimeoutByPacketTimeOnArrivalAndOnExpiry)
{
    IpReassembler r(limits(), c);
    const std::vector<Frag> frags = cut(tcp_segment(kPayload), 128);
    EXPECT_EQ(give(r, ipv4_frame(frags[0], 1), 0).data, nullptr);
    // The rest 30 s later: the first fragment timed out, they do not complete.
    for (size_t i = 1; i < frags.size(); ++i)
        EXPECT_EQ(give(r, ipv4_frame(frags[i], 1), 30 * kSecond).data, nullptr);
    EXPECT_EQ(c.timed_out.get(), 1u);
    EXPECT_EQ(c.reassembled.get(), 0u);
    EXPECT_EQ(r.expire(59 * kSecond, 64), 0u);
    EXPECT_EQ(r.expire(60 * kSecond, 64), 1u);
    EXPECT_EQ(c.timed_out.get(), 2u);
    EXPECT_EQ(r.free_blocks(), r.total_blocks());
}

TEST_F(DefragTest, ExpiryWorksInBoundedBatches)
{
    IpReassembler r(limits(), c);
    const Frag first = cut(tcp_segment(kPayload), 64)[0];
    for (uint16_t id = 0; id < 10; ++id)
        give(r, ipv4_frame(first, id), id * kSecond);
    EXPECT_EQ(r.expire(40 * kSecond, 3), 3u);
    EXPECT_EQ(r.expire(40 * kSecond, 3), 3u);
    EXPECT_EQ(r.expire(40 * kSecond, 100), 4u);  // all ten were due
    EXPECT_EQ(c.timed_out.get(), 10u);
    EXPECT_EQ(r.in_progress(), 0u);
}

TEST_F(DefragTest, Ipv6WithExtensionHeadersBeforeTheFragmentHeader)
{
    IpReassembler r(limits(), c);
    const Bytes seg = tcp_segment(kPayload);
    std::vector<Frag> frags = cut(seg, 104);
    std::reverse(frags.begin(), frags.end());
    ReassembledFrame out;
    for (const Frag &f : frags)
        out = give(r, ipv6_frame(f, 0xDEADBEEF));
    DecodedPacket pkt;
    EXPECT_EQ(payload_of(out, pkt), kPayload);
    EXPECT_EQ(pkt.ip_version, 6);
    EXPECT_EQ(pkt.dst_port, 23);
    const uint8_t *ip = out.data + 14;
    EXPECT_EQ(be16(ip + 4), 8 + 8 + 8 + seg.size());  // payload length
    EXPECT_EQ(be16(ip + 40 + 16 + 2), 0);              // Fragment header: offset 0, M 0
    EXPECT_EQ(c.reassembled.get(), 1u);
}

TEST_F(DefragTest, Ipv6OverlapKeepsTheFirstCopy)
{
    IpReassembler r(limits(), c);
    const Bytes seg = tcp_segment(kPayload);
    const std::vector<Frag> frags = cut(seg, 48);
    ReassembledFrame out = give(r, ipv6_frame(frags[0], 1));
    out = give(r, ipv6_frame({24, Bytes(48, 'X'), true}, 1));  // 24 held, 24 new
    for (size_t i = 1; i < frags.size(); ++i)
        out = give(r, ipv6_frame(frags[i], 1));
    std::string want(seg.begin() + 20, seg.end());
    std::fill(want.begin() + (48 - 20), want.begin() + (72 - 20), 'X');
    EXPECT_EQ(payload_of(out), want);
    EXPECT_EQ(c.overlaps.get(), 2u);
}

TEST_F(DefragTest, TenantsWithTheSameAddressesAndIdDoNotMix)
{
    IpReassembler r(limits(), c);
    const Bytes a = tcp_segment(std::string(200, 'a')), b = tcp_segment(std::string(200, 'b'));
    const std::vector<Frag> fa = cut(a, 80), fb = cut(b, 80);
    for (size_t i = 0; i + 1 < fa.size(); ++i) {
        EXPECT_EQ(give(r, ipv4_frame(fa[i], 42, 100)).data, nullptr);
        EXPECT_EQ(give(r, ipv4_frame(fb[i], 42, 200)).data, nullptr);
    }
    EXPECT_EQ(r.in_progress(), 2u);
    EXPECT_EQ(payload_of(give(r, ipv4_frame(fa.back(), 42, 100))), std::string(200, 'a'));
    EXPECT_EQ(payload_of(give(r, ipv4_frame(fb.back(), 42, 200))), std::string(200, 'b'));
    EXPECT_EQ(c.overlaps.get(), 0u);
}

TEST_F(DefragTest, TunnelTenantsDoNotMixAndKeepTheirOuterHeaders)
{
    IpReassembler r(limits(), c);
    const Bytes a = tcp_segment(std::string(200, 'a')), b = tcp_segment(std::string(200, 'b'));
    const std::vector<Frag> fa = cut(a, 80), fb = cut(b, 80);
    for (size_t i = 0; i + 1 < fa.size(); ++i) {
        EXPECT_EQ(give(r, vxlan_frame(fa[i], 42, 5)).data, nullptr);
        EXPECT_EQ(give(r, vxlan_frame(fb[i], 42, 6)).data, nullptr);
    }
    EXPECT_EQ(r.in_progress(), 2u);
    // Each completes with its own bytes behind its own outer headers (50
    // bytes: Ethernet, IPv4, UDP, VXLAN), which the reassembler keeps.
    for (const auto &[frag, vni, want] : {std::make_tuple(fa.back(), 5u, std::string(200, 'a')),
                                          std::make_tuple(fb.back(), 6u, std::string(200, 'b'))}) {
        const Bytes last = vxlan_frame(frag, 42, vni);
        const ReassembledFrame out = give(r, last);
        ASSERT_NE(out.data, nullptr);
        EXPECT_TRUE(std::equal(last.begin() + 46, last.begin() + 50, out.data + 46)) << "VNI";
        const ReassembledFrame inner{out.data + 50, out.len - 50};
        EXPECT_EQ(payload_of(inner), want);
        // The outer IPv4 and UDP lengths were grown with it, so the whole
        // frame decodes through the tunnel to the whole segment.
        DecodedPacket pkt;
        ASSERT_EQ(decode_packet(out.data, out.len, pkt), DecodeResult::ok);
        EXPECT_EQ(pkt.tunnel.id, vni);
        EXPECT_EQ(std::string(reinterpret_cast<const char *>(out.data) + pkt.payload_offset, pkt.payload_len), want);
    }
}

TEST_F(DefragTest, FullTableEvictsTheOldestIncompleteDatagram)
{
    IpReassembler r(limits(4), c);
    const std::vector<Frag> frags = cut(tcp_segment(kPayload), 128);
    for (uint16_t id = 0; id < 5; ++id)
        give(r, ipv4_frame(frags[0], id), id);
    EXPECT_EQ(c.evicted.get(), 1u);
    EXPECT_EQ(r.in_progress(), 4u);
    // Id 0 was the oldest: it starts over (taking id 1's slot) and cannot
    // complete without its first fragment; id 2 completes.
    EXPECT_EQ(feed_v4(r, std::vector<Frag>(frags.begin() + 1, frags.end()), 0).data, nullptr);
    EXPECT_EQ(c.evicted.get(), 2u);
    EXPECT_EQ(payload_of(feed_v4(r, std::vector<Frag>(frags.begin() + 1, frags.end()), 2)), kPayload);
}

TEST_F(DefragTest, FullTableTimesOutADueDatagramBeforeEvictingAnyone)
{
    IpReassembler r(limits(2), c);
    const Frag first = cut(tcp_segment(kPayload), 64)[0];
    give(r, ipv4_frame(first, 1), 0);
    give(r, ipv4_frame(first, 2), 10 * kSecond);
    give(r, ipv4_frame(first, 3), 30 * kSecond);  // id 1 is due: it times out
    EXPECT_EQ(c.timed_out.get(), 1u);
    EXPECT_EQ(c.evicted.get(), 0u);
    give(r, ipv4_frame(first, 4), 31 * kSecond);  // id 2 is not: evicted
    EXPECT_EQ(c.evicted.get(), 1u);
}

TEST_F(DefragTest, ByteLimitEvictsTheOldestOtherDatagram)
{
    // 4 blocks: one datagram of 1024 bytes of data (2 blocks) and its
    // headers (1 block) fit, two do not.
    IpReassembler r(limits(16, 4 * kDefragBlockBytes, 1024), c);
    ASSERT_EQ(r.total_blocks(), 4u);
    const Bytes seg = tcp_segment(std::string(1000, 'm'));
    const std::vector<Frag> frags = cut(seg, 256);  // blocks 0, 0, 1, 1
    give(r, ipv4_frame(frags[0], 1));               // headers + block 0
    give(r, ipv4_frame(frags[2], 1));               // block 1
    EXPECT_EQ(r.free_blocks(), 1u);
    give(r, ipv4_frame(frags[0], 2));  // headers + block 0: one short, id 1 goes
    EXPECT_EQ(c.memory_evicted.get(), 1u);
    EXPECT_EQ(r.free_blocks(), 2u);
    EXPECT_EQ(give(r, ipv4_frame(frags[1], 1)).data, nullptr);
    EXPECT_EQ(c.discarded.get(), 1u);
    give(r, ipv4_frame(frags[0], 3));  // takes the last two
    EXPECT_EQ(r.free_blocks(), 0u);
    // Id 2 is now the oldest and needs a block: the newer id 3 goes, not it.
    ReassembledFrame out;
    for (size_t i = 1; i < frags.size(); ++i)
        out = give(r, ipv4_frame(frags[i], 2));
    EXPECT_EQ(c.memory_evicted.get(), 2u);
    EXPECT_EQ(payload_of(out), std::string(1000, 'm'));
    EXPECT_EQ(r.free_blocks(), r.total_blocks());
}

TEST_F(DefragTest, FloodOfIncompleteDatagramsStaysBoundedWithExactCounters)
{
    constexpr uint32_t kSlots = 32, kFlood = 5000;
    IpReassembler r(limits(kSlots, 64 * kDefragBlockBytes, 4096), c);
    const std::vector<Frag> frags = cut(tcp_segment(kPayload), 64);
    for (uint32_t i = 0; i < kFlood; ++i) {
        // Every datagram misses its last fragment; each holds two blocks.
        give(r, ipv4_frame(frags[0], static_cast<uint16_t>(i)), i);
        give(r, ipv4_frame(frags[1], static_cast<uint16_t>(i)), i);
        ASSERT_LE(r.in_progress(), kSlots);
    }
    EXPECT_EQ(c.fragments.get(), 2u * kFlood);
    EXPECT_EQ(c.evicted.get() + c.memory_evicted.get(), kFlood - kSlots);
    EXPECT_EQ(c.reassembled.get(), 0u);
    EXPECT_EQ(r.in_progress(), kSlots);
    r.flush();
    EXPECT_EQ(c.flushed.get(), kSlots);
    EXPECT_EQ(r.in_progress(), 0u);
    EXPECT_EQ(r.free_blocks(), r.total_blocks());
}

TEST_F(DefragTest, LimitsThatCannotWorkAreRefused)
{
    EXPECT_THROW(IpReassembler(limits(0), c), std::invalid_argument);
    EXPECT_THROW(IpReassembler(limits(16, 1024, 65535), c), std::invalid_argument);
    EXPECT_THROW(IpReassembler(limits(16, 1u << 20, 65535, 0), c), std::invalid_argument);
    EXPECT_THROW(IpReassembler(limits(16, 1u << 20, 65535, 64, 0), c), std::invalid_argument);
}
