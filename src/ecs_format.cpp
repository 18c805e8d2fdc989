// ECS NDJSON formatting (control thread only). The documents, their fields
// and the order of keys are the contract in docs/detections.md; keys are
// written in a fixed order so that replaying a capture gives identical bytes.
#include "flowsentry/ecs_format.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <rapidjson/encodings.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/writer.h>

#include "flowsentry/community_id.hpp"
#include "flowsentry/login_tracker.hpp"
#include "flowsentry/rules.hpp"
#include "flowsentry/tcp_handshake.hpp"

namespace flowsentry {

namespace {

// RapidJSON output straight onto the caller's string: no buffer per
// document. The string grows ahead of the writer (RapidJSON reserves room
// before each value, as for its own StringBuffer); finish() trims it.
class AppendStream {
public:
    using Ch = char;
    explicit AppendStream(std::string &out) : out_(out), len_(out.size()) {}
    void reserve(size_t n)
    {
        if (len_ + n > out_.size())
            out_.resize(len_ + n + 1024);  // the capacity grows geometrically, the zeroed tail stays short
    }
    void put_unchecked(char c) { out_[len_++] = c; }
    void put_quoted(const char *s, size_t len)
    {
        reserve(len + 2);
        out_[len_++] = '"';
        std::memcpy(&out_[len_], s, len);
        len_ += len;
        out_[len_++] = '"';
    }
    void Put(char c)
    {
        reserve(1);
        put_unchecked(c);
    }
    void Flush() {}
    void finish() { out_.resize(len_); }

private:
    std::string &out_;
    size_t len_;
};

// Found by RapidJSON's writer through argument-dependent lookup.
void PutReserve(AppendStream &s, size_t n) { s.reserve(n); }
void PutUnsafe(AppendStream &s, char c) { s.put_unchecked(c); }

// RapidJSON's writer, plus strings that need no escaping (nearly all) copied
// whole instead of byte by byte through its escape table. Every string is
// valid UTF-8 before it reaches the writer (put_string repairs attacker
// bytes; keys are our own literals), so the writer does not validate it a
// second time.
class JsonWriter : public rapidjson::Writer<AppendStream> {
public:
    using Writer::Writer;
    void plain_string(const char *s, size_t len)
    {
        Prefix(rapidjson::kStringType);
        os_->put_quoted(s, len);
        EndValue(true);
    }
};

// False when every byte of `s` is ASCII from 0x20 on other than '"' and
// '\\': then JSON needs it as it is. Eight bytes at a time.
bool needs_escaping(const char *s, size_t len)
{
    constexpr uint64_t kOnes = 0x0101010101010101ull;
    constexpr uint64_t kHigh = 0x8080808080808080ull;
    // Non-zero when some byte of v is below n (n <= 0x80).
    const auto has_below = [](uint64_t v, uint64_t n) { return (v - n * kOnes) & ~v & kHigh; };
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        std::memcpy(&w, s + i, 8);
        if ((w & kHigh) | has_below(w, 0x20) | has_below(w ^ ('"' * kOnes), 1) | has_below(w ^ ('\\' * kOnes), 1))
            return true;
    }
    for (; i < len; ++i) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80 || c < 0x20 || c == '"' || c == '\\')
            return true;
    }
    return false;
}

constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoSctp = 132;

struct NullSink {
    void Put(char) {}
};

// Copy of `s` with every byte that is not part of a valid UTF-8 sequence
// replaced by U+FFFD, so attacker bytes cannot break the document.
std::string repair_utf8(const char *s, size_t len)
{
    std::string out;
    out.reserve(len + 8);
    size_t i = 0;
    while (i < len) {
        rapidjson::MemoryStream ms(s + i, len - i);
        NullSink sink;
        if (rapidjson::UTF8<>::Validate(ms, sink) && ms.Tell() > 0) {
            out.append(s + i, ms.Tell());
            i += ms.Tell();
        } else {
            out.append("\xEF\xBF\xBD");
            ++i;
        }
    }
    return out;
}

