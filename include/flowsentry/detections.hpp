// Control-thread detections: what needs more than one flow or a view over
// time, on top of the records the workers send.
//
//   - Connection to External Network via Telnet: an accepted Telnet
//     connection whose server is outside the excluded ranges;
//   - Telnet Scan: one source trying Telnet ports on many destinations
//     within a sliding window. Workers count attempts per source and hand
//     over only the sources that can cross the threshold (scan_counter.hpp);
//     a source first heard of here is watched on the other workers, and its
//     attempts wait until they have all answered. Attempts are then counted
//     in packet-time order through a reorder buffer (a replay: at the end of
//     the run, exactly; live: once older than the reorder window), so the
//     alert does not depend on how sources spread over workers;
//   - each alert once per flow, then throttled per rule and tracked key
//     (alert_throttle.hpp); what is held back is reported in a summary.
//
// Time is packet time (the records' time), so a replay gives the same
// alerts every run.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "flowsentry/address_set.hpp"
#include "flowsentry/alert_throttle.hpp"
#include "flowsentry/bounded_table.hpp"
#include "flowsentry/config.hpp"
#include "flowsentry/ecs_format.hpp"
#include "flowsentry/event_record.hpp"
#include "flowsentry/record_order.hpp"
#include "flowsentry/tcp_handshake.hpp"

namespace flowsentry {

#define FLOWSENTRY_DETECTION_COUNTERS(X)                                          \
    X(alerts_written)                                                             \
    X(alerts_throttled)      /* held back by the per-key limit, in a summary */   \
    X(alerts_duplicate)      /* same rule, same connection again: dropped */      \
    X(throttle_summaries)                                                         \
    X(throttle_keys_evicted) /* throttle table full: a key summarised early */    \
    X(alert_keys_forgotten)  /* oldest once-per-flow key dropped for a new one */ \
    X(external_telnet)                                                            \
    X(scan_alerts)                                                                \
    X(scan_attempts)                                                              \
    X(scan_sources_evicted)  /* tracking table full: a source's window lost */ \
    X(scan_watches)          /* sources watched on the other workers */      \
    X(scan_watch_drops)      /* a worker's watch ring was full: its share not asked for */

struct DetectionCounters {
#define FLOWSENTRY_COUNTER_FIELD(name) uint64_t name = 0;
    FLOWSENTRY_DETECTION_COUNTERS(FLOWSENTRY_COUNTER_FIELD)
#undef FLOWSENTRY_COUNTER_FIELD
};

class Detections {
public:
    // Builds the LPM tables (needs the EAL); throws std::runtime_error.
    explicit Detections(const DetectionConfig &config);

    // Home networks and the external-Telnet exclusions, for
    // EcsContext::address_lists.
    std::shared_ptr<const AddressSet> address_lists() const { return lists_; }

    // Frees the LPM tables; call before rte_eal_cleanup.
    void release_tables() { lists_->free_tables(); }

    // One record from a worker: appends its document, if it has one, and
    // the alerts it triggers to `out`.
    void process(const EventRecord &rec, const EcsFormatter &formatter, std::string &out);

    // Writes the summaries of throttle intervals over by `now_ns` (packet
    // time; 0: the latest record's time) and forgets idle scan sources.
    void tick(uint64_t now_ns, const EcsFormatter &formatter, std::string &out);

    // Live packet time now: the latest record's time, moved on by the wall
    // clock since it was first seen. Ports stamp packets with their capture
    // time (a looping capture, years old) or the TSC: either way windows
    // age at the rate of the wall clock, from the packets' own time.
    uint64_t packet_now(uint64_t wall_ns);

    // End of the run: every pending summary, and the attempts of sources
    // still waiting for their watch answers.
    void finish(const EcsFormatter &formatter, std::string &out);

