// ECS formatter: every document is parsed back and checked field by field,
// plus the Elastic rule queries the connection documents exist for.
#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include "flowsentry/community_id.hpp"
#include "flowsentry/ecs_format.hpp"
#include "flowsentry/rules.hpp"
#include "flowsentry/tcp_handshake.hpp"

using namespace flowsentry;

namespace {

// 2026-11-22T06:01:58.123456789Z and the SYN 1.5 s earlier.
constexpr uint64_t kTime = 1795327318ull * 1000000000ull + 123456789ull;
constexpr uint64_t kStart = kTime - 1500000000ull;

EcsContext test_context()
{
    EcsContext ctx;
    ctx.observer_hostname = "sensor-1";
    ctx.product_version = "0.1.0";
    ctx.port_names = {"eth0", "tap1"};
    ctx.telnet_ports = {23, 2323};
    ctx.community_id_seed = 0;
    return ctx;
}

void set_v4(uint8_t *dst, const char *text)
{
    std::memset(dst, 0, 16);
    ASSERT_EQ(inet_pton(AF_INET, text, dst), 1) << text;
}

void set_v6(uint8_t *dst, const char *text)
{
    ASSERT_EQ(inet_pton(AF_INET6, text, dst), 1) << text;
}

// 10.1.2.3:51000 -> 93.184.216.34:23 over TCP/IPv4 on port 1 ("tap1").
EventRecord make_record(EventType type)
{
    EventRecord r;
    std::memset(&r, 0, sizeof r);
    r.type = type;
    r.time_ns = kTime;
    r.start_ns = kStart;
    set_v4(r.client_addr, "10.1.2.3");
    set_v4(r.server_addr, "93.184.216.34");
    r.client_port = 51000;
    r.server_port = 23;
    r.ip_version = 4;
    r.l4_proto = 6;
    r.port_id = 1;
    if (type == EventType::alert)
        r.rule = RuleId::accepted_telnet_port;
    if (type == EventType::connection_end) {
        r.client_bytes = 1200;
        r.server_bytes = 34000;
        r.client_packets = 12;
        r.server_packets = 30;
        r.history = history::client_syn | history::server_synack | history::client_ack |
                    history::server_ack | history::client_data | history::server_data |
                    history::client_fin | history::server_fin;
        r.tcp_state = static_cast<uint8_t>(TcpState::closed);
        r.end_reason = EndReason::closed;
    }
    return r;
}

std::string format_one(const EventRecord &r, const EcsContext &ctx = test_context())
{
    EcsFormatter f(ctx);
    std::string out;
    f.format(r, out);
    return out;
}

// Parses one NDJSON line; fails the test if it is not exactly one valid
// JSON object followed by '\n'.
void parse_line(const std::string &line, rapidjson::Document &d)
{
    ASSERT_FALSE(line.empty());
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(std::count(line.begin(), line.end(), '\n'), 1) << line;
    d.Parse(line.c_str(), line.size() - 1);
    ASSERT_FALSE(d.HasParseError()) << "offset " << d.GetErrorOffset() << ": " << line;
    ASSERT_TRUE(d.IsObject());
}

const rapidjson::Value *get(const rapidjson::Value &d, const char *pointer)
{
    return rapidjson::Pointer(pointer).Get(d);
}

std::string str(const rapidjson::Value &d, const char *pointer)
{
    const rapidjson::Value *v = get(d, pointer);
    if (v == nullptr)
        return "<missing " + std::string(pointer) + ">";
    if (!v->IsString())
        return "<not a string " + std::string(pointer) + ">";
    return std::string(v->GetString(), v->GetStringLength());
}

// Checks an array of strings exactly (order included).
void expect_strings(const rapidjson::Value &d, const char *pointer,
                    std::initializer_list<const char *> expected)
{
    const rapidjson::Value *v = get(d, pointer);
    ASSERT_NE(v, nullptr) << pointer;
    ASSERT_TRUE(v->IsArray()) << pointer;
    ASSERT_EQ(v->Size(), expected.size()) << pointer;
    size_t i = 0;
    for (const char *e : expected) {
        ASSERT_TRUE((*v)[static_cast<rapidjson::SizeType>(i)].IsString()) << pointer;
        EXPECT_STREQ((*v)[static_cast<rapidjson::SizeType>(i)].GetString(), e) << pointer;
        ++i;
    }
}

uint64_t num(const rapidjson::Value &d, const char *pointer)
{
    const rapidjson::Value *v = get(d, pointer);
    EXPECT_NE(v, nullptr) << pointer;
    if (v == nullptr)
        return ~0ull;
    EXPECT_TRUE(v->IsUint64()) << pointer << " is not an unsigned integer";
    return v->IsUint64() ? v->GetUint64() : ~0ull;
}

bool array_has(const rapidjson::Value *v, const char *s)
{
    if (v == nullptr)
        return false;
    if (v->IsString())
        return std::strcmp(v->GetString(), s) == 0;
    if (!v->IsArray())
        return false;
    for (const auto &e : v->GetArray())
        if (e.IsString() && std::strcmp(e.GetString(), s) == 0)
            return true;
    return false;
}

bool action_in(const rapidjson::Value &d, std::initializer_list<const char *> list)
{
    const rapidjson::Value *a = get(d, "/event/action");
    if (a == nullptr)
        return false;
    for (const char *s : list)
        if (array_has(a, s))
            return true;
    return false;
}

bool destination_port_is(const rapidjson::Value &d, uint64_t port)
{
    const rapidjson::Value *p = get(d, "/destination/port");
    return p != nullptr && p->IsUint64() && p->GetUint64() == port;
}

// The brief's query, rule version 107 (reference.md section 0):
// (event.dataset:network_traffic.flow or event.category:(network or network_traffic))
// and event.type:connection and not event.action:(...) and destination.port:23
bool matches_rule_v107(const rapidjson::Value &d)
{
    const bool scope = array_has(get(d, "/event/dataset"), "network_traffic.flow") ||
                       array_has(get(d, "/event/category"), "network") ||
                       array_has(get(d, "/event/category"), "network_traffic");
    return scope && array_has(get(d, "/event/type"), "connection") &&
           !action_in(d, {"flow_dropped", "flow_denied", "denied", "deny", "flow_terminated",
                          "timeout", "Reject", "network_flow"}) &&
           destination_port_is(d, 23);
}

// The current, stricter rule (reference.md section 3): event.type connection
// but not denied or end, more excluded actions, network.protocol telnet or
// absent. (data_stream.dataset is an alternative to event.category; flowsentry
// relies on event.category.)
bool matches_rule_current(const rapidjson::Value &d)
{
    const bool scope = array_has(get(d, "/event/category"), "network") ||
                       array_has(get(d, "/event/category"), "network_traffic");
    const rapidjson::Value *type = get(d, "/event/type");
    const rapidjson::Value *proto = get(d, "/network/protocol");
    const rapidjson::Value *app = get(d, "/network/application");
    return scope && array_has(type, "connection") && !array_has(type, "denied") &&
           !array_has(type, "end") &&
           !action_in(d, {"Reject", "client-rst", "connection-denied", "connection-end", "denied",
                          "deny", "flow_denied", "flow_dropped", "flow_terminated",
                          "network_flow", "server-rst", "timeout"}) &&
           !array_has(get(d, "/event/action"), "netflow_flow") &&
           !array_has(app, "stretchoid-scanning") && !array_has(app, "traceroute") &&
           destination_port_is(d, 23) && (proto == nullptr || array_has(proto, "telnet"));
}

std::vector<std::string> top_level_keys(const rapidjson::Document &d)
{
    std::vector<std::string> keys;
    for (const auto &m : d.GetObject())
        keys.emplace_back(m.name.GetString());
    return keys;
}

}  // namespace

