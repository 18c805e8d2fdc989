// Control-thread detections: network.direction, the external-Telnet ranges
// at their boundaries, scan thresholds, throttling with exact counts, and
// their configuration. Documents are parsed back; expectations come from
// the tables in the test, never from flowsentry's output.
#include <arpa/inet.h>

#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include "flowsentry/address_set.hpp"
#include "flowsentry/config.hpp"
#include "flowsentry/detections.hpp"
#include "flowsentry/ecs_format.hpp"

using namespace flowsentry;

namespace {

constexpr uint64_t kSecond = 1000000000ull;
constexpr uint64_t kT0 = 1700000000ull * kSecond;

void set_addr(uint8_t *dst, const std::string &text, uint8_t &version)
{
    std::memset(dst, 0, 16);
    if (inet_pton(AF_INET, text.c_str(), dst) == 1) {
        version = 4;
        return;
    }
    ASSERT_EQ(inet_pton(AF_INET6, text.c_str(), dst), 1) << text;
    version = 6;
}

EventRecord record(EventType type, const std::string &client, uint16_t cport, const std::string &server,
                   uint16_t sport, uint64_t time_ns)
{
    EventRecord r;
    std::memset(&r, 0, sizeof r);
    r.type = type;
    r.time_ns = time_ns;
    r.start_ns = time_ns;
    set_addr(r.client_addr, client, r.ip_version);
    set_addr(r.server_addr, server, r.ip_version);
    r.client_port = cport;
    r.server_port = sport;
    r.l4_proto = 6;
    return r;
}

EventRecord accepted_alert(const std::string &client, const std::string &server, uint16_t cport = 40000,
                           uint64_t t = kT0)
{
    EventRecord r = record(EventType::alert, client, cport, server, 23, t);
    r.rule = RuleId::accepted_telnet_port;
    return r;
}

EcsFormatter formatter(const Detections &d)
{
    EcsContext ctx;
    ctx.observer_hostname = "test";
    ctx.product_version = "0";
    ctx.telnet_ports = {23};
    ctx.address_lists = d.address_lists();
    return EcsFormatter(ctx);
}

std::vector<rapidjson::Document> parse_lines(const std::string &ndjson)
{
    std::vector<rapidjson::Document> docs;
    std::istringstream in(ndjson);
    std::string line;
    while (std::getline(in, line)) {
        docs.emplace_back();
        EXPECT_FALSE(docs.back().Parse(line.c_str()).HasParseError()) << line;
    }
    return docs;
}

std::string str(const rapidjson::Document &d, const char *pointer)
{
    const rapidjson::Value *v = rapidjson::Pointer(pointer).Get(d);
    return v && v->IsString() ? v->GetString() : "";
}

uint64_t num(const rapidjson::Document &d, const char *pointer)
{
    const rapidjson::Value *v = rapidjson::Pointer(pointer).Get(d);
    return v && v->IsUint64() ? v->GetUint64() : UINT64_MAX;
}

std::vector<std::string> rule_names(const std::string &ndjson)
{
    std::vector<std::string> names;
    for (const auto &d : parse_lines(ndjson))
        names.push_back(str(d, "/rule/name"));
    return names;
}

// ------------------------------------------------------------ CIDR parsing

TEST(Cidr, ParsesAndRejects)
{
    Cidr c;
    std::string error;
    ASSERT_TRUE(parse_cidr("10.0.0.0/8", c, error));
    EXPECT_EQ(c.ip_version, 4);
    EXPECT_EQ(c.prefix, 8);
    ASSERT_TRUE(parse_cidr("FE80::/10", c, error));
    EXPECT_EQ(c.ip_version, 6);
    EXPECT_EQ(format_cidr(c), "fe80::/10");
    ASSERT_TRUE(parse_cidr("::1", c, error));
    EXPECT_EQ(c.prefix, 128);
    EXPECT_FALSE(parse_cidr("10.0.0.1/8", c, error));
    EXPECT_EQ(error, "host bits set beyond the prefix length");
    EXPECT_FALSE(parse_cidr("10.0.0.0/33", c, error));
    EXPECT_FALSE(parse_cidr("10.0.0.0/", c, error));
    EXPECT_FALSE(parse_cidr("10.0.0.0/-1", c, error));
    EXPECT_FALSE(parse_cidr("fe80::/129", c, error));
    EXPECT_FALSE(parse_cidr("example.com/8", c, error));
    EXPECT_FALSE(parse_cidr("", c, error));
}

// ------------------------------------------------------------ direction

struct DirectionCase {
    const char *client;
    const char *server;
    const char *direction;
};

TEST(Direction, EveryHomeCombinationOnEveryDocument)
{
    DetectionConfig config;
    config.home_networks = parse_cidrs({"192.0.2.0/24", "2001:db8:1::/48"});
    Detections d(config);
    const EcsFormatter f = formatter(d);
    const DirectionCase cases[] = {
        {"192.0.2.1", "192.0.2.254", "internal"},     {"192.0.2.1", "198.51.100.1", "outbound"},
        {"198.51.100.1", "192.0.2.1", "inbound"},     {"198.51.100.1", "198.51.100.2", "external"},
        {"2001:db8:1::1", "2001:db8:1:ffff::1", "internal"}, {"2001:db8:1::1", "2001:db8:2::1", "outbound"},
        {"2001:db8:2::1", "2001:db8:1::1", "inbound"}, {"2001:db8:2::1", "2001:db8:2::2", "external"},
        // Boundaries of the /24 and the /48.
        {"192.0.1.255", "192.0.3.0", "external"},      {"192.0.2.0", "192.0.2.255", "internal"},
        {"2001:db8:0:ffff:ffff:ffff:ffff:ffff", "2001:db8:1::", "inbound"},
    };
    for (const auto &c : cases) {
        for (EventType type : {EventType::connection_start, EventType::connection_end, EventType::alert}) {
            EventRecord r = record(type, c.client, 40000, c.server, 80, kT0);
            r.rule = RuleId::mirai_scan_syn;
            r.start_ns += static_cast<uint64_t>(type);  // distinct connections: no per-flow dedupe
            std::string out;
            d.process(r, f, out);
            const auto docs = parse_lines(out);
            ASSERT_EQ(docs.size(), 1u) << c.client << " " << c.server;
            EXPECT_EQ(str(docs[0], "/network/direction"), c.direction) << c.client << " -> " << c.server;
        }
    }
}

TEST(Direction, DefaultHomeIsRfc1918AndRfc4193)
{
    Detections d(DetectionConfig{});
    const DirectionCase cases[] = {
        {"10.0.0.0", "10.255.255.255", "internal"},   {"172.16.0.1", "172.31.255.255", "internal"},
        {"192.168.0.1", "192.168.255.255", "internal"}, {"fc00::1", "fdff:ffff::1", "internal"},
        {"172.15.255.255", "172.32.0.0", "external"}, {"11.0.0.1", "10.0.0.1", "inbound"},
        {"192.168.1.1", "192.169.0.1", "outbound"},   {"fe00::1", "fc00::1", "inbound"},
    };
    const EcsFormatter f = formatter(d);
    for (const auto &c : cases) {
        std::string out;
        d.process(record(EventType::connection_start, c.client, 1, c.server, 23, kT0), f, out);
        const auto docs = parse_lines(out);
        ASSERT_EQ(docs.size(), 1u);
        EXPECT_EQ(str(docs[0], "/network/direction"), c.direction) << c.client << " -> " << c.server;
    }
}

// ------------------------------------------------------------ external Telnet

// Each excluded range with the address just inside each end and just
// outside: inside yields only the accepted-Telnet alert, outside adds the
// external one.
struct RangeCase {
    const char *address;
    bool external_elastic;
    bool external_iana;
};

const RangeCase kRangeCases[] = {
    {"9.255.255.255", true, true},     {"10.0.0.0", false, false},      {"10.255.255.255", false, false},
    {"11.0.0.0", true, true},          {"126.255.255.255", true, true}, {"127.0.0.1", false, false},
    {"128.0.0.0", true, true},         {"169.253.255.255", true, true}, {"169.254.0.0", false, false},
    {"169.255.0.0", true, true},       {"172.15.255.255", true, true},  {"172.16.0.0", false, false},
    {"172.31.255.255", false, false},  {"172.32.0.0", true, true},      {"191.255.255.255", true, true},
    {"192.0.0.0", false, false},       {"192.0.0.255", false, false},   {"192.0.1.0", true, true},
    {"192.0.2.0", false, false},       {"192.0.2.255", false, false},   {"192.0.3.0", true, true},
    {"192.31.195.255", true, true},    {"192.31.196.0", false, false},  {"192.31.197.0", true, true},
    {"192.52.193.255", false, false},  {"192.52.194.0", true, true},    {"192.88.98.255", true, true},
    {"192.88.99.0", false, false},     {"192.88.100.0", true, true},    {"192.167.255.255", true, true},
    {"192.168.0.0", false, false},     {"192.169.0.0", true, true},     {"192.175.47.255", true, true},
    {"192.175.48.0", false, false},    {"192.175.49.0", true, true},    {"198.17.255.255", true, true},
    {"198.18.0.0", false, false},      {"198.19.255.255", false, false}, {"198.20.0.0", true, true},
    {"198.51.99.255", true, true},     {"198.51.100.0", false, false},  {"198.51.101.0", true, true},
    {"203.0.112.255", true, true},     {"203.0.113.0", false, false},   {"203.0.114.0", true, true},
    {"223.255.255.255", true, true},   {"224.0.0.0", false, false},     {"239.255.255.255", false, false},
    {"240.0.0.0", false, false},       {"255.255.255.254", false, false},
    {"100.63.255.255", true, true},    {"100.64.0.0", false, false},    {"100.127.255.255", false, false},
    {"100.128.0.0", true, true},
    // Ranges the Elastic list omits and the IANA registries have.
    {"0.0.0.1", true, false},          {"0.255.255.255", true, false},  {"1.0.0.0", true, true},
    {"::1", false, false},             {"::2", true, true},               {"::", true, false},            {"fe7f:ffff::1", true, true},
    {"fe80::", false, false},          {"febf:ffff::1", false, false},  {"fec0::", true, true},
    {"feff::1", true, true},           {"ff00::", false, false},        {"ff02::1", false, false},
    {"fc00::1", true, false},          {"fdff::1", true, false},        {"fbff::1", true, true},
    {"2001:db8::1", true, false},      {"2001:db9::1", true, true},     {"64:ff9b::1.2.3.4", true, false},
    {"2002::1", true, false},          {"2606:4700::1", true, true},
};

std::vector<std::string> alerts_for(Detections &d, const std::string &server)
{
    std::string out;
    d.process(accepted_alert("10.1.1.1", server), formatter(d), out);
    return rule_names(out);
}

TEST(ExternalTelnet, ElasticListBoundaries)
{
    Detections d(DetectionConfig{});
    for (const auto &c : kRangeCases) {
        std::vector<std::string> expected = {"Accepted Default Telnet Port Connection"};
        if (c.external_elastic)
            expected.push_back("Connection to External Network via Telnet");
        EXPECT_EQ(alerts_for(d, c.address), expected) << c.address;
    }
}

TEST(ExternalTelnet, IanaRegistriesBoundaries)
{
    DetectionConfig config;
    config.external_ranges = ExternalRanges::iana;
    Detections d(config);
    for (const auto &c : kRangeCases) {
        std::vector<std::string> expected = {"Accepted Default Telnet Port Connection"};
        if (c.external_iana)
            expected.push_back("Connection to External Network via Telnet");
        EXPECT_EQ(alerts_for(d, c.address), expected) << c.address;
    }
}

TEST(ExternalTelnet, CarriesTheElasticRuleMetadata)
{
    Detections d(DetectionConfig{});
    std::string out;
    d.process(accepted_alert("10.1.1.1", "93.184.216.34"), formatter(d), out);
    const auto docs = parse_lines(out);
    ASSERT_EQ(docs.size(), 2u);
    const auto &a = docs[1];
    EXPECT_EQ(str(a, "/rule/id"), "e19e64ee-130e-4c07-961f-8a339f0b8362");
    EXPECT_EQ(str(a, "/rule/name"), "Connection to External Network via Telnet");
    EXPECT_EQ(num(a, "/event/risk_score"), 47u);
    EXPECT_EQ(num(a, "/event/severity"), 2u);
    EXPECT_EQ(str(a, "/threat/tactic/id/0"), "TA0008");
    EXPECT_EQ(str(a, "/threat/technique/id/0"), "T1021");
    EXPECT_EQ(rapidjson::Pointer("/threat/tactic/id").Get(a)->Size(), 1u);
    EXPECT_EQ(str(a, "/network/direction"), "outbound");
    EXPECT_EQ(d.counters().external_telnet, 1u);
}

// ------------------------------------------------------------ scan

EventRecord attempt(const std::string &client, const std::string &server, uint64_t t, uint16_t cport = 50000)
{
    EventRecord r = record(EventType::attempt, client, cport, server, 23, t);
    r.attempt_phase = AttemptPhase::opened;
    r.count = 1;
    return r;
}

TEST(Scan, FiresAtTheThresholdWithinTheWindowOnly)
{
    DetectionConfig config;
    config.scan_destinations = 4;
    config.scan_window_s = 10;
    Detections d(config);
    const EcsFormatter f = formatter(d);
    std::string out;
    // Three destinations, then a pause longer than the window: no alert.
    for (int i = 1; i <= 3; ++i)
        d.process(attempt("203.0.113.9", "10.0.0." + std::to_string(i), kT0 + i * kSecond), f, out);
    d.process(attempt("203.0.113.9", "10.0.0.4", kT0 + 15 * kSecond), f, out);
    EXPECT_EQ(out, "");
    // Repeats of one destination do not count as more destinations.
    for (int i = 0; i < 5; ++i)
        d.process(attempt("203.0.113.9", "10.0.0.5", kT0 + 16 * kSecond, 50001 + i), f, out);
    EXPECT_EQ(out, "");
    // Another source's attempts are its own.
    d.process(attempt("203.0.113.10", "10.0.0.6", kT0 + 16 * kSecond), f, out);
    d.process(attempt("203.0.113.10", "10.0.0.7", kT0 + 16 * kSecond), f, out);
    EXPECT_EQ(out, "");
    // Failures are counted into the alert.
    EventRecord failed = attempt("203.0.113.9", "10.0.0.4", kT0 + 17 * kSecond);
    failed.attempt_phase = AttemptPhase::failed;
    failed.count = 1;
    failed.outcome = static_cast<uint8_t>(HandshakeOutcome::rejected);
    d.process(failed, f, out);
    EXPECT_EQ(out, "");
    // In window now: .4 (15 s), .5 (16 s), .6, .7 below -> the 4th fires.
    d.process(attempt("203.0.113.9", "10.0.0.6", kT0 + 18 * kSecond), f, out);
    EXPECT_EQ(out, "");
    d.process(attempt("203.0.113.9", "10.0.0.7", kT0 + 19 * kSecond), f, out);
    auto docs = parse_lines(out);
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(str(docs[0], "/rule/name"), "Telnet Scan");
    EXPECT_EQ(str(docs[0], "/source/ip"), "203.0.113.9");
    EXPECT_EQ(num(docs[0], "/flowsentry/scan/destinations"), 4u);
    EXPECT_EQ(num(docs[0], "/flowsentry/scan/attempts"), 11u);  // 3 + 1 + 5 + 1 + 1
    EXPECT_EQ(num(docs[0], "/flowsentry/scan/rejected"), 1u);
    EXPECT_EQ(num(docs[0], "/flowsentry/scan/window_s"), 10u);
    EXPECT_EQ(str(docs[0], "/message"), "Telnet Scan: 203.0.113.9 tried 4 Telnet servers within 10 s (11 SYNs)");
    // Quiet for a window after an alert, then it can fire again.
    out.clear();
    for (int i = 10; i < 20; ++i)
        d.process(attempt("203.0.113.9", "10.0.1." + std::to_string(i), kT0 + 20 * kSecond), f, out);
    EXPECT_EQ(out, "");
    for (int i = 20; i < 24; ++i)
        d.process(attempt("203.0.113.9", "10.0.2." + std::to_string(i), kT0 + 30 * kSecond), f, out);
    EXPECT_EQ(parse_lines(out).size(), 1u);
    EXPECT_EQ(d.counters().scan_alerts, 2u);
}

TEST(Scan, ThresholdOneBelowDoesNotFire)
{
    for (uint32_t threshold : {2u, 5u, 50u}) {
        DetectionConfig config;
        config.scan_destinations = threshold;
        Detections d(config);
        const EcsFormatter f = formatter(d);
        std::string out;
        for (uint32_t i = 0; i + 1 < threshold; ++i)
            d.process(attempt("198.18.0.9", "10.9." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1),
                              kT0 + i * 1000),
                      f, out);
        EXPECT_EQ(out, "") << threshold;
        d.process(attempt("198.18.0.9", "10.10.0.1", kT0 + threshold * 1000), f, out);
        EXPECT_EQ(rule_names(out), std::vector<std::string>{"Telnet Scan"}) << threshold;
    }
}

