// Integration test of the binary as a user meets it: the command line, every
// start-up error (one line, the right exit status), live mode on a DPDK vdev
// stopped by a signal, a stop during start-up, periodic stats, the stats file, and replay output that
// is byte-identical run after run and stamped with capture time.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "process.hpp"

using namespace flowsentry_test;

namespace {

std::string binary() { return env_or_empty("FLOWSENTRY_BIN"); }

std::string data(const std::string &name) { return env_or_empty("FLOWSENTRY_SOURCE_ROOT") + "/tests/data/" + name; }

struct Result {
    int status;
    std::string out;
    std::string err;
};

// Runs flowsentry with `args` (already quoted where needed), stdout and
// stderr captured separately.
Result run(const std::string &args, const TempDir &tmp, const std::string &prefix = "")
{
    const fs::path err = tmp.path() / "stderr.txt";
    Result r;
    r.status = run_command(prefix + shell_quote(binary()) + " " + args + " 2>" + shell_quote(err.string()), &r.out);
    r.err = read_file(err);
    return r;
}

// EAL options for a live run on a vdev, no hugepages, its own runtime files.
std::string live_eal(const std::string &vdev, const std::string &lcores = "0-1")
{
    return "--no-huge --no-pci --no-shconf -m 256 --file-prefix=fs-cli-" + std::to_string(getpid()) + " -l " +
           lcores + (vdev.empty() ? "" : " --vdev " + vdev) + " --log-level=warning";
}

void write_text(const fs::path &p, const std::string &text)
{
    std::FILE *f = std::fopen(p.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
}

int count_lines(const std::string &s, const std::string &needle)
{
    int n = 0;
    for (size_t pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos + 1))
        ++n;
    return n;
}

// A pcap of one record: an IPv4 header behind `l2`, link type `linktype`.
std::string ip_header_capture(char linktype, const std::string &l2)
{
    std::string pcap("\xd4\xc3\xb2\xa1\x02\x00\x04\x00", 8);
    pcap += std::string(8, '\0');
    pcap += std::string("\xff\xff\x00\x00", 4) + linktype + std::string(3, '\0');
    pcap += std::string(8, '\0');
    const char len = static_cast<char>(20 + l2.size());
    pcap += std::string(1, len) + std::string(3, '\0') + std::string(1, len) + std::string(3, '\0');
    return pcap + l2 + std::string("\x45\x00\x00\x14", 4) + std::string(16, '\0');
}

// The 16-byte Linux cooked (SLL) header of an IPv4 packet.
const std::string kSllHeader("\x00\x00\x00\x01\x00\x06\x02\x00\x00\x00\x00\x01\x00\x00\x08\x00", 16);

bool hugepages_reserved()
{
    std::string meminfo = read_file("/proc/meminfo");
    const size_t p = meminfo.find("HugePages_Total:");
    return p != std::string::npos && std::atol(meminfo.c_str() + p + 16) > 0;
}

}  // namespace

TEST(CommandLine, HelpDocumentsBothForms)
{
    TempDir tmp;
    const Result r = run("--help", tmp);
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.out.find("--pcap"), std::string::npos);
    EXPECT_NE(r.out.find(" -- "), std::string::npos);
}

TEST(CommandLine, UnknownOptionIsAUsageError)
{
    TempDir tmp;
    const Result r = run("--pcap x.pcap --frobnicate", tmp);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("--frobnicate"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Try 'flowsentry --help'"), std::string::npos);
}

TEST(StartupErrors, MissingCapture)
{
    TempDir tmp;
    const Result r = run("--pcap /nonexistent/capture.pcap", tmp);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("/nonexistent/capture.pcap"), std::string::npos) << r.err;
    EXPECT_EQ(count_lines(r.err, "\n"), 1) << "one line: " << r.err;
}

