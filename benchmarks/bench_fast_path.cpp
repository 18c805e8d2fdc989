// Micro-benchmarks of the fast path, stage by stage, on frames of a real
// (generated) capture: decode (and decode per encapsulation), flow key + hash, flow-table lookup and
// insert, handshake step, the whole worker pipeline per packet; and, for
// the control thread, ECS formatting and Community ID. BM_PortPoll measures
// a real pcap port looping over the capture in one process: receive only
// (testpmd rxonly's work), the least a connection tracker does (two ways),
// and the worker.
//
//   build/benchmarks/bench_fast_path [--benchmark_filter=...] [CAPTURE]
//
// CAPTURE defaults to tests/data/many_flows.pcap (run from the repository
// root). The EAL is started with --no-huge --no-pci for rte_hash/rte_ring.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "flowsentry/community_id.hpp"
#include "flowsentry/decode.hpp"
#include "flowsentry/ecs_format.hpp"
#include "flowsentry/flow_key.hpp"
#include "flowsentry/flow_table.hpp"
#include "flowsentry/rx_port.hpp"
#include "flowsentry/rx_spreader.hpp"
#include "flowsentry/tcp_handshake.hpp"
#include "flowsentry/worker.hpp"
#include "../tests/unit/worker_harness.hpp"
#include "bench_eal.hpp"

using namespace flowsentry;

namespace {

using flowsentry_test::Frame;

std::vector<Frame> g_frames;
std::string g_capture;

// Decoded TCP packets of the capture, for the stages after decode.
std::vector<DecodedPacket> decoded_tcp()
{
    std::vector<DecodedPacket> out;
    for (const Frame &f : g_frames) {
        DecodedPacket pkt;
        if (decode_packet(f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), pkt) == DecodeResult::ok &&
            pkt.l4_proto == 6)
            out.push_back(pkt);
    }
    return out;
}

void BM_Decode(benchmark::State &state)
{
    DecodedPacket pkt;
    size_t i = 0;
    for (auto _ : state) {
        const Frame &f = g_frames[i];
        benchmark::DoNotOptimize(decode_packet(f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), pkt));
        i = i + 1 == g_frames.size() ? 0 : i + 1;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decode);

// Decode cost per encapsulation: the frames of one capture each, the same
// Telnet session plain and inside each tunnel (scripts/gen-tunnel-captures.py).
// Run from the repository root.
struct LayerCase {
    const char *label;
    const char *capture;
};
const LayerCase kLayerCases[] = {
    {"plain", "ipv4_telnet_basic"},       {"mpls_2_labels", "tunnel_mpls"},
    {"gre_key", "tunnel_gre_key"},        {"erspan2", "tunnel_erspan2"},
    {"erspan3_platform", "tunnel_erspan3"}, {"vxlan", "tunnel_vxlan_tenants"},
    {"geneve_options", "tunnel_geneve"},  {"ipv6_in_ipv4", "tunnel_ipv6_in_ipv4"},
};

void BM_DecodeLayer(benchmark::State &state)
{
    const LayerCase &lc = kLayerCases[state.range(0)];
    state.SetLabel(lc.label);
    const std::vector<Frame> frames =
        flowsentry_test::read_frames(std::string("tests/data/") + lc.capture + ".pcap");
    DecodedPacket pkt;
    for (const Frame &f : frames)
        if (decode_packet(f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), pkt) != DecodeResult::ok) {
            state.SkipWithError("a frame does not decode");
            return;
        }
    size_t i = 0;
    for (auto _ : state) {
        const Frame &f = frames[i];
        benchmark::DoNotOptimize(decode_packet(f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), pkt));
        i = i + 1 == frames.size() ? 0 : i + 1;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeLayer)->DenseRange(0, sizeof kLayerCases / sizeof kLayerCases[0] - 1);

void BM_FlowKeyAndHash(benchmark::State &state)
{
    const auto pkts = decoded_tcp();
    FlowKey key;
    bool lo;
    size_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(make_flow_key(pkts[i], key, lo));  // the key and its hash, as the worker makes them
        i = i + 1 == pkts.size() ? 0 : i + 1;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowKeyAndHash);

