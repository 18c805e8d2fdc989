// Micro-benchmarks of Telnet payload inspection, per byte: the IAC
// normaliser alone, the login tracker alone, and a whole inspected flow
// direction through the payload inspector (in-order delivery →
// normalisation → Hyperscan raw and data streams with the shipped pack →
// login tracking), in-order and with every segment arriving after the one
// behind it (reordered pairs).
// BM_HyperscanOnly is the limit the inspector is measured against: the
// engine's own databases streamed over the same bytes in the same segments
// with nothing else around them.
//
//   build/benchmarks/bench_telnet_inspection [--benchmark_filter=...] [PACK]
//
// PACK defaults to conf/signatures/telnet.yaml (run from the repository
// root). The counters show bytes/s (ns/byte = 1e9 / bytes_per_second),
// the memory one inspected flow costs (`flow_bytes`) and the findings or
// matches of one flow.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <hs/hs.h>

#include "flowsentry/payload_inspector.hpp"

using namespace flowsentry;

namespace {

std::string g_pack = "conf/signatures/telnet.yaml";

// Server output of a busy session: text, prompts and, with `commands`,
// some IAC sequences between the lines (without: a session whose
// negotiation is over, text only).
std::vector<uint8_t> session_bytes(size_t n, bool commands = true)
{
    const std::string line = "drwxr-xr-x    2 root     root          0 Jan  1 00:00 proc\r\n";
    std::vector<uint8_t> out;
    while (out.size() < n) {
        out.insert(out.end(), line.begin(), line.end());
        const uint8_t iac[] = {255, 241, 255, 251, 1, 255, 255};
        if (commands)
            out.insert(out.end(), iac, iac + sizeof iac);
    }
    out.resize(n);
    return out;
}

struct NullSink final : FindingSink {
    size_t findings = 0;
    void report(const Finding &) override { ++findings; }
};

// range(1): 1 with IAC sequences, 0 text only.
void BM_Normalize(benchmark::State &state)
{
    const auto in = session_bytes(static_cast<size_t>(state.range(0)), state.range(1) != 0);
    std::vector<uint8_t> out(in.size());
    TelnetNormalizerState st{};
    TelnetNormalizerCounts counts{};
    for (auto _ : state) {
        benchmark::DoNotOptimize(telnet_normalize(st, in.data(), in.size(), out.data(), counts));
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_Normalize)->Args({1448, 1})->Args({65536, 1})->Args({1448, 0});

struct NullLogins final : LoginSink {
    void login(LoginOutcome, const char *, uint8_t) override {}
};

// The login tracker alone on the server's normalised output, in segments
// of range(0) bytes.
void BM_LoginServerData(benchmark::State &state)
{
    const auto raw = session_bytes(65536);
    std::vector<uint8_t> in(raw.size());
    TelnetNormalizerState nst{};
    TelnetNormalizerCounts counts{};
    in.resize(telnet_normalize(nst, raw.data(), raw.size(), in.data(), counts));
    const size_t seg = static_cast<size_t>(state.range(0));
    NullLogins sink;
    for (auto _ : state) {
        LoginTracker t{};
        for (size_t off = 0; off < in.size(); off += seg)
            login_server_data(t, in.data() + off, std::min(seg, in.size() - off), sink);
        benchmark::DoNotOptimize(t);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(in.size()));
}
BENCHMARK(BM_LoginServerData)->Arg(1448);

// The inspection engine of the whole run, built from the pack once.
const InspectionEngine &shared_engine()
{
    static const InspectionEngine *engine = [] {
        Config config;
        config.inspection.signature_packs = {g_pack};
        config.inspection.flows_per_worker = 16;
        config.inspection.depth_to_client = UINT32_MAX;
        return new InspectionEngine(config, 1);
    }();
    return *engine;
}

int count_match(unsigned int, unsigned long long, unsigned long long, unsigned int, void *ctx)
{
    ++*static_cast<size_t *>(ctx);
    return 0;
}

// Hyperscan streaming alone, what BM_InspectFlow's scans cost with nothing
// around them: the 64 KiB of BM_InspectFlow in segments of range(0) bytes,
// each segment scanned (hs_scan_stream) with the raw database as sent and
// with the data database as the normaliser leaves it (normalised before
// the timing), one stream per database, reset at the end of the flow as
// the inspector does. range(1) picks the databases: 0 both (the limit),
// 1 raw only, 2 data only; range(2): 1 with IAC sequences, 0 text only.
// Bytes/s count the bytes as sent, as BM_InspectFlow does.
void BM_HyperscanOnly(benchmark::State &state)
{
    const InspectionGeneration &gen = *shared_engine().published();
    const size_t seg = static_cast<size_t>(state.range(0));
    const bool scan_raw = state.range(1) != 2, scan_data = state.range(1) != 1;
    const auto bytes = session_bytes(65536, state.range(2) != 0);
    struct Segment {
        const uint8_t *raw;
        size_t raw_len;
        std::vector<uint8_t> data;
    };
    std::vector<Segment> segments;
    TelnetNormalizerState nst{};
    TelnetNormalizerCounts counts{};
    for (size_t off = 0; off < bytes.size(); off += seg) {
        Segment s{bytes.data() + off, std::min(seg, bytes.size() - off), {}};
        s.data.resize(s.raw_len);
        s.data.resize(telnet_normalize(nst, s.raw, s.raw_len, s.data.data(), counts));
        segments.push_back(std::move(s));
    }
    const hs_database_t *raw_db = gen.signatures->database(SignatureStream::raw);
    const hs_database_t *data_db = gen.signatures->database(SignatureStream::data);
    hs_scratch_t *scratch = nullptr;
    hs_stream_t *raw = nullptr, *data = nullptr;
    if (hs_alloc_scratch(raw_db, &scratch) != HS_SUCCESS || hs_alloc_scratch(data_db, &scratch) != HS_SUCCESS ||
        hs_open_stream(raw_db, 0, &raw) != HS_SUCCESS || hs_open_stream(data_db, 0, &data) != HS_SUCCESS) {
        state.SkipWithError("Hyperscan set-up failed");
        return;
    }
    size_t matches = 0;
    for (auto _ : state) {
        for (const Segment &s : segments) {
            if (scan_raw)
                hs_scan_stream(raw, reinterpret_cast<const char *>(s.raw), static_cast<unsigned>(s.raw_len), 0,
                               scratch, count_match, &matches);
            if (scan_data)
                hs_scan_stream(data, reinterpret_cast<const char *>(s.data.data()),
                               static_cast<unsigned>(s.data.size()), 0, scratch, count_match, &matches);
        }
        hs_reset_stream(raw, 0, scratch, count_match, &matches);
        hs_reset_stream(data, 0, scratch, count_match, &matches);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes.size()));
    state.counters["matches"] = static_cast<double>(matches) / static_cast<double>(state.iterations());
    hs_close_stream(raw, nullptr, nullptr, nullptr);
    hs_close_stream(data, nullptr, nullptr, nullptr);
    hs_free_scratch(scratch);
}
BENCHMARK(BM_HyperscanOnly)
    ->Args({1448, 0, 1})
    ->Args({1448, 1, 1})
    ->Args({1448, 2, 1})
    ->Args({64, 0, 1})
    ->Args({1448, 0, 0});

// One flow, server to client, in segments of range(0) bytes, up to 64 KiB
// (the default depth); range(1): swap each pair of segments; range(2): 1
// with IAC sequences, 0 text only.
void BM_InspectFlow(benchmark::State &state)
{
    WorkerCounters counters;
    PayloadInspector inspector(shared_engine(), 0, counters);
    const size_t seg = static_cast<size_t>(state.range(0));
    const bool swap_pairs = state.range(1) != 0;
    const auto bytes = session_bytes(65536, state.range(2) != 0);
    NullSink sink;
    for (auto _ : state) {
        Flow flow{};
        flow.tcp.client_is_lo = 1;
        flow.tcp.client_isn = 1000;
        flow.tcp.server_isn = 5000;
        flow.tcp.accepted_once = 1;
        flow.tcp.state = TcpState::established;
        DecodedPacket pkt{};
        std::vector<size_t> order;
        for (size_t off = 0; off < bytes.size(); off += seg)
            order.push_back(off);
        if (swap_pairs)
            for (size_t i = 0; i + 1 < order.size(); i += 2)
                std::swap(order[i], order[i + 1]);
        for (size_t off : order) {
            pkt.seq = 5001 + static_cast<uint32_t>(off);
            pkt.payload_len = static_cast<uint16_t>(std::min(seg, bytes.size() - off));
            inspector.on_segment(flow, pkt, bytes.data() + off, false, true, sink);
        }
        inspector.on_flow_end(flow, sink);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes.size()));
    state.counters["flow_bytes"] = static_cast<double>(inspector.bytes_per_flow());
    state.counters["findings"] = static_cast<double>(sink.findings) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_InspectFlow)
    ->Args({1448, 0, 1})
    ->Args({1448, 1, 1})
    ->Args({64, 0, 1})
    ->Args({1, 0, 1})
    ->Args({1448, 0, 0});

}  // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (argc > 1)
        g_pack = argv[1];
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
