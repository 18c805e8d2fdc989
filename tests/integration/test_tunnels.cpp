// Tunnels end to end: the binary (shipped configuration and signature pack)
// over the generated tunnel captures (scripts/gen-tunnel-captures.py),
// checked against the generator's truth (tests/data/*.tunnel-truth.json):
// every accepted connection once, tenants kept apart, the tunnel fields of
// every document, the signatures inside the tunnel, the per-layer counters.
// tshark, which decodes these encapsulations itself, confirms the inner
// connections the truth names.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <rapidjson/document.h>

#include "process.hpp"

using namespace flowsentry_test;

namespace {

fs::path data_dir() { return fs::path(env_or_empty("FLOWSENTRY_SOURCE_ROOT")) / "tests" / "data"; }

const char *const kCaptures[] = {"tunnel_mpls",    "tunnel_gre_key",       "tunnel_erspan2", "tunnel_erspan3",
                                 "tunnel_vxlan_tenants", "tunnel_geneve", "tunnel_ipv6_in_ipv4", "tunnel_ipip"};

// Every layer counter the stats carry (decode.hpp, FLOWSENTRY_TUNNEL_TYPES).
const char *const kLayers[] = {"mpls", "gre", "erspan1", "erspan2", "erspan3", "vxlan", "geneve", "ipip", "ipv6_in_ip"};

// A connection as the documents name it: inner endpoints plus the tenant id
// (two VXLAN tenants may share everything else).
using ConnKey = std::tuple<std::string, unsigned, std::string, unsigned, int64_t>;

ConnKey key_of_document(const rapidjson::Value &d)
{
    const rapidjson::Value *id = at(d, {"flowsentry", "tunnel", "id"});
    return ConnKey{str(d, {"source", "ip"}), at(d, {"source", "port"})->GetUint(), str(d, {"destination", "ip"}),
                   at(d, {"destination", "port"})->GetUint(), id ? static_cast<int64_t>(id->GetUint64()) : -1};
}

ConnKey key_of_truth(const rapidjson::Value &c)
{
    const rapidjson::Value &id = c["tunnel"]["id"];
    return ConnKey{c["client"][0].GetString(), c["client"][1].GetUint(), c["server"][0].GetString(),
                   c["server"][1].GetUint(), id.IsNull() ? -1 : id.GetInt64()};
}

struct RunOutput {
    std::vector<rapidjson::Document> documents;
    rapidjson::Document stats;
    std::string everything;
};

RunOutput run(const fs::path &pcap, const TempDir &tmp)
{
    const fs::path out = tmp.path() / "out.ndjson", log = tmp.path() / "log", stats = tmp.path() / "stats.json";
    const fs::path conf = fs::path(env_or_empty("FLOWSENTRY_SOURCE_ROOT")) / "conf" / "flowsentry.yaml";
    const std::string cmd = shell_quote(env_or_empty("FLOWSENTRY_BIN")) + " --pcap " + shell_quote(pcap.string()) +
                            " -c " + shell_quote(conf.string()) + " -o " + shell_quote(out.string()) +
                            " --stats-json " + shell_quote(stats.string()) + " >" + shell_quote(log.string()) + " 2>&1";
    std::string ignored;
    const int status = run_command(cmd, &ignored);
    EXPECT_EQ(status, 0) << cmd << "\n" << read_file(log);
    RunOutput r;
    r.everything = read_file(out) + read_file(log) + read_file(stats);
    for_each_json_line(read_file(out), [&](rapidjson::Document &d) {
        r.documents.emplace_back();
        r.documents.back().Swap(d);
    });
    r.stats.Parse(read_file(stats).c_str());
    EXPECT_FALSE(r.stats.HasParseError());
    return r;
}

// The sum over workers of one counter of the stats JSON.
uint64_t counter_total(const rapidjson::Document &stats, const std::string &name)
{
    uint64_t total = 0;
    for (const auto &w : stats["workers"].GetArray())
        total += w[name.c_str()].GetUint64();
    return total;
}

// The outer pair the truth gives for a direction, as [src, dst], or none.
std::pair<std::string, std::string> outer_of(const rapidjson::Value &tunnel, const char *direction)
{
    const rapidjson::Value &outer = tunnel["outer"];
    if (outer.IsNull())
        return {"", ""};
    return {outer[direction][0].GetString(), outer[direction][1].GetString()};
}

// Checks a document's flowsentry.tunnel against the truth, for the packet
// direction that triggered it.
void expect_tunnel_fields(const rapidjson::Value &d, const rapidjson::Value &tunnel, const char *direction)
{
    EXPECT_EQ(str(d, {"flowsentry", "tunnel", "type"}), tunnel["type"].GetString());
    const rapidjson::Value &id_type = tunnel["id_type"];
    EXPECT_EQ(str(d, {"flowsentry", "tunnel", "id_type"}), id_type.IsNull() ? "" : id_type.GetString());
    const auto [src, dst] = outer_of(tunnel, direction);
    EXPECT_EQ(str(d, {"flowsentry", "tunnel", "source", "ip"}), src);
    EXPECT_EQ(str(d, {"flowsentry", "tunnel", "destination", "ip"}), dst);
    const rapidjson::Value *session = at(d, {"flowsentry", "tunnel", "erspan", "session_id"});
    if (tunnel["erspan_session"].IsNull()) {
        EXPECT_EQ(session, nullptr);
    } else {
        ASSERT_NE(session, nullptr);
        EXPECT_EQ(session->GetUint(), tunnel["erspan_session"][direction].GetUint());
    }
    const rapidjson::Value &vlan = tunnel["outer_vlan"];
    EXPECT_EQ(str(d, {"flowsentry", "tunnel", "vlan", "id"}), vlan.IsNull() ? "" : vlan.GetString());
}

// The inner client/server pairs of the SYNs tshark sees (without ACK: one per
// connection), decoded by tshark's own dissectors through the encapsulation.
std::multiset<std::string> tshark_syns(const fs::path &pcap)
{
    std::string out;
    // occurrence=l: of the headers of one kind (outer and inner IPv4), the last
    // one, which is the inner.
    const std::string cmd = "tshark -r " + shell_quote(pcap.string()) +
                            " -Y 'tcp.flags.syn == 1 && tcp.flags.ack == 0' -T fields -E separator=/t -E occurrence=l "
                            "-e ip.src -e ipv6.src -e tcp.srcport -e ip.dst -e ipv6.dst -e tcp.dstport 2>/dev/null";
    EXPECT_EQ(run_command(cmd, &out), 0) << cmd;
    std::multiset<std::string> syns;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        std::vector<std::string> f;
        std::istringstream fields(line);
        std::string x;
        while (std::getline(fields, x, '\t'))
            f.push_back(x);
        f.resize(6);
        // An IPv6 packet inside IPv4 has both: the inner header is the IPv6 one.
        const std::string src = f[1].empty() ? f[0] : f[1], dst = f[4].empty() ? f[3] : f[4];
        syns.insert(src + " " + f[2] + " " + dst + " " + f[5]);
    }
    return syns;
}

