// The control thread's work per record, end to end: TelnetControl
// (brute force, signature thresholds) -> Detections (external Telnet,
// once per flow, throttle) -> ECS formatting -> a real file sink (SinkSet,
// its writer thread writing a file under /tmp), in the batches drain() uses.
//
//   build/benchmarks/bench_control_thread [--benchmark_repetitions=5 ...]
//
// Run from the repository root (it loads conf/signatures/telnet.yaml). The
// mix is that of a busy Telnet sensor: every accepted connection gives a
// start document, an accepted-Telnet alert (and, to an outside server, the
// external-Telnet alert), an end document; one in two also a login (a
// credential alert, failed one time in four). Clients come from 2^20
// addresses, servers from 2^16, so the per-key tables are always full.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <unistd.h>

#include "flowsentry/config.hpp"
#include "flowsentry/detections.hpp"
#include "flowsentry/ecs_format.hpp"
#include "flowsentry/inspection_engine.hpp"
#include "flowsentry/login_tracker.hpp"
#include "flowsentry/sinks.hpp"
#include "flowsentry/telnet_control.hpp"
#include "bench_eal.hpp"

using namespace flowsentry;

namespace {

constexpr unsigned kDrainBatch = 256;  // as control.cpp

// The records of connection `n`, appended to `out`.
void connection_records(uint64_t n, std::vector<EventRecord> &out)
{
    EventRecord r;
    std::memset(&r, 0, sizeof r);
    r.ip_version = 4;
    r.l4_proto = 6;
    r.telnet = 1;
    const uint32_t client = 0x0a000000u + static_cast<uint32_t>(n % (1u << 20));       // 10.0.0.0/12
    const uint32_t server = 0x5db80000u + static_cast<uint32_t>((n * 7919) % 65536);  // 93.184.0.0/16
    for (int i = 0; i < 4; ++i) {
        r.client_addr[i] = static_cast<uint8_t>(client >> (24 - 8 * i));
        r.server_addr[i] = static_cast<uint8_t>(server >> (24 - 8 * i));
    }
    r.client_port = static_cast<uint16_t>(32768 + n % 28000);
    r.server_port = 23;
    r.start_ns = 1700000000000000000ull + n * 100000;  // 10 000 connections per second of packet time
    r.time_ns = r.start_ns + 1000;
    r.type = EventType::connection_start;
    out.push_back(r);
    r.type = EventType::alert;
    r.rule = RuleId::accepted_telnet_port;
    out.push_back(r);
    if (n % 2 == 0) {
        r.rule = RuleId::telnet_cleartext_credentials;
        r.time_ns += 2000000000ull;
        r.stream_offset = 40;
        r.login_outcome = static_cast<uint8_t>(n % 8 == 0 ? LoginOutcome::failure : LoginOutcome::success);
        std::memcpy(r.user_name, "admin", 5);
        r.user_name_len = 5;
        out.push_back(r);
        r.user_name_len = 0;
    }
    r.type = EventType::connection_end;
    r.rule = RuleId::none;
    r.time_ns += 3000000000ull;
    r.client_bytes = 1200;
    r.server_bytes = 5400;
    r.client_packets = 14;
    r.server_packets = 12;
    r.end_reason = EndReason::closed;
    out.push_back(r);
}

struct Stage {
    Config config;
    InspectionEngine engine;
    Detections detections;
    EcsFormatter formatter;
    TelnetControl telnet;
    SinkSet sinks;
    std::string path;

    static Config make_config()
    {
        Config c;
        c.inspection.signature_packs = {"conf/signatures/telnet.yaml"};
        return c;
    }
    static std::vector<SinkConfig> file_sink(const std::string &path)
    {
        SinkConfig s;
        s.type = SinkType::file;
        s.path = path;
        s.rotate_bytes = 256u << 20;  // bounded disk use, and rotation is part of the cost
        s.rotate_files = 1;
        return {s};
    }
    EcsContext context()
    {
        EcsContext ctx;
        ctx.observer_hostname = "bench";
        ctx.product_version = "bench";
        ctx.port_names = {"port0"};
        ctx.telnet_ports = {23};
        ctx.address_lists = detections.address_lists();
        const InspectionEngine *e = &engine;
        ctx.signature_rule = [e](uint32_t id) { return e->signatures().rule_for(id); };
        return ctx;
    }

    explicit Stage(const std::string &file)
        : config(make_config()),
          engine(config, 1),
          detections(config.detections),
          formatter(context()),
          telnet(engine, config.inspection.brute_force_failures, config.inspection.brute_force_window_s),
          sinks(file_sink(file), "bench"),
          path(file)
    {
    }
    ~Stage()
    {
        detections.release_tables();
        std::remove(path.c_str());
        std::remove((path + ".1").c_str());
    }
};

void report(benchmark::State &state, Stage &stage, uint64_t records, uint64_t bytes)
{
    state.SetItemsProcessed(static_cast<int64_t>(records));
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    stage.sinks.close();
    const SinkStatus s = stage.sinks.status().at(0);
    const DetectionCounters &d = stage.detections.counters();
    state.counters["alerts"] = benchmark::Counter(static_cast<double>(d.alerts_written), benchmark::Counter::kIsRate);
    state.counters["lines_dropped"] = static_cast<double>(s.lines_dropped);
    state.counters["throttled"] = static_cast<double>(d.alerts_throttled);
}

// What one run measures.
enum Path : int64_t {
    kFormatOnly,   // ECS formatting of every record, nothing else
    kNoSink,       // TelnetControl + Detections + formatting, lines not handed to the sink
    kWholePath,    // the same, and every batch written to the file sink, as drain() does
};

void BM_ControlThread(benchmark::State &state)
{
    const Path path = static_cast<Path>(state.range(0));
    static const char *const labels[] = {"format_only", "no_sink", "whole_path"};
    state.SetLabel(labels[path]);
    Stage stage("/tmp/fs-bench-control-" + std::to_string(getpid()) + ".ndjson");
    std::vector<EventRecord> batch;
    std::string buffer;
    uint64_t n = 0, records = 0, bytes = 0;
    for (auto _ : state) {
        batch.clear();
        while (batch.size() < kDrainBatch)
            connection_records(n++, batch);
        buffer.clear();
        for (const EventRecord &rec : batch) {
            if (path == kFormatOnly)
                stage.formatter.format(rec, buffer);
            else
                stage.telnet.process(rec, [&](const EventRecord &r) { stage.detections.process(r, stage.formatter, buffer); });
        }
        if (path == kWholePath)
            stage.sinks.write(buffer);
        records += batch.size();
        bytes += buffer.size();
    }
    report(state, stage, records, bytes);
}
BENCHMARK(BM_ControlThread)->Arg(kFormatOnly)->Arg(kNoSink)->Arg(kWholePath)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (!flowsentry_bench::start_eal("bench-control", "512"))
        return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    rte_eal_cleanup();
    return 0;
}
