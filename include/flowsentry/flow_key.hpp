// Flow key: the canonical, direction-independent identity of a flow.
#pragma once

#include <cstdint>
#include <cstring>

#include "flowsentry/decode.hpp"

namespace flowsentry {

// Both directions of a connection map to the same key: the (address, port)
// pair that compares lower is stored first. VLAN tags (of the last Ethernet
// header before the inner IP) and the tenant's tunnel identifier are part of
// the identity, so the same addresses on two VLANs, two VXLAN VNIs or two GRE
// keys are two flows. Other tunnel layers (MPLS labels, ERSPAN sessions, outer
// addresses) are not: they may differ by direction.
struct alignas(8) FlowKey {  // rte_hash_crc reads it 8 bytes at a time
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

// Builds the key of `pkt`; `sender_is_lo` tells which side of the key sent it.
void make_flow_key(const DecodedPacket &pkt, FlowKey &key, bool &sender_is_lo);

// Symmetric hash of the key (same value for both directions by construction).
uint32_t flow_key_hash(const FlowKey &key, uint32_t seed = 0);

// Symmetric hash of the key without ports: the same for both directions of a
// flow and for every fragment of its datagrams (which have no ports), so
// spreading by it keeps a flow and its fragments on one worker.
uint32_t flow_spread_hash(const DecodedPacket &pkt);

}  // namespace flowsentry
