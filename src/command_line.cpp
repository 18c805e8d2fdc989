// Command line: our options, and the EAL arguments either given or built.
#include "flowsentry/command_line.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "flowsentry/address_set.hpp"
#include "flowsentry/event_record.hpp"
#include "flowsentry/flow_table.hpp"
#include "flowsentry/scan_counter.hpp"
#include "flowsentry_version.h"

namespace flowsentry {

namespace {

enum class Option { help, version, pcap, config, output, stats_json, bench };

struct OptionSpec {
    const char *short_name;  // nullptr when there is none
    const char *long_name;
    Option option;
    bool takes_value;
};

constexpr OptionSpec kOptions[] = {
    {"-h", "--help", Option::help, false},
    {"-V", "--version", Option::version, false},
    {nullptr, "--pcap", Option::pcap, true},
    {"-c", "--config", Option::config, true},
    {"-o", "--output", Option::output, true},
    {nullptr, "--stats-json", Option::stats_json, true},
    {nullptr, "--bench", Option::bench, true},
};

constexpr uint32_t kMaxBenchSeconds = 86400;

uint32_t parse_bench_seconds(const std::string &value)
{
    const bool digits = value.size() <= 5 && std::all_of(value.begin(), value.end(), [](char c) {
        return c >= '0' && c <= '9';
    });
    const unsigned long seconds = digits ? std::stoul(value) : 0;
    if (seconds == 0 || seconds > kMaxBenchSeconds)
        throw UsageError("--bench: SECONDS must be a whole number from 1 to " + std::to_string(kMaxBenchSeconds) +
                         " (got '" + value + "')");
    return static_cast<uint32_t>(seconds);
}

std::string *value_slot(CommandLine &cl, Option option)
{
    switch (option) {
    case Option::config:
        return &cl.config_path;
    case Option::output:
        return &cl.output;
    case Option::stats_json:
        return &cl.stats_json;
    default:
        return nullptr;
    }
}

// Parses our own options (after "--", or the whole line in --pcap form).
// `eal_form` only changes the message for an unknown option.
void parse_ours(CommandLine &cl, const std::vector<std::string> &args, bool eal_form)
{
    std::set<Option> given;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string &arg = args[i];
        const OptionSpec *spec = nullptr;
        std::string value;
        bool inline_value = false;
        for (const OptionSpec &s : kOptions) {
            std::string long_name = s.long_name;
            if (arg == long_name || (s.short_name != nullptr && arg == s.short_name)) {
                spec = &s;
            } else if (s.takes_value && arg.compare(0, long_name.size() + 1, long_name + "=") == 0) {
                spec = &s;
                value = arg.substr(long_name.size() + 1);
                inline_value = true;
            } else if (s.takes_value && s.short_name != nullptr && arg.size() > 2 &&
                       arg.compare(0, 2, s.short_name) == 0) {
                spec = &s;  // -cFILE
                value = arg.substr(2);
                inline_value = true;
            }
            if (spec != nullptr)
                break;
        }
        if (spec == nullptr) {
            if (arg.empty() || arg[0] != '-' || arg == "-")
                throw UsageError("unexpected argument '" + arg + "' (see --help)");
            if (eal_form)
                throw UsageError("unknown option '" + arg + "' after '--' (see --help)");
            throw UsageError("unknown option '" + arg +
                             "' (see --help; EAL options go before '--')");
        }
        std::string name = arg.compare(0, 2, "--") == 0 ? spec->long_name : spec->short_name;
        if (!spec->takes_value) {
            if (spec->option == Option::help)
                cl.help = true;
            else
                cl.version = true;
            continue;
        }
        if (!inline_value) {
            // "--pcap -c x" almost surely forgot the file; a path that really
            // starts with '-' can be written ./-x or --pcap=-x. Plain "-"
            // (stdout) is a value.
            if (i + 1 >= args.size() ||
                (args[i + 1].size() > 1 && args[i + 1][0] == '-'))
                throw UsageError("option '" + name + "' needs a value");
            value = args[++i];
        }
        if (value.empty())
            throw UsageError("option '" + name + "' needs a value");
        if (spec->option == Option::pcap) {
            // Each file is one port: a tap pair is --pcap A --pcap B.
            if (value.find(',') != std::string::npos)
                throw UsageError("--pcap: the file name must not contain ',' (got '" + value + "')");
            cl.pcaps.push_back(value);
            continue;
        }
        if (!given.insert(spec->option).second)
            throw UsageError("option '" + std::string(spec->long_name) + "' given more than once");
        if (spec->option == Option::bench) {
            cl.bench_seconds = parse_bench_seconds(value);
            continue;
        }
        *value_slot(cl, spec->option) = value;
    }
}

// CPUs this process may run on, in order; {0} if the kernel won't say.
std::vector<unsigned> allowed_cpus()
{
    std::vector<unsigned> cpus;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (unsigned cpu = 0; cpu < CPU_SETSIZE; ++cpu)
            if (CPU_ISSET(cpu, &set))
                cpus.push_back(cpu);
    }
    if (cpus.empty())
        cpus.push_back(0);
    return cpus;
}

}  // namespace