// ---------------------------------------------------------------- timestamps

TEST(EcsTimestamp, Epoch)
{
    EXPECT_EQ(format_timestamp(0), "1970-01-01T00:00:00.000000Z");
}

TEST(EcsTimestamp, MicrosecondsTruncatedNotRounded)
{
    EXPECT_EQ(format_timestamp(kTime), "2026-11-22T06:01:58.123456Z");
    // 999 ns below the next second must not carry into it.
    EXPECT_EQ(format_timestamp(1795327318ull * 1000000000ull + 999999999ull),
              "2026-11-22T06:01:58.999999Z");
}

TEST(EcsTimestamp, ZeroMicrosecondsKeepSixDigits)
{
    EXPECT_EQ(format_timestamp(1740787200ull * 1000000000ull), "2025-03-01T00:00:00.000000Z");
    // Sub-microsecond remainder only: still six zeros.
    EXPECT_EQ(format_timestamp(1740787200ull * 1000000000ull + 999), "2025-03-01T00:00:00.000000Z");
}

TEST(EcsTimestamp, LateInALeapYear)
{
    EXPECT_EQ(format_timestamp(1735689599ull * 1000000000ull + 999999000ull),
              "2024-12-31T23:59:59.999999Z");
    EXPECT_EQ(format_timestamp(1709208000ull * 1000000000ull + 42000ull),
              "2024-02-29T12:00:00.000042Z");
}

// ----------------------------------------------------------------- addresses

TEST(EcsFormatIp, Ipv4AndCompressedIpv6)
{
    uint8_t a[16];
    set_v4(a, "192.0.2.10");
    EXPECT_EQ(format_ip(4, a), "192.0.2.10");
    set_v6(a, "2001:0db8:0000:0000:0000:0000:0000:0023");
    EXPECT_EQ(format_ip(6, a), "2001:db8::23");
    set_v6(a, "::ffff:192.0.2.1");
    EXPECT_EQ(format_ip(6, a), "::ffff:192.0.2.1");
    set_v6(a, "fe80::1:0:0:1");
    EXPECT_EQ(format_ip(6, a), "fe80::1:0:0:1");
}

