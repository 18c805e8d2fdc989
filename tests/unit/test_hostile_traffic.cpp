// Hostile traffic through the worker's pipeline (Worker::handle_frame, no
// port): every frame of the test captures truncated at every byte and with
// random bit flips, IPv6 extension-header chains, TCP headers and options
// that lie about their length, empty and maximum-size frames, a second of
// spoofed SYNs at 64K per second, ten times more flows than the table holds.
// Nothing may crash or hang, every frame is counted by exactly one decode
// result, and accepted Telnet connections (known from the generator's truth
// files) are still detected.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <rapidjson/document.h>
#include <rte_malloc.h>

#include "flowsentry/worker.hpp"
#include "worker_harness.hpp"

using namespace flowsentry;
using flowsentry_test::drain;
using flowsentry_test::Frame;
using flowsentry_test::read_frames;

namespace {

constexpr uint64_t kSecond = 1000000000ull;

std::string source_root()
{
    const char *root = std::getenv("FLOWSENTRY_SOURCE_ROOT");
    return root ? root : ".";
}

std::vector<Frame> capture(const std::string &name)
{
    return read_frames(source_root() + "/tests/data/" + name + ".pcap");
}

// Every frame of every generated capture and of the shared third-party ones.
std::vector<std::vector<Frame>> all_captures()
{
    const char *shared = std::getenv("FLOWSENTRY_SHARED_PCAPS");
    std::vector<std::string> paths;
    for (const std::string &dir : {source_root() + "/tests/data", std::string(shared ? shared : "")}) {
        DIR *d = opendir(dir.c_str());
        if (d == nullptr)
            continue;
        while (const dirent *e = readdir(d)) {
            const std::string n = e->d_name;
            if (n.size() > 5 && n.compare(n.size() - 5, 5, ".pcap") == 0)
                paths.push_back(dir + "/" + n);
        }
        closedir(d);
    }
    std::sort(paths.begin(), paths.end());
    std::vector<std::vector<Frame>> out;
    for (const std::string &p : paths)
        out.push_back(read_frames(p));
    return out;
}

size_t accepted_in_truth(const std::string &name)
{
    std::ifstream in(source_root() + "/tests/data/" + name + ".truth.json");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    rapidjson::Document d;
    d.Parse(text.c_str());
    if (d.HasParseError() || !d.IsObject())
        throw std::runtime_error("bad truth file for " + name);
    return d["accepted"].Size();
}

uint64_t decode_count(const Worker &w, DecodeResult r) { return w.counters().decode[static_cast<int>(r)].get(); }

// The accounting every scenario must keep: each frame, and each datagram
// reassembled from fragments, has exactly one decode result, each fragment
// went to the reassembler (or, inside a reassembled datagram, was counted
// and dropped), each decoded frame is TCP or UDP, each flow made is still in
// the table or left it one counted way.
void expect_every_frame_and_flow_accounted(const Worker &w, uint64_t frames)
{
    const WorkerCounters &c = w.counters();
    uint64_t decoded = 0;
    for (const Counter &d : c.decode)
        decoded += d.get();
    EXPECT_EQ(decoded, frames + c.defrag.reassembled.get());
    EXPECT_EQ(decode_count(w, DecodeResult::ipv4_fragment) + decode_count(w, DecodeResult::ipv6_fragment),
              c.defrag.fragments.get() + c.defrag.refragmented.get());
    EXPECT_EQ(decode_count(w, DecodeResult::ok) + c.tcp_header_only.get(), c.tcp_packets.get() + c.udp_packets.get());
    EXPECT_EQ(c.flows_created.get(),
              w.flows().size() + c.flows_evicted.get() + c.flows_expired.get() + c.flows_flushed.get());
    EXPECT_LE(w.flows().size(), w.flows().capacity());
}

class HostileTrafficTest : public ::testing::Test {
protected:
    std::unique_ptr<Worker> make(Config config = Config{})
    {
        static uint16_t next_id = 100;  // apart from other tests' ring names
        settings_ = make_worker_settings(config);
        return std::make_unique<Worker>(next_id++, config, settings_, 0);
    }

    // Feeds frames at their time, with the poll loop's expiry step; the
    // ring is drained as the control thread would, so it never fills.
    uint64_t feed(Worker &w, const std::vector<Frame> &frames, std::vector<EventRecord> *events = nullptr)
    {
        for (const Frame &f : frames) {
            w.handle_frame(f.bytes.data(), static_cast<uint32_t>(f.bytes.size()), f.time_ns, 0);
            w.expire(f.time_ns);
            for (const EventRecord &r : drain(w))
                if (events != nullptr)
                    events->push_back(r);
        }
        return frames.size();
    }

