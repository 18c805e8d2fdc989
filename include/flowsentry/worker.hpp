// Worker: one per pinned lcore. Polls queue i of every port in bursts and
// runs each packet through decode → flow table → TCP handshake tracking,
// handing events to the control thread through its own SPSC rings: one for
// documents (connections, alerts), one for the scan detection's attempt
// records, so bookkeeping can never take a document's place.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <rte_common.h>

#include "flowsentry/config.hpp"
#include "flowsentry/counters.hpp"
#include "flowsentry/event_record.hpp"
#include "flowsentry/flow_table.hpp"
#include "flowsentry/ip_reassembly.hpp"
#include "flowsentry/packet_time.hpp"
#include "flowsentry/payload_inspector.hpp"
#include "flowsentry/scan_counter.hpp"

struct rte_mbuf;
struct rte_ring;

namespace flowsentry {

// Where a worker's packets come from: queue `queue_id` of a port, or (when
// `ring` is set) the ring the software spreading lcore fills for it.
struct RxQueue {
    uint16_t port_id;
    uint16_t queue_id;
    bool timestamps;  // the port stamps packets with capture time
    rte_ring *ring = nullptr;
    const std::atomic<bool> *ring_done = nullptr;  // the ring's producer has stopped for good
};

// Read-only settings every worker shares; built once from the Config.
struct WorkerSettings {
    uint32_t burst_size = 32;
    uint32_t expiry_batch = 64;
    bool scatter = false;  // frames spread over mbufs are copied whole and parsed
    bool wait_for_ring = false;  // replay: a full event ring pauses the worker instead of dropping
    DecodeOptions decode;  // the decode: section (tunnel depth, VXLAN/Geneve ports, MPLS payload)
    uint8_t telnet_port[65536 / 8] = {};  // bit set of server ports
    const InspectionEngine *inspection = nullptr;  // payload inspection; null: off
    // Scan counting (scan_counter.hpp): sources per worker, window, and how
    // many distinct servers on one worker make a source worth handing over.
    uint32_t scan_sources = 65536;
    uint64_t scan_window_ns = 60ull * 1000000000ull;
    uint32_t scan_hot_at = 5;
    bool is_telnet_port(uint16_t p) const { return telnet_port[p >> 3] & (1u << (p & 7)); }
};

WorkerSettings make_worker_settings(const Config &config);

class alignas(RTE_CACHE_LINE_SIZE) Worker {
public:
    // Creates the worker's flow table and event ring on `socket_id`.
    // Throws std::runtime_error with the cause.
    Worker(uint16_t worker_id, const Config &config, const WorkerSettings &settings, int socket_id);
    ~Worker();
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;

    void add_queue(RxQueue q) { queues_.push_back(q); }

    // The poll loop; returns when `stop` is set, after taking every packet
    // its spreading rings still hold and flushing every flow.
    void run(const std::atomic<bool> &stop);
    // Worker::launch's argument: what run() needs.
    struct Launch {
        Worker *worker;
        const std::atomic<bool> *stop;
    };
    static int launch(void *launch);  // rte_eal_remote_launch entry, takes a Launch

    // One frame through the pipeline (tests call it directly with frames
    // read from a capture; reassembled datagrams go through it).
    void handle_frame(const uint8_t *frame, uint32_t len, uint64_t time_ns, uint16_t port_id);

    // A burst of mbufs from queue `q` through the pipeline, with the same
    // records and counters as handle_frame on each in turn (the poll loop
    // calls it; benchmarks too). Leaves the mbufs to the caller.
    void receive_burst(rte_mbuf *const *pkts, uint16_t n, const RxQueue &q);

    // Expiry step of the poll loop, at packet time `now_ns`.
    void expire(uint64_t now_ns);

    // Ends every flow (end records with reason shutdown). Waits for ring room
    // rather than drop while the control thread is alive and draining.
    void flush();

    // Documents (connection start and end, alerts) and attempt records.
    rte_ring *events() const { return events_; }
    rte_ring *scan_records() const { return scan_ring_; }
    // Control thread only: asks the worker to hand over what it holds of a
    // source and count it hot; false when the request ring is full.
    bool watch(const ScanWatch &request);
    const WorkerCounters &counters() const { return counters_; }
    const FlowTable &flows() const { return *flows_; }
    uint16_t id() const { return id_; }
    bool finished() const { return finished_.load(std::memory_order_acquire); }

    void set_control_alive(const std::atomic<bool> *alive) { control_alive_ = alive; }

private:
    // A TCP packet's flow: its canonical key, the key's hash, and which side sent it.
    struct FlowRef {
        FlowKey key;
        uint32_t hash;
        bool sender_is_lo;
    };
    static void make_flow_ref(const DecodedPacket &pkt, FlowRef &ref);
    // A frame of a burst between decode and handling.
    struct Staged {
        DecodedPacket pkt;
        FlowRef ref;
        const uint8_t *frame;  // null: counted, not parsed
        uint64_t time_ns;
        uint32_t len;
        uint16_t port_id;
        DecodeResult result;
        bool tcp;  // decoded TCP: its flow is looked up with the others
        uint8_t lookup;        // its place in the bulk lookup
        uint8_t same_flow_as;  // 1 + index of the bulk's previous packet of its flow (not looked up); 0: none
        Flow *flow;            // once handled: the flow it went to, or nullptr
    };