TEST(EcsFormatIp, UnknownVersionIsEmpty)
{
    uint8_t a[16] = {};
    EXPECT_EQ(format_ip(5, a), "");
}

// --------------------------------------------------------------- end reasons

TEST(EcsEndReason, EveryNameAndOutOfRange)
{
    EXPECT_STREQ(end_reason_name(EndReason::closed), "closed");
    EXPECT_STREQ(end_reason_name(EndReason::reset), "reset");
    EXPECT_STREQ(end_reason_name(EndReason::timeout), "timeout");
    EXPECT_STREQ(end_reason_name(EndReason::evicted), "evicted");
    EXPECT_STREQ(end_reason_name(EndReason::shutdown), "shutdown");
    EXPECT_STREQ(end_reason_name(EndReason::reused), "reused");
    EXPECT_STREQ(end_reason_name(EndReason::count_), "unknown");
    EXPECT_STREQ(end_reason_name(static_cast<EndReason>(200)), "unknown");
}

// ---------------------------------------------------------------- rule table

TEST(Rules, AcceptedTelnetMetadata)
{
    const RuleInfo &r = rule_info(RuleId::accepted_telnet_port);
    EXPECT_EQ(r.id, RuleId::accepted_telnet_port);
    EXPECT_STREQ(r.uuid, "34fde489-94b0-4500-a76f-b8a157cf9269");
    EXPECT_STREQ(r.name, "Accepted Default Telnet Port Connection");
    EXPECT_GT(std::strlen(r.description), 20u);
    EXPECT_STREQ(r.category, "Telnet");
    EXPECT_STREQ(r.reference, "https://www.elastic.co/guide/en/security/current/"
                              "accepted-default-telnet-port-connection.html");
    EXPECT_STREQ(r.action, "telnet-connection-accepted");
    EXPECT_STREQ(r.severity, "medium");
    EXPECT_EQ(r.severity_number, 2);
    EXPECT_EQ(r.risk_score, 47);
    ASSERT_EQ(r.tactic_count, 3);
    EXPECT_STREQ(r.tactics[0].id, "TA0011");
    EXPECT_STREQ(r.tactics[0].name, "Command and Control");
    EXPECT_STREQ(r.tactics[0].reference, "https://attack.mitre.org/tactics/TA0011/");
    EXPECT_STREQ(r.tactics[1].id, "TA0008");
    EXPECT_STREQ(r.tactics[1].name, "Lateral Movement");
    EXPECT_STREQ(r.tactics[2].id, "TA0001");
    EXPECT_STREQ(r.tactics[2].name, "Initial Access");
    ASSERT_EQ(r.technique_count, 2);
    EXPECT_STREQ(r.techniques[0].id, "T1021");
    EXPECT_STREQ(r.techniques[0].name, "Remote Services");
    EXPECT_STREQ(r.techniques[0].reference, "https://attack.mitre.org/techniques/T1021/");
    EXPECT_STREQ(r.techniques[1].id, "T1190");
    EXPECT_STREQ(r.techniques[1].name, "Exploit Public-Facing Application");
}

TEST(Rules, UnknownIdGivesAPlaceholderNotACrash)
{
    const RuleInfo &r = rule_info(static_cast<RuleId>(999));
    EXPECT_EQ(r.id, RuleId::none);
    EXPECT_EQ(r.tactic_count, 0);
    EXPECT_EQ(&r, &rule_info(RuleId::none));
}

// -------------------------------------------------------- common to all kinds

TEST(EcsFormat, EachKindIsOneValidLine)
{
    for (EventType t : {EventType::connection_start, EventType::connection_end, EventType::alert}) {
        rapidjson::Document d;
        parse_line(format_one(make_record(t)), d);
    }
}

TEST(EcsFormat, AppendsWithoutTouchingEarlierOutput)
{
    EcsFormatter f(test_context());
    std::string out = "previous\n";
    f.format(make_record(EventType::connection_start), out);
    f.format(make_record(EventType::alert), out);
    ASSERT_EQ(out.compare(0, 9, "previous\n"), 0);
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3);
    EXPECT_EQ(out.back(), '\n');
}

