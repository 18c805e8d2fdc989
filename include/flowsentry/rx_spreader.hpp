// Software spreading: for ports that cannot hash both directions of a flow
// to one queue per worker (vdevs, NICs without RSS, several capture files),
// one lcore reads their queues and hands each packet to the worker its
// canonical flow hash picks, over one SPSC ring of mbufs per worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <rte_common.h>

#include "flowsentry/counters.hpp"
#include "flowsentry/packet_time.hpp"

struct rte_mbuf;
struct rte_ring;

namespace flowsentry {

struct SpreadSource {
    uint16_t port_id;
    uint16_t queue_id;
    bool from_file;   // a capture file: waits for room in the worker rings, never drops
    bool timestamps;  // capture time: sources are merged in time order
};

// The worker a frame belongs to: flow_spread_hash (canonical address pair,
// VLAN tags, tunnel identity; no ports, so fragments follow their flow)
// scaled to `workers` (its high bits, so each worker's rte_hash still sees
// every low-bit bucket), or -1 for a frame that does not decode (the spreader
// sends those to worker 0, which counts why). Decapsulates as the workers
// do (`options`), so tunnelled flows spread by their inner addresses.
int spread_worker_of(const uint8_t *frame, uint32_t len, uint16_t workers,
                     const DecodeOptions &options = kDefaultDecodeOptions);

class alignas(RTE_CACHE_LINE_SIZE) RxSpreader {
public:
    // Creates one ring of `ring_size` mbufs per worker on `socket_id`.
    // Throws std::runtime_error with the cause.
    RxSpreader(uint16_t workers, uint32_t ring_size, uint32_t burst_size, int socket_id,
               const DecodeOptions &decode = kDefaultDecodeOptions);
    ~RxSpreader();
    RxSpreader(const RxSpreader &) = delete;
    RxSpreader &operator=(const RxSpreader &) = delete;

    void add_source(SpreadSource s) { sources_.push_back(s); }
    const std::vector<SpreadSource> &sources() const { return sources_; }
    rte_ring *ring(uint16_t worker) const { return rings_[worker]; }
    uint16_t workers() const { return static_cast<uint16_t>(rings_.size()); }

    // The read loop; returns when `stop` is set, after handing over every
    // packet it holds, and then sets done().
    void run(const std::atomic<bool> &stop);
    struct Launch {
        RxSpreader *spreader;
        const std::atomic<bool> *stop;
    };
    static int launch(void *launch);  // rte_eal_remote_launch entry, takes a Launch

    // Hands `n` packets to their workers. Captures are never dropped (the
    // spreader waits for ring room, a replay has time); live packets that
    // find a worker's ring full are freed and counted.
    void spread(rte_mbuf *const *pkts, uint16_t n);

    const std::atomic<bool> &done() const { return done_; }

    // Single writer (the spreading lcore); read by the control thread.
    struct Counters {
        Counter rx_packets;
        Counter unparsed;     // not a flow (decode failed): sent to worker 0
        Counter busy_cycles;  // TSC cycles spent on non-empty rounds
    };
    const Counters &counters() const { return counters_; }
    uint64_t queued(uint16_t worker) const { return queued_[worker].get(); }
    uint64_t ring_full(uint16_t worker) const { return ring_full_[worker].get(); }
    uint64_t ring_full_total() const;

private:
    // Staged packets of one worker, sent as one ring burst.
    struct Stage {
        static constexpr uint16_t kCapacity = 64;
        rte_mbuf *pkts[kCapacity];
        uint16_t n = 0;
    };
    // One source's burst, consumed packet by packet when merging by time.
    struct Pending {
        rte_mbuf *pkts[512];
        uint16_t n = 0;
        uint16_t pos = 0;
    };

    void stage(rte_mbuf *m);
    void send(uint16_t worker);
    void send_all();
    // One round over the sources; returns packets read.
    uint32_t read_round();
    uint32_t merge_round(bool refill);

    std::vector<SpreadSource> sources_;
    std::vector<rte_ring *> rings_;
    std::unique_ptr<Stage[]> stages_;
    std::unique_ptr<Pending[]> pending_;
    std::unique_ptr<Counter[]> queued_;
    std::unique_ptr<Counter[]> ring_full_;
    Counters counters_;
    PacketClock clock_;  // reads capture timestamps for the merge
    DecodeOptions decode_;
    uint16_t burst_size_;
    bool lossless_ = false;
    bool merge_ = false;
    std::atomic<bool> done_{false};
};

}  // namespace flowsentry
