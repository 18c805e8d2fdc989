// Signature packs: the shipped pack, every field, and bad entries refused
// with their id and the cause (Hyperscan's own message for a bad pattern).
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "flowsentry/signatures.hpp"

using namespace flowsentry;
using ::testing::HasSubstr;

namespace {

std::string shipped_pack()
{
    const char *root = std::getenv("FLOWSENTRY_SOURCE_ROOT");
    return std::string(root ? root : "..") + "/conf/signatures/telnet.yaml";
}

std::string error_of(const std::string &yaml)
{
    try {
        CompiledSignatures compiled(parse_signature_pack(yaml, "pack.yaml"));
    } catch (const SignatureError &e) {
        return e.what();
    }
    return "(no error)";
}

const char *kGood = R"(pack: test
signatures:
  - id: 7
    name: Seven
    pattern: 'seven'
    flags: [caseless, dotall]
    direction: to_client
    scope: tcp
    stream: raw
    severity: critical
    risk_score: 90
    tactic: [{id: TA0001, name: Initial Access}, {id: TA0002, name: Execution}]
    technique: {id: T1059.004, name: Unix Shell}
    references: [https://example.org/7, https://example.org/other]
    threshold: {count: 3, seconds: 60}
  - id: 8
    name: Eight
    pattern: 'eight'
)";

}  // namespace

TEST(Signatures, ShippedPackLoadsAndCompiles)
{
    const auto sigs = load_signature_packs({shipped_pack()});
    EXPECT_GE(sigs.size(), 25u);
    CompiledSignatures compiled(sigs);
    EXPECT_NE(compiled.database(SignatureStream::data), nullptr);
    EXPECT_NE(compiled.database(SignatureStream::raw), nullptr);
    EXPECT_FALSE(compiled.any_tcp_scope());  // HTTP with Telnet strings must stay quiet
    for (const Signature &s : sigs) {
        SCOPED_TRACE(s.id);
        EXPECT_FALSE(s.tactics.empty());
        EXPECT_FALSE(s.techniques.empty());
        EXPECT_FALSE(s.references.empty());
        EXPECT_FALSE(s.description.empty());
        EXPECT_EQ(s.scope, SignatureScope::telnet);
    }
    const RuleInfo *mirai = compiled.rule_for(2300008);
    ASSERT_NE(mirai, nullptr);
    EXPECT_STREQ(mirai->name, "Mirai BusyBox Query");
    EXPECT_STREQ(mirai->uuid, "flowsentry-sig-2300008");
    EXPECT_EQ(mirai->risk_score, 73);
    EXPECT_EQ(compiled.rule_for(1), nullptr);
}

TEST(Signatures, EveryFieldIsRead)
{
    const auto sigs = parse_signature_pack(kGood, "pack.yaml");
    ASSERT_EQ(sigs.size(), 2u);
    const Signature &s = sigs[0];
    EXPECT_EQ(s.id, 7u);
    EXPECT_EQ(s.name, "Seven");
    EXPECT_EQ(s.directions, signature_direction::to_client);
    EXPECT_EQ(s.scope, SignatureScope::tcp);
    EXPECT_EQ(s.stream, SignatureStream::raw);
    EXPECT_EQ(s.severity_number, 4);
    EXPECT_EQ(s.risk_score, 90);
    ASSERT_EQ(s.tactics.size(), 2u);
    EXPECT_EQ(s.tactics[1].reference, "https://attack.mitre.org/tactics/TA0002/");
    ASSERT_EQ(s.techniques.size(), 1u);
    EXPECT_EQ(s.techniques[0].reference, "https://attack.mitre.org/techniques/T1059/004/");
    EXPECT_EQ(s.threshold_count, 3u);
    EXPECT_EQ(s.threshold_seconds, 60u);
    EXPECT_EQ(s.origin, "pack.yaml:3:5");
    // Defaults.
    EXPECT_EQ(sigs[1].directions, signature_direction::both);
    EXPECT_EQ(sigs[1].scope, SignatureScope::telnet);
    EXPECT_EQ(sigs[1].stream, SignatureStream::data);
    EXPECT_EQ(sigs[1].threshold_count, 0u);
    CompiledSignatures compiled(sigs);
    EXPECT_TRUE(compiled.any_tcp_scope());
    EXPECT_STREQ(compiled.rule_for(7)->reference, "https://example.org/7");
    EXPECT_STREQ(compiled.rule_for(8)->description, "Eight");  // the name when there is none
}

