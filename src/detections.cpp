// Control-thread detections (see detections.hpp).
#include "flowsentry/detections.hpp"

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
    if (rec.attempt_phase == AttemptPhase::failed) {
        // A failure is news about a source already tracked; one that was
        // forgotten meanwhile is not worth a new entry.
        if (found != sources_.end() && rec.outcome < static_cast<uint8_t>(HandshakeOutcome::count_))
            found->second.outcomes[rec.outcome] += 1;
        return;
    }
    counters_.scan_attempts += 1;
    if (found == sources_.end()) {
        if (sources_.size() >= config_.scan_max_sources) {
            forget_idle_sources(rec.time_ns);
            if (sources_.size() >= config_.scan_max_sources) {
                sources_.erase(sources_.begin());
                counters_.scan_sources_evicted += 1;
            }
        }
        found = sources_.emplace(key, ScanSource{}).first;
    }
    ScanSource &s = found->second;
    s.last_seen_ns = rec.time_ns;
    s.attempts += 1;
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

void Detections::forget_idle_sources(uint64_t now_ns)
{
    for (auto it = sources_.begin(); it != sources_.end();) {
        const ScanSource &s = it->second;
        if (now_ns > s.last_seen_ns + window_ns_ && now_ns >= s.quiet_until_ns)
            it = sources_.erase(it);
        else
            ++it;
    }
}

void Detections::tick(uint64_t now_ns, const EcsFormatter &formatter, std::string &out)
{
    const uint64_t now = now_ns != 0 ? now_ns : latest_ns_;
    throttle_.expire(now, due_);
    write_summaries(formatter, out);
    forget_idle_sources(now);
}

void Detections::finish(const EcsFormatter &formatter, std::string &out)
{
    throttle_.finish(due_);
    write_summaries(formatter, out);
}

void Detections::for_each_counter(const std::function<void(const char *, uint64_t)> &fn) const
{
#define FLOWSENTRY_VISIT(name) fn(#name, counters_.name);
    FLOWSENTRY_DETECTION_COUNTERS(FLOWSENTRY_VISIT)
#undef FLOWSENTRY_VISIT
}

}  // namespace flowsentry