FlowTableParams table_params(const char *name, uint32_t capacity)
{
    FlowTableParams p{};
    p.name = name;
    p.capacity = capacity;
    for (uint64_t &t : p.timeout_ns)
        t = 3600ull * 1000000000ull;
    p.socket_id = 0;
    return p;
}

// Lookups that hit, in a table of state.range(0) flows.
void BM_FlowTableLookupHit(benchmark::State &state)
{
    const uint32_t n = static_cast<uint32_t>(state.range(0));
    static int instance = 0;
    const std::string name = "bench_lookup_" + std::to_string(instance++);
    // What the table takes from DPDK's heap (flow state, rte_hash key store,
    // buckets, free-slot rings), per flow of capacity.
    rte_malloc_socket_stats before{}, after{};
    rte_malloc_get_socket_stats(0, &before);
    FlowTable table(table_params(name.c_str(), n));
    rte_malloc_get_socket_stats(0, &after);
    state.counters["table_bytes_per_flow"] =
        static_cast<double>(after.heap_allocsz_bytes - before.heap_allocsz_bytes) / n;
    std::vector<FlowKey> keys(n);
    std::vector<uint32_t> hashes(n);
    for (uint32_t i = 0; i < n; ++i) {
        std::memset(&keys[i], 0, sizeof(FlowKey));
        std::memcpy(keys[i].addr_lo, &i, sizeof(i));
        keys[i].port_hi = 23;
        keys[i].ip_version = 4;
        keys[i].l4_proto = 6;
        hashes[i] = flow_key_hash(keys[i]);
        table.insert(keys[i], hashes[i], 0, [](Flow &, const FlowKey &) {});
    }
    uint32_t i = 0;
    for (auto _ : state) {
        benchmark::DoNotOptimize(table.lookup(keys[i], hashes[i]));
        i = i + 1 == n ? 0 : i + 1;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowTableLookupHit)->Arg(1024)->Arg(1 << 20);

// Insert into a full table: every insert evicts the least recently seen flow.
void BM_FlowTableInsertEvict(benchmark::State &state)
{
    const uint32_t n = 65536;
    FlowTable table(table_params("bench_evict", n));
    FlowKey key;
    std::memset(&key, 0, sizeof(key));
    key.ip_version = 4;
    key.l4_proto = 6;
    uint32_t i = 0;
    uint64_t evicted = 0;
    for (auto _ : state) {
        std::memcpy(key.addr_lo, &i, sizeof(i));
        table.insert(key, flow_key_hash(key), i, [&](Flow &, const FlowKey &) { ++evicted; });
        ++i;
    }
    benchmark::DoNotOptimize(evicted);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowTableInsertEvict);

void BM_HandshakeStep(benchmark::State &state)
{
    DecodedPacket syn{}, synack{}, ack{};
    syn.tcp_flags = tcp_flag::syn;
    syn.seq = 1000;
    synack.tcp_flags = tcp_flag::syn | tcp_flag::ack;
    synack.seq = 5000;
    synack.ack = 1001;
    ack.tcp_flags = tcp_flag::ack;
    ack.seq = 1001;
    ack.ack = 5001;
    for (auto _ : state) {
        TcpConnection c{};
        tcp_track(c, syn, true);
        tcp_track(c, synack, false);
        benchmark::DoNotOptimize(tcp_track(c, ack, true));
    }
    state.SetItemsProcessed(state.iterations() * 3);
}
BENCHMARK(BM_HandshakeStep);

// The whole worker pipeline per packet (decode, flow table, handshake,
// records into the ring, drained outside the timed region).
void BM_WorkerPipeline(benchmark::State &state)
{
    Config config;
    config.flow_table.capacity = 1 << 16;
    config.alert_ring_size = 1 << 16;
    const WorkerSettings settings = make_worker_settings(config);
    static uint16_t next_id = 100;
    Worker worker(next_id++, config, settings, 0);
    uint64_t base = 0;
    size_t i = 0;
    EventRecord drained[256];
    for (auto _ : state) {
        const Frame &f = g_frames[i];
        worker.handle_frame(f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), base + f.time_ns, 0);
        if (++i == g_frames.size()) {
            // Replay the capture shifted in time so flows are new again.
            i = 0;
            base += 7200ull * 1000000000ull;
            state.PauseTiming();
            worker.expire(base);
            while (rte_ring_sc_dequeue_burst_elem(worker.events(), drained, sizeof(EventRecord), 256, nullptr))
                ;
            state.ResumeTiming();
        }
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_WorkerPipeline);

// The worker's share of the poll loop per packet, on mbufs holding the
// capture's frames, in a table sized like scripts/bench.sh's (twice the
// capture's flows): Arg 0 one frame at a time through handle_frame (the
// path before burst processing), Arg 1 bursts of 32 through receive_burst
// (decode all, bulk lookup, then handle in order). Loops over the capture
// like the pcap PMD's infinite_rx; the PMD's own cost is not included.
void BM_WorkerPoll(benchmark::State &state)
{
    constexpr uint16_t kBurst = 32;
    size_t longest = 0;
    for (const Frame &f : g_frames)
        longest = std::max(longest, f.bytes.size());
    static int instance = 0;
    const std::string pool_name = "bench_poll_" + std::to_string(instance++);
    rte_mempool *pool = rte_pktmbuf_pool_create(pool_name.c_str(), static_cast<unsigned>(g_frames.size()), 0, 0,
                                                static_cast<uint16_t>(RTE_PKTMBUF_HEADROOM + longest), SOCKET_ID_ANY);
    if (pool == nullptr) {
        state.SkipWithError("cannot create the mbuf pool");
        return;
    }
    std::vector<rte_mbuf *> mbufs;
    for (const Frame &f : g_frames) {
        rte_mbuf *m = rte_pktmbuf_alloc(pool);
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.bytes.size())), f.bytes.data(), f.bytes.size());
        mbufs.push_back(m);
    }
    Config config;
    config.flow_table.capacity = std::max<uint32_t>(131072, 2 * static_cast<uint32_t>(g_frames.size()));
    config.alert_ring_size = 1 << 16;
    const WorkerSettings settings = make_worker_settings(config);
    static uint16_t next_id = 300;
    auto worker = std::make_unique<Worker>(next_id++, config, settings, 0);
    const RxQueue queue{0, 0, false};
    const bool bursts = state.range(0) != 0;
    EventRecord drained[256];
    size_t i = 0;
    uint64_t packets = 0;
    for (auto _ : state) {
        const uint16_t n = static_cast<uint16_t>(std::min<size_t>(kBurst, mbufs.size() - i));
        if (bursts) {
            worker->receive_burst(mbufs.data() + i, n, queue);
        } else {
            for (uint16_t k = 0; k < n; ++k) {
                const rte_mbuf *m = mbufs[i + k];
                worker->handle_frame(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, 0, 0);
            }
        }
        packets += n;
        i = i + n == mbufs.size() ? 0 : i + n;
        // The control thread drains the ring meanwhile; here, between bursts.
        while (rte_ring_sc_dequeue_burst_elem(worker->events(), drained, sizeof(EventRecord), 256, nullptr))
            ;
    }
    state.SetItemsProcessed(static_cast<int64_t>(packets));
    state.SetLabel(bursts ? "bursts" : "frame by frame");
    worker.reset();
    for (rte_mbuf *m : mbufs)
        rte_pktmbuf_free(m);
    rte_mempool_free(pool);
}
BENCHMARK(BM_WorkerPoll)->Arg(0)->Arg(1);

