// Flow key: the canonical, direction-independent identity of a flow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <rte_hash_crc.h>

#include "flowsentry/decode.hpp"

namespace flowsentry {

// Both directions of a connection map to the same key: the (address, port)
// pair that compares lower is stored first. VLAN tags (of the last Ethernet
// header before the inner IP) and the tenant's tunnel identifier are part of
// the identity, so the same addresses on two VLANs, two VXLAN VNIs or two GRE
// keys are two flows. Other tunnel layers (MPLS labels, ERSPAN sessions, outer
// addresses) are not: they may differ by direction.
struct alignas(8) FlowKey {  // read and hashed as six 64-bit words
    uint8_t addr_lo[16];
    uint8_t addr_hi[16];
    uint16_t port_lo;
    uint16_t port_hi;
    uint16_t vlan[kMaxVlanTags];
    uint32_t tunnel_id;      // VXLAN/Geneve VNI or GRE key; 0: none
    uint8_t l4_proto;
    uint8_t ip_version;
    TunnelType tunnel_type;  // the layer tunnel_id belongs to (TunnelContext::tenant)
    uint8_t pad;
};
static_assert(sizeof(FlowKey) == 48, "FlowKey is hashed as raw bytes: no implicit padding");

// Keys are compared as six words (8-byte aligned, no padding), not through
// a memcmp call.
inline bool same_flow_key(const FlowKey &a, const FlowKey &b)
{
    const auto *pa = reinterpret_cast<const unsigned char *>(&a);
    const auto *pb = reinterpret_cast<const unsigned char *>(&b);
    uint64_t diff = 0;
    for (size_t i = 0; i < sizeof(FlowKey); i += 8) {
        uint64_t x, y;
        std::memcpy(&x, pa + i, 8);
        std::memcpy(&y, pb + i, 8);
        diff |= x ^ y;
    }
    return diff == 0;
}

// The key as six 64-bit words, as they lie in memory: the addresses, then
// ports and VLAN tags, then the tunnel id, protocol, IP version and tunnel type.
static_assert(offsetof(FlowKey, port_lo) == 32 && offsetof(FlowKey, port_hi) == 34 &&
                  offsetof(FlowKey, vlan) == 36 && offsetof(FlowKey, tunnel_id) == 40 &&
                  offsetof(FlowKey, l4_proto) == 44 && offsetof(FlowKey, ip_version) == 45 &&
                  offsetof(FlowKey, tunnel_type) == 46,
              "flow_key_words packs FlowKey's fields into words by these offsets");
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "flow_key_words packs little-endian words");

// Symmetric hash of a key's words (the same for both directions by
// construction): two CRC32-C chains, over words 0, 1, 4 and 2, 3, 5, run
// side by side; the second is rotated by 16 bits before they are combined.
inline uint32_t flow_key_words_hash(const uint64_t w[6], uint32_t seed)
{
    uint32_t a = rte_hash_crc_8byte(w[0], seed);
    uint32_t b = rte_hash_crc_8byte(w[2], seed);
    a = rte_hash_crc_8byte(w[1], a);
    b = rte_hash_crc_8byte(w[3], b);
    a = rte_hash_crc_8byte(w[4], a);
    b = rte_hash_crc_8byte(w[5], b);
    return a ^ (b << 16 | b >> 16);
}

inline uint32_t flow_key_hash(const FlowKey &key, uint32_t seed = 0)
{
    uint64_t w[6];
    std::memcpy(w, &key, sizeof w);
    return flow_key_words_hash(w, seed);
}

// The key of `pkt` as its six words, made in registers; `sender_is_lo`
// tells which side of the key sent it.
inline void flow_key_words(const DecodedPacket &pkt, uint64_t w[6], bool &sender_is_lo)
{
    uint64_t src[2], dst[2];
    std::memcpy(src, pkt.src_addr, sizeof src);
    std::memcpy(dst, pkt.dst_addr, sizeof dst);
    // Order the two endpoints by (address bytes, port): the same rule for
    // both directions puts the same endpoint first, whichever of them sent
    // this packet. A packet to itself (same address and port) counts as
    // sent by lo. Addresses compare as big-endian words: memcmp's order.
    const uint64_t s0 = __builtin_bswap64(src[0]), d0 = __builtin_bswap64(dst[0]);
    const uint64_t s1 = __builtin_bswap64(src[1]), d1 = __builtin_bswap64(dst[1]);
    const bool lo = s0 != d0 ? s0 < d0 : s1 != d1 ? s1 < d1 : pkt.src_port <= pkt.dst_port;
    sender_is_lo = lo;

    // Only the tags the packet has: entries past vlan_count are not part of
    // its identity even if the caller left something in them.
    const uint64_t vlan0 = pkt.vlan_count > 0 ? pkt.vlan[0] : 0;
    const uint64_t vlan1 = pkt.vlan_count > 1 ? pkt.vlan[1] : 0;
    const bool tunnelled = pkt.tunnel_layers != 0;
    const uint64_t tunnel_id = tunnelled ? pkt.tunnel.id : 0;
    const uint64_t tunnel_type = tunnelled ? static_cast<uint64_t>(pkt.tunnel.tenant) : 0;
    const uint64_t port_lo = lo ? pkt.src_port : pkt.dst_port;
    const uint64_t port_hi = lo ? pkt.dst_port : pkt.src_port;

    w[0] = lo ? src[0] : dst[0];
    w[1] = lo ? src[1] : dst[1];
    w[2] = lo ? dst[0] : src[0];
    w[3] = lo ? dst[1] : src[1];
    w[4] = port_lo | port_hi << 16 | vlan0 << 32 | vlan1 << 48;
    w[5] = tunnel_id | uint64_t{pkt.l4_proto} << 32 | uint64_t{pkt.ip_version} << 40 | tunnel_type << 48;
}

// Builds the key of `pkt` and returns its flow_key_hash; `sender_is_lo`
// tells which side of the key sent it. The key is stored once as whole
// words and hashed from the registers: never read back from narrower
// stores just made (a store-forwarding stall per word).
inline uint32_t make_flow_key(const DecodedPacket &pkt, FlowKey &key, bool &sender_is_lo)
{
    uint64_t w[6];
    flow_key_words(pkt, w, sender_is_lo);
    std::memcpy(&key, w, sizeof w);
    return flow_key_words_hash(w, 0);
}

// Symmetric hash of the key without ports: the same for both directions of a
// flow and for every fragment of its datagrams (which have no ports), so
// spreading by it keeps a flow and its fragments on one worker.
uint32_t flow_spread_hash(const DecodedPacket &pkt);

}  // namespace flowsentry
