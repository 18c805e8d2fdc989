// Unit tests for decode_packet(): frames are built byte by byte below, so each
// test states exactly which bytes it feeds the decoder.
#include "flowsentry/decode.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace flowsentry {
namespace {

using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------- builders

void put8(Bytes &b, uint8_t v) { b.push_back(v); }
void put16(Bytes &b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
void put32(Bytes &b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}
void append(Bytes &b, const Bytes &more) { b.insert(b.end(), more.begin(), more.end()); }
void set16(Bytes &b, size_t off, uint16_t v) {
    b.at(off) = static_cast<uint8_t>(v >> 8);
    b.at(off + 1) = static_cast<uint8_t>(v);
}
Bytes operator+(Bytes a, const Bytes &b) {
    append(a, b);
    return a;
}

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoEsp = 50;
constexpr uint8_t kProtoIpip = 4;
constexpr uint8_t kProtoIpv6 = 41;
constexpr uint8_t kProtoGre = 47;
constexpr uint8_t kProtoIcmpv6 = 58;
constexpr uint8_t kNoNextHeader = 59;
constexpr uint8_t kHopByHop = 0;
constexpr uint8_t kRouting = 43;
constexpr uint8_t kFragment = 44;
constexpr uint8_t kDestOpts = 60;

constexpr uint16_t kEthIpv4 = 0x0800;
constexpr uint16_t kEthIpv6 = 0x86DD;
constexpr uint16_t kEthArp = 0x0806;
constexpr uint16_t kEthLldp = 0x88CC;
constexpr uint16_t kTpid8021q = 0x8100;
constexpr uint16_t kTpid8021ad = 0x88A8;
constexpr uint16_t kTpid9100 = 0x9100;
constexpr uint16_t kEthMpls = 0x8847;
constexpr uint16_t kEthMplsMulticast = 0x8848;
constexpr uint16_t kEthTeb = 0x6558;
constexpr uint16_t kEthErspan = 0x88BE;
constexpr uint16_t kEthErspan3 = 0x22EB;

constexpr size_t kEth = 14;  // offset of L3 in an untagged frame

const std::array<uint8_t, 4> kV4Src{192, 0, 2, 1};
const std::array<uint8_t, 4> kV4Dst{198, 51, 100, 7};
const std::array<uint8_t, 16> kV6Src{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01};
const std::array<uint8_t, 16> kV6Dst{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 0x02};

struct Tag {
    uint16_t tpid;
    uint16_t tci;
};

Bytes ethernet(uint16_t ethertype, const Bytes &l3, const std::vector<Tag> &tags = {}) {
    Bytes b{0x02, 0x00, 0x00, 0x00, 0x00, 0x01,   // destination MAC
            0x02, 0x00, 0x00, 0x00, 0x00, 0x02};  // source MAC
    for (const Tag &t : tags) {
        put16(b, t.tpid);
        put16(b, t.tci);
    }
    put16(b, ethertype);
    append(b, l3);
    return b;
}

struct Ipv4Opts {
    Bytes options;               // multiple of 4 bytes
    uint16_t flags_fragment = 0; // flags (3 bits) + fragment offset (13 bits)
    std::array<uint8_t, 4> src = kV4Src;
    std::array<uint8_t, 4> dst = kV4Dst;
};

Bytes ipv4(uint8_t proto, const Bytes &l4, const Ipv4Opts &o = {}) {
    const size_t ihl = (20 + o.options.size()) / 4;
    Bytes b;
    put8(b, static_cast<uint8_t>(0x40 | ihl));
    put8(b, 0);                                             // DSCP/ECN
    put16(b, static_cast<uint16_t>(ihl * 4 + l4.size()));  // total length
    put16(b, 0x1234);                                       // identification
    put16(b, o.flags_fragment);
    put8(b, 64);     // TTL
    put8(b, proto);
    put16(b, 0);     // checksum: not checked by the decoder
    b.insert(b.end(), o.src.begin(), o.src.end());
    b.insert(b.end(), o.dst.begin(), o.dst.end());
    append(b, o.options);
    append(b, l4);
    return b;
}

// `rest` is everything after the fixed header: extension headers and L4.
Bytes ipv6(uint8_t next_header, const Bytes &rest) {
    Bytes b;
    put32(b, 0x60012345);  // version 6, traffic class 0, flow label 0x12345
    put16(b, static_cast<uint16_t>(rest.size()));
    put8(b, next_header);
    put8(b, 64);  // hop limit
    b.insert(b.end(), kV6Src.begin(), kV6Src.end());
    b.insert(b.end(), kV6Dst.begin(), kV6Dst.end());
    append(b, rest);
    return b;
}

// Hop-by-hop, routing or destination options header of (units + 1) * 8 bytes.
Bytes ipv6_ext(uint8_t next_header, uint8_t units) {
    Bytes b{next_header, units};
    b.resize((units + 1u) * 8u, 0);  // zero bytes are Pad1 options
    return b;
}

Bytes ipv6_frag(uint8_t next_header, uint16_t offset_units, bool more) {
    Bytes b{next_header, 0};
    put16(b, static_cast<uint16_t>((offset_units << 3) | (more ? 1 : 0)));
    put32(b, 0xcafef00d);  // identification
    return b;
}

struct TcpOpts {
    uint32_t seq = 0x01020304;
    uint32_t ack = 0xa0b0c0d0;
    uint8_t flags = 0x18;  // PSH|ACK
    Bytes options;         // multiple of 4 bytes
};

Bytes tcp(uint16_t sport, uint16_t dport, const Bytes &payload, const TcpOpts &o = {}) {
    const size_t doff = (20 + o.options.size()) / 4;
    Bytes b;
    put16(b, sport);
    put16(b, dport);
    put32(b, o.seq);
    put32(b, o.ack);
    put8(b, static_cast<uint8_t>(doff << 4));
    put8(b, o.flags);
    put16(b, 65535);  // window
    put16(b, 0);      // checksum
    put16(b, 0);      // urgent pointer
    append(b, o.options);
    append(b, payload);
    return b;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes &payload) {
    Bytes b;
    put16(b, sport);
    put16(b, dport);
    put16(b, static_cast<uint16_t>(8 + payload.size()));
    put16(b, 0);
    append(b, payload);
    return b;
}

// MPLS label stack; the last label has the bottom-of-stack bit.
Bytes mpls(const std::vector<uint32_t> &labels, const Bytes &payload) {
    Bytes b;
    for (size_t i = 0; i < labels.size(); ++i)
        put32(b, (labels[i] << 12) | (i + 1 == labels.size() ? 0x100u : 0u) | 64u);
    append(b, payload);
    return b;
}

struct GreOpts {
    bool checksum = false;
    bool has_key = false;
    uint32_t key = 0;
    bool sequence = false;
    uint16_t extra_flags = 0;  // routing/reserved bits and version, for malformed headers
};

Bytes gre(uint16_t protocol, const Bytes &payload, const GreOpts &o = {}) {
    Bytes b;
    put16(b, static_cast<uint16_t>((o.checksum ? 0x8000 : 0) | (o.has_key ? 0x2000 : 0) |
                                   (o.sequence ? 0x1000 : 0) | o.extra_flags));
    put16(b, protocol);
    if (o.checksum)
        put32(b, 0xdead0000);  // checksum + reserved: not checked
    if (o.has_key)
        put32(b, o.key);
    if (o.sequence)
        put32(b, 77);
    append(b, payload);
    return b;
}

Bytes erspan2(uint16_t session, const Bytes &mirrored) {
    Bytes b;
    put16(b, 0x1000 | 0x0123);            // version 1, VLAN 0x123
    put16(b, static_cast<uint16_t>(session & 0x3FF));
    put32(b, 0x00000abc);                 // reserved, index
    append(b, mirrored);
    return b;
}

Bytes erspan3(uint16_t session, const Bytes &mirrored, bool platform, uint8_t frame_type = 0) {
    Bytes b;
    put16(b, 0x2000 | 0x0045);            // version 2, VLAN 0x45
    put16(b, static_cast<uint16_t>(session & 0x3FF));
    put32(b, 0x12345678);                 // timestamp
    put16(b, 0xbeef);                     // SGT
    put8(b, static_cast<uint8_t>(frame_type << 2));
    put8(b, platform ? 0x01 : 0x00);      // O bit
    if (platform)
        put32(b, 0x0c000000), put32(b, 0x87654321);
    append(b, mirrored);
    return b;
}

Bytes vxlan(uint32_t vni, const Bytes &inner, uint8_t flags = 0x08) {
    Bytes b{flags, 0, 0, 0};
    put32(b, vni << 8);
    append(b, inner);
    return b;
}

Bytes geneve(uint32_t vni, uint16_t protocol, const Bytes &options, const Bytes &inner, uint8_t version = 0) {
    Bytes b;
    put8(b, static_cast<uint8_t>((version << 6) | (options.size() / 4)));
    put8(b, 0);
    put16(b, protocol);
    put32(b, vni << 8);
    append(b, options);
    append(b, inner);
    return b;
}

Bytes payload_of(size_t n, uint8_t first = 'a') {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i)
        b[i] = static_cast<uint8_t>(first + i % 26);
    return b;
}

// Decodes from a heap buffer of exactly the frame's size, so AddressSanitizer
// reports any read past `len`.
DecodeResult decode(const Bytes &frame, DecodedPacket &out) {
    Bytes exact(frame);
    exact.shrink_to_fit();
    return decode_packet(exact.data(), static_cast<uint32_t>(exact.size()), out);
}

DecodeResult decode(const Bytes &frame) {
    DecodedPacket out;
    return decode(frame, out);
}

std::array<uint8_t, 16> v4_mapped(const std::array<uint8_t, 4> &a) {
    std::array<uint8_t, 16> r{};
    std::memcpy(r.data(), a.data(), 4);
    return r;
}

std::array<uint8_t, 16> addr(const uint8_t (&a)[16]) {
    std::array<uint8_t, 16> r{};
    std::memcpy(r.data(), a, 16);
    return r;
}

// Invariants every ok result must satisfy, whatever the frame.
void expect_sane(const DecodedPacket &p, size_t len) {
    EXPECT_LE(p.vlan_count, kMaxVlanTags);
    EXPECT_TRUE(p.ip_version == 4 || p.ip_version == 6);
    EXPECT_TRUE(p.l4_proto == kProtoTcp || p.l4_proto == kProtoUdp);
    EXPECT_LE(size_t{p.payload_offset} + p.payload_len, len);
    EXPECT_LE(size_t{p.ip_len}, len);
}

// The tuple of the IPv4 TCP frames below, plain or tunnelled: 40000 -> 23.
void expect_v4_tcp_tuple(const DecodedPacket &p) {
    EXPECT_EQ(p.ip_version, 4);
    EXPECT_EQ(p.l4_proto, kProtoTcp);
    EXPECT_EQ(addr(p.src_addr), v4_mapped(kV4Src));
    EXPECT_EQ(addr(p.dst_addr), v4_mapped(kV4Dst));
    EXPECT_EQ(p.src_port, 40000);
    EXPECT_EQ(p.dst_port, 23);
}

// A few ready-made valid frames.
Bytes ipv4_tcp_frame() {
    TcpOpts o;
    o.seq = 0x11223344;
    o.ack = 0x55667788;
    o.flags = 0x18;
    return ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(40000, 23, payload_of(10), o)));
}