    WorkerSettings settings_;
};

// ---- frames made from captured ones ----

constexpr size_t kEth = 14;

// The captured frame with its IPv4 client address and port replaced: the
// same packet from another (spoofed) client. Checksums are not checked by
// the decoder, so they are left as they are.
std::vector<uint8_t> with_ipv4_client(std::vector<uint8_t> frame, bool from_client, uint32_t addr, uint16_t port)
{
    const size_t ip = kEth, tcp = kEth + (frame[ip] & 0x0f) * 4;
    const size_t addr_off = ip + (from_client ? 12 : 16), port_off = tcp + (from_client ? 0 : 2);
    frame[addr_off] = static_cast<uint8_t>(addr >> 24);
    frame[addr_off + 1] = static_cast<uint8_t>(addr >> 16);
    frame[addr_off + 2] = static_cast<uint8_t>(addr >> 8);
    frame[addr_off + 3] = static_cast<uint8_t>(addr);
    frame[port_off] = static_cast<uint8_t>(port >> 8);
    frame[port_off + 1] = static_cast<uint8_t>(port);
    return frame;
}

// The client side of each frame of a one-connection IPv4 capture.
std::vector<bool> client_sides(const std::vector<Frame> &frames)
{
    std::vector<bool> sides;
    for (const Frame &f : frames)
        sides.push_back(std::memcmp(&f.bytes[kEth + 12], &frames[0].bytes[kEth + 12], 4) == 0);
    return sides;
}

// Frame i of copy n of a one-connection IPv4 capture: client 10.99.x.y,
// port 20000 + n, at time t.
Frame session_copy(const std::vector<Frame> &session, const std::vector<bool> &from_client, uint32_t n, size_t i,
                   uint64_t t)
{
    return {t, with_ipv4_client(session[i].bytes, from_client[i], 0x0a630000 + n, static_cast<uint16_t>(20000 + n))};
}

// An IPv6 frame with `count` destination-options headers (8 bytes each)
// inserted between the fixed header and the TCP header.
std::vector<uint8_t> with_ipv6_ext_chain(const std::vector<uint8_t> &frame, unsigned count)
{
    constexpr size_t ip6 = kEth, fixed = 40;
    constexpr uint8_t kDestOpts = 60;
    std::vector<uint8_t> out(frame.begin(), frame.begin() + ip6 + fixed);
    const uint8_t transport = frame[ip6 + 6];
    for (unsigned i = 0; i < count; ++i) {
        const uint8_t next = i + 1 < count ? kDestOpts : transport;
        // Next header, length 0 (8 bytes), a PadN option filling the rest.
        out.insert(out.end(), {next, 0, 1, 4, 0, 0, 0, 0});
    }
    out[ip6 + 6] = count > 0 ? kDestOpts : transport;
    out.insert(out.end(), frame.begin() + ip6 + fixed, frame.end());
    const size_t payload = out.size() - ip6 - fixed;
    out[ip6 + 4] = static_cast<uint8_t>(payload >> 8);
    out[ip6 + 5] = static_cast<uint8_t>(payload);
    return out;
}

}  // namespace

TEST_F(HostileTrafficTest, EveryFrameTruncatedAtEveryByte)
{
    auto w = make();
    uint64_t frames = 0;
    for (const auto &cap : all_captures()) {
        for (const Frame &f : cap) {
            for (size_t len = 0; len <= f.bytes.size(); ++len) {
                // A copy of exactly `len` bytes, so a read past it is caught by ASan.
                const std::vector<uint8_t> cut(f.bytes.begin(), f.bytes.begin() + len);
                w->handle_frame(cut.data(), static_cast<uint32_t>(len), f.time_ns, 0);
                ++frames;
            }
            w->expire(f.time_ns);
            drain(*w);
        }
    }
    ASSERT_GT(frames, 100000u);  // the captures were found
    expect_every_frame_and_flow_accounted(*w, frames);
    EXPECT_GT(decode_count(*w, DecodeResult::eth_truncated), 0u);
    EXPECT_GT(decode_count(*w, DecodeResult::ipv4_truncated), 0u);
    EXPECT_GT(decode_count(*w, DecodeResult::ipv6_truncated), 0u);
    EXPECT_GT(decode_count(*w, DecodeResult::ipv4_bad_total_length), 0u);  // cut inside the datagram
    EXPECT_GT(decode_count(*w, DecodeResult::ipv6_bad_payload_length), 0u);
    EXPECT_GT(decode_count(*w, DecodeResult::vlan_truncated), 0u);
}