TEST(Scan, SourceTableIsBoundedAndCounted)
{
    DetectionConfig config;
    config.scan_max_sources = 4;
    Detections d(config);
    const EcsFormatter f = formatter(d);
    std::string out;
    for (int i = 0; i < 10; ++i)
        d.process(attempt("198.18.1." + std::to_string(i), "10.0.0.1", kT0), f, out);
    EXPECT_EQ(d.counters().scan_sources_evicted, 6u);
    EXPECT_EQ(d.counters().scan_attempts, 10u);
}

TEST(Scan, SourceTableEvictsTheLeastRecentlySeenInConstantTime)
{
    // A million sources through a table of 1,024: every new source past the
    // bound evicts the one seen longest ago, never a walk over the table
    // (the old walk made this quadratic: minutes, not a second).
    DetectionConfig config;
    config.scan_max_sources = 1024;
    Detections d(config);
    const EcsFormatter f = formatter(d);
    std::string out;
    constexpr uint32_t kSources = 1000000;
    for (uint32_t i = 0; i < kSources; ++i) {
        const std::string client = "11." + std::to_string(i >> 16) + "." + std::to_string(i >> 8 & 255) + "." +
                                   std::to_string(i & 255);
        d.process(attempt(client, "10.0.0.1", kT0 + i), f, out);
    }
    EXPECT_EQ(d.counters().scan_attempts, kSources);
    EXPECT_EQ(d.counters().scan_sources_evicted, kSources - 1024);
    EXPECT_EQ(out, "");
    // The newest sources are still counted: four more servers make one alert.
    for (int i = 2; i <= 5; ++i)
        d.process(attempt("11.15.66.63", "10.0.0." + std::to_string(i), kT0 + kSources + i), f, out);
    EXPECT_EQ(rule_names(out), std::vector<std::string>{"Telnet Scan"});
}