Bytes ipv6_tcp_with_ext_chain_frame() {
    const Bytes rest = ipv6_ext(kRouting, 0)            // hop-by-hop, 8 bytes
                       + ipv6_ext(kDestOpts, 1)         // routing, 16 bytes
                       + ipv6_ext(kFragment, 2)         // destination options, 24 bytes
                       + ipv6_frag(kProtoTcp, 0, false) // atomic fragment, 8 bytes
                       + tcp(51000, 23, payload_of(7));
    return ethernet(kEthIpv6, ipv6(kHopByHop, rest));
}

// ------------------------------------------------------------------ names

TEST(DecodeResultName, EveryValueHasItsOwnName) {
    std::set<std::string> seen;
    for (int i = 0; i < static_cast<int>(DecodeResult::count_); ++i) {
        const char *name = decode_result_name(static_cast<DecodeResult>(i));
        ASSERT_NE(name, nullptr);
        EXPECT_STRNE(name, "");
        EXPECT_STRNE(name, "unknown") << i;
        EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    }
    EXPECT_EQ(seen.size(), static_cast<size_t>(DecodeResult::count_));
}

TEST(DecodeResultName, MatchesEnumeratorSpelling) {
    EXPECT_STREQ(decode_result_name(DecodeResult::ok), "ok");
    EXPECT_STREQ(decode_result_name(DecodeResult::eth_truncated), "eth_truncated");
    EXPECT_STREQ(decode_result_name(DecodeResult::ipv6_ext_too_many), "ipv6_ext_too_many");
    EXPECT_STREQ(decode_result_name(DecodeResult::udp_bad_length), "udp_bad_length");
}

TEST(DecodeResultName, OutOfRangeIsNotNull) {
    EXPECT_STREQ(decode_result_name(DecodeResult::count_), "unknown");
    EXPECT_STREQ(decode_result_name(static_cast<DecodeResult>(200)), "unknown");
}

// ------------------------------------------------------------- IPv4 / TCP

TEST(DecodeIpv4, TcpFieldsAreFilled) {
    const Bytes f = ipv4_tcp_frame();
    ASSERT_EQ(f.size(), 14u + 20 + 20 + 10);
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    expect_v4_tcp_tuple(p);
    EXPECT_EQ(p.seq, 0x11223344u);
    EXPECT_EQ(p.ack, 0x55667788u);
    EXPECT_EQ(p.tcp_flags, tcp_flag::psh | tcp_flag::ack);
    EXPECT_EQ(p.ip_len, 50);
    EXPECT_EQ(p.vlan_count, 0);
    EXPECT_EQ(p.payload_offset, 54);
    EXPECT_EQ(p.payload_len, 10);
    EXPECT_EQ(f[p.payload_offset], 'a');
    expect_sane(p, f.size());
}

TEST(DecodeIpv4, OutputIsResetEvenIfCallerLeftGarbage) {
    const Bytes f = ipv4_tcp_frame();
    DecodedPacket p;
    std::memset(&p, 0xAB, sizeof p);
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.vlan_count, 0);
    EXPECT_EQ(p.vlan[0], 0);
    EXPECT_EQ(p.vlan[1], 0);
    // IPv4 addresses occupy the first 4 bytes; the rest must be zero.
    EXPECT_EQ(addr(p.src_addr), v4_mapped(kV4Src));
    EXPECT_EQ(addr(p.dst_addr), v4_mapped(kV4Dst));
}

TEST(DecodeIpv4, OptionsAreSkippedByIhl) {
    // 12 bytes of options: NOP, NOP, Record Route (len 7, ptr 4, 1 address), EOL.
    Ipv4Opts o;
    o.options = {0x01, 0x01, 0x07, 0x07, 0x04, 0, 0, 0, 0, 0x00, 0x00, 0x00};
    const Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1234, 80, payload_of(5)), o));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.src_port, 1234);
    EXPECT_EQ(p.dst_port, 80);
    EXPECT_EQ(p.ip_len, 32 + 20 + 5);
    EXPECT_EQ(p.payload_offset, 14 + 32 + 20);
    EXPECT_EQ(p.payload_len, 5);
}

TEST(DecodeIpv4, MaximumOptionsIhl15) {
    Ipv4Opts o;
    o.options = Bytes(40, 0x01);  // 40 NOPs
    const Bytes f = ethernet(kEthIpv4, ipv4(kProtoUdp, udp(53, 5353, payload_of(3)), o));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.payload_offset, 14 + 60 + 8);
    EXPECT_EQ(p.payload_len, 3);
}

TEST(DecodeIpv4, TcpOptionsAreSkippedByDataOffset) {
    TcpOpts o;
    o.flags = tcp_flag::syn;
    o.options = {0x02, 0x04, 0x05, 0xb4,  // MSS 1460
                 0x04, 0x02, 0x08, 0x0a,  // SACK permitted, timestamps...
                 0, 0, 0, 1, 0, 0, 0, 0, 0x01, 0x03, 0x03, 0x07};
    const Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(40001, 23, payload_of(4), o)));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.tcp_flags, tcp_flag::syn);
    EXPECT_EQ(p.payload_offset, 14 + 20 + 40);
    EXPECT_EQ(p.payload_len, 4);
}

TEST(DecodeIpv4, TcpFlagsAreTheLowEightBitsOfTheFlagsByte) {
    TcpOpts o;
    o.flags = 0xFF;
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {}, o)));
    f[kEth + 20 + 12] |= 0x01;  // NS bit lives in the data-offset byte
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.tcp_flags, 0xFF);
    EXPECT_EQ(p.payload_len, 0);
    EXPECT_EQ(p.payload_offset, 54);

    o.flags = tcp_flag::fin | tcp_flag::rst;
    ASSERT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {}, o))), p), DecodeResult::ok);
    EXPECT_EQ(p.tcp_flags, tcp_flag::fin | tcp_flag::rst);
}

TEST(DecodeIpv4, EthernetPaddingBeyondTotalLengthIsIgnored) {
    // A bare SYN is 54 bytes; the NIC pads it to the 60-byte minimum with
    // bytes that must not be counted as payload.
    TcpOpts o;
    o.flags = tcp_flag::syn;
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(40000, 23, {}, o)));
    ASSERT_EQ(f.size(), 54u);
    f.resize(60, 0xEE);
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.ip_len, 40);
    EXPECT_EQ(p.payload_offset, 54);
    EXPECT_EQ(p.payload_len, 0);
}

TEST(DecodeIpv4, UdpPaddingIsIgnoredToo) {
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoUdp, udp(5000, 53, payload_of(2))));
    f.resize(64, 0xEE);
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.ip_len, 30);
    EXPECT_EQ(p.payload_len, 2);
}

TEST(DecodeIpv4, UdpFieldsAreFilled) {
    const Bytes f = ethernet(kEthIpv4, ipv4(kProtoUdp, udp(5353, 53, payload_of(12))));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.ip_version, 4);
    EXPECT_EQ(p.l4_proto, kProtoUdp);
    EXPECT_EQ(p.src_port, 5353);
    EXPECT_EQ(p.dst_port, 53);
    EXPECT_EQ(p.payload_offset, 14 + 20 + 8);
    EXPECT_EQ(p.payload_len, 12);
    EXPECT_EQ(p.ip_len, 40);
    expect_sane(p, f.size());
}

TEST(DecodeIpv4, UdpLengthShorterThanIpPayloadBoundsThePayload) {
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoUdp, udp(1, 2, payload_of(12))));
    set16(f, kEth + 20 + 4, 8 + 5);
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.payload_len, 5);
}

TEST(DecodeIpv4, UdpEmptyPayload) {
    DecodedPacket p;
    ASSERT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoUdp, udp(1, 2, {}))), p), DecodeResult::ok);
    EXPECT_EQ(p.payload_len, 0);
    EXPECT_EQ(p.payload_offset, 42);
}

TEST(DecodeIpv4, Truncated) {
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {})));
    f.resize(kEth + 19);
    EXPECT_EQ(decode(f), DecodeResult::ipv4_truncated);
    f.resize(kEth);
    EXPECT_EQ(decode(f), DecodeResult::ipv4_truncated);
}

TEST(DecodeIpv4, BadVersion) {
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {})));
    f[kEth] = 0x65;  // version 6 under an IPv4 ethertype
    EXPECT_EQ(decode(f), DecodeResult::ipv4_bad_version);
    f[kEth] = 0x05;
    EXPECT_EQ(decode(f), DecodeResult::ipv4_bad_version);
}

TEST(DecodeIpv4, BadHeaderLength) {
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {})));
    f[kEth] = 0x44;  // IHL 4: shorter than the fixed header
    EXPECT_EQ(decode(f), DecodeResult::ipv4_bad_header_length);
    f[kEth] = 0x40;
    EXPECT_EQ(decode(f), DecodeResult::ipv4_bad_header_length);
    f[kEth] = 0x4F;  // IHL 15 = 60 bytes, only 40 available
    EXPECT_EQ(decode(f), DecodeResult::ipv4_bad_header_length);
}

TEST(DecodeIpv4, BadTotalLength) {
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, payload_of(4))));
    set16(f, kEth + 2, 19);  // smaller than the header itself
    EXPECT_EQ(decode(f), DecodeResult::ipv4_bad_total_length);
    set16(f, kEth + 2, static_cast<uint16_t>(f.size() - kEth + 1));  // one byte more than captured
    EXPECT_EQ(decode(f), DecodeResult::ipv4_bad_total_length);
    set16(f, kEth + 2, static_cast<uint16_t>(f.size() - kEth));  // exact: fine again
    EXPECT_EQ(decode(f), DecodeResult::ok);
}