// The least a TCP connection tracker does per packet, as the floor the
// worker is measured against: Ethernet/IPv4/TCP read at fixed offsets (no
// VLAN, IPv6, options or fragments), one CRC32-C over the
// direction-independent 5-tuple, and per flow its packets, last time and
// TCP flags in one cache line (no eviction, timeouts, handshake or
// detection). Bursts are pipelined like the worker's: hash all and
// prefetch, then update. Flows are found one of two ways:
//   direct:  open addressing over the flows themselves: one line per packet;
//   indexed: open addressing over 4-byte flow numbers, then the flow: two
//            dependent lines per packet, the reads of flowsentry's table
//            (bucket, then flow), with the flow's prefetch between them.
class MinimalTracker {
public:
    MinimalTracker(uint32_t capacity, bool indexed) : indexed_(indexed)
    {
        slots_ = 1;
        while (slots_ < capacity)
            slots_ <<= 1;
        flows_ = static_cast<Slot *>(rte_zmalloc("minimal_tracker", sizeof(Slot) * uint64_t{slots_}, 64));
        if (indexed)
            index_ = static_cast<uint32_t *>(rte_zmalloc("minimal_index", sizeof(uint32_t) * uint64_t{slots_}, 64));
        if (flows_ == nullptr || (indexed && index_ == nullptr))
            throw std::runtime_error("minimal tracker: out of DPDK memory");
    }
    ~MinimalTracker()
    {
        rte_free(flows_);
        rte_free(index_);
    }
    MinimalTracker(const MinimalTracker &) = delete;
    MinimalTracker &operator=(const MinimalTracker &) = delete;

