// IP reassembly, end to end: the binary over the generated fragment
// captures (scripts/gen-fragment-captures.py), checked against the
// generator's truth (tests/data/frag_*.defrag-truth.json): every signature
// of the fragmented Mirai session alerts exactly once, the accepted
// connection is found once, and every defrag counter is what the generator
// put on the wire. tshark's own reassembly cross-checks the captures.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>

#include <rapidjson/document.h>

#include "process.hpp"

using namespace flowsentry_test;

namespace {

fs::path source_root() { return env_or_empty("FLOWSENTRY_SOURCE_ROOT"); }
fs::path data_dir() { return source_root() / "tests" / "data"; }

const char *const kCaptures[] = {"frag_ipv4_in_order", "frag_ipv4_reversed", "frag_ipv4_overlap",
                                 "frag_ipv4_duplicate", "frag_ipv6_in_order", "frag_ipv6_reversed",
                                 "frag_ipv6_overlap",  "frag_ipv6_duplicate", "frag_flood"};

std::string text_at(const rapidjson::Value &doc, const char *object, const char *key)
{
    if (!doc.HasMember(object) || !doc[object].IsObject() || !doc[object].HasMember(key))
        return "";
    const rapidjson::Value &v = doc[object][key];
    return v.IsString() ? v.GetString() : v.IsUint() ? std::to_string(v.GetUint()) : "";
}

struct RunResult {
    std::string output;                            // NDJSON, stderr and stats: where no password may be
    std::map<std::string, uint64_t> counters;      // every worker counter, summed over the workers
    std::map<std::string, uint64_t> defrag;        // the defrag.* ones, without the prefix
    std::map<std::string, int> accepted;           // "client ip:port" -> connection starts
    std::multiset<std::pair<uint32_t, std::string>> signatures;  // (id, direction)
    int telnet_port_alerts = 0;
};

// Runs the binary on `pcap` with `config_text` (the shipped configuration
// when empty) and collects what the test checks.
RunResult run(const fs::path &pcap, const std::string &config_text, const TempDir &tmp)
{
    fs::path config = source_root() / "conf" / "flowsentry.yaml";
    if (!config_text.empty()) {
        config = tmp.path() / "defrag.yaml";
        std::ofstream(config) << config_text;
    }
    const fs::path out = tmp.path() / "out.ndjson", log = tmp.path() / "log", stats = tmp.path() / "stats.json";
    const std::string cmd = shell_quote(env_or_empty("FLOWSENTRY_BIN")) + " --pcap " + shell_quote(pcap.string()) +
                            " -c " + shell_quote(config.string()) + " -o " + shell_quote(out.string()) +
                            " --stats-json " + shell_quote(stats.string()) + " >" + shell_quote(log.string()) +
                            " 2>&1";
    std::string ignored;
    EXPECT_EQ(run_command(cmd, &ignored), 0) << cmd << "\n" << read_file(log);

    RunResult r;
    r.output = read_file(out) + read_file(log) + read_file(stats);
    for_each_json_line(read_file(out), [&](const rapidjson::Document &d) {
        const std::string client = text_at(d, "source", "ip") + ":" + text_at(d, "source", "port");
        if (text_at(d, "event", "action") == "connection-accepted" && text_at(d, "event", "kind") == "event")
            ++r.accepted[client];
        if (text_at(d, "event", "kind") != "alert")
            return;
        if (d.HasMember("flowsentry") && d["flowsentry"].HasMember("signature"))
            r.signatures.insert({d["flowsentry"]["signature"]["id"].GetUint(), text_at(d, "flowsentry", "direction")});
        r.telnet_port_alerts += text_at(d, "rule", "name") == "Accepted Default Telnet Port Connection";
    });
    rapidjson::Document s;
    s.Parse(read_file(stats).c_str());
    EXPECT_FALSE(s.HasParseError()) << read_file(stats);
    if (!s.HasParseError())
        for (const auto &w : s["workers"].GetArray())
            for (const auto &m : w.GetObject()) {
                const std::string key = m.name.GetString();
                if (!m.value.IsUint64())
                    continue;
                r.counters[key] += m.value.GetUint64();
                if (key.rfind("defrag.", 0) == 0)
                    r.defrag[key.substr(7)] += m.value.GetUint64();
            }
    return r;
}

rapidjson::Document truth_of(const std::string &name)
{
    rapidjson::Document t;
    t.Parse(read_file(data_dir() / (name + ".defrag-truth.json")).c_str());
    EXPECT_FALSE(t.HasParseError()) << name;
    return t;
}

// The configuration a capture is run with: the shipped one, or (when the
// truth names defrag settings) a minimal one with those settings.
std::string config_for(const rapidjson::Document &truth)
{
    if (!truth.HasMember("config") || truth["config"].ObjectEmpty())
        return "";
    std::string text = "telnet:\n  ports: [23]\n  signature_packs: [" +
                       (source_root() / "conf" / "signatures" / "telnet.yaml").string() + "]\ndefrag:\n";
    for (const auto &m : truth["config"].GetObject())
        text += std::string("  ") + m.name.GetString() + ": " + std::to_string(m.value.GetUint64()) + "\n";
    return text;
}

// Frames tshark reassembled a whole datagram into.
int tshark_reassembled(const fs::path &pcap)
{
    std::string out;
    run_command("tshark -n -r " + shell_quote(pcap.string()) +
                    " -o ip.defragment:TRUE -o ipv6.defragment:TRUE"
                    " -Y 'ip.fragment.count || ipv6.fragment.count' -T fields -e frame.number 2>/dev/null",
                &out);
    int n = 0;
    for (char ch : out)
        n += ch == '\n';
    return n;
}

}  // namespace