CommandLine parse_command_line(int argc, char **argv)
{
    CommandLine cl;
    std::string program = argc > 0 && argv[0] != nullptr ? argv[0] : "flowsentry";
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i)
        args.emplace_back(argv[i]);

    auto dashes = std::find(args.begin(), args.end(), "--");
    bool eal_form = dashes != args.end();
    if (eal_form) {
        std::vector<std::string> eal(args.begin(), dashes);
        std::vector<std::string> ours(dashes + 1, args.end());
        parse_ours(cl, ours, true);
        // --pcap before "--" would reach the EAL, which doesn't know it.
        bool pcap_in_eal = std::any_of(eal.begin(), eal.end(), [](const std::string &a) {
            return a == "--pcap" || a.compare(0, 7, "--pcap=") == 0;
        });
        if (pcap_in_eal || (!cl.pcaps.empty() && !eal.empty()))
            throw UsageError("--pcap builds its own EAL arguments; don't combine it with EAL options");
        if (cl.pcaps.empty()) {
            cl.eal_args.push_back(program);
            cl.eal_args.insert(cl.eal_args.end(), eal.begin(), eal.end());
        }
    } else {
        parse_ours(cl, args, false);
    }

    if (cl.help || cl.version)
        return cl;
    if (!eal_form && cl.pcaps.empty())
        throw UsageError("nothing to read: give --pcap FILE to replay a capture, or EAL options "
                         "then '--' then options to read ports (see --help)");
    return cl;
}

bool replay_needs_spreader(size_t capture_ports, const Config &config)
{
    if (config.spreading.mode == SpreadingMode::off)
        return false;
    return config.workers > 1 || capture_ports > 1 || config.spreading.mode == SpreadingMode::software;
}

std::vector<std::string> pcap_eal_args(const std::string &program, const std::vector<std::string> &pcaps,
                                       const Config &config)
{
    // Lcore ids: the workers' (configured, or 1..workers) plus a main lcore,
    // the lowest id not taken by a worker.
    std::vector<unsigned> workers;
    if (config.worker_lcores.size() == config.workers) {
        workers.assign(config.worker_lcores.begin(), config.worker_lcores.end());
    } else {
        for (unsigned i = 1; i <= config.workers; ++i)
            workers.push_back(i);
    }
    unsigned main_lcore = 0;
    while (std::find(workers.begin(), workers.end(), main_lcore) != workers.end())
        ++main_lcore;
    // The spreading lcore: the configured one, or the lowest id left.
    std::vector<unsigned> others = workers;
    if (replay_needs_spreader(pcaps.size(), config)) {
        unsigned spreader = 0;
        if (config.spreading.lcore >= 0)
            spreader = unsigned(config.spreading.lcore);
        else
            while (spreader == main_lcore || std::find(workers.begin(), workers.end(), spreader) != workers.end())
                ++spreader;
        others.push_back(spreader);
    }

    // Lcores are threads, not CPUs: wrap them round the CPUs we may use so
    // several workers run on a small machine (replay needs no dedicated core).
    std::vector<unsigned> cpus = allowed_cpus();
    std::string lcores = std::to_string(main_lcore) + "@" + std::to_string(cpus[0]);
    for (size_t i = 0; i < others.size(); ++i)
        lcores += "," + std::to_string(others[i]) + "@" + std::to_string(cpus[(i + 1) % cpus.size()]);

    // Generous on purpose: --no-huge memory is plain anonymous memory, only
    // touched pages cost anything, and running short fails at start.
    uint64_t bytes = uint64_t(128) << 20;
    bytes += uint64_t(mempool_size(config, static_cast<uint32_t>(pcaps.size()),
                                   uint64_t(config.workers) * config.spreading.ring_size)) * 2560;
    bytes += uint64_t(config.workers) * FlowTable::memory_bytes(config.flow_table.capacity);
    // Document and scan rings, watch requests, the scan counter.
    bytes += uint64_t(config.workers) * config.alert_ring_size * (2 * sizeof(EventRecord) + sizeof(ScanWatch));
    bytes += uint64_t(config.workers) * ScanCounter::memory_bytes(config.detections.scan_max_sources);
    bytes += address_set_memory_bytes();  // home networks and external ranges (detections.cpp)
    uint64_t mb = (bytes + (uint64_t(1) << 20) - 1) >> 20;

    std::vector<std::string> args = {
        program,
        "--no-huge",
        "--no-pci",
        "--file-prefix=flowsentry-" + std::to_string(getpid()),
        "-m",
        std::to_string(mb),
        "--lcores",
        lcores,
    };
    // The EAL takes the lowest lcore as main unless told otherwise.
    if (main_lcore != 0) {
        args.push_back("--main-lcore");
        args.push_back(std::to_string(main_lcore));
    }
    for (size_t i = 0; i < pcaps.size(); ++i) {
        args.push_back("--vdev");
        args.push_back("net_pcap" + std::to_string(i) + ",rx_pcap=" + pcaps[i]);
    }
    if (!config.telemetry)
        args.push_back("--no-telemetry");
    args.push_back("--log-level=warning");
    return args;
}

