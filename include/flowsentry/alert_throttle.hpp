// Alert throttling of the control thread, keyed the way Suricata's
// `threshold: type limit, track by_src|by_dst|by_both|by_rule` is: each rule
// (each signature for payload signatures) and tracked key has its own budget
// of `alerts` per `interval_s`, so a noisy pair cannot hide another pair's
// alert. The interval is packet time and starts with the key's first alert;
// what is held back is reported in one summary per key when its interval
// ends (or when the key is dropped to make room, or at exit).
//
// Keys live in a BoundedTable of `max_keys`, one queue per rule in the order
// their intervals started, so the intervals that are over are at the front
// of their queue: every step is O(1) amortised, never a walk of the table.
#pragma once

#include <cstdint>
#include <vector>

#include "flowsentry/bounded_table.hpp"
#include "flowsentry/config.hpp"
#include "flowsentry/event_record.hpp"

namespace flowsentry {

// What one key held back in one interval.
struct ThrottleSummary {
    EventRecord last;  // the last alert held back
    ThrottleTrack track;
    uint64_t suppressed;
    uint32_t limit;
    uint32_t interval_s;
    uint64_t interval_start_ns;
};

class AlertThrottle {
public:
    explicit AlertThrottle(const ThrottleConfig &config);

    // True when `alert` is to be written; false when it is held back (then
    // counted, and in the summary of its key). Summaries of intervals over
    // by the alert's time are appended to `due` first.
    bool admit(const EventRecord &alert, std::vector<ThrottleSummary> &due);

    // Appends the summaries of intervals over by `now_ns` and forgets their keys.
    void expire(uint64_t now_ns, std::vector<ThrottleSummary> &due);

    // End of the run: every pending summary.
    void finish(std::vector<ThrottleSummary> &due);

    uint64_t throttled() const { return throttled_; }
    uint64_t keys_evicted() const { return keys_evicted_; }  // dropped early: table full
    size_t keys() const { return table_.size(); }

private:
    struct Key {
        uint32_t signature_id;
        uint16_t rule;
        uint8_t ip_version;
        uint8_t zero;
        uint8_t client[16];
        uint8_t server[16];
    };
    struct State {
        uint64_t interval_start_ns;
        uint64_t written;
        uint64_t suppressed;
        EventRecord last_suppressed;
    };
    using Table = BoundedTable<Key, State, kRuleIdCount>;

    Key key_of(const EventRecord &alert, ThrottleTrack track) const;
    void close(Table::Entry &e, std::vector<ThrottleSummary> &due);

    ThrottleConfig config_;
    Table table_;
    uint64_t throttled_ = 0;
    uint64_t keys_evicted_ = 0;
};

}  // namespace flowsentry
