// Telnet payload inspection, end to end: the binary (shipped configuration
// and signature pack) over the generated Telnet captures, checked against
// the generator's truth (tests/data/*.telnet-truth.json), and over the
// third-party Telnet captures, checked against tshark's reassembled
// streams (follow,tcp,raw) read by this test's own small Telnet reader.
// No password of any capture may appear anywhere flowsentry writes.
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "process.hpp"

using namespace flowsentry_test;

namespace {

fs::path source_root() { return env_or_empty("FLOWSENTRY_SOURCE_ROOT"); }

struct Alert {
    std::string rule;
    uint32_t signature = 0;
    std::string direction;
    std::string user;
    std::string outcome;
    std::string client_ip, server_ip;
    unsigned client_port = 0, server_port = 0;
    std::string protocol;
};

struct RunOutput {
    std::vector<Alert> alerts;
    std::string everything;  // output, stderr and stats: where a password must never be
    std::string logs;        // stderr and stats only
    std::string values;      // every string value of the output but the fixed metadata and user.name
};

// String values, recursively, leaving out the objects whose text is ours
// (rule and threat metadata, event, observer) and the login name: what is
// left can only hold bytes that came from the traffic.
void collect_values(const rapidjson::Value &v, std::string &out)
{
    if (v.IsString()) {
        out.append(v.GetString(), v.GetStringLength());
        out.push_back('\n');
    } else if (v.IsArray()) {
        for (const auto &e : v.GetArray())
            collect_values(e, out);
    } else if (v.IsObject()) {
        for (const auto &m : v.GetObject()) {
            const std::string k = m.name.GetString();
            if (k != "rule" && k != "threat" && k != "event" && k != "observer" && k != "user" && k != "message")
                collect_values(m.value, out);
        }
    }
}

RunOutput run(const fs::path &pcap, const TempDir &tmp)
{
    const fs::path out = tmp.path() / (pcap.stem().string() + ".ndjson");
    const fs::path log = tmp.path() / (pcap.stem().string() + ".log");
    const fs::path stats = tmp.path() / (pcap.stem().string() + ".stats.json");
    const std::string cmd = shell_quote(env_or_empty("FLOWSENTRY_BIN")) + " --pcap " + shell_quote(pcap.string()) +
                            " -c " + shell_quote((source_root() / "conf" / "flowsentry.yaml").string()) + " -o " +
                            shell_quote(out.string()) + " --stats-json " + shell_quote(stats.string()) + " >" +
                            shell_quote(log.string()) + " 2>&1";
    std::string ignored;
    const int status = run_command(cmd, &ignored);
    RunOutput r;
    r.logs = read_file(log) + read_file(stats);
    r.everything = read_file(out) + r.logs;
    EXPECT_EQ(status, 0) << cmd << "\n" << read_file(log);
    std::istringstream lines(read_file(out));
    std::string line;
    while (std::getline(lines, line)) {
        rapidjson::Document d;
        d.Parse(line.c_str());
        EXPECT_FALSE(d.HasParseError()) << line;
        if (d.HasParseError())
            continue;
        collect_values(d, r.values);
        if (str(d, {"event", "kind"}) != "alert")
            continue;
        Alert a;
        a.rule = str(d, {"rule", "name"});
        if (const rapidjson::Value *id = at(d, {"flowsentry", "signature", "id"}))
            a.signature = id->GetUint();
        a.direction = str(d, {"flowsentry", "direction"});
        a.user = str(d, {"user", "name"});
        a.outcome = str(d, {"event", "outcome"});
        a.client_ip = str(d, {"source", "ip"});
        a.server_ip = str(d, {"destination", "ip"});
        a.client_port = at(d, {"source", "port"})->GetUint();
        a.server_port = at(d, {"destination", "port"})->GetUint();
        a.protocol = str(d, {"network", "protocol"});
        r.alerts.push_back(a);
    }
    return r;
}

// The generator's passwords are distinctive: nowhere at all. A third-party
// capture's may be a word ("user", "admin") that our own field names and
// texts contain: nowhere in the logs, and in no value that carries traffic.
void expect_no_password(const RunOutput &r, const std::vector<std::string> &passwords, bool distinctive)
{
    for (const std::string &pw : passwords) {
        ASSERT_FALSE(pw.empty());
        const std::string &where = distinctive ? r.everything : r.values;
        EXPECT_EQ(where.find(pw), std::string::npos) << "password '" << pw << "' in the output";
        EXPECT_EQ(r.logs.find(pw), std::string::npos) << "password '" << pw << "' in stderr or stats";
    }
}

}  // namespace

