// Control thread (the main lcore): drains the workers' rings, formats ECS,
// writes the sinks, prints stats, decides when a replayed capture is done.
// Every slow or blocking operation happens here, never on a worker.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "flowsentry/config.hpp"
#include "flowsentry/ecs_format.hpp"
#include "flowsentry/detections.hpp"
#include "flowsentry/record_order.hpp"
#include "flowsentry/rx_port.hpp"
#include "flowsentry/rx_spreader.hpp"
#include "flowsentry/sinks.hpp"
#include "flowsentry/telnet_control.hpp"
#include "flowsentry/worker.hpp"

namespace flowsentry {

struct ControlOptions {
    uint32_t stats_interval_s = 0;
    uint64_t expected_frames = 0;  // offline: frames in the capture; 0 = live
    uint32_t stop_after_s = 0;     // --bench: stop after this many seconds; 0 = no limit
    const RxSpreader *spreader = nullptr;  // the software spreading lcore, if any port is spread
    std::function<void()> tick;    // run on every pass of the loop (telemetry, reload)
    TelnetControl *telnet = nullptr;  // logins, signature thresholds and reload; null without packs
};

class Control {
public:
    Control(std::vector<Worker *> workers, std::vector<RxPort> ports, EcsFormatter formatter,
            Detections &detections, SinkSet &sinks, ControlOptions options);

    // Drains until `stop` is set (signal) or, offline, the capture has been
    // read in full; then stops the workers, drains what they flush, and
    // returns.
    void run(std::atomic<bool> &stop, std::atomic<bool> &workers_stop);

    // One pass over every worker's rings, at most a fixed budget of records
    // from each, to the detections and sinks; returns how many it took.
    size_t drain();

    // Final counters for a person (stderr) and for scripts (JSON).
    std::string summary_text() const;
    std::string summary_json() const;

    const std::atomic<bool> &alive() const { return alive_; }

private:
    bool capture_done();
    // Takes up to the drain budget of records from `ring`, each to `take`.
    template <typename Take>
    size_t drain_ring(rte_ring *ring, Take &&take);
    // A document in packet-time order: Telnet control, then the detections.
    void deliver(const EventRecord &rec);
    // buffer_ to the sinks (and cleared); _if_full: once it holds a chunk.
    void write_out();
    void write_out_if_full();
    // A source first heard of from one worker: ask every other worker for
    // what it holds of it; returns how many were asked.
    Detections::WatchResult watch_elsewhere(const EventRecord &first);
    void print_stats_line();

    std::vector<Worker *> workers_;
    std::vector<RxPort> ports_;
    EcsFormatter formatter_;
    Detections &detections_;
    SinkSet &sinks_;
    ControlOptions options_;
    std::string buffer_;
    uint64_t events_written_ = 0;  // documents taken from the workers
    RecordOrder document_order_;
    double run_seconds_ = 0;  // from the start of run() until the workers are told to stop
    std::atomic<bool> alive_{true};
};

}  // namespace flowsentry
