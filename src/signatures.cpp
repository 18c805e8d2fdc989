// Signature packs: YAML → validated signatures → Hyperscan streaming
// databases (see signatures.hpp). Control thread and start-up only.
#include "flowsentry/signatures.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <hs/hs.h>
#include <yaml-cpp/yaml.h>

#include "flowsentry/signature_cache.hpp"

namespace flowsentry {

namespace {

struct FlagName {
    const char *name;
    unsigned flag;
};

constexpr FlagName kFlags[] = {
    {"caseless", HS_FLAG_CASELESS}, {"dotall", HS_FLAG_DOTALL}, {"multiline", HS_FLAG_MULTILINE},
    {"utf8", HS_FLAG_UTF8},         {"ucp", HS_FLAG_UCP},
};

struct Severity {
    const char *name;
    uint8_t number;
};

constexpr Severity kSeverities[] = {{"low", 1}, {"medium", 2}, {"high", 3}, {"critical", 4}};

// Reads one pack; every complaint carries where it is and which signature.
class PackReader {
public:
    explicit PackReader(std::string source) : source_(std::move(source)) {}

    [[noreturn]] void fail(const YAML::Mark &mark, const std::string &what) const
    {
        std::ostringstream msg;
        msg << source_;
        if (!mark.is_null())
            msg << ':' << (mark.line + 1) << ':' << (mark.column + 1);
        msg << ": ";
        if (!current_id_.empty())
            msg << "signature " << current_id_ << ": ";
        msg << what;
        throw SignatureError(msg.str());
    }

    std::vector<Signature> read(const YAML::Node &root)
    {
        if (!root.IsMap())
            fail(root.Mark(), "a signature pack is a map with a 'signatures' list");
        for (const auto &entry : root) {
            const std::string k = entry.first.Scalar();
            if (k != "signatures" && k != "pack")
                fail(entry.first.Mark(), "unknown key '" + k + "' (valid keys: pack, signatures)");
        }
        const YAML::Node list = root["signatures"];
        if (!list || !list.IsSequence() || list.size() == 0)
            fail(root.Mark(), "'signatures' must be a non-empty list");
        std::vector<Signature> out;
        for (const YAML::Node &node : list)
            out.push_back(read_signature(node));
        return out;
    }

private:
    std::string text(const YAML::Node &n, const char *what) const
    {
        if (!n.IsScalar())
            fail(n.Mark(), std::string(what) + ": expected a string");
        return n.Scalar();
    }

    uint64_t number(const YAML::Node &n, const char *what, uint64_t lo, uint64_t hi) const
    {
        // A quoted "5" is a string: refuse it rather than guess.
        if (!n.IsScalar() || n.Tag() == "!")
            fail(n.Mark(), std::string(what) + ": expected an integer");
        const std::string &s = n.Scalar();
        char *end = nullptr;
        errno = 0;
        const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
        if (s.empty() || s[0] == '-' || *end != '\0' || errno != 0 || v < lo || v > hi)
            fail(n.Mark(), std::string(what) + ": expected an integer between " + std::to_string(lo) + " and " +
                               std::to_string(hi) + " (got " + s + ")");
        return v;
    }

    // `tactic:` / `technique:` take one {id, name} map or a list of them.
    std::vector<MitreEntry> mitre(const YAML::Node &n, const char *what, const char *url_kind) const
    {
        std::vector<MitreEntry> out;
        auto one = [&](const YAML::Node &m) {
            if (!m.IsMap() || !m["id"] || !m["name"] || m.size() != 2)
                fail(m.Mark(), std::string(what) + ": expected a map with 'id' and 'name'");
            MitreEntry e{text(m["id"], what), text(m["name"], what), ""};
            // Sub-techniques (T1110.001) live under /T1110/001/ on attack.mitre.org.
            std::string path = e.id;
            const size_t dot = path.find('.');
            if (dot != std::string::npos)
                path[dot] = '/';
            e.reference = std::string("https://attack.mitre.org/") + url_kind + "/" + path + "/";
            out.push_back(e);
        };
        if (n.IsSequence()) {
            for (const YAML::Node &m : n)
                one(m);
        } else {
            one(n);
        }
        return out;
    }

