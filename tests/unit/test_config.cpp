// Configuration parsing: defaults, every key, and the exact error messages.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "flowsentry/address_set.hpp"
#include "flowsentry/config.hpp"

using flowsentry::Config;
using flowsentry::ConfigError;
using flowsentry::load_config;
using flowsentry::mempool_size;
using flowsentry::parse_config;
using flowsentry::PortConfig;
using flowsentry::rule_info;
using flowsentry::RuleId;
using flowsentry::ThrottleTrack;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

Config parse(const std::string &text) { return parse_config(text, "t.yaml"); }

// The ConfigError message for `text`, or "" if it parsed.
std::string error_of(const std::string &text)
{
    try {
        parse(text);
    } catch (const ConfigError &e) {
        return e.what();
    }
    return "";
}

void expect_defaults(const Config &c)
{
    Config d;
    EXPECT_EQ(c.workers, 1u);
    EXPECT_TRUE(c.worker_lcores.empty());
    EXPECT_EQ(c.burst_size, 32u);
    EXPECT_TRUE(c.ports.empty());
    EXPECT_EQ(c.mempool_mbufs, 0u);
    EXPECT_EQ(c.mempool_cache, 256u);
    EXPECT_EQ(c.flow_table.capacity, 65536u);
    EXPECT_EQ(c.flow_table.expiry_batch, 64u);
    EXPECT_EQ(c.flow_table.attempt_timeout_s, 30u);
    EXPECT_EQ(c.flow_table.established_timeout_s, 3600u);
    EXPECT_EQ(c.flow_table.closing_timeout_s, 60u);
    EXPECT_EQ(c.telnet_ports, std::vector<uint16_t>{23});
    EXPECT_EQ(c.alert_ring_size, 4096u);
    EXPECT_EQ(c.output, "-");
    EXPECT_EQ(c.stats_interval_s, 0u);
    EXPECT_EQ(c.community_id_seed, 0u);
    EXPECT_EQ(c.observer_hostname, "");
    EXPECT_THAT(c.inspection.signature_cache, testing::EndsWith("/cache/flowsentry"));
    EXPECT_TRUE(c.defrag.enabled);
    EXPECT_EQ(c.defrag.max_datagrams, 4096u);
    EXPECT_EQ(c.defrag.max_bytes, 4u << 20);
    EXPECT_EQ(c.defrag.max_datagram_size, 65535u);
    EXPECT_EQ(c.defrag.max_fragments_per_datagram, 64u);
    EXPECT_EQ(c.defrag.timeout_s, 30u);
    EXPECT_EQ(d.workers, c.workers);  // the struct's defaults are the documented ones
}

// The source tree, found from this file's path (relative to the build dir,
// which is the parent of the test binary's directory).
std::string source_root()
{
    std::string file = __FILE__;
    if (file[0] != '/') {
        char exe[4096];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            return "";
        exe[n] = '\0';
        std::string dir(exe);
        dir = dir.substr(0, dir.rfind('/'));   // <build>/tests
        dir = dir.substr(0, dir.rfind('/'));   // <build>
        file = dir + "/" + file;
    }
    return file.substr(0, file.rfind("/tests/unit/"));
}

// A file in a fresh temporary directory, removed at the end of the test.
class TempFile {
public:
    explicit TempFile(const std::string &text)
    {
        char dir[] = "/tmp/fs-config-test-XXXXXX";
        dir_ = mkdtemp(dir);
        path_ = dir_ + "/flowsentry.yaml";
        std::ofstream(path_) << text;
    }
    ~TempFile()
    {
        std::remove(path_.c_str());
        rmdir(dir_.c_str());
    }
    const std::string &path() const { return path_; }
    const std::string &dir() const { return dir_; }

private:
    std::string dir_, path_;
};

// ---- defaults ----

TEST(ConfigDefaults, EmptyTextGivesDefaults)
{
    Config c = parse_config("", "<defaults>");
    expect_defaults(c);
    EXPECT_EQ(c.source, "<defaults>");
}

TEST(ConfigDefaults, NullDocumentsGiveDefaults)
{
    expect_defaults(parse("~\n"));
    expect_defaults(parse("---\n...\n"));
    expect_defaults(parse("# nothing but a comment\n\n"));
}

TEST(ConfigDefaults, SectionWithEverythingCommentedOutIsEmpty)
{
    expect_defaults(parse("flow_table:\n  # capacity: 5\nmempool:\nports:\n"));
}

TEST(ConfigDefaults, ShippedFileEqualsDefaults)
{
    std::string path = source_root() + "/conf/flowsentry.yaml";
    Config c = load_config(path);
    expect_defaults(c);
    EXPECT_EQ(c.source, path);
}

TEST(ConfigDefaults, ShippedFileNamesEveryKey)
{
    std::ifstream in(source_root() + "/conf/flowsentry.yaml");
    ASSERT_TRUE(in) << source_root();
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (const char *key : {"workers:", "worker_lcores:", "burst_size:", "ports:", "device:",
                            "name:", "rx_descriptors:", "mempool:", "mbufs:", "cache:",
                            "flow_table:", "capacity:", "expiry_batch:", "timeouts:", "attempt:",
                            "established:", "closing:", "telnet:", "alert_ring:", "size:",
                            "output:", "path:", "stats:", "interval:", "community_id:", "seed:",
                            "observer:", "hostname:", "defrag:", "max_datagrams:", "max_bytes:",
                            "max_datagram_size:", "max_fragments_per_datagram:", "throttle:", "track:", "max_keys:",
                            "rules:", "signature_cache:"})
        EXPECT_THAT(text, HasSubstr(key));
}

// ---- every key ----

