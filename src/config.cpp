// Configuration loading: YAML text -> Config, every value checked before use.
//
// Errors are one line, "file:line:column: key.path: what (got X)", so an
// operator can jump straight to the offending spot. Values are never coerced:
// a quoted "5", a float, a negative number or one too big for its field is an
// error rather than a surprise at run time.
#include "flowsentry/config.hpp"

#include "flowsentry/ip_reassembly.hpp"
#include "flowsentry/printable.hpp"
#include "flowsentry/signatures.hpp"
#include "flowsentry_version.h"

#include <rte_config.h>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <set>
#include <sstream>

namespace flowsentry {

std::string default_signature_cache_dir() { return FLOWSENTRY_CACHE_DIR; }

namespace {

constexpr uint64_t kMaxWorkers = RTE_MAX_LCORE - 1;  // one lcore stays the main lcore
constexpr uint64_t kMaxCache = RTE_MEMPOOL_CACHE_MAX_SIZE;
constexpr uint64_t kMaxTimeout = 86400;

// A value to check: the node, where to point at it, and its dotted key path.
struct Item {
    YAML::Node node;
    YAML::Mark mark;
    std::string path;
};

// Values quoted in messages are cut short: a message is one readable line.
constexpr size_t kQuoted = 60;

// How a value is shown in "(got X)".
std::string describe(const YAML::Node &node)
{
    switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
        return "nothing";
    case YAML::NodeType::Sequence:
        return node.size() == 0 ? "an empty list" : "a list";
    case YAML::NodeType::Map:
        return "a map";
    case YAML::NodeType::Scalar:
        break;
    }
    // Quoted scalars are strings: show the quotes so "5" isn't mistaken for 5.
    if (node.Tag() == "!")
        return "\"" + printable(node.Scalar(), kQuoted) + "\"";
    return printable(node.Scalar(), kQuoted);
}

class Parser {
public:
    explicit Parser(const std::string &source) : source_(source) {}

    [[noreturn]] void fail(const YAML::Mark &mark, const std::string &path,
                           const std::string &what) const
    {
        std::ostringstream msg;
        msg << source_ << ':';
        if (!mark.is_null())
            msg << (mark.line + 1) << ':' << (mark.column + 1) << ':';
        msg << ' ';
        if (!path.empty())
            msg << path << ": ";
        msg << what;
        throw ConfigError(msg.str());
    }

    [[noreturn]] void fail(const Item &item, const std::string &what) const
    {
        fail(item.mark, item.path, what + " (got " + describe(item.node) + ")");
    }

    // Calls fn(key, item) for each entry of a map whose keys must be in
    // `valid`. A null value (a section with every line commented out) is an
    // empty map.
    template <typename Fn>
    void for_each_key(const Item &map, std::initializer_list<const char *> valid, Fn &&fn) const
    {
        if (map.node.IsNull())
            return;
        if (!map.node.IsMap())
            fail(map, "expected a map of settings");
        std::set<std::string> seen;
        for (auto it = map.node.begin(); it != map.node.end(); ++it) {
            YAML::Node key = it->first;  // copies: it-> yields a temporary
            YAML::Node value = it->second;
            std::string name = key.IsScalar() ? key.Scalar() : describe(key);
            std::string shown = key.IsScalar() ? printable(name, kQuoted) : name;
            std::string path = map.path.empty() ? shown : map.path + "." + shown;
            bool known = false;
            for (const char *v : valid)
                known = known || (key.IsScalar() && name == v);
            if (!known) {
                std::string list;
                for (const char *v : valid)
                    list += (list.empty() ? "" : ", ") + std::string(v);
                fail(key.Mark(), path, "unknown key (valid keys: " + list + ")");
            }
            // yaml-cpp keeps both copies of a repeated key; the later one would
            // silently lose, so refuse it.
            if (!seen.insert(name).second)
                fail(key.Mark(), path, "duplicate key");
            // An empty value's mark is where the next token starts (often the
            // next line); the key is the better place to point at.
            YAML::Mark mark = value.IsNull() || value.Mark().is_null() ? key.Mark() : value.Mark();
            fn(name, Item{value, mark, path});
        }
    }

    // Calls fn(index, item) for each element of a list.
    template <typename Fn>
    void for_each_element(const Item &list, Fn &&fn) const
    {
        if (!list.node.IsSequence())
            fail(list, "expected a list");
        size_t i = 0;
        for (const YAML::Node &element : list.node) {
            YAML::Mark mark = element.Mark().is_null() ? list.mark : element.Mark();
            fn(i, Item{element, mark, list.path + "[" + std::to_string(i) + "]"});
            ++i;
        }
    }