bool is_valid_utf8(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        rapidjson::MemoryStream ms(s + i, len - i);
        NullSink sink;
        if (!rapidjson::UTF8<>::Validate(ms, sink) || ms.Tell() == 0 || i + ms.Tell() > len)
            return false;
        i += ms.Tell();
    }
    return true;
}

void put_string(JsonWriter &w, const char *s, size_t len)
{
    if (!needs_escaping(s, len)) {
        w.plain_string(s, len);
    } else if (is_valid_utf8(s, len)) {
        w.String(s, static_cast<rapidjson::SizeType>(len));
    } else {
        const std::string fixed = repair_utf8(s, len);
        w.String(fixed.data(), static_cast<rapidjson::SizeType>(fixed.size()));
    }
}

void put_string(JsonWriter &w, const std::string &s)
{
    put_string(w, s.data(), s.size());
}

void put_string(JsonWriter &w, const char *s)
{
    put_string(w, s, std::char_traits<char>::length(s));
}

// Key names are our own literals: nothing in them to escape or repair.
void key(JsonWriter &w, const char *k)
{
    w.plain_string(k, std::char_traits<char>::length(k));
}

void field(JsonWriter &w, const char *k, const char *v)
{
    key(w, k);
    put_string(w, v);
}

void field(JsonWriter &w, const char *k, const std::string &v)
{
    key(w, k);
    put_string(w, v);
}

void field_u64(JsonWriter &w, const char *k, uint64_t v)
{
    key(w, k);
    w.Uint64(v);
}

// source / destination; the traffic counts only on end documents.
void endpoint(JsonWriter &w, const char *name, const std::string &ip, uint16_t port, bool with_counts,
              uint64_t bytes, uint64_t packets)
{
    key(w, name);
    w.StartObject();
    field(w, "ip", ip);
    field_u64(w, "port", port);
    if (with_counts) {
        field_u64(w, "bytes", bytes);
        field_u64(w, "packets", packets);
    }
    w.EndObject();
}

// flowsentry.tunnel: how the packet reached us. Written inside the open
// flowsentry object; nothing for a packet that came through no tunnel.
void tunnel_fields(JsonWriter &w, const EventRecord &rec)
{
    if (rec.tunnel_type == TunnelType::none)
        return;
    key(w, "tunnel");
    w.StartObject();
    field(w, "type", tunnel_type_name(rec.tunnel_type));
    if (rec.tunnel_tenant != TunnelType::none) {
        field_u64(w, "id", rec.tunnel_id);
        field(w, "id_type", tunnel_type_name(rec.tunnel_tenant));
    }
    if (rec.outer_ip_version != 0) {
        key(w, "source");
        w.StartObject();
        field(w, "ip", format_ip(rec.outer_ip_version, rec.outer_src));
        w.EndObject();
        key(w, "destination");
        w.StartObject();
        field(w, "ip", format_ip(rec.outer_ip_version, rec.outer_dst));
        w.EndObject();
    }
    if (rec.tunnel_type == TunnelType::erspan2 || rec.tunnel_type == TunnelType::erspan3) {
        key(w, "erspan");
        w.StartObject();
        field_u64(w, "session_id", rec.erspan_session);
        w.EndObject();
    }
    if (rec.outer_vlan != 0) {
        key(w, "vlan");
        w.StartObject();
        field(w, "id", std::to_string(rec.outer_vlan));  // a keyword, as vlan.id
        w.EndObject();
    }
    w.EndObject();
}

template <size_t N>
void string_array(JsonWriter &w, const char *k, const char *const (&items)[N])
{
    key(w, k);
    w.StartArray();
    for (const char *s : items)
        put_string(w, s);
    w.EndArray();
}

const char *transport_name(uint8_t proto, char *scratch, size_t size)
{
    switch (proto) {
    case kProtoTcp:
        return "tcp";
    case kProtoUdp:
        return "udp";
    case kProtoSctp:
        return "sctp";
    default:
        // ECS allows the IANA number when there is no name.
        std::snprintf(scratch, size, "%u", static_cast<unsigned>(proto));
        return scratch;
    }
}