TEST(EcsFormat, CommonFieldsOnEveryKind)
{
    for (EventType t : {EventType::connection_start, EventType::connection_end, EventType::alert}) {
        SCOPED_TRACE(static_cast<int>(t));
        rapidjson::Document d;
        parse_line(format_one(make_record(t)), d);
        EXPECT_EQ(str(d, "/@timestamp"), "2026-11-22T06:01:58.123456Z");
        EXPECT_EQ(str(d, "/ecs/version"), "8.11.0");
        EXPECT_EQ(str(d, "/observer/hostname"), "sensor-1");
        EXPECT_EQ(str(d, "/observer/product"), "flowsentry");
        EXPECT_EQ(str(d, "/observer/vendor"), "flowsentry");
        EXPECT_EQ(str(d, "/observer/version"), "0.1.0");
        EXPECT_EQ(str(d, "/observer/type"), "ids");
        EXPECT_EQ(str(d, "/observer/ingress/interface/name"), "tap1");
        EXPECT_EQ(str(d, "/event/module"), "flowsentry");
        EXPECT_EQ(str(d, "/source/ip"), "10.1.2.3");
        EXPECT_EQ(num(d, "/source/port"), 51000u);
        EXPECT_EQ(str(d, "/destination/ip"), "93.184.216.34");
        EXPECT_EQ(num(d, "/destination/port"), 23u);
        EXPECT_EQ(str(d, "/network/transport"), "tcp");
        EXPECT_EQ(str(d, "/network/type"), "ipv4");
        EXPECT_EQ(str(d, "/network/community_id"), "1:NEtN173nXUrbBcTFj3/ZTOkQnh4=");
        EXPECT_EQ(str(d, "/network/protocol"), "telnet");
        EXPECT_EQ(get(d, "/network/vlan"), nullptr);
        expect_strings(d, "/related/ip", {"10.1.2.3", "93.184.216.34"});
        EXPECT_EQ(str(d, "/event/start"), "2026-11-22T06:01:56.623456Z");
    }
}

// ---------------------------------------------------------------- the kinds

TEST(EcsFormat, ConnectionStart)
{
    rapidjson::Document d;
    parse_line(format_one(make_record(EventType::connection_start)), d);
    EXPECT_EQ(str(d, "/event/kind"), "event");
    expect_strings(d, "/event/category", {"network"});
    expect_strings(d, "/event/type", {"connection", "start", "allowed"});
    EXPECT_EQ(str(d, "/event/action"), "connection-accepted");
    EXPECT_EQ(str(d, "/event/dataset"), "flowsentry.connection");
    // Nothing of the end or alert documents leaks into it.
    EXPECT_EQ(get(d, "/event/end"), nullptr);
    EXPECT_EQ(get(d, "/event/duration"), nullptr);
    EXPECT_EQ(get(d, "/event/severity"), nullptr);
    EXPECT_EQ(get(d, "/source/bytes"), nullptr);
    EXPECT_EQ(get(d, "/network/bytes"), nullptr);
    EXPECT_EQ(get(d, "/flowsentry"), nullptr);
    EXPECT_EQ(get(d, "/rule"), nullptr);
    EXPECT_EQ(get(d, "/threat"), nullptr);
    EXPECT_EQ(get(d, "/message"), nullptr);
}

TEST(EcsFormat, ConnectionEnd)
{
    rapidjson::Document d;
    parse_line(format_one(make_record(EventType::connection_end)), d);
    EXPECT_EQ(str(d, "/event/kind"), "event");
    expect_strings(d, "/event/category", {"network"});
    expect_strings(d, "/event/type", {"connection", "end"});
    EXPECT_EQ(str(d, "/event/action"), "connection-end");
    EXPECT_EQ(str(d, "/event/dataset"), "flowsentry.connection");
    EXPECT_EQ(str(d, "/event/start"), "2026-11-22T06:01:56.623456Z");
    EXPECT_EQ(str(d, "/event/end"), "2026-11-22T06:01:58.123456Z");
    EXPECT_EQ(num(d, "/event/duration"), 1500000000u);
    EXPECT_EQ(num(d, "/source/bytes"), 1200u);
    EXPECT_EQ(num(d, "/source/packets"), 12u);
    EXPECT_EQ(num(d, "/destination/bytes"), 34000u);
    EXPECT_EQ(num(d, "/destination/packets"), 30u);
    EXPECT_EQ(num(d, "/network/bytes"), 35200u);
    EXPECT_EQ(num(d, "/network/packets"), 42u);
    EXPECT_EQ(str(d, "/flowsentry/conn_state"), "SF");
    EXPECT_EQ(str(d, "/flowsentry/history"), "ShAaDdFf");
    EXPECT_EQ(str(d, "/flowsentry/end_reason"), "closed");
    EXPECT_EQ(get(d, "/rule"), nullptr);
    EXPECT_EQ(get(d, "/message"), nullptr);
}