    uint64_t integer(const Item &item, uint64_t lo, uint64_t hi) const
    {
        const YAML::Node &n = item.node;
        if (!n.IsScalar())
            fail(item, "expected an integer");
        if (n.Tag() != "?" && n.Tag() != "tag:yaml.org,2002:int")
            fail(item, n.Tag() == "!" ? "expected an integer, not a quoted string"
                                      : "expected an integer");
        const std::string &s = n.Scalar();
        size_t i = 0;
        bool negative = false;
        if (i < s.size() && (s[i] == '+' || s[i] == '-'))
            negative = s[i++] == '-';
        unsigned base = 10;
        if (s.compare(i, 2, "0x") == 0 || s.compare(i, 2, "0o") == 0) {
            base = s[i + 1] == 'x' ? 16 : 8;
            i += 2;
        }
        if (i >= s.size())
            fail(item, "expected an integer");
        uint64_t value = 0;
        bool overflow = false;
        for (; i < s.size(); ++i) {
            char c = s[i];
            unsigned d;
            if (c >= '0' && c <= '9')
                d = static_cast<unsigned>(c - '0');
            else if (base == 16 && c >= 'a' && c <= 'f')
                d = static_cast<unsigned>(c - 'a' + 10);
            else if (base == 16 && c >= 'A' && c <= 'F')
                d = static_cast<unsigned>(c - 'A' + 10);
            else
                d = 99;
            if (d >= base) {
                if (looks_fractional(s))
                    fail(item, "expected an integer, not a fraction");
                fail(item, "expected an integer");
            }
            if (value > (UINT64_MAX - d) / base)
                overflow = true;
            else
                value = value * base + d;
        }
        if (negative && (value != 0 || overflow))
            fail(item, "must not be negative");
        if (overflow || value < lo || value > hi)
            fail(item, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
        return value;
    }

    bool boolean(const Item &item) const
    {
        const YAML::Node &n = item.node;
        if (!n.IsScalar() || n.Tag() == "!")
            fail(item, "expected true or false");
        const std::string &s = n.Scalar();
        if (s == "true" || s == "True" || s == "TRUE")
            return true;
        if (s == "false" || s == "False" || s == "FALSE")
            return false;
        fail(item, "expected true or false");
    }

    std::string string(const Item &item) const
    {
        if (!item.node.IsScalar())
            fail(item, "expected a string");
        return item.node.Scalar();
    }

private:
    static bool looks_fractional(const std::string &s)
    {
        if (s == ".inf" || s == "-.inf" || s == "+.inf" || s == ".nan" || s == ".NaN" ||
            s == ".Inf" || s == "-.Inf" || s == ".INF" || s == "-.INF" || s == ".NAN")
            return true;
        const char *begin = s.c_str();
        char *end = nullptr;
        errno = 0;
        std::strtod(begin, &end);
        return end != begin && *end == '\0';
    }

    std::string source_;
};

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

void parse_port(const Parser &p, const Item &item, PortConfig &port)
{
    if (!item.node.IsMap())
        p.fail(item, "expected a map with at least 'device'");
    bool have_device = false;
    p.for_each_key(item, {"device", "name", "rx_descriptors"}, [&](const std::string &k, const Item &v) {
        if (k == "device") {
            port.device = p.string(v);
            if (port.device.empty())
                p.fail(v, "must not be empty");
            have_device = true;
        } else if (k == "name") {
            port.name = p.string(v);
            if (port.name.empty())
                p.fail(v, "must not be empty");
        } else {
            port.rx_descriptors = static_cast<uint16_t>(p.integer(v, 64, 32768));
        }
    });
    if (!have_device)
        p.fail(item.mark, item.path, "missing required key 'device' (a PCI address or vdev name)");
    if (port.name.empty())
        port.name = port.device;
}

std::vector<Cidr> parse_cidr_list(const Parser &p, const Item &item)
{
    std::vector<Cidr> out;
    if (item.node.IsNull())
        return out;
    p.for_each_element(item, [&](size_t, const Item &e) {
        Cidr c;
        std::string error;
        if (!parse_cidr(p.string(e), c, error))
            p.fail(e, "bad CIDR: " + error);
        out.push_back(c);
    });
    return out;
}

// One of `track`, `alerts`, `interval` of detections.throttle or of one of
// its rules.
void parse_throttle_setting(const Parser &p, const std::string &k, const Item &v, ThrottleLimit &limit)
{
    if (k == "track") {
        // YAML 1.1 tools (PyYAML among them) write a bare `off` back as
        // `false`: the same setting.
        const std::string t = p.string(v) == "false" ? "off" : p.string(v);
        for (ThrottleTrack track : {ThrottleTrack::off, ThrottleTrack::by_src, ThrottleTrack::by_dst,
                                    ThrottleTrack::by_both, ThrottleTrack::by_rule})
            if (t == throttle_track_name(track)) {
                limit.track = track;
                return;
            }
        p.fail(v, "must be off, by_src, by_dst, by_both or by_rule");
    } else if (k == "alerts") {
        limit.alerts = static_cast<uint32_t>(p.integer(v, 1, UINT32_MAX));
    } else {
        limit.interval_s = static_cast<uint32_t>(p.integer(v, 1, 86400));
    }
}

// The rule a key of detections.throttle.rules names: its event.action, or
// `signatures` for every payload signature.
RuleId throttle_rule(const std::string &name)
{
    if (name == "signatures")
        return RuleId::signature;
    for (size_t i = 0; i < kRuleIdCount; ++i) {
        const RuleId id = static_cast<RuleId>(i);
        if (id != RuleId::none && id != RuleId::signature && name == rule_info(id).action)
            return id;
    }
    return RuleId::none;
}

// The values outside `rules` apply to every rule; a rule listed in `rules`
// starts from them and changes what it names. The built-in `off` of the
// accepted-connection and credential alerts stays unless they are listed.
void parse_throttle(const Parser &p, const Item &item, ThrottleConfig &t)
{
    ThrottleLimit global;
    Item rules;
    p.for_each_key(item, {"track", "alerts", "interval", "max_keys", "rules"}, [&](const std::string &k, const Item &v) {
        if (k == "max_keys")
            t.max_keys = static_cast<uint32_t>(p.integer(v, 1, 16777216));
        else if (k == "rules")
            rules = v;
        else
            parse_throttle_setting(p, k, v, global);
    });
    const std::array<ThrottleLimit, kRuleIdCount> builtin = default_throttle_limits();
    for (size_t i = 0; i < kRuleIdCount; ++i) {
        const ThrottleTrack track = builtin[i].track == ThrottleTrack::off ? ThrottleTrack::off : global.track;
        t.limits[i] = global;
        t.limits[i].track = track;
    }
    p.for_each_key(rules,
                   {"telnet-connection-accepted", "mirai-scan-syn", "telnet-external-connection", "telnet-scan",
                    "telnet-nonstandard-port", "telnet-cleartext-credentials", "telnet-brute-force", "signatures"},
                   [&](const std::string &name, const Item &rv) {
        ThrottleLimit &limit = t.limits[static_cast<size_t>(throttle_rule(name))];
        limit = global;
        p.for_each_key(rv, {"track", "alerts", "interval"}, [&](const std::string &k, const Item &v) {
            parse_throttle_setting(p, k, v, limit);
        });
    });
}

void parse_detections(const Parser &p, const Item &item, DetectionConfig &d)
{
    p.for_each_key(item, {"external_telnet", "scan", "throttle"}, [&](const std::string &k, const Item &v) {
        if (k == "external_telnet") {
            p.for_each_key(v, {"ranges"}, [&](const std::string &, const Item &rv) {
                const std::string r = p.string(rv);
                if (r == "elastic")
                    d.external_ranges = ExternalRanges::elastic;
                else if (r == "iana")
                    d.external_ranges = ExternalRanges::iana;
                else
                    p.fail(rv, "must be elastic or iana");
            });
        } else if (k == "scan") {
            p.for_each_key(v, {"window", "destinations", "max_sources"}, [&](const std::string &sk, const Item &sv) {
                if (sk == "window")
                    d.scan_window_s = static_cast<uint32_t>(p.integer(sv, 1, 86400));
                else if (sk == "destinations")
                    d.scan_destinations = static_cast<uint32_t>(p.integer(sv, 2, 65536));
                else
                    d.scan_max_sources = static_cast<uint32_t>(p.integer(sv, 1, 16777216));
            });
        } else {
            parse_throttle(p, v, d.throttle);
        }
    });
}

void parse_defrag(const Parser &p, const Item &item, DefragConfig &d)
{
    Item bytes_item;
    p.for_each_key(item, {"enabled", "max_datagrams", "max_bytes", "max_datagram_size",
                          "max_fragments_per_datagram", "timeout"},
                   [&](const std::string &k, const Item &v) {
        if (k == "enabled") {
            d.enabled = p.boolean(v);
        } else if (k == "max_datagrams") {
            d.max_datagrams = static_cast<uint32_t>(p.integer(v, 1, 16777216));
        } else if (k == "max_bytes") {
            d.max_bytes = p.integer(v, defrag_min_bytes(8), uint64_t{1} << 34);
            bytes_item = v;
        } else if (k == "max_datagram_size") {
            d.max_datagram_size = static_cast<uint32_t>(p.integer(v, 8, kMaxIpDatagram));
        } else if (k == "max_fragments_per_datagram") {
            d.max_fragments_per_datagram = static_cast<uint32_t>(p.integer(v, 1, 65535));
        } else {
            d.timeout_s = static_cast<uint32_t>(p.integer(v, 1, kMaxTimeout));
        }
    });
    // A datagram of max_datagram_size must fit in max_bytes, or it could
    // never complete. The default max_bytes holds the largest: only a
    // configured one can be short.
    const uint64_t need = defrag_min_bytes(d.max_datagram_size);
    if (d.max_bytes < need)
        p.fail(bytes_item, "must be at least " + std::to_string(need) + " to hold one datagram of max_datagram_size " +
                               std::to_string(d.max_datagram_size) + " and its headers");
}

// A list of UDP/TCP ports, each 1..65535 and listed once.
std::vector<uint16_t> parse_port_list(const Parser &p, const Item &item)
{
    std::vector<uint16_t> ports;
    std::set<uint64_t> seen;
    p.for_each_element(item, [&](size_t, const Item &e) {
        uint64_t port = p.integer(e, 1, 65535);
        if (!seen.insert(port).second)
            p.fail(e, "port listed twice");
        ports.push_back(static_cast<uint16_t>(port));
    });
    return ports;
}

// VXLAN or Geneve ports: at most kMaxTunnelPorts; an empty list turns that
// tunnel off.
void parse_tunnel_ports(const Parser &p, const Item &item, uint16_t *ports, uint8_t &count)
{
    const std::vector<uint16_t> list = item.node.IsNull() ? std::vector<uint16_t>{} : parse_port_list(p, item);
    if (list.size() > kMaxTunnelPorts)
        p.fail(item, "must list at most " + std::to_string(kMaxTunnelPorts) + " ports");
    std::copy(list.begin(), list.end(), ports);
    count = static_cast<uint8_t>(list.size());
}

void parse_decode(const Parser &p, const Item &item, DecodeOptions &d)
{
    Item last_ports;  // the port list read last: where an overlap is reported
    p.for_each_key(item, {"max_depth", "vxlan_ports", "geneve_ports", "mpls_payload"},
                   [&](const std::string &k, const Item &v) {
        if (k == "max_depth") {
            d.max_depth = static_cast<uint8_t>(p.integer(v, 1, kMaxTunnelDepth));
        } else if (k == "vxlan_ports") {
            parse_tunnel_ports(p, v, d.vxlan_ports, d.vxlan_port_count);
            last_ports = v;
        } else if (k == "geneve_ports") {
            parse_tunnel_ports(p, v, d.geneve_ports, d.geneve_port_count);
            last_ports = v;
        } else {
            const std::string mode = p.string(v);
            if (mode == "auto")
                d.mpls_payload = MplsPayload::automatic;
            else if (mode == "ip")
                d.mpls_payload = MplsPayload::ip;
            else if (mode == "ethernet")
                d.mpls_payload = MplsPayload::ethernet;
            else
                p.fail(v, "must be auto, ip or ethernet");
        }
    });
    // The defaults do not overlap, so a list was given when they do.
    const uint16_t *geneve_begin = d.geneve_ports;
    const uint16_t *geneve_end = geneve_begin + d.geneve_port_count;
    for (uint8_t i = 0; i < d.vxlan_port_count; ++i)
        if (std::find(geneve_begin, geneve_end, d.vxlan_ports[i]) != geneve_end)
            p.fail(last_ports, "port " + std::to_string(d.vxlan_ports[i]) +
                                   " is in both decode.vxlan_ports and decode.geneve_ports");
}

uint8_t syslog_facility(const Parser &p, const Item &item)
{
    static const char *const names[] = {"kern",   "user",     "mail",    "daemon",       "auth",   "syslog",
                                        "lpr",    "news",     "uucp",    "cron",         "authpriv", "ftp",
                                        "ntp",    "security", "console", "solaris-cron", "local0", "local1",
                                        "local2", "local3",   "local4",  "local5",       "local6", "local7"};
    if (item.node.IsScalar() && item.node.Tag() != "!") {
        const std::string &s = item.node.Scalar();
        if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos)
            return static_cast<uint8_t>(p.integer(item, 0, 23));
    }
    const std::string name = p.string(item);
    for (uint8_t i = 0; i < sizeof names / sizeof names[0]; ++i)
        if (name == names[i])
            return i;
    p.fail(item, "expected a facility number 0..23 or a name (kern, user, daemon, auth, local0..local7, ...)");
}

// host:port or [v6]:port, the port 1..65535.
void check_host_port(const Parser &p, const Item &item, const std::string &address)
{
    const size_t colon = address.rfind(':');
    const std::string port = colon == std::string::npos ? "" : address.substr(colon + 1);
    const std::string host = colon == std::string::npos ? "" : address.substr(0, colon);
    const bool port_ok = !port.empty() && port.size() <= 5 &&
                         port.find_first_not_of("0123456789") == std::string::npos && std::stoul(port) >= 1 &&
                         std::stoul(port) <= 65535;
    const bool host_ok = !host.empty() && (host.find(':') == std::string::npos ||
                                           (host.front() == '[' && host.back() == ']'));
    if (!port_ok || !host_ok)
        p.fail(item, "expected host:port (an IPv6 address in brackets), port 1..65535");
}

void parse_sink(const Parser &p, const Item &item, SinkConfig &sink)
{
    if (!item.node.IsMap())
        p.fail(item, "expected a map with at least 'type'");
    bool have_type = false;
    // Assigning a YAML::Node rebinds nothing (it writes through), so these
    // start as fresh nodes and are only assigned once.
    Item path_item, address_item;
    bool have_path = false, have_address = false;
    p.for_each_key(item, {"type", "path", "rotate_bytes", "rotate_files", "transport", "address", "facility",
                          "app_name", "queue_bytes", "rate"},
                   [&](const std::string &k, const Item &v) {
        if (k == "type") {
            const std::string t = p.string(v);
            if (t == "file")
                sink.type = SinkType::file;
            else if (t == "stdout")
                sink.type = SinkType::stdout_stream;
            else if (t == "syslog")
                sink.type = SinkType::syslog;
            else
                p.fail(v, "must be file, stdout or syslog");
            have_type = true;
        } else if (k == "path") {
            sink.path = p.string(v);
            path_item = v;
            have_path = true;
        } else if (k == "rotate_bytes") {
            sink.rotate_bytes = p.integer(v, 0, UINT64_MAX);
        } else if (k == "rotate_files") {
            sink.rotate_files = static_cast<uint32_t>(p.integer(v, 1, 1000));
        } else if (k == "transport") {
            const std::string t = p.string(v);
            if (t == "udp")
                sink.transport = SyslogTransport::udp;
            else if (t == "tcp")
                sink.transport = SyslogTransport::tcp;
            else if (t == "unix")
                sink.transport = SyslogTransport::unix_datagram;
            else
                p.fail(v, "must be udp, tcp or unix");
        } else if (k == "address") {
            sink.address = p.string(v);
            address_item = v;
            have_address = true;
        } else if (k == "facility") {
            sink.facility = syslog_facility(p, v);
        } else if (k == "app_name") {
            sink.app_name = p.string(v);
            // RFC 5424 APP-NAME: 1..48 printable US-ASCII, no spaces.
            bool ok = !sink.app_name.empty() && sink.app_name.size() <= 48;
            for (char ch : sink.app_name)
                ok = ok && ch > 32 && ch < 127;
            if (!ok)
                p.fail(v, "must be 1..48 printable ASCII characters without spaces");
        } else if (k == "queue_bytes") {
            sink.queue_bytes = static_cast<uint32_t>(p.integer(v, 4096, UINT32_MAX));
        } else {
            sink.rate = static_cast<uint32_t>(p.integer(v, 100, 10000000));
        }
    });
    if (!have_type)
        p.fail(item.mark, item.path, "missing required key 'type' (file, stdout or syslog)");
    if (sink.type == SinkType::file && sink.path.empty())
        p.fail(have_path ? path_item : item, "a file sink needs a non-empty 'path'");
    if (sink.type == SinkType::syslog) {
        if (sink.address.empty())
            p.fail(have_address ? address_item : item, "a syslog sink needs an 'address'");
        if (sink.transport == SyslogTransport::unix_datagram) {
            if (sink.address.front() != '/' || sink.address.size() >= 108)
                p.fail(address_item, "expected an absolute socket path shorter than 108 bytes");
        } else {
            check_host_port(p, address_item, sink.address);
        }
    }
}

// telnet.signature_packs / signature_cache / inspection / brute_force.
void parse_inspection(const Parser &p, const std::string &key, const Item &item, const std::string &source,
                      InspectionConfig &in)
{
    // Relative to the configuration file, so a config and its packs move together.
    const size_t slash = source.rfind('/');
    const std::string dir = slash == std::string::npos ? "" : source.substr(0, slash + 1);
    if (key == "signature_cache") {
        const std::string path = p.string(item);
        if (path.empty())
            p.fail(item, "expected a directory, or off");
        in.signature_cache = path == "off" ? "" : path[0] == '/' ? path : dir + path;
    } else if (key == "signature_packs") {
        in.signature_packs.clear();
        if (item.node.IsNull())
            return;
        p.for_each_element(item, [&](size_t, const Item &e) {
            const std::string path = p.string(e);
            if (path.empty())
                p.fail(e, "must not be empty");
            const std::string resolved = path[0] == '/' ? path : dir + path;
            // Checked here, where the line that names the pack is known.
            const std::string problem = signature_pack_problem(resolved);
            if (!problem.empty())
                p.fail(e.mark, e.path, "signature pack " + printable(resolved) + ": " + problem);
            in.signature_packs.push_back(resolved);
        });
    } else if (key == "inspection") {
        p.for_each_key(item, {"flows_per_worker", "depth", "reassembly"}, [&](const std::string &k, const Item &v) {
            if (k == "flows_per_worker") {
                in.flows_per_worker = static_cast<uint32_t>(p.integer(v, 1, 16777216));
            } else if (k == "depth") {
                p.for_each_key(v, {"to_server", "to_client"}, [&](const std::string &dk, const Item &dv) {
                    const uint32_t d = static_cast<uint32_t>(p.integer(dv, 0, UINT32_MAX));
                    (dk == "to_server" ? in.depth_to_server : in.depth_to_client) = d;
                });
            } else {
                p.for_each_key(v, {"chunks_per_worker", "held_bytes_per_flow", "held_chunks_per_flow"},
                               [&](const std::string &rk, const Item &rv) {
                    if (rk == "chunks_per_worker")
                        in.chunks_per_worker = static_cast<uint32_t>(p.integer(rv, 1, 16777216));
                    else if (rk == "held_bytes_per_flow")
                        in.held_bytes_per_flow = static_cast<uint32_t>(p.integer(rv, 1, 16777216));
                    else
                        in.held_chunks_per_flow = static_cast<uint32_t>(p.integer(rv, 1, 65535));
                });
            }
        });
    } else {
        p.for_each_key(item, {"failures", "window"}, [&](const std::string &k, const Item &v) {
            if (k == "failures")
                in.brute_force_failures = static_cast<uint32_t>(p.integer(v, 1, 1000000));
            else
                in.brute_force_window_s = static_cast<uint32_t>(p.integer(v, 1, 86400));
        });
    }
}

Config parse_root(const Parser &p, const YAML::Node &root, const std::string &source)
{
    Config c;
    c.source = source;
    if (root.IsNull())
        return c;
    Item top{root, root.Mark(), ""};
    if (!root.IsMap())
        p.fail(top, "the top level must be a map of settings");

    // Cross-checks need to know where the values were.
    Item lcores_item, cache_item, mbufs_item, spreader_lcore_item, output_item;
    bool have_output = false;
    bool have_lcores = false, have_cache = false;

    p.for_each_key(top, {"workers", "worker_lcores", "burst_size", "ports", "mempool", "flow_table",
                         "telnet", "alert_ring", "output", "stats", "community_id", "observer",
                         "link_up_timeout", "scatter", "spreading", "telemetry", "home_networks",
                         "detections", "sinks", "defrag", "decode"},
                   [&](const std::string &k, const Item &v) {
        if (k == "workers") {
            c.workers = static_cast<uint32_t>(p.integer(v, 1, kMaxWorkers));
        } else if (k == "worker_lcores") {
            have_lcores = true;
            lcores_item = v;
            std::set<uint64_t> seen;
            p.for_each_element(v, [&](size_t, const Item &e) {
                uint64_t lcore = p.integer(e, 0, RTE_MAX_LCORE - 1);
                if (!seen.insert(lcore).second)
                    p.fail(e, "lcore listed twice");
                c.worker_lcores.push_back(static_cast<uint32_t>(lcore));
            });
        } else if (k == "burst_size") {
            c.burst_size = static_cast<uint32_t>(p.integer(v, 1, 512));
        } else if (k == "ports") {
            if (v.node.IsNull())
                return;  // all ports
            std::set<std::string> devices;
            p.for_each_element(v, [&](size_t, const Item &e) {
                PortConfig port;
                parse_port(p, e, port);
                // Two entries for one device would make two workers poll one queue.
                if (!devices.insert(port.device).second)
                    p.fail(e.mark, e.path + ".device", "device listed twice (got " + port.device + ")");
                c.ports.push_back(port);
            });
        } else if (k == "mempool") {
            p.for_each_key(v, {"mbufs", "cache"}, [&](const std::string &mk, const Item &mv) {
                if (mk == "mbufs") {
                    c.mempool_mbufs = static_cast<uint32_t>(p.integer(mv, 0, UINT32_MAX));
                    mbufs_item = mv;
                } else {
                    c.mempool_cache = static_cast<uint32_t>(p.integer(mv, 0, kMaxCache));
                    cache_item = mv;
                    have_cache = true;
                }
            });
        } else if (k == "flow_table") {
            p.for_each_key(v, {"capacity", "expiry_batch", "timeouts"}, [&](const std::string &fk, const Item &fv) {
                if (fk == "capacity") {
                    c.flow_table.capacity = static_cast<uint32_t>(p.integer(fv, 8, 67108864));
                } else if (fk == "expiry_batch") {
                    c.flow_table.expiry_batch = static_cast<uint32_t>(p.integer(fv, 1, 65536));
                } else {
                    p.for_each_key(fv, {"attempt", "established", "closing"},
                                   [&](const std::string &tk, const Item &tv) {
                        uint32_t s = static_cast<uint32_t>(p.integer(tv, 1, kMaxTimeout));
                        if (tk == "attempt")
                            c.flow_table.attempt_timeout_s = s;
                        else if (tk == "established")
                            c.flow_table.established_timeout_s = s;
                        else
                            c.flow_table.closing_timeout_s = s;
                    });
                }
            });
        } else if (k == "telnet") {
            p.for_each_key(v, {"ports", "signature_packs", "signature_cache", "inspection", "brute_force"},
                           [&](const std::string &tk, const Item &tv) {
                if (tk != "ports")
                    return parse_inspection(p, tk, tv, source, c.inspection);
                const std::vector<uint16_t> ports = parse_port_list(p, tv);
                if (ports.empty())
                    p.fail(tv, "must list at least one port");
                c.telnet_ports = ports;
            });
        } else if (k == "alert_ring") {
            p.for_each_key(v, {"size"}, [&](const std::string &, const Item &av) {
                uint64_t size = p.integer(av, 64, 16777216);
                if (!is_power_of_two(size))
                    p.fail(av, "must be a power of two between 64 and 16777216");
                c.alert_ring_size = static_cast<uint32_t>(size);
            });
        } else if (k == "home_networks") {
            c.detections.home_networks = parse_cidr_list(p, v);
        } else if (k == "detections") {
            parse_detections(p, v, c.detections);
        } else if (k == "defrag") {
            parse_defrag(p, v, c.defrag);
        } else if (k == "decode") {
            parse_decode(p, v, c.decode);
        } else if (k == "sinks") {
            if (!v.node.IsNull())
                p.for_each_element(v, [&](size_t, const Item &e) {
                    c.sinks.emplace_back();
                    parse_sink(p, e, c.sinks.back());
                });
        } else if (k == "output") {
            p.for_each_key(v, {"path"}, [&](const std::string &, const Item &ov) {
                output_item = ov;
                have_output = true;
                c.output = p.string(ov);
                if (c.output.empty())
                    p.fail(ov, "must not be empty (use \"-\" for stdout)");
            });
        } else if (k == "stats") {
            p.for_each_key(v, {"interval"}, [&](const std::string &, const Item &sv) {
                c.stats_interval_s = static_cast<uint32_t>(p.integer(sv, 0, 86400));
            });
        } else if (k == "community_id") {
            p.for_each_key(v, {"seed"}, [&](const std::string &, const Item &sv) {
                c.community_id_seed = static_cast<uint16_t>(p.integer(sv, 0, 65535));
            });
        } else if (k == "link_up_timeout") {
            c.link_up_timeout_s = static_cast<uint32_t>(p.integer(v, 0, 600));
        } else if (k == "scatter") {
            c.scatter = p.boolean(v);
        } else if (k == "telemetry") {
            c.telemetry = p.boolean(v);
        } else if (k == "spreading") {
            p.for_each_key(v, {"mode", "lcore", "ring_size"}, [&](const std::string &sk, const Item &sv) {
                if (sk == "mode") {
                    const std::string mode = p.string(sv);
                    if (mode == "auto")
                        c.spreading.mode = SpreadingMode::automatic;
                    else if (mode == "software")
                        c.spreading.mode = SpreadingMode::software;
                    else if (mode == "off")
                        c.spreading.mode = SpreadingMode::off;
                    else
                        p.fail(sv, "must be auto, software or off");
                } else if (sk == "lcore") {
                    spreader_lcore_item = sv;
                    c.spreading.lcore = static_cast<int32_t>(p.integer(sv, 0, RTE_MAX_LCORE - 1));
                } else {
                    const uint64_t size = p.integer(sv, 64, 1048576);
                    if (!is_power_of_two(size))
                        p.fail(sv, "must be a power of two between 64 and 1048576");
                    c.spreading.ring_size = static_cast<uint32_t>(size);
                }
            });
        } else {
            p.for_each_key(v, {"hostname"}, [&](const std::string &, const Item &hv) {
                c.observer_hostname = p.string(hv);
            });
        }
    });

    if (c.spreading.lcore >= 0 &&
        std::find(c.worker_lcores.begin(), c.worker_lcores.end(), uint32_t(c.spreading.lcore)) !=
            c.worker_lcores.end())
        p.fail(spreader_lcore_item, "must not be one of worker_lcores");

    // Two places saying where events go would leave one silently unused.
    if (!c.sinks.empty() && have_output)
        p.fail(output_item, "output.path and a non-empty sinks list exclude each other: "
                            "list the file in sinks instead");
    // An empty list is the default (the EAL's lcores), like leaving it out.
    if (have_lcores && !c.worker_lcores.empty() && c.worker_lcores.size() != c.workers) {
        p.fail(lcores_item.mark, lcores_item.path,
               "must list one lcore per worker, workers is " + std::to_string(c.workers) +
                   " (got " + std::to_string(c.worker_lcores.size()) + ")");
    }
    // rte_mempool_create refuses a per-core cache whose flush threshold
    // (1.5 x cache) exceeds the pool; better to say so here than at start.
    if (c.mempool_mbufs != 0 && uint64_t(c.mempool_cache) * 3 / 2 > c.mempool_mbufs) {
        uint64_t min_mbufs = uint64_t(c.mempool_cache) * 3 / 2;
        if (have_cache) {
            uint64_t max_cache = (uint64_t(c.mempool_mbufs) * 2 + 1) / 3;
            p.fail(cache_item, "must be at most " + std::to_string(max_cache) +
                                   " for mempool.mbufs " + std::to_string(c.mempool_mbufs));
        }
        p.fail(mbufs_item, "must be 0 (automatic) or at least " + std::to_string(min_mbufs) +
                               " for mempool.cache " + std::to_string(c.mempool_cache));
    }
    return c;
}

}  // namespace