TEST(StartupErrors, CaptureThatIsNotEthernet)
{
    TempDir tmp;
    // Raw IP (link type 101) and Linux cooked capture (113, what
    // `tcpdump -i any` writes).
    struct Case {
        char linktype;
        const char *name;
        std::string l2;
    };
    for (const Case &c : {Case{'\x65', "RAW", ""}, Case{'\x71', "LINUX_SLL", kSllHeader}}) {
        SCOPED_TRACE(c.name);
        write_text(tmp.path() / "capture.pcap", ip_header_capture(c.linktype, c.l2));
        const Result r = run("--pcap " + shell_quote((tmp.path() / "capture.pcap").string()), tmp);
        EXPECT_EQ(r.status, 1);
        EXPECT_NE(r.err.find(std::string("link type ") + c.name + " is not Ethernet"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("tcprewrite"), std::string::npos) << r.err;
    }
}

TEST(StartupErrors, BadConfigNamesFileLineAndColumn)
{
    TempDir tmp;
    const fs::path conf = tmp.path() / "bad.yaml";
    write_text(conf, "workers: 1\nflow_table:\n  capacity: 0\n");
    const Result r = run("--pcap " + shell_quote(data("demo.pcap")) + " -c " + shell_quote(conf.string()), tmp);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find(conf.string() + ":3:"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("capacity"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << "nothing may start half-configured";
}

TEST(StartupErrors, OutputThatCannotBeOpened)
{
    TempDir tmp;
    const Result r = run("--pcap " + shell_quote(data("demo.pcap")) + " -o /nonexistent-dir/events.ndjson", tmp);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("cannot open"), std::string::npos) << r.err;
}

TEST(StartupErrors, NoPorts)
{
    TempDir tmp;
    const Result r = run(live_eal("") + " --", tmp);
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("no ports"), std::string::npos) << r.err;
}

TEST(StartupErrors, FewerLcoresThanWorkers)
{
    TempDir tmp;
    const fs::path conf = tmp.path() / "two.yaml";
    write_text(conf, "workers: 2\n");
    const Result r = run(live_eal("net_null0") + " -- -c " + shell_quote(conf.string()), tmp);
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.err.find("2 workers configured but the EAL has 1 worker lcore"), std::string::npos) << r.err;
}

TEST(StartupErrors, HugepagesMissingGivesTheHint)
{
    TempDir tmp;
    const std::string eal = "--no-pci -l 0-1 --vdev net_null0 --file-prefix=fs-cli-huge-" + std::to_string(getpid()) +
                            " --log-level=warning --";
    const Result r = run(eal, tmp, "timeout --foreground --preserve-status -s INT 5 ");
    if (hugepages_reserved()) {
        // An appliance with hugepages starts normally and stops on the signal.
        EXPECT_EQ(r.status, 0) << r.err;
    } else {
        EXPECT_EQ(r.status, 1);
        EXPECT_NE(r.err.find("--no-huge"), std::string::npos) << r.err;
    }
}

TEST(LiveMode, RunsUntilSignalledThenReportsAndExitsZero)
{
    TempDir tmp;
    const fs::path conf = tmp.path() / "stats.yaml";
    write_text(conf, "stats:\n  interval: 1\n");
    const fs::path stats = tmp.path() / "stats.json";
    // net_null delivers packets as fast as it is polled: a live port with no file.
    const Result r = run(live_eal("net_null0") + " -- -c " + shell_quote(conf.string()) + " --stats-json " +
                             shell_quote(stats.string()),
                         tmp, "timeout --foreground --preserve-status -s INT 3 ");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_GE(count_lines(r.err, "flowsentry: stats rx="), 1) << r.err;
    EXPECT_NE(r.err.find("flowsentry: summary"), std::string::npos) << r.err;

    rapidjson::Document d;
    const std::string json = read_file(stats);
    d.Parse(json.c_str());
    ASSERT_FALSE(d.HasParseError()) << json;
    ASSERT_TRUE(d["workers"].IsArray());
    const auto &w = d["workers"][0];
    const uint64_t rx = w["worker.rx_packets"].GetUint64();
    EXPECT_GT(rx, 0u);
    // Every received packet is accounted for by exactly one decode result.
    uint64_t decoded = 0;
    for (auto it = w.MemberBegin(); it != w.MemberEnd(); ++it)
        if (std::strncmp(it->name.GetString(), "decode.", 7) == 0)
            decoded += it->value.GetUint64();
    EXPECT_EQ(decoded + w["worker.rx_multi_segment"].GetUint64(), rx);
    EXPECT_EQ(d["ports"][0]["ipackets"].GetUint64(), rx);
}