    Signature read_signature(const YAML::Node &node)
    {
        current_id_.clear();
        if (!node.IsMap())
            fail(node.Mark(), "each signature is a map");
        Signature s;
        const YAML::Node id = node["id"];
        if (!id)
            fail(node.Mark(), "missing required key 'id'");
        s.id = static_cast<uint32_t>(number(id, "id", 1, UINT32_MAX));
        current_id_ = std::to_string(s.id);
        s.origin = source_ + ":" + std::to_string(node.Mark().line + 1) + ":" + std::to_string(node.Mark().column + 1);

        bool have_name = false, have_pattern = false;
        for (const auto &entry : node) {
            const std::string k = entry.first.Scalar();
            const YAML::Node v = entry.second;
            if (k == "id") {
                continue;
            } else if (k == "name") {
                s.name = text(v, "name");
                have_name = !s.name.empty();
            } else if (k == "description") {
                s.description = text(v, "description");
            } else if (k == "pattern") {
                s.pattern = text(v, "pattern");
                have_pattern = !s.pattern.empty();
            } else if (k == "flags") {
                if (!v.IsSequence())
                    fail(v.Mark(), "flags: expected a list");
                for (const YAML::Node &f : v) {
                    const std::string name = text(f, "flags");
                    unsigned flag = 0;
                    for (const FlagName &fn : kFlags)
                        flag = name == fn.name ? fn.flag : flag;
                    if (flag == 0)
                        fail(f.Mark(), "flags: unknown flag '" + name + "' (valid: caseless, dotall, multiline, utf8, ucp)");
                    s.hs_flags |= flag;
                }
            } else if (k == "direction") {
                const std::string d = text(v, "direction");
                if (d == "to_server")
                    s.directions = signature_direction::to_server;
                else if (d == "to_client")
                    s.directions = signature_direction::to_client;
                else if (d == "both")
                    s.directions = signature_direction::both;
                else
                    fail(v.Mark(), "direction: expected to_server, to_client or both (got " + d + ")");
            } else if (k == "scope") {
                const std::string sc = text(v, "scope");
                if (sc == "telnet")
                    s.scope = SignatureScope::telnet;
                else if (sc == "tcp")
                    s.scope = SignatureScope::tcp;
                else
                    fail(v.Mark(), "scope: expected telnet or tcp (got " + sc + ")");
            } else if (k == "stream") {
                const std::string st = text(v, "stream");
                if (st == "data")
                    s.stream = SignatureStream::data;
                else if (st == "raw")
                    s.stream = SignatureStream::raw;
                else
                    fail(v.Mark(), "stream: expected data or raw (got " + st + ")");
            } else if (k == "severity") {
                s.severity = text(v, "severity");
                s.severity_number = 0;
                for (const Severity &sv : kSeverities)
                    s.severity_number = s.severity == sv.name ? sv.number : s.severity_number;
                if (s.severity_number == 0)
                    fail(v.Mark(), "severity: expected low, medium, high or critical (got " + s.severity + ")");
            } else if (k == "risk_score") {
                s.risk_score = static_cast<uint8_t>(number(v, "risk_score", 0, 100));
            } else if (k == "tactic") {
                s.tactics = mitre(v, "tactic", "tactics");
            } else if (k == "technique") {
                s.techniques = mitre(v, "technique", "techniques");
            } else if (k == "references") {
                if (!v.IsSequence())
                    fail(v.Mark(), "references: expected a list");
                for (const YAML::Node &r : v)
                    s.references.push_back(text(r, "references"));
            } else if (k == "threshold") {
                if (!v.IsMap() || !v["count"] || !v["seconds"] || v.size() != 2)
                    fail(v.Mark(), "threshold: expected a map with 'count' and 'seconds'");
                s.threshold_count = static_cast<uint32_t>(number(v["count"], "threshold.count", 1, 1000000));
                s.threshold_seconds = static_cast<uint32_t>(number(v["seconds"], "threshold.seconds", 1, 86400));
            } else {
                fail(entry.first.Mark(),
                     "unknown key '" + k +
                         "' (valid keys: id, name, description, pattern, flags, direction, scope, stream, severity, "
                         "risk_score, tactic, technique, references, threshold)");
            }
        }
        if (!have_name)
            fail(node.Mark(), "missing required key 'name'");
        if (!have_pattern)
            fail(node.Mark(), "missing required key 'pattern'");
        current_id_.clear();
        return s;
    }

    std::string source_;
    std::string current_id_;
};

std::string read_file(const std::string &path)
{
    const std::string problem = signature_pack_problem(path);
    if (!problem.empty())
        throw SignatureError(path + ": " + problem);
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw SignatureError(path + ": cannot open: " + std::strerror(errno));
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad())
        throw SignatureError(path + ": cannot read: " + std::strerror(errno));
    return ss.str();
}

}  // namespace

std::string signature_pack_problem(const std::string &path)
{
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || ::access(path.c_str(), R_OK) != 0)
        return std::string("cannot open: ") + std::strerror(errno);
    if (S_ISDIR(st.st_mode))
        return "is a directory, not a pack: name the pack's YAML file (for example signatures/telnet.yaml)";
    return "";
}

std::vector<Signature> parse_signature_pack(const std::string &yaml_text, const std::string &source_name)
{
    PackReader reader(source_name);
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception &e) {
        reader.fail(e.mark, "YAML error: " + e.msg);
    }
    try {
        return reader.read(root);
    } catch (const YAML::Exception &e) {
        reader.fail(e.mark, "YAML error: " + e.msg);
    }
}