TEST(ConfigParse, EveryKey)
{
    Config c = parse(R"(
workers: 3
worker_lcores: [2, 4, 6]
burst_size: 64
ports:
  - device: "0000:3b:00.0"
    name: uplink0
    rx_descriptors: 2048
  - device: net_pcap1
mempool:
  mbufs: 100000
  cache: 128
flow_table:
  capacity: 1000
  expiry_batch: 16
  timeouts:
    attempt: 5
    established: 7200
    closing: 10
telnet:
  ports: [23, 2323]
alert_ring:
  size: 1024
output:
  path: /var/log/flowsentry.ndjson
stats:
  interval: 10
community_id:
  seed: 7
observer:
  hostname: sensor-1
)");
    EXPECT_EQ(c.source, "t.yaml");
    EXPECT_EQ(c.workers, 3u);
    EXPECT_EQ(c.worker_lcores, (std::vector<uint32_t>{2, 4, 6}));
    EXPECT_EQ(c.burst_size, 64u);
    ASSERT_EQ(c.ports.size(), 2u);
    EXPECT_EQ(c.ports[0].device, "0000:3b:00.0");
    EXPECT_EQ(c.ports[0].name, "uplink0");
    EXPECT_EQ(c.ports[0].rx_descriptors, 2048);
    EXPECT_EQ(c.ports[1].device, "net_pcap1");
    EXPECT_EQ(c.ports[1].name, "net_pcap1");  // defaults to the device
    EXPECT_EQ(c.ports[1].rx_descriptors, 1024);
    EXPECT_EQ(c.mempool_mbufs, 100000u);
    EXPECT_EQ(c.mempool_cache, 128u);
    EXPECT_EQ(c.flow_table.capacity, 1000u);
    EXPECT_EQ(c.flow_table.expiry_batch, 16u);
    EXPECT_EQ(c.flow_table.attempt_timeout_s, 5u);
    EXPECT_EQ(c.flow_table.established_timeout_s, 7200u);
    EXPECT_EQ(c.flow_table.closing_timeout_s, 10u);
    EXPECT_EQ(c.telnet_ports, (std::vector<uint16_t>{23, 2323}));
    EXPECT_EQ(c.alert_ring_size, 1024u);
    EXPECT_EQ(c.output, "/var/log/flowsentry.ndjson");
    EXPECT_EQ(c.stats_interval_s, 10u);
    EXPECT_EQ(c.community_id_seed, 7u);
    EXPECT_EQ(c.observer_hostname, "sensor-1");
}

TEST(ConfigParse, PartialSectionsKeepOtherDefaults)
{
    Config c = parse("flow_table:\n  timeouts:\n    closing: 5\n");
    EXPECT_EQ(c.flow_table.closing_timeout_s, 5u);
    EXPECT_EQ(c.flow_table.attempt_timeout_s, 30u);
    EXPECT_EQ(c.flow_table.capacity, 65536u);
}

TEST(ConfigParse, IntegerSpellings)
{
    EXPECT_EQ(parse("burst_size: 0x20\n").burst_size, 32u);
    EXPECT_EQ(parse("burst_size: 0o20\n").burst_size, 16u);
    EXPECT_EQ(parse("burst_size: +8\n").burst_size, 8u);
    EXPECT_EQ(parse("burst_size: !!int 9\n").burst_size, 9u);
    EXPECT_EQ(parse("stats: {interval: -0}\n").stats_interval_s, 0u);
}

TEST(ConfigParse, StringsMayBePlainOrQuoted)
{
    EXPECT_EQ(parse("observer: {hostname: 1234}\n").observer_hostname, "1234");
    EXPECT_EQ(parse("output: {path: \"out file.json\"}\n").output, "out file.json");
    EXPECT_EQ(parse("observer: {hostname: ''}\n").observer_hostname, "");
}

TEST(ConfigParse, EmptyLists)
{
    EXPECT_TRUE(parse("ports: []\n").ports.empty());
    // Empty worker_lcores means "the EAL's lcores", like leaving it out.
    EXPECT_TRUE(parse("workers: 2\nworker_lcores: []\n").worker_lcores.empty());
}

// ---- unknown keys ----

TEST(ConfigErrors, UnknownTopLevelKey)
{
    EXPECT_EQ(error_of("workers: 2\nwokers: 3\n"),
              "t.yaml:2:1: wokers: unknown key (valid keys: workers, worker_lcores, burst_size, "
              "ports, mempool, flow_table, telnet, alert_ring, output, stats, community_id, "
              "observer, link_up_timeout, scatter, spreading, telemetry, home_networks, detections, sinks, "
              "defrag, decode)");
}

// ---- decode (tunnels) ----

TEST(ConfigDecode, DefaultsAndValues)
{
    const Config d = parse("");
    EXPECT_EQ(d.decode.max_depth, 4);
    EXPECT_EQ(d.decode.mpls_payload, flowsentry::MplsPayload::automatic);
    ASSERT_EQ(d.decode.vxlan_port_count, 1);
    EXPECT_EQ(d.decode.vxlan_ports[0], 4789);
    ASSERT_EQ(d.decode.geneve_port_count, 1);
    EXPECT_EQ(d.decode.geneve_ports[0], 6081);

    const Config c = parse("decode:\n  max_depth: 8\n  vxlan_ports: [4789, 8472]\n  geneve_ports: []\n"
                           "  mpls_payload: ethernet\n");
    EXPECT_EQ(c.decode.max_depth, 8);
    EXPECT_EQ(c.decode.mpls_payload, flowsentry::MplsPayload::ethernet);
    ASSERT_EQ(c.decode.vxlan_port_count, 2);
    EXPECT_EQ(c.decode.vxlan_ports[1], 8472);
    EXPECT_EQ(c.decode.geneve_port_count, 0);  // Geneve off
    EXPECT_EQ(parse("decode:\n  mpls_payload: ip\n").decode.mpls_payload, flowsentry::MplsPayload::ip);
    // Swapping the defaults between the lists is fine: checked once both are read.
    const Config swapped = parse("decode:\n  vxlan_ports: [6081]\n  geneve_ports: [4789]\n");
    EXPECT_EQ(swapped.decode.vxlan_ports[0], 6081);
}

TEST(ConfigDecode, Errors)
{
    EXPECT_EQ(error_of("decode:\n  max_depth: 0\n"), "t.yaml:2:14: decode.max_depth: must be between 1 and 8 (got 0)");
    EXPECT_EQ(error_of("decode:\n  max_depth: 9\n"), "t.yaml:2:14: decode.max_depth: must be between 1 and 8 (got 9)");
    EXPECT_EQ(error_of("decode:\n  mpls_payload: vpls\n"),
              "t.yaml:2:17: decode.mpls_payload: must be auto, ip or ethernet (got vpls)");
    EXPECT_EQ(error_of("decode:\n  vxlan_ports: [4789, 0]\n"),
              "t.yaml:2:23: decode.vxlan_ports[1]: must be between 1 and 65535 (got 0)");
    EXPECT_EQ(error_of("decode:\n  geneve_ports: [6081, 6081]\n"),
              "t.yaml:2:24: decode.geneve_ports[1]: port listed twice (got 6081)");
    EXPECT_EQ(error_of("decode:\n  vxlan_ports: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n"),
              "t.yaml:2:16: decode.vxlan_ports: must list at most 8 ports (got a list)");
    EXPECT_EQ(error_of("decode:\n  vxlan_ports: [6081]\n"),
              "t.yaml:2:16: decode.vxlan_ports: port 6081 is in both decode.vxlan_ports and decode.geneve_ports "
              "(got a list)");
    EXPECT_EQ(error_of("decode:\n  vxlan_ports: 4789\n"), "t.yaml:2:16: decode.vxlan_ports: expected a list (got 4789)");
    EXPECT_EQ(error_of("decode:\n  depth: 2\n"),
              "t.yaml:2:3: decode.depth: unknown key (valid keys: max_depth, vxlan_ports, geneve_ports, mpls_payload)");
}

