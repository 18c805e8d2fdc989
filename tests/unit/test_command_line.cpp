// Command line: both forms, the errors, and the EAL arguments built for --pcap.
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "flowsentry/command_line.hpp"
#include "flowsentry/event_record.hpp"
#include "flowsentry/flow_table.hpp"

using flowsentry::CommandLine;
using flowsentry::Config;
using flowsentry::pcap_eal_args;
using flowsentry::UsageError;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Args = std::vector<std::string>;

namespace {

CommandLine parse(Args args)
{
    std::vector<char *> argv;
    for (std::string &a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    return flowsentry::parse_command_line(static_cast<int>(args.size()), argv.data());
}

std::string error_of(const Args &args)
{
    try {
        parse(args);
    } catch (const UsageError &e) {
        return e.what();
    }
    return "";
}

// ---- the --pcap form ----

TEST(CommandLinePcap, Minimal)
{
    CommandLine cl = parse({"flowsentry", "--pcap", "tests/data/x.pcap"});
    EXPECT_THAT(cl.pcaps, ElementsAre("tests/data/x.pcap"));
    EXPECT_TRUE(cl.eal_args.empty());  // main builds them once the config is loaded
    EXPECT_EQ(cl.config_path, "");
    EXPECT_EQ(cl.output, "");
    EXPECT_EQ(cl.stats_json, "");
    EXPECT_FALSE(cl.help);
    EXPECT_FALSE(cl.version);
}

TEST(CommandLinePcap, AllOptionsAnyOrder)
{
    CommandLine cl = parse({"flowsentry", "-c", "c.yaml", "--stats-json", "s.json", "--pcap", "x.pcap",
                            "-o", "out.ndjson"});
    EXPECT_THAT(cl.pcaps, ElementsAre("x.pcap"));
    EXPECT_EQ(cl.config_path, "c.yaml");
    EXPECT_EQ(cl.output, "out.ndjson");
    EXPECT_EQ(cl.stats_json, "s.json");
    EXPECT_TRUE(cl.eal_args.empty());
}

TEST(CommandLinePcap, LongNamesAndEqualsForms)
{
    CommandLine cl = parse({"flowsentry", "--pcap=x.pcap", "--config=c.yaml", "--output=o.json",
                            "--stats-json=s.json"});
    EXPECT_THAT(cl.pcaps, ElementsAre("x.pcap"));
    EXPECT_EQ(cl.config_path, "c.yaml");
    EXPECT_EQ(cl.output, "o.json");
    EXPECT_EQ(cl.stats_json, "s.json");

    cl = parse({"flowsentry", "--pcap", "x.pcap", "--config", "c.yaml", "--output", "o.json"});
    EXPECT_EQ(cl.config_path, "c.yaml");
    EXPECT_EQ(cl.output, "o.json");

    cl = parse({"flowsentry", "--pcap", "x.pcap", "-cc.yaml", "-oo.json"});
    EXPECT_EQ(cl.config_path, "c.yaml");
    EXPECT_EQ(cl.output, "o.json");
}

TEST(CommandLinePcap, DashIsStdout)
{
    EXPECT_EQ(parse({"flowsentry", "--pcap", "x.pcap", "-o", "-"}).output, "-");
}

TEST(CommandLinePcap, ValueStartingWithDashViaEquals)
{
    EXPECT_THAT(parse({"flowsentry", "--pcap=-odd.pcap"}).pcaps, ElementsAre("-odd.pcap"));
}

TEST(CommandLinePcap, CommaInFileName)
{
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "a,b.pcap"}),
              "--pcap: the file name must not contain ',' (got 'a,b.pcap')");
}

// ---- the EAL form ----

TEST(CommandLineEal, EverythingBeforeDashDashGoesToTheEal)
{
    CommandLine cl = parse({"/usr/bin/flowsentry", "-l", "0-2", "-a", "0000:3b:00.0", "--", "-c",
                            "/etc/flowsentry/flowsentry.yaml"});
    EXPECT_THAT(cl.eal_args, ElementsAre("/usr/bin/flowsentry", "-l", "0-2", "-a", "0000:3b:00.0"));
    EXPECT_EQ(cl.config_path, "/etc/flowsentry/flowsentry.yaml");
    EXPECT_TRUE(cl.pcaps.empty());
}