    // How a source first heard of is watched on the other workers: how many
    // were asked (answers, AttemptPhase::watched records, to wait for) and
    // how many could not be. Unset: none (one worker).
    struct WatchResult {
        uint32_t asked;
        uint32_t refused;
    };
    void set_scan_watch(std::function<WatchResult(const EventRecord &first)> watch) { watch_ = std::move(watch); }
    // Sources whose attempts wait for watch answers.
    size_t scan_sources_waiting() const { return waiting_sources_.size(); }
    // How attempts are put in time order before they are counted: a replay
    // counts them at the end of the run; live, they wait `window_ns` of
    // packet time (0, the default: counted as they come).
    void set_scan_order(bool replay, uint64_t window_ns)
    {
        scan_order_ = RecordOrder(kReorderCapacity, window_ns, replay);
    }

    static constexpr size_t kReorderCapacity = 65536;  // attempt records

    const DetectionCounters &counters() const { return counters_; }
    void for_each_counter(const std::function<void(const char *name, uint64_t value)> &fn) const;

private:
    // What makes an alert the same alert of the same connection.
    struct AlertKey {
        uint64_t start_ns;
        uint32_t signature_id;
        uint32_t stream_offset;
        uint16_t rule;
        uint16_t client_port;
        uint16_t server_port;
        uint8_t direction;
        uint8_t ip_version;
        uint8_t client[16];
        uint8_t server[16];
    };
    struct ScanSource {
        std::deque<std::pair<uint64_t, std::string>> destinations;  // first try in window, address
        std::unordered_set<std::string> in_window;
        uint64_t last_seen_ns = 0;
        uint64_t quiet_until_ns = 0;  // one alert per window per source
        uint64_t attempts = 0;        // since the last alert
        uint64_t outcomes[static_cast<int>(HandshakeOutcome::count_)] = {};
        // With several workers attempts arrive out of time order; the alert
        // describes the latest one so it does not depend on that order.
        EventRecord latest{};
        uint32_t answers_due = 0;           // watch answers still to come
        std::vector<EventRecord> waiting;   // its records meanwhile
        std::list<std::string>::iterator lru;  // its place in by_last_seen_
    };
    void on_attempt(const EventRecord &rec, const EcsFormatter &formatter, std::string &out);
    void count_attempt(ScanSource &s, const EventRecord &rec, const EcsFormatter &formatter, std::string &out);
    // Every watch answer is in (or the run ends): its records to the reorder buffer.
    void take_waiting(const std::string &key, ScanSource &s, const EcsFormatter &formatter, std::string &out);
    // Counts an attempt the reorder buffer let out.
    void take_attempt(const EventRecord &rec, const EcsFormatter &formatter, std::string &out);
    ScanSource &add_source(const std::string &key, uint64_t now_ns);
    void alert(const EventRecord &rec, const EcsFormatter &formatter, std::string &out,
               const AlertDetails *details = nullptr);
    bool seen_before(const EventRecord &rec);
    void write_summaries(const EcsFormatter &formatter, std::string &out);
    // Drops sources idle for a window, least recently seen first; stops at
    // the first one that is not (amortised O(1) per source).
    void forget_idle_sources(uint64_t now_ns);
    bool idle(const ScanSource &s, uint64_t now_ns) const;

    DetectionConfig config_;
    std::shared_ptr<AddressSet> lists_;
    uint64_t window_ns_;
    uint64_t latest_ns_ = 0;
    uint64_t latest_at_tick_ns_ = 0;  // latest_ns_ when packet_now() last saw it change
    uint64_t wall_at_latest_ns_ = 0;  // the wall clock then
    AlertThrottle throttle_;
    std::vector<ThrottleSummary> due_;              // summaries to write, reused
    BoundedTable<AlertKey, bool> recent_alerts_;    // per-flow-once keys, oldest dropped first
    std::unordered_map<std::string, ScanSource> sources_;
    std::list<std::string> by_last_seen_;  // sources_ keys, least recently seen first
    std::unordered_set<std::string> waiting_sources_;
    std::function<WatchResult(const EventRecord &)> watch_;
    RecordOrder scan_order_{kReorderCapacity, 0, false};
    DetectionCounters counters_;
};

}  // namespace flowsentry
