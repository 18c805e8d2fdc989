// Flow key: the canonical, direction-independent identity of a flow.
#include "flowsentry/flow_key.hpp"

namespace flowsentry {

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