const char *throttle_track_name(ThrottleTrack t)
{
    switch (t) {
    case ThrottleTrack::off:
        return "off";
    case ThrottleTrack::by_src:
        return "by_src";
    case ThrottleTrack::by_dst:
        return "by_dst";
    case ThrottleTrack::by_both:
        return "by_both";
    case ThrottleTrack::by_rule:
        break;
    }
    return "by_rule";
}

std::vector<SinkConfig> effective_sinks(const Config &config, const std::string &output_override)
{
    std::vector<SinkConfig> sinks;
    for (const SinkConfig &s : config.sinks)
        if (output_override.empty() || s.type == SinkType::syslog)
            sinks.push_back(s);
    const std::string &path = output_override.empty() ? config.output : output_override;
    if (config.sinks.empty() || !output_override.empty()) {
        SinkConfig s;
        s.type = path == "-" ? SinkType::stdout_stream : SinkType::file;
        s.path = path;
        sinks.insert(sinks.begin(), s);
    }
    return sinks;
}

uint32_t mempool_size(const Config &config, uint32_t port_count, uint64_t in_flight)
{
    if (config.mempool_mbufs != 0)
        return config.mempool_mbufs;
    uint64_t descriptors = 0;
    for (const PortConfig &port : config.ports)
        descriptors = std::max<uint64_t>(descriptors, port.rx_descriptors);
    if (config.ports.empty())
        descriptors = 1024;
    // Each worker has one queue on every port: a full ring plus a burst in
    // flight; each worker's cache can hold up to 1.5x its size.
    uint64_t n = uint64_t(port_count) * config.workers * (descriptors + config.burst_size) +
                 uint64_t(config.workers) * (uint64_t(config.mempool_cache) * 3 / 2) + in_flight + 1024;
    uint64_t size = 1;
    while (size - 1 < n && size < (uint64_t(1) << 32))
        size <<= 1;
    return static_cast<uint32_t>(std::min<uint64_t>(size - 1, UINT32_MAX));
}