// ---- scale-out keys ----

TEST(ConfigScaleOut, DefaultsAndValues)
{
    const Config d = parse("");
    EXPECT_EQ(d.link_up_timeout_s, 10u);
    EXPECT_FALSE(d.scatter);
    EXPECT_TRUE(d.telemetry);
    EXPECT_EQ(d.spreading.mode, flowsentry::SpreadingMode::automatic);
    EXPECT_EQ(d.spreading.lcore, -1);
    EXPECT_EQ(d.spreading.ring_size, 4096u);

    const Config c = parse("link_up_timeout: 0\nscatter: true\ntelemetry: false\n"
                           "spreading:\n  mode: software\n  lcore: 5\n  ring_size: 1024\n");
    EXPECT_EQ(c.link_up_timeout_s, 0u);
    EXPECT_TRUE(c.scatter);
    EXPECT_FALSE(c.telemetry);
    EXPECT_EQ(c.spreading.mode, flowsentry::SpreadingMode::software);
    EXPECT_EQ(c.spreading.lcore, 5);
    EXPECT_EQ(c.spreading.ring_size, 1024u);
    EXPECT_EQ(parse("spreading:\n  mode: off\n").spreading.mode, flowsentry::SpreadingMode::off);
}

TEST(ConfigScaleOut, Errors)
{
    EXPECT_EQ(error_of("spreading:\n  mode: rss\n"), "t.yaml:2:9: spreading.mode: must be auto, software or off (got rss)");
    EXPECT_EQ(error_of("spreading:\n  ring_size: 1000\n"),
              "t.yaml:2:14: spreading.ring_size: must be a power of two between 64 and 1048576 (got 1000)");
    EXPECT_EQ(error_of("workers: 2\nworker_lcores: [1, 2]\nspreading:\n  lcore: 2\n"),
              "t.yaml:4:10: spreading.lcore: must not be one of worker_lcores (got 2)");
    EXPECT_EQ(error_of("scatter: yes\n"), "t.yaml:1:10: scatter: expected true or false (got yes)");
    EXPECT_EQ(error_of("telemetry: \"true\"\n"), "t.yaml:1:12: telemetry: expected true or false (got \"true\")");
    EXPECT_EQ(error_of("link_up_timeout: 601\n"), "t.yaml:1:18: link_up_timeout: must be between 0 and 600 (got 601)");
}

TEST(MempoolSize, CountsTheSpreadingRings)
{
    Config c = parse("");
    EXPECT_EQ(flowsentry::mempool_size(c, 1, 0), 4095u);
    // 2464 + 4096 in flight = 6560: rounded up to 8191.
    EXPECT_EQ(flowsentry::mempool_size(c, 1, 4096), 8191u);
}

TEST(ConfigErrors, UnknownNestedKey)
{
    EXPECT_EQ(error_of("flow_table:\n  capacity: 100\n  timeouts:\n    attempt: 5\n    atempt: 6\n"),
              "t.yaml:5:5: flow_table.timeouts.atempt: unknown key "
              "(valid keys: attempt, established, closing)");
    EXPECT_EQ(error_of("mempool: {mbufs: 0, size: 4}\n"),
              "t.yaml:1:21: mempool.size: unknown key (valid keys: mbufs, cache)");
}

TEST(ConfigErrors, UnknownPortKey)
{
    EXPECT_EQ(error_of("ports:\n  - device: eth0\n  - device: eth1\n    nmae: up\n"),
              "t.yaml:4:5: ports[1].nmae: unknown key (valid keys: device, name, rx_descriptors)");
}

TEST(ConfigErrors, DuplicateKey)
{
    EXPECT_EQ(error_of("workers: 1\nburst_size: 8\nworkers: 2\n"), "t.yaml:3:1: workers: duplicate key");
}

// ---- wrong types ----

TEST(ConfigErrors, QuotedNumber)
{
    EXPECT_EQ(error_of("workers: \"2\"\n"),
              "t.yaml:1:10: workers: expected an integer, not a quoted string (got \"2\")");
}

TEST(ConfigErrors, WordForNumber)
{
    EXPECT_EQ(error_of("burst_size: lots\n"), "t.yaml:1:13: burst_size: expected an integer (got lots)");
    EXPECT_EQ(error_of("burst_size: true\n"), "t.yaml:1:13: burst_size: expected an integer (got true)");
}

TEST(ConfigErrors, Float)
{
    EXPECT_EQ(error_of("burst_size: 32.0\n"),
              "t.yaml:1:13: burst_size: expected an integer, not a fraction (got 32.0)");
    EXPECT_EQ(error_of("burst_size: 1e3\n"),
              "t.yaml:1:13: burst_size: expected an integer, not a fraction (got 1e3)");
    EXPECT_EQ(error_of("burst_size: .inf\n"),
              "t.yaml:1:13: burst_size: expected an integer, not a fraction (got .inf)");
}

TEST(ConfigErrors, Negative)
{
    EXPECT_EQ(error_of("stats:\n  interval: -1\n"), "t.yaml:2:13: stats.interval: must not be negative (got -1)");
}

TEST(ConfigErrors, TooBigForTheType)
{
    EXPECT_EQ(error_of("mempool:\n  mbufs: 4294967296\n"),
              "t.yaml:2:10: mempool.mbufs: must be between 0 and 4294967295 (got 4294967296)");
    EXPECT_EQ(error_of("mempool:\n  mbufs: 99999999999999999999999\n"),
              "t.yaml:2:10: mempool.mbufs: must be between 0 and 4294967295 (got 99999999999999999999999)");
}

TEST(ConfigErrors, ScalarWhereMapWanted)
{
    EXPECT_EQ(error_of("mempool: 5\n"), "t.yaml:1:10: mempool: expected a map of settings (got 5)");
    EXPECT_EQ(error_of("flow_table:\n  timeouts: [1, 2]\n"),
              "t.yaml:2:13: flow_table.timeouts: expected a map of settings (got a list)");
}

TEST(ConfigErrors, ListOrMapWhereScalarWanted)
{
    EXPECT_EQ(error_of("workers: [2]\n"), "t.yaml:1:10: workers: expected an integer (got a list)");
    EXPECT_EQ(error_of("output:\n  path: {a: 1}\n"), "t.yaml:2:9: output.path: expected a string (got a map)");
}