TEST(Replay, OutputIsByteIdenticalEveryRun)
{
    TempDir tmp;
    const std::string capture = shell_quote(data("many_flows.pcap"));
    const fs::path a = tmp.path() / "a.ndjson", b = tmp.path() / "b.ndjson";
    ASSERT_EQ(run("--pcap " + capture + " -o " + shell_quote(a.string()), tmp).status, 0);
    ASSERT_EQ(run("--pcap " + capture + " -o " + shell_quote(b.string()), tmp).status, 0);
    const std::string first = read_file(a);
    EXPECT_GT(first.size(), 0u);
    EXPECT_EQ(first, read_file(b));
}

TEST(Replay, TimestampsAreCaptureTimeFromTshark)
{
    TempDir tmp;
    // The accepted connection's @timestamp is the final ACK (frame 3), its
    // event.start the SYN (frame 1), as tshark reads them from the file.
    std::string epochs;
    ASSERT_EQ(run_command("tshark -r " + shell_quote(data("ipv4_telnet_basic.pcap")) +
                              " -Y 'frame.number <= 3' -T fields -e frame.time_epoch 2>/dev/null",
                          &epochs),
              0);
    double syn = 0, ack = 0, mid = 0;
    ASSERT_EQ(std::sscanf(epochs.c_str(), "%lf %lf %lf", &syn, &mid, &ack), 3) << epochs;
    auto rfc3339 = [](double epoch) {
        const time_t s = static_cast<time_t>(epoch);
        const long us = std::lround((epoch - static_cast<double>(s)) * 1e6);
        tm t{};
        gmtime_r(&s, &t);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", t.tm_year + 1900, t.tm_mon + 1,
                      t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, us);
        return std::string(buf);
    };

    const Result r = run("--pcap " + shell_quote(data("ipv4_telnet_basic.pcap")), tmp);
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string first_line = r.out.substr(0, r.out.find('\n'));
    rapidjson::Document d;
    d.Parse(first_line.c_str());
    ASSERT_FALSE(d.HasParseError());
    EXPECT_STREQ(d["event"]["action"].GetString(), "connection-accepted");
    EXPECT_EQ(d["@timestamp"].GetString(), rfc3339(ack));
    EXPECT_EQ(d["event"]["start"].GetString(), rfc3339(syn));
}

TEST(Replay, SmallRingSlowsTheReplayInsteadOfDropping)
{
    TempDir tmp;
    const fs::path conf = tmp.path() / "small-ring.yaml";
    write_text(conf, "alert_ring:\n  size: 64\n");
    const fs::path out = tmp.path() / "events.ndjson", stats = tmp.path() / "stats.json";
    const Result r = run("--pcap " + shell_quote(data("many_flows.pcap")) + " -c " + shell_quote(conf.string()) +
                             " -o " + shell_quote(out.string()) + " --stats-json " + shell_quote(stats.string()),
                         tmp);
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string events = read_file(out);
    // many_flows.truth.json: 150 accepted connections, 75 of them Telnet.
    EXPECT_EQ(count_lines(events, "\"action\":\"connection-accepted\""), 150);
    EXPECT_EQ(count_lines(events, "\"action\":\"connection-end\""), 150);
    EXPECT_EQ(count_lines(events, "\"action\":\"telnet-connection-accepted\""), 75);
    rapidjson::Document d;
    const std::string json = read_file(stats);
    d.Parse(json.c_str());
    ASSERT_FALSE(d.HasParseError()) << json;
    EXPECT_EQ(d["workers"][0]["worker.document_drops"].GetUint64(), 0u);
    EXPECT_EQ(d["workers"][0]["worker.scan_record_drops"].GetUint64(), 0u);
}