TEST(Scan, IdleSourcesAreForgottenOldestFirst)
{
    DetectionConfig config;
    config.scan_max_sources = 2;
    config.scan_window_s = 10;
    Detections d(config);
    const EcsFormatter f = formatter(d);
    std::string out;
    d.process(attempt("198.18.1.1", "10.0.0.1", kT0), f, out);
    d.process(attempt("198.18.1.2", "10.0.0.1", kT0 + kSecond), f, out);
    // Both idle for a window by then: room without evicting anything live.
    d.process(attempt("198.18.1.3", "10.0.0.1", kT0 + 20 * kSecond), f, out);
    d.process(attempt("198.18.1.4", "10.0.0.1", kT0 + 20 * kSecond), f, out);
    EXPECT_EQ(d.counters().scan_sources_evicted, 0u);
    d.process(attempt("198.18.1.5", "10.0.0.1", kT0 + 21 * kSecond), f, out);
    EXPECT_EQ(d.counters().scan_sources_evicted, 1u);
}

TEST(Scan, WatchedSourceWaitsForEveryAnswerThenCountsInTimeOrder)
{
    // Two workers: worker 0 hands over a source it found hot; worker 1's
    // answer (its held attempts, then `watched`) comes later, with earlier
    // times. The alert is the one a single worker seeing every attempt in
    // time order gives: at the fourth server, describing that attempt.
    DetectionConfig config;
    config.scan_destinations = 4;
    Detections d(config);
    std::vector<EventRecord> watched;
    d.set_scan_watch([&](const EventRecord &first) {
        watched.push_back(first);
        return Detections::WatchResult{1, 0};
    });
    const EcsFormatter f = formatter(d);
    std::string out;
    auto on = [](EventRecord r, uint16_t worker) {
        r.worker_id = worker;
        return r;
    };
    d.process(on(attempt("203.0.113.7", "10.0.0.1", kT0 + 1 * kSecond), 0), f, out);
    d.process(on(attempt("203.0.113.7", "10.0.0.3", kT0 + 3 * kSecond), 0), f, out);
    d.process(on(attempt("203.0.113.7", "10.0.0.5", kT0 + 5 * kSecond), 0), f, out);
    ASSERT_EQ(watched.size(), 1u);
    EXPECT_EQ(watched[0].worker_id, 0);
    EXPECT_EQ(d.scan_sources_waiting(), 1u);
    EXPECT_EQ(out, "");  // four servers seen, but not yet taken
    d.process(on(attempt("203.0.113.7", "10.0.0.2", kT0 + 2 * kSecond), 1), f, out);
    EXPECT_EQ(out, "");
    EventRecord answer = on(attempt("203.0.113.7", "0.0.0.0", kT0 + 6 * kSecond), 1);
    answer.attempt_phase = AttemptPhase::watched;
    answer.count = 0;
    d.process(answer, f, out);
    EXPECT_EQ(d.scan_sources_waiting(), 0u);
    const auto docs = parse_lines(out);
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(num(docs[0], "/flowsentry/scan/destinations"), 4u);
    EXPECT_EQ(num(docs[0], "/flowsentry/scan/attempts"), 4u);
    EXPECT_EQ(str(docs[0], "/destination/ip"), "10.0.0.5");  // the fourth in time order
    EXPECT_EQ(d.counters().scan_watches, 1u);
}