TEST(Signatures, BadPatternNamesTheSignatureAndHyperscansMessage)
{
    const std::string e = error_of("signatures:\n  - id: 1\n    name: ok\n    pattern: 'fine'\n"
                                   "  - id: 42\n    name: bad\n    pattern: 'a(b'\n");
    EXPECT_EQ(e, "pack.yaml:5:5: signature 42: Hyperscan: Missing close parenthesis for group started at index 1.");
    EXPECT_THAT(error_of("signatures:\n  - id: 9\n    name: empty\n    pattern: 'a*'\n"),
                HasSubstr("signature 9: Hyperscan: Pattern matches empty buffer"));
}

TEST(Signatures, BadEntriesAreRefusedWithTheirId)
{
    struct Case {
        const char *yaml;
        const char *message;
    };
    const Case cases[] = {
        {"signatures:\n  - id: 3\n    name: x\n    pattern: y\n    direction: sideways\n",
         "pack.yaml:5:16: signature 3: direction: expected to_server, to_client or both (got sideways)"},
        {"signatures:\n  - id: 3\n    name: x\n    pattern: y\n    colour: red\n",
         "pack.yaml:5:5: signature 3: unknown key 'colour'"},
        {"signatures:\n  - id: 3\n    pattern: y\n", "pack.yaml:2:5: signature 3: missing required key 'name'"},
        {"signatures:\n  - id: 3\n    name: x\n", "pack.yaml:2:5: signature 3: missing required key 'pattern'"},
        {"signatures:\n  - name: x\n    pattern: y\n", "pack.yaml:2:5: missing required key 'id'"},
        {"signatures:\n  - id: \"3\"\n    name: x\n    pattern: y\n", "pack.yaml:2:9: id: expected an integer"},
        {"signatures:\n  - id: 3\n    name: x\n    pattern: y\n    risk_score: 101\n",
         "pack.yaml:5:17: signature 3: risk_score: expected an integer between 0 and 100 (got 101)"},
        {"signatures:\n  - id: 3\n    name: x\n    pattern: y\n    flags: [nocase]\n",
         "pack.yaml:5:13: signature 3: flags: unknown flag 'nocase'"},
        {"signatures:\n  - id: 3\n    name: x\n    pattern: y\n    severity: urgent\n",
         "signature 3: severity: expected low, medium, high or critical (got urgent)"},
        {"signatures:\n  - id: 3\n    name: x\n    pattern: y\n    threshold: {count: 0, seconds: 5}\n",
         "signature 3: threshold.count: expected an integer between 1 and 1000000 (got 0)"},
        {"signatures:\n  - id: 3\n    name: x\n    pattern: y\n    tactic: TA0001\n",
         "signature 3: tactic: expected a map with 'id' and 'name'"},
        {"signatures: []\n", "pack.yaml:1:1: 'signatures' must be a non-empty list"},
        {"rules:\n  - id: 1\n", "pack.yaml:1:1: unknown key 'rules'"},
        {"signatures: [\n", "pack.yaml:2:1: YAML error"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.yaml);
        EXPECT_THAT(error_of(c.yaml), HasSubstr(c.message));
    }
}

TEST(Signatures, DuplicateIdsAcrossPacksAreRefused)
{
    const std::string dir = ::testing::TempDir();
    const std::string a = dir + "/fs_pack_a.yaml", b = dir + "/fs_pack_b.yaml";
    std::ofstream(a) << "signatures:\n  - id: 5\n    name: a\n    pattern: a\n";
    std::ofstream(b) << "signatures:\n  - id: 6\n    name: b\n    pattern: b\n  - id: 5\n    name: c\n    pattern: c\n";
    try {
        load_signature_packs({a, b});
        FAIL() << "duplicate id accepted";
    } catch (const SignatureError &e) {
        EXPECT_EQ(std::string(e.what()), b + ":5:5: signature 5: id already used at " + a + ":2:5");
    }
    EXPECT_THAT(
        [&] {
            try {
                load_signature_packs({dir + "/no-such-pack.yaml"});
            } catch (const SignatureError &e) {
                return std::string(e.what());
            }
            return std::string();
        }(),
        HasSubstr("no-such-pack.yaml: cannot open: No such file or directory"));
}

// On reload the pack is read again: a directory put in its place is named
// as such, not reported as an empty pack.
TEST(Signatures, PackThatIsADirectoryIsNamedAsSuch)
{
    const std::string dir = ::testing::TempDir();
    try {
        load_signature_packs({dir});
        FAIL() << "a directory accepted";
    } catch (const SignatureError &e) {
        EXPECT_EQ(std::string(e.what()), dir + ": is a directory, not a pack: name the pack's YAML file (for example "
                                               "signatures/telnet.yaml)");
    }
}