TEST(Replay, HostileCaptureIsCountedFrameByFrame)
{
    // scripts/gen-hostile-capture.py: frames cut at every byte and with bits
    // flipped, IPv6 extension chains past the limit, lying TCP lengths,
    // empty and jumbo frames, then one clean IPv6 Telnet session.
    TempDir tmp;
    rapidjson::Document truth;
    const std::string truth_text = read_file(data("hostile/hostile.truth.json"));
    truth.Parse(truth_text.c_str());
    ASSERT_FALSE(truth.HasParseError());
    const fs::path out = tmp.path() / "events.ndjson", stats = tmp.path() / "stats.json";
    const Result r = run("--pcap " + shell_quote(data("hostile/hostile.pcap")) + " -o " + shell_quote(out.string()) +
                             " --stats-json " + shell_quote(stats.string()),
                         tmp, "timeout 60 ");
    ASSERT_EQ(r.status, 0) << r.err;

    rapidjson::Document d;
    const std::string json = read_file(stats);
    d.Parse(json.c_str());
    ASSERT_FALSE(d.HasParseError()) << json;
    const auto &w = d["workers"][0];
    const uint64_t rx = w["worker.rx_packets"].GetUint64();
    EXPECT_EQ(rx, truth["frames"].GetUint64());
    uint64_t decoded = 0;
    for (auto it = w.MemberBegin(); it != w.MemberEnd(); ++it)
        if (std::strncmp(it->name.GetString(), "decode.", 7) == 0)
            decoded += it->value.GetUint64();
    EXPECT_EQ(decoded + w["worker.rx_multi_segment"].GetUint64(), rx);
    EXPECT_GT(w["decode.ipv6_ext_too_many"].GetUint64(), 0u);
    EXPECT_GT(w["decode.tcp_bad_data_offset"].GetUint64() + w["decode.tcp_truncated"].GetUint64(), 0u);

    // The clean session after all that is detected, once.
    const auto &clean = truth["accepted"][0];
    int alerts = 0;
    for_each_json_line(read_file(out), [&](const rapidjson::Document &e) {
        alerts += e.HasMember("rule") &&
                  std::strcmp(e["rule"]["name"].GetString(), "Accepted Default Telnet Port Connection") == 0 &&
                  clean[0].GetString() == std::string(e["source"]["ip"].GetString()) &&
                  clean[1].GetInt() == e["source"]["port"].GetInt();
    });
    EXPECT_EQ(alerts, 1);
}

// ---- output failures (docs/operations.md#failure-modes-of-sinks) ----

TEST(OutputFailures, StatsPathIsCheckedBeforeTheFirstPacketAndLeavesNoRuntimeDirectory)
{
    TempDir tmp;
    const fs::path pid = tmp.path() / "pid";
    // exec keeps the shell's pid: the replay's runtime directory is flowsentry-PID.
    const Result r = run("--pcap " + shell_quote(data("demo.pcap")) + " --stats-json /nonexistent-dir/stats.json",
                         tmp, "echo $$ >" + shell_quote(pid.string()) + "; exec ");
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(r.err, "flowsentry: /nonexistent-dir/stats.json: cannot open for writing: No such file or directory\n");
    EXPECT_TRUE(r.out.empty()) << "no packet may be read";
    const std::string runtime = "/var/run/dpdk/flowsentry-" + std::to_string(std::atol(read_file(pid).c_str()));
    EXPECT_FALSE(fs::exists(runtime)) << runtime;
}

TEST(OutputFailures, FullDeviceExitsOneWithTheCause)
{
    TempDir tmp;
    const fs::path stats = tmp.path() / "stats.json";
    const Result r = run("--pcap " + shell_quote(data("demo.pcap")) + " -o /dev/full --stats-json " +
                             shell_quote(stats.string()),
                         tmp);
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find("flowsentry: summary"), std::string::npos) << r.err;
    const std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
    EXPECT_EQ(last.rfind("flowsentry: output lost: sink file:/dev/full dropped ", 0), 0u) << r.err;
    EXPECT_NE(last.find("(/dev/full: write failed: No space left on device)\n"), std::string::npos) << last;
    EXPECT_FALSE(read_file(stats).empty()) << "the counters are written all the same";
}