// ------------------------------------------------------------ generated

class GeneratedTelnet : public ::testing::TestWithParam<const char *> {};

TEST_P(GeneratedTelnet, AlertsMatchTheGeneratorsTruth)
{
    const std::string name = GetParam();
    const fs::path data = source_root() / "tests" / "data";
    rapidjson::Document truth;
    truth.Parse(read_file(data / (name + ".telnet-truth.json")).c_str());
    ASSERT_FALSE(truth.HasParseError());
    TempDir tmp;
    const RunOutput r = run(data / (name + ".pcap"), tmp);

    for (const auto &flow : truth["flows"].GetArray()) {
        const unsigned cport = flow["client"][1].GetUint();
        SCOPED_TRACE(cport);
        std::multiset<std::pair<uint32_t, std::string>> sigs;
        std::vector<std::pair<std::string, std::string>> logins;
        int nonstandard = 0;
        for (const Alert &a : r.alerts) {
            if (a.client_port != cport)
                continue;
            if (a.signature != 0) {
                sigs.insert({a.signature, a.direction});
                EXPECT_EQ(a.protocol, "telnet");
            }
            if (a.rule == "Telnet Cleartext Credentials")
                logins.push_back({a.user, a.outcome});
            nonstandard += a.rule == "Telnet on Non-Standard Port";
        }
        std::multiset<std::pair<uint32_t, std::string>> want;
        for (const auto &s : flow["signatures"].GetArray())
            want.insert({s[0].GetUint(), s[1].GetString()});
        EXPECT_EQ(sigs, want);  // each expected signature exactly once, nothing else
        std::vector<std::pair<std::string, std::string>> want_logins;
        for (const auto &l : flow["logins"].GetArray())
            want_logins.push_back({l[0].GetString(), l[1].GetString()});
        EXPECT_EQ(logins, want_logins);
        EXPECT_EQ(nonstandard, flow["nonstandard_port"].GetBool() ? 1 : 0);
    }
    std::set<std::string> brute, want_brute;
    for (const Alert &a : r.alerts)
        if (a.rule == "Telnet Brute Force")
            brute.insert(a.client_ip);
    for (const auto &ip : truth["brute_force_sources"].GetArray())
        want_brute.insert(ip.GetString());
    EXPECT_EQ(brute, want_brute);

    std::vector<std::string> passwords;
    for (const auto &p : truth["passwords"].GetArray())
        passwords.push_back(p.GetString());
    expect_no_password(r, passwords, true);
}

INSTANTIATE_TEST_SUITE_P(Captures, GeneratedTelnet,
                         ::testing::Values("telnet_mirai_23", "telnet_mirai_2323", "telnet_mirai_1byte",
                                           "telnet_mirai_iac_nop", "telnet_mirai_out_of_order",
                                           "telnet_login_retry", "telnet_brute_force", "http_telnet_strings",
                                           "telnet_nonstandard_port", "telnet_mirai_midstream_23",
                                           "telnet_mirai_midstream_2323"));

TEST(GeneratedTelnet, HttpWithTelnetStringsRaisesNoTelnetAlert)
{
    TempDir tmp;
    const RunOutput r = run(source_root() / "tests" / "data" / "http_telnet_strings.pcap", tmp);
    for (const Alert &a : r.alerts)
        ADD_FAILURE() << "alert on HTTP: " << a.rule;
}

