// Command line: `flowsentry --pcap FILE [options]` builds its own EAL
// arguments; `flowsentry [EAL options] -- [options]` takes them as given.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowsentry/config.hpp"

namespace flowsentry {

class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct CommandLine {
    bool help = false;
    bool version = false;
    std::vector<std::string> pcaps;  // offline mode when set: one port per file
    std::string config_path;   // empty: built-in defaults
    std::string output;        // overrides output: in the config
    std::string stats_json;    // counters as JSON at exit
    uint32_t bench_seconds = 0;  // --bench: stop after this long; 0 = run until the end or a signal
    std::vector<std::string> eal_args;  // argv[0] first; given, or built for --pcap
};

// Throws UsageError with a one-line cause.
CommandLine parse_command_line(int argc, char **argv);

// EAL arguments for offline mode: --no-huge --no-pci, a net_pcap vdev per
// file (net_pcap0, net_pcap1, ...), one lcore per worker plus the main lcore
// (plus the spreading lcore when the captures need one), memory sized from
// the config.
std::vector<std::string> pcap_eal_args(const std::string &program, const std::vector<std::string> &pcaps,
                                       const Config &config);

// Whether a replay of `capture_ports` files needs the software spreading
// lcore: several workers (a file is one queue), or several files (merged
// in capture-time order).
bool replay_needs_spreader(size_t capture_ports, const Config &config);

const char *usage_text();

}  // namespace flowsentry