TEST(ConfigErrors, EmptyValueIsReportedAtItsKey)
{
    EXPECT_EQ(error_of("burst_size: 8\nworkers:\nstats: {interval: 1}\n"),
              "t.yaml:2:1: workers: expected an integer (got nothing)");
    EXPECT_EQ(error_of("observer:\n  hostname: ~\n"),
              "t.yaml:2:3: observer.hostname: expected a string (got nothing)");
}

TEST(ConfigErrors, ScalarWhereListWanted)
{
    EXPECT_EQ(error_of("telnet:\n  ports: 23\n"), "t.yaml:2:10: telnet.ports: expected a list (got 23)");
    EXPECT_EQ(error_of("ports: {device: eth0}\n"), "t.yaml:1:8: ports: expected a list (got a map)");
}

TEST(ConfigErrors, PortEntries)
{
    EXPECT_EQ(error_of("ports:\n  - eth0\n"),
              "t.yaml:2:5: ports[0]: expected a map with at least 'device' (got eth0)");
    EXPECT_EQ(error_of("ports:\n  - name: up\n"),
              "t.yaml:2:5: ports[0]: missing required key 'device' (a PCI address or vdev name)");
    EXPECT_EQ(error_of("ports:\n  - device: \"\"\n"), "t.yaml:2:13: ports[0].device: must not be empty (got \"\")");
    EXPECT_EQ(error_of("ports:\n  - device: eth0\n  - device: eth0\n"),
              "t.yaml:3:5: ports[1].device: device listed twice (got eth0)");
}

TEST(ConfigErrors, TopLevelNotAMap)
{
    EXPECT_EQ(error_of("just words\n"), "t.yaml:1:1: the top level must be a map of settings (got just words)");
    EXPECT_EQ(error_of("- workers: 1\n"), "t.yaml:1:1: the top level must be a map of settings (got a list)");
}

TEST(ConfigErrors, MoreThanOneDocument)
{
    EXPECT_EQ(error_of("workers: 1\n---\nworkers: 2\n"), "t.yaml:3:1: expected one YAML document (got 2)");
}

TEST(ConfigErrors, MessageIsOneLine)
{
    std::string e = error_of("observer:\n  hostname: |\n    two\n    lines\nbogus: |\n  a\n  b\n");
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    EXPECT_THAT(e, StartsWith("t.yaml:5:1: bogus: unknown key"));
    e = error_of("\"two\\nlines\": 1\n");
    EXPECT_THAT(e, StartsWith("t.yaml:1:1: two\\nlines: unknown key"));
}

// ---- ranges: just inside and just outside each bound ----

struct RangeCase {
    const char *yaml;  // %s is replaced by the value
    const char *path;
    uint64_t lo, hi;
    std::function<uint64_t(const Config &)> get;
};

std::string fill(const char *fmt, uint64_t v)
{
    std::string s = fmt;
    return s.replace(s.find("%s"), 2, std::to_string(v));
}

TEST(ConfigRanges, EveryBound)
{
    const RangeCase cases[] = {
        {"workers: %s\n", "workers", 1, 127, [](const Config &c) { return c.workers; }},
        {"worker_lcores: [%s]\n", "worker_lcores[0]", 0, 127,
         [](const Config &c) { return c.worker_lcores.at(0); }},
        {"burst_size: %s\n", "burst_size", 1, 512, [](const Config &c) { return c.burst_size; }},
        {"ports:\n  - device: eth0\n    rx_descriptors: %s\n", "ports[0].rx_descriptors", 64, 32768,
         [](const Config &c) { return c.ports.at(0).rx_descriptors; }},
        {"mempool:\n  cache: 0\n  mbufs: %s\n", "mempool.mbufs", 0, 4294967295u,
         [](const Config &c) { return c.mempool_mbufs; }},
        {"mempool:\n  cache: %s\n", "mempool.cache", 0, 512, [](const Config &c) { return c.mempool_cache; }},
        {"flow_table:\n  capacity: %s\n", "flow_table.capacity", 8, 67108864,
         [](const Config &c) { return c.flow_table.capacity; }},
        {"flow_table:\n  expiry_batch: %s\n", "flow_table.expiry_batch", 1, 65536,
         [](const Config &c) { return c.flow_table.expiry_batch; }},
        {"flow_table:\n  timeouts:\n    attempt: %s\n", "flow_table.timeouts.attempt", 1, 86400,
         [](const Config &c) { return c.flow_table.attempt_timeout_s; }},
        {"flow_table:\n  timeouts:\n    established: %s\n", "flow_table.timeouts.established", 1, 86400,
         [](const Config &c) { return c.flow_table.established_timeout_s; }},
        {"flow_table:\n  timeouts:\n    closing: %s\n", "flow_table.timeouts.closing", 1, 86400,
         [](const Config &c) { return c.flow_table.closing_timeout_s; }},
        {"telnet:\n  ports: [%s]\n", "telnet.ports[0]", 1, 65535,
         [](const Config &c) { return c.telnet_ports.at(0); }},
        {"stats:\n  interval: %s\n", "stats.interval", 0, 86400,
         [](const Config &c) { return c.stats_interval_s; }},
        {"community_id:\n  seed: %s\n", "community_id.seed", 0, 65535,
         [](const Config &c) { return c.community_id_seed; }},
    };
    for (const RangeCase &rc : cases) {
        SCOPED_TRACE(rc.path);
        std::string range = "must be between " + std::to_string(rc.lo) + " and " + std::to_string(rc.hi);
        EXPECT_EQ(rc.get(parse(fill(rc.yaml, rc.lo))), rc.lo);
        EXPECT_EQ(rc.get(parse(fill(rc.yaml, rc.hi))), rc.hi);
        if (rc.lo > 0) {
            EXPECT_THAT(error_of(fill(rc.yaml, rc.lo - 1)),
                        HasSubstr(std::string(rc.path) + ": " + range + " (got " + std::to_string(rc.lo - 1) + ")"));
        }
        EXPECT_THAT(error_of(fill(rc.yaml, rc.hi + 1)),
                    HasSubstr(std::string(rc.path) + ": " + range + " (got " + std::to_string(rc.hi + 1) + ")"));
    }
}

TEST(ConfigRanges, RangeErrorPosition)
{
    EXPECT_EQ(error_of("flow_table:\n  timeouts:\n    closing: 0\n"),
              "t.yaml:3:14: flow_table.timeouts.closing: must be between 1 and 86400 (got 0)");
}

