// The worker's per-packet pipeline (decode → flow table → handshake →
// event ring) fed with frames of the generated captures, without a port.
// Expected values come from the generator's truth files.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <pcap/pcap.h>
#include <rapidjson/document.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "flowsentry/worker.hpp"
#include "worker_harness.hpp"

using namespace flowsentry;
using flowsentry_test::drain;

namespace {

std::string data_path(const std::string &name)
{
    const char *root = std::getenv("FLOWSENTRY_SOURCE_ROOT");
    return std::string(root ? root : ".") + "/tests/data/" + name;
}

struct Truth {
    size_t accepted;
    size_t telnet_alerts;
};

Truth load_truth(const std::string &capture)
{
    std::ifstream in(data_path(capture + ".truth.json"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    rapidjson::Document d;
    d.Parse(text.c_str());
    if (d.HasParseError() || !d.IsObject())
        throw std::runtime_error("bad truth file for " + capture);
    return {d["accepted"].Size(), d["telnet_alerts"].GetUint()};
}

// Feeds every frame of a capture to the worker at its capture time.
size_t feed(Worker &w, const std::string &capture)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(data_path(capture + ".pcap").c_str(), err);
    if (p == nullptr)
        throw std::runtime_error(err);
    pcap_pkthdr *h;
    const u_char *data;
    size_t n = 0;
    uint64_t last = 0;
    while (pcap_next_ex(p, &h, &data) == 1) {
        last = static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull + h->ts.tv_usec * 1000ull;
        w.handle_frame(data, h->caplen, last, 0);
        w.expire(last);
        ++n;
    }
    pcap_close(p);
    return n;
}

std::map<EventType, size_t> count_types(const std::vector<EventRecord> &recs)
{
    std::map<EventType, size_t> m;
    for (const EventRecord &r : recs)
        ++m[r.type];
    return m;
}

class WorkerTest : public ::testing::Test {
protected:
    std::unique_ptr<Worker> make(Config config = Config{})
    {
        static uint16_t next_id = 0;
        settings_ = make_worker_settings(config);
        return std::make_unique<Worker>(next_id++, config, settings_, 0);
    }
    WorkerSettings settings_;
};

}  // namespace

TEST_F(WorkerTest, EveryCaptureMatchesItsTruth)
{
    for (const char *name : {"ipv4_telnet_basic", "ipv6_telnet", "ipv6_ext_headers", "vlan_8021q", "vlan_qinq",
                             "rejected", "no_reply", "half_open", "half_open_rst_ack", "wrong_synack_ack",
                             "wrong_final_ack", "duplicates", "port_reuse", "client_port_23_to_web", "midstream",
                             "many_flows"}) {
        SCOPED_TRACE(name);
        const Truth truth = load_truth(name);
        auto w = make();
        feed(*w, name);
        w->flush();
        const auto types = count_types(drain(*w));
        auto count = [&](EventType t) { return types.count(t) ? types.at(t) : 0u; };
        EXPECT_EQ(count(EventType::connection_start), truth.accepted);
        EXPECT_EQ(count(EventType::connection_end), truth.accepted);
        EXPECT_EQ(count(EventType::alert), truth.telnet_alerts);
        EXPECT_EQ(w->counters().handshake[static_cast<int>(HandshakeOutcome::accepted)].get(), truth.accepted);
        EXPECT_EQ(w->counters().document_drops.get(), 0u);
        EXPECT_EQ(w->flows().size(), 0u);
    }
}

TEST_F(WorkerTest, FailedAttemptsAreCountedByOutcome)
{
    struct Case {
        const char *capture;
        HandshakeOutcome outcome;
    };
    for (const Case &c : {Case{"rejected", HandshakeOutcome::rejected}, Case{"no_reply", HandshakeOutcome::no_reply},
                          Case{"half_open", HandshakeOutcome::half_open},
                          Case{"wrong_synack_ack", HandshakeOutcome::ack_mismatch},
                          Case{"wrong_final_ack", HandshakeOutcome::ack_mismatch},
                          Case{"midstream", HandshakeOutcome::midstream}}) {
        SCOPED_TRACE(c.capture);
        auto w = make();
        feed(*w, c.capture);
        w->flush();
        EXPECT_GE(w->counters().handshake[static_cast<int>(c.outcome)].get(), 1u);
        EXPECT_EQ(w->counters().handshake[static_cast<int>(HandshakeOutcome::accepted)].get(), 0u);
    }
}

TEST_F(WorkerTest, RecordsAreOrientedClientToServer)
{
    auto w = make();
    feed(*w, "client_port_23_to_web");
    w->flush();
    const auto recs = drain(*w);
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].type, EventType::connection_start);
    EXPECT_EQ(recs[0].client_port, 23);  // the client happened to use port 23
    EXPECT_EQ(recs[0].server_port, 80);
    EXPECT_EQ(recs[1].type, EventType::connection_end);
    EXPECT_EQ(recs[1].end_reason, EndReason::closed);  // the capture ends with FIN both ways
    EXPECT_GT(recs[1].client_packets, 0u);
    EXPECT_GT(recs[1].server_packets, 0u);
}

