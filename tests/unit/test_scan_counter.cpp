// Scan counting on the worker (scan_counter.hpp): what stays on the worker,
// what is handed over and when, its window, its bound, and that the control
// thread's merge of several workers' hand-overs gives the alerts one worker
// gives.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <rte_memory.h>

#include "flowsentry/detections.hpp"
#include "flowsentry/ecs_format.hpp"
#include "flowsentry/scan_counter.hpp"

using namespace flowsentry;

namespace {

constexpr uint64_t kSecond = 1000000000ull;
constexpr uint64_t kT0 = 1700000000ull * kSecond;
constexpr uint64_t kWindow = 60 * kSecond;

ScanSourceKey source_v4(uint32_t a)
{
    ScanSourceKey k{};
    k.ip_version = 4;
    k.addr[0] = static_cast<uint8_t>(a >> 24);
    k.addr[1] = static_cast<uint8_t>(a >> 16);
    k.addr[2] = static_cast<uint8_t>(a >> 8);
    k.addr[3] = static_cast<uint8_t>(a);
    return k;
}

struct Server {
    uint8_t addr[16] = {};
    explicit Server(uint32_t a)
    {
        addr[0] = static_cast<uint8_t>(a >> 24);
        addr[1] = static_cast<uint8_t>(a >> 16);
        addr[2] = static_cast<uint8_t>(a >> 8);
        addr[3] = static_cast<uint8_t>(a);
    }
};

struct Handed {
    ScanHandover h;
    uint32_t server;  // first four bytes, opened only
};

class Recorder final : public ScanHandoverSink {
public:
    void report(const ScanHandover &h) override
    {
        uint32_t server = 0;
        if (h.server != nullptr)
            server = uint32_t(h.server[0]) << 24 | uint32_t(h.server[1]) << 16 | uint32_t(h.server[2]) << 8 |
                     h.server[3];
        got.push_back({h, server});
    }
    std::vector<Handed> got;
};

struct Rig {
    ScanCounters counters;
    ScanCounter scan;
    Recorder out;
    Rig(uint32_t hot_at, uint32_t capacity = 1024) : scan(capacity, kWindow, hot_at, SOCKET_ID_ANY, counters) {}
    void opened(uint32_t src, uint32_t server, uint64_t t, uint16_t cport = 40000)
    {
        const Server s(server);
        scan.opened(source_v4(src), s.addr, cport, 23, t, out);
    }
};

}  // namespace

TEST(ScanCounter, ColdSourceStaysOnTheWorkerUntilHotAt)
{
    Rig c(3);
    c.opened(0x0B000001, 0x0A000001, kT0);
    c.opened(0x0B000001, 0x0A000001, kT0 + 1, 40001);  // the same server again
    c.opened(0x0B000001, 0x0A000002, kT0 + 2);
    EXPECT_TRUE(c.out.got.empty());
    EXPECT_EQ(c.counters.held.get(), 3u);
    c.opened(0x0B000001, 0x0A000003, kT0 + 3);  // the third server: hot
    ASSERT_EQ(c.out.got.size(), 3u);
    EXPECT_EQ(c.out.got[0].server, 0x0A000001u);
    EXPECT_EQ(c.out.got[0].h.count, 2u);  // two SYNs folded into one record
    EXPECT_EQ(c.out.got[0].h.time_ns, kT0);
    EXPECT_FALSE(c.out.got[0].h.current);
    EXPECT_EQ(c.out.got[1].server, 0x0A000002u);
    EXPECT_EQ(c.out.got[2].server, 0x0A000003u);
    EXPECT_TRUE(c.out.got[2].h.current);
    // Hot: every later attempt goes over as it happens.
    c.opened(0x0B000001, 0x0A000001, kT0 + 4);
    ASSERT_EQ(c.out.got.size(), 4u);
    EXPECT_TRUE(c.out.got[3].h.current);
    EXPECT_EQ(c.counters.hot.get(), 1u);
    EXPECT_EQ(c.counters.attempts.get(), 5u);
}

TEST(ScanCounter, FailuresWhileColdGoOverWithTheHeldAttempts)
{
    Rig c(2);
    c.opened(0x0B000002, 0x0A000001, kT0);
    c.scan.failed(source_v4(0x0B000002), HandshakeOutcome::rejected, kT0 + 5, c.out);
    c.scan.failed(source_v4(0x0B000003), HandshakeOutcome::rejected, kT0 + 5, c.out);  // never seen: ignored
    EXPECT_TRUE(c.out.got.empty());
    c.opened(0x0B000002, 0x0A000002, kT0 + 10);
    ASSERT_EQ(c.out.got.size(), 3u);
    EXPECT_EQ(c.out.got[1].h.kind, ScanHandover::Kind::failed);
    EXPECT_EQ(c.out.got[1].h.outcome, HandshakeOutcome::rejected);
    EXPECT_EQ(c.out.got[1].h.count, 1u);
    // Hot now: a failure goes over at once.
    c.scan.failed(source_v4(0x0B000002), HandshakeOutcome::no_reply, kT0 + 20, c.out);
    ASSERT_EQ(c.out.got.size(), 4u);
    EXPECT_EQ(c.out.got[3].h.outcome, HandshakeOutcome::no_reply);
    EXPECT_TRUE(c.out.got[3].h.current);
}