// Every *.telnet-truth.json in tests/data is in the list above.
TEST(GeneratedTelnet, EveryTruthFileIsTested)
{
    const std::string suffix = ".telnet-truth.json";
    std::set<std::string> on_disk;
    for (const auto &e : fs::directory_iterator(source_root() / "tests" / "data")) {
        const std::string f = e.path().filename().string();
        if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0)
            on_disk.insert(f.substr(0, f.size() - suffix.size()));
    }
    EXPECT_EQ(on_disk, (std::set<std::string>{"telnet_mirai_23", "telnet_mirai_2323", "telnet_mirai_1byte",
                                              "telnet_mirai_iac_nop", "telnet_mirai_out_of_order",
                                              "telnet_login_retry", "telnet_brute_force", "http_telnet_strings",
                                              "telnet_nonstandard_port", "telnet_mirai_midstream_23",
                                              "telnet_mirai_midstream_2323"}));
}

// ------------------------------------------------------------ third party

namespace {

// One direction of a stream as tshark reassembled it.
struct Side {
    std::string raw;
    std::string data;  // IAC sequences taken out (this test's own reader)
};

struct TsharkStream {
    unsigned port[2] = {0, 0};  // node 0, node 1
    Side side[2];
};

std::string unhex(const std::string &h)
{
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
        out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
}

// RFC 854 data: drop IAC x, IAC WILL/WONT/DO/DONT x, IAC SB ... IAC SE; IAC IAC is 0xFF.
std::string telnet_data(const std::string &raw)
{
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
        const auto b = static_cast<unsigned char>(raw[i]);
        if (b != 0xFF) {
            out.push_back(raw[i]);
            continue;
        }
        if (i + 1 >= raw.size())
            break;
        const auto c = static_cast<unsigned char>(raw[++i]);
        if (c == 0xFF) {
            out.push_back(raw[i]);
        } else if (c >= 0xFB) {
            ++i;
        } else if (c == 0xFA) {
            size_t j = i + 1;
            while (j + 1 < raw.size() && !(raw[j] == '\xFF' && raw[j + 1] == '\xF0'))
                ++j;
            i = j + 1;
        }
    }
    return out;
}

std::vector<TsharkStream> tshark_streams(const fs::path &pcap)
{
    std::vector<TsharkStream> out;
    std::string ids;
    run_command("tshark -n -r " + shell_quote(pcap.string()) + " -T fields -e tcp.stream 2>/dev/null | sort -un", &ids);
    std::istringstream idl(ids);
    std::string id;
    while (std::getline(idl, id)) {
        if (id.empty())
            continue;
        std::string text;
        run_command("tshark -n -r " + shell_quote(pcap.string()) + " -q -z follow,tcp,raw," + id + " 2>/dev/null",
                    &text);
        TsharkStream s;
        std::istringstream lines(text);
        std::string line;
        while (std::getline(lines, line)) {
            for (int n = 0; n < 2; ++n) {
                const std::string tag = "Node " + std::to_string(n) + ": ";
                if (line.rfind(tag, 0) == 0)
                    s.port[n] = static_cast<unsigned>(std::stoul(line.substr(line.rfind(':') + 1)));
            }
            if (line.empty() || line[0] == '=' || line.find(':') != std::string::npos)
                continue;
            const bool from_node1 = line[0] == '\t';
            s.side[from_node1].raw += unhex(line.substr(from_node1 ? 1 : 0));
        }
        for (Side &sd : s.side)
            sd.data = telnet_data(sd.raw);
        out.push_back(s);
    }
    return out;
}

bool has_negotiation(const std::string &raw)
{
    for (size_t i = 0; i + 2 < raw.size(); ++i)
        if (raw[i] == '\xFF' && static_cast<unsigned char>(raw[i + 1]) >= 0xFB &&
            static_cast<unsigned char>(raw[i + 2]) <= 0x27)
            return true;
    return false;
}

// The client's lines (backspaces applied); its second line is what it
// typed at the password prompt (the first is its user name).
std::vector<std::string> client_lines(const std::string &data)
{
    std::vector<std::string> lines;
    std::string cur;
    for (char ch : data) {
        if (ch == '\r' || ch == '\n' || ch == '\0') {
            if (!cur.empty())
                lines.push_back(cur);
            cur.clear();
        } else if (ch == '\x7f' || ch == '\b') {
            if (!cur.empty())
                cur.pop_back();
        } else {
            cur.push_back(ch);
        }
    }
    if (!cur.empty())
        lines.push_back(cur);
    return lines;
}

