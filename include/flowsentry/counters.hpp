// Counters: every packet, flow and event a worker handles is counted once.
//
// Each worker owns its counters (one writer); the control thread reads them
// with relaxed atomic loads for the stats line and the exit summary.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "flowsentry/decode.hpp"
#include "flowsentry/tcp_handshake.hpp"

namespace flowsentry {

// A single-writer counter: a plain add on x86, yet a well-defined read.
class Counter {
public:
    void add(uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

#define FLOWSENTRY_WORKER_COUNTERS(X)                                         \
    X(rx_packets)                                                             \
    X(rx_bytes)                                                               \
    X(rx_multi_segment)     /* frame spread over mbufs: dropped unparsed */   \
    X(rx_scattered)         /* frame spread over mbufs, copied whole (scatter) */ \
    X(busy_cycles)          /* TSC cycles spent on received bursts */         \
    X(tcp_packets)                                                            \
    X(tcp_header_only)      /* of those, malformed past the fixed TCP header: not inspected */ \
    X(udp_packets)          /* decoded and counted; no UDP flow state */      \
    X(flows_created)                                                          \
    X(flows_expired)                                                          \
    X(flows_evicted)                                                          \
    X(flows_closed)                                                           \
    X(flows_reused)                                                           \
    X(flows_flushed)                                                          \
    X(flow_table_full)      /* no slot even after eviction: packet skipped */ \
    X(events_connection_start)                                                \
    X(events_connection_end)                                                  \
    X(alerts)                                                                 \
    X(events_attempt)       /* attempt records handed to the control thread */ \
    X(document_drops)       /* document ring full: a connection or alert lost */ \
    X(scan_record_drops)    /* scan ring full: an attempt record lost (bookkeeping) */ \
    X(midstream_reoriented) /* joined mid-stream, then payload proved the server the other side */ \
    FLOWSENTRY_INSPECTION_COUNTERS(X)

// Payload inspection (payload_inspector.hpp, stream_reassembly.hpp): every
// byte not inspected, every segment not delivered, every pool exhaustion.
#define FLOWSENTRY_INSPECTION_COUNTERS(X)                                     \
    X(inspect_flows)            /* flows given inspection state */           \
    X(inspect_pool_exhausted)   /* flow to inspect found no free state */    \
    X(inspect_unassigned_bytes) /* payload of such flows, or before Telnet was identified */ \
    X(inspect_bytes_to_server)  /* bytes scanned, client to server */        \
    X(inspect_bytes_to_client)                                                \
    X(inspect_depth_bytes)      /* bytes past the depth of their direction */ \
    X(inspect_scan_errors)      /* Hyperscan refused a scan: direction stops */ \
    X(inspect_streams_reopened) /* streams moved to a reloaded database */   \
    X(telnet_identified)        /* flows identified as Telnet by payload */  \
    X(telnet_commands)          /* IAC commands removed by normalisation */  \
    X(telnet_sb_unterminated)   /* subnegotiations cut at their bound */     \
    X(logins_observed)          /* login attempts whose outcome was seen */  \
    X(reasm_retransmitted_bytes) /* already delivered: not scanned twice */  \
    X(reasm_overlap_bytes)      /* overlapping copies: the first one won */  \
    X(reasm_held_chunks)        /* out-of-order pieces held for later */     \
    X(reasm_gaps_skipped)       /* gaps given up (bound, pool, flow end) */  \
    X(reasm_gap_bytes)          /* sequence space never seen */              \
    X(reasm_pool_exhausted)     /* no free chunk: oldest gap given up */     \
    X(reasm_flow_limit)         /* per-flow bound hit: oldest gap given up */ \
    X(reasm_out_of_window_segments) /* too far ahead: dropped */             \
    X(reasm_out_of_window_bytes)                                              \
    X(reasm_released_bytes)     /* held, then freed undelivered */

// IP reassembly (ip_reassembly.hpp): every fragment taken, every datagram
// completed or dropped, and why.
#define FLOWSENTRY_DEFRAG_COUNTERS(X)                                         \
    X(fragments)            /* fragments given to the reassembler */         \
    X(reassembled)          /* datagrams completed and decoded again */      \
    X(timed_out)            /* incomplete at their timeout */                \
    X(flushed)              /* incomplete at shutdown */                     \
    X(evicted)              /* oldest incomplete one dropped: table full */  \
    X(memory_evicted)       /* incomplete one dropped: max_bytes held */     \
    X(overlaps)             /* fragments overlapping held data: first copy won */ \
    X(overlap_bytes)        /* bytes of theirs not used */                   \
    X(duplicates)           /* fragments adding nothing, bytes identical */  \
    X(tiny_first)           /* first fragment shorter than its transport header: dropped */ \
    X(transport_overlap)    /* a later fragment inside the transport header: dropped */ \
    X(inconsistent)         /* past the last fragment, two last ones, odd middle length: dropped */ \
    X(too_big)              /* past max_datagram_size: dropped */            \
    X(oversize)             /* past 65535 bytes of IP datagram: dropped */   \
    X(too_many_fragments)   /* past max_fragments_per_datagram: dropped */   \
    X(header_too_long)      /* headers before the data past 512 bytes: dropped */ \
    X(discarded)            /* fragments of a datagram already dropped */    \
    X(refragmented)         /* a reassembled datagram decoded as a fragment again */

// Scan counting on the worker (scan_counter.hpp).
#define FLOWSENTRY_SCAN_COUNTERS(X)                                           \
    X(attempts)             /* SYNs to Telnet ports counted */               \
    X(held)                 /* of which kept on the worker (source cold) */  \
    X(hot)                  /* sources whose attempts went to the control thread */ \
    X(sources_evicted)      /* a cold source's held attempts lost for room */ \
    X(watches)              /* the control thread's watch requests served */

struct ScanCounters {
#define FLOWSENTRY_COUNTER_FIELD(name) Counter name;
    FLOWSENTRY_SCAN_COUNTERS(FLOWSENTRY_COUNTER_FIELD)
#undef FLOWSENTRY_COUNTER_FIELD
};

struct DefragCounters {
#define FLOWSENTRY_COUNTER_FIELD(name) Counter name;
    FLOWSENTRY_DEFRAG_COUNTERS(FLOWSENTRY_COUNTER_FIELD)
#undef FLOWSENTRY_COUNTER_FIELD
};

struct WorkerCounters {
#define FLOWSENTRY_COUNTER_FIELD(name) Counter name;
    FLOWSENTRY_WORKER_COUNTERS(FLOWSENTRY_COUNTER_FIELD)
#undef FLOWSENTRY_COUNTER_FIELD
    DefragCounters defrag;
    ScanCounters scan;
    Counter decode[static_cast<int>(DecodeResult::count_)];
    Counter layer[static_cast<int>(TunnelType::count_)];  // tunnel layers seen; [none] unused
    Counter handshake[static_cast<int>(HandshakeOutcome::count_)];
    Counter midstream[static_cast<int>(MidstreamOrientation::count_)];  // flows joined mid-stream, by orientation
};

// Visits every counter as ("decode.ipv4_truncated", value) and so on, in a
// stable order, for printing and JSON.
void for_each_counter(const WorkerCounters &c,
                      const std::function<void(const char *group, const char *name, uint64_t value)> &fn);

}  // namespace flowsentry