// A TCP segment cut short of its IP length (snap length, a broken copy)
// stays an error, but its flow, flags and numbers are usable; no payload.
TEST(DecodeIpv4, TcpCutShortOfItsTotalLengthKeepsItsHeaderFields) {
    const Bytes whole = ipv4_tcp_frame();
    const Bytes f(whole.begin(), whole.begin() + kEth + 20 + 20);  // the 10 payload bytes missing
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ipv4_bad_total_length);
    EXPECT_EQ(p.tcp_header_only, 1);
    EXPECT_TRUE(tcp_fields_usable(DecodeResult::ipv4_bad_total_length, p));
    expect_v4_tcp_tuple(p);
    EXPECT_EQ(p.seq, 0x11223344u);
    EXPECT_EQ(p.ack, 0x55667788u);
    EXPECT_EQ(p.tcp_flags, tcp_flag::psh | tcp_flag::ack);
    EXPECT_EQ(p.payload_len, 0);
    EXPECT_EQ(p.ip_len, 40);  // what the frame holds
    EXPECT_EQ(p.frame_len, f.size());
    // Not when the TCP header itself is cut, nor for UDP or a fragment.
    DecodedPacket q;
    EXPECT_EQ(decode(Bytes(whole.begin(), whole.begin() + kEth + 20 + 19), q), DecodeResult::ipv4_bad_total_length);
    EXPECT_FALSE(tcp_fields_usable(DecodeResult::ipv4_bad_total_length, q));
    Bytes u = ethernet(kEthIpv4, ipv4(kProtoUdp, udp(1, 2, payload_of(10))));
    u.resize(u.size() - 10);
    EXPECT_EQ(decode(u, q), DecodeResult::ipv4_bad_total_length);
    EXPECT_FALSE(tcp_fields_usable(DecodeResult::ipv4_bad_total_length, q));
    Bytes frag = f;
    frag[kEth + 6] = 0x20;  // MF
    EXPECT_EQ(decode(frag, q), DecodeResult::ipv4_bad_total_length);
    EXPECT_FALSE(tcp_fields_usable(DecodeResult::ipv4_bad_total_length, q));
}

TEST(DecodeIpv6, TcpCutShortOfItsPayloadLengthKeepsItsHeaderFields) {
    const Bytes whole = ipv6_tcp_with_ext_chain_frame();
    const Bytes f(whole.begin(), whole.end() - 7);  // the 7 payload bytes missing
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ipv6_bad_payload_length);
    EXPECT_TRUE(tcp_fields_usable(DecodeResult::ipv6_bad_payload_length, p));
    EXPECT_EQ(p.src_port, 51000);
    EXPECT_EQ(p.dst_port, 23);
    EXPECT_EQ(p.payload_len, 0);
}

// Scanners' SYNs whose data offset runs past the IP payload (options in the
// Ethernet padding): counted as tcp_bad_data_offset, fields usable.
TEST(DecodeIpv4, DataOffsetPastTheIpPayloadKeepsTheHeaderFields) {
    TcpOpts o;
    o.seq = 0x0a1e0101;
    o.flags = tcp_flag::syn;
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(50001, 23, {}, o)));
    f[kEth + 20 + 12] = 6 << 4;  // 24 bytes of header in a 20-byte payload
    f.insert(f.end(), {0x02, 0x04, 0x05, 0xb4, 0x00, 0x00});  // the MSS option in the padding
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::tcp_bad_data_offset);
    EXPECT_TRUE(tcp_fields_usable(DecodeResult::tcp_bad_data_offset, p));
    EXPECT_EQ(p.dst_port, 23);
    EXPECT_EQ(p.seq, 0x0a1e0101u);
    EXPECT_EQ(p.tcp_flags, tcp_flag::syn);
    EXPECT_EQ(p.payload_len, 0);
    EXPECT_LE(p.payload_offset, f.size());
    // A data offset below 5 says nothing about where anything is.
    f[kEth + 20 + 12] = 4 << 4;
    EXPECT_EQ(decode(f, p), DecodeResult::tcp_bad_data_offset);
    EXPECT_FALSE(tcp_fields_usable(DecodeResult::tcp_bad_data_offset, p));
}

TEST(DecodeIpv4, TotalLengthEqualToHeaderMeansNoTransport) {
    // Total length 20 with TCP: an empty IP payload cannot hold a TCP header,
    // even though bytes follow in the frame (they are padding).
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {})));
    set16(f, kEth + 2, 20);
    EXPECT_EQ(decode(f), DecodeResult::tcp_truncated);
}

TEST(DecodeIpv4, NonFirstFragmentHasNoPorts) {
    Ipv4Opts o;
    o.flags_fragment = 0x2000 | 185;  // MF + offset 185 * 8 bytes
    const Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, payload_of(24), o));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ipv4_fragment);
    EXPECT_EQ(p.ip_version, 4);
    EXPECT_EQ(p.l4_proto, kProtoTcp);
    EXPECT_EQ(p.ip_len, 44);
    EXPECT_EQ(addr(p.src_addr), v4_mapped(kV4Src));
    EXPECT_EQ(addr(p.dst_addr), v4_mapped(kV4Dst));
    EXPECT_EQ(p.src_port, 0);
    EXPECT_EQ(p.dst_port, 0);
    EXPECT_EQ(p.fragment.ip_offset, kEth);
    EXPECT_EQ(p.fragment.header_len, 20);
    EXPECT_EQ(p.fragment.data_offset, 185 * 8);
    EXPECT_EQ(p.fragment.data_len, 24);
    EXPECT_EQ(p.fragment.id, 0x1234u);
    EXPECT_EQ(p.fragment.more, 1);

    // The last fragment (no MF) and a fragment of a non-TCP/UDP protocol too.
    o.flags_fragment = 1;
    ASSERT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoUdp, payload_of(3), o)), p), DecodeResult::ipv4_fragment);
    EXPECT_EQ(p.l4_proto, kProtoUdp);
    EXPECT_EQ(p.fragment.data_offset, 8);
    EXPECT_EQ(p.fragment.data_len, 3);
    EXPECT_EQ(p.fragment.more, 0);
    EXPECT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoIcmp, payload_of(8), o))), DecodeResult::ipv4_fragment);
}

TEST(DecodeIpv4, FragmentInfoCoversOptionsAndExcludesPadding) {
    Ipv4Opts o;
    o.options = {0x01, 0x01, 0x01, 0x00};
    o.flags_fragment = 0x2000 | 2;
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, payload_of(16), o), {{kTpid8021q, 9}});
    f.resize(f.size() + 6, 0);  // Ethernet padding is not fragment data
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ipv4_fragment);
    EXPECT_EQ(p.fragment.ip_offset, kEth + 4);
    EXPECT_EQ(p.fragment.header_len, 24);
    EXPECT_EQ(p.fragment.data_offset, 16);
    EXPECT_EQ(p.fragment.data_len, 16);
    EXPECT_EQ(size_t{p.fragment.ip_offset} + p.fragment.header_len + p.fragment.data_len, f.size() - 6);
}

TEST(DecodeIpv4, NonFirstFragmentKeepsVlan) {
    Ipv4Opts o;
    o.flags_fragment = 3;
    const Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, payload_of(8), o), {{kTpid8021q, 42}});
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ipv4_fragment);
    EXPECT_EQ(p.vlan_count, 1);
    EXPECT_EQ(p.vlan[0], 42);
}

TEST(DecodeIpv4, FirstFragmentGoesToReassembly) {
    // MF at offset 0: the transport header is here, but half a payload is not
    // a segment to inspect; the reassembler gets it like any other fragment.
    Ipv4Opts o;
    o.flags_fragment = 0x2000;
    const Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(40000, 23, payload_of(16)), o));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ipv4_fragment);
    EXPECT_EQ(p.l4_proto, kProtoTcp);
    EXPECT_EQ(p.src_port, 0);
    EXPECT_EQ(p.fragment.data_offset, 0);
    EXPECT_EQ(p.fragment.data_len, 20 + 16);
    EXPECT_EQ(p.fragment.more, 1);
}

TEST(DecodeIpv4, DontFragmentFlagIsNotAFragment) {
    Ipv4Opts o;
    o.flags_fragment = 0x4000;
    EXPECT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {}), o))), DecodeResult::ok);
}

TEST(DecodeIpv4, OtherProtocolsAreUnsupportedTransport) {
    const Bytes icmp_echo{8, 0, 0, 0, 0, 1, 0, 1};
    DecodedPacket p;
    ASSERT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoIcmp, icmp_echo)), p), DecodeResult::unsupported_transport);
    EXPECT_EQ(p.l4_proto, kProtoIcmp);
    EXPECT_EQ(decode(ethernet(kEthIpv4, ipv4(89, payload_of(20)))), DecodeResult::unsupported_transport);  // OSPF
    EXPECT_EQ(decode(ethernet(kEthIpv4, ipv4(0, payload_of(20)))), DecodeResult::unsupported_transport);
    EXPECT_EQ(decode(ethernet(kEthIpv4, ipv4(132, payload_of(20)))), DecodeResult::unsupported_transport);  // SCTP
}

TEST(DecodeTcp, Truncated) {
    // IP payload of 19 bytes: one short of a TCP header. Total length is
    // consistent, so only the TCP check can reject it.
    Bytes seg = tcp(1, 2, {});
    seg.resize(19);
    EXPECT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoTcp, seg))), DecodeResult::tcp_truncated);
    EXPECT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoTcp, {}))), DecodeResult::tcp_truncated);
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kProtoTcp, seg))), DecodeResult::tcp_truncated);
}

TEST(DecodeTcp, BadDataOffset) {
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, payload_of(3))));
    const size_t doff_byte = kEth + 20 + 12;
    f[doff_byte] = 0x40;  // 4 words < 5
    EXPECT_EQ(decode(f), DecodeResult::tcp_bad_data_offset);
    f[doff_byte] = 0x00;
    EXPECT_EQ(decode(f), DecodeResult::tcp_bad_data_offset);
    f[doff_byte] = 0x60;  // 24 bytes > 23-byte IP payload
    EXPECT_EQ(decode(f), DecodeResult::tcp_bad_data_offset);
    f[doff_byte] = 0xF0;
    EXPECT_EQ(decode(f), DecodeResult::tcp_bad_data_offset);
}

TEST(DecodeTcp, HeaderFillingTheWholePayloadIsOk) {
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, payload_of(4))));
    f[kEth + 20 + 12] = 0x60;  // 24-byte header == 24-byte IP payload
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.payload_len, 0);
    EXPECT_EQ(p.payload_offset, f.size());
}

TEST(DecodeTcp, PaddingDoesNotCountAsRoomForTheHeader) {
    // 23-byte IP payload, then padding. A data offset of 24 reaches into the
    // padding and must be rejected.
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, payload_of(3))));
    f.resize(f.size() + 8, 0);
    f[kEth + 20 + 12] = 0x60;
    EXPECT_EQ(decode(f), DecodeResult::tcp_bad_data_offset);
}

TEST(DecodeUdp, Truncated) {
    Bytes dgram = udp(1, 2, {});
    dgram.resize(7);
    EXPECT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoUdp, dgram))), DecodeResult::udp_truncated);
    EXPECT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoUdp, {}))), DecodeResult::udp_truncated);
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kProtoUdp, dgram))), DecodeResult::udp_truncated);
}