struct SharedTelnet {
    const char *file;
    unsigned telnet_port;
};

}  // namespace

class SharedTelnetCapture : public ::testing::TestWithParam<SharedTelnet> {};

TEST_P(SharedTelnetCapture, NegotiationAndPromptsWhereTsharkShowsThem)
{
    const fs::path pcap = fs::path(env_or_empty("FLOWSENTRY_SHARED_PCAPS")) / GetParam().file;
    ASSERT_TRUE(fs::exists(pcap)) << pcap;
    const unsigned port = GetParam().telnet_port;
    std::vector<TsharkStream> streams;
    for (const TsharkStream &s : tshark_streams(pcap))
        if (s.port[0] == port || s.port[1] == port)
            streams.push_back(s);
    ASSERT_EQ(streams.size(), 1u) << "INVENTORY.md lists one Telnet stream";
    const TsharkStream &s = streams[0];
    const int server = s.port[1] == port ? 1 : 0;
    const Side &to_client = s.side[server], &to_server = s.side[1 - server];

    TempDir tmp;
    const RunOutput r = run(pcap, tmp);
    std::set<std::pair<uint32_t, bool>> seen;  // signature, sent by the server
    std::set<uint32_t> seen_any;
    for (const Alert &a : r.alerts) {
        if (a.signature == 0)
            continue;
        // Direction as tshark orients it: the Telnet port is the server.
        const bool client_is_first_sender = a.server_port == port;
        const bool from_server = client_is_first_sender ? a.direction == "to_client" : a.direction == "to_server";
        seen.insert({a.signature, from_server});
        seen_any.insert(a.signature);
    }
    const bool neg_server = has_negotiation(to_client.raw), neg_client = has_negotiation(to_server.raw);
    EXPECT_TRUE(neg_server || neg_client) << "INVENTORY.md: these captures carry IAC";
    EXPECT_EQ(seen.count({2300001, true}), neg_server ? 1u : 0u);
    EXPECT_EQ(seen.count({2300001, false}), neg_client ? 1u : 0u);
    const std::regex login(R"((^|[\r\n])[^\r\n]{0,64}(login|user ?name): ?)", std::regex::icase);
    const std::regex password(R"(pass(word|code): ?)", std::regex::icase);
    EXPECT_EQ(seen_any.count(2300018), std::regex_search(to_client.data, login) ? 1u : 0u);
    EXPECT_EQ(seen_any.count(2300019), std::regex_search(to_client.data, password) ? 1u : 0u);

    // What the client typed on the line after its user name: the password.
    const std::vector<std::string> typed = client_lines(to_server.data);
    std::vector<std::string> passwords;
    if (std::regex_search(to_client.data, password) && typed.size() >= 2)
        passwords.push_back(typed[1]);
    EXPECT_FALSE(passwords.empty() && std::regex_search(to_client.data, password)) << "no password line found";
    expect_no_password(r, passwords, false);
}

INSTANTIATE_TEST_SUITE_P(
    Shared, SharedTelnetCapture,
    ::testing::Values(SharedTelnet{"ntop__nDPI__telnet.pcap", 23},
                      SharedTelnet{"ShellCode33__CredSLayer__telnet-raw.pcap", 23},
                      SharedTelnet{"ShellCode33__CredSLayer__telnet-raw2.pcap", 23},
                      SharedTelnet{"ShellCode33__CredSLayer__telnet.pcap", 23},
                      SharedTelnet{"realjimmy__sample-captures__telnet_port_1099.pcap", 1099},
                      SharedTelnet{"pdudotdev__eos_methods__telnet.pcap", 23}),
    [](const ::testing::TestParamInfo<SharedTelnet> &info) {
        std::string n = info.param.file;
        n = n.substr(0, n.find(".pcap"));
        for (char &ch : n)
            if (!isalnum(static_cast<unsigned char>(ch)))
                ch = '_';
        return n;
    });
