// Alert throttling per rule and tracked key (see alert_throttle.hpp).
#include "flowsentry/alert_throttle.hpp"

#include <cstring>

namespace flowsentry {

namespace {

constexpr uint64_t kNsPerSecond = 1000000000ull;

}  // namespace

AlertThrottle::AlertThrottle(const ThrottleConfig &config) : config_(config), table_(config.max_keys) {}

AlertThrottle::Key AlertThrottle::key_of(const EventRecord &alert, ThrottleTrack track) const
{
    Key k;
    std::memset(&k, 0, sizeof k);
    k.rule = static_cast<uint16_t>(alert.rule);
    if (alert.rule == RuleId::signature)
        k.signature_id = alert.signature_id;
    if (track == ThrottleTrack::by_rule)
        return k;
    k.ip_version = alert.ip_version;
    const unsigned len = address_length(alert.ip_version);
    if (track == ThrottleTrack::by_src || track == ThrottleTrack::by_both)
        std::memcpy(k.client, alert.client_addr, len);
    if (track == ThrottleTrack::by_dst || track == ThrottleTrack::by_both)
        std::memcpy(k.server, alert.server_addr, len);
    return k;
}

void AlertThrottle::close(Table::Entry &e, std::vector<ThrottleSummary> &due)
{
    const State &s = e.value;
    if (s.suppressed != 0) {
        const ThrottleLimit &limit = config_.limit(static_cast<RuleId>(e.key.rule));
        due.push_back({s.last_suppressed, limit.track, s.suppressed, limit.alerts, limit.interval_s,
                       s.interval_start_ns});
    }
    table_.erase(e);
}

bool AlertThrottle::admit(const EventRecord &alert, std::vector<ThrottleSummary> &due)
{
    const ThrottleLimit &limit = config_.limit(alert.rule);
    if (limit.track == ThrottleTrack::off)
        return true;
    expire(alert.time_ns, due);
    const Key key = key_of(alert, limit.track);
    Table::Entry *e = table_.find(key);
    // Records from several workers are not quite in time order, so a key's
    // interval can be over while an earlier-queued one is not. Compared
    // without subtracting, so an earlier time never wraps around.
    if (e != nullptr && alert.time_ns >= e->value.interval_start_ns + uint64_t(limit.interval_s) * kNsPerSecond) {
        close(*e, due);
        e = nullptr;
    }
    if (e == nullptr) {
        if (table_.full()) {
            // The key whose interval started first goes, with its summary
            // written now so no held-back alert goes uncounted.
            ++keys_evicted_;
            close(*table_.oldest(), due);
        }
        // A rule id from a newer build shares the queue (and the limit) of none.
        const unsigned queue = static_cast<unsigned>(alert.rule) < kRuleIdCount ? static_cast<unsigned>(alert.rule) : 0;
        e = &table_.insert(key, queue);
        e->value.interval_start_ns = alert.time_ns;
    }
    State &s = e->value;
    if (s.written < limit.alerts) {
        s.written += 1;
        return true;
    }
    s.suppressed += 1;
    s.last_suppressed = alert;
    throttled_ += 1;
    return false;
}

void AlertThrottle::expire(uint64_t now_ns, std::vector<ThrottleSummary> &due)
{
    for (unsigned rule = 0; rule < kRuleIdCount; ++rule) {
        const uint64_t interval_ns = uint64_t(config_.limit(static_cast<RuleId>(rule)).interval_s) * kNsPerSecond;
        for (Table::Entry *e = table_.front(rule); e != nullptr && now_ns >= e->value.interval_start_ns + interval_ns;
             e = table_.front(rule))
            close(*e, due);
    }
}

void AlertThrottle::finish(std::vector<ThrottleSummary> &due)
{
    for (unsigned rule = 0; rule < kRuleIdCount; ++rule)
        while (Table::Entry *e = table_.front(rule))
            close(*e, due);
}

}  // namespace flowsentry