    void track(rte_mbuf *const *pkts, uint16_t n)
    {
        struct Ref {
            uint64_t lo, hi;
            uint32_t hash;
            uint8_t flags;
            bool tcp;
        } refs[64];
        for (uint16_t i = 0; i < n; ++i) {
            const uint8_t *p = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
            Ref &r = refs[i];
            r.tcp = pkts[i]->data_len >= 54 && p[12] == 0x08 && p[13] == 0x00 && p[14] == 0x45 && p[23] == 6;
            if (!r.tcp)
                continue;
            uint32_t src, dst;
            uint16_t sport, dport;
            std::memcpy(&src, p + 26, 4);
            std::memcpy(&dst, p + 30, 4);
            std::memcpy(&sport, p + 34, 2);
            std::memcpy(&dport, p + 36, 2);
            const uint64_t a = uint64_t{src} << 16 | sport, b = uint64_t{dst} << 16 | dport;
            r.lo = a < b ? a : b;
            r.hi = a < b ? b : a;
            r.hash = rte_hash_crc_8byte(r.hi, rte_hash_crc_8byte(r.lo, 6));
            r.flags = p[47];
            if (indexed_)
                rte_prefetch0(&index_[r.hash & (slots_ - 1)]);
            else
                rte_prefetch0(&flows_[r.hash & (slots_ - 1)]);
        }
        if (indexed_)
            for (uint16_t i = 0; i < n; ++i)
                if (refs[i].tcp && index_[refs[i].hash & (slots_ - 1)] != 0)
                    rte_prefetch0(&flows_[index_[refs[i].hash & (slots_ - 1)] - 1]);
        const uint64_t now = rte_rdtsc();
        for (uint16_t i = 0; i < n; ++i) {
            const Ref &r = refs[i];
            if (!r.tcp)
                continue;
            Slot &s = indexed_ ? indexed_slot(r.lo, r.hi, r.hash) : direct_slot(r.lo, r.hi, r.hash);
            ++s.packets;
            s.last_tsc = now;
            s.flags |= r.flags;
        }
    }
    uint64_t flows() const { return flows_used_; }

private:
    struct alignas(64) Slot {
        uint64_t lo, hi;
        uint64_t packets;
        uint64_t last_tsc;
        uint8_t flags;
    };
    static bool holds(const Slot &s, uint64_t lo, uint64_t hi) { return s.lo == lo && s.hi == hi; }

    Slot &direct_slot(uint64_t lo, uint64_t hi, uint32_t hash)
    {
        uint32_t at = hash & (slots_ - 1);
        while (flows_[at].packets != 0 && !holds(flows_[at], lo, hi))
            at = (at + 1) & (slots_ - 1);
        if (flows_[at].packets == 0)
            ++flows_used_;
        flows_[at].lo = lo;
        flows_[at].hi = hi;
        return flows_[at];
    }
    Slot &indexed_slot(uint64_t lo, uint64_t hi, uint32_t hash)
    {
        uint32_t at = hash & (slots_ - 1);
        while (index_[at] != 0 && !holds(flows_[index_[at] - 1], lo, hi))
            at = (at + 1) & (slots_ - 1);
        if (index_[at] == 0) {
            index_[at] = static_cast<uint32_t>(++flows_used_);
            flows_[flows_used_ - 1].lo = lo;
            flows_[flows_used_ - 1].hi = hi;
        }
        return flows_[index_[at] - 1];
    }

