// Flow key: the canonical, direction-independent identity of a flow.
#include "flowsentry/flow_key.hpp"

namespace flowsentry {

uint32_t flow_spread_hash(const DecodedPacket &pkt) {
    uint64_t w[6];
    bool sender_is_lo;
    flow_key_words(pkt, w, sender_is_lo);
    // Two endpoints with the same address differ only by port; with ports
    // (port_lo, port_hi: the low half of word 4) gone they are one,
    // whichever order flow_key_words chose.
    w[4] &= ~uint64_t{0xffffffff};
    return flow_key_words_hash(w, 0);
}

}  // namespace flowsentry
