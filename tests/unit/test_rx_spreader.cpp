// Software spreading: both directions of every flow go to one worker, the
// split uses every worker, undecodable frames are marked, a full ring costs
// counted drops (never a leak); the symmetric RSS key hashes both directions
// alike (checked with DPDK's software Toeplitz).
#include <pcap/pcap.h>

#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_thash.h>

#include "flowsentry/decode.hpp"
#include "flowsentry/flow_key.hpp"
#include "flowsentry/rx_port.hpp"
#include "flowsentry/rx_spreader.hpp"

using namespace flowsentry;

namespace {

std::vector<std::string> read_frames(const std::string &name)
{
    const std::string path = std::string(std::getenv("FLOWSENTRY_SOURCE_ROOT")) + "/tests/data/" + name;
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path.c_str(), err);
    EXPECT_NE(p, nullptr) << err;
    std::vector<std::string> frames;
    pcap_pkthdr *h;
    const u_char *data;
    while (p != nullptr && pcap_next_ex(p, &h, &data) == 1)
        frames.emplace_back(reinterpret_cast<const char *>(data), h->caplen);
    if (p != nullptr)
        pcap_close(p);
    return frames;
}

// The flow of a frame, as "lower endpoint|higher endpoint" independent of the
// direction, built from the decoded addresses (not from FlowKey).
std::string flow_of(const std::string &frame)
{
    DecodedPacket pkt;
    if (decode_packet(reinterpret_cast<const uint8_t *>(frame.data()), uint32_t(frame.size()), pkt) != DecodeResult::ok)
        return "";
    std::string a(reinterpret_cast<const char *>(pkt.src_addr), 16), b(reinterpret_cast<const char *>(pkt.dst_addr), 16);
    a += std::to_string(pkt.src_port);
    b += std::to_string(pkt.dst_port);
    return a < b ? a + "|" + b : b + "|" + a;
}

}  // namespace

TEST(SpreadWorkerOf, BothDirectionsOfEveryFlowGoToOneWorker)
{
    const std::vector<std::string> frames = read_frames("many_flows.pcap");
    ASSERT_GT(frames.size(), 100u);
    for (uint16_t workers : {2, 3, 4, 7}) {
        std::map<std::string, std::set<int>> workers_of_flow;
        std::vector<size_t> flows_per_worker(workers, 0);
        for (const std::string &f : frames) {
            const int w = spread_worker_of(reinterpret_cast<const uint8_t *>(f.data()), uint32_t(f.size()), workers);
            ASSERT_GE(w, 0);
            ASSERT_LT(w, workers);
            workers_of_flow[flow_of(f)].insert(w);
        }
        for (const auto &[flow, ws] : workers_of_flow) {
            EXPECT_EQ(ws.size(), 1u) << "a flow split over workers (" << workers << " workers)";
            ++flows_per_worker[*ws.begin()];
        }
        // Hundreds of flows: every worker gets some.
        for (uint16_t w = 0; w < workers; ++w)
            EXPECT_GT(flows_per_worker[w], workers_of_flow.size() / (4 * workers)) << w << " of " << workers;
    }
}

// Inner endpoints without ports plus the tenant id, independent of the direction.
std::string inner_pair_of(const DecodedPacket &pkt)
{
    std::string a(reinterpret_cast<const char *>(pkt.src_addr), 16), b(reinterpret_cast<const char *>(pkt.dst_addr), 16);
    const std::string tenant = pkt.tunnel_layers != 0 ? std::to_string(pkt.tunnel.id) : "-";
    return (a < b ? a + "|" + b : b + "|" + a) + tenant;
}

TEST(SpreadWorkerOf, TunnelledFlowsStayTogetherWhateverTheOuterHeaders)
{
    // In these captures each direction may have other outer addresses
    // (mirror sessions, sensors) or labels: only the inner pair counts.
    unsigned outer_differs = 0;
    for (const char *capture : {"tunnel_mpls.pcap", "tunnel_gre_key.pcap", "tunnel_erspan2.pcap",
                                "tunnel_erspan3.pcap", "tunnel_vxlan_tenants.pcap", "tunnel_geneve.pcap",
                                "tunnel_ipv6_in_ipv4.pcap", "tunnel_ipip.pcap"}) {
        SCOPED_TRACE(capture);
        const std::vector<std::string> frames = read_frames(capture);
        ASSERT_GT(frames.size(), 20u);
        std::set<std::string> outer_pairs;
        for (uint16_t workers : {2, 3, 4, 7}) {
            std::map<std::string, std::set<int>> workers_of;
            for (const std::string &f : frames) {
                DecodedPacket pkt;
                ASSERT_EQ(decode_packet(reinterpret_cast<const uint8_t *>(f.data()), uint32_t(f.size()), pkt),
                          DecodeResult::ok);
                ASSERT_NE(pkt.tunnel_layers, 0);
                outer_pairs.insert(std::string(reinterpret_cast<const char *>(pkt.tunnel.outer_src), 16) + "|" +
                                   std::string(reinterpret_cast<const char *>(pkt.tunnel.outer_dst), 16));
                workers_of[inner_pair_of(pkt)].insert(
                    spread_worker_of(reinterpret_cast<const uint8_t *>(f.data()), uint32_t(f.size()), workers));
            }
            for (const auto &[pair, ws] : workers_of)
                EXPECT_EQ(ws.size(), 1u) << workers << " workers";
        }
        // Not simply the reverse of each other: an outer hash would split them.
        outer_differs += outer_pairs.size() > 2;
    }
    EXPECT_GT(outer_differs, 0u);
}