// Where each YAML document's content starts, found without YAML::LoadAll:
// on some malformed input (a stray ',' first) yaml-cpp 0.7 hands out empty
// documents forever without consuming anything, and LoadAll allocates
// until memory runs out (yaml-cpp issue 1040, fixed upstream after 0.8).
class DocumentFinder : public YAML::EventHandler {
public:
    std::vector<YAML::Mark> contents;  // first node of each document
    bool stuck = false;                // a document began where the last did
    const YAML::Mark &last_start() const { return starts_.back(); }

    void OnDocumentStart(const YAML::Mark &mark) override
    {
        stuck = !starts_.empty() && mark.pos == starts_.back().pos;
        starts_.push_back(mark);
        in_content_ = false;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark &mark, YAML::anchor_t) override { node(mark); }
    void OnAlias(const YAML::Mark &mark, YAML::anchor_t) override { node(mark); }
    void OnScalar(const YAML::Mark &mark, const std::string &, YAML::anchor_t, const std::string &) override
    {
        node(mark);
    }
    void OnSequenceStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t,
                         YAML::EmitterStyle::value) override
    {
        node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark &mark, const std::string &, YAML::anchor_t, YAML::EmitterStyle::value) override
    {
        node(mark);
    }
    void OnMapEnd() override {}

