// Flow key: the canonical, direction-independent identity of a flow.
#include "flowsentry/flow_key.hpp"

#include <cstring>

#include <rte_hash_crc.h>

#include "flowsentry/byte_order.hpp"

namespace flowsentry {

namespace {

// memcmp's order of two 16-byte addresses, as two big-endian words: inline,
// where a memcmp call was a tenth of a SYN flood's worker time.
int compare_addresses(const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < 16; i += 8) {
        const uint64_t x = load_be64(a + i), y = load_be64(b + i);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

}  // namespace

void make_flow_key(const DecodedPacket &pkt, FlowKey &key, bool &sender_is_lo) {
    // The key is hashed and compared as 48 raw bytes, so padding must be
    // zero, not whatever the caller's memory held.
    std::memset(&key, 0, sizeof key);

    // Order the two endpoints by (address bytes, port): the same rule for both
    // directions puts the same endpoint first, whichever of them sent this
    // packet. A packet to itself (same address and port) counts as sent by lo.
    const int by_addr = compare_addresses(pkt.src_addr, pkt.dst_addr);
    sender_is_lo = by_addr < 0 || (by_addr == 0 && pkt.src_port <= pkt.dst_port);

    if (sender_is_lo) {
        std::memcpy(key.addr_lo, pkt.src_addr, sizeof key.addr_lo);
        std::memcpy(key.addr_hi, pkt.dst_addr, sizeof key.addr_hi);
        key.port_lo = pkt.src_port;
        key.port_hi = pkt.dst_port;
    } else {
        std::memcpy(key.addr_lo, pkt.dst_addr, sizeof key.addr_lo);
        std::memcpy(key.addr_hi, pkt.src_addr, sizeof key.addr_hi);
        key.port_lo = pkt.dst_port;
        key.port_hi = pkt.src_port;
    }

    // Copy only the tags the packet has: entries past vlan_count are not part
    // of its identity even if the caller left something in them.
    for (unsigned i = 0; i < pkt.vlan_count && i < kMaxVlanTags; ++i)
        key.vlan[i] = pkt.vlan[i];
    if (pkt.tunnel_layers != 0) {
        key.tunnel_id = pkt.tunnel.id;
        key.tunnel_type = pkt.tunnel.tenant;
    }
    key.l4_proto = pkt.l4_proto;
    key.ip_version = pkt.ip_version;
}

uint32_t flow_key_hash(const FlowKey &key, uint32_t seed) {
    // FlowKey is 8-byte aligned, as rte_hash_crc's 8-byte reads need.
    return rte_hash_crc(&key, sizeof key, seed);
}

uint32_t flow_spread_hash(const DecodedPacket &pkt) {
    FlowKey key;
    bool sender_is_lo;
    make_flow_key(pkt, key, sender_is_lo);
    // Two endpoints with the same address differ only by port; with ports
    // gone they are one, whichever order make_flow_key chose.
    key.port_lo = 0;
    key.port_hi = 0;
    return flow_key_hash(key);
}

}  // namespace flowsentry