TEST_F(WorkerTest, PortReuseEndsTheFirstConnectionBeforeTheSecond)
{
    auto w = make();
    feed(*w, "port_reuse");
    w->flush();
    const auto recs = drain(*w);
    std::vector<EventType> kinds;
    for (const EventRecord &r : recs)
        kinds.push_back(r.type);
    const std::vector<EventType> expected = {EventType::connection_start, EventType::alert,
                                             EventType::connection_end,   EventType::connection_start,
                                             EventType::alert,            EventType::connection_end};
    EXPECT_EQ(kinds, expected);
    EXPECT_EQ(recs[2].end_reason, EndReason::closed);
    // Two SYNs of one client to one server: counted, held on the worker, no
    // attempt record (the source cannot be a scanner).
    EXPECT_EQ(w->counters().scan.attempts.get(), 2u);
    EXPECT_EQ(w->counters().scan.held.get(), 2u);
    EXPECT_TRUE(flowsentry_test::drain_scan(*w).empty());
}

TEST_F(WorkerTest, TelnetAttemptsOfAScannerAreHandedOverAndMiraiMarkersReported)
{
    // demo: a refused Telnet attempt, a five-host sweep of port 23 whose SYNs
    // carry the destination address as sequence number, two accepted Telnet
    // sessions and one HTTPS connection (not a Telnet attempt at all).
    // With scan.destinations 5 and one worker, only the sweep's source can
    // be a scanner: its five attempts go to the control thread at the fifth,
    // the other three stay on the worker.
    auto w = make();
    feed(*w, "demo");
    w->flush();
    size_t mirai = 0;
    for (const EventRecord &r : drain(*w)) {
        EXPECT_NE(r.type, EventType::attempt);
        if (r.type == EventType::alert && r.rule == RuleId::mirai_scan_syn) {
            ++mirai;
            EXPECT_EQ(r.client_addr[0], 198);
            EXPECT_EQ(r.server_addr[0], 10);
        }
    }
    EXPECT_EQ(mirai, 5u);
    std::set<std::string> servers;
    uint64_t opened = 0, no_reply = 0, last_time = 0;
    for (const EventRecord &r : flowsentry_test::drain_scan(*w)) {
        ASSERT_EQ(r.type, EventType::attempt);
        EXPECT_EQ(r.server_port, 23);
        EXPECT_EQ(r.client_addr[0], 198);  // the sweep's source only
        if (r.attempt_phase == AttemptPhase::opened) {
            EXPECT_GE(r.time_ns, last_time);  // held ones first, oldest first
            last_time = r.time_ns;
            opened += r.count;
            servers.insert(std::string(reinterpret_cast<const char *>(r.server_addr), 4));
        } else if (r.attempt_phase == AttemptPhase::failed &&
                   r.outcome == static_cast<uint8_t>(HandshakeOutcome::no_reply)) {
            no_reply += r.count;
        }
    }
    EXPECT_EQ(opened, 5u);
    EXPECT_EQ(servers.size(), 5u);
    EXPECT_EQ(no_reply, 5u);  // the sweep went unanswered, after it was handed over
    EXPECT_EQ(w->counters().scan.attempts.get(), 1u + 5u + 2u);
    EXPECT_EQ(w->counters().scan.held.get(), 1u + 4u + 2u);
    EXPECT_EQ(w->counters().scan.hot.get(), 1u);
    EXPECT_EQ(w->counters().events_attempt.get(), 5u + 5u);
}