TEST(EcsFormat, ConnectionEndResetAndLargeCounters)
{
    EventRecord r = make_record(EventType::connection_end);
    r.history = history::client_syn | history::server_synack | history::client_ack |
                history::server_rst;
    r.end_reason = EndReason::reset;
    r.client_bytes = 5000000000ull;  // past 32 bits
    r.server_bytes = 1;
    r.client_packets = 0xffffffffu;  // the sum must not wrap at 32 bits
    r.server_packets = 1;
    rapidjson::Document d;
    parse_line(format_one(r), d);
    EXPECT_EQ(str(d, "/flowsentry/conn_state"), "RSTR");
    EXPECT_EQ(str(d, "/flowsentry/history"), "ShAr");
    EXPECT_EQ(str(d, "/flowsentry/end_reason"), "reset");
    EXPECT_EQ(num(d, "/source/bytes"), 5000000000u);
    EXPECT_EQ(num(d, "/network/bytes"), 5000000001u);
    EXPECT_EQ(num(d, "/network/packets"), 0x100000000ull);
}

TEST(EcsFormat, ConnectionEndDurationNeverNegative)
{
    EventRecord r = make_record(EventType::connection_end);
    r.start_ns = r.time_ns + 1000;
    rapidjson::Document d;
    parse_line(format_one(r), d);
    EXPECT_EQ(num(d, "/event/duration"), 0u);
}

TEST(EcsFormat, Alert)
{
    rapidjson::Document d;
    parse_line(format_one(make_record(EventType::alert)), d);
    EXPECT_EQ(str(d, "/event/kind"), "alert");
    expect_strings(d, "/event/category", {"network", "intrusion_detection"});
    expect_strings(d, "/event/type", {"info", "allowed"});
    EXPECT_EQ(str(d, "/event/action"), "telnet-connection-accepted");
    EXPECT_EQ(str(d, "/event/dataset"), "flowsentry.alert");
    EXPECT_EQ(num(d, "/event/severity"), 2u);
    EXPECT_EQ(num(d, "/event/risk_score"), 47u);
    EXPECT_EQ(str(d, "/event/start"), "2026-11-22T06:01:56.623456Z");
    EXPECT_EQ(str(d, "/rule/id"), "34fde489-94b0-4500-a76f-b8a157cf9269");
    EXPECT_EQ(str(d, "/rule/name"), "Accepted Default Telnet Port Connection");
    EXPECT_EQ(str(d, "/rule/description"), rule_info(RuleId::accepted_telnet_port).description);
    EXPECT_EQ(str(d, "/rule/category"), "Telnet");
    EXPECT_EQ(str(d, "/rule/reference"),
              "https://www.elastic.co/guide/en/security/current/"
              "accepted-default-telnet-port-connection.html");
    EXPECT_EQ(str(d, "/rule/ruleset"), "flowsentry");
    EXPECT_EQ(str(d, "/threat/framework"), "MITRE ATT&CK");
    expect_strings(d, "/threat/tactic/id", {"TA0011", "TA0008", "TA0001"});
    expect_strings(d, "/threat/tactic/name",
                   {"Command and Control", "Lateral Movement", "Initial Access"});
    expect_strings(d, "/threat/tactic/reference",
                   {"https://attack.mitre.org/tactics/TA0011/",
                    "https://attack.mitre.org/tactics/TA0008/",
                    "https://attack.mitre.org/tactics/TA0001/"});
    expect_strings(d, "/threat/technique/id", {"T1021", "T1190"});
    expect_strings(d, "/threat/technique/name",
                   {"Remote Services", "Exploit Public-Facing Application"});
    expect_strings(d, "/threat/technique/reference",
                   {"https://attack.mitre.org/techniques/T1021/",
                    "https://attack.mitre.org/techniques/T1190/"});
    EXPECT_EQ(str(d, "/message"),
              "Accepted Default Telnet Port Connection: 10.1.2.3:51000 -> 93.184.216.34:23");
    EXPECT_EQ(get(d, "/flowsentry"), nullptr);
    EXPECT_EQ(get(d, "/source/bytes"), nullptr);
}

// ------------------------------------------------------------ flow variants

TEST(EcsFormat, Ipv6CompressedAndMessageBracketed)
{
    EventRecord r = make_record(EventType::alert);
    r.ip_version = 6;
    set_v6(r.client_addr, "2001:db8:0:0:0:0:0:1");
    set_v6(r.server_addr, "2001:db8:0:0:1:0:0:23");
    rapidjson::Document d;
    parse_line(format_one(r), d);
    EXPECT_EQ(str(d, "/source/ip"), "2001:db8::1");
    EXPECT_EQ(str(d, "/destination/ip"), "2001:db8::1:0:0:23");
    EXPECT_EQ(str(d, "/network/type"), "ipv6");
    EXPECT_EQ(str(d, "/network/community_id"),
              community_id_v1(0, 6, r.client_addr, r.server_addr, 6, 51000, 23));
    expect_strings(d, "/related/ip", {"2001:db8::1", "2001:db8::1:0:0:23"});
    EXPECT_EQ(str(d, "/message"), "Accepted Default Telnet Port Connection: "
                                  "[2001:db8::1]:51000 -> [2001:db8::1:0:0:23]:23");
}