const char *usage_text()
{
    return R"(flowsentry: TCP flow and Telnet inspector on DPDK, writing ECS NDJSON

Usage:
  flowsentry --pcap FILE [--pcap FILE...] [-c FILE] [-o FILE] [--stats-json FILE] [--bench SECONDS]
  flowsentry [EAL options] -- [-c FILE] [-o FILE] [--stats-json FILE] [--bench SECONDS]
  flowsentry -h | --help
  flowsentry -V | --version

The first form replays a capture file offline. flowsentry builds the EAL
arguments itself (a net_pcap vdev on FILE, --no-huge --no-pci, one lcore per
worker plus the main lcore and, with several workers or files, the software
spreading lcore, memory sized from the configuration), so no EAL
options may be given with it. Packet time comes from the capture, so a replay
gives the same output every time.

The second form reads ports. Everything before the first '--' is passed to
the DPDK EAL unchanged (for example -l/--lcores, -a PCI address, --vdev,
--file-prefix); everything after it is flowsentry's own options.

Options:
  --pcap FILE          replay FILE (pcap or pcapng) through a net_pcap vdev;
                       the name must not contain ','. Give it again for more
                       ports (a tap pair: --pcap uplink.pcap --pcap downlink.pcap);
                       the files are merged in capture-time order
  -c, --config FILE    configuration file (YAML). Without it:
                       )" FLOWSENTRY_SYSCONFDIR R"(/flowsentry.yaml
                       (conf/flowsentry.yaml of the source tree for the binary
                       of its build directory); if that file is missing, the
                       built-in defaults and the signature pack beside it,
                       signatures/telnet.yaml, if present (one line on stderr
                       says which)
  -o, --output FILE    write NDJSON events to FILE ('-' = stdout); overrides
                       output.path in the configuration
  --stats-json FILE    write the final counters to FILE as JSON at exit (the
                       file is opened at start: a bad path stops the start)
  --bench SECONDS      stop after SECONDS of polling, as on SIGINT, and report
                       the counters (stderr, --stats-json); for benchmarks on a
                       looping input (scripts/bench.sh)
  -h, --help           show this help and exit
  -V, --version        show the version and exit

Options that take a value also accept --option=VALUE (and -cFILE, -oFILE).

Examples:
  flowsentry --pcap tests/data/x.pcap
  flowsentry --pcap capture.pcap -c conf/flowsentry.yaml -o events.ndjson
  flowsentry -l 0-2 -a 0000:3b:00.0 -- -c /etc/flowsentry/flowsentry.yaml

Exit status:
  0  success (the capture was read to the end, or a clean stop)
  1  runtime error (EAL, ports, memory, a capture that cannot be read, or
     output lost: a sink dropped lines, named on the last line of stderr)
  2  usage or configuration error

See docs/configuration.md for every configuration key.
)";
}

}  // namespace flowsentry
