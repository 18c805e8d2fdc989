// Configuration: conf/flowsentry.yaml, validated in full before anything starts.
#pragma once

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "flowsentry/address_set.hpp"
#include "flowsentry/decode.hpp"
#include "flowsentry/rules.hpp"

namespace flowsentry {

// A configuration error; what() is "file:line:column: message".
class ConfigError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct PortConfig {
    std::string device;           // DPDK port name: PCI address or vdev name
    std::string name;             // observer.ingress.interface.name; defaults to device
    uint16_t rx_descriptors = 1024;
};

struct FlowTableConfig {
    uint32_t capacity = 65536;             // flows per worker
    uint32_t attempt_timeout_s = 30;       // handshake not (yet) complete
    uint32_t established_timeout_s = 3600; // accepted and open
    uint32_t closing_timeout_s = 60;       // FIN or RST seen
    uint32_t expiry_batch = 64;            // most flows expired per poll
};

// Software spreading: one lcore reads ports that cannot hash both directions
// of a flow to one queue per worker, and spreads by the canonical flow hash.
enum class SpreadingMode : uint8_t {
    automatic,  // ports without symmetric RSS over the workers, and several capture ports
    software,   // every port
    off,        // never: worker i polls queue i of every port as the port delivers it
};

struct SpreadingConfig {
    SpreadingMode mode = SpreadingMode::automatic;
    int32_t lcore = -1;                    // -1: the first EAL worker lcore no worker uses
    uint32_t ring_size = 4096;             // mbufs per worker ring, power of two
};

enum class ExternalRanges : uint8_t {
    elastic,  // the exclusion list of Elastic's rule, verbatim
    iana,     // the IANA special-purpose registries (and multicast)
};

// Alert throttling per rule, the way Suricata's `threshold: type limit,
// track by_src|by_dst|by_both|by_rule` does it: at most `alerts` alerts per
// `interval_s` seconds for each tracked key (per signature for payload
// signatures); the rest is counted and reported in a summary per key.
enum class ThrottleTrack : uint8_t {
    off,      // every alert is written
    by_src,   // per client address
    by_dst,   // per server address
    by_both,  // per client and server address pair
    by_rule,  // one budget for the whole rule
};

struct ThrottleLimit {
    ThrottleTrack track = ThrottleTrack::by_both;
    uint32_t alerts = 100;
    uint32_t interval_s = 300;
};

// Accepted Telnet connections and logins are the point of the sensor, one
// alert per connection or attempt: not throttled unless configured.
inline std::array<ThrottleLimit, kRuleIdCount> default_throttle_limits()
{
    std::array<ThrottleLimit, kRuleIdCount> limits{};
    limits[static_cast<size_t>(RuleId::accepted_telnet_port)].track = ThrottleTrack::off;
    limits[static_cast<size_t>(RuleId::telnet_cleartext_credentials)].track = ThrottleTrack::off;
    return limits;
}

struct ThrottleConfig {
    std::array<ThrottleLimit, kRuleIdCount> limits = default_throttle_limits();  // by RuleId
    uint32_t max_keys = 65536;  // keys tracked at once; the oldest is summarised and dropped beyond it