TEST(ConfigRanges, AlertRingSizeIsAPowerOfTwo)
{
    EXPECT_EQ(parse("alert_ring: {size: 64}\n").alert_ring_size, 64u);
    EXPECT_EQ(parse("alert_ring: {size: 16777216}\n").alert_ring_size, 16777216u);
    EXPECT_EQ(error_of("alert_ring: {size: 32}\n"),
              "t.yaml:1:20: alert_ring.size: must be between 64 and 16777216 (got 32)");
    EXPECT_EQ(error_of("alert_ring: {size: 33554432}\n"),
              "t.yaml:1:20: alert_ring.size: must be between 64 and 16777216 (got 33554432)");
    EXPECT_EQ(error_of("alert_ring: {size: 1000}\n"),
              "t.yaml:1:20: alert_ring.size: must be a power of two between 64 and 16777216 (got 1000)");
    EXPECT_EQ(error_of("alert_ring: {size: 65}\n"),
              "t.yaml:1:20: alert_ring.size: must be a power of two between 64 and 16777216 (got 65)");
}

TEST(ConfigRanges, CacheMustFitAnExplicitPool)
{
    // rte_mempool wants 1.5 x cache <= mbufs.
    EXPECT_EQ(parse("mempool: {mbufs: 384, cache: 256}\n").mempool_mbufs, 384u);
    EXPECT_EQ(error_of("mempool: {mbufs: 383, cache: 256}\n"),
              "t.yaml:1:30: mempool.cache: must be at most 255 for mempool.mbufs 383 (got 256)");
    EXPECT_EQ(error_of("mempool:\n  mbufs: 100\n"),
              "t.yaml:2:10: mempool.mbufs: must be 0 (automatic) or at least 384 for mempool.cache 256 (got 100)");
}

TEST(ConfigRanges, OutputPathNotEmpty)
{
    EXPECT_EQ(error_of("output: {path: ''}\n"),
              "t.yaml:1:16: output.path: must not be empty (use \"-\" for stdout) (got \"\")");
}

// ---- lists ----

TEST(ConfigLists, DuplicateTelnetPort)
{
    EXPECT_EQ(error_of("telnet:\n  ports: [23, 2323, 23]\n"),
              "t.yaml:2:21: telnet.ports[2]: port listed twice (got 23)");
}

TEST(ConfigLists, EmptyTelnetPorts)
{
    EXPECT_EQ(error_of("telnet:\n  ports: []\n"),
              "t.yaml:2:10: telnet.ports: must list at least one port (got an empty list)");
}

TEST(ConfigLists, WorkerLcoresLengthMustMatchWorkers)
{
    EXPECT_EQ(error_of("workers: 2\nworker_lcores: [1]\n"),
              "t.yaml:2:16: worker_lcores: must list one lcore per worker, workers is 2 (got 1)");
    // Order in the file doesn't matter; the default workers is 1.
    EXPECT_EQ(error_of("worker_lcores: [1, 2]\n"),
              "t.yaml:1:16: worker_lcores: must list one lcore per worker, workers is 1 (got 2)");
    EXPECT_EQ(parse("worker_lcores: [3, 1]\nworkers: 2\n").worker_lcores, (std::vector<uint32_t>{3, 1}));
}

TEST(ConfigLists, DuplicateWorkerLcore)
{
    EXPECT_EQ(error_of("workers: 2\nworker_lcores: [1, 1]\n"),
              "t.yaml:2:20: worker_lcores[1]: lcore listed twice (got 1)");
}

// ---- syntax errors and files ----

TEST(ConfigSyntax, ReportedWithPosition)
{
    EXPECT_EQ(error_of("workers: 1\nflow_table:\n\t- capacity: 5\n"),
              "t.yaml:3:2: YAML syntax error: illegal block entry");
    EXPECT_EQ(error_of("telnet:\n  ports: [23, 2323\nworkers: 1\n"),
              "t.yaml:3:8: YAML syntax error: end of sequence flow not found");
    EXPECT_EQ(error_of("workers: burst_size: 2\n"), "t.yaml:1:20: YAML syntax error: illegal map value");
}

TEST(ConfigSyntax, InputYamlCppWouldLoopOnIsAnError)
{
    // yaml-cpp 0.7's LoadAll never returns on this (found by fuzz_config).
    EXPECT_EQ(error_of(",\n"), "t.yaml:1:1: YAML syntax error: no document can start here");
}

TEST(ConfigSyntax, QuotedInputByteIsShownPrintable)
{
    // yaml-cpp quotes the byte after a backslash; an escape sequence or a
    // newline there must not reach the terminal (found by fuzz_config; its
    // input is in tests/fuzz/regressions/config/).
    EXPECT_EQ(error_of("a: \"\\\x1b[31m\"\n"), "t.yaml:1:7: YAML syntax error: unknown escape character: ?");
}

TEST(ConfigFile, LoadsAFile)
{
    TempFile f("workers: 2\n");
    Config c = load_config(f.path());
    EXPECT_EQ(c.workers, 2u);
    EXPECT_EQ(c.source, f.path());
}

TEST(ConfigFile, ErrorsNameTheFile)
{
    TempFile f("# settings\nburst_size: 0\n");
    try {
        load_config(f.path());
        FAIL() << "no error";
    } catch (const ConfigError &e) {
        EXPECT_EQ(std::string(e.what()), f.path() + ":2:13: burst_size: must be between 1 and 512 (got 0)");
    }
}

TEST(ConfigFile, EmptyFileGivesDefaults)
{
    TempFile f("");
    expect_defaults(load_config(f.path()));
}

TEST(ConfigFile, MissingFile)
{
    try {
        load_config("/nonexistent/flowsentry.yaml");
        FAIL() << "no error";
    } catch (const ConfigError &e) {
        EXPECT_EQ(std::string(e.what()), "/nonexistent/flowsentry.yaml: cannot open: No such file or directory");
    }
}

TEST(ConfigFile, Directory)
{
    TempFile f("");
    try {
        load_config(f.dir());
        FAIL() << "no error";
    } catch (const ConfigError &e) {
        EXPECT_EQ(std::string(e.what()), f.dir() + ": cannot read: Is a directory");
    }
}

// ---- mempool_size ----

TEST(MempoolSize, ExplicitValueWins)
{
    Config c;
    c.mempool_mbufs = 12345;
    EXPECT_EQ(mempool_size(c, 8), 12345u);
}

TEST(MempoolSize, Defaults)
{
    Config c;
    // 1 port x 1 worker x (1024 + 32) + 1 x 384 + 1024 = 2464 -> 4095
    EXPECT_EQ(mempool_size(c, 1), 4095u);
    // 2 x (1056) + 384 + 1024 = 3520 -> 4095
    EXPECT_EQ(mempool_size(c, 2), 4095u);
    // 3 x 1056 + 384 + 1024 = 4576 -> 8191
    EXPECT_EQ(mempool_size(c, 3), 8191u);
}