// `flowsentry --pcap X | head -1`: the closed pipe is a failed sink, not a
// killed process: the file sink beside it gets every document, the summary
// and the counters are written, and the exit status says output was lost.
TEST(OutputFailures, ClosedStdoutPipeKeepsTheOtherSinkAndTheSummary)
{
    TempDir tmp;
    const fs::path conf = tmp.path() / "two-sinks.yaml", file = tmp.path() / "events.ndjson";
    const fs::path stats = tmp.path() / "stats.json", status = tmp.path() / "status";
    write_text(conf, "sinks:\n  - {type: stdout}\n  - {type: file, path: " + file.string() + "}\n");
    std::string first;
    const fs::path err = tmp.path() / "stderr.txt";
    // many_flows.pcap writes far more than a pipe holds, so writes after
    // head has gone fail.
    ASSERT_EQ(run_command("(" + shell_quote(binary()) + " --pcap " + shell_quote(data("many_flows.pcap")) + " -c " +
                              shell_quote(conf.string()) + " --stats-json " + shell_quote(stats.string()) + " 2>" +
                              shell_quote(err.string()) + "; echo $? >" + shell_quote(status.string()) +
                              ") | head -1",
                          &first),
              0);
    const std::string errors = read_file(err);
    EXPECT_EQ(read_file(status), "1\n") << errors;
    EXPECT_EQ(count_lines(first, "\n"), 1);
    // many_flows.truth.json: 150 accepted connections.
    EXPECT_EQ(count_lines(read_file(file), "\"action\":\"connection-accepted\""), 150);
    EXPECT_NE(errors.find("flowsentry: summary"), std::string::npos) << errors;
    EXPECT_NE(errors.find("output lost: sink stdout dropped "), std::string::npos) << errors;
    EXPECT_NE(errors.find("(stdout: write failed: Broken pipe)"), std::string::npos) << errors;
    EXPECT_FALSE(read_file(stats).empty());
}

// ---- the EAL form's inputs (docs/operations.md, docs/configuration.md#automatic-mempool-size) ----

TEST(EalForm, PcapVdevOfAnotherLinkTypeIsRefusedAtStart)
{
    TempDir tmp;
    const fs::path capture = tmp.path() / "cooked.pcap";
    write_text(capture, ip_header_capture('\x71', kSllHeader));
    const Result r = run(live_eal("net_pcap0,rx_pcap=" + capture.string()) + " --", tmp,
                         "timeout --foreground --preserve-status -s INT 10 ");
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find(capture.string() + ": link type LINUX_SLL is not Ethernet"), std::string::npos) << r.err;
    EXPECT_EQ(count_lines(r.err, "\n"), 1) << r.err;
}

// --vdev net_pcap0,rx_pcap=F,infinite_rx=1 stamps nothing: the port is on
// the TSC clock, so documents carry the time they were seen, not 1970.
TEST(EalForm, LoopedCaptureIsOnTheWallClock)
{
    TempDir tmp;
    const fs::path out = tmp.path() / "events.ndjson";
    const time_t before = time(nullptr);
    const Result r = run(live_eal("net_pcap0,rx_pcap=" + data("ipv4_telnet_basic.pcap") + ",infinite_rx=1") +
                             " -- -o " + shell_quote(out.string()),
                         tmp, "timeout --foreground --preserve-status -s INT 4 ");
    const time_t after = time(nullptr);
    EXPECT_EQ(r.status, 0) << r.err;
    const std::string events = read_file(out);
    ASSERT_FALSE(events.empty()) << r.err;
    int documents = 0;
    for_each_json_line(events, [&](const rapidjson::Document &d) {
        tm t{};
        ASSERT_TRUE(strptime(d["@timestamp"].GetString(), "%Y-%m-%dT%H:%M:%S", &t)) << d["@timestamp"].GetString();
        const time_t at = timegm(&t);
        EXPECT_GE(at, before - 1) << d["@timestamp"].GetString();
        EXPECT_LE(at, after + 1) << d["@timestamp"].GetString();
        ++documents;
    });
    EXPECT_GT(documents, 0);
}

TEST(EalForm, LoopedCaptureLargerThanThePoolNamesMempoolMbufs)
{
    TempDir tmp;
    const fs::path conf = tmp.path() / "small-pool.yaml";
    write_text(conf, "mempool:\n  mbufs: 1023\n  cache: 32\n");
    const Result r = run(live_eal("net_pcap0,rx_pcap=" + data("many_flows.pcap") + ",infinite_rx=1") + " -- -c " +
                             shell_quote(conf.string()),
                         tmp, "timeout --foreground --preserve-status -s INT 10 ");
    EXPECT_EQ(r.status, 1) << r.err;
    // tshark counts the capture's frames.
    std::string frames;
    ASSERT_EQ(run_command("tshark -r " + shell_quote(data("many_flows.pcap")) + " -T fields -e frame.number 2>/dev/null | wc -l",
                          &frames),
              0);
    EXPECT_EQ(r.err, "flowsentry: net_pcap0: infinite_rx=1 keeps all " + std::to_string(std::atol(frames.c_str())) +
                         " frames of its capture in mbufs, and the mbuf pool has 1023: set mempool.mbufs above the "
                         "capture's frames plus the RX descriptors (docs/configuration.md#automatic-mempool-size)\n");
}

