// Telnet detections of the control thread (see telnet_control.hpp).
#include "flowsentry/telnet_control.hpp"

#include <cstdio>
#include <cstring>

#include "flowsentry/login_tracker.hpp"

namespace flowsentry {

namespace {

constexpr uint64_t kNsPerSecond = 1000000000ull;

std::string source_key(uint32_t signature_id, const EventRecord &rec)
{
    std::string key(reinterpret_cast<const char *>(&signature_id), sizeof signature_id);
    key.push_back(static_cast<char>(rec.ip_version));
    key.append(reinterpret_cast<const char *>(rec.client_addr), sizeof rec.client_addr);
    return key;
}

}  // namespace

TelnetControl::TelnetControl(InspectionEngine &engine, uint32_t brute_force_failures, uint32_t brute_force_window_s,
                             size_t max_tracked)
    : engine_(engine),
      brute_force_failures_(brute_force_failures),
      brute_force_window_ns_(brute_force_window_s * kNsPerSecond),
      max_tracked_(max_tracked)
{
}

bool TelnetControl::count_reaches(std::map<Key, Window> &table, const Key &key, uint64_t now_ns, uint64_t window_ns,
                                  uint32_t limit)
{
    auto it = table.find(key);
    if (it == table.end()) {
        if (table.size() >= max_tracked_) {
            // Make room from windows that are over; if none are, this
            // source goes uncounted (and counted as such).
            for (auto e = table.begin(); e != table.end();)
                e = now_ns - e->second.start_ns > window_ns ? table.erase(e) : std::next(e);
            if (table.size() >= max_tracked_) {
                ++untracked_;
                return false;
            }
        }
        it = table.emplace(key, Window{now_ns, 0}).first;
    }
    Window &w = it->second;
    if (now_ns < w.start_ns || now_ns - w.start_ns > window_ns)
        w = Window{now_ns, 0};
    if (++w.count < limit)
        return false;
    w = Window{now_ns, 0};
    return true;
}

bool TelnetControl::passes_threshold(const EventRecord &rec)
{
    for (const Signature &s : engine_.signatures().signatures()) {
        if (s.id != rec.signature_id)
            continue;
        if (s.threshold_count <= 1)
            return true;
        return count_reaches(thresholds_, source_key(s.id, rec), rec.time_ns, s.threshold_seconds * kNsPerSecond,
                             s.threshold_count);
    }
    return true;  // from a generation that is gone: written as it is
}

void TelnetControl::process(const EventRecord &rec, const std::function<void(const EventRecord &)> &write)
{
    const bool is_alert = rec.type == EventType::alert;
    if (!is_alert || rec.rule != RuleId::signature || passes_threshold(rec))
        write(rec);
    if (is_alert && rec.rule == RuleId::telnet_cleartext_credentials &&
        rec.login_outcome == static_cast<uint8_t>(LoginOutcome::failure) &&
        count_reaches(failures_, source_key(0, rec), rec.time_ns, brute_force_window_ns_, brute_force_failures_)) {
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