TEST(Scan, SourceStillWaitingAtTheEndIsCountedWithWhatCame)
{
    DetectionConfig config;
    config.scan_destinations = 3;
    Detections d(config);
    d.set_scan_watch([](const EventRecord &) { return Detections::WatchResult{2, 1}; });
    const EcsFormatter f = formatter(d);
    std::string out;
    for (int i = 1; i <= 3; ++i)
        d.process(attempt("203.0.113.8", "10.0.0." + std::to_string(i), kT0 + i * kSecond), f, out);
    EXPECT_EQ(out, "");
    d.finish(f, out);
    EXPECT_EQ(rule_names(out), std::vector<std::string>{"Telnet Scan"});
    EXPECT_EQ(d.counters().scan_watch_drops, 1u);
}

TEST(Scan, LivePacketTimeMovesWithTheWallClockFromThePacketsOwnTime)
{
    // A looping capture is years old: the wall clock must not age every
    // source at once, nor freeze the windows while no packet comes.
    Detections d(DetectionConfig{});
    const EcsFormatter f = formatter(d);
    std::string out;
    constexpr uint64_t kWall = 1800000000ull * kSecond;
    d.process(attempt("198.18.2.1", "10.0.0.1", kT0), f, out);
    EXPECT_EQ(d.packet_now(kWall), kT0);
    EXPECT_EQ(d.packet_now(kWall + 5 * kSecond), kT0 + 5 * kSecond);
    d.process(attempt("198.18.2.1", "10.0.0.2", kT0 + kSecond), f, out);
    EXPECT_EQ(d.packet_now(kWall + 6 * kSecond), kT0 + kSecond);
    EXPECT_EQ(d.packet_now(kWall + 8 * kSecond), kT0 + 3 * kSecond);
}