TEST(ScanCounter, OnlyServersWithinTheWindowCount)
{
    Rig c(3);
    c.opened(0x0B000004, 0x0A000001, kT0);
    c.opened(0x0B000004, 0x0A000002, kT0 + 30 * kSecond);
    // The first server's try is more than a window old: two in the window.
    c.opened(0x0B000004, 0x0A000003, kT0 + 61 * kSecond);
    EXPECT_TRUE(c.out.got.empty());
    c.opened(0x0B000004, 0x0A000004, kT0 + 62 * kSecond);
    ASSERT_EQ(c.out.got.size(), 3u);
    EXPECT_EQ(c.out.got[0].server, 0x0A000002u);
}

TEST(ScanCounter, HotSourceCoolsAfterAQuietWindow)
{
    Rig c(2);
    c.opened(0x0B000005, 0x0A000001, kT0);
    c.opened(0x0B000005, 0x0A000002, kT0 + 1);
    ASSERT_EQ(c.out.got.size(), 2u);
    c.opened(0x0B000005, 0x0A000003, kT0 + 2 + kWindow + 1);
    EXPECT_EQ(c.out.got.size(), 2u);  // cold again: held
}

TEST(ScanCounter, WatchHandsOverWhatIsHeldAndAnswersEvenForAnUnknownSource)
{
    Rig c(5);
    c.opened(0x0B000006, 0x0A000001, kT0);
    c.opened(0x0B000006, 0x0A000002, kT0 + 1);
    c.scan.watch(source_v4(0x0B000006), kT0 + 2, c.out);
    ASSERT_EQ(c.out.got.size(), 3u);
    EXPECT_EQ(c.out.got[2].h.kind, ScanHandover::Kind::watched);
    c.opened(0x0B000006, 0x0A000003, kT0 + 3);  // watched: handed over at once
    EXPECT_EQ(c.out.got.size(), 4u);

    c.out.got.clear();
    c.scan.watch(source_v4(0x0B000007), kT0 + 4, c.out);
    ASSERT_EQ(c.out.got.size(), 1u);
    EXPECT_EQ(c.out.got[0].h.kind, ScanHandover::Kind::watched);
    c.opened(0x0B000007, 0x0A000001, kT0 + 5);
    EXPECT_EQ(c.out.got.size(), 2u);
    EXPECT_EQ(c.counters.watches.get(), 2u);
}

TEST(ScanCounter, AMillionSourcesStayWithinTheBoundAndEvictionsAreCounted)
{
    Rig c(5, 1024);
    constexpr uint32_t kSources = 1000000;
    for (uint32_t i = 0; i < kSources; ++i)
        c.opened(0x0B000000 + i, 0x0A000001, kT0 + i);
    EXPECT_TRUE(c.out.got.empty());
    EXPECT_EQ(c.counters.attempts.get(), kSources);
    // 1,024 ways (256 buckets of 4), all in use at the end.
    EXPECT_EQ(c.counters.sources_evicted.get(), kSources - 1024);
    // A recent source is still there: four more servers make it hot.
    for (uint32_t s = 2; s <= 5; ++s)
        c.opened(0x0B000000 + kSources - 1, 0x0A000000 + s, kT0 + kSources + s);
    EXPECT_EQ(c.out.got.size(), 5u);
}

TEST(ScanCounter, TooLargeHotAtIsRefused)
{
    ScanCounters counters;
    EXPECT_THROW(ScanCounter(1024, kWindow, ScanCounter::kHeldAttempts + 2, SOCKET_ID_ANY, counters),
                 std::runtime_error);
}

// ------------------------------------------------ merge across workers