class TunnelCapture : public ::testing::TestWithParam<const char *> {};

TEST_P(TunnelCapture, MatchesTheGeneratorsTruth)
{
    const std::string name = GetParam();
    rapidjson::Document truth;
    truth.Parse(read_file(data_dir() / (name + ".tunnel-truth.json")).c_str());
    ASSERT_FALSE(truth.HasParseError()) << "run /usr/bin/python3 scripts/gen-tunnel-captures.py";
    const fs::path pcap = data_dir() / (name + ".pcap");

    // The truth's connections are what tshark finds inside the tunnel.
    std::multiset<std::string> truth_pairs;
    for (const auto &c : truth["connections"].GetArray())
        truth_pairs.insert(std::string(c["client"][0].GetString()) + " " + std::to_string(c["client"][1].GetUint()) +
                           " " + c["server"][0].GetString() + " " + std::to_string(c["server"][1].GetUint()));
    EXPECT_EQ(tshark_syns(pcap), truth_pairs) << "generator truth vs tshark";

    TempDir tmp;
    const RunOutput r = run(pcap, tmp);

    std::map<ConnKey, const rapidjson::Value *> want;
    for (const auto &c : truth["connections"].GetArray())
        ASSERT_TRUE(want.emplace(key_of_truth(c), &c).second) << "truth names a connection twice";

    std::map<ConnKey, unsigned> accepted;
    std::map<ConnKey, std::multiset<std::pair<uint32_t, std::string>>> signatures;
    std::map<ConnKey, std::vector<std::pair<std::string, std::string>>> logins;
    for (const rapidjson::Document &d : r.documents) {
        const ConnKey k = key_of_document(d);
        const auto it = want.find(k);
        ASSERT_NE(it, want.end()) << "a document of a connection the truth does not name: " << std::get<0>(k) << ":"
                                  << std::get<1>(k) << " id " << std::get<4>(k);
        const rapidjson::Value &tunnel = (*it->second)["tunnel"];
        const std::string action = str(d, {"event", "action"});
        SCOPED_TRACE(action);
        if (action == "connection-accepted") {
            ++accepted[k];
            expect_tunnel_fields(d, tunnel, "to_server");  // the client's ACK completes the handshake
        } else if (const rapidjson::Value *sig = at(d, {"flowsentry", "signature", "id"})) {
            const std::string direction = str(d, {"flowsentry", "direction"});
            signatures[k].insert({sig->GetUint(), direction});
            expect_tunnel_fields(d, tunnel, direction.c_str());  // the packet that completed the match
        } else if (str(d, {"rule", "name"}) == "Telnet Cleartext Credentials") {
            logins[k].push_back({str(d, {"user", "name"}), str(d, {"event", "outcome"})});
        } else if (action == "connection-end") {
            // Written when the flow leaves the table, after its last packet:
            // only the key's tunnel identity (a tenant's id), checked by the key above.
        } else {
            // Every other document names the tunnel too.
            EXPECT_EQ(str(d, {"flowsentry", "tunnel", "type"}), tunnel["type"].GetString());
        }
    }

    for (const auto &[k, c] : want) {
        SCOPED_TRACE(std::get<0>(k) + ":" + std::to_string(std::get<1>(k)) + " id " + std::to_string(std::get<4>(k)));
        EXPECT_EQ(accepted[k], 1u) << "accepted once";
        std::multiset<std::pair<uint32_t, std::string>> want_sigs;
        for (const auto &s : (*c)["signatures"].GetArray())
            want_sigs.insert({s[0].GetUint(), s[1].GetString()});
        EXPECT_EQ(signatures[k], want_sigs);
        std::vector<std::pair<std::string, std::string>> want_logins;
        for (const auto &l : (*c)["logins"].GetArray())
            want_logins.push_back({l[0].GetString(), l[1].GetString()});
        EXPECT_EQ(logins[k], want_logins);
    }

    // Every packet decoded; each layer counted once per packet carrying it.
    uint64_t packets = 0;
    for (const char *layer : kLayers) {
        const rapidjson::Value *n = at(truth["layers"], {layer});
        EXPECT_EQ(counter_total(r.stats, std::string("layer.") + layer), n ? n->GetUint64() : 0) << layer;
        packets = std::max<uint64_t>(packets, n ? n->GetUint64() : 0);
    }
    EXPECT_EQ(counter_total(r.stats, "decode.ok"), packets);
    EXPECT_EQ(counter_total(r.stats, "worker.rx_packets"), packets);

    for (const auto &pw : truth["passwords"].GetArray())
        EXPECT_EQ(r.everything.find(pw.GetString()), std::string::npos) << "password in the output";
}

