// The worker's burst path (decode a whole burst, look its flows up in bulk,
// then handle each packet in order) against the one-frame path
// (Worker::handle_frame), on the hazards of looking up before handling: a
// flow created by an earlier packet of the same burst, a flow evicted by an
// earlier packet and seen again (its slot possibly reused by another key),
// and a connection reusing its ports within one burst. The burst path is
// driven through a spreading ring, as the spreading lcore feeds a worker;
// frames carry their capture time in the RX timestamp field as the pcap PMD
// sets it.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "flowsentry/worker.hpp"
#include "worker_harness.hpp"

using namespace flowsentry;
using namespace flowsentry_test;

namespace {

constexpr uint64_t kSecond = 1000000000ull;

// An Ethernet/IPv4/TCP frame without payload, padded to 60 bytes. Times
// are whole microseconds: the RX timestamp field carries no more.
Frame tcp_frame(uint64_t time_ns, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t flags,
                uint32_t seq, uint32_t ack)
{
    std::vector<uint8_t> b(60, 0);
    const uint8_t macs[12] = {0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1};
    std::memcpy(b.data(), macs, sizeof macs);
    b[12] = 0x08;
    b[13] = 0x00;
    uint8_t *ip = b.data() + 14;
    ip[0] = 0x45;
    ip[3] = 40;  // total length
    ip[8] = 64;  // TTL
    ip[9] = IPPROTO_TCP;
    auto put32 = [](uint8_t *p, uint32_t v) {
        p[0] = static_cast<uint8_t>(v >> 24);
        p[1] = static_cast<uint8_t>(v >> 16);
        p[2] = static_cast<uint8_t>(v >> 8);
        p[3] = static_cast<uint8_t>(v);
    };
    put32(ip + 12, src);
    put32(ip + 16, dst);
    uint8_t *tcp = ip + 20;
    tcp[0] = static_cast<uint8_t>(sport >> 8);
    tcp[1] = static_cast<uint8_t>(sport);
    tcp[2] = static_cast<uint8_t>(dport >> 8);
    tcp[3] = static_cast<uint8_t>(dport);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 0x50;
    tcp[13] = flags;
    tcp[14] = 0xff;
    return {time_ns, b};
}

constexpr uint32_t kClient = 0x0a000001;  // 10.0.0.1
constexpr uint32_t kServer = 0xc0a80001;  // 192.168.0.1

Frame syn(uint64_t t, uint16_t sport, uint32_t isn)
{
    return tcp_frame(t, kClient, sport, kServer, 23, tcp_flag::syn, isn, 0);
}

Frame synack(uint64_t t, uint16_t sport, uint32_t client_isn)
{
    return tcp_frame(t, kServer, 23, kClient, sport, tcp_flag::syn | tcp_flag::ack, 7000, client_isn + 1);
}

// What a worker did with a capture: its records (worker id cleared, since
// the two paths run on two workers) and the counters the hazards touch.
struct Outcome {
    std::vector<EventRecord> records;
    std::vector<EventRecord> scan_records;
    uint64_t created, evicted, reused, tcp_packets;
    uint64_t outcomes[static_cast<int>(HandshakeOutcome::count_)];
};

class WorkerBurstTest : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        pool_ = rte_pktmbuf_pool_create("test_bursts", 8191, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
        ASSERT_NE(pool_, nullptr);
        ASSERT_EQ(rte_mbuf_dyn_rx_timestamp_register(&ts_offset_, &ts_flag_), 0);
    }

    std::unique_ptr<Worker> make()
    {
        static uint16_t next_id = 200;
        settings_ = make_worker_settings(config_);
        return std::make_unique<Worker>(next_id++, config_, settings_, 0);
    }