TEST(CommandLineEal, EalOptionsThatLookLikeOursStayWithTheEal)
{
    // -c is a core mask to the EAL, -h its help; before "--" they aren't ours.
    CommandLine cl = parse({"flowsentry", "-c", "0x3", "--vdev=net_null0", "--", "-o", "o.json",
                            "--stats-json=s.json"});
    EXPECT_THAT(cl.eal_args, ElementsAre("flowsentry", "-c", "0x3", "--vdev=net_null0"));
    EXPECT_EQ(cl.config_path, "");
    EXPECT_EQ(cl.output, "o.json");
    EXPECT_EQ(cl.stats_json, "s.json");
}

TEST(CommandLineEal, NothingAroundDashDash)
{
    CommandLine cl = parse({"flowsentry", "--"});
    EXPECT_THAT(cl.eal_args, ElementsAre("flowsentry"));
}

TEST(CommandLineEal, PcapAfterDashDashWithoutEalOptionsIsThePcapForm)
{
    CommandLine cl = parse({"flowsentry", "--", "--pcap", "x.pcap"});
    EXPECT_THAT(cl.pcaps, ElementsAre("x.pcap"));
    EXPECT_TRUE(cl.eal_args.empty());
}

TEST(CommandLineEal, PcapWithEalOptions)
{
    const std::string msg = "--pcap builds its own EAL arguments; don't combine it with EAL options";
    EXPECT_EQ(error_of({"flowsentry", "-l", "0-1", "--", "--pcap", "x.pcap"}), msg);
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "x.pcap", "-l", "0-1", "--", "-c", "c.yaml"}), msg);
    EXPECT_EQ(error_of({"flowsentry", "--pcap=x.pcap", "--"}), msg);
}

TEST(CommandLineEal, UnknownOptionAfterDashDash)
{
    EXPECT_EQ(error_of({"flowsentry", "-l", "0", "--", "--bogus"}), "unknown option '--bogus' after '--' (see --help)");
    EXPECT_EQ(error_of({"flowsentry", "-l", "0", "--", "-c", "c.yaml", "--"}),
              "unknown option '--' after '--' (see --help)");
}

// ---- help and version ----

TEST(CommandLineInfo, HelpAndVersionNeedNothingElse)
{
    EXPECT_TRUE(parse({"flowsentry", "-h"}).help);
    EXPECT_TRUE(parse({"flowsentry", "--help"}).help);
    EXPECT_TRUE(parse({"flowsentry", "-V"}).version);
    EXPECT_TRUE(parse({"flowsentry", "--version"}).version);
}

TEST(CommandLineInfo, AnywhereAmongOurOptions)
{
    EXPECT_TRUE(parse({"flowsentry", "--pcap", "x.pcap", "--help"}).help);
    EXPECT_TRUE(parse({"flowsentry", "-c", "c.yaml", "-V"}).version);
    CommandLine cl = parse({"flowsentry", "-l", "0", "--", "-c", "c.yaml", "--help"});
    EXPECT_TRUE(cl.help);
    EXPECT_EQ(cl.config_path, "c.yaml");
}

TEST(CommandLineInfo, UsageTextDocumentsBothFormsAndExitCodes)
{
    std::string text = flowsentry::usage_text();
    for (const char *s : {"--pcap FILE", "[EAL options] --", "-c, --config FILE", "-o, --output FILE",
                          "--stats-json FILE", "-h, --help", "-V, --version",
                          "flowsentry --pcap tests/data/x.pcap",
                          "flowsentry -l 0-2 -a 0000:3b:00.0 -- -c /etc/flowsentry/flowsentry.yaml",
                          "0  success", "1  runtime error", "2  usage or configuration error"})
        EXPECT_THAT(text, HasSubstr(s));
}