    // One pass over the sources (or only the rings); returns packets taken.
    uint32_t poll(bool rings_only);
    // Up to FlowTable::kBulkMax frames of a burst: all decoded, their flows
    // looked up in one bulk lookup, then handled one by one in arrival order
    // exactly as handle_frame would. Returns how many frames it took (it
    // stops after a scattered frame, whose copy is not kept).
    uint16_t receive_bulk(rte_mbuf *const *pkts, uint16_t n, const RxQueue &q);
    // The frame's contiguous bytes, or false when it can't be parsed (counted).
    bool frame_of(const rte_mbuf *m, const uint8_t *&frame, uint32_t &len);
    // decode_packet with the configured options, counted (count_decoded).
    DecodeResult decode_counted(const uint8_t *frame, uint32_t len, DecodedPacket &pkt);
    // Counts a decode result and every tunnel layer seen.
    void count_decoded(DecodeResult r, const DecodedPacket &pkt);
    // What follows decode (and its counter) for one frame.
    void handle_decoded(DecodeResult r, const DecodedPacket &pkt, const uint8_t *frame, uint32_t len,
                        uint64_t time_ns, uint16_t port_id);
    // `flow` is the flow of ref.key as the table holds it now, or nullptr.
    // Returns the flow the packet went to (nullptr: the table had no room).
    Flow *handle_tcp(const DecodedPacket &pkt, const uint8_t *frame, uint64_t time_ns, uint16_t port_id,
                     const FlowRef &ref, Flow *flow);
    void emit_finding(const Flow &flow, const FlowKey &key, uint64_t time_ns, const Finding &f);
    void on_accepted(const Flow &flow, const FlowKey &key, uint64_t time_ns);
    void on_attempt_opened(const Flow &flow, const FlowKey &key, const DecodedPacket &syn, uint64_t time_ns);
    // Attempt records feed scan detection; only attempts on Telnet ports.
    void report_attempt(const Flow &flow, const FlowKey &key, AttemptPhase phase, HandshakeOutcome outcome,
                        uint64_t time_ns);
    // A flow leaves the table (or its 5-tuple is reused): an end record if it
    // was accepted, else the attempt's outcome is counted.
    void end_flow(Flow &flow, const FlowKey &key, EndReason reason, uint64_t time_ns);
    // Payload inspection of the flow is over: held data and end-anchored matches are reported.
    void end_inspection(Flow &flow, const FlowKey &key, uint64_t time_ns);
    // A document to the document ring, an attempt record to the scan ring.
    void emit(const EventRecord &rec);
    void emit_scan(const EventRecord &rec);
    bool enqueue(rte_ring *ring, const EventRecord &rec);
    // One scan-counter hand-over as an attempt record; `flow` is the flow of
    // the attempt being counted (null for a watch).
    void hand_over_attempt(const Flow *flow, const FlowKey *key, const ScanSourceKey &source,
                           const ScanHandover &h);
    // The control thread's watch requests, as many as the scan ring has room
    // to answer.
    void serve_watches(uint64_t now_ns);
    // Live, a full event ring costs the record, never a stall. Replaying a
    // file, or flushing at the end, there is no line rate to keep up with
    // and the control thread is draining: emit() waits for room instead.
    bool waits_for_ring() const { return flushing_ || settings_.wait_for_ring; }
    void fill_record(EventRecord &rec, EventType type, const Flow &flow, const FlowKey &key,
                     uint64_t time_ns) const;

    WorkerCounters counters_;
    PacketClock clock_;
    std::unique_ptr<FlowTable> flows_;
    rte_ring *events_ = nullptr;
    rte_ring *scan_ring_ = nullptr;
    rte_ring *watch_ring_ = nullptr;  // ScanSourceKey, control thread to worker
    std::unique_ptr<ScanCounter> scan_;
    const WorkerSettings &settings_;
    std::vector<RxQueue> queues_;
    std::vector<uint8_t> frame_copy_;  // a scattered frame made contiguous (scatter only)
    Staged staged_[FlowTable::kBulkMax];
    uint16_t id_;
    bool flushing_ = false;
    const std::atomic<bool> *control_alive_ = nullptr;
    std::unique_ptr<PayloadInspector> inspector_;  // null without signature packs
    std::unique_ptr<IpReassembler> defrag_;        // null when defrag is off
    bool in_reassembled_ = false;                  // handling a datagram defrag_ returned
    // The TCP packet handle_tcp is handling, once its flow is found: records
    // of that flow take the packet's tunnel context (outer addresses).
    const DecodedPacket *packet_ = nullptr;
    std::atomic<bool> finished_{false};
};

}  // namespace flowsentry