TEST(DecodeUdp, BadLength) {
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoUdp, udp(1, 2, payload_of(4))));
    const size_t len_field = kEth + 20 + 4;
    set16(f, len_field, 7);
    EXPECT_EQ(decode(f), DecodeResult::udp_bad_length);
    set16(f, len_field, 0);
    EXPECT_EQ(decode(f), DecodeResult::udp_bad_length);
    set16(f, len_field, 13);  // IP payload is 12
    EXPECT_EQ(decode(f), DecodeResult::udp_bad_length);
    set16(f, len_field, 0xFFFF);
    EXPECT_EQ(decode(f), DecodeResult::udp_bad_length);
    set16(f, len_field, 12);
    EXPECT_EQ(decode(f), DecodeResult::ok);
}

TEST(DecodeUdp, LengthReachingIntoPaddingIsBad) {
    Bytes f = ethernet(kEthIpv4, ipv4(kProtoUdp, udp(1, 2, payload_of(2))));
    f.resize(60, 0);
    set16(f, kEth + 20 + 4, 12);  // IP payload is 10; the rest is padding
    EXPECT_EQ(decode(f), DecodeResult::udp_bad_length);
}

// -------------------------------------------------------------------- L2

TEST(DecodeEthernet, ShortFramesAreTruncated) {
    const Bytes f = ipv4_tcp_frame();
    for (size_t n = 0; n < kEth; ++n)
        EXPECT_EQ(decode(Bytes(f.begin(), f.begin() + static_cast<long>(n))), DecodeResult::eth_truncated) << n;
    DecodedPacket p;
    EXPECT_EQ(decode_packet(nullptr, 0, p), DecodeResult::eth_truncated);
}

TEST(DecodeEthernet, NonIpEthertypesAreUnsupported) {
    const Bytes arp_request{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 192, 0, 2, 1,
                            0, 0, 0, 0, 0, 0, 192, 0, 2, 9};
    EXPECT_EQ(decode(ethernet(kEthArp, arp_request)), DecodeResult::unsupported_ethertype);
    EXPECT_EQ(decode(ethernet(kEthLldp, payload_of(30))), DecodeResult::unsupported_ethertype);
    EXPECT_EQ(decode(ethernet(0x0000, {})), DecodeResult::unsupported_ethertype);
    EXPECT_EQ(decode(ethernet(0x9200, payload_of(60))), DecodeResult::unsupported_ethertype);
    // An IPv4 packet under the wrong ethertype is not looked at.
    EXPECT_EQ(decode(ethernet(kEthArp, ipv4(kProtoTcp, tcp(1, 2, {})))), DecodeResult::unsupported_ethertype);
    // An IPv6 ethertype with an IPv4 header is a bad IPv6 version.
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv4(kProtoTcp, tcp(1, 2, payload_of(20))))),
              DecodeResult::ipv6_bad_version);
}

TEST(DecodeVlan, SingleTagKeepsTwelveBitVid) {
    // TCI 0xE07B: PCP 7, DEI 0, VID 0x07B.
    const Bytes f = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(40000, 23, payload_of(6))), {{kTpid8021q, 0xE07B}});
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.vlan_count, 1);
    EXPECT_EQ(p.vlan[0], 0x07B);
    EXPECT_EQ(p.vlan[1], 0);
    EXPECT_EQ(p.src_port, 40000);
    EXPECT_EQ(p.payload_offset, 18 + 20 + 20);
    EXPECT_EQ(p.payload_len, 6);
    EXPECT_EQ(f[p.payload_offset], 'a');
}

TEST(DecodeVlan, DeiBitIsMasked) {
    DecodedPacket p;
    ASSERT_EQ(decode(ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {})), {{kTpid8021q, 0x1FFF}}), p),
              DecodeResult::ok);
    EXPECT_EQ(p.vlan[0], 0x0FFF);
}

TEST(DecodeVlan, QinQOuterFirst) {
    const Bytes l3 = ipv4(kProtoUdp, udp(1000, 2000, payload_of(5)));
    for (uint16_t outer_tpid : {kTpid8021ad, kTpid9100, kTpid8021q}) {
        DecodedPacket p;
        const Bytes f = ethernet(kEthIpv4, l3, {{outer_tpid, 0x2064}, {kTpid8021q, 0x00C8}});
        ASSERT_EQ(decode(f, p), DecodeResult::ok) << std::hex << outer_tpid;
        EXPECT_EQ(p.vlan_count, 2);
        EXPECT_EQ(p.vlan[0], 100);  // outer (service) tag
        EXPECT_EQ(p.vlan[1], 200);  // inner (customer) tag
        EXPECT_EQ(p.payload_offset, 22 + 20 + 8);
        EXPECT_EQ(p.payload_len, 5);
        EXPECT_EQ(p.src_port, 1000);
    }
}

TEST(DecodeVlan, QinQWithIpv6) {
    const Bytes f = ethernet(kEthIpv6, ipv6(kProtoTcp, tcp(5, 6, payload_of(1))),
                             {{kTpid8021ad, 7}, {kTpid8021q, 8}});
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.ip_version, 6);
    EXPECT_EQ(p.vlan_count, 2);
    EXPECT_EQ(p.vlan[0], 7);
    EXPECT_EQ(p.vlan[1], 8);
    EXPECT_EQ(p.payload_offset, 22 + 40 + 20);
}

TEST(DecodeVlan, ThirdTagIsTooMany) {
    const Bytes l3 = ipv4(kProtoTcp, tcp(1, 2, {}));
    EXPECT_EQ(decode(ethernet(kEthIpv4, l3, {{kTpid8021ad, 1}, {kTpid8021q, 2}, {kTpid8021q, 3}})),
              DecodeResult::vlan_too_many_tags);
    EXPECT_EQ(decode(ethernet(kEthIpv4, l3, {{kTpid8021q, 1}, {kTpid8021q, 2}, {kTpid8021q, 3}, {kTpid8021q, 4}})),
              DecodeResult::vlan_too_many_tags);
    // The third TPID alone is enough to know there are too many tags.
    Bytes f = ethernet(kTpid8021q, {}, {{kTpid8021ad, 1}, {kTpid8021q, 2}});
    EXPECT_EQ(decode(f), DecodeResult::vlan_too_many_tags);
}

TEST(DecodeVlan, TruncatedTag) {
    // Ethertype says 802.1Q but the frame ends inside (or right before) the tag.
    Bytes f = ethernet(kTpid8021q, {0x00, 0x05});
    EXPECT_EQ(decode(f), DecodeResult::vlan_truncated);
    f = ethernet(kTpid8021q, {});
    EXPECT_EQ(decode(f), DecodeResult::vlan_truncated);
    f = ethernet(kTpid8021q, {0x00, 0x05, 0x81});
    EXPECT_EQ(decode(f), DecodeResult::vlan_truncated);
    // Second tag cut short.
    f = ethernet(kTpid8021q, {0x00}, {{kTpid8021ad, 9}});
    EXPECT_EQ(decode(f), DecodeResult::vlan_truncated);
}

TEST(DecodeVlan, TaggedNonIpIsUnsupportedEthertype) {
    DecodedPacket p;
    ASSERT_EQ(decode(ethernet(kEthArp, payload_of(28), {{kTpid8021q, 10}}), p),
              DecodeResult::unsupported_ethertype);
    EXPECT_EQ(p.vlan_count, 1);
    EXPECT_EQ(p.vlan[0], 10);
}

TEST(DecodeVlan, TaggedButNoL3IsIpv4Truncated) {
    EXPECT_EQ(decode(ethernet(kEthIpv4, {}, {{kTpid8021q, 10}})), DecodeResult::ipv4_truncated);
    EXPECT_EQ(decode(ethernet(kEthIpv6, {}, {{kTpid8021q, 10}})), DecodeResult::ipv6_truncated);
}

// -------------------------------------------------------------------- IPv6

TEST(DecodeIpv6, TcpFieldsAreFilled) {
    TcpOpts o;
    o.seq = 0xfffffffe;
    o.ack = 1;
    o.flags = tcp_flag::syn | tcp_flag::ack;
    const Bytes f = ethernet(kEthIpv6, ipv6(kProtoTcp, tcp(23, 51000, payload_of(9), o)));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.ip_version, 6);
    EXPECT_EQ(p.l4_proto, kProtoTcp);
    EXPECT_EQ(addr(p.src_addr), kV6Src);
    EXPECT_EQ(addr(p.dst_addr), kV6Dst);
    EXPECT_EQ(p.src_port, 23);
    EXPECT_EQ(p.dst_port, 51000);
    EXPECT_EQ(p.seq, 0xfffffffeu);
    EXPECT_EQ(p.ack, 1u);
    EXPECT_EQ(p.tcp_flags, tcp_flag::syn | tcp_flag::ack);
    EXPECT_EQ(p.ip_len, 40 + 20 + 9);
    EXPECT_EQ(p.payload_offset, 14 + 40 + 20);
    EXPECT_EQ(p.payload_len, 9);
    expect_sane(p, f.size());
}

TEST(DecodeIpv6, UdpFieldsAreFilled) {
    const Bytes f = ethernet(kEthIpv6, ipv6(kProtoUdp, udp(546, 547, payload_of(30))));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.l4_proto, kProtoUdp);
    EXPECT_EQ(p.src_port, 546);
    EXPECT_EQ(p.dst_port, 547);
    EXPECT_EQ(p.payload_offset, 14 + 40 + 8);
    EXPECT_EQ(p.payload_len, 30);
    EXPECT_EQ(p.ip_len, 78);
}

TEST(DecodeIpv6, ExtensionHeaderChainIsWalked) {
    const Bytes f = ipv6_tcp_with_ext_chain_frame();
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.ip_version, 6);
    EXPECT_EQ(p.l4_proto, kProtoTcp);
    EXPECT_EQ(p.src_port, 51000);
    EXPECT_EQ(p.dst_port, 23);
    const size_t ext = 8 + 16 + 24 + 8;
    EXPECT_EQ(p.ip_len, 40 + ext + 20 + 7);
    EXPECT_EQ(p.payload_offset, 14 + 40 + ext + 20);
    EXPECT_EQ(p.payload_len, 7);
    EXPECT_EQ(f[p.payload_offset], 'a');
    EXPECT_EQ(addr(p.src_addr), kV6Src);
    EXPECT_EQ(addr(p.dst_addr), kV6Dst);
}

TEST(DecodeIpv6, AtomicFragmentIsParsed) {
    // Fragment header with offset 0 and no MF (RFC 6946 atomic fragment).
    const Bytes f = ethernet(kEthIpv6, ipv6(kFragment, ipv6_frag(kProtoUdp, 0, false) + udp(7, 9, payload_of(2))));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.l4_proto, kProtoUdp);
    EXPECT_EQ(p.dst_port, 9);
    EXPECT_EQ(p.payload_offset, 14 + 40 + 8 + 8);
}

