// IP reassembly cost per fragment (Google Benchmark): one datagram of 2960
// bytes of TCP data cut at several fragment sizes, in order and reversed,
// and a flood of first fragments that never complete (each one evicts the
// oldest datagram of a full table). Fragments are decoded once beforehand:
// what is measured is IpReassembler::add, plus building the whole frame on
// the fragment that completes it. The decode of each fragment is
// BM_Decode's cost (bench_fast_path).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "flowsentry/decode.hpp"
#include "flowsentry/ip_reassembly.hpp"

using namespace flowsentry;

namespace {

constexpr uint32_t kDatagramData = 2960;  // two 1500-byte MTU fragments' worth

struct Fragment {
    std::vector<uint8_t> frame;
    DecodedPacket pkt;
};

// Ethernet + IPv4 fragment of datagram `id` carrying [offset, offset + len).
std::vector<uint8_t> ipv4_fragment(uint16_t id, uint32_t offset, uint32_t len, bool more)
{
    std::vector<uint8_t> b = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0};
    const uint32_t total = 20 + len, flags = (more ? 0x2000 : 0) | offset / 8;
    b.insert(b.end(), {static_cast<uint8_t>(total >> 8), static_cast<uint8_t>(total), static_cast<uint8_t>(id >> 8),
                       static_cast<uint8_t>(id), static_cast<uint8_t>(flags >> 8), static_cast<uint8_t>(flags), 64,
                       6, 0, 0, 192, 0, 2, 1, 10, 0, 0, 23});
    for (uint32_t i = 0; i < len; ++i)
        b.push_back(static_cast<uint8_t>(offset + i < 20 ? (offset + i == 12 ? 0x50 : 0) : 'a' + (offset + i) % 26));
    return b;
}

std::vector<Fragment> cut(uint32_t size, bool reversed)
{
    std::vector<Fragment> out;
    for (uint32_t o = 0; o < kDatagramData; o += size) {
        const uint32_t n = std::min(size, kDatagramData - o);
        Fragment f;
        f.frame = ipv4_fragment(7, o, n, o + n < kDatagramData);
        decode_packet(f.frame.data(), static_cast<uint32_t>(f.frame.size()), f.pkt);
        out.push_back(std::move(f));
    }
    if (reversed)
        std::reverse(out.begin(), out.end());
    return out;
}

void reassemble(benchmark::State &state, bool reversed)
{
    const std::vector<Fragment> frags = cut(static_cast<uint32_t>(state.range(0)), reversed);
    DefragCounters counters;
    IpReassembler r(DefragLimits{}, counters);
    uint64_t n = 0;
    for (auto _ : state) {
        for (const Fragment &f : frags) {
            const ReassembledFrame out = r.add(f.frame.data(), static_cast<uint32_t>(f.frame.size()), f.pkt, n);
            benchmark::DoNotOptimize(out.data);
        }
        ++n;
    }
    if (counters.reassembled.get() != n)
        state.SkipWithError("a datagram did not complete");
    state.SetItemsProcessed(static_cast<int64_t>(n * frags.size()));
    state.counters["fragments"] = static_cast<double>(frags.size());
}

void BM_DefragInOrder(benchmark::State &state) { reassemble(state, false); }
BENCHMARK(BM_DefragInOrder)->Arg(1480)->Arg(512)->Arg(64);

void BM_DefragReversed(benchmark::State &state) { reassemble(state, true); }
BENCHMARK(BM_DefragReversed)->Arg(1480)->Arg(512)->Arg(64);

// Every fragment a new datagram's first one, the table full: each costs a
// lookup miss, an eviction (blocks freed) and an insertion (blocks taken).
void BM_DefragFloodEvicting(benchmark::State &state)
{
    std::vector<Fragment> frags(65536);
    for (uint32_t id = 0; id < frags.size(); ++id) {
        frags[id].frame = ipv4_fragment(static_cast<uint16_t>(id), 0, 64, true);
        decode_packet(frags[id].frame.data(), static_cast<uint32_t>(frags[id].frame.size()), frags[id].pkt);
    }
    DefragLimits limits;
    limits.max_datagrams = static_cast<uint32_t>(state.range(0));
    DefragCounters counters;
    IpReassembler r(limits, counters);
    size_t i = 0;
    for (auto _ : state) {
        const Fragment &f = frags[i++ & 0xFFFF];
        benchmark::DoNotOptimize(r.add(f.frame.data(), static_cast<uint32_t>(f.frame.size()), f.pkt, 0).data);
    }
    state.SetItemsProcessed(static_cast<int64_t>(i));
    state.counters["evicted"] = static_cast<double>(counters.evicted.get());
}
BENCHMARK(BM_DefragFloodEvicting)->Arg(4096);

}  // namespace

BENCHMARK_MAIN();