class FragmentCapture : public ::testing::TestWithParam<const char *> {};

TEST_P(FragmentCapture, SignaturesAndCountersMatchTheGeneratorsTruth)
{
    const std::string name = GetParam();
    const rapidjson::Document truth = truth_of(name);
    ASSERT_TRUE(truth.IsObject());
    TempDir tmp;
    const RunResult r = run(data_dir() / (name + ".pcap"), config_for(truth), tmp);

    // Every accepted connection once, with its alert.
    std::map<std::string, int> want_accepted;
    for (const auto &a : truth["accepted"].GetArray())
        want_accepted[std::string(a[0].GetString()) + ":" + std::to_string(a[1].GetUint())] = 1;
    EXPECT_EQ(r.accepted, want_accepted);
    EXPECT_EQ(r.telnet_port_alerts, static_cast<int>(want_accepted.size()));

    // Each signature of the session exactly once, nothing else.
    std::multiset<std::pair<uint32_t, std::string>> want_signatures;
    for (const auto &flow : truth["flows"].GetArray())
        for (const auto &s : flow["signatures"].GetArray())
            want_signatures.insert({s[0].GetUint(), s[1].GetString()});
    EXPECT_EQ(r.signatures, want_signatures);

    // Every defrag counter: the truth's, zero for the rest.
    std::map<std::string, uint64_t> want_defrag;
    for (const auto &kv : r.defrag)
        want_defrag[kv.first] = 0;
    for (const auto &m : truth["defrag"].GetObject())
        want_defrag[m.name.GetString()] = m.value.GetUint64();
    EXPECT_EQ(r.defrag, want_defrag);
    EXPECT_GT(r.defrag.count("fragments"), 0u) << "no defrag counters in --stats-json";

    for (const auto &pw : truth["passwords"].GetArray())
        EXPECT_EQ(r.output.find(pw.GetString()), std::string::npos) << "password in the output";
}

// tshark reassembles every datagram flowsentry does, and the tiny-first ones
// flowsentry refuses on purpose; and it sees the Mirai command only after
// reassembly, so the captures really hide it in fragments.
TEST_P(FragmentCapture, TsharksReassemblyAgrees)
{
    const std::string name = GetParam();
    const rapidjson::Document truth = truth_of(name);
    ASSERT_TRUE(truth.IsObject());
    const auto count = [&](const char *key) {
        return truth["defrag"].HasMember(key) ? static_cast<int>(truth["defrag"][key].GetUint64()) : 0;
    };
    const fs::path pcap = data_dir() / (name + ".pcap");
    EXPECT_EQ(tshark_reassembled(pcap), count("reassembled") + count("tiny_first"));

    const std::string mirai_hex = "2f62696e2f62757379626f78204d49524149";  // "/bin/busybox MIRAI"
    std::string with, without;
    const std::string filter = " -Y 'tcp.dstport == 23 && tcp.len > 0' -T fields -e tcp.payload 2>/dev/null";
    run_command("tshark -n -r " + shell_quote(pcap.string()) + " -o ip.defragment:TRUE -o ipv6.defragment:TRUE" +
                    filter,
                &with);
    run_command("tshark -n -r " + shell_quote(pcap.string()) + " -o ip.defragment:FALSE -o ipv6.defragment:FALSE" +
                    filter,
                &without);
    EXPECT_NE(with.find(mirai_hex), std::string::npos);
    EXPECT_EQ(without.find(mirai_hex), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Captures, FragmentCapture, ::testing::ValuesIn(kCaptures));

// With defrag off the fragments are counted by decode and go no further:
// the command hidden in them is not seen (what defrag is for).
TEST(Defrag, OffMissesWhatTheFragmentsHide)
{
    TempDir tmp;
    const std::string config = "telnet:\n  ports: [23]\n  signature_packs: [" +
                               (source_root() / "conf" / "signatures" / "telnet.yaml").string() +
                               "]\ndefrag:\n  enabled: false\n";
    const RunResult r = run(data_dir() / "frag_ipv4_in_order.pcap", config, tmp);
    EXPECT_EQ(r.signatures.count({2300014, "to_server"}), 0u);  // Path to BusyBox
    EXPECT_EQ(r.accepted.size(), 1u);
    EXPECT_EQ(r.defrag.at("fragments"), 0u);
    EXPECT_EQ(r.counters.at("decode.ipv4_fragment"), truth_of("frag_ipv4_in_order")["defrag"]["fragments"].GetUint64());
}

// Every *.defrag-truth.json in tests/data is in the list above.
TEST(Defrag, EveryTruthFileIsTested)
{
    const std::string suffix = ".defrag-truth.json";
    std::set<std::string> on_disk, listed(std::begin(kCaptures), std::end(kCaptures));
    for (const auto &e : fs::directory_iterator(data_dir())) {
        const std::string f = e.path().filename().string();
        if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0)
            on_disk.insert(f.substr(0, f.size() - suffix.size()));
    }
    EXPECT_EQ(on_disk, listed);
}