TEST(DecodeIpv6, NonFirstFragment) {
    const Bytes f =
        ethernet(kEthIpv6, ipv6(kHopByHop, ipv6_ext(kFragment, 0) + ipv6_frag(kProtoTcp, 181, true) + payload_of(32)),
                 {{kTpid8021q, 5}});
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ipv6_fragment);
    EXPECT_EQ(p.ip_version, 6);
    EXPECT_EQ(p.l4_proto, kProtoTcp);
    EXPECT_EQ(p.ip_len, 40 + 8 + 8 + 32);
    EXPECT_EQ(addr(p.src_addr), kV6Src);
    EXPECT_EQ(addr(p.dst_addr), kV6Dst);
    EXPECT_EQ(p.vlan_count, 1);
    EXPECT_EQ(p.vlan[0], 5);
    EXPECT_EQ(p.src_port, 0);
    EXPECT_EQ(p.dst_port, 0);
    EXPECT_EQ(p.fragment.ip_offset, kEth + 4);
    EXPECT_EQ(p.fragment.header_len, 40 + 8 + 8);  // up to and including the Fragment header
    EXPECT_EQ(p.fragment.data_offset, 181 * 8);
    EXPECT_EQ(p.fragment.data_len, 32);
    EXPECT_EQ(p.fragment.id, 0xcafef00du);
    EXPECT_EQ(p.fragment.more, 1);

    // The last fragment (no MF) of a non-TCP protocol is a fragment too.
    ASSERT_EQ(decode(ethernet(kEthIpv6, ipv6(kFragment, ipv6_frag(kProtoIcmpv6, 1, false) + payload_of(8))), p),
              DecodeResult::ipv6_fragment);
    EXPECT_EQ(p.l4_proto, kProtoIcmpv6);
    EXPECT_EQ(p.fragment.header_len, 48);
    EXPECT_EQ(p.fragment.data_offset, 8);
    EXPECT_EQ(p.fragment.more, 0);
}

TEST(DecodeIpv6, FirstFragmentGoesToReassembly) {
    Bytes f = ethernet(kEthIpv6, ipv6(kFragment, ipv6_frag(kProtoTcp, 0, true) + tcp(40000, 23, payload_of(16))));
    f.resize(f.size() + 4, 0);  // padding
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ipv6_fragment);
    EXPECT_EQ(p.l4_proto, kProtoTcp);
    EXPECT_EQ(p.src_port, 0);
    EXPECT_EQ(p.fragment.ip_offset, kEth);
    EXPECT_EQ(p.fragment.data_offset, 0);
    EXPECT_EQ(p.fragment.data_len, 20 + 16);
    EXPECT_EQ(p.fragment.more, 1);
}

TEST(DecodeIpv6, ExtensionHeaderLimit) {
    auto chain = [](unsigned n, uint8_t last) {
        Bytes r;
        for (unsigned i = 0; i < n; ++i)
            append(r, ipv6_ext(i + 1 == n ? last : kDestOpts, 0));
        return r;
    };
    DecodedPacket p;
    ASSERT_EQ(decode(ethernet(kEthIpv6, ipv6(kDestOpts, chain(kMaxIpv6ExtHeaders, kProtoTcp) + tcp(1, 2, {}))), p),
              DecodeResult::ok);
    EXPECT_EQ(p.payload_offset, 14 + 40 + 8 * kMaxIpv6ExtHeaders + 20);
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kDestOpts, chain(kMaxIpv6ExtHeaders + 1, kProtoTcp) + tcp(1, 2, {})))),
              DecodeResult::ipv6_ext_too_many);
    // The limit applies to the number walked, not to what follows: eight
    // headers followed by a ninth of any extension type is too many.
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kHopByHop, chain(kMaxIpv6ExtHeaders, kFragment) +
                                                             ipv6_frag(kProtoTcp, 0, false) + tcp(1, 2, {})))),
              DecodeResult::ipv6_ext_too_many);
    // A long chain of tiny headers is cut off at the limit, whatever its length.
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kDestOpts, chain(100, kProtoTcp) + tcp(1, 2, {})))),
              DecodeResult::ipv6_ext_too_many);
}

TEST(DecodeIpv6, ExtensionHeaderTruncated) {
    // Hop-by-hop header claiming 16 bytes with only 8 in the payload.
    Bytes hbh = ipv6_ext(kProtoTcp, 0);
    hbh[1] = 1;
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kHopByHop, hbh))), DecodeResult::ipv6_ext_truncated);
    // Fewer than 8 bytes left for an extension header.
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kRouting, Bytes{kProtoTcp, 0, 0, 0}))), DecodeResult::ipv6_ext_truncated);
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kFragment, Bytes{kProtoTcp, 0, 0, 0, 0, 0, 0}))),
              DecodeResult::ipv6_ext_truncated);
    // The payload length is what bounds the chain, not the frame: a header
    // that would fit only by counting padding is truncated.
    Bytes f = ethernet(kEthIpv6, ipv6(kDestOpts, Bytes{kProtoTcp, 0, 0, 0}));
    f.resize(f.size() + 16, 0);
    EXPECT_EQ(decode(f), DecodeResult::ipv6_ext_truncated);
    // A header at the end of the chain with nothing after it: no transport.
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kHopByHop, ipv6_ext(kDestOpts, 0)))), DecodeResult::ipv6_ext_truncated);
}

TEST(DecodeIpv6, Truncated) {
    Bytes f = ethernet(kEthIpv6, ipv6(kProtoTcp, tcp(1, 2, {})));
    f.resize(kEth + 39);
    EXPECT_EQ(decode(f), DecodeResult::ipv6_truncated);
    f.resize(kEth + 1);
    EXPECT_EQ(decode(f), DecodeResult::ipv6_truncated);
}

TEST(DecodeIpv6, BadVersion) {
    Bytes f = ethernet(kEthIpv6, ipv6(kProtoTcp, tcp(1, 2, {})));
    f[kEth] = 0x40;
    EXPECT_EQ(decode(f), DecodeResult::ipv6_bad_version);
    f[kEth] = 0x00;
    EXPECT_EQ(decode(f), DecodeResult::ipv6_bad_version);
    f[kEth] = 0x70;
    EXPECT_EQ(decode(f), DecodeResult::ipv6_bad_version);
}

TEST(DecodeIpv6, BadPayloadLength) {
    Bytes f = ethernet(kEthIpv6, ipv6(kProtoTcp, tcp(1, 2, payload_of(4))));
    const size_t plen = kEth + 4;
    set16(f, plen, 25);  // one more than present
    EXPECT_EQ(decode(f), DecodeResult::ipv6_bad_payload_length);
    set16(f, plen, 0);  // jumbogram marker
    EXPECT_EQ(decode(f), DecodeResult::ipv6_bad_payload_length);
    set16(f, plen, 0xFFFF);
    EXPECT_EQ(decode(f), DecodeResult::ipv6_bad_payload_length);
    set16(f, plen, 24);
    EXPECT_EQ(decode(f), DecodeResult::ok);
}

TEST(DecodeIpv6, PaddingBeyondPayloadLengthIsIgnored) {
    Bytes f = ethernet(kEthIpv6, ipv6(kProtoTcp, tcp(1, 2, payload_of(3))));
    f.resize(f.size() + 10, 0xEE);
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.ip_len, 63);
    EXPECT_EQ(p.payload_len, 3);
}

TEST(DecodeIpv6, OtherNextHeadersAreUnsupportedTransport) {
    const Bytes icmpv6_echo{128, 0, 0, 0, 0, 1, 0, 1};
    DecodedPacket p;
    ASSERT_EQ(decode(ethernet(kEthIpv6, ipv6(kProtoIcmpv6, icmpv6_echo)), p), DecodeResult::unsupported_transport);
    EXPECT_EQ(p.l4_proto, kProtoIcmpv6);
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kNoNextHeader, payload_of(8)))), DecodeResult::unsupported_transport);
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kProtoEsp, payload_of(24)))), DecodeResult::unsupported_transport);
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(51, payload_of(24)))), DecodeResult::unsupported_transport);  // AH
    // Behind extension headers too.
    ASSERT_EQ(decode(ethernet(kEthIpv6, ipv6(kHopByHop, ipv6_ext(kProtoIcmpv6, 0) + icmpv6_echo)), p),
              DecodeResult::unsupported_transport);
    EXPECT_EQ(p.l4_proto, kProtoIcmpv6);
    EXPECT_EQ(decode(ethernet(kEthIpv6, ipv6(kDestOpts, ipv6_ext(kNoNextHeader, 0)))),
              DecodeResult::unsupported_transport);
}

// ---------------------------------------------------------------- tunnels

const std::array<uint8_t, 4> kOuterSrc{203, 0, 113, 1};
const std::array<uint8_t, 4> kOuterDst{203, 0, 113, 2};

// The inner packet every tunnel test carries: IPv4 TCP 40000 -> 23 with 5
// payload bytes, in an Ethernet frame with VLAN 7 when `tagged`.
Bytes inner_ip() { return ipv4(kProtoTcp, tcp(40000, 23, payload_of(5))); }
Bytes inner_frame(bool tagged = true) {
    return ethernet(kEthIpv4, inner_ip(), tagged ? std::vector<Tag>{{kTpid8021q, 7}} : std::vector<Tag>{});
}

Ipv4Opts outer_addrs() {
    Ipv4Opts o;
    o.src = kOuterSrc;
    o.dst = kOuterDst;
    return o;
}

// An outer IPv4 on VLAN 100 carrying `proto` with `payload`.
Bytes outer_ipv4(uint8_t proto, const Bytes &payload) {
    return ethernet(kEthIpv4, ipv4(proto, payload, outer_addrs()), {{kTpid8021q, 100}});
}

Bytes vxlan_frame(uint32_t vni, const Bytes &inner, uint16_t port = 4789) {
    return outer_ipv4(kProtoUdp, udp(55555, port, vxlan(vni, inner)));
}

// The inner packet came through: its tuple, and a plausible payload.
void expect_inner_tcp(const DecodedPacket &p, size_t frame_len) {
    expect_v4_tcp_tuple(p);
    EXPECT_EQ(p.payload_len, 5);
    EXPECT_EQ(size_t{p.payload_offset} + 5, frame_len);
}

void expect_outer_ipv4(const DecodedPacket &p) {
    EXPECT_EQ(p.tunnel.outer_ip_version, 4);
    EXPECT_EQ(addr(p.tunnel.outer_src), v4_mapped(kOuterSrc));
    EXPECT_EQ(addr(p.tunnel.outer_dst), v4_mapped(kOuterDst));
    EXPECT_EQ(p.tunnel.outer_vlan, 100);
}

std::vector<TunnelType> layers_of(const DecodedPacket &p) {
    return std::vector<TunnelType>(p.layers, p.layers + p.tunnel_layers);
}

