// Control thread (see control.hpp).
#include "flowsentry/control.hpp"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <rte_cycles.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

namespace flowsentry {

namespace {

constexpr unsigned kDrainBatch = 256;
// A replay that makes no progress for this long has ended early (a
// truncated capture, a PMD error): stop rather than hang.
constexpr auto kCaptureStallLimit = std::chrono::seconds(5);

using Clock = std::chrono::steady_clock;

uint64_t wall_clock_ns()
{
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

uint64_t total(const std::vector<Worker *> &workers, const Counter WorkerCounters::*field)
{
    uint64_t sum = 0;
    for (const Worker *w : workers)
        sum += (w->counters().*field).get();
    return sum;
}

}  // namespace

Control::Control(std::vector<Worker *> workers, std::vector<RxPort> ports, EcsFormatter formatter,
                 Detections &detections, SinkSet &sinks, ControlOptions options)
    : workers_(std::move(workers)),
      ports_(std::move(ports)),
      formatter_(std::move(formatter)),
      detections_(detections),
      sinks_(sinks),
      options_(options)
{
    for (Worker *w : workers_)
        w->set_control_alive(&alive_);
}

size_t Control::drain()
{
    if (options_.telnet != nullptr)
        options_.telnet->tick();
    EventRecord batch[kDrainBatch];
    size_t moved = 0;
    for (Worker *w : workers_) {
        unsigned n;
        do {
            n = rte_ring_sc_dequeue_burst_elem(w->events(), batch, sizeof(EventRecord), kDrainBatch, nullptr);
            buffer_.clear();
            for (unsigned i = 0; i < n; ++i) {
                if (options_.telnet == nullptr)
                    detections_.process(batch[i], formatter_, buffer_);
                else
                    options_.telnet->process(batch[i], [&](const EventRecord &r) {
                        detections_.process(r, formatter_, buffer_);
                    });
            }
            sinks_.write(buffer_);
            moved += n;
        } while (n == kDrainBatch);
    }
    events_written_ += moved;
    return moved;
}

bool Control::capture_done()
{
    uint64_t read = total(workers_, &WorkerCounters::rx_packets);
    for (const RxPort &p : ports_)
        read += read_port_stats(p.port_id).ierrors;  // frames the PMD consumed but could not deliver
    return read >= options_.expected_frames;
}

void Control::run(std::atomic<bool> &stop, std::atomic<bool> &workers_stop)
{
    const bool offline = options_.expected_frames > 0;
    const auto started = Clock::now();
    auto last_stats = Clock::now();
    auto last_progress = Clock::now();
    uint64_t last_rx = 0;

    while (!stop.load()) {
        const size_t moved = drain();
        if (options_.stop_after_s != 0 && Clock::now() - started >= std::chrono::seconds(options_.stop_after_s))
            break;
        if (offline) {
            if (capture_done())
                break;
            const uint64_t rx = total(workers_, &WorkerCounters::rx_packets);
            if (rx != last_rx) {
                last_rx = rx;
                last_progress = Clock::now();
            } else if (Clock::now() - last_progress > kCaptureStallLimit) {
                std::fprintf(stderr,
                             "flowsentry: warning: capture stalled after %" PRIu64 " of %" PRIu64
                             " frames; stopping\n",
                             rx, options_.expected_frames);
                break;
            }
        }
        if (options_.stats_interval_s != 0 &&
            Clock::now() - last_stats >= std::chrono::seconds(options_.stats_interval_s)) {
            last_stats = Clock::now();
            print_stats_line();
        }
        if (options_.tick)
            options_.tick();
        if (moved == 0) {
            // Live, packet time is the wall clock; a replay's clock only
            // moves with its records.
            buffer_.clear();
            detections_.tick(offline ? 0 : wall_clock_ns(), formatter_, buffer_);
            sinks_.write(buffer_);
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }

    // Workers flush every flow into their rings; keep draining so they can.
    workers_stop.store(true);
    run_seconds_ = std::chrono::duration<double>(Clock::now() - started).count();
    bool all_finished;
    do {
        all_finished = true;
        for (const Worker *w : workers_)
            all_finished &= w->finished();
        if (drain() == 0 && !all_finished)
            std::this_thread::sleep_for(std::chrono::microseconds(100));
    } while (!all_finished);
    drain();
    alive_.store(false);
    buffer_.clear();
    detections_.finish(formatter_, buffer_);
    sinks_.write(buffer_);
    sinks_.close();
}

void Control::print_stats_line()
{
    uint64_t imissed = 0, nombuf = 0;
    for (const RxPort &p : ports_) {
        const PortStats s = read_port_stats(p.port_id);
        imissed += s.imissed;
        nombuf += s.rx_nombuf;
    }
    uint64_t accepted = 0, flows = 0;
    for (const Worker *w : workers_) {
        accepted += w->counters().handshake[static_cast<int>(HandshakeOutcome::accepted)].get();
        flows += w->flows().size();
    }
    std::fprintf(stderr,
                 "flowsentry: stats rx=%" PRIu64 " flows=%" PRIu64 " accepted=%" PRIu64 " alerts=%" PRIu64
                 " events=%" PRIu64 " ring_drops=%" PRIu64 " imissed=%" PRIu64 " rx_nombuf=%" PRIu64 "\n",
                 total(workers_, &WorkerCounters::rx_packets), flows, accepted,
                 total(workers_, &WorkerCounters::alerts), events_written_,
                 total(workers_, &WorkerCounters::ring_drops), imissed, nombuf);
    if (options_.spreader != nullptr)
        std::fprintf(stderr, "flowsentry: stats spread rx=%" PRIu64 " ring_drops=%" PRIu64 "\n",
                     options_.spreader->counters().rx_packets.get(), options_.spreader->ring_full_total());
}

std::string Control::summary_text() const
{
    std::string out = "flowsentry: summary\n";
    char line[256];
    for (const RxPort &p : ports_) {
        const PortStats s = read_port_stats(p.port_id);
        std::snprintf(line, sizeof(line),
                      "  port %u (%s): ipackets=%" PRIu64 " ibytes=%" PRIu64 " imissed=%" PRIu64 " ierrors=%" PRIu64
                      " rx_nombuf=%" PRIu64 "\n",
                      p.port_id, p.name.c_str(), s.ipackets, s.ibytes, s.imissed, s.ierrors, s.rx_nombuf);
        out += line;
    }
    for (const Worker *w : workers_) {
        std::snprintf(line, sizeof(line), "  worker %u:\n", w->id());
        out += line;
        // Zero counters are left out to keep the summary readable; the JSON
        // summary has them all.
        for_each_counter(w->counters(), [&](const char *group, const char *name, uint64_t v) {
            if (v == 0)
                return;
            std::snprintf(line, sizeof(line), "    %s.%s=%" PRIu64 "\n", group, name, v);
            out += line;
        });
    }
    if (const RxSpreader *sp = options_.spreader) {
        std::snprintf(line, sizeof(line), "  spreader: rx_packets=%" PRIu64 " unparsed=%" PRIu64 " ring_drops=%" PRIu64 "\n",
                      sp->counters().rx_packets.get(), sp->counters().unparsed.get(), sp->ring_full_total());
        out += line;
    }
    if (const TelnetControl *t = options_.telnet) {
        std::snprintf(line, sizeof(line),
                      "  signatures: generation=%" PRIu64 " reloads=%" PRIu64 " reload_failures=%" PRIu64
                      " reloads_coalesced=%" PRIu64 "\n",
                      t->generation(), t->reloads(), t->reload_failures(), t->reloads_coalesced());
        out += line;
    }
    out += "  detections:";
    detections_.for_each_counter([&](const char *name, uint64_t v) {
        std::snprintf(line, sizeof(line), " %s=%" PRIu64, name, v);
        out += line;
    });
    out += "\n";
    for (const SinkStatus &s : sinks_.status()) {
        std::snprintf(line, sizeof(line),
                      "  output %s: records=%" PRIu64 " lines=%" PRIu64 " dropped=%" PRIu64 " write_errors=%" PRIu64
                      " reopens=%" PRIu64 " rotations=%" PRIu64 "%s\n",
                      s.name.c_str(), events_written_, s.lines_written, s.lines_dropped, s.write_errors, s.reopens,
                      s.rotations, s.healthy ? "" : " (failing)");
        out += line;
    }
    return out;
}

std::string Control::summary_json() const
{
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    // How long the workers polled: packets / run_seconds is the rate.
    w.Key("run_seconds");
    w.Double(run_seconds_);
    w.Key("tsc_hz");
    w.Uint64(rte_get_tsc_hz());
    w.Key("ports");
    w.StartArray();
    for (const RxPort &p : ports_) {
        const PortStats s = read_port_stats(p.port_id);
        w.StartObject();
        w.Key("port_id");
        w.Uint(p.port_id);
        w.Key("name");
        w.String(p.name.c_str());
        w.Key("device");
        w.String(p.device.c_str());
        w.Key("mode");
        w.String(rx_mode_name(p.mode));
        const std::pair<const char *, uint64_t> stats[] = {{"ipackets", s.ipackets}, {"ibytes", s.ibytes},
                                                           {"imissed", s.imissed},   {"ierrors", s.ierrors},
                                                           {"rx_nombuf", s.rx_nombuf}};
        for (const auto &[k, v] : stats) {
            w.Key(k);
            w.Uint64(v);
        }
        w.EndObject();
    }
    w.EndArray();
    w.Key("workers");
    w.StartArray();
    for (const Worker *wk : workers_) {
        w.StartObject();
        w.Key("worker_id");
        w.Uint(wk->id());
        w.Key("flows_in_table");
        w.Uint(wk->flows().size());
        for_each_counter(wk->counters(), [&](const char *group, const char *name, uint64_t v) {
            const std::string key = std::string(group) + "." + name;
            w.Key(key.c_str());
            w.Uint64(v);
        });
        w.EndObject();
    }
    w.EndArray();
    if (const RxSpreader *sp = options_.spreader) {
        w.Key("spreader");
        w.StartObject();
        const std::pair<const char *, uint64_t> counts[] = {{"rx_packets", sp->counters().rx_packets.get()},
                                                            {"unparsed", sp->counters().unparsed.get()},
                                                            {"busy_cycles", sp->counters().busy_cycles.get()},
                                                            {"ring_drops", sp->ring_full_total()}};
        for (const auto &[k, v] : counts) {
            w.Key(k);
            w.Uint64(v);
        }
        w.EndObject();
    }
    if (const TelnetControl *t = options_.telnet) {
        w.Key("signatures");
        w.StartObject();
        const std::pair<const char *, uint64_t> counts[] = {{"generation", t->generation()},
                                                            {"reloads", t->reloads()},
                                                            {"reload_failures", t->reload_failures()},
                                                            {"reloads_coalesced", t->reloads_coalesced()}};
        for (const auto &[k, v] : counts) {
            w.Key(k);
            w.Uint64(v);
        }
        w.EndObject();
    }
    w.Key("records");
    w.Uint64(events_written_);
    w.Key("detections");
    w.StartObject();
    detections_.for_each_counter([&](const char *name, uint64_t v) {
        w.Key(name);
        w.Uint64(v);
    });
    w.EndObject();
    w.Key("outputs");
    w.StartArray();
    for (const SinkStatus &s : sinks_.status()) {
        w.StartObject();
        w.Key("name");
        w.String(s.name.c_str());
        w.Key("healthy");
        w.Bool(s.healthy);
        const std::pair<const char *, uint64_t> counts[] = {
            {"lines", s.lines_written}, {"dropped", s.lines_dropped}, {"write_errors", s.write_errors},
            {"reopens", s.reopens},     {"rotations", s.rotations},   {"queued_bytes", s.queued_bytes}};
        for (const auto &[k, v] : counts) {
            w.Key(k);
            w.Uint64(v);
        }
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize()) + "\n";
}

}  // namespace flowsentry