// ---- errors ----

TEST(CommandLineErrors, NoModeSaysWhatToDo)
{
    std::string e = error_of({"flowsentry"});
    EXPECT_THAT(e, HasSubstr("--pcap FILE"));
    EXPECT_THAT(e, HasSubstr("'--'"));
    EXPECT_EQ(error_of({"flowsentry", "-c", "c.yaml"}), e);
}

TEST(CommandLineErrors, UnknownOption)
{
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "x.pcap", "--bogus"}),
              "unknown option '--bogus' (see --help; EAL options go before '--')");
    // The likely mistake: EAL options without "--".
    EXPECT_THAT(error_of({"flowsentry", "-l", "0-2", "-a", "0000:3b:00.0"}), HasSubstr("unknown option '-l'"));
    EXPECT_THAT(error_of({"flowsentry", "-x"}), HasSubstr("'-x'"));
    EXPECT_THAT(error_of({"flowsentry", "--pcapx", "f"}), HasSubstr("'--pcapx'"));
    EXPECT_THAT(error_of({"flowsentry", "--help=yes"}), HasSubstr("'--help=yes'"));
}

TEST(CommandLineErrors, MissingValue)
{
    EXPECT_EQ(error_of({"flowsentry", "--pcap"}), "option '--pcap' needs a value");
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "x.pcap", "-c"}), "option '-c' needs a value");
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "x.pcap", "--output"}), "option '--output' needs a value");
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "x.pcap", "--stats-json"}), "option '--stats-json' needs a value");
    // An option where the value should be means the value was forgotten.
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "-c", "c.yaml"}), "option '--pcap' needs a value");
    EXPECT_EQ(error_of({"flowsentry", "--pcap=", "x"}), "option '--pcap' needs a value");
    EXPECT_EQ(error_of({"flowsentry", "--pcap", ""}), "option '--pcap' needs a value");
    EXPECT_EQ(error_of({"flowsentry", "-l", "0", "--", "-c"}), "option '-c' needs a value");
}

TEST(CommandLinePcap, SeveralFilesAreSeveralPorts)
{
    EXPECT_THAT(parse({"flowsentry", "--pcap", "a.pcap", "--pcap=b.pcap"}).pcaps, ElementsAre("a.pcap", "b.pcap"));
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "a.pcap", "--pcap", "b,c.pcap"}),
              "--pcap: the file name must not contain ',' (got 'b,c.pcap')");
}

TEST(CommandLineBench, SecondsInBothForms)
{
    EXPECT_EQ(parse({"flowsentry", "--pcap", "a.pcap"}).bench_seconds, 0u);
    EXPECT_EQ(parse({"flowsentry", "--pcap", "a.pcap", "--bench", "5"}).bench_seconds, 5u);
    EXPECT_EQ(parse({"flowsentry", "-l", "0-1", "--", "--bench=86400", "-c", "c.yaml"}).bench_seconds, 86400u);
}

TEST(CommandLineBench, RejectsWhatIsNotAWholeNumberOfSeconds)
{
    for (const char *bad : {"0", "-1", "1.5", "5s", "86401", "999999999999", " 5"})
        EXPECT_THAT(error_of({"flowsentry", "--pcap", "a.pcap", std::string("--bench=") + bad}),
                    HasSubstr("--bench: SECONDS must be a whole number from 1 to 86400 (got '" + std::string(bad) +
                              "')"))
            << bad;
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "a.pcap", "--bench"}), "option '--bench' needs a value");
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "a.pcap", "--bench", "1", "--bench", "2"}),
              "option '--bench' given more than once");
}

TEST(CommandLineErrors, GivenTwice)
{
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "a.pcap", "-c", "a", "--config=b"}),
              "option '--config' given more than once");
}

TEST(CommandLineErrors, StrayArgument)
{
    EXPECT_EQ(error_of({"flowsentry", "--pcap", "a.pcap", "b.pcap"}), "unexpected argument 'b.pcap' (see --help)");
    EXPECT_EQ(error_of({"flowsentry", "x.pcap"}), "unexpected argument 'x.pcap' (see --help)");
}