// The tunnel decode reports: the layers entered (the last is the type) and
// the tenant id with the layer it came from.
void expect_tunnel(const DecodedPacket &p, const std::vector<TunnelType> &layers, TunnelType tenant, uint32_t id) {
    EXPECT_EQ(layers_of(p), layers);
    EXPECT_EQ(p.tunnel.type, layers.back());
    EXPECT_EQ(p.tunnel.tenant, tenant);
    EXPECT_EQ(p.tunnel.id, id);
}

TEST(DecodeTunnel, PlainPacketHasNoTunnelLayers) {
    DecodedPacket p;
    ASSERT_EQ(decode(ipv4_tcp_frame(), p), DecodeResult::ok);
    EXPECT_EQ(p.tunnel_layers, 0);
}

TEST(DecodeTunnel, EveryTypeHasItsOwnName) {
    // The names are counter names (layer.<name>) and flowsentry.tunnel.type values.
    std::set<std::string> seen;
    for (int i = 0; i < static_cast<int>(TunnelType::count_); ++i)
        EXPECT_TRUE(seen.insert(tunnel_type_name(static_cast<TunnelType>(i))).second) << i;
    EXPECT_EQ(seen.count("none") + seen.count("erspan3") + seen.count("ipv6_in_ip"), 3u);
    EXPECT_EQ(seen.count("unknown"), 0u);
    EXPECT_STREQ(tunnel_type_name(TunnelType::count_), "unknown");
}

TEST(DecodeMpls, TwoLabelsThenIpv4ByNibble) {
    const Bytes f = ethernet(kEthMpls, mpls({16, 1000}, inner_ip()), {{kTpid8021q, 100}});
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    expect_inner_tcp(p, f.size());
    expect_tunnel(p, {TunnelType::mpls}, TunnelType::none, 0);
    EXPECT_EQ(p.tunnel.outer_ip_version, 0);  // no IP below the labels
    EXPECT_EQ(p.tunnel.outer_vlan, 100);
    // No Ethernet header inside: the VLAN of the last one is the outer one.
    EXPECT_EQ(p.vlan_count, 1);
    EXPECT_EQ(p.vlan[0], 100);
}

TEST(DecodeMpls, MulticastEthertypeAndIpv6) {
    const Bytes f = ethernet(kEthMplsMulticast, mpls({20}, ipv6(kProtoTcp, tcp(1, 23, payload_of(3)))));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.ip_version, 6);
    EXPECT_EQ(p.dst_port, 23);
    EXPECT_EQ(p.tunnel.type, TunnelType::mpls);
}

TEST(DecodeMpls, EthernetPayloadWhenConfiguredOrByNibble) {
    const Bytes f = ethernet(kEthMpls, mpls({16, 17}, inner_frame()));
    DecodeOptions eth;
    eth.mpls_payload = MplsPayload::ethernet;
    DecodedPacket p;
    ASSERT_EQ(decode_packet(f.data(), static_cast<uint32_t>(f.size()), p, eth), DecodeResult::ok);
    expect_inner_tcp(p, f.size());
    EXPECT_EQ(p.vlan_count, 1);
    EXPECT_EQ(p.vlan[0], 7);  // the inner Ethernet header's
    // The inner MAC starts with nibble 0: automatic takes it for Ethernet too.
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.vlan[0], 7);
    // "ip" insists on IP.
    DecodeOptions ip;
    ip.mpls_payload = MplsPayload::ip;
    EXPECT_EQ(decode_packet(f.data(), static_cast<uint32_t>(f.size()), p, ip), DecodeResult::mpls_bad_payload);
    // "ethernet" never takes the payload for IP.
    const Bytes v4 = ethernet(kEthMpls, mpls({16}, inner_ip()));
    EXPECT_EQ(decode_packet(v4.data(), static_cast<uint32_t>(v4.size()), p, eth), DecodeResult::unsupported_ethertype);
}

TEST(DecodeMpls, Malformed) {
    // No bottom of stack before the end, a cut label, nothing after the stack.
    Bytes no_bottom;
    put32(no_bottom, 16u << 12);
    EXPECT_EQ(decode(ethernet(kEthMpls, no_bottom)), DecodeResult::mpls_truncated);
    EXPECT_EQ(decode(ethernet(kEthMpls, Bytes{0, 1, 1})), DecodeResult::mpls_truncated);
    EXPECT_EQ(decode(ethernet(kEthMpls, mpls({16}, {}))), DecodeResult::mpls_truncated);
    // A stack of kMaxMplsLabels is fine, one more is not.
    EXPECT_EQ(decode(ethernet(kEthMpls, mpls(std::vector<uint32_t>(kMaxMplsLabels, 16), inner_ip()))),
              DecodeResult::ok);
    EXPECT_EQ(decode(ethernet(kEthMpls, mpls(std::vector<uint32_t>(kMaxMplsLabels + 1, 16), inner_ip()))),
              DecodeResult::mpls_too_many_labels);
    // A malformed inner packet is reported as such, never half-parsed.
    Bytes bad_inner = inner_ip();
    set16(bad_inner, 2, 1000);
    DecodedPacket p;
    EXPECT_EQ(decode(ethernet(kEthMpls, mpls({16}, bad_inner)), p), DecodeResult::ipv4_bad_total_length);
    EXPECT_EQ(layers_of(p), std::vector<TunnelType>{TunnelType::mpls});  // seen, so counted
}

TEST(DecodeGre, KeyChecksumSequenceCarryingIpv4) {
    GreOpts o;
    o.checksum = true;
    o.has_key = true;
    o.key = 0x00abcdef;
    o.sequence = true;
    const Bytes f = outer_ipv4(kProtoGre, gre(kEthIpv4, inner_ip(), o));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    expect_inner_tcp(p, f.size());
    expect_outer_ipv4(p);
    expect_tunnel(p, {TunnelType::gre}, TunnelType::gre, 0x00abcdef);
    EXPECT_EQ(p.vlan[0], 100);  // no inner Ethernet: the outer frame's tags
}

TEST(DecodeGre, TransparentEthernetBridging) {
    GreOpts o;
    o.has_key = true;
    o.key = 5;
    const Bytes f = outer_ipv4(kProtoGre, gre(kEthTeb, inner_frame(), o));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    expect_inner_tcp(p, f.size());
    EXPECT_EQ(p.vlan_count, 1);
    EXPECT_EQ(p.vlan[0], 7);
    EXPECT_EQ(p.tunnel.outer_vlan, 100);
    EXPECT_EQ(p.tunnel.id, 5u);
}

TEST(DecodeGre, Malformed) {
    GreOpts v1;
    v1.extra_flags = 1;  // version 1: PPTP's enhanced GRE
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, gre(kEthIpv4, inner_ip(), v1))), DecodeResult::gre_bad_version);
    GreOpts routing;
    routing.extra_flags = 0x4000;
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, gre(kEthIpv4, inner_ip(), routing))), DecodeResult::gre_bad_flags);
    GreOpts reserved;
    reserved.extra_flags = 0x0080;
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, gre(kEthIpv4, inner_ip(), reserved))), DecodeResult::gre_bad_flags);
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, Bytes{0, 0, 8})), DecodeResult::gre_truncated);
    // Key flag set, key cut short.
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, Bytes{0x20, 0, 0x08, 0, 0, 0})), DecodeResult::gre_truncated);
    // A protocol it does not descend into.
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, gre(0x0806, payload_of(28)))), DecodeResult::unsupported_encapsulation);
}

TEST(DecodeErspan, TypeOneHasNoHeader) {
    const Bytes f = outer_ipv4(kProtoGre, gre(kEthErspan, inner_frame()));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    expect_inner_tcp(p, f.size());
    expect_outer_ipv4(p);
    expect_tunnel(p, {TunnelType::gre, TunnelType::erspan1}, TunnelType::none, 0);
    EXPECT_EQ(p.vlan[0], 7);
}

TEST(DecodeErspan, TypeTwo) {
    GreOpts seq;
    seq.sequence = true;
    const Bytes f = outer_ipv4(kProtoGre, gre(kEthErspan, erspan2(0x2a5, inner_frame()), seq));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    expect_inner_tcp(p, f.size());
    expect_outer_ipv4(p);
    expect_tunnel(p, {TunnelType::gre, TunnelType::erspan2}, TunnelType::none, 0);
    EXPECT_EQ(p.tunnel.erspan_session, 0x2a5);
    EXPECT_EQ(p.vlan_count, 1);
    EXPECT_EQ(p.vlan[0], 7);
}

TEST(DecodeErspan, TypeThreeWithAndWithoutPlatformSubheader) {
    for (bool platform : {false, true}) {
        const Bytes f = outer_ipv4(kProtoGre, gre(kEthErspan3, erspan3(17, inner_frame(false), platform)));
        DecodedPacket p;
        ASSERT_EQ(decode(f, p), DecodeResult::ok) << platform;
        expect_inner_tcp(p, f.size());
        EXPECT_EQ(p.tunnel.type, TunnelType::erspan3);
        EXPECT_EQ(p.tunnel.erspan_session, 17);
        EXPECT_EQ(p.vlan_count, 0);  // the inner frame is untagged
        EXPECT_EQ(p.tunnel.outer_vlan, 100);
    }
}

TEST(DecodeErspan, Malformed) {
    GreOpts seq;
    seq.sequence = true;
    Bytes bad2 = erspan2(1, inner_frame());
    bad2[0] = 0x20;  // version 2 in a type II header
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, gre(kEthErspan, bad2, seq))), DecodeResult::erspan_bad_version);
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, gre(kEthErspan, Bytes{0x10, 0, 0, 1}, seq))),
              DecodeResult::erspan_truncated);
    Bytes bad3 = erspan3(1, inner_frame(), false);
    bad3[0] = 0x10;
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, gre(kEthErspan3, bad3))), DecodeResult::erspan_bad_version);
    // O bit set, platform subheader missing.
    const Bytes cut3 = erspan3(1, {}, true);
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, gre(kEthErspan3, Bytes(cut3.begin(), cut3.begin() + 16)))),
              DecodeResult::erspan_truncated);
    // Frame type 2 (IP): not descended into.
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, gre(kEthErspan3, erspan3(1, inner_ip(), false, 2)))),
              DecodeResult::unsupported_encapsulation);
    // The mirrored frame itself malformed.
    EXPECT_EQ(decode(outer_ipv4(kProtoGre, gre(kEthErspan, Bytes(10, 0)))), DecodeResult::eth_truncated);
}

TEST(DecodeVxlan, TwoTenantsSameInnerAddresses) {
    DecodedPacket a, b;
    const Bytes fa = vxlan_frame(1001, inner_frame());
    const Bytes fb = vxlan_frame(1002, inner_frame());
    ASSERT_EQ(decode(fa, a), DecodeResult::ok);
    ASSERT_EQ(decode(fb, b), DecodeResult::ok);
    expect_inner_tcp(a, fa.size());
    expect_outer_ipv4(a);
    expect_tunnel(a, {TunnelType::vxlan}, TunnelType::vxlan, 1001);
    expect_tunnel(b, {TunnelType::vxlan}, TunnelType::vxlan, 1002);
    EXPECT_EQ(a.vlan[0], 7);
}