TEST(MempoolSize, UsesTheLargestConfiguredRing)
{
    Config c;
    c.workers = 4;
    c.ports = {PortConfig{"a", "a", 512}, PortConfig{"b", "b", 4096}};
    // 2 x 4 x (4096 + 32) + 4 x 384 + 1024 = 35584 -> 65535
    EXPECT_EQ(mempool_size(c, 2), 65535u);
    c.ports = {PortConfig{"a", "a", 64}};
    c.burst_size = 64;
    c.mempool_cache = 0;
    // 1 x 4 x (64 + 64) + 0 + 1024 = 1536 -> 2047
    EXPECT_EQ(mempool_size(c, 1), 2047u);
}

TEST(MempoolSize, RoundsUpTo2PowKMinus1)
{
    Config c;
    c.mempool_cache = 682;  // 682 * 3 / 2 = 1023, + 1024 = 2047 exactly
    EXPECT_EQ(mempool_size(c, 0), 2047u);
    c.mempool_cache = 683;  // 1024 + 1024 = 2048, one past
    EXPECT_EQ(mempool_size(c, 0), 4095u);
}

TEST(MempoolSize, SaturatesInsteadOfWrapping)
{
    Config c;
    c.workers = 127;
    c.burst_size = 512;
    c.ports = {PortConfig{"a", "a", 32768}};
    EXPECT_EQ(mempool_size(c, 2000), 4294967295u);
}

// Home networks, detections and sinks (address_set, detections, sinks).

TEST(DetectionConfig, ParsesEveryKey)
{
    const Config c = parse_config("home_networks: [10.0.0.0/8, '2001:db8::/32']\n"
                                  "detections:\n"
                                  "  external_telnet: {ranges: iana}\n"
                                  "  scan: {window: 30, destinations: 10, max_sources: 100}\n"
                                  "  throttle: {alerts: 5, interval: 60}\n",
                                  "t.yaml");
    ASSERT_EQ(c.detections.home_networks.size(), 2u);
    EXPECT_EQ(flowsentry::format_cidr(c.detections.home_networks[1]), "2001:db8::/32");
    EXPECT_EQ(c.detections.external_ranges, flowsentry::ExternalRanges::iana);
    EXPECT_EQ(c.detections.scan_window_s, 30u);
    EXPECT_EQ(c.detections.scan_destinations, 10u);
    EXPECT_EQ(c.detections.scan_max_sources, 100u);
    // The old keys: every rule's values, the built-in `off` kept.
    for (size_t i = 0; i < flowsentry::kRuleIdCount; ++i) {
        EXPECT_EQ(c.detections.throttle.limits[i].alerts, 5u);
        EXPECT_EQ(c.detections.throttle.limits[i].interval_s, 60u);
    }
    EXPECT_EQ(c.detections.throttle.limit(RuleId::accepted_telnet_port).track, ThrottleTrack::off);
    EXPECT_EQ(c.detections.throttle.limit(RuleId::mirai_scan_syn).track, ThrottleTrack::by_both);
    const Config defaults = parse_config("", "t.yaml");
    EXPECT_TRUE(defaults.detections.home_networks.empty());
    EXPECT_EQ(defaults.detections.external_ranges, flowsentry::ExternalRanges::elastic);
    for (size_t i = 0; i < flowsentry::kRuleIdCount; ++i) {
        const auto &l = defaults.detections.throttle.limits[i];
        const bool unthrottled = static_cast<RuleId>(i) == RuleId::accepted_telnet_port ||
                                 static_cast<RuleId>(i) == RuleId::telnet_cleartext_credentials;
        EXPECT_EQ(l.track, unthrottled ? ThrottleTrack::off : ThrottleTrack::by_both) << i;
        EXPECT_EQ(l.alerts, 100u);
        EXPECT_EQ(l.interval_s, 300u);
    }
    EXPECT_EQ(defaults.detections.throttle.max_keys, 65536u);
}

TEST(DetectionConfig, ThrottlePerRule)
{
    const Config c = parse_config("detections:\n"
                                  "  throttle:\n"
                                  "    track: by_src\n"
                                  "    alerts: 7\n"
                                  "    max_keys: 1000\n"
                                  "    rules:\n"
                                  "      telnet-connection-accepted: {track: by_both, alerts: 2}\n"
                                  "      signatures: {track: by_rule, interval: 10}\n"
                                  "      telnet-scan: {track: off}\n",
                                  "t.yaml");
    const auto &t = c.detections.throttle;
    EXPECT_EQ(t.max_keys, 1000u);
    const auto expect = [&](RuleId id, ThrottleTrack track, uint32_t alerts, uint32_t interval_s) {
        EXPECT_EQ(t.limit(id).track, track) << rule_info(id).name;
        EXPECT_EQ(t.limit(id).alerts, alerts) << rule_info(id).name;
        EXPECT_EQ(t.limit(id).interval_s, interval_s) << rule_info(id).name;
    };
    expect(RuleId::accepted_telnet_port, ThrottleTrack::by_both, 2, 300);
    expect(RuleId::signature, ThrottleTrack::by_rule, 7, 10);
    expect(RuleId::telnet_scan, ThrottleTrack::off, 7, 300);
    expect(RuleId::mirai_scan_syn, ThrottleTrack::by_src, 7, 300);
    expect(RuleId::telnet_cleartext_credentials, ThrottleTrack::off, 7, 300);  // built-in, not listed
    // Each name in `rules` is the rule's event.action.
    for (RuleId id : {RuleId::accepted_telnet_port, RuleId::mirai_scan_syn, RuleId::external_telnet,
                      RuleId::telnet_scan, RuleId::telnet_nonstandard_port, RuleId::telnet_cleartext_credentials,
                      RuleId::telnet_brute_force}) {
        const Config one = parse_config(std::string("detections:\n  throttle:\n    rules:\n      ") +
                                            rule_info(id).action + ": {track: by_dst}\n",
                                        "t.yaml");
        EXPECT_EQ(one.detections.throttle.limit(id).track, ThrottleTrack::by_dst) << rule_info(id).action;
    }
    // The shipped file's `track: off` as a YAML 1.1 tool writes it back
    // (scripts/bench.sh and scan-wave.sh load and dump it with PyYAML).
    const Config dumped = parse_config("detections:\n  throttle:\n    rules:\n      telnet-scan: {track: false}\n",
                                       "t.yaml");
    EXPECT_EQ(dumped.detections.throttle.limit(RuleId::telnet_scan).track, ThrottleTrack::off);
}