// One MITRE list (tactics or techniques) as parallel id/name/reference arrays,
// the shape Elastic's own alerts use for threat.tactic and threat.technique.
void mitre_object(JsonWriter &w, const char *k, const MitreRef *refs, uint8_t count)
{
    key(w, k);
    w.StartObject();
    key(w, "id");
    w.StartArray();
    for (uint8_t i = 0; i < count; ++i)
        put_string(w, refs[i].id);
    w.EndArray();
    key(w, "name");
    w.StartArray();
    for (uint8_t i = 0; i < count; ++i)
        put_string(w, refs[i].name);
    w.EndArray();
    key(w, "reference");
    w.StartArray();
    for (uint8_t i = 0; i < count; ++i)
        put_string(w, refs[i].reference);
    w.EndArray();
    w.EndObject();
}

// `v` as exactly `width` decimal digits, zero-padded (v < 10^width).
char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; --i) {
        p[i] = static_cast<char>('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

}  // namespace

const char *end_reason_name(EndReason r)
{
    static const char *const names[] = {
#define FLOWSENTRY_NAME_ITEM(name) #name,
        FLOWSENTRY_END_REASONS(FLOWSENTRY_NAME_ITEM)
#undef FLOWSENTRY_NAME_ITEM
    };
    static_assert(sizeof names / sizeof names[0] == static_cast<size_t>(EndReason::count_),
                  "one name per end reason");
    const auto i = static_cast<size_t>(r);
    return i < static_cast<size_t>(EndReason::count_) ? names[i] : "unknown";
}

std::string format_timestamp(uint64_t ns_since_epoch)
{
    const time_t secs = static_cast<time_t>(ns_since_epoch / 1000000000u);
    // Truncate, not round: rounding could carry into the next second.
    const unsigned micros = static_cast<unsigned>((ns_since_epoch % 1000000000u) / 1000u);
    struct tm tm {};
    gmtime_r(&secs, &tm);
    // By hand, not snprintf: two or three of these per document.
    char buf[27];
    char *p = put_digits(buf, static_cast<unsigned>(tm.tm_year + 1900), 4);
    *p++ = '-';
    p = put_digits(p, static_cast<unsigned>(tm.tm_mon + 1), 2);
    *p++ = '-';
    p = put_digits(p, static_cast<unsigned>(tm.tm_mday), 2);
    *p++ = 'T';
    p = put_digits(p, static_cast<unsigned>(tm.tm_hour), 2);
    *p++ = ':';
    p = put_digits(p, static_cast<unsigned>(tm.tm_min), 2);
    *p++ = ':';
    p = put_digits(p, static_cast<unsigned>(tm.tm_sec), 2);
    *p++ = '.';
    p = put_digits(p, micros, 6);
    *p++ = 'Z';
    return std::string(buf, static_cast<size_t>(p - buf));
}

std::string format_ip(uint8_t ip_version, const uint8_t *addr)
{
    char buf[INET6_ADDRSTRLEN];
    const int af = ip_version == 6 ? AF_INET6 : AF_INET;
    // A record with another version is a bug upstream; an empty string is
    // easier to spot than a guessed address.
    if ((ip_version != 4 && ip_version != 6) || inet_ntop(af, addr, buf, sizeof buf) == nullptr)
        return {};
    return buf;
}

EcsFormatter::EcsFormatter(EcsContext ctx) : ctx_(std::move(ctx)) {}

const RuleInfo &EcsFormatter::rule_of(const EventRecord &alert) const
{
    if (alert.rule == RuleId::signature && ctx_.signature_rule) {
        if (const RuleInfo *sig = ctx_.signature_rule(alert.signature_id))
            return *sig;
    }
    return rule_info(alert.rule);
}

void EcsFormatter::format(const EventRecord &rec, std::string &out, const AlertDetails *details) const
{
    const bool is_alert = rec.type == EventType::alert;
    const bool is_end = rec.type == EventType::connection_end;
    const RuleInfo *rule = is_alert ? &rule_of(rec) : nullptr;
    const bool is_signature = is_alert && rec.rule == RuleId::signature;
    const bool is_login = is_alert && (rec.rule == RuleId::telnet_cleartext_credentials ||
                                       rec.rule == RuleId::telnet_brute_force);

    const std::string client_ip = format_ip(rec.ip_version, rec.client_addr);
    const std::string server_ip = format_ip(rec.ip_version, rec.server_addr);

    AppendStream stream(out);
    JsonWriter w(stream);
    w.StartObject();

    field(w, "@timestamp", format_timestamp(rec.time_ns));

    key(w, "ecs");
    w.StartObject();
    field(w, "version", kEcsVersion);
    w.EndObject();

    key(w, "observer");
    w.StartObject();
    field(w, "hostname", ctx_.observer_hostname);
    field(w, "product", "flowsentry");
    field(w, "vendor", "flowsentry");
    field(w, "version", ctx_.product_version);
    field(w, "type", "ids");
    key(w, "ingress");
    w.StartObject();
    key(w, "interface");
    w.StartObject();
    if (rec.port_id < ctx_.port_names.size())
        field(w, "name", ctx_.port_names[rec.port_id]);
    else
        field(w, "name", "port" + std::to_string(rec.port_id));
    w.EndObject();
    w.EndObject();
    w.EndObject();

    key(w, "event");
    w.StartObject();
    field(w, "module", "flowsentry");
    field(w, "dataset", is_alert ? "flowsentry.alert" : "flowsentry.connection");
    if (is_alert) {
        static const char *const category[] = {"network", "intrusion_detection"};
        static const char *const type[] = {"info", "allowed"};
        field(w, "kind", "alert");
        string_array(w, "category", category);
        string_array(w, "type", type);
        field(w, "action", rule->action);
        field_u64(w, "severity", rule->severity_number);
        field_u64(w, "risk_score", rule->risk_score);
        if (is_login)
            field(w, "outcome", login_outcome_name(static_cast<LoginOutcome>(rec.login_outcome)));
        field(w, "start", format_timestamp(rec.start_ns));
    } else if (is_end) {
        static const char *const category[] = {"network"};
        static const char *const type[] = {"connection", "end"};
        field(w, "kind", "event");
        string_array(w, "category", category);
        string_array(w, "type", type);
        field(w, "action", "connection-end");
        field(w, "start", format_timestamp(rec.start_ns));
        field(w, "end", format_timestamp(rec.time_ns));
        // A clock step backwards must not wrap into a huge duration.
        field_u64(w, "duration", rec.time_ns > rec.start_ns ? rec.time_ns - rec.start_ns : 0);
    } else {
        // No "end" here: Elastic's current rule skips event.type end.
        static const char *const category[] = {"network"};
        static const char *const type[] = {"connection", "start", "allowed"};
        field(w, "kind", "event");
        string_array(w, "category", category);
        string_array(w, "type", type);
        field(w, "action", "connection-accepted");
        field(w, "start", format_timestamp(rec.start_ns));
    }
    w.EndObject();

    endpoint(w, "source", client_ip, rec.client_port, is_end, rec.client_bytes, rec.client_packets);
    endpoint(w, "destination", server_ip, rec.server_port, is_end, rec.server_bytes, rec.server_packets);

    key(w, "network");
    w.StartObject();
    char proto_buf[4];
    field(w, "transport", transport_name(rec.l4_proto, proto_buf, sizeof proto_buf));
    field(w, "type", rec.ip_version == 6 ? "ipv6" : "ipv4");
    field(w, "community_id",
          community_id_v1(ctx_.community_id_seed, rec.ip_version, rec.client_addr,
                          rec.server_addr, rec.l4_proto, rec.client_port, rec.server_port));
    // The Telnet port list is a list of TCP ports.
    if (rec.telnet || (rec.l4_proto == kProtoTcp &&
        std::find(ctx_.telnet_ports.begin(), ctx_.telnet_ports.end(), rec.server_port) !=
            ctx_.telnet_ports.end()))
        field(w, "protocol", "telnet");
    if (ctx_.address_lists)
        field(w, "direction",
              network_direction(ctx_.address_lists->lists_of(rec.ip_version, rec.client_addr) & kHomeNetworkList,
                                ctx_.address_lists->lists_of(rec.ip_version, rec.server_addr) & kHomeNetworkList));
    if (is_end) {
        field_u64(w, "bytes", rec.client_bytes + rec.server_bytes);
        field_u64(w, "packets", static_cast<uint64_t>(rec.client_packets) + rec.server_packets);
    }
    // ECS keeps VLAN ids as keywords: strings, not numbers.
    if (rec.vlan_count >= 1) {
        key(w, "vlan");
        w.StartObject();
        field(w, "id", std::to_string(rec.vlan[0]));
        w.EndObject();
    }
    if (rec.vlan_count >= 2) {
        key(w, "inner");
        w.StartObject();
        key(w, "vlan");
        w.StartObject();
        field(w, "id", std::to_string(rec.vlan[1]));
        w.EndObject();
        w.EndObject();
    }
    w.EndObject();

    key(w, "related");
    w.StartObject();
    key(w, "ip");
    w.StartArray();
    put_string(w, client_ip);
    if (server_ip != client_ip)
        put_string(w, server_ip);
    w.EndArray();
    w.EndObject();

    // The login name only: the password is never in a record.
    if (is_alert && rec.user_name_len != 0) {
        key(w, "user");
        w.StartObject();
        key(w, "name");
        put_string(w, rec.user_name, std::min<size_t>(rec.user_name_len, sizeof rec.user_name));
        w.EndObject();
    }

    // One flowsentry object per document: alerts write theirs below.
    const bool tunnelled = rec.tunnel_type != TunnelType::none;
    if (is_end || (tunnelled && !is_alert)) {
        key(w, "flowsentry");
        w.StartObject();
        if (is_end) {
            char hist[16];
            const unsigned hlen = format_history(rec.history, hist);
            field(w, "conn_state",
                  conn_state_name(static_cast<TcpState>(rec.tcp_state), rec.history));
            key(w, "history");
            put_string(w, hist, std::min<size_t>(hlen, sizeof hist));
            field(w, "end_reason", end_reason_name(rec.end_reason));
        }
        tunnel_fields(w, rec);
        w.EndObject();
    }

    if (is_alert) {
        key(w, "rule");
        w.StartObject();
        field(w, "id", rule->uuid);
        field(w, "name", rule->name);
        field(w, "description", rule->description);
        field(w, "category", rule->category);
        field(w, "reference", rule->reference);
        field(w, "ruleset", "flowsentry");
        w.EndObject();

        key(w, "threat");
        w.StartObject();
        field(w, "framework", "MITRE ATT&CK");
        mitre_object(w, "tactic", rule->tactics, rule->tactic_count);
        mitre_object(w, "technique", rule->techniques, rule->technique_count);
        w.EndObject();

        // IPv6 in brackets so the port stays readable after the colons.
        const bool v6 = rec.ip_version == 6;
        std::string message = rule->name;
        message += ": ";
        message += v6 ? "[" + client_ip + "]" : client_ip;
        message += ':';
        message += std::to_string(rec.client_port);
        message += " -> ";
        message += v6 ? "[" + server_ip + "]" : server_ip;
        message += ':';
        message += std::to_string(rec.server_port);
        const bool has_details = details != nullptr && details->group != nullptr;
        if (has_details || is_signature || tunnelled) {
            key(w, "flowsentry");
            w.StartObject();
            tunnel_fields(w, rec);
            if (is_signature) {
                key(w, "signature");
                w.StartObject();
                field_u64(w, "id", rec.signature_id);
                field(w, "name", rule->name);
                w.EndObject();
                field(w, "direction", rec.direction == 0 ? "to_server" : "to_client");
                field_u64(w, "stream_offset", rec.stream_offset);
            }
            if (has_details) {
                key(w, details->group);
                w.StartObject();
                for (const auto &[name, value] : details->counts)
                    field_u64(w, name, value);
                w.EndObject();
            }
            w.EndObject();
        }
        field(w, "message", details != nullptr && !details->message.empty() ? details->message : message);
    }

    w.EndObject();
    stream.finish();
    out.push_back('\n');
}

}  // namespace flowsentry