TEST(EcsFormat, CommunityIdUsesConfiguredSeed)
{
    EcsContext ctx = test_context();
    ctx.community_id_seed = 1;
    EventRecord r = make_record(EventType::connection_start);
    set_v4(r.client_addr, "1.2.3.4");
    set_v4(r.server_addr, "5.6.7.8");
    r.client_port = 1122;
    r.server_port = 3344;
    rapidjson::Document d;
    parse_line(format_one(r, ctx), d);
    EXPECT_EQ(str(d, "/network/community_id"), "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=");
}

TEST(EcsFormat, ProtocolTelnetOnlyForTelnetServerPorts)
{
    struct Case {
        uint16_t server_port;
        uint8_t proto;
        bool telnet;
    };
    for (Case c : {Case{23, 6, true}, Case{2323, 6, true}, Case{80, 6, false},
                   Case{51000, 6, false}, Case{23, 17, false}}) {
        EventRecord r = make_record(EventType::connection_start);
        r.server_port = c.server_port;
        r.client_port = 23;  // a client port of 23 does not make it Telnet
        r.l4_proto = c.proto;
        rapidjson::Document d;
        parse_line(format_one(r), d);
        SCOPED_TRACE(c.server_port);
        if (c.telnet)
            EXPECT_EQ(str(d, "/network/protocol"), "telnet");
        else
            EXPECT_EQ(get(d, "/network/protocol"), nullptr);
    }
}

TEST(EcsFormat, TransportByProtocol)
{
    EventRecord r = make_record(EventType::connection_start);
    r.l4_proto = 17;
    rapidjson::Document d;
    parse_line(format_one(r), d);
    EXPECT_EQ(str(d, "/network/transport"), "udp");
}

TEST(EcsFormat, VlanIdsAreStrings)
{
    EventRecord r = make_record(EventType::connection_start);
    r.vlan_count = 1;
    r.vlan[0] = 100;
    rapidjson::Document one;
    parse_line(format_one(r), one);
    EXPECT_EQ(str(one, "/network/vlan/id"), "100");
    EXPECT_EQ(get(one, "/network/inner"), nullptr);

    r.vlan_count = 2;
    r.vlan[1] = 4094;
    rapidjson::Document two;
    parse_line(format_one(r), two);
    EXPECT_EQ(str(two, "/network/vlan/id"), "100");
    EXPECT_EQ(str(two, "/network/inner/vlan/id"), "4094");
}

EventRecord vxlan_record(EventType type)
{
    EventRecord r = make_record(type);
    r.tunnel_type = TunnelType::vxlan;
    r.tunnel_tenant = TunnelType::vxlan;
    r.tunnel_id = 5001;
    r.outer_ip_version = 4;
    set_v4(r.outer_src, "192.0.2.10");
    set_v4(r.outer_dst, "192.0.2.20");
    r.outer_vlan = 300;
    return r;
}

TEST(EcsFormat, TunnelFieldsOnEveryKind)
{
    for (EventType type : {EventType::connection_start, EventType::connection_end, EventType::alert}) {
        rapidjson::Document d;
        parse_line(format_one(vxlan_record(type)), d);
        EXPECT_EQ(str(d, "/flowsentry/tunnel/type"), "vxlan");
        EXPECT_EQ(num(d, "/flowsentry/tunnel/id"), 5001u);
        EXPECT_EQ(str(d, "/flowsentry/tunnel/id_type"), "vxlan");
        EXPECT_EQ(str(d, "/flowsentry/tunnel/source/ip"), "192.0.2.10");
        EXPECT_EQ(str(d, "/flowsentry/tunnel/destination/ip"), "192.0.2.20");
        EXPECT_EQ(str(d, "/flowsentry/tunnel/vlan/id"), "300");
        EXPECT_EQ(get(d, "/flowsentry/tunnel/erspan"), nullptr);
        // The inner addresses stay source and destination.
        EXPECT_EQ(str(d, "/source/ip"), "10.1.2.3");
    }
    // The end document keeps its own flowsentry fields next to the tunnel.
    rapidjson::Document end;
    parse_line(format_one(vxlan_record(EventType::connection_end)), end);
    EXPECT_EQ(str(end, "/flowsentry/end_reason"), "closed");
}