TEST_F(WorkerTest, MidstreamFlowsAreCountedByHowTheyWereOriented)
{
    // midstream: Telnet on 23 whose server speaks first: the port decides.
    auto w = make();
    feed(*w, "midstream");
    const WorkerCounters &c = w->counters();
    EXPECT_EQ(c.midstream[static_cast<int>(MidstreamOrientation::service_port)].get(), 1u);
    EXPECT_EQ(c.midstream_reoriented.get(), 0u);
    // Mirai on 2323 (not in telnet.ports) joined late: the first sender, the
    // server, is taken for the client until its IAC DO TERMINAL-TYPE.
    auto v = make();
    feed(*v, "telnet_mirai_midstream_2323");
    EXPECT_EQ(v->counters().midstream[static_cast<int>(MidstreamOrientation::first_sender)].get(), 1u);
    EXPECT_EQ(v->counters().midstream_reoriented.get(), 1u);
    EXPECT_EQ(v->counters().handshake[static_cast<int>(HandshakeOutcome::midstream)].get(), 1u);
}

TEST_F(WorkerTest, ConnectionEndWaitsForTheClosedFlowToLeaveAndCountsItsLastPackets)
{
    // counting_tail: after the FIN exchange, the last ACK and a late reset.
    auto w = make();
    feed(*w, "counting_tail");
    for (const EventRecord &r : drain(*w))
        EXPECT_NE(r.type, EventType::connection_end) << "written before the flow left the table";
    EXPECT_EQ(w->counters().flows_closed.get(), 1u);
    w->expire(std::numeric_limits<uint64_t>::max() / 2);  // past the closing timeout
    const auto recs = drain(*w);
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].type, EventType::connection_end);
    EXPECT_EQ(recs[0].end_reason, EndReason::reset);  // the late reset is in its history
    EXPECT_EQ(recs[0].client_packets, 10u);           // the generator's end_counts
    EXPECT_EQ(recs[0].client_bytes, 568u);
    EXPECT_EQ(recs[0].server_packets, 6u);
    EXPECT_EQ(recs[0].server_bytes, 341u);
}

TEST_F(WorkerTest, FullRingDropsAndCountsWithoutBlocking)
{
    Config config;
    config.alert_ring_size = 64;  // 63 usable slots
    auto w = make(config);
    feed(*w, "many_flows");  // 150 starts + 75 alerts + ends: far more than 63
    const uint64_t emitted = w->counters().events_connection_start.get() + w->counters().alerts.get() +
                             w->counters().events_connection_end.get();
    const auto recs = drain(*w);
    EXPECT_EQ(recs.size(), 63u);
    EXPECT_GT(w->counters().document_drops.get(), 0u);
    EXPECT_EQ(recs.size() + w->counters().document_drops.get(), emitted);
    // Detection went on while the ring was full.
    EXPECT_EQ(w->counters().handshake[static_cast<int>(HandshakeOutcome::accepted)].get(),
              load_truth("many_flows").accepted);
}

TEST_F(WorkerTest, SmallTableEvictsAttemptsBeforeConnections)
{
    Config config;
    config.flow_table.capacity = 64;  // many_flows has more open at once
    auto w = make(config);
    feed(*w, "many_flows");
    w->flush();
    const auto recs = drain(*w);
    EXPECT_GT(w->counters().flows_evicted.get(), 0u);
    size_t evicted_ends = 0;
    for (const EventRecord &r : recs)
        evicted_ends += r.type == EventType::connection_end && r.end_reason == EndReason::evicted;
    // Attempts make room first: no accepted connection is pushed out while
    // handshakes in progress fill the reserve (test_hostile_traffic has the
    // table full of accepted connections).
    EXPECT_EQ(evicted_ends, 0u);
    // Every accepted connection still gets exactly one end record.
    auto types = count_types(recs);
    EXPECT_GT(types[EventType::connection_start], 0u);
    EXPECT_EQ(types[EventType::connection_start], types[EventType::connection_end]);
    EXPECT_LE(w->flows().size(), 64u);
}