    const bool indexed_;
    Slot *flows_ = nullptr;
    uint32_t *index_ = nullptr;
    uint32_t slots_;
    uint64_t flows_used_ = 0;
};

// A pcap port looping over the capture (infinite_rx=1), set up by
// flowsentry's own setup_rx_ports, once for every BM_PortPoll.
uint16_t bench_port()
{
    static int port = -1;
    if (port >= 0)
        return static_cast<uint16_t>(port);
    const std::string devargs = "net_pcap_bench,rx_pcap=" + g_capture + ",infinite_rx=1";
    if (rte_dev_probe(devargs.c_str()) != 0)
        throw std::runtime_error("cannot create the pcap port on " + g_capture);
    Config config;
    config.mempool_mbufs = static_cast<uint32_t>(g_frames.size()) + 16384;
    config.link_up_timeout_s = 0;
    static std::vector<rte_mempool *> pools;
    const std::vector<RxPort> ports = setup_rx_ports(config, pools);
    port = ports.at(0).port_id;
    return static_cast<uint16_t>(port);
}

// Per packet on a real pcap port looping over the capture, in bursts of 32
// received and freed: Arg 0 receive only (what testpmd --forward-mode=rxonly
// does), Arg 1 the MinimalTracker direct, Arg 3 indexed, Arg 2 the worker's
// receive_burst (Worker::poll's work; its expiry step between polls is left
// out, as in BM_WorkerPoll). Tables hold twice the capture's frames, at
// least 131072 (scripts/bench.sh's size for a capture of distinct SYNs); one
// run gives the ratios to receive only.
void BM_PortPoll(benchmark::State &state)
{
    constexpr uint16_t kBurst = 32;
    uint16_t port;
    try {
        port = bench_port();
    } catch (const std::exception &e) {
        state.SkipWithError(e.what());
        return;
    }
    const uint32_t capacity = std::max<uint32_t>(131072, 2 * static_cast<uint32_t>(g_frames.size()));
    Config config;
    config.flow_table.capacity = capacity;
    config.alert_ring_size = 1 << 16;
    const WorkerSettings settings = make_worker_settings(config);
    static uint16_t next_id = 400;
    std::unique_ptr<Worker> worker;
    std::unique_ptr<MinimalTracker> tracker;
    if (state.range(0) == 1 || state.range(0) == 3)
        tracker = std::make_unique<MinimalTracker>(capacity, state.range(0) == 3);
    if (state.range(0) == 2)
        worker = std::make_unique<Worker>(next_id++, config, settings, 0);
    const RxQueue queue{port, 0, false};
    rte_mbuf *burst[kBurst];
    EventRecord drained[256];
    uint64_t packets = 0, cycles = 0;
    for (auto _ : state) {
        const uint16_t n = rte_eth_rx_burst(port, 0, burst, kBurst);
        const uint64_t start = rte_rdtsc();
        if (tracker)
            tracker->track(burst, n);
        if (worker)
            worker->receive_burst(burst, n, queue);
        rte_pktmbuf_free_bulk(burst, n);
        cycles += rte_rdtsc() - start;
        packets += n;
        if (worker)
            while (rte_ring_sc_dequeue_burst_elem(worker->events(), drained, sizeof(EventRecord), 256, nullptr))
                ;
    }
    state.SetItemsProcessed(static_cast<int64_t>(packets));
    // After the receive, as the worker's busy_cycles (scripts/bench.sh's
    // cycles/packet) count them.
    state.counters["cycles_per_packet"] = static_cast<double>(cycles) / static_cast<double>(std::max<uint64_t>(packets, 1));
    static const char *const kLabels[] = {"receive only", "minimal tracker", "worker", "minimal tracker, indexed"};
    state.SetLabel(kLabels[state.range(0)]);
    if (tracker)
        state.counters["flows"] = static_cast<double>(tracker->flows());
    if (worker)
        state.counters["flows"] = static_cast<double>(worker->counters().flows_created.get());
}
BENCHMARK(BM_PortPoll)->Arg(0)->Arg(1)->Arg(2)->Arg(3);

