// Counters: names and a stable visiting order for stats output.
#include "flowsentry/counters.hpp"

namespace flowsentry {

void for_each_counter(const WorkerCounters &c,
                      const std::function<void(const char *group, const char *name, uint64_t value)> &fn)
{
#define FLOWSENTRY_VISIT(name) fn("worker", #name, c.name.get());
    FLOWSENTRY_WORKER_COUNTERS(FLOWSENTRY_VISIT)
#undef FLOWSENTRY_VISIT
    for (int i = 0; i < static_cast<int>(DecodeResult::count_); ++i)
        fn("decode", decode_result_name(static_cast<DecodeResult>(i)), c.decode[i].get());
    for (int i = 1; i < static_cast<int>(TunnelType::count_); ++i)
        fn("layer", tunnel_type_name(static_cast<TunnelType>(i)), c.layer[i].get());
    for (int i = 0; i < static_cast<int>(HandshakeOutcome::count_); ++i)
        fn("handshake", handshake_outcome_name(static_cast<HandshakeOutcome>(i)), c.handshake[i].get());
    for (int i = 0; i < static_cast<int>(MidstreamOrientation::count_); ++i)
        fn("midstream", midstream_orientation_name(static_cast<MidstreamOrientation>(i)), c.midstream[i].get());
#define FLOWSENTRY_VISIT(name) fn("defrag", #name, c.defrag.name.get());
    FLOWSENTRY_DEFRAG_COUNTERS(FLOWSENTRY_VISIT)
#undef FLOWSENTRY_VISIT
#define FLOWSENTRY_VISIT(name) fn("scan", #name, c.scan.name.get());
    FLOWSENTRY_SCAN_COUNTERS(FLOWSENTRY_VISIT)
#undef FLOWSENTRY_VISIT
}

}  // namespace flowsentry