TEST(DetectionConfig, ErrorsPointAtTheValue)
{
    EXPECT_EQ(error_of("home_networks:\n  - 10.0.0.0/8\n  - 10.1.0.1/16\n"),
              "t.yaml:3:5: home_networks[1]: bad CIDR: host bits set beyond the prefix length (got 10.1.0.1/16)");
    EXPECT_EQ(error_of("home_networks: [10.0.0.0/40]\n"),
              "t.yaml:1:17: home_networks[0]: bad CIDR: prefix length must be at most 32 (got 10.0.0.0/40)");
    EXPECT_EQ(error_of("home_networks: [nonsense]\n"),
              "t.yaml:1:17: home_networks[0]: bad CIDR: not an IPv4 or IPv6 address (got nonsense)");
    EXPECT_EQ(error_of("detections:\n  external_telnet: {ranges: all}\n"),
              "t.yaml:2:29: detections.external_telnet.ranges: must be elastic or iana (got all)");
    EXPECT_EQ(error_of("detections:\n  scan: {window: 0}\n"),
              "t.yaml:2:18: detections.scan.window: must be between 1 and 86400 (got 0)");
    EXPECT_EQ(error_of("detections:\n  throttle: {limit: 3}\n"),
              "t.yaml:2:14: detections.throttle.limit: unknown key (valid keys: track, alerts, interval, max_keys, "
              "rules)");
    EXPECT_EQ(error_of("detections:\n  throttle: {track: by_flow}\n"),
              "t.yaml:2:21: detections.throttle.track: must be off, by_src, by_dst, by_both or by_rule (got by_flow)");
    EXPECT_EQ(error_of("detections:\n  throttle:\n    rules: {mirai: {track: off}}\n"),
              "t.yaml:3:13: detections.throttle.rules.mirai: unknown key (valid keys: telnet-connection-accepted, "
              "mirai-scan-syn, telnet-external-connection, telnet-scan, telnet-nonstandard-port, "
              "telnet-cleartext-credentials, telnet-brute-force, signatures)");
    EXPECT_EQ(error_of("detections:\n  throttle:\n    rules: {telnet-scan: {alerts: 0}}\n"),
              "t.yaml:3:35: detections.throttle.rules.telnet-scan.alerts: must be between 1 and 4294967295 (got 0)");
}

TEST(DefragConfig, EveryKey)
{
    const Config c = parse("defrag:\n  enabled: false\n  max_datagrams: 10\n  max_bytes: 2048\n"
                           "  max_datagram_size: 1500\n  max_fragments_per_datagram: 8\n  timeout: 60\n");
    EXPECT_FALSE(c.defrag.enabled);
    EXPECT_EQ(c.defrag.max_datagrams, 10u);
    EXPECT_EQ(c.defrag.max_bytes, 2048u);
    EXPECT_EQ(c.defrag.max_datagram_size, 1500u);
    EXPECT_EQ(c.defrag.max_fragments_per_datagram, 8u);
    EXPECT_EQ(c.defrag.timeout_s, 60u);
}

TEST(DefragConfig, ErrorsPointAtTheValue)
{
    EXPECT_EQ(error_of("defrag:\n  max_datagrams: 0\n"),
              "t.yaml:2:18: defrag.max_datagrams: must be between 1 and 16777216 (got 0)");
    EXPECT_EQ(error_of("defrag:\n  enabled: yes\n"), "t.yaml:2:12: defrag.enabled: expected true or false (got yes)");
    EXPECT_EQ(error_of("defrag:\n  timeout: 0\n"), "t.yaml:2:12: defrag.timeout: must be between 1 and 86400 (got 0)");
    EXPECT_EQ(error_of("defrag:\n  max_datagram_size: 70000\n"),
              "t.yaml:2:22: defrag.max_datagram_size: must be between 8 and 65535 (got 70000)");
    EXPECT_EQ(error_of("defrag:\n  max_fragments_per_datagram: 0\n"),
              "t.yaml:2:31: defrag.max_fragments_per_datagram: must be between 1 and 65535 (got 0)");
    EXPECT_EQ(error_of("defrag:\n  max_bytes: 4096\n"),
              "t.yaml:2:14: defrag.max_bytes: must be at least 66048 to hold one datagram of max_datagram_size "
              "65535 and its headers (got 4096)");
    EXPECT_EQ(error_of("defrag:\n  timeout_s: 5\n"),
              "t.yaml:2:3: defrag.timeout_s: unknown key (valid keys: enabled, max_datagrams, max_bytes, "
              "max_datagram_size, max_fragments_per_datagram, timeout)");
}

TEST(SinkConfig, ParsesEveryKind)
{
    const Config c = parse_config("sinks:\n"
                                  "  - {type: file, path: /var/log/f.ndjson, rotate_bytes: 1000000, rotate_files: 3}\n"
                                  "  - {type: stdout}\n"
                                  "  - {type: syslog, transport: tcp, address: '[::1]:6514', facility: local3,\n"
                                  "     app_name: fs, queue_bytes: 8192}\n"
                                  "  - {type: syslog, transport: unix, address: /dev/log, facility: 3}\n"
                                  "  - {type: syslog, address: '127.0.0.1:514', rate: 500}\n",
                                  "t.yaml");
    ASSERT_EQ(c.sinks.size(), 5u);
    EXPECT_EQ(c.sinks[0].rate, 5000u);
    EXPECT_EQ(c.sinks[4].rate, 500u);
    EXPECT_EQ(c.sinks[0].rotate_bytes, 1000000u);
    EXPECT_EQ(c.sinks[0].rotate_files, 3u);
    EXPECT_EQ(c.sinks[1].type, flowsentry::SinkType::stdout_stream);
    EXPECT_EQ(c.sinks[2].transport, flowsentry::SyslogTransport::tcp);
    EXPECT_EQ(c.sinks[2].facility, 19);
    EXPECT_EQ(c.sinks[2].app_name, "fs");
    EXPECT_EQ(c.sinks[2].queue_bytes, 8192u);
    EXPECT_EQ(c.sinks[3].facility, 3);
}

TEST(SinkConfig, OutputPathAndDashOAreTheDefaultSink)
{
    auto s = flowsentry::effective_sinks(parse_config("", "t.yaml"), "");
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].type, flowsentry::SinkType::stdout_stream);
    s = flowsentry::effective_sinks(parse_config("output: {path: /tmp/x.ndjson}\n", "t.yaml"), "");
    ASSERT_EQ(s.size(), 1u);
    EXPECT_EQ(s[0].path, "/tmp/x.ndjson");
    // -o replaces file and stdout sinks, keeps syslog ones.
    const Config c = parse_config("sinks:\n  - {type: file, path: /a}\n  - {type: syslog, address: 'h:514'}\n", "t.yaml");
    s = flowsentry::effective_sinks(c, "/b");
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0].path, "/b");
    EXPECT_EQ(s[1].type, flowsentry::SinkType::syslog);
    EXPECT_EQ(flowsentry::effective_sinks(c, "").size(), 2u);
}