// ---- pcap_eal_args ----

std::vector<unsigned> cpus_allowed()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    EXPECT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    std::vector<unsigned> cpus;
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &set))
            cpus.push_back(c);
    return cpus;
}

// Restricts this process to `cpus` for the life of the object.
class AffinityScope {
public:
    explicit AffinityScope(const std::vector<unsigned> &cpus)
    {
        CPU_ZERO(&saved_);
        sched_getaffinity(0, sizeof saved_, &saved_);
        cpu_set_t set;
        CPU_ZERO(&set);
        for (unsigned c : cpus)
            CPU_SET(c, &set);
        ok_ = sched_setaffinity(0, sizeof set, &set) == 0;
    }
    ~AffinityScope() { sched_setaffinity(0, sizeof saved_, &saved_); }
    bool ok() const { return ok_; }

private:
    cpu_set_t saved_;
    bool ok_ = false;
};

std::string arg_after(const std::vector<std::string> &args, const std::string &option)
{
    auto it = std::find(args.begin(), args.end(), option);
    if (it == args.end() || it + 1 == args.end())
        return "";
    return *(it + 1);
}

uint64_t expected_mb(const Config &c)
{
    uint64_t scan_ways = 4;
    while (scan_ways < c.detections.scan_max_sources)
        scan_ways <<= 1;
    uint64_t bytes = (uint64_t(128) << 20) + uint64_t(flowsentry::mempool_size(c, 1, uint64_t(c.workers) * c.spreading.ring_size)) * 2560 +
                     uint64_t(c.workers) * flowsentry::FlowTable::memory_bytes(c.flow_table.capacity) +
                     // document and scan rings, watch requests
                     uint64_t(c.workers) * c.alert_ring_size * (2 * sizeof(flowsentry::EventRecord) + 32) +
                     // scan counter: 192 bytes a source, power-of-two buckets of 4
                     uint64_t(c.workers) * 192 * scan_ways +
                     (uint64_t(144) << 20);  // rte_lpm + rte_lpm6 of the detections: 2 x 64 MiB + 16 MiB
    return (bytes + (1u << 20) - 1) >> 20;
}

TEST(PcapEalArgs, DefaultConfig)
{
    std::vector<unsigned> cpus = cpus_allowed();
    ASSERT_FALSE(cpus.empty());
    Config c;
    auto args = pcap_eal_args("flowsentry", {"/tmp/x.pcap"}, c);
    std::string lcores = "0@" + std::to_string(cpus[0]) + ",1@" + std::to_string(cpus[1 % cpus.size()]);
    EXPECT_THAT(args, ElementsAre("flowsentry", "--no-huge", "--no-pci",
                                  "--file-prefix=flowsentry-" + std::to_string(getpid()), "-m",
                                  std::to_string(expected_mb(c)), "--lcores", lcores, "--vdev",
                                  "net_pcap0,rx_pcap=/tmp/x.pcap", "--log-level=warning"));
}

TEST(PcapEalArgs, MemoryGrowsWithTheTables)
{
    Config c;
    uint64_t small = std::stoull(arg_after(pcap_eal_args("fs", {"x.pcap"}, c), "-m"));
    EXPECT_GE(small, 128u);
    c.workers = 4;
    c.flow_table.capacity = 1u << 20;
    c.alert_ring_size = 1u << 16;
    uint64_t big = std::stoull(arg_after(pcap_eal_args("fs", {"x.pcap"}, c), "-m"));
    EXPECT_EQ(big, expected_mb(c));
    // The flow tables alone are 4 x (1Mi flows and their index), over 480 MiB.
    EXPECT_GE(big, 128 + 4 * (flowsentry::FlowTable::memory_bytes(1u << 20) >> 20));
    EXPECT_GE(flowsentry::FlowTable::memory_bytes(1u << 20), (1ull << 20) * sizeof(flowsentry::Flow));
}

