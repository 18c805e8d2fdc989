// Records put back in packet-time order (see record_order.hpp).
#include "flowsentry/record_order.hpp"

#include <cstring>
#include <tuple>

namespace flowsentry {

bool RecordOrder::before(const EventRecord &a, const EventRecord &b)
{
    // Everything but the worker, the port and the tunnel's outer context:
    // two records of the same time are ordered by what they are about.
    const auto key = [](const EventRecord &r) {
        return std::make_tuple(r.time_ns, r.type, r.rule, r.signature_id, r.direction, r.stream_offset,
                               r.client_port, r.server_port, r.start_ns, r.attempt_phase, r.outcome, r.count,
                               r.end_reason);
    };
    if (key(a) != key(b))
        return key(a) < key(b);
    const int c = std::memcmp(a.client_addr, b.client_addr, sizeof a.client_addr);
    if (c != 0)
        return c < 0;
    return std::memcmp(a.server_addr, b.server_addr, sizeof a.server_addr) < 0;
}

}  // namespace flowsentry