TEST_F(WorkerTest, IdleFlowsExpireAtPacketTime)
{
    Config config;
    config.flow_table.established_timeout_s = 10;
    auto w = make(config);
    feed(*w, "ipv4_telnet_basic");
    const size_t before = w->flows().size();
    // The basic session closes with FIN/FIN: it sits in the closing class.
    ASSERT_EQ(before, 1u);
    w->expire(UINT64_MAX / 2);
    EXPECT_EQ(w->flows().size(), 0u);
    EXPECT_EQ(w->counters().flows_expired.get(), 1u);
}

// The frames of a capture, for tests that feed only part of one.
std::vector<std::vector<uint8_t>> frames_of(const std::string &capture)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(data_path(capture + ".pcap").c_str(), err);
    if (p == nullptr)
        throw std::runtime_error(err);
    std::vector<std::vector<uint8_t>> frames;
    pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(p, &h, &data) == 1)
        frames.emplace_back(data, data + h->caplen);
    pcap_close(p);
    return frames;
}

TEST_F(WorkerTest, TunnelRecordsTakeTheTriggeringPacketsOuterContext)
{
    // ERSPAN II: each direction mirrored by another session and sensor.
    auto w = make();
    const size_t n = feed(*w, "tunnel_erspan2");
    w->flush();
    EXPECT_EQ(w->counters().layer[static_cast<int>(TunnelType::gre)].get(), n);
    EXPECT_EQ(w->counters().layer[static_cast<int>(TunnelType::erspan2)].get(), n);
    size_t starts = 0, ends = 0;
    for (const EventRecord &r : drain(*w)) {
        EXPECT_EQ(r.tunnel_tenant, TunnelType::none);  // no GRE key: nothing in the flow key
        if (r.type == EventType::connection_end) {
            // Written when the flow leaves the table, after its last packet:
            // the key's context only (see TunnelRecordsWithoutAPacketCarryTheKeyOnly).
            EXPECT_EQ(r.outer_ip_version, 0);
            ++ends;
            continue;
        }
        EXPECT_EQ(r.tunnel_type, TunnelType::erspan2);
        ASSERT_EQ(r.outer_ip_version, 4);
        if (r.type == EventType::connection_start) {
            ++starts;
            // The client's ACK completed the handshake: its session and sensor.
            EXPECT_EQ(r.erspan_session, 10);
            EXPECT_EQ(r.outer_src[3], 101);
        }
    }
    EXPECT_EQ(starts, 1u);
    EXPECT_EQ(ends, 1u);
}

TEST_F(WorkerTest, TunnelRecordsWithoutAPacketCarryTheKeyOnly)
{
    // Both VXLAN tenants' handshakes, then shutdown: the end records come
    // from the flush, with the VNI from the key and no outer addresses.
    auto w = make();
    const auto frames = frames_of("tunnel_vxlan_tenants");
    ASSERT_GT(frames.size(), 8u);
    for (size_t i = 0; i < 8; ++i)
        w->handle_frame(frames[i].data(), static_cast<uint32_t>(frames[i].size()), 1000 + i, 0);
    w->flush();
    std::set<uint32_t> start_vnis, end_vnis;
    for (const EventRecord &r : drain(*w)) {
        EXPECT_EQ(r.tunnel_type, TunnelType::vxlan);
        EXPECT_EQ(r.tunnel_tenant, TunnelType::vxlan);
        if (r.type == EventType::connection_start) {
            start_vnis.insert(r.tunnel_id);
            EXPECT_EQ(r.outer_ip_version, 4);
            EXPECT_EQ(r.outer_vlan, 100);
        } else if (r.type == EventType::connection_end) {
            end_vnis.insert(r.tunnel_id);
            EXPECT_EQ(r.end_reason, EndReason::shutdown);
            EXPECT_EQ(r.outer_ip_version, 0);
            EXPECT_EQ(r.outer_vlan, 0);
        }
    }
    EXPECT_EQ(start_vnis, (std::set<uint32_t>{5001, 5002}));
    EXPECT_EQ(end_vnis, start_vnis);
}

TEST_F(WorkerTest, MalformedTunnelLayerIsCountedAndItsLayersToo)
{
    auto w = make();
    std::vector<uint8_t> frame = frames_of("tunnel_vxlan_tenants").front();
    // Outer Ethernet + VLAN (18), IPv4 (20), UDP (8): the VXLAN flags byte.
    frame[18 + 20 + 8] = 0x00;
    w->handle_frame(frame.data(), static_cast<uint32_t>(frame.size()), 1, 0);
    EXPECT_EQ(w->counters().decode[static_cast<int>(DecodeResult::vxlan_bad_flags)].get(), 1u);
    EXPECT_EQ(w->counters().layer[static_cast<int>(TunnelType::vxlan)].get(), 1u);
    EXPECT_EQ(w->counters().tcp_packets.get(), 0u);
    EXPECT_EQ(w->flows().size(), 0u);
}

