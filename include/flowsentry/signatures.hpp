// Signature packs: YAML files of Hyperscan patterns with what a match means,
// loaded and compiled once off the fast path (at start, and on reload).
//
// A pack is a map with a `signatures` list; each signature has `id`, `name`,
// `pattern`, and optionally `flags`, `direction`, `scope`, `stream`,
// `severity`, `risk_score`, `tactic`, `technique`, `references`,
// `description`, `threshold` (docs/detections.md lists the shipped ones,
// docs/configuration.md the format). Errors name the file, line, column and
// signature id, and for a bad pattern Hyperscan's own message.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "flowsentry/printable.hpp"
#include "flowsentry/rules.hpp"

struct hs_database;

namespace flowsentry {

// One printable line, whatever the pack's bytes that it quotes.
class SignatureError : public std::runtime_error {
public:
    explicit SignatureError(const std::string &what) : std::runtime_error(printable(what)) {}
};

namespace signature_direction {
constexpr uint8_t to_server = 1;
constexpr uint8_t to_client = 2;
constexpr uint8_t both = 3;
}  // namespace signature_direction

enum class SignatureScope : uint8_t {
    telnet,  // flows on a Telnet port or identified as Telnet
    tcp,     // any TCP flow (every flow with payload gets inspection state)
};

enum class SignatureStream : uint8_t {
    data,  // the normalised data: IAC commands removed (content signatures)
    raw,   // the bytes as sent, commands included (negotiation signatures)
};

struct MitreEntry {
    std::string id;
    std::string name;
    std::string reference;
};

struct Signature {
    uint32_t id = 0;
    std::string name;
    std::string description;
    std::string pattern;
    unsigned hs_flags = 0;
    uint8_t directions = signature_direction::both;
    SignatureScope scope = SignatureScope::telnet;
    SignatureStream stream = SignatureStream::data;
    std::string severity = "medium";
    uint8_t severity_number = 2;
    uint8_t risk_score = 47;
    std::vector<MitreEntry> tactics;
    std::vector<MitreEntry> techniques;
    std::vector<std::string> references;
    uint32_t threshold_count = 0;  // 0: every match alerts
    uint32_t threshold_seconds = 0;
    std::string origin;            // "file:line:column", for messages
};

// Why `path` cannot be read as a signature pack, or "" if it can: missing,
// unreadable, or a directory.
std::string signature_pack_problem(const std::string &path);

// Reads and validates packs (every entry, duplicate ids across packs).
// Throws SignatureError "file:line:column: signature ID: what".
std::vector<Signature> load_signature_packs(const std::vector<std::string> &paths);
// Same from text (tests).
std::vector<Signature> parse_signature_pack(const std::string &yaml_text, const std::string &source_name);

// The compiled form: one streaming database per stream kind; a match id is
// the signature's index in `signatures`. Shared read-only by every worker.
class CompiledSignatures {
public:
    // Throws SignatureError "origin: signature ID: Hyperscan: message".
    // With a `cache_dir` the databases come from the signature cache when
    // it holds them (signature_cache.hpp), and go into it when compiled;
    // a cache that cannot be used or written is reported on stderr, never
    // an error.
    explicit CompiledSignatures(std::vector<Signature> signatures, const std::string &cache_dir = "");
    ~CompiledSignatures();
    CompiledSignatures(const CompiledSignatures &) = delete;
    CompiledSignatures &operator=(const CompiledSignatures &) = delete;

    const std::vector<Signature> &signatures() const { return signatures_; }
    // nullptr when no signature looks at that stream.
    const hs_database *database(SignatureStream s) const { return db_[static_cast<int>(s)]; }
    bool any_tcp_scope() const { return any_tcp_scope_; }
    bool from_cache() const { return from_cache_; }

    // The signature with this id (not index), or nullptr.
    const Signature *find(uint32_t id) const;
    // Alert metadata of the signature with this id (not index), or nullptr.
    const RuleInfo *rule_for(uint32_t id) const;

private:
    struct RuleView {
        std::string uuid;
        RuleInfo info;
        std::vector<MitreRef> tactics;
        std::vector<MitreRef> techniques;
    };

    std::vector<Signature> signatures_;
    std::vector<RuleView> rules_;  // by index, pointing into signatures_
    std::unordered_map<uint32_t, size_t> index_by_id_;  // alerts carry ids; the control thread looks them up
    hs_database *db_[2] = {nullptr, nullptr};
    bool any_tcp_scope_ = false;
    bool from_cache_ = false;
};

}  // namespace flowsentry