namespace {

// Scan alerts (source, destinations, attempts, destination of the alert)
// for a stream of attempts spread over `workers` counters by (source,
// server) pair, the control thread's Detections taking the hand-overs.
std::vector<std::string> scan_alerts(const std::vector<std::pair<uint32_t, uint32_t>> &attempts, uint32_t workers)
{
    DetectionConfig config;  // 60 s, 5 servers
    Detections d(config);
    EcsContext ctx;
    ctx.observer_hostname = "test";
    ctx.product_version = "0";
    ctx.telnet_ports = {23};
    ctx.address_lists = d.address_lists();
    const EcsFormatter f(ctx);
    const uint32_t hot_at = std::min<uint32_t>(ScanCounter::kHeldAttempts + 1,
                                               (config.scan_destinations + workers - 1) / workers);
    std::vector<std::unique_ptr<ScanCounters>> counters;
    std::vector<std::unique_ptr<ScanCounter>> scans;
    for (uint32_t w = 0; w < workers; ++w) {
        counters.push_back(std::make_unique<ScanCounters>());
        scans.push_back(std::make_unique<ScanCounter>(4096, kWindow, hot_at, SOCKET_ID_ANY, *counters.back()));
    }
    std::string out;
    // Hand-overs become records on per-worker queues; the "control thread"
    // takes them after each attempt, the watched workers answering first.
    std::vector<std::vector<EventRecord>> rings(workers);
    struct ToRing final : ScanHandoverSink {
        std::vector<EventRecord> *ring;
        ScanSourceKey source;
        uint16_t worker;
        void report(const ScanHandover &h) override
        {
            // As the worker makes it; a current attempt's record is its flow's,
            // which for this test says no more than a held one.
            EventRecord r;
            fill_held_attempt(r, source, h, worker);
            record_handover(r, h);
            ring->push_back(r);
        }
    };
    std::vector<ScanSourceKey> watches;
    std::vector<uint16_t> watch_from;
    d.set_scan_watch([&](const EventRecord &first) {
        ScanSourceKey k{};
        std::memcpy(k.addr, first.client_addr, 16);
        k.ip_version = 4;
        watches.push_back(k);
        watch_from.push_back(first.worker_id);
        return Detections::WatchResult{workers - 1, 0};
    });
    if (workers == 1)
        d.set_scan_watch(nullptr);
    uint64_t t = kT0;
    for (const auto &[src, server] : attempts) {
        t += kSecond / 10;
        const uint16_t w = static_cast<uint16_t>((src * 2654435761u ^ server * 40503u) % workers);
        ToRing sink;
        sink.ring = &rings[w];
        sink.source = source_v4(src);
        sink.worker = w;
        const Server s(server);
        scans[w]->opened(sink.source, s.addr, 40000, 23, t, sink);
        // The control thread drains; the workers serve watches it made.
        while (true) {
            bool any = false;
            for (auto &ring : rings) {
                for (const EventRecord &r : ring)
                    d.process(r, f, out);
                any |= !ring.empty();
                ring.clear();
            }
            if (watches.empty() && !any)
                break;
            for (size_t i = 0; i < watches.size(); ++i) {
                for (uint16_t o = 0; o < workers; ++o) {
                    if (o == watch_from[i])
                        continue;
                    ToRing answer;
                    answer.ring = &rings[o];
                    answer.source = watches[i];
                    answer.worker = o;
                    scans[o]->watch(watches[i], t, answer);
                }
            }
            watches.clear();
            watch_from.clear();
        }
    }
    d.finish(f, out);
    std::vector<std::string> alerts;
    size_t at = 0;
    while (at < out.size()) {
        const size_t nl = out.find('\n', at);
        const std::string line = out.substr(at, nl - at);
        at = nl + 1;
        auto field = [&](const std::string &key) {
            const size_t k = line.find(key);
            return k == std::string::npos ? std::string() : line.substr(k, line.find_first_of(",}", k) - k);
        };
        alerts.push_back(field("\"source\":{\"ip\"") + field("\"destination\":{\"ip\"") +
                         field("\"destinations\"") + field("\"attempts\""));
    }
    return alerts;
}

}  // namespace

TEST(ScanMerge, TwoAndFourWorkersGiveTheAlertsOfOne)
{
    // 40 sources: scanners trying 3..12 servers each (some again), mixed
    // in random order, spread by (source, server) pair as RSS spreads them.
    std::mt19937 rng(7);
    std::vector<std::pair<uint32_t, uint32_t>> attempts;
    for (uint32_t s = 0; s < 40; ++s) {
        const uint32_t servers = 3 + s % 10;
        for (uint32_t k = 0; k < servers; ++k)
            attempts.push_back({0x0B000100 + s, 0x0A000000 + (rng() % (servers + 2))});
    }
    std::shuffle(attempts.begin(), attempts.end(), rng);
    const auto one = scan_alerts(attempts, 1);
    EXPECT_GT(one.size(), 10u);
    EXPECT_EQ(scan_alerts(attempts, 2), one);
    EXPECT_EQ(scan_alerts(attempts, 4), one);
}
