// Signature packs: the shipped pack, every field, and bad entries refused
// with their id and the cause (Hyperscan's own message for a bad pattern).
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <hs/hs.h>
#include <openssl/evp.h>

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

TEST(Signatures, MessageIsOneLineWhateverBytesItQuotes)
{
    // Found by the fuzzer: yaml-cpp quotes the line break it stumbled on.
    std::string e = error_of(std::string("\xff\0\n", 3));
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
    EXPECT_THAT(e, HasSubstr("unknown escape character: \\n"));
    e = error_of("signatures:\n  - id: 3\n    name: x\n    pattern: y\n    direction: \"to\\nme\\tnow\"\n");
    EXPECT_THAT(e, HasSubstr("(got to\\nme?now)"));
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

namespace {

namespace fs = std::filesystem;

// Ids of the signatures whose data-stream pattern is in `text`, scanned as
// one stream: what the database does, whichever way it was made.
std::set<uint32_t> data_matches(const CompiledSignatures &c, const std::string &text)
{
    const hs_database_t *db = c.database(SignatureStream::data);
    hs_scratch_t *scratch = nullptr;
    hs_stream_t *stream = nullptr;
    EXPECT_EQ(hs_alloc_scratch(db, &scratch), HS_SUCCESS);
    EXPECT_EQ(hs_open_stream(db, 0, &stream), HS_SUCCESS);
    struct Hits {
        const CompiledSignatures *c;
        std::set<uint32_t> ids;
    } hits{&c, {}};
    auto on_match = [](unsigned int index, unsigned long long, unsigned long long, unsigned int, void *ctx) {
        auto *h = static_cast<Hits *>(ctx);
        h->ids.insert(h->c->signatures()[index].id);
        return 0;
    };
    EXPECT_EQ(hs_scan_stream(stream, text.data(), static_cast<unsigned>(text.size()), 0, scratch, on_match, &hits),
              HS_SUCCESS);
    hs_close_stream(stream, scratch, on_match, &hits);
    hs_free_scratch(scratch);
    return hits.ids;
}

std::string read_bytes(const fs::path &p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_bytes(const fs::path &p, const std::string &bytes) { std::ofstream(p, std::ios::binary) << bytes; }

std::vector<fs::path> entries(const fs::path &dir)
{
    std::vector<fs::path> out;
    for (const auto &e : fs::directory_iterator(dir))
        out.push_back(e.path());
    return out;
}

// A fresh cache directory per test.
fs::path cache_dir(const std::string &name)
{
    const fs::path dir = fs::path(::testing::TempDir()) / ("fs_sigcache_" + name);
    fs::remove_all(dir);
    return dir;
}

const char *kPackA = "signatures:\n  - id: 1\n    name: a\n    pattern: 'busybox'\n"
                     "  - id: 2\n    name: b\n    pattern: 'ECCHI'\n  - id: 3\n    name: raw\n    pattern: 'x'\n"
                     "    stream: raw\n";
const char *kPackB = "signatures:\n  - id: 1\n    name: a\n    pattern: 'applet'\n";
const char *kText = "enable; /bin/busybox ECCHI: applet not found";

}  // namespace

TEST(SignatureCache, ASecondCompileComesFromTheCacheAndMatchesTheSame)
{
    const fs::path dir = cache_dir("second");
    const CompiledSignatures compiled(parse_signature_pack(kPackA, "a.yaml"), dir.string());
    EXPECT_FALSE(compiled.from_cache());
    ASSERT_EQ(entries(dir).size(), 1u);
    const CompiledSignatures cached(parse_signature_pack(kPackA, "a.yaml"), dir.string());
    EXPECT_TRUE(cached.from_cache());
    EXPECT_NE(cached.database(SignatureStream::raw), nullptr);
    EXPECT_EQ(data_matches(compiled, kText), (std::set<uint32_t>{1, 2}));
    EXPECT_EQ(data_matches(cached, kText), (std::set<uint32_t>{1, 2}));
    // Other patterns are another entry; metadata alone is not.
    const CompiledSignatures other(parse_signature_pack(kPackB, "b.yaml"), dir.string());
    EXPECT_FALSE(other.from_cache());
    EXPECT_EQ(data_matches(other, kText), std::set<uint32_t>{1});
    EXPECT_EQ(entries(dir).size(), 2u);
    std::string renamed = kPackA;
    renamed.replace(renamed.find("name: a"), 7, "name: z");
    EXPECT_TRUE(CompiledSignatures(parse_signature_pack(renamed, "a.yaml"), dir.string()).from_cache());
    // Off: nothing read or written.
    const fs::path off = cache_dir("off");
    EXPECT_FALSE(CompiledSignatures(parse_signature_pack(kPackA, "a.yaml"), "").from_cache());
    EXPECT_FALSE(fs::exists(off));
}

TEST(SignatureCache, CorruptOrForeignEntriesAreIgnoredAndRebuilt)
{
    const fs::path dir = cache_dir("corrupt");
    CompiledSignatures(parse_signature_pack(kPackB, "b.yaml"), dir.string());
    const fs::path entry_b = entries(dir).at(0);
    const std::string b_bytes = read_bytes(entry_b);
    CompiledSignatures(parse_signature_pack(kPackA, "a.yaml"), dir.string());
    fs::path entry_a;
    for (const fs::path &p : entries(dir))
        if (p != entry_b)
            entry_a = p;
    const std::string a_bytes = read_bytes(entry_a);

    // The checksum of the entry, recomputed after a change: only Hyperscan's
    // own checks stand between a doctored database and the workers.
    auto resealed = [](std::string bytes) {
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        EVP_Digest(bytes.data(), bytes.size() - 32, digest, &n, EVP_sha256(), nullptr);
        bytes.replace(bytes.size() - 32, 32, reinterpret_cast<const char *>(digest), n);
        return bytes;
    };
    std::string flipped = a_bytes;
    flipped[flipped.size() / 2] ^= 0x40;
    std::string doctored = a_bytes;
    doctored[a_bytes.size() - 32 - 100] ^= 0x01;  // inside the last database
    const std::pair<const char *, std::string> cases[] = {
        {"a flipped bit", flipped},
        {"a truncated file", a_bytes.substr(0, a_bytes.size() / 2)},
        {"an empty file", ""},
        {"text", "not a database\n"},
        {"another pack's entry", b_bytes},
        {"a database changed under a valid checksum", resealed(doctored)},
    };
    for (const auto &[what, bytes] : cases) {
        SCOPED_TRACE(what);
        write_bytes(entry_a, bytes);
        const CompiledSignatures rebuilt(parse_signature_pack(kPackA, "a.yaml"), dir.string());
        EXPECT_FALSE(rebuilt.from_cache());
        EXPECT_EQ(data_matches(rebuilt, kText), (std::set<uint32_t>{1, 2}));
        // Rebuilt means written again: the next one is served from it.
        EXPECT_EQ(read_bytes(entry_a), a_bytes);
        EXPECT_TRUE(CompiledSignatures(parse_signature_pack(kPackA, "a.yaml"), dir.string()).from_cache());
    }
}

TEST(SignatureCache, ADirectoryThatCannotBeWrittenOnlyCostsTheCompile)
{
    const fs::path file = cache_dir("not_a_dir");
    write_bytes(file, "a file where the directory should be");
    const CompiledSignatures compiled(parse_signature_pack(kPackA, "a.yaml"), file.string());
    EXPECT_FALSE(compiled.from_cache());
    EXPECT_EQ(data_matches(compiled, kText), (std::set<uint32_t>{1, 2}));
}