private:
    void node(const YAML::Mark &mark)
    {
        if (!in_content_)
            contents.push_back(mark);
        in_content_ = true;
    }
    std::vector<YAML::Mark> starts_;
    bool in_content_ = false;
};

Config parse_config(const std::string &yaml_text, const std::string &source_name)
{
    Parser p(source_name);
    std::vector<YAML::Node> docs;
    try {
        std::istringstream in(yaml_text);
        YAML::Parser parser(in);
        DocumentFinder finder;
        while (parser.HandleNextDocument(finder) && !finder.stuck) {
        }
        if (finder.stuck)
            p.fail(finder.last_start(), "", "YAML syntax error: no document can start here");
        if (finder.contents.size() > 1)
            p.fail(finder.contents[1], "",
                   "expected one YAML document (got " + std::to_string(finder.contents.size()) + ")");
        if (!finder.contents.empty())
            docs.push_back(YAML::Load(yaml_text));
    } catch (const YAML::ParserException &e) {
        p.fail(e.mark, "", "YAML syntax error: " + printable(e.msg, kQuoted));  // may quote an input byte
    } catch (const YAML::Exception &e) {
        p.fail(e.mark, "", "YAML error: " + printable(e.msg, kQuoted));
    }
    if (docs.empty())
        return parse_root(p, YAML::Node(), source_name);
    return parse_root(p, docs[0], source_name);
}