TEST(SinkConfig, ErrorsPointAtTheValue)
{
    EXPECT_EQ(error_of("sinks:\n  - {type: kafka}\n"), "t.yaml:2:12: sinks[0].type: must be file, stdout or syslog (got kafka)");
    EXPECT_EQ(error_of("sinks:\n  - {path: /x}\n"),
              "t.yaml:2:5: sinks[0]: missing required key 'type' (file, stdout or syslog)");
    EXPECT_EQ(error_of("sinks:\n  - {type: file}\n"),
              "t.yaml:2:5: sinks[0]: a file sink needs a non-empty 'path' (got a map)");
    EXPECT_EQ(error_of("sinks:\n  - {type: syslog, address: 'localhost'}\n"),
              "t.yaml:2:29: sinks[0].address: expected host:port (an IPv6 address in brackets), port 1..65535 "
              "(got \"localhost\")");
    EXPECT_EQ(error_of("sinks:\n  - {type: syslog, address: '::1:514'}\n"),
              "t.yaml:2:29: sinks[0].address: expected host:port (an IPv6 address in brackets), port 1..65535 "
              "(got \"::1:514\")");
    EXPECT_EQ(error_of("sinks:\n  - {type: syslog, transport: unix, address: dev/log}\n"),
              "t.yaml:2:46: sinks[0].address: expected an absolute socket path shorter than 108 bytes (got dev/log)");
    EXPECT_EQ(error_of("sinks:\n  - {type: syslog, address: 'h:1', facility: local9}\n"),
              "t.yaml:2:46: sinks[0].facility: expected a facility number 0..23 or a name (kern, user, daemon, auth, "
              "local0..local7, ...) (got local9)");
    EXPECT_EQ(error_of("sinks:\n  - {type: syslog, address: 'h:1', facility: 24}\n"),
              "t.yaml:2:46: sinks[0].facility: must be between 0 and 23 (got 24)");
    EXPECT_EQ(error_of("output: {path: /x}\nsinks:\n  - {type: stdout}\n"),
              "t.yaml:1:16: output.path: output.path and a non-empty sinks list exclude each other: list the file "
              "in sinks instead (got /x)");
}

}  // namespace

// ---- the configuration without -c ----

TEST(DefaultConfig, DirectoryFollowsWhereTheBinaryIs)
{
    const flowsentry::InstallLayout usr{"/usr/bin", "/etc/flowsentry", "/src/fs/build", "/src/fs/conf"};
    using flowsentry::default_config_dir;
    EXPECT_EQ(default_config_dir("/usr/bin/flowsentry", usr), "/etc/flowsentry");
    // meson install --destdir /tmp/stage: the staged binary, the staged files.
    EXPECT_EQ(default_config_dir("/tmp/stage/usr/bin/flowsentry", usr), "/tmp/stage/etc/flowsentry");
    // The binary of the build directory reads the source tree's conf/.
    EXPECT_EQ(default_config_dir("/src/fs/build/flowsentry", usr), "/src/fs/conf");
    // Copied anywhere else: the compiled-in path.
    EXPECT_EQ(default_config_dir("/opt/flowsentry", usr), "/etc/flowsentry");
    EXPECT_EQ(default_config_dir("", usr), "/etc/flowsentry");
}

TEST(DefaultConfig, FileOrBuiltInDefaultsWithThePackBesideIt)
{
    char tmpl[] = "/tmp/fs-defconf-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    std::string notice;

    Config c = flowsentry::load_default_config(dir, notice);
    EXPECT_TRUE(c.inspection.signature_packs.empty());
    EXPECT_EQ(notice, "no configuration file " + dir + "/flowsentry.yaml (give one with -c): built-in defaults, "
                      "no signature pack (no " + dir + "/signatures/telnet.yaml): payload inspection off");

    ASSERT_EQ(system(("mkdir " + dir + "/signatures && touch " + dir + "/signatures/telnet.yaml").c_str()), 0);
    notice.clear();
    c = flowsentry::load_default_config(dir, notice);
    EXPECT_EQ(c.inspection.signature_packs, std::vector<std::string>{dir + "/signatures/telnet.yaml"});
    EXPECT_THAT(notice, HasSubstr("built-in defaults, signature pack " + dir + "/signatures/telnet.yaml"));

    std::ofstream(dir + "/flowsentry.yaml") << "workers: 3\ntelnet:\n  signature_packs: [signatures/telnet.yaml]\n";
    notice.clear();
    c = flowsentry::load_default_config(dir, notice);
    EXPECT_EQ(notice, "");
    EXPECT_EQ(c.workers, 3u);
    EXPECT_EQ(c.source, dir + "/flowsentry.yaml");
    EXPECT_EQ(c.inspection.signature_packs, std::vector<std::string>{dir + "/signatures/telnet.yaml"});
    ASSERT_EQ(system(("rm -r " + dir).c_str()), 0);
}

TEST(InspectionConfig, SignaturePackThatIsMissingOrADirectoryNamesTheLineThatNamesIt)
{
    EXPECT_EQ(error_of("telnet:\n  signature_packs: [/nonexistent/telnet.yaml]\n"),
              "t.yaml:2:21: telnet.signature_packs[0]: signature pack /nonexistent/telnet.yaml: cannot open: No such "
              "file or directory");
    char tmpl[] = "/tmp/fs-packdir-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    EXPECT_EQ(error_of(std::string("telnet:\n  signature_packs:\n    - ") + tmpl + "\n"),
              std::string("t.yaml:3:7: telnet.signature_packs[0]: signature pack ") + tmpl +
                  ": is a directory, not a pack: name the pack's YAML file (for example signatures/telnet.yaml)");
    rmdir(tmpl);
}

TEST(ConfigParse, SignatureCacheIsADirectoryRelativeToTheFileOrOff)
{
    EXPECT_EQ(parse_config("telnet:\n  signature_cache: cache\n", "/etc/flowsentry/f.yaml").inspection.signature_cache,
              "/etc/flowsentry/cache");
    EXPECT_EQ(parse("telnet:\n  signature_cache: /var/cache/fs\n").inspection.signature_cache, "/var/cache/fs");
    EXPECT_EQ(parse("telnet:\n  signature_cache: off\n").inspection.signature_cache, "");
    EXPECT_EQ(error_of("telnet:\n  signature_cache: \"\"\n"),
              "t.yaml:2:20: telnet.signature_cache: expected a directory, or off (got \"\")");
}
