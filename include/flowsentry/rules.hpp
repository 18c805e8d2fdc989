// Rule metadata: what each detection means, in the terms Elastic users know
// (rule.*, event.severity, event.risk_score, threat.* in the ECS alert).
#pragma once

#include <cstddef>
#include <cstdint>

#include "flowsentry/event_record.hpp"

namespace flowsentry {

struct MitreRef {
    const char *id;
    const char *name;
    const char *reference;
};

struct RuleInfo {
    RuleId id;
    const char *uuid;         // rule.id (the Elastic rule_id where one exists)
    const char *name;         // rule.name
    const char *description;  // rule.description
    const char *category;     // rule.category
    const char *reference;    // rule.reference
    const char *action;       // event.action of the alert
    const char *severity;     // low / medium / high / critical
    uint8_t severity_number;  // event.severity: 1 low .. 4 critical
    uint8_t risk_score;       // event.risk_score, 0..100
    const MitreRef *tactics;
    uint8_t tactic_count;
    const MitreRef *techniques;
    uint8_t technique_count;
};

// RuleId values, none included: the size of tables indexed by RuleId.
constexpr size_t kRuleIdCount = static_cast<size_t>(RuleId::telnet_brute_force) + 1;

// Metadata of a rule; every RuleId but none has an entry.
const RuleInfo &rule_info(RuleId id);

}  // namespace flowsentry
