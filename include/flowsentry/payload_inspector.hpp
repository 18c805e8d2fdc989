// Payload inspector: one per worker. Decides which flows are inspected
// (server port in telnet.ports, Telnet identified by its first payload, or
// any TCP flow when a pack has tcp-scope signatures), and runs their bytes
// through in-order delivery → Telnet normalisation → Hyperscan streams and
// the login tracker, reporting what it finds to the worker.
//
// Fast path: everything is preallocated at start (inspection states, the
// out-of-order pool, the streams of the engine's generation); no locks; the
// only shared data is the read-only generation, swapped under RCU at the
// worker's quiescent point.
#pragma once

#include <cstdint>
#include <vector>

#include "flowsentry/counters.hpp"
#include "flowsentry/decode.hpp"
#include "flowsentry/event_record.hpp"
#include "flowsentry/flow_table.hpp"
#include "flowsentry/inspection_engine.hpp"
#include "flowsentry/login_tracker.hpp"
#include "flowsentry/stream_reassembly.hpp"
#include "flowsentry/telnet_normalizer.hpp"

namespace flowsentry {

namespace inspect_flag {
constexpr uint8_t payload_seen_lo = 1u << 0;  // first payload from the key's lo side seen
constexpr uint8_t payload_seen_hi = 1u << 1;
constexpr uint8_t telnet = 1u << 2;           // Telnet port, or identified by payload
constexpr uint8_t identified = 1u << 3;       // identified by payload
constexpr uint8_t finished = 1u << 4;         // inspection ended: never restarts for this connection
constexpr uint8_t no_state = 1u << 5;         // wanted inspection, the pool was empty
}  // namespace inspect_flag

// What the inspector found; the worker turns it into an alert record.
struct Finding {
    RuleId rule;
    uint32_t signature_id;
    uint32_t stream_offset;  // end of the match in its direction's stream
    uint8_t direction;       // 0 client → server, 1 server → client
    LoginOutcome outcome;
    uint8_t user_name_len;
    const char *user_name;
};

class FindingSink {
public:
    virtual void report(const Finding &f) = 0;

protected:
    ~FindingSink() = default;
};

class PayloadInspector {
public:
    // Preallocates the worker's inspection states and out-of-order pool and
    // registers the worker with the engine's RCU. Throws on bad limits.
    PayloadInspector(const InspectionEngine &engine, uint16_t worker_id, WorkerCounters &counters);
    ~PayloadInspector();
    PayloadInspector(const PayloadInspector &) = delete;
    PayloadInspector &operator=(const PayloadInspector &) = delete;

    // A TCP segment of `flow` after handshake tracking; `payload` points at
    // pkt.payload_len bytes. `telnet_port`: the server port is in telnet.ports.
    void on_segment(Flow &flow, const DecodedPacket &pkt, const uint8_t *payload, bool sender_is_lo,
                    bool telnet_port, FindingSink &sink);

    // The connection ends: held data is delivered (gaps skipped), streams
    // are closed (end-anchored matches reported) and the state is freed.
    void on_flow_end(Flow &flow, FindingSink &sink);

    // A flow joined mid-stream was re-oriented (tcp_reorient_midstream):
    // its inspection state, fed by the old directions, is dropped.
    void on_reoriented(Flow &flow);

    // The worker's quiescent point (once per poll loop): adopt a newer
    // generation, then tell RCU this worker holds no reference to older ones.
    void quiescent();
    // The worker stops polling (end of run): RCU no longer waits for it.
    void offline();

    uint32_t free_states() const { return static_cast<uint32_t>(free_.size()); }
    // Bytes each inspected flow costs this worker (state + its streams).
    size_t bytes_per_flow() const;

private:
    struct Direction {
        StreamDirection reasm;
        TelnetNormalizerState telnet;
        uint32_t raw_offset;   // raw bytes delivered (what depth counts)
        uint32_t data_offset;  // normalised bytes delivered
        uint32_t raw_base;     // offsets when the current streams opened
        uint32_t data_base;
        uint8_t stopped;       // depth reached or a scan failed
        uint8_t pad[3];
    };
    struct State {
        Direction dir[2];  // 0 client → server, 1 server → client
        LoginTracker login;
        uint8_t in_use;
        uint8_t telnet;
    };

    class Delivery;
    friend class Delivery;

    void deliver(uint32_t slot, unsigned dir, const uint8_t *data, uint32_t len, FindingSink &sink);
    void scan(uint32_t slot, unsigned dir, SignatureStream kind, const uint8_t *data, uint32_t len,
              FindingSink &sink);
    // Resets the flow's streams; end-anchored matches go to `sink` unless null.
    void close_streams(uint32_t slot, FindingSink *sink);
    void free_state(Flow &flow);
    bool start_inspection(Flow &flow, unsigned dir, bool seen_before[2]);

    const InspectionEngine &engine_;
    const InspectionGeneration *gen_;
    uint16_t worker_id_;
    bool online_ = false;
    WorkerCounters &counters_;
    Reassembler reassembler_;
    std::vector<State> states_;
    std::vector<uint32_t> free_;
    std::vector<uint8_t> normalised_;  // one segment's normalised bytes
};

}  // namespace flowsentry
