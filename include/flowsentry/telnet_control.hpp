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
#include <string>
#include <vector>

#include "flowsentry/bounded_table.hpp"
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
    // Windows dropped before their end to make room for another source
    // (the one whose window started first goes).
    uint64_t windows_evicted() const { return windows_evicted_; }
    uint64_t reloads_coalesced() const { return reloads_coalesced_; }  // requests while a compile ran

private:
    // A count in a fixed window per key; true when it reaches `limit` (then
    // the window starts over, so one alert per window). Queued in the order
    // the windows started, so the front is the one to drop.
    struct Key {
        uint32_t signature_id;  // 0 for brute force
        uint8_t ip_version;
        uint8_t zero[3];
        uint8_t client[16];
    };
    struct Window {
        uint64_t start_ns;
        uint64_t window_ns;
        uint32_t count;
    };
    using WindowTable = BoundedTable<Key, Window>;
    bool passes_threshold(const EventRecord &rec);
    bool count_reaches(WindowTable &table, uint32_t signature_id, const EventRecord &rec, uint64_t window_ns,
                       uint32_t limit);

    InspectionEngine &engine_;
    uint32_t brute_force_failures_;
    uint64_t brute_force_window_ns_;
    WindowTable failures_;
    WindowTable thresholds_;
    uint64_t reloads_ = 0;
    uint64_t reload_failures_ = 0;
    uint64_t windows_evicted_ = 0;
    uint64_t reloads_coalesced_ = 0;
    bool reload_wanted_ = false;  // requested, not started yet: a compile was running
};

}  // namespace flowsentry