TEST(DecodeVxlan, PortsAreConfigurable) {
    const Bytes f = vxlan_frame(3, inner_frame(), 8472);
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);  // not a VXLAN port by default: plain UDP
    EXPECT_EQ(p.l4_proto, kProtoUdp);
    EXPECT_EQ(p.tunnel_layers, 0);
    DecodeOptions o;
    o.vxlan_ports[1] = 8472;
    o.vxlan_port_count = 2;
    ASSERT_EQ(decode_packet(f.data(), static_cast<uint32_t>(f.size()), p, o), DecodeResult::ok);
    expect_inner_tcp(p, f.size());
    EXPECT_EQ(p.tunnel.id, 3u);
}

TEST(DecodeVxlan, Malformed) {
    EXPECT_EQ(decode(outer_ipv4(kProtoUdp, udp(1, 4789, vxlan(1, inner_frame(), 0x00)))),
              DecodeResult::vxlan_bad_flags);
    EXPECT_EQ(decode(outer_ipv4(kProtoUdp, udp(1, 4789, Bytes{0x08, 0, 0, 0, 0, 0}))), DecodeResult::vxlan_truncated);
    // The UDP length bounds the tunnel payload, not the IP length.
    Bytes f = vxlan_frame(1, inner_frame());
    set16(f, 18 + 20 + 4, 8 + 8 + 10);
    EXPECT_EQ(decode(f), DecodeResult::eth_truncated);
}

TEST(DecodeGeneve, OptionsAreSkipped) {
    const Bytes options = {0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef,   // one 4-byte option
                           0x01, 0x03, 0x00, 0x00};                        // one empty option
    const Bytes f = outer_ipv4(kProtoUdp, udp(1234, 6081, geneve(0x123456, kEthTeb, options, inner_frame())));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    expect_inner_tcp(p, f.size());
    expect_outer_ipv4(p);
    expect_tunnel(p, {TunnelType::geneve}, TunnelType::geneve, 0x123456);
    // An IPv4 payload named directly.
    const Bytes ip = outer_ipv4(kProtoUdp, udp(1234, 6081, geneve(9, kEthIpv4, {}, inner_ip())));
    ASSERT_EQ(decode(ip, p), DecodeResult::ok);
    expect_inner_tcp(p, ip.size());
}

TEST(DecodeGeneve, Malformed) {
    EXPECT_EQ(decode(outer_ipv4(kProtoUdp, udp(1, 6081, geneve(1, kEthTeb, {}, inner_frame(), 1)))),
              DecodeResult::geneve_bad_version);
    Bytes long_options = geneve(1, kEthTeb, {}, Bytes(8, 0));
    long_options[0] = 10;  // 40 bytes of options in 8
    EXPECT_EQ(decode(outer_ipv4(kProtoUdp, udp(1, 6081, long_options))), DecodeResult::geneve_bad_options);
    EXPECT_EQ(decode(outer_ipv4(kProtoUdp, udp(1, 6081, Bytes{0, 0, 0x65}))), DecodeResult::geneve_truncated);
    EXPECT_EQ(decode(outer_ipv4(kProtoUdp, udp(1, 6081, geneve(1, 0x0806, {}, payload_of(28))))),
              DecodeResult::unsupported_encapsulation);
}

TEST(DecodeIpInIp, Ipv4InIpv4AndIpv6InIpv4) {
    const Bytes f = outer_ipv4(kProtoIpip, inner_ip());
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    expect_inner_tcp(p, f.size());
    expect_outer_ipv4(p);
    EXPECT_EQ(p.tunnel.type, TunnelType::ipip);

    const Bytes v6 = outer_ipv4(kProtoIpv6, ipv6(kProtoTcp, tcp(40000, 23, payload_of(5))));
    ASSERT_EQ(decode(v6, p), DecodeResult::ok);
    EXPECT_EQ(p.ip_version, 6);
    EXPECT_EQ(addr(p.src_addr), kV6Src);
    EXPECT_EQ(p.dst_port, 23);
    EXPECT_EQ(p.tunnel.type, TunnelType::ipv6_in_ip);
    expect_outer_ipv4(p);
    // A malformed inner header is the inner layer's reason.
    EXPECT_EQ(decode(outer_ipv4(kProtoIpv6, inner_ip())), DecodeResult::ipv6_bad_version);
    EXPECT_EQ(decode(outer_ipv4(kProtoIpip, Bytes(10, 0x45))), DecodeResult::ipv4_truncated);
}

TEST(DecodeIpInIp, IpInIpv6ClearsTheAddressTails) {
    const Bytes f = ethernet(kEthIpv6, ipv6(kProtoIpip, inner_ip()));
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    expect_inner_tcp(p, f.size());  // v4_mapped: bytes 4..15 zero, not the outer IPv6 address
    EXPECT_EQ(p.tunnel.outer_ip_version, 6);
    EXPECT_EQ(addr(p.tunnel.outer_src), kV6Src);
    const Bytes v6v6 = ethernet(kEthIpv6, ipv6(kProtoIpv6, ipv6(kProtoUdp, udp(1, 2, {}))));
    ASSERT_EQ(decode(v6v6, p), DecodeResult::ok);
    EXPECT_EQ(p.tunnel.type, TunnelType::ipv6_in_ip);
}

TEST(DecodeTunnel, DepthIsBounded) {
    // IP in IP n times: n tunnel layers.
    auto nested = [](unsigned n) {
        Bytes b = inner_ip();
        for (unsigned i = 0; i < n; ++i)
            b = ipv4(kProtoIpip, b);
        return ethernet(kEthIpv4, b);
    };
    DecodedPacket p;
    ASSERT_EQ(decode(nested(4), p), DecodeResult::ok);  // the default max_depth
    EXPECT_EQ(p.tunnel_layers, 4);
    EXPECT_EQ(decode(nested(5), p), DecodeResult::tunnel_too_deep);
    EXPECT_EQ(p.tunnel_layers, 4);  // the layers seen before giving up
    DecodeOptions one;
    one.max_depth = 1;
    Bytes two = nested(2);
    EXPECT_EQ(decode_packet(two.data(), static_cast<uint32_t>(two.size()), p, one), DecodeResult::tunnel_too_deep);
    DecodeOptions most;
    most.max_depth = kMaxTunnelDepth;
    Bytes deep = nested(kMaxTunnelDepth);
    EXPECT_EQ(decode_packet(deep.data(), static_cast<uint32_t>(deep.size()), p, most), DecodeResult::ok);
    deep = nested(kMaxTunnelDepth + 1);
    EXPECT_EQ(decode_packet(deep.data(), static_cast<uint32_t>(deep.size()), p, most), DecodeResult::tunnel_too_deep);
}

TEST(DecodeTunnel, MixedStackKeepsTheOutermostIpAndInnermostTenant) {
    // MPLS -> IPv4 (outer addresses) -> GRE key 9 -> IPv4 -> UDP -> VXLAN 44 -> Ethernet -> IPv4 TCP.
    GreOpts key;
    key.has_key = true;
    key.key = 9;
    const Bytes vx = ipv4(kProtoUdp, udp(1, 4789, vxlan(44, inner_frame())));
    const Bytes f = ethernet(kEthMpls, mpls({30}, ipv4(kProtoGre, gre(kEthIpv4, vx, key), outer_addrs())),
                             {{kTpid8021q, 100}});
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    expect_inner_tcp(p, f.size());
    expect_outer_ipv4(p);
    expect_tunnel(p, {TunnelType::mpls, TunnelType::gre, TunnelType::vxlan}, TunnelType::vxlan, 44);
    EXPECT_EQ(p.vlan[0], 7);
}

TEST(DecodeTunnel, InnerFragmentKeepsTheTunnelContext) {
    Ipv4Opts frag;
    frag.flags_fragment = 0x2000;  // first fragment
    const Bytes inner = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(40000, 23, payload_of(16)), frag));
    const Bytes f = vxlan_frame(77, inner);
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ipv4_fragment);
    EXPECT_EQ(addr(p.src_addr), v4_mapped(kV4Src));
    EXPECT_EQ(p.l4_proto, kProtoTcp);
    EXPECT_EQ(p.tunnel.id, 77u);
    expect_outer_ipv4(p);
    EXPECT_EQ(p.fragment.ip_offset, f.size() - (20 + 20 + 16));
    EXPECT_EQ(p.fragment.data_len, 36);
}

// ------------------------------------------------------- robustness sweeps

struct NamedFrame {
    const char *name;
    Bytes frame;
};

std::vector<NamedFrame> valid_frames() {
    TcpOpts syn_with_options;
    syn_with_options.flags = tcp_flag::syn;
    syn_with_options.options = {0x02, 0x04, 0x05, 0xb4, 0x01, 0x01, 0x04, 0x02};
    Ipv4Opts ip_options;
    ip_options.options = {0x01, 0x01, 0x01, 0x00};
    GreOpts gre_key;
    gre_key.has_key = true;
    gre_key.key = 99;
    GreOpts gre_seq;
    gre_seq.sequence = true;
    return {
        {"ipv4_tcp", ipv4_tcp_frame()},
        {"ipv4_options_tcp_options",
         ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(3, 4, payload_of(2), syn_with_options), ip_options))},
        {"ipv4_udp", ethernet(kEthIpv4, ipv4(kProtoUdp, udp(1, 2, payload_of(5))))},
        {"ipv6_tcp", ethernet(kEthIpv6, ipv6(kProtoTcp, tcp(1, 2, payload_of(5))))},
        {"ipv6_ext_chain_tcp", ipv6_tcp_with_ext_chain_frame()},
        {"ipv6_udp", ethernet(kEthIpv6, ipv6(kProtoUdp, udp(1, 2, payload_of(3))))},
        {"qinq_ipv4_tcp",
         ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, payload_of(3))), {{kTpid8021ad, 10}, {kTpid8021q, 20}})},
        {"dot1q_ipv6_udp", ethernet(kEthIpv6, ipv6(kProtoUdp, udp(1, 2, {})), {{kTpid8021q, 30}})},
        {"mpls_ipv4_tcp", ethernet(kEthMpls, mpls({16, 17}, inner_ip()))},
        {"gre_key_ipv4_tcp", outer_ipv4(kProtoGre, gre(kEthIpv4, inner_ip(), gre_key))},
        {"erspan2_tcp", outer_ipv4(kProtoGre, gre(kEthErspan, erspan2(5, inner_frame()), gre_seq))},
        {"erspan3_platform_tcp", outer_ipv4(kProtoGre, gre(kEthErspan3, erspan3(5, inner_frame(), true)))},
        {"vxlan_tcp", vxlan_frame(10, inner_frame())},
        {"geneve_options_tcp", outer_ipv4(kProtoUdp, udp(1, 6081, geneve(3, kEthTeb, Bytes(8, 0), inner_frame())))},
        {"ipv6_in_ipv4_tcp", outer_ipv4(kProtoIpv6, ipv6(kProtoTcp, tcp(1, 2, payload_of(3))))},
    };
}

