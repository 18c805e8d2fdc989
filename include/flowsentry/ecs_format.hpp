// ECS formatting: one event record becomes one NDJSON line.
//
// Runs on the control thread only. The output contract (field names, which
// documents exist and when) is in docs/detections.md.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "flowsentry/address_set.hpp"
#include "flowsentry/event_record.hpp"
#include "flowsentry/rules.hpp"

namespace flowsentry {

constexpr const char *kEcsVersion = "8.11.0";

// What the formatter needs besides the record; fixed after start-up.
struct EcsContext {
    std::string observer_hostname;
    std::string product_version;
    std::vector<std::string> port_names;  // observer.ingress.interface.name by port id
    std::vector<uint16_t> telnet_ports;   // network.protocol: telnet when the server port is one
    uint16_t community_id_seed = 0;
    // network.direction from whether client and server are in
    // kHomeNetworkList; not written when null.
    std::shared_ptr<const AddressSet> address_lists;
    // rule.* of a payload signature by its id (the loaded packs); unset or
    // nullptr: the generic entry.
    std::function<const RuleInfo *(uint32_t signature_id)> signature_rule;
};

// What a control-thread detection adds to its alert document.
struct AlertDetails {
    const char *group = nullptr;                             // flowsentry.<group>.<name>: value
    std::vector<std::pair<const char *, uint64_t>> counts;
    std::string message;                                     // replaces the default message if set
};

class EcsFormatter {
public:
    explicit EcsFormatter(EcsContext ctx);

    // rule.* of an alert: the loaded pack's entry for a payload signature.
    const RuleInfo &rule_of(const EventRecord &alert) const;

    // Appends one JSON document and a '\n' to `out`.
    void format(const EventRecord &rec, std::string &out, const AlertDetails *details = nullptr) const;

private:
    EcsContext ctx_;
};

// RFC 3339 UTC with microseconds: 2026-11-22T06:01:58.123456Z.
std::string format_timestamp(uint64_t ns_since_epoch);

// Dotted or colon text form of an address held as in EventRecord.
std::string format_ip(uint8_t ip_version, const uint8_t *addr);

}  // namespace flowsentry