// A pcapng whose second interface has another link type: libpcap cannot
// read past it, and says why.
TEST(StartupErrors, PcapngWithInterfacesOfTwoLinkTypes)
{
    TempDir tmp;
    auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char *>(&v), 4); };
    auto u16 = [](uint16_t v) { return std::string(reinterpret_cast<const char *>(&v), 2); };
    auto idb = [&](uint16_t link) { return u32(1) + u32(20) + u16(link) + u16(0) + u32(65535) + u32(20); };
    std::string frame(14, '\0');  // an Ethernet header, nothing behind it
    auto epb = [&](uint32_t iface) {
        return u32(6) + u32(32 + 16) + u32(iface) + u32(0) + u32(1) + u32(14) + u32(14) + frame + std::string(2, '\0') +
               u32(32 + 16);
    };
    const std::string shb = u32(0x0A0D0D0A) + u32(28) + u32(0x1A2B3C4D) + u16(1) + u16(0) + u32(0xffffffff) +
                            u32(0xffffffff) + u32(28);
    write_text(tmp.path() / "two.pcapng", shb + idb(1) + epb(0) + idb(113) + epb(1));
    const Result r = run("--pcap " + shell_quote((tmp.path() / "two.pcapng").string()), tmp);
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_EQ(r.err, "flowsentry: " + (tmp.path() / "two.pcapng").string() +
                         ": cannot read capture after 1 frame(s): an interface has a type 113 different from the "
                         "type of the first interface\n");
}