TEST_F(HostileTrafficTest, EveryFrameWithRandomBitFlips)
{
    auto w = make();
    std::mt19937 rng(6);
    uint64_t frames = 0;
    for (const auto &cap : all_captures()) {
        for (const Frame &f : cap) {
            for (int round = 0; round < 8; ++round) {
                std::vector<uint8_t> bad = f.bytes;
                const int flips = 1 + static_cast<int>(rng() % 4);
                for (int i = 0; i < flips && !bad.empty(); ++i)
                    bad[rng() % bad.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
                w->handle_frame(bad.data(), static_cast<uint32_t>(bad.size()), f.time_ns, 0);
                ++frames;
            }
            w->expire(f.time_ns);
            drain(*w);
        }
    }
    expect_every_frame_and_flow_accounted(*w, frames);
    EXPECT_GT(decode_count(*w, DecodeResult::ok), frames / 2);  // most flips land in fields that don't matter
    EXPECT_LT(decode_count(*w, DecodeResult::ok), frames);
}

TEST_F(HostileTrafficTest, HugeIpv6ExtensionHeaderChains)
{
    const std::vector<Frame> v6 = capture("ipv6_telnet");
    auto w = make();
    uint64_t frames = 0;
    // Up to the limit the chain is walked; beyond it the packet is counted
    // and dropped, however long the chain (up to a 64 KiB payload).
    for (unsigned n : {0u, 1u, kMaxIpv6ExtHeaders, kMaxIpv6ExtHeaders + 1, 100u, 8000u}) {
        SCOPED_TRACE(n);
        const std::vector<uint8_t> f = with_ipv6_ext_chain(v6[0].bytes, n);
        const uint64_t ok = decode_count(*w, DecodeResult::ok);
        const uint64_t too_many = decode_count(*w, DecodeResult::ipv6_ext_too_many);
        w->handle_frame(f.data(), static_cast<uint32_t>(f.size()), v6[0].time_ns, 0);
        ++frames;
        EXPECT_EQ(decode_count(*w, DecodeResult::ok), ok + (n <= kMaxIpv6ExtHeaders));
        EXPECT_EQ(decode_count(*w, DecodeResult::ipv6_ext_too_many), too_many + (n > kMaxIpv6ExtHeaders));
    }
    // A chain whose last header claims more bytes than the packet has.
    std::vector<uint8_t> lying = with_ipv6_ext_chain(v6[0].bytes, 3);
    lying[kEth + 40 + 2 * 8 + 1] = 255;  // third header: (255 + 1) * 8 bytes
    w->handle_frame(lying.data(), static_cast<uint32_t>(lying.size()), v6[0].time_ns, 0);
    ++frames;
    EXPECT_EQ(decode_count(*w, DecodeResult::ipv6_ext_truncated), 1u);
    expect_every_frame_and_flow_accounted(*w, frames);
}

TEST_F(HostileTrafficTest, TcpHeadersAndOptionsThatLieAboutTheirLength)
{
    // The basic Telnet session, its SYN's MSS option length byte set to
    // values that are wrong (0, 1, past the header): the decoder skips
    // options by the data offset, so the connection is still accepted.
    const std::vector<Frame> basic = capture("ipv4_telnet_basic");
    const size_t syn_tcp = kEth + (basic[0].bytes[kEth] & 0x0f) * 4;
    ASSERT_GT(basic[0].bytes[syn_tcp + 12] >> 4, 5) << "the SYN carries options";
    ASSERT_EQ(basic[0].bytes[syn_tcp + 20], 2) << "first option is the MSS";
    for (uint8_t lie : {0, 1, 40, 255}) {
        SCOPED_TRACE(static_cast<int>(lie));
        std::vector<Frame> frames = basic;
        frames[0].bytes[syn_tcp + 21] = lie;
        auto w = make();
        feed(*w, frames);
        EXPECT_EQ(w->counters().handshake[static_cast<int>(HandshakeOutcome::accepted)].get(),
                  accepted_in_truth("ipv4_telnet_basic"));
        expect_every_frame_and_flow_accounted(*w, frames.size());
    }
    // Data offsets below the minimum, or past the segment, are counted; one
    // past the segment still gives its SYN to the flow (scanners send them).
    auto w = make();
    for (uint8_t offset : {0, 4, 15}) {
        std::vector<uint8_t> f = basic[0].bytes;
        f[syn_tcp + 12] = static_cast<uint8_t>(offset << 4 | (f[syn_tcp + 12] & 0x0f));
        w->handle_frame(f.data(), static_cast<uint32_t>(f.size()), basic[0].time_ns, 0);
    }
    EXPECT_EQ(decode_count(*w, DecodeResult::tcp_bad_data_offset) + decode_count(*w, DecodeResult::tcp_truncated),
              3u);
    EXPECT_EQ(w->counters().tcp_header_only.get(), 1u);
    EXPECT_EQ(w->flows().size(), 1u);
    expect_every_frame_and_flow_accounted(*w, 3);
}

TEST_F(HostileTrafficTest, EmptyAndMaximumSizeFrames)
{
    auto w = make();
    w->handle_frame(nullptr, 0, 1, 0);
    const uint8_t one = 0;
    w->handle_frame(&one, 0, 1, 0);
    EXPECT_EQ(decode_count(*w, DecodeResult::eth_truncated), 2u);

    // The SYN of the basic session padded to the largest frames: a jumbo and
    // the most a 16-bit length can say; the padding is not payload.
    const std::vector<Frame> basic = capture("ipv4_telnet_basic");
    for (size_t size : {size_t{9216}, size_t{65535}, size_t{65536 + 100}}) {
        std::vector<uint8_t> big = basic[0].bytes;
        big.resize(size, 0xff);
        w->handle_frame(big.data(), static_cast<uint32_t>(big.size()), basic[0].time_ns, 0);
    }
    EXPECT_EQ(decode_count(*w, DecodeResult::ok), 3u);
    // A frame of 64 KiB of nothing but 0xff: broadcast, unknown ethertype.
    const std::vector<uint8_t> noise(65535, 0xff);
    w->handle_frame(noise.data(), static_cast<uint32_t>(noise.size()), 2, 0);
    EXPECT_EQ(decode_count(*w, DecodeResult::unsupported_ethertype), 1u);
    expect_every_frame_and_flow_accounted(*w, 6);
}

// A second of spoofed SYNs at 64K per second to the Telnet port, each from
// its own address and port, on a table of 4096: sixteen times more flows
// than it holds. Before the flood, long-lived Telnet sessions are accepted
// and stay open (idle); during it, new Telnet sessions come and go. Every
// one of them must be detected, none of the idle ones evicted, memory must
// not grow, and every flow the flood made is accounted for.
TEST_F(HostileTrafficTest, SynFloodCannotStarveRealConnections)
{
    const std::vector<Frame> basic = capture("ipv4_telnet_basic");
    const std::vector<bool> from_client = client_sides(basic);
    const size_t per_session = accepted_in_truth("ipv4_telnet_basic");
    ASSERT_EQ(per_session, 1u);
    // The session's handshake and a little data, without the close.
    size_t open_part = 0;
    auto tcp_flags = [&](size_t i) { return basic[i].bytes[kEth + (basic[i].bytes[kEth] & 0x0f) * 4 + 13]; };
    while (open_part < basic.size() && !(tcp_flags(open_part) & tcp_flag::fin))
        ++open_part;
    ASSERT_GE(open_part, 3u);

    Config config;
    config.flow_table.capacity = 4096;
    auto w = make(config);
    rte_malloc_socket_stats heap_before{};
    rte_malloc_get_socket_stats(0, &heap_before);

    // Flood SYN i comes from 198.18.x.y.
    auto session_frame = [&](uint32_t n, size_t i, uint64_t t) { return session_copy(basic, from_client, n, i, t); };
    std::vector<Frame> frames;
    const uint64_t t0 = basic[0].time_ns;
    constexpr uint32_t kIdleSessions = 100, kNewSessions = 200, kFlood = 65536;
    for (uint32_t n = 0; n < kIdleSessions; ++n)
        for (size_t i = 0; i < open_part; ++i)
            frames.push_back(session_frame(n, i, t0 + n * 1000 + i));
    const uint64_t flood_start = t0 + kSecond;
    std::mt19937 rng(64);
    uint32_t flooded = 0;
    auto flood_syn = [&]() {
        const uint64_t t = flood_start + flooded * kSecond / kFlood;
        frames.push_back({t, with_ipv4_client(basic[0].bytes, true, 0xc6120000 + flooded,
                                              static_cast<uint16_t>(1024 + rng() % 64000))});
        ++flooded;
    };
    // New sessions inside the flood: 20 spoofed SYNs before each of their
    // packets (an RTT of 0.3 ms at this rate).
    for (uint32_t n = 0; n < kNewSessions; ++n) {
        for (size_t i = 0; i < basic.size(); ++i) {
            for (int k = 0; k < 20; ++k)
                flood_syn();
            frames.push_back(session_frame(kIdleSessions + n, i, frames.back().time_ns));
        }
    }
    while (flooded < kFlood)
        flood_syn();

    std::vector<EventRecord> events;
    feed(*w, frames, &events);

    size_t telnet_alerts = 0, evicted_ends = 0;
    for (const EventRecord &r : events) {
        telnet_alerts += r.type == EventType::alert && r.rule == RuleId::accepted_telnet_port;
        evicted_ends += r.type == EventType::connection_end && r.end_reason == EndReason::evicted;
    }
    EXPECT_EQ(telnet_alerts, (kIdleSessions + kNewSessions) * per_session);
    EXPECT_EQ(evicted_ends, 0u) << "accepted connections were pushed out by the flood";
    const WorkerCounters &c = w->counters();
    // Besides the flood and the sessions, the only flows are closed
    // sessions' last ACKs after their closed flow made room for the flood:
    // cheap to lose, counted as midstream.
    EXPECT_EQ(c.flows_created.get(), kFlood + kIdleSessions + kNewSessions +
                                         c.handshake[static_cast<int>(HandshakeOutcome::midstream)].get());
    EXPECT_EQ(c.flows_evicted.get(), c.flows_created.get() - config.flow_table.capacity);
    EXPECT_EQ(c.flow_table_full.get(), 0u);
    EXPECT_EQ(w->flows().size(), config.flow_table.capacity);
    rte_malloc_socket_stats heap_after{};
    rte_malloc_get_socket_stats(0, &heap_after);
    EXPECT_EQ(heap_after.heap_allocsz_bytes, heap_before.heap_allocsz_bytes) << "the flood made the worker allocate";
    expect_every_frame_and_flow_accounted(*w, frames.size());
}

// Ten times more concurrent flows than the table holds, all of them real
// connections of mixed outcomes (the many_flows capture, 300 flows open at
// once, on a table of 30): the table stays bounded, evictions are counted
// and every accepted connection still gets exactly one start and one end.
TEST_F(HostileTrafficTest, TenTimesMoreConcurrentFlowsThanTheTableHolds)
{
    Config config;
    config.flow_table.capacity = 30;
    auto w = make(config);
    std::vector<EventRecord> events;
    const std::vector<Frame> frames = capture("many_flows");
    feed(*w, frames, &events);
    w->flush();
    for (const EventRecord &r : drain(*w))
        events.push_back(r);
    size_t starts = 0, ends = 0, alerts = 0;
    for (const EventRecord &r : events) {
        starts += r.type == EventType::connection_start;
        ends += r.type == EventType::connection_end;
        alerts += r.type == EventType::alert && r.rule == RuleId::accepted_telnet_port;
    }
    EXPECT_GT(w->counters().flows_evicted.get(), 0u);
    EXPECT_EQ(starts, ends);
    // Not every connection can be followed with a tenth of the room, but new
    // ones keep being detected (plain LRU eviction detects 1 of 150 here).
    EXPECT_GE(starts, config.flow_table.capacity / 2);
    EXPECT_GT(alerts, 0u);
    std::printf("many_flows on a table of 30: %zu of %zu connections detected, %llu evictions\n", starts,
                accepted_in_truth("many_flows"), static_cast<unsigned long long>(w->counters().flows_evicted.get()));
    expect_every_frame_and_flow_accounted(*w, frames.size());
}

// A table full of accepted connections and no handshake in progress: a new
// connection takes the place of the least recently seen one, which gets
// its end record (reason evicted), and is itself detected.
TEST_F(HostileTrafficTest, TableFullOfConnectionsEvictsTheIdlestForANewOne)
{
    const std::vector<Frame> basic = capture("ipv4_telnet_basic");
    const std::vector<bool> from_client = client_sides(basic);
    Config config;
    config.flow_table.capacity = 8;
    auto w = make(config);
    std::vector<Frame> frames;
    for (uint32_t n = 0; n <= config.flow_table.capacity; ++n)
        for (size_t i = 0; i < 3; ++i)  // the handshake: accepted, left open
            frames.push_back(session_copy(basic, from_client, n, i, basic[0].time_ns + n * kSecond + i));
    std::vector<EventRecord> events;
    feed(*w, frames, &events);
    std::vector<uint16_t> evicted;
    size_t alerts = 0;
    for (const EventRecord &r : events) {
        if (r.type == EventType::connection_end && r.end_reason == EndReason::evicted)
            evicted.push_back(r.client_port);
        alerts += r.type == EventType::alert && r.rule == RuleId::accepted_telnet_port;
    }
    EXPECT_EQ(evicted, std::vector<uint16_t>{20000});
    EXPECT_EQ(alerts, config.flow_table.capacity + 1u);
    EXPECT_EQ(w->counters().flows_evicted.get(), 1u);
    expect_every_frame_and_flow_accounted(*w, frames.size());
}
