// Telnet detections of the control thread (see telnet_control.hpp).
#include "flowsentry/telnet_control.hpp"

#include <cstdio>
#include <cstring>

#include "flowsentry/login_tracker.hpp"

namespace flowsentry {

namespace {

constexpr uint64_t kNsPerSecond = 1000000000ull;

}  // namespace

TelnetControl::TelnetControl(InspectionEngine &engine, uint32_t brute_force_failures, uint32_t brute_force_window_s,
                             size_t max_tracked)
    : engine_(engine),
      brute_force_failures_(brute_force_failures),
      brute_force_window_ns_(brute_force_window_s * kNsPerSecond),
      failures_(max_tracked),
      thresholds_(max_tracked)
{
}

bool TelnetControl::count_reaches(WindowTable &table, uint32_t signature_id, const EventRecord &rec,
                                  uint64_t window_ns, uint32_t limit)
{
    const uint64_t now_ns = rec.time_ns;
    const auto over = [now_ns](const Window &w) { return now_ns < w.start_ns || now_ns - w.start_ns > w.window_ns; };
    Key key;
    std::memset(&key, 0, sizeof key);
    key.signature_id = signature_id;
    key.ip_version = rec.ip_version;
    std::memcpy(key.client, rec.client_addr, address_length(rec.ip_version));
    WindowTable::Entry *e = table.find(key);
    if (e == nullptr) {
        if (table.full()) {
            WindowTable::Entry &first = *table.front();
            if (!over(first.value))
                ++windows_evicted_;
            table.erase(first);
        }
        e = &table.insert(key);
        e->value = Window{now_ns, window_ns, 0};
    }
    Window &w = e->value;
    if (over(w)) {
        w = Window{now_ns, window_ns, 0};
        table.requeue(*e);
    }
    if (++w.count < limit)
        return false;
    w = Window{now_ns, window_ns, 0};
    table.requeue(*e);
    return true;
}

bool TelnetControl::passes_threshold(const EventRecord &rec)
{
    const Signature *s = engine_.signatures().find(rec.signature_id);
    if (s == nullptr)
        return true;  // from a generation that is gone: written as it is
    if (s->threshold_count <= 1)
        return true;
    return count_reaches(thresholds_, s->id, rec, s->threshold_seconds * kNsPerSecond, s->threshold_count);
}

void TelnetControl::process(const EventRecord &rec, const std::function<void(const EventRecord &)> &write)
{
    const bool is_alert = rec.type == EventType::alert;
    if (!is_alert || rec.rule != RuleId::signature || passes_threshold(rec))
        write(rec);
    if (is_alert && rec.rule == RuleId::telnet_cleartext_credentials &&
        rec.login_outcome == static_cast<uint8_t>(LoginOutcome::failure) &&
        count_reaches(failures_, 0, rec, brute_force_window_ns_, brute_force_failures_)) {
        EventRecord alert = rec;
        alert.rule = RuleId::telnet_brute_force;
        alert.user_name_len = 0;
        std::memset(alert.user_name, 0, sizeof alert.user_name);
        write(alert);
    }
}

void TelnetControl::tick()
{
    std::string error;
    switch (engine_.finish_reload(error)) {
    case InspectionEngine::ReloadOutcome::swapped:
        ++reloads_;
        std::fprintf(stderr, "flowsentry: signatures reloaded: generation %llu, %zu signatures\n",
                     static_cast<unsigned long long>(engine_.generation()), engine_.signatures().signatures().size());
        break;
    case InspectionEngine::ReloadOutcome::failed:
        ++reload_failures_;
        std::fprintf(stderr, "flowsentry: signature reload failed, keeping generation %llu: %s\n",
                     static_cast<unsigned long long>(engine_.generation()), error.c_str());
        break;
    case InspectionEngine::ReloadOutcome::none:
        break;
    }
    if (take_signature_reload_request()) {
        // Requests during a compile become one more compile after it, so
        // the packs as they are now are what ends up running.
        if (engine_.reload_running()) {
            ++reloads_coalesced_;
            std::fprintf(stderr,
                         "flowsentry: signature reload requested while one compiles: it runs once that one ends "
                         "(%llu coalesced so far)\n",
                         static_cast<unsigned long long>(reloads_coalesced_));
        }
        reload_wanted_ = true;
    }
    if (reload_wanted_ && engine_.start_reload())
        reload_wanted_ = false;
    engine_.collect();
}

}  // namespace flowsentry