TEST_F(WorkerTest, MalformedFramesAreCountedByReason)
{
    auto w = make();
    const uint8_t runt[10] = {};
    w->handle_frame(runt, sizeof(runt), 1, 0);
    uint8_t arp[60] = {};
    arp[12] = 0x08;
    arp[13] = 0x06;
    w->handle_frame(arp, sizeof(arp), 2, 0);
    EXPECT_EQ(w->counters().decode[static_cast<int>(DecodeResult::eth_truncated)].get(), 1u);
    EXPECT_EQ(w->counters().decode[static_cast<int>(DecodeResult::unsupported_ethertype)].get(), 1u);
    EXPECT_EQ(w->flows().size(), 0u);
}

TEST_F(WorkerTest, FragmentedSessionIsReassembledAndDecodedAgain)
{
    // The Mirai session of frag_ipv4_reversed: its larger packets in
    // fragments, last one first.
    auto w = make();
    const size_t frames = feed(*w, "frag_ipv4_reversed");
    w->flush();
    const auto types = count_types(drain(*w));
    EXPECT_EQ(types.at(EventType::connection_start), 1u);
    const WorkerCounters &c = w->counters();
    EXPECT_EQ(c.defrag.reassembled.get(), 3u);
    EXPECT_EQ(c.defrag.fragments.get(), c.decode[static_cast<int>(DecodeResult::ipv4_fragment)].get());
    uint64_t decoded = 0;
    for (const Counter &d : c.decode)
        decoded += d.get();
    EXPECT_EQ(decoded, frames + c.defrag.reassembled.get());  // each datagram decoded once more

    Config off;
    off.defrag.enabled = false;
    auto plain = make(off);
    feed(*plain, "frag_ipv4_reversed");
    EXPECT_EQ(plain->counters().defrag.fragments.get(), 0u);
    EXPECT_EQ(plain->counters().decode[static_cast<int>(DecodeResult::ipv4_fragment)].get(),
              c.defrag.fragments.get());
}

TEST_F(WorkerTest, DatagramThatIsAFragmentAgainIsCountedAndDropped)
{
    // IPv4 in IPv4: the outer datagram in two fragments; once whole, its
    // inner IPv4 header says fragment too. Reassembly goes one level only.
    std::vector<uint8_t> inner = {0x45, 0, 0, 60, 0, 9, 0x20, 0, 64, 6, 0, 0, 192, 0, 2, 1, 10, 0, 0, 23};
    inner.resize(60, 0);
    inner[20 + 12] = 0x50;  // TCP data offset
    auto outer = [&](uint32_t offset, uint32_t len, bool more) {
        const uint8_t head[] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0,
                                static_cast<uint8_t>(20 + len), 0, 77, static_cast<uint8_t>(more ? 0x20 : 0),
                                static_cast<uint8_t>(offset / 8), 64, 4, 0, 0, 172, 16, 0, 1, 172, 16, 0, 2};
        std::vector<uint8_t> f(sizeof head + len);
        std::memcpy(f.data(), head, sizeof head);
        std::memcpy(f.data() + sizeof head, inner.data() + offset, len);
        return f;
    };
    auto w = make();
    const std::vector<uint8_t> a = outer(0, 32, true), b = outer(32, 28, false);
    w->handle_frame(a.data(), static_cast<uint32_t>(a.size()), 1, 0);
    w->handle_frame(b.data(), static_cast<uint32_t>(b.size()), 2, 0);
    const WorkerCounters &c = w->counters();
    EXPECT_EQ(c.defrag.reassembled.get(), 1u);
    EXPECT_EQ(c.defrag.refragmented.get(), 1u);
    EXPECT_EQ(c.decode[static_cast<int>(DecodeResult::ipv4_fragment)].get(), 3u);
    EXPECT_EQ(c.defrag.fragments.get(), 2u);  // the inner fragment was not taken
    EXPECT_EQ(w->flows().size(), 0u);
}