// The software spreading path's extra cost per packet: the spreading
// lcore's decode, flow hash and ring enqueue, and the worker's ring dequeue
// (both on this thread; across cores add the cache-line transfers).
void BM_SpreadingPath(benchmark::State &state)
{
    constexpr uint16_t kBurst = 32;
    static rte_mempool *pool =
        rte_pktmbuf_pool_create("bench_spread", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    std::vector<rte_mbuf *> mbufs;
    for (const Frame &f : g_frames) {
        rte_mbuf *m = pool != nullptr ? rte_pktmbuf_alloc(pool) : nullptr;
        if (m == nullptr || f.bytes.size() > rte_pktmbuf_tailroom(m)) {
            state.SkipWithError("cannot fill mbufs");
            rte_pktmbuf_free(m);
            break;
        }
        std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.bytes.size())), f.bytes.data(), f.bytes.size());
        mbufs.push_back(m);
    }
    RxSpreader spreader(static_cast<uint16_t>(state.range(0)), 1024, kBurst, SOCKET_ID_ANY);
    void *taken[kBurst];
    size_t i = 0, packets = 0;
    for (auto _ : state) {
        if (mbufs.empty())
            break;
        const uint16_t n = static_cast<uint16_t>(std::min<size_t>(kBurst, mbufs.size() - i));
        spreader.spread(mbufs.data() + i, n);
        for (uint16_t w = 0; w < spreader.workers(); ++w)
            while (rte_ring_sc_dequeue_burst(spreader.ring(w), taken, kBurst, nullptr) != 0) {
            }
        packets += n;
        i = i + n == mbufs.size() ? 0 : i + n;
    }
    state.SetItemsProcessed(static_cast<int64_t>(packets));
    for (rte_mbuf *m : mbufs)
        rte_pktmbuf_free(m);
}
BENCHMARK(BM_SpreadingPath)->Arg(2)->Arg(4);

EventRecord sample_record(EventType type)
{
    EventRecord r{};
    r.type = type;
    r.time_ns = 1700000000123456000ull;
    r.start_ns = 1700000000000000000ull;
    const uint8_t c[4] = {10, 1, 2, 3}, s[4] = {93, 184, 216, 34};
    std::memcpy(r.client_addr, c, 4);
    std::memcpy(r.server_addr, s, 4);
    r.client_port = 51000;
    r.server_port = 23;
    r.ip_version = 4;
    r.l4_proto = 6;
    r.rule = type == EventType::alert ? RuleId::accepted_telnet_port : RuleId::none;
    return r;
}

void BM_EcsFormat(benchmark::State &state)
{
    EcsContext ctx;
    ctx.observer_hostname = "sensor-1";
    ctx.product_version = "0.1.0";
    ctx.port_names = {"uplink0"};
    ctx.telnet_ports = {23};
    const EcsFormatter formatter(ctx);
    const EventRecord rec = sample_record(static_cast<EventType>(state.range(0)));
    std::string out;
    for (auto _ : state) {
        out.clear();
        formatter.format(rec, out);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetItemsProcessed(state.iterations());
    state.SetLabel(state.range(0) == 0 ? "connection_start" : state.range(0) == 1 ? "connection_end" : "alert");
}
BENCHMARK(BM_EcsFormat)->Arg(0)->Arg(1)->Arg(2);

void BM_CommunityId(benchmark::State &state)
{
    const uint8_t c[4] = {10, 1, 2, 3}, s[4] = {93, 184, 216, 34};
    for (auto _ : state)
        benchmark::DoNotOptimize(community_id_v1(0, 4, c, s, 6, 51000, 23));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CommunityId);

}  // namespace

int main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    g_capture = argc > 1 ? argv[1] : "tests/data/many_flows.pcap";

    // BM_PortPoll's pcap port holds every frame of the capture in an mbuf.
    if (!flowsentry_bench::start_eal("bench", "6144"))
        return 1;
    try {
        g_frames = flowsentry_test::read_frames(g_capture);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "bench: %s\n", e.what());
        return 1;
    }
    if (g_frames.empty()) {
        std::fprintf(stderr, "bench: %s has no frames\n", g_capture.c_str());
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    rte_eal_cleanup();
    return 0;
}
