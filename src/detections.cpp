// Control-thread detections (see detections.hpp).
#include "flowsentry/detections.hpp"

#include <algorithm>
#include <cstring>

#include "flowsentry/rules.hpp"
#include "flowsentry/tcp_handshake.hpp"

namespace flowsentry {

namespace {

constexpr uint64_t kNsPerSecond = 1000000000ull;
// Per-flow-once keys remembered; older ones are forgotten first. Each
// connection's alerts arrive within moments of each other, so this only
// has to cover the records in flight, not the table.
constexpr size_t kRecentAlerts = 65536;

// The key a summary is for, in words: the addresses its rule is tracked by.
std::string tracked_key_text(const ThrottleSummary &t)
{
    const std::string client = format_ip(t.last.ip_version, t.last.client_addr);
    const std::string server = format_ip(t.last.ip_version, t.last.server_addr);
    switch (t.track) {
    case ThrottleTrack::by_src:
        return " from " + client;
    case ThrottleTrack::by_dst:
        return " to " + server;
    case ThrottleTrack::by_both:
        return " from " + client + " to " + server;
    case ThrottleTrack::off:
    case ThrottleTrack::by_rule:
        break;
    }
    return {};
}

std::string address_key(uint8_t ip_version, const uint8_t *addr)
{
    std::string k(1, static_cast<char>(ip_version));
    k.append(reinterpret_cast<const char *>(addr), ip_version == 6 ? 16 : 4);
    return k;
}

std::string endpoint_text(const EventRecord &rec, const uint8_t *addr)
{
    const std::string ip = format_ip(rec.ip_version, addr);
    return rec.ip_version == 6 ? "[" + ip + "]" : ip;
}

}  // namespace

Detections::Detections(const DetectionConfig &config)
    : config_(config),
      window_ns_(uint64_t(config.scan_window_s) * kNsPerSecond),
      throttle_(config.throttle),
      recent_alerts_(kRecentAlerts)
{
    const std::vector<Cidr> home =
        config.home_networks.empty() ? parse_cidrs(default_home_networks()) : config.home_networks;
    const std::vector<Cidr> not_external = parse_cidrs(
        config.external_ranges == ExternalRanges::iana ? iana_special_purpose() : elastic_telnet_exclusions());
    // Bit order as kHomeNetworkList, kNotExternalList.
    lists_ = std::make_shared<AddressSet>("home_networks and external_telnet ranges",
                                                std::vector<std::vector<Cidr>>{home, not_external});
}

void Detections::process(const EventRecord &rec, const EcsFormatter &formatter, std::string &out)
{
    if (rec.time_ns > latest_ns_)
        latest_ns_ = rec.time_ns;
    switch (rec.type) {
    case EventType::attempt:
        on_attempt(rec, formatter, out);
        return;
    case EventType::alert:
        alert(rec, formatter, out);
        if (rec.rule == RuleId::accepted_telnet_port && !(lists_->lists_of(rec.ip_version, rec.server_addr) & kNotExternalList)) {
            EventRecord external = rec;
            external.rule = RuleId::external_telnet;
            counters_.external_telnet += 1;
            alert(external, formatter, out);
        }
        return;
    case EventType::connection_start:
    case EventType::connection_end:
        formatter.format(rec, out);
        return;
    }
}

void Detections::on_attempt(const EventRecord &rec, const EcsFormatter &formatter, std::string &out)
{
    const std::string key = address_key(rec.ip_version, rec.client_addr);
    auto found = sources_.find(key);
    if (rec.attempt_phase == AttemptPhase::watched) {
        if (found != sources_.end() && found->second.answers_due != 0 && --found->second.answers_due == 0)
            take_waiting(key, found->second, formatter, out);
        return;
    }
    if (found == sources_.end()) {
        // A failure is news about a source already tracked; one that was
        // forgotten meanwhile is not worth a new entry.
        if (rec.attempt_phase == AttemptPhase::failed)
            return;
        ScanSource &s = add_source(key, rec.time_ns);
        // The worker that handed it over had it hot; the others may hold
        // some of its attempts (scan_counter.hpp).
        if (watch_) {
            const WatchResult asked = watch_(rec);
            s.answers_due = asked.asked;
            counters_.scan_watches += 1;
            counters_.scan_watch_drops += asked.refused;
            if (s.answers_due != 0)
                waiting_sources_.insert(key);
        }
        found = sources_.find(key);
    }
    ScanSource &s = found->second;
    by_last_seen_.splice(by_last_seen_.end(), by_last_seen_, s.lru);
    // Seen now, whenever it is counted: not idle meanwhile.
    s.last_seen_ns = std::max(s.last_seen_ns, rec.time_ns);
    if (s.answers_due != 0) {
        s.waiting.push_back(rec);
        return;
    }
    scan_order_.push(rec, [&](const EventRecord &r) { take_attempt(r, formatter, out); });
}

void Detections::take_attempt(const EventRecord &rec, const EcsFormatter &formatter, std::string &out)
{
    const std::string key = address_key(rec.ip_version, rec.client_addr);
    auto found = sources_.find(key);
    if (found == sources_.end()) {
        // Forgotten while its attempts waited (the source table is full).
        if (rec.attempt_phase == AttemptPhase::failed)
            return;
        add_source(key, rec.time_ns);
        found = sources_.find(key);
    }
    count_attempt(found->second, rec, formatter, out);
}

Detections::ScanSource &Detections::add_source(const std::string &key, uint64_t now_ns)
{
    forget_idle_sources(now_ns);
    if (sources_.size() >= config_.scan_max_sources) {
        const std::string &oldest = by_last_seen_.front();
        waiting_sources_.erase(oldest);
        sources_.erase(oldest);
        by_last_seen_.pop_front();
        counters_.scan_sources_evicted += 1;
    }
    ScanSource &s = sources_[key];
    s.lru = by_last_seen_.insert(by_last_seen_.end(), key);
    return s;
}

void Detections::take_waiting(const std::string &key, ScanSource &s, const EcsFormatter &formatter,
                              std::string &out)
{
    std::vector<EventRecord> waiting;
    waiting.swap(s.waiting);
    s.answers_due = 0;
    waiting_sources_.erase(key);
    std::stable_sort(waiting.begin(), waiting.end(),
                     [](const EventRecord &a, const EventRecord &b) { return a.time_ns < b.time_ns; });
    for (const EventRecord &rec : waiting)
        scan_order_.push(rec, [&](const EventRecord &r) { take_attempt(r, formatter, out); });
}

void Detections::count_attempt(ScanSource &s, const EventRecord &rec, const EcsFormatter &formatter,
                               std::string &out)
{
    if (rec.attempt_phase == AttemptPhase::failed) {
        if (rec.outcome < static_cast<uint8_t>(HandshakeOutcome::count_))
            s.outcomes[rec.outcome] += rec.count;
        return;
    }
    counters_.scan_attempts += rec.count;
    s.last_seen_ns = std::max(s.last_seen_ns, rec.time_ns);
    s.attempts += rec.count;
    if (rec.time_ns >= s.latest.time_ns)
        s.latest = rec;
    while (!s.destinations.empty() && rec.time_ns > s.destinations.front().first + window_ns_) {
        s.in_window.erase(s.destinations.front().second);
        s.destinations.pop_front();
    }
    const std::string dst = address_key(rec.ip_version, rec.server_addr);
    if (s.in_window.insert(dst).second)
        s.destinations.emplace_back(rec.time_ns, dst);
    if (s.in_window.size() < config_.scan_destinations || rec.time_ns < s.quiet_until_ns)
        return;

    const auto outcome = [&](HandshakeOutcome o) { return s.outcomes[static_cast<int>(o)]; };
    AlertDetails details;
    details.group = "scan";
    details.counts = {
        {"destinations", s.in_window.size()},
        {"attempts", s.attempts},
        {"rejected", outcome(HandshakeOutcome::rejected)},
        {"no_reply", outcome(HandshakeOutcome::no_reply)},
        {"other_failures", outcome(HandshakeOutcome::half_open) + outcome(HandshakeOutcome::unacknowledged) +
                               outcome(HandshakeOutcome::ack_mismatch)},
        {"window_s", config_.scan_window_s},
    };
    details.message = std::string(rule_info(RuleId::telnet_scan).name) + ": " +
                      endpoint_text(rec, rec.client_addr) + " tried " + std::to_string(s.in_window.size()) +
                      " Telnet servers within " + std::to_string(config_.scan_window_s) + " s (" +
                      std::to_string(s.attempts) + " SYNs)";
    EventRecord scan = s.latest;
    scan.type = EventType::alert;
    scan.rule = RuleId::telnet_scan;
    counters_.scan_alerts += 1;
    alert(scan, formatter, out, &details);

    // The next alert for this source needs a new window's worth of targets.
    s.destinations.clear();
    s.in_window.clear();
    s.attempts = 0;
    std::memset(s.outcomes, 0, sizeof s.outcomes);
    s.quiet_until_ns = s.latest.time_ns + window_ns_;
    s.latest = EventRecord{};
}

bool Detections::seen_before(const EventRecord &rec)
{
    AlertKey key;
    std::memset(&key, 0, sizeof key);
    key.rule = static_cast<uint16_t>(rec.rule);
    key.signature_id = rec.signature_id;
    // A payload alert is one per signature and direction, a login one per
    // attempt (its offset in the client's stream).
    key.direction = rec.direction;
    key.stream_offset = rec.stream_offset;
    key.ip_version = rec.ip_version;
    std::memcpy(key.client, rec.client_addr, address_length(rec.ip_version));
    std::memcpy(key.server, rec.server_addr, address_length(rec.ip_version));
    key.client_port = rec.client_port;
    key.server_port = rec.server_port;
    key.start_ns = rec.start_ns;
    if (recent_alerts_.find(key) != nullptr)
        return true;
    if (recent_alerts_.full()) {
        recent_alerts_.erase(*recent_alerts_.front());
        counters_.alert_keys_forgotten += 1;
    }
    recent_alerts_.insert(key);
    return false;
}

void Detections::alert(const EventRecord &rec, const EcsFormatter &formatter, std::string &out,
                       const AlertDetails *details)
{
    if (seen_before(rec)) {
        counters_.alerts_duplicate += 1;
        return;
    }
    const bool write = throttle_.admit(rec, due_);
    write_summaries(formatter, out);
    if (write) {
        counters_.alerts_written += 1;
        formatter.format(rec, out, details);
    }
}

void Detections::write_summaries(const EcsFormatter &formatter, std::string &out)
{
    counters_.alerts_throttled = throttle_.throttled();
    counters_.throttle_keys_evicted = throttle_.keys_evicted();
    for (const ThrottleSummary &t : due_) {
        AlertDetails details;
        details.group = "throttle";
        details.counts = {
            {"suppressed", t.suppressed},
            {"limit", t.limit},
            {"interval_s", t.interval_s},
            {"interval_start_us", t.interval_start_ns / 1000},
        };
        details.message = std::string(formatter.rule_of(t.last).name) + ": " + std::to_string(t.suppressed) +
                          " more alerts" + tracked_key_text(t) + " suppressed (" + throttle_track_name(t.track) + ", limit " +
                          std::to_string(t.limit) + " per " + std::to_string(t.interval_s) +
                          " s); the last one is shown";
        formatter.format(t.last, out, &details);
        counters_.throttle_summaries += 1;
    }
    due_.clear();
}

bool Detections::idle(const ScanSource &s, uint64_t now_ns) const
{
    return s.answers_due == 0 && now_ns > s.last_seen_ns + window_ns_ && now_ns >= s.quiet_until_ns;
}

void Detections::forget_idle_sources(uint64_t now_ns)
{
    while (!by_last_seen_.empty()) {
        auto it = sources_.find(by_last_seen_.front());
        if (!idle(it->second, now_ns))
            return;
        sources_.erase(it);
        by_last_seen_.pop_front();
    }
}

uint64_t Detections::packet_now(uint64_t wall_ns)
{
    if (latest_ns_ != latest_at_tick_ns_ || wall_at_latest_ns_ == 0) {
        latest_at_tick_ns_ = latest_ns_;
        wall_at_latest_ns_ = wall_ns;
    }
    return latest_ns_ + (wall_ns - wall_at_latest_ns_);
}

void Detections::tick(uint64_t now_ns, const EcsFormatter &formatter, std::string &out)
{
    const uint64_t now = now_ns != 0 ? now_ns : latest_ns_;
    scan_order_.tick(now, [&](const EventRecord &r) { take_attempt(r, formatter, out); });
    throttle_.expire(now, due_);
    write_summaries(formatter, out);
    forget_idle_sources(now);
}

void Detections::finish(const EcsFormatter &formatter, std::string &out)
{
    // Answers that never came (a worker had stopped): what did come counts.
    while (!waiting_sources_.empty()) {
        const std::string key = *waiting_sources_.begin();
        take_waiting(key, sources_.at(key), formatter, out);
    }
    scan_order_.finish([&](const EventRecord &r) { take_attempt(r, formatter, out); });
    throttle_.finish(due_);
    write_summaries(formatter, out);
}

void Detections::for_each_counter(const std::function<void(const char *, uint64_t)> &fn) const
{
#define FLOWSENTRY_VISIT(name) fn(#name, counters_.name);
    FLOWSENTRY_DETECTION_COUNTERS(FLOWSENTRY_VISIT)
#undef FLOWSENTRY_VISIT
    // Attempts the reorder buffer let out early (it was full) or took late.
    fn("scan_reorder_full", scan_order_.full());
    fn("scan_reorder_late", scan_order_.late());
}

}  // namespace flowsentry