    const ThrottleLimit &limit(RuleId id) const
    {
        const size_t i = static_cast<size_t>(id);
        return limits[i < limits.size() ? i : 0];
    }
};

// `track` as written in the configuration (by_src ...), and back.
const char *throttle_track_name(ThrottleTrack t);

struct DetectionConfig {
    std::vector<Cidr> home_networks;                   // empty: RFC 1918 + RFC 4193
    ExternalRanges external_ranges = ExternalRanges::elastic;
    uint32_t scan_window_s = 60;                       // sliding window per source
    uint32_t scan_destinations = 5;                    // distinct Telnet servers tried in it
    uint32_t scan_max_sources = 65536;                 // sources tracked at once
    ThrottleConfig throttle;
};

enum class SinkType : uint8_t { file, stdout_stream, syslog };
enum class SyslogTransport : uint8_t { udp, tcp, unix_datagram };

struct SinkConfig {
    SinkType type = SinkType::file;
    std::string path;                      // file
    uint64_t rotate_bytes = 0;             // file: rotate when bigger; 0 = never
    uint32_t rotate_files = 5;             // file: rotated files kept (path.1 ..)
    SyslogTransport transport = SyslogTransport::udp;
    std::string address;                   // syslog: host:port, or a socket path
    uint8_t facility = 16;                 // syslog: local0
    std::string app_name = "flowsentry";  // syslog APP-NAME
    uint32_t queue_bytes = 64u << 20;      // pending output before lines are dropped
    uint32_t rate = 5000;                  // syslog over UDP: messages per second at most
};

// Telnet payload inspection (payload_inspector.hpp); off without packs.
// Where the signature cache lives unless configured: the install's
// localstatedir/cache/flowsentry.
std::string default_signature_cache_dir();

struct InspectionConfig {
    std::vector<std::string> signature_packs;  // resolved against the config file's directory
    std::string signature_cache = default_signature_cache_dir();  // compiled databases; empty: off
    uint32_t flows_per_worker = 4096;          // inspection states (and stream sets) per worker
    uint32_t depth_to_server = 65536;          // bytes inspected per direction, then stop
    uint32_t depth_to_client = 65536;
    uint32_t chunks_per_worker = 8192;         // out-of-order pool, 240-byte chunks
    uint32_t held_bytes_per_flow = 16384;      // out-of-order bytes held per direction
    uint32_t held_chunks_per_flow = 128;
    uint32_t brute_force_failures = 5;         // failed logins from one source ...
    uint32_t brute_force_window_s = 60;        // ... within this many seconds
};

// IP reassembly (ip_reassembly.hpp), per worker; every bound counted when hit.
struct DefragConfig {
    bool enabled = true;                       // false: fragments are counted by decode and dropped
    uint32_t max_datagrams = 4096;             // datagrams in progress
    uint64_t max_bytes = 4u << 20;             // data held (512-byte blocks)
    uint32_t max_datagram_size = 65535;        // bytes after the unfragmentable part
    uint32_t max_fragments_per_datagram = 64;
    uint32_t timeout_s = 30;                   // from a datagram's first fragment (packet time)
};

struct Config {
    std::string source;                    // file it came from, for messages
    uint32_t workers = 1;
    std::vector<uint32_t> worker_lcores;   // empty: the EAL's worker lcores in order
    uint32_t burst_size = 32;
    std::vector<PortConfig> ports;         // empty: every port the EAL probed
    uint32_t mempool_mbufs = 0;            // 0: sized from descriptors, workers, burst
    uint32_t mempool_cache = 256;
    FlowTableConfig flow_table;
    std::vector<uint16_t> telnet_ports{23};
    InspectionConfig inspection;
    uint32_t alert_ring_size = 4096;       // records per worker ring, power of two
    std::string output = "-";              // NDJSON path, "-" for stdout
    uint32_t stats_interval_s = 0;         // periodic stats line on stderr; 0 = off
    uint16_t community_id_seed = 0;
    std::string observer_hostname;         // empty: gethostname()
    uint32_t link_up_timeout_s = 10;       // wait for ports' links at start; 0 = don't wait
    bool scatter = false;                  // receive frames larger than one mbuf (else drop and count)
    SpreadingConfig spreading;
    DefragConfig defrag;
    DecodeOptions decode;                  // tunnel depth, VXLAN/Geneve ports, MPLS payload
    bool telemetry = true;                 // /flowsentry/* commands on the DPDK telemetry socket
    DetectionConfig detections;
    std::vector<SinkConfig> sinks;         // empty: one sink from `output`
};

// The sinks to open: `sinks`, or the single file/stdout sink of `output`.
// `output_override` (-o) replaces the file and stdout sinks when not empty.
std::vector<SinkConfig> effective_sinks(const Config &config, const std::string &output_override);

// Mbufs for the shared RX mempool when `mempool_mbufs` is 0: enough for every
// RX descriptor of every queue plus a burst and a cache per worker, rounded
// up to 2^n - 1 (the size rte_mempool uses best).
// `in_flight`: mbufs that can wait outside the RX rings (spreading rings).
uint32_t mempool_size(const Config &config, uint32_t port_count, uint64_t in_flight = 0);

// Loads and validates a file. Throws ConfigError with file:line:column.
Config load_config(const std::string &path);

// Same, from text (tests, and the built-in defaults when no file is given).
Config parse_config(const std::string &yaml_text, const std::string &source_name);

// Where a build of flowsentry finds its files (meson.build puts the real
// ones in flowsentry_version.h; tests give others).
struct InstallLayout {
    std::string bindir;          // prefix/bindir: /usr/bin
    std::string confdir;         // prefix/sysconfdir/flowsentry: /etc/flowsentry
    std::string build_root;      // the build directory the binary was built in
    std::string source_confdir;  // the source tree's conf/
};

// The directory of the configuration used without -c, for the binary at
// `executable`: the source tree's conf/ for the binary of the build
// directory; confdir for one installed in bindir, or in bindir under a
// staging directory (meson install --destdir D: D/usr/bin finds D/etc/...);
// confdir for a binary anywhere else.
std::string default_config_dir(const std::string &executable, const InstallLayout &layout);

// The configuration without -c: dir/flowsentry.yaml when it exists. Else
// the built-in defaults plus the shipped signature pack
// (dir/signatures/telnet.yaml) if it is there, and `notice` says so in one
// line: which defaults, which packs.
Config load_default_config(const std::string &dir, std::string &notice);

}  // namespace flowsentry
