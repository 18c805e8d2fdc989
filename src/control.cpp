// Control thread (see control.hpp).
#include "flowsentry/control.hpp"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <thread>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <rte_cycles.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

namespace flowsentry {

namespace {

constexpr unsigned kDrainBatch = 256;
// Records taken from one ring in one pass of the control loop: a worker that
// refills its ring as fast as it is drained must not keep the loop from its
// other work (stop, stats, ticks, reloads).
constexpr unsigned kDrainBudget = 4 * kDrainBatch;
// Detections' tick runs at least this often under load, not only when idle.
constexpr auto kTickPeriod = std::chrono::milliseconds(100);
// Live, records from several workers are put back in packet-time order
// within this much of it before they are taken (a replay: all of them, up to
// the capacity).
constexpr uint64_t kReorderWindowNs = 1000000000;

// Output goes to the sinks in pieces of about this size: releasing a full
// reorder heap at once (65,536 documents) must not make one piece bigger
// than a sink's whole queue.
constexpr size_t kWriteChunkBytes = 1 << 20;
constexpr size_t kDocumentOrderCapacity = 65536;
// After the workers have flushed: how long watch answers may still take.
constexpr auto kWatchAnswerLimit = std::chrono::seconds(1);
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
      options_(options),
      document_order_(kDocumentOrderCapacity, kReorderWindowNs, options.expected_frames > 0)
{
    for (Worker *w : workers_)
        w->set_control_alive(&alive_);
    if (workers_.size() > 1)
        detections_.set_scan_watch([this](const EventRecord &first) { return watch_elsewhere(first); });
    detections_.set_scan_order(options_.expected_frames > 0, kReorderWindowNs);
}

Detections::WatchResult Control::watch_elsewhere(const EventRecord &first)
{
    ScanWatch request{};
    std::memcpy(request.source.addr, first.client_addr, sizeof request.source.addr);
    request.source.ip_version = first.ip_version;
    request.time_ns = first.time_ns;
    Detections::WatchResult result{0, 0};
    for (Worker *w : workers_) {
        if (w->id() == first.worker_id)
            continue;
        if (w->watch(request))
            ++result.asked;
        else
            ++result.refused;
    }
    return result;
}

template <typename Take>
size_t Control::drain_ring(rte_ring *ring, Take &&take)
{
    EventRecord batch[kDrainBatch];
    size_t moved = 0;
    unsigned n;
    do {
        n = rte_ring_sc_dequeue_burst_elem(ring, batch, sizeof(EventRecord), kDrainBatch, nullptr);
        for (unsigned i = 0; i < n; ++i)
            take(batch[i]);
        moved += n;
    } while (n == kDrainBatch && moved < kDrainBudget);
    return moved;
}

void Control::deliver(const EventRecord &rec)
{
    if (options_.telnet == nullptr)
        detections_.process(rec, formatter_, buffer_);
    else
        options_.telnet->process(rec, [&](const EventRecord &r) { detections_.process(r, formatter_, buffer_); });
    write_out_if_full();
}

void Control::write_out()
{
    // A replay has no line rate to keep up with: it waits for a slow sink
    // rather than drop what the sink's queue has no room for.
    sinks_.write(buffer_, options_.expected_frames > 0);
    buffer_.clear();
}

void Control::write_out_if_full()
{
    if (buffer_.size() >= kWriteChunkBytes)
        write_out();
}

size_t Control::drain()
{
    if (options_.telnet != nullptr)
        options_.telnet->tick();
    size_t moved = 0;
    const auto in_order = [&](const EventRecord &r) { deliver(r); };
    for (Worker *w : workers_) {
        // Documents wait to be put in packet-time order; attempt records are
        // ordered by the scan detection itself, after its watches.
        const size_t documents =
            drain_ring(w->events(), [&](const EventRecord &r) { document_order_.push(r, in_order); });
        events_written_ += documents;
        moved += documents + drain_ring(w->scan_records(), [&](const EventRecord &r) {
                     detections_.process(r, formatter_, buffer_);
                     write_out_if_full();
                 });
        write_out();
    }
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
    auto last_tick = Clock::now();
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
        if (moved == 0 || Clock::now() - last_tick >= kTickPeriod) {
            // Live, packet time is the wall clock; a replay's clock only
            // moves with its records.
            last_tick = Clock::now();
            const uint64_t now = offline ? 0 : detections_.packet_now(wall_clock_ns());
            document_order_.tick(now, [&](const EventRecord &r) { deliver(r); });
            detections_.tick(now, formatter_, buffer_);
            write_out();
        }
        if (moved == 0)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
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
    // Sources still waiting for watch answers: the workers answer until
    // alive_ goes false.
    const auto flushed = Clock::now();
    while (drain() != 0 || (detections_.scan_sources_waiting() != 0 && Clock::now() - flushed < kWatchAnswerLimit))
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    alive_.store(false);
    document_order_.finish([&](const EventRecord &r) { deliver(r); });
    detections_.finish(formatter_, buffer_);
    write_out();
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
                 " events=%" PRIu64 " document_drops=%" PRIu64 " scan_record_drops=%" PRIu64 " imissed=%" PRIu64
                 " rx_nombuf=%" PRIu64 "\n",
                 total(workers_, &WorkerCounters::rx_packets), flows, accepted,
                 total(workers_, &WorkerCounters::alerts), events_written_,
                 total(workers_, &WorkerCounters::document_drops), total(workers_, &WorkerCounters::scan_record_drops),
                 imissed, nombuf);
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
    std::snprintf(line, sizeof(line), "  order: documents late=%" PRIu64 " early=%" PRIu64 "\n",
                  document_order_.late(), document_order_.full());
    out += line;
    if (const TelnetControl *t = options_.telnet) {
        std::snprintf(line, sizeof(line),
                      "  signatures: generation=%" PRIu64 " reloads=%" PRIu64 " reload_failures=%" PRIu64
                      " reloads_coalesced=%" PRIu64 " windows_evicted=%" PRIu64 "\n",
                      t->generation(), t->reloads(), t->reload_failures(), t->reloads_coalesced(),
                      t->windows_evicted());
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
                                                            {"reloads_coalesced", t->reloads_coalesced()},
                                                            {"windows_evicted", t->windows_evicted()}};
        for (const auto &[k, v] : counts) {
            w.Key(k);
            w.Uint64(v);
        }
        w.EndObject();
    }
    w.Key("records");
    w.Uint64(events_written_);
    // Documents that could not be put in packet-time order: came after
    // younger ones had been written, or written early (buffer full).
    w.Key("document_order_late");
    w.Uint64(document_order_.late());
    w.Key("document_order_full");
    w.Uint64(document_order_.full());
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