TEST(SpreadWorkerOf, FragmentsFollowTheirFlow)
{
    // A fragmented datagram's pieces and the flow's whole packets: one worker.
    const std::vector<std::string> frames = read_frames("frag_ipv4_reversed.pcap");
    ASSERT_GT(frames.size(), 3u);
    std::map<std::string, std::set<int>> workers_of;
    unsigned fragments = 0;
    for (const std::string &f : frames) {
        DecodedPacket pkt;
        const DecodeResult r = decode_packet(reinterpret_cast<const uint8_t *>(f.data()), uint32_t(f.size()), pkt);
        ASSERT_TRUE(r == DecodeResult::ok || r == DecodeResult::ipv4_fragment) << decode_result_name(r);
        fragments += r == DecodeResult::ipv4_fragment;
        const int w = spread_worker_of(reinterpret_cast<const uint8_t *>(f.data()), uint32_t(f.size()), 7);
        ASSERT_GE(w, 0);
        workers_of[inner_pair_of(pkt)].insert(w);
    }
    EXPECT_GT(fragments, 0u);
    for (const auto &[pair, ws] : workers_of)
        EXPECT_EQ(ws.size(), 1u);
}

TEST(SpreadWorkerOf, FramesThatAreNotFlowsAreMarked)
{
    const uint8_t arp[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06};
    EXPECT_EQ(spread_worker_of(arp, sizeof arp, 4), -1);
    EXPECT_EQ(spread_worker_of(arp, 10, 4), -1);  // truncated Ethernet
}

class SpreaderRings : public ::testing::Test {
protected:
    void SetUp() override
    {
        pool_ = rte_pktmbuf_pool_create("spread_test", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
        ASSERT_NE(pool_, nullptr);
    }
    void TearDown() override { rte_mempool_free(pool_); }
    rte_mbuf *mbuf_of(const std::string &frame)
    {
        rte_mbuf *m = rte_pktmbuf_alloc(pool_);
        std::memcpy(rte_pktmbuf_append(m, uint16_t(frame.size())), frame.data(), frame.size());
        return m;
    }
    rte_mempool *pool_ = nullptr;
};

TEST_F(SpreaderRings, PacketsLandOnTheirWorkersRingAndAFullRingDropsCounted)
{
    const std::vector<std::string> frames = read_frames("many_flows.pcap");
    {
        RxSpreader spreader(2, 64, 32, SOCKET_ID_ANY);  // 63 usable slots per ring
        std::vector<rte_mbuf *> burst;
        std::vector<size_t> expected(2, 0);
        for (size_t i = 0; i < 200; ++i) {
            burst.push_back(mbuf_of(frames[i]));
            ++expected[spread_worker_of(reinterpret_cast<const uint8_t *>(frames[i].data()),
                                        uint32_t(frames[i].size()), 2)];
        }
        for (size_t i = 0; i < burst.size(); i += 20)
            spreader.spread(burst.data() + i, 20);
        for (uint16_t w = 0; w < 2; ++w) {
            const size_t kept = std::min<size_t>(expected[w], 63);
            EXPECT_EQ(rte_ring_count(spreader.ring(w)), kept) << w;
            EXPECT_EQ(spreader.queued(w), kept);
            EXPECT_EQ(spreader.ring_full(w), expected[w] - kept);
            // What is on a worker's ring belongs to that worker.
            void *m;
            while (rte_ring_sc_dequeue(spreader.ring(w), &m) == 0) {
                auto *mb = static_cast<rte_mbuf *>(m);
                EXPECT_EQ(spread_worker_of(rte_pktmbuf_mtod(mb, const uint8_t *), mb->data_len, 2), w);
                rte_pktmbuf_free(mb);
            }
        }
        EXPECT_EQ(spreader.ring_full_total(), 200 - std::min<size_t>(expected[0], 63) - std::min<size_t>(expected[1], 63));
    }
    // Dropped mbufs went back to the pool: none leaked.
    EXPECT_EQ(rte_mempool_avail_count(pool_), 1023u);
}

TEST(SymmetricRssKey, ToeplitzHashIsTheSameBothWays)
{
    uint8_t key[40];
    symmetric_rss_key(key, sizeof key);
    for (uint32_t i = 0; i < 1000; ++i) {
        const uint32_t a = 0x0a000001 + i * 7919, b = 0xac100002 + i * 104729;
        const uint16_t pa = uint16_t(1024 + i * 31), pb = uint16_t(23 + i);
        rte_ipv4_tuple t1{}, t2{};
        t1.src_addr = a;
        t1.dst_addr = b;
        t1.sport = pa;
        t1.dport = pb;
        t2.src_addr = b;
        t2.dst_addr = a;
        t2.sport = pb;
        t2.dport = pa;
        EXPECT_EQ(rte_softrss(reinterpret_cast<uint32_t *>(&t1), RTE_THASH_V4_L4_LEN, key),
                  rte_softrss(reinterpret_cast<uint32_t *>(&t2), RTE_THASH_V4_L4_LEN, key));
    }
    // A key that is not the repeated pattern breaks the symmetry somewhere.
    key[3] ^= 0x01;
    bool differs = false;
    for (uint32_t i = 0; i < 100 && !differs; ++i) {
        rte_ipv4_tuple t1{0x0a000001 + i, 0xac100002, {}}, t2{0xac100002, 0x0a000001 + i, {}};
        t1.sport = 1000;
        t1.dport = 23;
        t2.sport = 23;
        t2.dport = 1000;
        differs = rte_softrss(reinterpret_cast<uint32_t *>(&t1), RTE_THASH_V4_L4_LEN, key) !=
                  rte_softrss(reinterpret_cast<uint32_t *>(&t2), RTE_THASH_V4_L4_LEN, key);
    }
    EXPECT_TRUE(differs);
}