INSTANTIATE_TEST_SUITE_P(Generated, TunnelCapture, ::testing::ValuesIn(kCaptures));

TEST(TunnelCaptures, TenantsWithTheSameInnerAddressesAreTwoConnections)
{
    TempDir tmp;
    const RunOutput r = run(data_dir() / "tunnel_vxlan_tenants.pcap", tmp);
    std::set<std::string> inner;
    std::set<uint64_t> vnis;
    for (const rapidjson::Document &d : r.documents)
        if (str(d, {"event", "action"}) == "connection-accepted") {
            inner.insert(str(d, {"source", "ip"}) + ":" + std::to_string(at(d, {"source", "port"})->GetUint()));
            vnis.insert(at(d, {"flowsentry", "tunnel", "id"})->GetUint64());
        }
    EXPECT_EQ(inner.size(), 1u);  // one inner client ...
    EXPECT_EQ(vnis, (std::set<uint64_t>{5001, 5002}));  // ... in two tenants
    EXPECT_EQ(counter_total(r.stats, "handshake.accepted"), 2u);
}

// Every *.tunnel-truth.json in tests/data is in the list above.
TEST(TunnelCaptures, EveryTruthFileIsTested)
{
    EXPECT_EQ(names_with_suffix(data_dir(), ".tunnel-truth.json"),
              std::set<std::string>(std::begin(kCaptures), std::end(kCaptures)));
}

}  // namespace
