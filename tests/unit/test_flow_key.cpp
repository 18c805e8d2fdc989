// Unit tests for make_flow_key() and flow_key_hash().
#include "flowsentry/flow_key.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <new>
#include <set>
#include <utility>

namespace flowsentry {
namespace {

constexpr uint8_t kTcp = 6;
constexpr uint8_t kUdp = 17;

DecodedPacket v4_packet(std::initializer_list<uint8_t> src, uint16_t sport, std::initializer_list<uint8_t> dst,
                        uint16_t dport, uint8_t proto = kTcp) {
    DecodedPacket p{};
    std::memcpy(p.src_addr, src.begin(), 4);
    std::memcpy(p.dst_addr, dst.begin(), 4);
    p.src_port = sport;
    p.dst_port = dport;
    p.ip_version = 4;
    p.l4_proto = proto;
    return p;
}

DecodedPacket v6_packet(uint8_t src_last, uint16_t sport, uint8_t dst_last, uint16_t dport) {
    DecodedPacket p{};
    const uint8_t prefix[4] = {0x20, 0x01, 0x0d, 0xb8};
    std::memcpy(p.src_addr, prefix, 4);
    std::memcpy(p.dst_addr, prefix, 4);
    p.src_addr[15] = src_last;
    p.dst_addr[15] = dst_last;
    p.src_port = sport;
    p.dst_port = dport;
    p.ip_version = 6;
    p.l4_proto = kTcp;
    return p;
}

// The same packet travelling the other way.
DecodedPacket reversed(const DecodedPacket &p) {
    DecodedPacket r = p;
    std::memcpy(r.src_addr, p.dst_addr, 16);
    std::memcpy(r.dst_addr, p.src_addr, 16);
    r.src_port = p.dst_port;
    r.dst_port = p.src_port;
    return r;
}

FlowKey key_of(const DecodedPacket &p, bool *sender_is_lo = nullptr) {
    FlowKey k;
    std::memset(&k, 0xCD, sizeof k);  // garbage that make_flow_key must overwrite
    bool lo = false;
    make_flow_key(p, k, lo);
    if (sender_is_lo)
        *sender_is_lo = lo;
    return k;
}

bool same_bytes(const FlowKey &a, const FlowKey &b) { return std::memcmp(&a, &b, sizeof(FlowKey)) == 0; }

// Bit-by-bit CRC32-C (Castagnoli, reflected, no final inversion): what
// rte_hash_crc computes, written independently of DPDK.
uint32_t reference_crc32c(const void *data, size_t len, uint32_t crc) {
    const auto *p = static_cast<const uint8_t *>(data);
    for (size_t i = 0; i < len; ++i) {
        crc ^= p[i];
        for (int b = 0; b < 8; ++b)
            crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
    return crc;
}

TEST(FlowKey, BothDirectionsGiveTheSameKeyAndHash) {
    const DecodedPacket pairs[] = {
        v4_packet({192, 0, 2, 1}, 40000, {198, 51, 100, 7}, 23),
        v4_packet({198, 51, 100, 7}, 23, {192, 0, 2, 1}, 40000),
        v4_packet({10, 0, 0, 1}, 53, {10, 0, 0, 2}, 53, kUdp),
        v6_packet(1, 51000, 2, 23),
        v6_packet(9, 1, 3, 65535),
    };
    for (const DecodedPacket &p : pairs) {
        bool fwd_lo = false, rev_lo = false;
        const FlowKey fwd = key_of(p, &fwd_lo);
        const FlowKey rev = key_of(reversed(p), &rev_lo);
        EXPECT_TRUE(same_bytes(fwd, rev));
        EXPECT_NE(fwd_lo, rev_lo);
        EXPECT_EQ(flow_key_hash(fwd), flow_key_hash(rev));
        EXPECT_EQ(flow_key_hash(fwd, 0xdeadbeef), flow_key_hash(rev, 0xdeadbeef));
    }
}

TEST(FlowKey, LowerAddressGoesFirst) {
    const DecodedPacket p = v4_packet({198, 51, 100, 7}, 23, {192, 0, 2, 1}, 40000);
    bool lo = true;
    const FlowKey k = key_of(p, &lo);
    EXPECT_FALSE(lo);  // 198.51.100.7 > 192.0.2.1, so the sender is the hi side
    const uint8_t want_lo[16] = {192, 0, 2, 1};
    const uint8_t want_hi[16] = {198, 51, 100, 7};
    EXPECT_EQ(std::memcmp(k.addr_lo, want_lo, 16), 0);
    EXPECT_EQ(std::memcmp(k.addr_hi, want_hi, 16), 0);
    // Ports travel with their address, they are not sorted on their own.
    EXPECT_EQ(k.port_lo, 40000);
    EXPECT_EQ(k.port_hi, 23);
    EXPECT_EQ(k.ip_version, 4);
    EXPECT_EQ(k.l4_proto, kTcp);

    const FlowKey r = key_of(reversed(p), &lo);
    EXPECT_TRUE(lo);
    EXPECT_TRUE(same_bytes(k, r));
}

TEST(FlowKey, AddressesCompareAsBytesNotAsHostIntegers) {
    // 1.0.0.2 vs 2.0.0.1: byte order says 1.0.0.2 is lower; a little-endian
    // integer compare of the first 4 bytes would say the opposite.
    bool lo = false;
    const FlowKey k = key_of(v4_packet({1, 0, 0, 2}, 1, {2, 0, 0, 1}, 2), &lo);
    EXPECT_TRUE(lo);
    EXPECT_EQ(k.addr_lo[0], 1);
    // The last byte of an IPv6 address matters only when the rest is equal.
    const FlowKey k6 = key_of(v6_packet(0xff, 1, 0x01, 2), &lo);
    EXPECT_FALSE(lo);
    EXPECT_EQ(k6.addr_lo[15], 0x01);
}

TEST(FlowKey, EqualAddressesAreOrderedByPort) {
    const DecodedPacket p = v4_packet({127, 0, 0, 1}, 5000, {127, 0, 0, 1}, 23);
    bool lo = true;
    const FlowKey k = key_of(p, &lo);
    EXPECT_FALSE(lo);
    EXPECT_EQ(k.port_lo, 23);
    EXPECT_EQ(k.port_hi, 5000);
    bool rlo = false;
    const FlowKey r = key_of(reversed(p), &rlo);
    EXPECT_TRUE(rlo);
    EXPECT_TRUE(same_bytes(k, r));
    // Ports compare as numbers: 256 > 1 even though its low byte is 0.
    const FlowKey k2 = key_of(v4_packet({127, 0, 0, 1}, 256, {127, 0, 0, 1}, 1), &lo);
    EXPECT_FALSE(lo);
    EXPECT_EQ(k2.port_lo, 1);
}

TEST(FlowKey, PacketToItselfIsSentByLo) {
    const DecodedPacket p = v4_packet({10, 1, 1, 1}, 7, {10, 1, 1, 1}, 7);
    bool lo = false;
    const FlowKey k = key_of(p, &lo);
    EXPECT_TRUE(lo);
    EXPECT_EQ(k.port_lo, 7);
    EXPECT_EQ(k.port_hi, 7);
}

TEST(FlowKey, ReservedBytesAreZero) {
    DecodedPacket p = v6_packet(1, 2, 3, 4);
    p.vlan_count = 1;
    p.vlan[0] = 100;
    const FlowKey k = key_of(p);  // key_of pre-fills the key with 0xCD
    EXPECT_EQ(k.tunnel_id, 0u);
    EXPECT_EQ(k.tunnel_type, TunnelType::none);
    EXPECT_EQ(k.pad, 0);
    EXPECT_EQ(k.vlan[0], 100);
    EXPECT_EQ(k.vlan[1], 0);
    // IPv4 keys keep the zero tail of the address bytes.
    const FlowKey k4 = key_of(v4_packet({1, 2, 3, 4}, 1, {5, 6, 7, 8}, 2));
    for (int i = 4; i < 16; ++i) {
        EXPECT_EQ(k4.addr_lo[i], 0);
        EXPECT_EQ(k4.addr_hi[i], 0);
    }
}

TEST(FlowKey, GarbageInTheCallersKeyDoesNotMatter) {
    const DecodedPacket p = v4_packet({192, 0, 2, 1}, 40000, {198, 51, 100, 7}, 23);
    FlowKey a, b;
    std::memset(&a, 0x00, sizeof a);
    std::memset(&b, 0xFF, sizeof b);
    bool lo = false;
    make_flow_key(p, a, lo);
    make_flow_key(p, b, lo);
    EXPECT_TRUE(same_bytes(a, b));
    EXPECT_EQ(flow_key_hash(a), flow_key_hash(b));
}

TEST(FlowKey, VlanTagsOutsideTheCountAreIgnored) {
    DecodedPacket p = v4_packet({192, 0, 2, 1}, 1, {192, 0, 2, 2}, 2);
    p.vlan_count = 1;
    p.vlan[0] = 10;
    p.vlan[1] = 0;
    DecodedPacket stale = p;
    stale.vlan[1] = 999;  // left over; vlan_count says it is not there
    EXPECT_TRUE(same_bytes(key_of(p), key_of(stale)));
}

TEST(FlowKey, VlanDistinguishesFlows) {
    DecodedPacket untagged = v4_packet({192, 0, 2, 1}, 40000, {198, 51, 100, 7}, 23);
    DecodedPacket vlan10 = untagged;
    vlan10.vlan_count = 1;
    vlan10.vlan[0] = 10;
    DecodedPacket vlan20 = vlan10;
    vlan20.vlan[0] = 20;
    DecodedPacket qinq = vlan10;
    qinq.vlan_count = 2;
    qinq.vlan[1] = 20;
    DecodedPacket qinq_swapped = qinq;
    std::swap(qinq_swapped.vlan[0], qinq_swapped.vlan[1]);

    const FlowKey keys[] = {key_of(untagged), key_of(vlan10), key_of(vlan20), key_of(qinq), key_of(qinq_swapped)};
    for (size_t i = 0; i < 5; ++i)
        for (size_t j = i + 1; j < 5; ++j) {
            EXPECT_FALSE(same_bytes(keys[i], keys[j])) << i << " vs " << j;
            EXPECT_NE(flow_key_hash(keys[i]), flow_key_hash(keys[j])) << i << " vs " << j;
        }
    // Tags are kept in the key, outermost first, for both directions.
    const FlowKey rq = key_of(reversed(qinq));
    EXPECT_EQ(rq.vlan[0], 10);
    EXPECT_EQ(rq.vlan[1], 20);
    EXPECT_TRUE(same_bytes(rq, keys[3]));
}

DecodedPacket tunnelled(const DecodedPacket &inner, TunnelType type, TunnelType tenant, uint32_t id) {
    DecodedPacket p = inner;
    p.tunnel_layers = 1;
    p.layers[0] = type;
    p.tunnel = TunnelContext{};
    p.tunnel.type = type;
    p.tunnel.tenant = tenant;
    p.tunnel.id = id;
    return p;
}

TEST(FlowKey, TenantIdentifierDistinguishesFlows) {
    const DecodedPacket inner = v4_packet({10, 0, 0, 1}, 40000, {10, 0, 0, 2}, 23);
    const DecodedPacket vni5 = tunnelled(inner, TunnelType::vxlan, TunnelType::vxlan, 5);
    const DecodedPacket vni6 = tunnelled(inner, TunnelType::vxlan, TunnelType::vxlan, 6);
    const DecodedPacket key5 = tunnelled(inner, TunnelType::gre, TunnelType::gre, 5);
    const DecodedPacket geneve5 = tunnelled(inner, TunnelType::geneve, TunnelType::geneve, 5);
    const FlowKey keys[] = {key_of(inner), key_of(vni5), key_of(vni6), key_of(key5), key_of(geneve5)};
    for (size_t i = 0; i < 5; ++i)
        for (size_t j = i + 1; j < 5; ++j)
            EXPECT_FALSE(same_bytes(keys[i], keys[j])) << i << " vs " << j;
    EXPECT_EQ(keys[1].tunnel_id, 5u);
    EXPECT_EQ(keys[1].tunnel_type, TunnelType::vxlan);
    EXPECT_EQ(keys[3].tunnel_type, TunnelType::gre);
    // Both directions of a tenant's flow: one key.
    EXPECT_TRUE(same_bytes(key_of(vni5), key_of(reversed(vni5))));
}

TEST(FlowKey, TunnelsWithoutTenantDoNotSplitFlows) {
    // MPLS or ERSPAN (no VNI, no key) in one direction and nothing or another
    // mirror session in the other: one flow.
    const DecodedPacket inner = v4_packet({10, 0, 0, 1}, 40000, {10, 0, 0, 2}, 23);
    DecodedPacket mirrored = tunnelled(inner, TunnelType::erspan2, TunnelType::none, 0);
    mirrored.tunnel.erspan_session = 7;
    EXPECT_TRUE(same_bytes(key_of(inner), key_of(tunnelled(reversed(inner), TunnelType::mpls, TunnelType::none, 0))));
    EXPECT_TRUE(same_bytes(key_of(inner), key_of(mirrored)));
    // A stale tunnel context without tunnel layers is not looked at.
    DecodedPacket stale = tunnelled(inner, TunnelType::vxlan, TunnelType::vxlan, 9);
    stale.tunnel_layers = 0;
    EXPECT_TRUE(same_bytes(key_of(inner), key_of(stale)));
}

TEST(FlowSpreadHash, IgnoresPortsAndDirectionKeepsTenant) {
    const DecodedPacket a = v4_packet({10, 0, 0, 1}, 40000, {10, 0, 0, 2}, 23);
    DecodedPacket fragment = a;  // a later fragment: no ports
    fragment.src_port = fragment.dst_port = 0;
    EXPECT_EQ(flow_spread_hash(a), flow_spread_hash(reversed(a)));
    EXPECT_EQ(flow_spread_hash(a), flow_spread_hash(fragment));
    EXPECT_EQ(flow_spread_hash(a), flow_spread_hash(reversed(fragment)));
    // Same address both ways, ports the only difference.
    const DecodedPacket self = v4_packet({10, 0, 0, 1}, 5, {10, 0, 0, 1}, 9);
    EXPECT_EQ(flow_spread_hash(self), flow_spread_hash(reversed(self)));
    EXPECT_NE(flow_spread_hash(a), flow_spread_hash(tunnelled(a, TunnelType::vxlan, TunnelType::vxlan, 1)));
    EXPECT_NE(flow_spread_hash(a), flow_spread_hash(v4_packet({10, 0, 0, 1}, 40000, {10, 0, 0, 3}, 23)));
}

TEST(FlowKey, IpVersionAndProtocolDistinguishFlows) {
    // Same 16 address bytes, one labelled IPv4 and one IPv6: different flows.
    const DecodedPacket v4 = v4_packet({192, 0, 2, 1}, 1, {192, 0, 2, 2}, 2);
    DecodedPacket v6_same_bytes = v4;
    v6_same_bytes.ip_version = 6;
    DecodedPacket udp = v4;
    udp.l4_proto = kUdp;
    const FlowKey a = key_of(v4), b = key_of(v6_same_bytes), c = key_of(udp);
    EXPECT_FALSE(same_bytes(a, b));
    EXPECT_FALSE(same_bytes(a, c));
    EXPECT_EQ(a.ip_version, 4);
    EXPECT_EQ(b.ip_version, 6);
    EXPECT_EQ(c.l4_proto, kUdp);
    EXPECT_NE(flow_key_hash(a), flow_key_hash(b));
    EXPECT_NE(flow_key_hash(a), flow_key_hash(c));
}

TEST(FlowKey, Ipv4AndIpv6KeysDiffer) {
    bool lo = false;
    const FlowKey k4 = key_of(v4_packet({192, 0, 2, 1}, 40000, {198, 51, 100, 7}, 23), &lo);
    EXPECT_TRUE(lo);
    const FlowKey k6 = key_of(v6_packet(1, 40000, 7, 23), &lo);
    EXPECT_TRUE(lo);
    EXPECT_FALSE(same_bytes(k4, k6));
    EXPECT_EQ(k6.ip_version, 6);
    EXPECT_EQ(k6.addr_lo[0], 0x20);
    EXPECT_EQ(k6.addr_lo[15], 1);
    EXPECT_EQ(k6.addr_hi[15], 7);
}

// The documented hash, from the key's bytes: CRC32-C over bytes 0-15 and
// 32-39 (lo address, ports, VLAN tags), CRC32-C over bytes 16-31 and 40-47
// (hi address, tunnel, protocol), the second rotated by 16 bits.
uint32_t reference_key_hash(const FlowKey &k, uint32_t seed) {
    const auto *b = reinterpret_cast<const uint8_t *>(&k);
    const uint32_t a = reference_crc32c(b + 32, 8, reference_crc32c(b, 16, seed));
    const uint32_t c = reference_crc32c(b + 40, 8, reference_crc32c(b + 16, 16, seed));
    return a ^ (c << 16 | c >> 16);
}

TEST(FlowKeyHash, IsTwoCrc32cChainsOfTheKeyWithTheSeed) {
    const FlowKey k = key_of(v6_packet(1, 40000, 7, 23));
    for (uint32_t seed : {0u, 1u, 0xdeadbeefu, 0xffffffffu})
        EXPECT_EQ(flow_key_hash(k, seed), reference_key_hash(k, seed)) << seed;
    // Known answer: CRC32-C register over zero bytes from seed 0 is 0.
    FlowKey zero;
    std::memset(&zero, 0, sizeof zero);
    EXPECT_EQ(flow_key_hash(zero, 0), 0u);
    EXPECT_EQ(flow_key_hash(zero, 0xffffffffu), reference_key_hash(zero, 0xffffffffu));
}

TEST(FlowKeyHash, SeedChangesTheHash) {
    const FlowKey k = key_of(v4_packet({192, 0, 2, 1}, 40000, {198, 51, 100, 7}, 23));
    EXPECT_NE(flow_key_hash(k, 0), flow_key_hash(k, 1));
    EXPECT_EQ(flow_key_hash(k), flow_key_hash(k, 0));  // default seed is 0
}

TEST(FlowKeyHash, MakeFlowKeyReturnsTheHashOfTheKeyItBuilt) {
    // make_flow_key hashes the words it built in registers; flow_key_hash
    // (the flow table's, on removal) hashes them as stored.
    DecodedPacket tagged = v4_packet({192, 0, 2, 1}, 40000, {198, 51, 100, 7}, 23);
    tagged.vlan_count = 2;
    tagged.vlan[0] = 100;
    tagged.vlan[1] = 4094;
    DecodedPacket tunnelled = v6_packet(1, 40000, 7, 23);
    tunnelled.tunnel_layers = 1;
    tunnelled.tunnel.id = 0xabcdef;
    tunnelled.tunnel.tenant = TunnelType::vxlan;
    for (const DecodedPacket &p : {v4_packet({192, 0, 2, 1}, 40000, {198, 51, 100, 7}, 23),
                                   v4_packet({198, 51, 100, 7}, 23, {192, 0, 2, 1}, 40000), tagged, tunnelled,
                                   v6_packet(7, 23, 1, 40000)}) {
        FlowKey k;
        bool lo;
        const uint32_t hash = make_flow_key(p, k, lo);
        EXPECT_EQ(hash, flow_key_hash(k));
        EXPECT_EQ(hash, reference_key_hash(k, 0));
    }
}

TEST(FlowKeyHash, SpreadsDistinctFlows) {
    // Not a quality test, a sanity one: 4096 client ports to one server give
    // 4096 distinct hashes (CRC32 is a bijection on a changed 16-bit field).
    std::set<uint32_t> seen;
    for (uint32_t port = 1024; port < 1024 + 4096; ++port) {
        const FlowKey k = key_of(v4_packet({10, 0, 0, 1}, static_cast<uint16_t>(port), {10, 0, 0, 2}, 23));
        seen.insert(flow_key_hash(k));
    }
    EXPECT_EQ(seen.size(), 4096u);
}

}  // namespace
}  // namespace flowsentry
