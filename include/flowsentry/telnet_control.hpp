// Telnet detections of the control thread: what needs every worker's view
// (workers spread sources over cores), and signature reload.
//
// - Telnet brute force: N failed logins (telnet_cleartext_credentials with
//   outcome failure) from one source within a window raise one alert per
//   window.
// - Signature thresholds: a signature with `threshold: {count, seconds}`
//   alerts only on every count-th match from one source within the window.
// - Reload: a SIGHUP (or request_signature_reload() from any control
//   command) starts the engine's compile thread; tick() publishes what it
//   built without ever waiting for it, so the drain goes on. A request
//   while one compiles is coalesced: one more compile follows it. Retired
//   generations are freed once their RCU grace period is over.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "flowsentry/event_record.hpp"
#include "flowsentry/inspection_engine.hpp"

namespace flowsentry {

class TelnetControl {
public:
    TelnetControl(InspectionEngine &engine, uint32_t brute_force_failures, uint32_t brute_force_window_s,
                  size_t max_tracked = 65536);

    // Every drained record passes here: `write` gets it unless it is held
    // back (a signature below its threshold), then any alert it completes
    // here (brute force).
    void process(const EventRecord &rec, const std::function<void(const EventRecord &)> &write);

    // Once per control loop, never blocking: a finished compile published,
    // a requested reload started, retired generations freed.
    void tick();

    uint64_t generation() const { return engine_.generation(); }  // of the signatures running now
    uint64_t reloads() const { return reloads_; }
    uint64_t reload_failures() const { return reload_failures_; }
    uint64_t reloads_coalesced() const { return reloads_coalesced_; }  // requests while a compile ran
    uint64_t untracked() const { return untracked_; }  // sources not counted: table full

private:
    // A count in a fixed window per key; true when it reaches `limit` (then
    // the window starts over, so one alert per window).
    struct Window {
        uint64_t start_ns;
        uint32_t count;
    };
    using Key = std::string;  // signature id (0 for brute force) + client address
    bool passes_threshold(const EventRecord &rec);
    bool count_reaches(std::map<Key, Window> &table, const Key &key, uint64_t now_ns, uint64_t window_ns,
                       uint32_t limit);

    InspectionEngine &engine_;
    uint32_t brute_force_failures_;
    uint64_t brute_force_window_ns_;
    size_t max_tracked_;
    std::map<Key, Window> failures_;
    std::map<Key, Window> thresholds_;
    uint64_t reloads_ = 0;
    uint64_t reload_failures_ = 0;
    uint64_t reloads_coalesced_ = 0;
    bool reload_wanted_ = false;  // requested, not started yet: a compile was running
    uint64_t untracked_ = 0;
};

}  // namespace flowsentry