TEST(DecodeRobustness, ValidFramesDecode) {
    for (const NamedFrame &nf : valid_frames()) {
        DecodedPacket p;
        ASSERT_EQ(decode(nf.frame, p), DecodeResult::ok) << nf.name;
        expect_sane(p, nf.frame.size());
        // No padding in these frames: the payload ends exactly at the end.
        EXPECT_EQ(size_t{p.payload_offset} + p.payload_len, nf.frame.size()) << nf.name;
    }
}

TEST(DecodeRobustness, EveryTruncationIsRejected) {
    for (const NamedFrame &nf : valid_frames()) {
        for (size_t n = 0; n < nf.frame.size(); ++n) {
            // Exactly n bytes on the heap: an overread is an ASan error.
            std::vector<uint8_t> prefix(nf.frame.begin(), nf.frame.begin() + static_cast<long>(n));
            DecodedPacket p;
            const DecodeResult r = decode_packet(prefix.data(), static_cast<uint32_t>(n), p);
            EXPECT_NE(r, DecodeResult::ok) << nf.name << " truncated to " << n;
            EXPECT_LT(static_cast<int>(r), static_cast<int>(DecodeResult::count_));
        }
    }
}

TEST(DecodeRobustness, TruncationResultNamesTheLayer) {
    // Untagged IPv4: cut in the Ethernet header, in the IP header, or after it
    // (then the total length no longer fits).
    const Bytes v4 = ipv4_tcp_frame();
    for (size_t n = 0; n < v4.size(); ++n) {
        const DecodeResult want = n < 14   ? DecodeResult::eth_truncated
                                  : n < 34 ? DecodeResult::ipv4_truncated
                                           : DecodeResult::ipv4_bad_total_length;
        EXPECT_EQ(decode(Bytes(v4.begin(), v4.begin() + static_cast<long>(n))), want) << n;
    }
    const Bytes v6 = ipv6_tcp_with_ext_chain_frame();
    for (size_t n = 0; n < v6.size(); ++n) {
        const DecodeResult want = n < 14   ? DecodeResult::eth_truncated
                                  : n < 54 ? DecodeResult::ipv6_truncated
                                           : DecodeResult::ipv6_bad_payload_length;
        EXPECT_EQ(decode(Bytes(v6.begin(), v6.begin() + static_cast<long>(n))), want) << n;
    }
    const Bytes qinq = ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {})), {{kTpid8021ad, 1}, {kTpid8021q, 2}});
    for (size_t n = 14; n < 22; ++n)
        EXPECT_EQ(decode(Bytes(qinq.begin(), qinq.begin() + static_cast<long>(n))), DecodeResult::vlan_truncated) << n;
}

TEST(DecodeRobustness, UnalignedFrameDecodesTheSame) {
    // Frames at odd addresses: multi-byte fields must be loaded byte-wise
    // (UBSan's alignment check runs in the sanitizer build).
    for (const NamedFrame &nf : valid_frames()) {
        // Zero-initialised: decode leaves the tunnel part of a plain packet untouched.
        DecodedPacket aligned{};
        ASSERT_EQ(decode(nf.frame, aligned), DecodeResult::ok);
        for (size_t shift = 1; shift < 8; ++shift) {
            std::vector<uint8_t> buf(shift);
            append(buf, nf.frame);
            DecodedPacket p{};
            ASSERT_EQ(decode_packet(buf.data() + shift, static_cast<uint32_t>(nf.frame.size()), p), DecodeResult::ok);
            EXPECT_EQ(std::memcmp(&p, &aligned, sizeof p), 0) << nf.name << " shift " << shift;
        }
    }
}

TEST(DecodeRobustness, RandomMutationsNeverBreakInvariants) {
    std::mt19937 rng(20240601);
    const std::vector<NamedFrame> frames = valid_frames();
    int ok = 0;
    for (int iter = 0; iter < 20000; ++iter) {
        Bytes f = frames[static_cast<size_t>(iter) % frames.size()].frame;
        const int flips = 1 + static_cast<int>(rng() % 4);
        for (int i = 0; i < flips; ++i)
            f[rng() % f.size()] = static_cast<uint8_t>(rng());
        if (rng() % 3 == 0)
            f.resize(rng() % (f.size() + 1));
        DecodedPacket p;
        const DecodeResult r = decode(f, p);
        ASSERT_LT(static_cast<int>(r), static_cast<int>(DecodeResult::count_));
        if (r == DecodeResult::ok) {
            ++ok;
            expect_sane(p, f.size());
        }
    }
    EXPECT_GT(ok, 0);  // the mutations are not all fatal, so the ok path is exercised
}

TEST(DecodeRobustness, LargestSingleSegmentFrame) {
    // 65535 bytes: the largest frame one mbuf segment can hold. Every 16-bit
    // field of the result must still be exact.
    const size_t udp_payload = 65535 - 14 - 40 - 8;
    const Bytes f = ethernet(kEthIpv6, ipv6(kProtoUdp, udp(1, 2, Bytes(udp_payload, 0x55))));
    ASSERT_EQ(f.size(), 65535u);
    DecodedPacket p;
    ASSERT_EQ(decode(f, p), DecodeResult::ok);
    EXPECT_EQ(p.ip_len, 65535 - 14);
    EXPECT_EQ(p.payload_offset, 62);
    EXPECT_EQ(p.payload_len, udp_payload);
}

TEST(DecodeRobustness, BytesBeyond65535AreNotLookedAt) {
    // An IPv6 datagram whose end lies past byte 65535 of the frame could not
    // be described by 16-bit offsets; the decoder treats the frame as ending
    // there, so the payload length no longer fits.
    const size_t udp_payload = 65535 - 8;  // payload length field 65535
    const Bytes f = ethernet(kEthIpv6, ipv6(kProtoUdp, udp(1, 2, Bytes(udp_payload - 8, 0x55)) + Bytes(8, 0)));
    ASSERT_EQ(f.size(), 14u + 40 + 65535);
    EXPECT_EQ(decode(f), DecodeResult::ipv6_bad_payload_length);

    // IPv4 cannot exceed 65535 bytes, so a huge frame is just a lot of padding.
    Bytes v4 = ipv4_tcp_frame();
    v4.resize(70000, 0);
    DecodedPacket p;
    ASSERT_EQ(decode(v4, p), DecodeResult::ok);
    EXPECT_EQ(p.payload_len, 10);
}

// ---------------------------------------------------------------- the inline path

// The fields before `layers` are compared as bytes: no padding among them.
static_assert(offsetof(DecodedPacket, layers) == 2 * 16 + 2 * 2 + 2 * kMaxVlanTags + 4 + 2 * 2 + 2 * 4 + 2 * 2 + 2,
              "DecodedPacket has padding before `layers`");

// What decode_common_tcp says of `f`, checked against the general decoder:
// the same packet field for field, or (false) the general decoder's frame.
bool common_path_agrees(const Bytes &f, bool &taken) {
    Bytes exact(f);
    DecodedPacket fast, general;
    std::memset(&fast, 0xA5, sizeof fast);  // every field must be written
    std::memset(&general, 0x5A, sizeof general);
    const uint32_t len = static_cast<uint32_t>(exact.size());
    taken = decode_common_tcp(exact.data(), len, fast);
    const DecodeResult r = decode_packet_general(exact.data(), len, general, kDefaultDecodeOptions);
    if (!taken)
        return true;
    return r == DecodeResult::ok && std::memcmp(&fast, &general, offsetof(DecodedPacket, layers)) == 0;
}

TEST(DecodeCommonPath, TakesThePlainTcpFramesAndAgreesWithTheGeneralDecoder) {
    TcpOpts with_options;
    with_options.options = Bytes{2, 4, 5, 0xb4, 1, 1, 4, 2};  // MSS, NOP, NOP, SACK permitted
    Ipv4Opts ip_options;
    ip_options.options = Bytes{1, 1, 1, 0};  // NOPs, end of list
    const Bytes plain[] = {
        ipv4_tcp_frame(),
        ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {}, with_options))),
        ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, payload_of(3)), ip_options)),
        ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(40000, 23, payload_of(7))), {{kTpid8021q, 0xE123}}),
        ethernet(kEthIpv6, ipv6(kProtoTcp, tcp(40000, 23, payload_of(5)))),
        ethernet(kEthIpv6, ipv6(kProtoTcp, tcp(40000, 23, {}, with_options)), {{kTpid8021q, 7}}),
        ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(1, 2, {}))) + Bytes(6, 0),  // Ethernet padding
    };
    for (const Bytes &f : plain) {
        bool taken = false;
        EXPECT_TRUE(common_path_agrees(f, taken));
        EXPECT_TRUE(taken) << "size " << f.size();
    }
}

TEST(DecodeCommonPath, EverySingleByteChangeOfItsHeadersDecodesAsTheGeneralDecoderSays) {
    // Each header byte of each plain frame set to values at and around the
    // bounds the inline path checks: it takes the frame or leaves it, and
    // never says anything the general decoder does not.
    const Bytes bases[] = {
        ipv4_tcp_frame(),
        ethernet(kEthIpv4, ipv4(kProtoTcp, tcp(40000, 23, payload_of(7))), {{kTpid8021q, 0x0123}}),
        ethernet(kEthIpv6, ipv6(kProtoTcp, tcp(40000, 23, payload_of(5)))),
    };
    const uint8_t values[] = {0x00, 0x01, 0x04, 0x05, 0x06, 0x0f, 0x11, 0x14, 0x20, 0x28, 0x2c, 0x3a,
                              0x40, 0x45, 0x46, 0x4f, 0x50, 0x60, 0x81, 0x86, 0x88, 0xa0, 0xdd, 0xf0, 0xff};
    size_t taken_count = 0, left_count = 0;
    for (const Bytes &base : bases) {
        for (size_t at = 12; at < base.size() - 10 && at < 80; ++at) {
            for (uint8_t v : values) {
                Bytes f = base;
                f[at] = v;
                for (size_t cut : {f.size(), f.size() - 1, size_t{54}, size_t{53}}) {
                    Bytes g(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(std::min(cut, f.size())));
                    bool taken = false;
                    ASSERT_TRUE(common_path_agrees(g, taken)) << "byte " << at << " = " << int(v) << ", " << g.size();
                    (taken ? taken_count : left_count) += 1;
                }
            }
        }
    }
    // Both ways out of the inline path are exercised.
    EXPECT_GT(taken_count, 1000u);
    EXPECT_GT(left_count, 1000u);
}

}  // namespace
}  // namespace flowsentry