TEST(EcsFormat, TunnelWithoutPacketContextOrTenant)
{
    // An end record written on timeout: type and id from the key only.
    EventRecord timeout = make_record(EventType::connection_end);
    timeout.tunnel_type = TunnelType::gre;
    timeout.tunnel_tenant = TunnelType::gre;
    timeout.tunnel_id = 0;
    rapidjson::Document d;
    parse_line(format_one(timeout), d);
    EXPECT_EQ(str(d, "/flowsentry/tunnel/type"), "gre");
    EXPECT_EQ(num(d, "/flowsentry/tunnel/id"), 0u);  // key 0 is a key
    EXPECT_EQ(get(d, "/flowsentry/tunnel/source"), nullptr);
    EXPECT_EQ(get(d, "/flowsentry/tunnel/vlan"), nullptr);

    // ERSPAN over IPv6: a session id, no tenant id.
    EventRecord mirrored = make_record(EventType::alert);
    mirrored.tunnel_type = TunnelType::erspan3;
    mirrored.erspan_session = 1023;
    mirrored.outer_ip_version = 6;
    set_v6(mirrored.outer_src, "2001:db8::1");
    set_v6(mirrored.outer_dst, "2001:db8::2");
    rapidjson::Document m;
    parse_line(format_one(mirrored), m);
    EXPECT_EQ(str(m, "/flowsentry/tunnel/type"), "erspan3");
    EXPECT_EQ(num(m, "/flowsentry/tunnel/erspan/session_id"), 1023u);
    EXPECT_EQ(get(m, "/flowsentry/tunnel/id"), nullptr);
    EXPECT_EQ(str(m, "/flowsentry/tunnel/destination/ip"), "2001:db8::2");

    // No tunnel: no flowsentry.tunnel, and a start document no flowsentry object.
    rapidjson::Document plain;
    parse_line(format_one(make_record(EventType::connection_start)), plain);
    EXPECT_EQ(get(plain, "/flowsentry"), nullptr);
}

TEST(EcsFormat, InterfaceNameFallsBackToPortNumber)
{
    EventRecord r = make_record(EventType::connection_start);
    r.port_id = 0;
    rapidjson::Document d0;
    parse_line(format_one(r), d0);
    EXPECT_EQ(str(d0, "/observer/ingress/interface/name"), "eth0");
    r.port_id = 7;
    rapidjson::Document d7;
    parse_line(format_one(r), d7);
    EXPECT_EQ(str(d7, "/observer/ingress/interface/name"), "port7");
}

TEST(EcsFormat, RelatedIpOnceWhenEqual)
{
    EventRecord r = make_record(EventType::connection_start);
    set_v4(r.server_addr, "10.1.2.3");
    rapidjson::Document d;
    parse_line(format_one(r), d);
    expect_strings(d, "/related/ip", {"10.1.2.3"});
}

// Strings from configuration (and, later, from packets) are escaped, and
// bytes that are not UTF-8 are replaced rather than breaking the document.
TEST(EcsFormat, StringsAreEscapedAndRepaired)
{
    EcsContext ctx = test_context();
    ctx.observer_hostname = "a\"b\\c\n\t\x01";
    ctx.port_names = {"bad\xff\xfe", "cut\xc3"};
    EventRecord r = make_record(EventType::connection_start);
    r.port_id = 0;
    const std::string line = format_one(r, ctx);
    rapidjson::Document d;
    parse_line(line, d);
    EXPECT_EQ(str(d, "/observer/hostname"), "a\"b\\c\n\t\x01");
    EXPECT_EQ(str(d, "/observer/ingress/interface/name"), "bad\xEF\xBF\xBD\xEF\xBF\xBD");
    r.port_id = 1;
    rapidjson::Document d1;
    parse_line(format_one(r, ctx), d1);
    EXPECT_EQ(str(d1, "/observer/ingress/interface/name"), "cut\xEF\xBF\xBD");
    // Valid multi-byte text passes through unchanged.
    ctx.port_names = {"\xc3\xa9th0"};
    r.port_id = 0;
    rapidjson::Document d2;
    parse_line(format_one(r, ctx), d2);
    EXPECT_EQ(str(d2, "/observer/ingress/interface/name"), "\xc3\xa9th0");
}

// Every byte value at every place of a string, in the eight-byte steps of
// the check for plain strings and in its tail: parsed back, the text is the
// same (a lone byte from 0x80 on replaced by U+FFFD).
TEST(EcsFormat, EveryByteAtEveryPlaceIsEscapedOrRepaired)
{
    EcsContext ctx = test_context();
    const EventRecord r = make_record(EventType::connection_start);
    for (int byte = 1; byte < 256; ++byte) {
        for (size_t place = 0; place < 19; ++place) {
            std::string name(19, 'a');
            name[place] = static_cast<char>(byte);
            ctx.observer_hostname = name;
            rapidjson::Document d;
            parse_line(format_one(r, ctx), d);
            std::string expected = name;
            if (byte >= 0x80)
                expected.replace(place, 1, "\xEF\xBF\xBD");
            ASSERT_EQ(str(d, "/observer/hostname"), expected) << "byte " << byte << " at " << place;
        }
    }
}

// ------------------------------------------------------------ byte stability