    static Outcome outcome_of(Worker &w)
    {
        Outcome o{};
        o.records = drain(w);
        o.scan_records = flowsentry_test::drain_scan(w);
        for (EventRecord &r : o.records)
            r.worker_id = 0;
        for (EventRecord &r : o.scan_records)
            r.worker_id = 0;
        const WorkerCounters &c = w.counters();
        o.created = c.flows_created.get();
        o.evicted = c.flows_evicted.get();
        o.reused = c.flows_reused.get();
        o.tcp_packets = c.tcp_packets.get();
        for (int i = 0; i < static_cast<int>(HandshakeOutcome::count_); ++i)
            o.outcomes[i] = c.handshake[i].get();
        return o;
    }

    // Frame by frame through handle_frame, then flushed.
    Outcome one_by_one(const std::vector<Frame> &frames)
    {
        auto w = make();
        for (const Frame &f : frames)
            w->handle_frame(f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), f.time_ns, 0);
        w->flush();
        return outcome_of(*w);
    }

    // Through the worker's poll loop in bursts of config_.burst_size, then
    // flushed (Worker::run drains its spreading ring before it stops).
    Outcome in_bursts(const std::vector<Frame> &frames)
    {
        auto w = make();
        rte_ring *ring = rte_ring_create(("test_bursts_" + std::to_string(w->id())).c_str(), 8192, SOCKET_ID_ANY,
                                         RING_F_SP_ENQ | RING_F_SC_DEQ);
        EXPECT_NE(ring, nullptr);
        for (const Frame &f : frames) {
            rte_mbuf *m = rte_pktmbuf_alloc(pool_);
            EXPECT_NE(m, nullptr);
            std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(f.bytes.size())), f.bytes.data(),
                        f.bytes.size());
            m->port = 0;
            *RTE_MBUF_DYNFIELD(m, ts_offset_, rte_mbuf_timestamp_t *) = f.time_ns / 1000;  // the PMD's µs
            m->ol_flags |= ts_flag_;
            EXPECT_EQ(rte_ring_sp_enqueue(ring, m), 0);
        }
        std::atomic<bool> done{true}, stop{true};
        w->add_queue(RxQueue{0, 0, true, ring, &done});
        w->run(stop);
        EXPECT_EQ(rte_ring_count(ring), 0u);
        rte_ring_free(ring);
        return outcome_of(*w);
    }

    // A whole capture as one burst, checked against frame by frame.
    Outcome as_one_burst(const std::string &capture)
    {
        config_.burst_size = 64;
        const auto frames = read_frames(data_path(capture));
        EXPECT_LE(frames.size(), 64u);
        const Outcome bursts = in_bursts(frames);
        EXPECT_EQ(bursts.tcp_packets, frames.size());
        expect_same(bursts, one_by_one(frames));
        return bursts;
    }

    static void expect_same(const Outcome &a, const Outcome &b)
    {
        ASSERT_EQ(a.records.size(), b.records.size());
        for (size_t i = 0; i < a.records.size(); ++i)
            EXPECT_EQ(std::memcmp(&a.records[i], &b.records[i], sizeof(EventRecord)), 0) << "record " << i;
        ASSERT_EQ(a.scan_records.size(), b.scan_records.size());
        for (size_t i = 0; i < a.scan_records.size(); ++i)
            EXPECT_EQ(std::memcmp(&a.scan_records[i], &b.scan_records[i], sizeof(EventRecord)), 0)
                << "scan record " << i;
        EXPECT_EQ(a.created, b.created);
        EXPECT_EQ(a.evicted, b.evicted);
        EXPECT_EQ(a.reused, b.reused);
        EXPECT_EQ(a.tcp_packets, b.tcp_packets);
        for (int i = 0; i < static_cast<int>(HandshakeOutcome::count_); ++i)
            EXPECT_EQ(a.outcomes[i], b.outcomes[i]) << handshake_outcome_name(static_cast<HandshakeOutcome>(i));
    }

    Config config_;
    WorkerSettings settings_;
    static rte_mempool *pool_;
    static int ts_offset_;
    static uint64_t ts_flag_;
};

rte_mempool *WorkerBurstTest::pool_ = nullptr;
int WorkerBurstTest::ts_offset_ = -1;
uint64_t WorkerBurstTest::ts_flag_ = 0;