Config load_config(const std::string &path)
{
    FILE *f = std::fopen(path.c_str(), "rb");
    if (f == nullptr)
        throw ConfigError(path + ": cannot open: " + std::strerror(errno));
    std::string text;
    char buf[8192];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        text.append(buf, n);
    // A directory opens fine and fails on the first read (EISDIR).
    int err = std::ferror(f) ? errno : 0;
    std::fclose(f);
    if (err != 0)
        throw ConfigError(path + ": cannot read: " + std::strerror(err));
    return parse_config(text, path);
}

std::string default_config_dir(const std::string &executable, const InstallLayout &layout)
{
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(executable).parent_path().lexically_normal();
    if (!layout.build_root.empty() && dir == fs::path(layout.build_root).lexically_normal())
        return layout.source_confdir;
    // dir is D + bindir: the same D in front of confdir.
    const std::string bindir = fs::path(layout.bindir).lexically_normal().string();
    const std::string d = dir.string();
    if (d.size() > bindir.size() && d.compare(d.size() - bindir.size(), bindir.size(), bindir) == 0 &&
        bindir.front() == '/')
        return d.substr(0, d.size() - bindir.size()) + layout.confdir;
    return layout.confdir;
}

Config load_default_config(const std::string &dir, std::string &notice)
{
    namespace fs = std::filesystem;
    const std::string file = dir + "/flowsentry.yaml";
    std::error_code ec;
    if (fs::exists(file, ec))
        return load_config(file);
    Config c = parse_config("", "<built-in defaults>");
    // The pack conf/flowsentry.yaml names, where the install puts it.
    const std::string pack = dir + "/signatures/telnet.yaml";
    notice = "no configuration file " + file + " (give one with -c): built-in defaults";
    if (fs::is_regular_file(pack, ec)) {
        c.inspection.signature_packs = {pack};
        notice += ", signature pack " + pack;
    } else {
        notice += ", no signature pack (no " + pack + "): payload inspection off";
    }
    return c;
}

}  // namespace flowsentry