// ------------------------------------------------------------ throttling

// Every rule, the accepted-connection alert included, limited per pair.
DetectionConfig throttled(uint32_t alerts, uint32_t interval_s, ThrottleTrack track = ThrottleTrack::by_both)
{
    DetectionConfig config;
    for (ThrottleLimit &l : config.throttle.limits)
        l = ThrottleLimit{track, alerts, interval_s};
    return config;
}

EventRecord mirai_alert(const std::string &client, const std::string &server, uint16_t cport, uint64_t t)
{
    EventRecord r = record(EventType::alert, client, cport, server, 23, t);
    r.rule = RuleId::mirai_scan_syn;
    return r;
}

std::string ipv4(uint32_t host_order)
{
    const uint32_t a = htonl(host_order);
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

// Issue 16: 300 distinct pairs lost 200 accepted-connection alerts to one
// global budget, 150 logins lost 49 to it.
TEST(Throttle, DefaultsWriteEveryConnectionAndEveryLogin)
{
    Detections d(DetectionConfig{});
    const EcsFormatter f = formatter(d);
    std::string out;
    for (uint32_t i = 0; i < 300; ++i)
        d.process(accepted_alert(ipv4(0x0a000001 + i), ipv4(0x5db8d801 + i), 40000, kT0 + i * 1000), f, out);
    // One client logging in 150 times over one connection: each attempt is
    // its own alert (its offset in the client's stream).
    for (uint32_t i = 0; i < 150; ++i) {
        EventRecord login = record(EventType::alert, "10.9.9.9", 41000, "10.8.8.8", 23, kT0 + kSecond + i);
        login.start_ns = kT0;
        login.rule = RuleId::telnet_cleartext_credentials;
        login.login_outcome = 1;
        login.stream_offset = 100 + i;
        login.user_name_len = 4;
        std::memcpy(login.user_name, "root", 4);
        d.process(login, f, out);
    }
    d.finish(f, out);
    std::map<std::string, size_t> by_rule;
    size_t with_user = 0;
    for (const auto &doc : parse_lines(out)) {
        by_rule[str(doc, "/rule/name")] += 1;
        with_user += str(doc, "/user/name") == "root";
    }
    EXPECT_EQ(by_rule["Accepted Default Telnet Port Connection"], 300u);
    EXPECT_EQ(by_rule["Connection to External Network via Telnet"], 300u);  // by_both: a pair each
    EXPECT_EQ(by_rule["Telnet Cleartext Credentials"], 150u);
    EXPECT_EQ(with_user, 150u);
    EXPECT_EQ(by_rule.size(), 3u);  // and no summary
    EXPECT_EQ(d.counters().alerts_throttled, 0u);
    EXPECT_EQ(d.counters().throttle_summaries, 0u);
}

TEST(Throttle, ANoisyPairDoesNotHideAnotherPair)
{
    Detections d(throttled(100, 300));
    const EcsFormatter f = formatter(d);
    std::string out;
    // 250 alerts of one pair, and after every other one an alert of a new
    // pair: the new pairs are all written, the noisy one 100 times.
    size_t others = 0;
    for (uint32_t i = 0; i < 250; ++i) {
        d.process(mirai_alert("198.51.100.7", "203.0.113.5", static_cast<uint16_t>(10000 + i), kT0 + i * kSecond), f,
                  out);
        if (i % 2 == 0) {
            d.process(mirai_alert(ipv4(0x0a010000 + i), "203.0.113.5", 20000, kT0 + i * kSecond), f, out);
            ++others;
        }
    }
    auto docs = parse_lines(out);
    EXPECT_EQ(docs.size(), 100u + others);
    size_t noisy = 0;
    for (const auto &doc : docs)
        noisy += str(doc, "/source/ip") == "198.51.100.7";
    EXPECT_EQ(noisy, 100u);
    EXPECT_EQ(d.counters().alerts_throttled, 150u);
    // Its summary when its interval is over (300 s after its first alert):
    // the rule's name, the key, the exact count, the last alert held back.
    out.clear();
    d.tick(kT0 + 300 * kSecond, f, out);
    docs = parse_lines(out);
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(str(docs[0], "/rule/name"), "Mirai-style Telnet Scanner SYN");
    EXPECT_EQ(num(docs[0], "/flowsentry/throttle/suppressed"), 150u);
    EXPECT_EQ(num(docs[0], "/flowsentry/throttle/limit"), 100u);
    EXPECT_EQ(num(docs[0], "/source/port"), 10249u);
    EXPECT_EQ(str(docs[0], "/message"),
              "Mirai-style Telnet Scanner SYN: 150 more alerts from 198.51.100.7 to 203.0.113.5 suppressed "
              "(by_both, limit 100 per 300 s); the last one is shown");
    out.clear();
    d.finish(f, out);
    EXPECT_EQ(out, "");  // the other pairs held nothing back
}

TEST(Throttle, TrackBySourceAndByDestination)
{
    struct Case {
        ThrottleTrack track;
        size_t written;    // of 3 clients x 4 servers, 1 alert per key
        size_t summaries;  // keys that held some back
    };
    for (const Case c : {Case{ThrottleTrack::by_src, 3, 3}, Case{ThrottleTrack::by_dst, 4, 4},
                         Case{ThrottleTrack::by_both, 12, 0}, Case{ThrottleTrack::by_rule, 1, 1},
                         Case{ThrottleTrack::off, 12, 0}}) {
        Detections d(throttled(1, 60, c.track));
        const EcsFormatter f = formatter(d);
        std::string out;
        for (uint32_t client = 0; client < 3; ++client)
            for (uint32_t server = 0; server < 4; ++server)
                d.process(mirai_alert(ipv4(0x0a000001 + client), ipv4(0x0a000101 + server), 1000, kT0 + server),
                          f, out);
        EXPECT_EQ(parse_lines(out).size(), c.written) << throttle_track_name(c.track);
        out.clear();
        d.finish(f, out);
        const auto summaries = parse_lines(out);
        EXPECT_EQ(summaries.size(), c.summaries) << throttle_track_name(c.track);
        uint64_t suppressed = 0;
        for (const auto &s : summaries)
            suppressed += num(s, "/flowsentry/throttle/suppressed");
        EXPECT_EQ(suppressed, 12u - c.written) << throttle_track_name(c.track);
    }
}

// Issue 16: a payload signature's summary was named "Unknown rule".
TEST(Throttle, SignatureSummaryNamesTheSignature)
{
    Detections d(throttled(1, 60, ThrottleTrack::by_rule));
    EcsContext ctx;
    ctx.observer_hostname = "test";
    ctx.address_lists = d.address_lists();
    RuleInfo busybox = rule_info(RuleId::mirai_scan_syn);
    busybox.id = RuleId::signature;
    busybox.uuid = "flowsentry-sig-7";
    busybox.name = "BusyBox MIRAI applet probe";
    ctx.signature_rule = [&](uint32_t id) { return id == 7 ? &busybox : nullptr; };
    const EcsFormatter f(ctx);
    std::string out;
    for (int i = 0; i < 3; ++i) {
        EventRecord r = record(EventType::alert, "10.0.0.1", static_cast<uint16_t>(1000 + i), "10.0.0.2", 23, kT0 + i);
        r.rule = RuleId::signature;
        r.signature_id = 7;
        d.process(r, f, out);
    }
    out.clear();
    d.finish(f, out);
    const auto docs = parse_lines(out);
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(str(docs[0], "/rule/name"), "BusyBox MIRAI applet probe");
    EXPECT_EQ(str(docs[0], "/message"),
              "BusyBox MIRAI applet probe: 2 more alerts suppressed (by_rule, limit 1 per 60 s); the last one is shown");
}

TEST(Throttle, AMillionDistinctAlertsKeepTheTablesBounded)
{
    // One budget for the rule: every alert but the first is held back, so
    // the keys of alerts already seen are what grows.
    Detections d(throttled(1, 86400, ThrottleTrack::by_rule));
    const EcsFormatter f = formatter(d);
    std::string out;
    EventRecord r = mirai_alert("10.0.0.1", "10.0.0.2", 1000, kT0);
    constexpr uint32_t kAlerts = 1000000;
    for (uint32_t i = 0; i < kAlerts; ++i) {
        r.start_ns = kT0 + i;  // a new connection each
        d.process(r, f, out);
    }
    EXPECT_EQ(parse_lines(out).size(), 1u);
    EXPECT_EQ(d.counters().alerts_throttled, kAlerts - 1);
    EXPECT_EQ(d.counters().alert_keys_forgotten, kAlerts - 65536);
    // The oldest keys were forgotten, the newest are still known.
    r.start_ns = kT0 + kAlerts - 1;
    d.process(r, f, out);
    EXPECT_EQ(d.counters().alerts_duplicate, 1u);
}

TEST(Throttle, FullKeyTableSummarisesTheOldestKeyEarly)
{
    DetectionConfig config = throttled(1, 60);
    config.throttle.max_keys = 4;
    Detections d(config);
    const EcsFormatter f = formatter(d);
    std::string out;
    // Two alerts each for 6 pairs: the first 4 pairs fill the table; pairs
    // 5 and 6 push out pairs 1 and 2 with their summaries written then.
    for (uint32_t pair = 0; pair < 6; ++pair)
        for (uint16_t n = 0; n < 2; ++n)
            d.process(mirai_alert(ipv4(0x0a000001 + pair), "10.1.0.1", static_cast<uint16_t>(1000 + n), kT0 + pair), f,
                      out);
    EXPECT_EQ(d.counters().throttle_keys_evicted, 2u);
    EXPECT_EQ(d.counters().throttle_summaries, 2u);
    d.finish(f, out);
    EXPECT_EQ(d.counters().throttle_summaries, 6u);
    EXPECT_EQ(parse_lines(out).size(), 12u);  // 6 written, 6 summaries of 1 each
}

TEST(Throttle, ExactSuppressedCountsPerRuleAndInterval)
{
    Detections d(throttled(3, 60));
    const EcsFormatter f = formatter(d);
    std::string out;
    // 10 accepted-Telnet alerts to a private server (no external alert) in
    // the first interval, and 2 Mirai alerts (another rule: own budget).
    for (int i = 0; i < 10; ++i)
        d.process(accepted_alert("10.0.0.1", "10.0.0.2", static_cast<uint16_t>(1000 + i), kT0 + i * kSecond), f, out);
    for (int i = 0; i < 2; ++i) {
        EventRecord m = record(EventType::alert, "10.0.0.3", static_cast<uint16_t>(2000 + i), "10.0.0.4", 23,
                               kT0 + i * kSecond);
        m.rule = RuleId::mirai_scan_syn;
        d.process(m, f, out);
    }
    EXPECT_EQ(parse_lines(out).size(), 5u);  // 3 + 2
    // The next interval: its first alert closes the last one with a summary.
    out.clear();
    d.process(accepted_alert("10.0.0.1", "10.0.0.2", 3000, kT0 + 61 * kSecond), f, out);
    auto docs = parse_lines(out);
    ASSERT_EQ(docs.size(), 2u);
    EXPECT_EQ(str(docs[0], "/rule/name"), "Accepted Default Telnet Port Connection");
    EXPECT_EQ(num(docs[0], "/flowsentry/throttle/suppressed"), 7u);
    EXPECT_EQ(num(docs[0], "/flowsentry/throttle/limit"), 3u);
    EXPECT_EQ(num(docs[0], "/source/port"), 1009u);  // the last one held back
    EXPECT_EQ(rapidjson::Pointer("/flowsentry/throttle").Get(docs[1]), nullptr);
    // 5 more in this interval: 2 written (3 allowed, 1 used), 3 held back,
    // reported by finish().
    out.clear();
    for (int i = 0; i < 5; ++i)
        d.process(accepted_alert("10.0.0.1", "10.0.0.2", static_cast<uint16_t>(4000 + i), kT0 + 62 * kSecond), f,
                  out);
    EXPECT_EQ(parse_lines(out).size(), 2u);
    out.clear();
    d.finish(f, out);
    docs = parse_lines(out);
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(num(docs[0], "/flowsentry/throttle/suppressed"), 3u);
    EXPECT_EQ(d.counters().alerts_throttled, 10u);
    EXPECT_EQ(d.counters().throttle_summaries, 2u);
    EXPECT_EQ(d.counters().alerts_written, 3u + 2u + 1u + 2u);
}

TEST(Throttle, TickClosesAnIntervalWithoutNewAlerts)
{
    Detections d(throttled(1, 10));
    const EcsFormatter f = formatter(d);
    std::string out;
    for (int i = 0; i < 4; ++i)
        d.process(accepted_alert("10.0.0.1", "10.0.0.2", static_cast<uint16_t>(1000 + i), kT0), f, out);
    out.clear();
    d.tick(kT0 + 9 * kSecond, f, out);
    EXPECT_EQ(out, "");
    d.tick(kT0 + 10 * kSecond, f, out);
    auto docs = parse_lines(out);
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(num(docs[0], "/flowsentry/throttle/suppressed"), 3u);
    out.clear();
    d.finish(f, out);
    EXPECT_EQ(out, "");  // nothing counted twice
}

TEST(Throttle, SameConnectionOnce)
{
    Detections d(DetectionConfig{});
    const EcsFormatter f = formatter(d);
    std::string out;
    const EventRecord a = accepted_alert("10.0.0.1", "10.0.0.2");
    d.process(a, f, out);
    d.process(a, f, out);
    EventRecord reused = a;  // same ports, a new connection
    reused.start_ns += kSecond;
    d.process(reused, f, out);
    EXPECT_EQ(parse_lines(out).size(), 2u);
    EXPECT_EQ(d.counters().alerts_duplicate, 1u);
}

}  // namespace