TEST(PcapEalArgs, MoreWorkersThanCpusWrapAround)
{
    std::vector<unsigned> cpus = cpus_allowed();
    Config c;
    c.workers = 3;
    {
        AffinityScope one({cpus[0]});
        ASSERT_TRUE(one.ok());
        std::string on = "@" + std::to_string(cpus[0]);
        EXPECT_EQ(arg_after(pcap_eal_args("fs", {"x.pcap"}, c), "--lcores"),
                  "0" + on + ",1" + on + ",2" + on + ",3" + on + ",4" + on);
    }
    if (cpus.size() < 2)
        GTEST_SKIP() << "one CPU only: the two-CPU wrap can't be checked";
    {
        AffinityScope two({cpus[0], cpus[1]});
        ASSERT_TRUE(two.ok());
        std::string a = std::to_string(cpus[0]), b = std::to_string(cpus[1]);
        EXPECT_EQ(arg_after(pcap_eal_args("fs", {"x.pcap"}, c), "--lcores"),
                  "0@" + a + ",1@" + b + ",2@" + a + ",3@" + b + ",4@" + a);
    }
}

TEST(PcapEalArgs, ConfiguredWorkerLcores)
{
    std::vector<unsigned> cpus = cpus_allowed();
    AffinityScope one({cpus[0]});
    ASSERT_TRUE(one.ok());
    std::string on = "@" + std::to_string(cpus[0]);
    Config c;
    c.workers = 2;
    c.worker_lcores = {3, 5};
    auto args = pcap_eal_args("fs", {"x.pcap"}, c);
    // Two workers: the spreading lcore is the lowest id left (1).
    EXPECT_EQ(arg_after(args, "--lcores"), "0" + on + ",3" + on + ",5" + on + ",1" + on);
    EXPECT_EQ(std::count(args.begin(), args.end(), "--main-lcore"), 0);

    // Lcore 0 taken by a worker: the main lcore is the lowest free id, named.
    c.worker_lcores = {0, 2};
    args = pcap_eal_args("fs", {"x.pcap"}, c);
    EXPECT_EQ(arg_after(args, "--lcores"), "1" + on + ",0" + on + ",2" + on + ",3" + on);
    EXPECT_EQ(arg_after(args, "--main-lcore"), "1");
}

TEST(PcapEalArgs, SpreadingLcoreOnlyWhenNeeded)
{
    std::vector<unsigned> cpus = cpus_allowed();
    AffinityScope one({cpus[0]});
    ASSERT_TRUE(one.ok());
    std::string on = "@" + std::to_string(cpus[0]);
    Config c;
    // One worker, one file: nothing to spread or merge.
    EXPECT_EQ(arg_after(pcap_eal_args("fs", {"a.pcap"}, c), "--lcores"), "0" + on + ",1" + on);

    // A tap pair: two ports, merged in time order by the spreading lcore.
    auto args = pcap_eal_args("fs", {"a.pcap", "b.pcap"}, c);
    EXPECT_EQ(arg_after(args, "--lcores"), "0" + on + ",1" + on + ",2" + on);
    EXPECT_EQ(std::count(args.begin(), args.end(), "net_pcap0,rx_pcap=a.pcap"), 1);
    EXPECT_EQ(std::count(args.begin(), args.end(), "net_pcap1,rx_pcap=b.pcap"), 1);

    c.spreading.lcore = 7;
    EXPECT_EQ(arg_after(pcap_eal_args("fs", {"a.pcap", "b.pcap"}, c), "--lcores"), "0" + on + ",1" + on + ",7" + on);

    c.spreading.mode = flowsentry::SpreadingMode::off;
    c.workers = 2;
    EXPECT_EQ(arg_after(pcap_eal_args("fs", {"a.pcap", "b.pcap"}, c), "--lcores"), "0" + on + ",1" + on + ",2" + on);

    c.telemetry = false;
    args = pcap_eal_args("fs", {"a.pcap"}, c);
    EXPECT_EQ(std::count(args.begin(), args.end(), "--no-telemetry"), 1);
}

}  // namespace