TEST(EcsFormat, SameRecordSameBytes)
{
    for (EventType t : {EventType::connection_start, EventType::connection_end, EventType::alert})
        EXPECT_EQ(format_one(make_record(t)), format_one(make_record(t)));
}

TEST(EcsFormat, ConnectionStartExactBytes)
{
    EXPECT_EQ(format_one(make_record(EventType::connection_start)),
              "{\"@timestamp\":\"2026-11-22T06:01:58.123456Z\",\"ecs\":{\"version\":\"8.11.0\"},"
              "\"observer\":{\"hostname\":\"sensor-1\",\"product\":\"flowsentry\","
              "\"vendor\":\"flowsentry\",\"version\":\"0.1.0\",\"type\":\"ids\","
              "\"ingress\":{\"interface\":{\"name\":\"tap1\"}}},"
              "\"event\":{\"module\":\"flowsentry\",\"dataset\":\"flowsentry.connection\","
              "\"kind\":\"event\",\"category\":[\"network\"],"
              "\"type\":[\"connection\",\"start\",\"allowed\"],"
              "\"action\":\"connection-accepted\",\"start\":\"2026-11-22T06:01:56.623456Z\"},"
              "\"source\":{\"ip\":\"10.1.2.3\",\"port\":51000},"
              "\"destination\":{\"ip\":\"93.184.216.34\",\"port\":23},"
              "\"network\":{\"transport\":\"tcp\",\"type\":\"ipv4\","
              "\"community_id\":\"1:NEtN173nXUrbBcTFj3/ZTOkQnh4=\",\"protocol\":\"telnet\"},"
              "\"related\":{\"ip\":[\"10.1.2.3\",\"93.184.216.34\"]}}\n");
}

TEST(EcsFormat, TopLevelKeyOrder)
{
    using V = std::vector<std::string>;
    const V common = {"@timestamp", "ecs", "observer", "event",
                      "source", "destination", "network", "related"};
    rapidjson::Document s, e, a;
    parse_line(format_one(make_record(EventType::connection_start)), s);
    parse_line(format_one(make_record(EventType::connection_end)), e);
    parse_line(format_one(make_record(EventType::alert)), a);
    EXPECT_EQ(top_level_keys(s), common);
    V end = common;
    end.push_back("flowsentry");
    EXPECT_EQ(top_level_keys(e), end);
    V alert = common;
    alert.insert(alert.end(), {"rule", "threat", "message"});
    EXPECT_EQ(top_level_keys(a), alert);
}

// ------------------------------------------------------ Elastic's rule query

TEST(ElasticRule, Version107MatchesStartAndAlsoEnd)
{
    rapidjson::Document s, e, a;
    parse_line(format_one(make_record(EventType::connection_start)), s);
    parse_line(format_one(make_record(EventType::connection_end)), e);
    parse_line(format_one(make_record(EventType::alert)), a);
    EXPECT_TRUE(matches_rule_v107(s));
    // The older query does not exclude event.type end or connection-end, so
    // it matches the end document too (documented in docs/detections.md).
    EXPECT_TRUE(matches_rule_v107(e));
    // Alerts are not connection events.
    EXPECT_FALSE(matches_rule_v107(a));
}

TEST(ElasticRule, CurrentRuleMatchesStartOnly)
{
    rapidjson::Document s, e, a;
    parse_line(format_one(make_record(EventType::connection_start)), s);
    parse_line(format_one(make_record(EventType::connection_end)), e);
    parse_line(format_one(make_record(EventType::alert)), a);
    EXPECT_TRUE(matches_rule_current(s));
    EXPECT_FALSE(matches_rule_current(e));
    EXPECT_FALSE(matches_rule_current(a));
}

TEST(ElasticRule, OtherPortsDoNotMatch)
{
    EventRecord r = make_record(EventType::connection_start);
    r.server_port = 2323;  // Telnet by configuration, but the rule is for 23
    rapidjson::Document d;
    parse_line(format_one(r), d);
    EXPECT_FALSE(matches_rule_v107(d));
    EXPECT_FALSE(matches_rule_current(d));
    r.server_port = 80;
    rapidjson::Document d80;
    parse_line(format_one(r), d80);
    EXPECT_FALSE(matches_rule_v107(d80));
    EXPECT_FALSE(matches_rule_current(d80));
}

// Port 23 without 23 in the Telnet list: no network.protocol, which the
// current rule accepts ("telnet or not *").
TEST(ElasticRule, CurrentRuleMatchesWithoutProtocolField)
{
    EcsContext ctx = test_context();
    ctx.telnet_ports = {2323};
    rapidjson::Document d;
    parse_line(format_one(make_record(EventType::connection_start), ctx), d);
    EXPECT_EQ(get(d, "/network/protocol"), nullptr);
    EXPECT_TRUE(matches_rule_current(d));
}