namespace {

// A configuration with the shipped pack, compiled every time (no cache):
// start-up then has a step before DPDK that takes a while.
void write_uncached_pack_config(const fs::path &conf)
{
    write_text(conf, "telnet:\n  signature_packs: [" + env_or_empty("FLOWSENTRY_SOURCE_ROOT") +
                         "/conf/signatures/telnet.yaml]\n  signature_cache: off\n");
}

// Starts flowsentry with `args`, stderr to `err`; its pid.
pid_t start(const std::vector<std::string> &args, const fs::path &err)
{
    const std::string program = binary();
    const pid_t pid = fork();
    if (pid == 0) {
        const int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 2);
        std::vector<char *> argv{const_cast<char *>(program.c_str())};
        for (const std::string &a : args)
            argv.push_back(const_cast<char *>(a.c_str()));
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

// Waits until `pid` catches `signo` (SigCgt in /proc): a signal sent
// before would end it by the default action, whatever main() does.
bool wait_until_caught(pid_t pid, int signo)
{
    const auto started = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - started < std::chrono::seconds(30)) {
        const std::string status = read_file("/proc/" + std::to_string(pid) + "/status");
        const size_t at = status.find("SigCgt:");
        if (at != std::string::npos && (std::stoull(status.substr(at + 7), nullptr, 16) >> (signo - 1)) & 1)
            return true;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return false;
}

// The runtime directory a replay's EAL makes (--file-prefix=flowsentry-PID, as root).
fs::path replay_runtime_dir(pid_t pid) { return "/var/run/dpdk/flowsentry-" + std::to_string(pid); }

// Waits for `pid`, sent a stop during start-up: a clean exit that says so,
// no runtime directory left behind.
void expect_stopped_during_start_up(pid_t pid, const fs::path &err)
{
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    const std::string text = read_file(err);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << "\n" << text;
    EXPECT_EQ(WEXITSTATUS(status), 0) << text;
    EXPECT_NE(text.find("flowsentry: stopped during start-up"), std::string::npos) << text;
    EXPECT_FALSE(fs::exists(replay_runtime_dir(pid)));
}

}  // namespace

TEST(StartUp, AStopDuringStartUpIsACleanExitThatRemovesTheRuntimeDirectory)
{
    TempDir tmp;
    const fs::path err = tmp.path() / "stderr.txt";
    const fs::path conf = tmp.path() / "flowsentry.yaml";
    write_uncached_pack_config(conf);
    const std::vector<std::string> args = {"-c", conf.string(), "--pcap", data("many_flows.pcap"), "-o",
                                           (tmp.path() / "out.ndjson").string()};

    // As soon as main() catches it (the packs are not compiled yet): the
    // stop is taken before DPDK starts.
    for (int signo : {SIGINT, SIGTERM}) {
        SCOPED_TRACE(signo);
        const pid_t pid = start(args, err);
        ASSERT_TRUE(wait_until_caught(pid, signo));
        kill(pid, signo);
        expect_stopped_during_start_up(pid, err);
    }

    // As soon as the EAL has made its runtime directory: start-up ends at
    // the next step and the directory goes with it.
    const pid_t pid = start(args, err);
    const auto started = std::chrono::steady_clock::now();
    while (!fs::exists(replay_runtime_dir(pid)) && std::chrono::steady_clock::now() - started < std::chrono::seconds(30))
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    ASSERT_TRUE(fs::exists(replay_runtime_dir(pid)));
    kill(pid, SIGTERM);
    expect_stopped_during_start_up(pid, err);
}

TEST(StartUp, ASighupDuringStartUpIsNotTheEndOfTheProcess)
{
    // logrotate's postrotate or `systemctl reload` can come while the packs
    // compile: the run goes on, and does what it was asked once running.
    TempDir tmp;
    const fs::path err = tmp.path() / "stderr.txt", out = tmp.path() / "out.ndjson";
    const fs::path conf = tmp.path() / "flowsentry.yaml";
    write_uncached_pack_config(conf);
    const pid_t pid = start({"-c", conf.string(), "--pcap", data("many_flows.pcap"), "-o", out.string()}, err);
    // As soon as main() has its first handlers, long before the packs are
    // compiled and the EAL is up.
    ASSERT_TRUE(wait_until_caught(pid, SIGINT));
    kill(pid, SIGHUP);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    const std::string text = read_file(err);
    ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << "\n" << text;
    EXPECT_EQ(WEXITSTATUS(status), 0) << text;
    // many_flows.truth.json: 150 accepted connections, all written.
    EXPECT_EQ(count_lines(read_file(out), "\"action\":\"connection-accepted\""), 150);
}

TEST(LiveMode, SighupReloadsTheSignaturesAndTheSummaryCountsIt)
{
    TempDir tmp;
    const fs::path err = tmp.path() / "stderr.txt", stats = tmp.path() / "stats.json";
    const fs::path conf = tmp.path() / "flowsentry.yaml";
    write_uncached_pack_config(conf);
    const pid_t pid = start({"--no-huge", "--no-pci", "--no-shconf", "-m", "256",
                             "--file-prefix=fs-cli-reload-" + std::to_string(getpid()), "-l", "0-1", "--vdev",
                             "net_null0", "--log-level=warning", "--", "-c", conf.string(), "-o",
                             (tmp.path() / "out.ndjson").string(), "--stats-json", stats.string()},
                            err);
    ASSERT_TRUE(wait_until_caught(pid, SIGHUP));
    kill(pid, SIGHUP);
    const auto sent = std::chrono::steady_clock::now();
    while (read_file(err).find("signatures reloaded: generation 2") == std::string::npos &&
           std::chrono::steady_clock::now() - sent < std::chrono::seconds(60))
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    kill(pid, SIGINT);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    const std::string text = read_file(err);
    ASSERT_TRUE(WIFEXITED(status)) << text;
    EXPECT_EQ(WEXITSTATUS(status), 0) << text;
    EXPECT_NE(text.find("  signatures: generation=2 reloads=1 reload_failures=0 reloads_coalesced=0"),
              std::string::npos)
        << text;
    rapidjson::Document d;
    const std::string json = read_file(stats);
    d.Parse(json.c_str());
    ASSERT_FALSE(d.HasParseError()) << json;
    ASSERT_TRUE(d.HasMember("signatures")) << json;
    EXPECT_EQ(d["signatures"]["generation"].GetUint64(), 2u);
    EXPECT_EQ(d["signatures"]["reloads"].GetUint64(), 1u);
    EXPECT_EQ(d["signatures"]["reload_failures"].GetUint64(), 0u);
    EXPECT_EQ(d["signatures"]["windows_evicted"].GetUint64(), 0u);  // the text line's counter, in the JSON too
}