std::vector<EventType> kinds(const Outcome &o)
{
    std::vector<EventType> k;
    for (const EventRecord &r : o.records)
        k.push_back(r.type);
    return k;
}

}  // namespace

TEST_F(WorkerBurstTest, WholeHandshakeInOneBurstFindsTheFlowItsSynCreated)
{
    // Every packet of the session is in one burst: the bulk lookup misses
    // for all of them, yet only the SYN may create the flow.
    const Outcome bursts = as_one_burst("ipv4_telnet_basic.pcap");
    EXPECT_EQ(bursts.created, 1u);
    EXPECT_EQ(kinds(bursts), (std::vector<EventType>{EventType::connection_start, EventType::alert,
                                                     EventType::connection_end}));
}

TEST_F(WorkerBurstTest, FlowEvictedEarlierInTheBurstIsLookedUpAgain)
{
    // A full table of 8 unanswered SYNs (ports 1000..1007). Then one burst:
    // three new SYNs (ports 2000..2002) evict ports 1000..1002, and the
    // third takes the slot port 1000 had (the hash hands out freed slots
    // first in, first out, after its two spare ones); the SYN-ACK for port
    // 1000 in the same burst was looked up before all that and found port
    // 1000 in that slot. It must not be applied to port 2002's flow, nor to
    // the removed one.
    config_.flow_table.capacity = 8;
    config_.burst_size = 8;  // the ring is read as [8 SYNs] [3 new SYNs, SYN-ACK]
    // Every attempt handed over at once (scan_counter.hpp: 2 destinations
    // over 2 workers make one server on a worker enough).
    config_.detections.scan_destinations = 2;
    config_.workers = 2;
    std::vector<Frame> frames;
    for (uint16_t i = 0; i < 8; ++i)
        frames.push_back(syn(i * kSecond, static_cast<uint16_t>(1000 + i), 100u * i));
    for (uint16_t i = 0; i < 3; ++i)
        frames.push_back(syn(10 * kSecond + i * 1000u, static_cast<uint16_t>(2000 + i), 555u + i));
    frames.push_back(synack(10 * kSecond + 5000, 1000, 0));
    const Outcome bursts = in_bursts(frames);
    const Outcome reference = one_by_one(frames);
    expect_same(bursts, reference);

    // From the construction: port 1000's SYN-ACK finds no flow (its SYN was
    // evicted), so it makes a new one, evicting port 1003; ports 2000..2002
    // never got an answer.
    EXPECT_EQ(bursts.created, 12u);
    EXPECT_EQ(bursts.evicted, 4u);
    size_t new_ports_no_reply = 0;
    for (const EventRecord &r : bursts.scan_records)
        if (r.type == EventType::attempt && r.client_port >= 2000 && r.attempt_phase == AttemptPhase::failed)
            new_ports_no_reply += r.outcome == static_cast<uint8_t>(HandshakeOutcome::no_reply);
    EXPECT_EQ(new_ports_no_reply, 3u);
}

TEST_F(WorkerBurstTest, PortReuseWithinOneBurstEndsTheFirstConnectionFirst)
{
    const Outcome bursts = as_one_burst("port_reuse.pcap");
    EXPECT_EQ(bursts.reused, 1u);
    EXPECT_EQ(kinds(bursts), (std::vector<EventType>{EventType::connection_start, EventType::alert,
                                                     EventType::connection_end, EventType::connection_start,
                                                     EventType::alert, EventType::connection_end}));
}

TEST_F(WorkerBurstTest, SmallTableUnderChurnGivesTheSameRecordsAsFrameByFrame)
{
    // many_flows in a table too small for it: evictions inside most bursts,
    // flows created and seen again within a burst.
    config_.flow_table.capacity = 16;
    for (uint32_t burst : {1u, 7u, 32u, 64u}) {
        SCOPED_TRACE(burst);
        config_.burst_size = burst;
        const auto frames = read_frames(data_path("many_flows.pcap"));
        const Outcome bursts = in_bursts(frames);
        EXPECT_GT(bursts.evicted, 0u);
        expect_same(bursts, one_by_one(frames));
    }
}