std::vector<Signature> load_signature_packs(const std::vector<std::string> &paths)
{
    std::vector<Signature> all;
    std::map<uint32_t, std::string> seen;  // id → where it was first defined
    for (const std::string &path : paths) {
        for (Signature &s : parse_signature_pack(read_file(path), path)) {
            const auto [it, fresh] = seen.emplace(s.id, s.origin);
            if (!fresh)
                throw SignatureError(s.origin + ": signature " + std::to_string(s.id) + ": id already used at " +
                                     it->second);
            all.push_back(std::move(s));
        }
    }
    return all;
}

CompiledSignatures::CompiledSignatures(std::vector<Signature> signatures, const std::string &cache_dir)
    : signatures_(std::move(signatures))
{
    DatabaseInputs inputs[2];
    for (size_t i = 0; i < signatures_.size(); ++i) {
        const Signature &s = signatures_[i];
        DatabaseInputs &in = inputs[static_cast<int>(s.stream)];
        in.patterns.push_back(s.pattern.c_str());
        // One alert per signature and flow direction, however often the
        // pattern recurs: matches do not depend on segmentation.
        in.flags.push_back(s.hs_flags | HS_FLAG_SINGLEMATCH);
        in.ids.push_back(static_cast<unsigned>(i));
    }

    std::string cache_key;
    if (!cache_dir.empty()) {
        cache_key = signature_cache_key(inputs);
        std::string why_not;
        from_cache_ = load_cached_databases(cache_dir, cache_key, db_, why_not);
        if (!why_not.empty())
            std::fprintf(stderr, "flowsentry: signature cache: ignoring %s; compiling\n", why_not.c_str());
    }
    for (int kind = 0; kind < 2 && !from_cache_; ++kind) {
        const DatabaseInputs &in = inputs[kind];
        if (in.patterns.empty())
            continue;
        hs_compile_error_t *err = nullptr;
        if (hs_compile_multi(in.patterns.data(), in.flags.data(), in.ids.data(), static_cast<unsigned>(in.patterns.size()),
                             HS_MODE_STREAM, nullptr, &db_[kind], &err) != HS_SUCCESS) {
            std::string msg;
            if (err != nullptr && err->expression >= 0 && static_cast<size_t>(err->expression) < in.ids.size()) {
                const Signature &bad = signatures_[in.ids[err->expression]];
                msg = bad.origin + ": signature " + std::to_string(bad.id) + ": Hyperscan: " + err->message;
            } else {
                msg = std::string("signatures: Hyperscan: ") + (err != nullptr ? err->message : "compile failed");
            }
            hs_free_compile_error(err);
            for (hs_database_t *&db : db_) {
                hs_free_database(db);
                db = nullptr;
            }
            throw SignatureError(msg);
        }
    }
    std::string error;
    if (!cache_dir.empty() && !from_cache_ && !store_cached_databases(cache_dir, cache_key, db_, error))
        std::fprintf(stderr, "flowsentry: signature cache: cannot store: %s\n", error.c_str());

    rules_.resize(signatures_.size());
    for (size_t i = 0; i < signatures_.size(); ++i) {
        const Signature &s = signatures_[i];
        index_by_id_.emplace(s.id, i);
        any_tcp_scope_ |= s.scope == SignatureScope::tcp;
        RuleView &r = rules_[i];
        r.uuid = "flowsentry-sig-" + std::to_string(s.id);
        for (const MitreEntry &m : s.tactics)
            r.tactics.push_back({m.id.c_str(), m.name.c_str(), m.reference.c_str()});
        for (const MitreEntry &m : s.techniques)
            r.techniques.push_back({m.id.c_str(), m.name.c_str(), m.reference.c_str()});
        r.info = RuleInfo{RuleId::signature,
                          r.uuid.c_str(),
                          s.name.c_str(),
                          s.description.empty() ? s.name.c_str() : s.description.c_str(),
                          "Telnet",
                          s.references.empty() ? "" : s.references.front().c_str(),
                          "telnet-signature-match",
                          s.severity.c_str(),
                          s.severity_number,
                          s.risk_score,
                          r.tactics.data(),
                          static_cast<uint8_t>(r.tactics.size()),
                          r.techniques.data(),
                          static_cast<uint8_t>(r.techniques.size())};
    }
}

CompiledSignatures::~CompiledSignatures()
{
    for (hs_database_t *db : db_)
        hs_free_database(db);
}

const Signature *CompiledSignatures::find(uint32_t id) const
{
    const auto it = index_by_id_.find(id);
    return it == index_by_id_.end() ? nullptr : &signatures_[it->second];
}

const RuleInfo *CompiledSignatures::rule_for(uint32_t id) const
{
    const auto it = index_by_id_.find(id);
    return it == index_by_id_.end() ? nullptr : &rules_[it->second].info;
}

}  // namespace flowsentry
