// The payload inspector inside the worker pipeline, on the generated Telnet
// captures (truth from scripts/gen-telnet-captures.py), plus pool bounds,
// reload under RCU, and the control thread's brute-force and thresholds.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <hs/hs.h>
#include <pcap/pcap.h>
#include <rapidjson/document.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "flowsentry/control.hpp"
#include "flowsentry/payload_inspector.hpp"
#include "flowsentry/telnet_control.hpp"
#include "flowsentry/worker.hpp"

using namespace flowsentry;

namespace {

std::string source_path(const std::string &rel)
{
    const char *root = std::getenv("FLOWSENTRY_SOURCE_ROOT");
    return std::string(root ? root : "..") + "/" + rel;
}

Config inspection_config(const std::string &pack = source_path("conf/signatures/telnet.yaml"))
{
    Config c;
    c.flow_table.capacity = 1024;
    c.alert_ring_size = 8192;
    c.inspection.signature_packs = {pack};
    c.inspection.signature_cache.clear();  // every rig compiles: a cache would hide a slow compile
    c.inspection.flows_per_worker = 64;
    return c;
}

// A worker with an engine of its own. Its id is 0 (the engine's only RCU
// thread), so rigs never live side by side: rte names are per id.
struct Rig {
    explicit Rig(Config c) : config(std::move(c)), engine(config, 1), settings(make_worker_settings(config))
    {
        settings.inspection = &engine;
        worker = std::make_unique<Worker>(0, config, settings, 0);
    }
    Worker &w() { return *worker; }
    Config config;
    InspectionEngine engine;
    WorkerSettings settings;
    std::unique_ptr<Worker> worker;
};

void feed(Worker &w, const std::string &capture)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(source_path("tests/data/" + capture + ".pcap").c_str(), err);
    ASSERT_NE(p, nullptr) << err;
    pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(p, &h, &data) == 1) {
        const uint64_t t = static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull + h->ts.tv_usec * 1000ull;
        w.handle_frame(data, h->caplen, t, 0);
        w.expire(t);
    }
    pcap_close(p);
}

// The control thread's reload, waited for: the compile thread builds the
// generation, finish_reload() publishes it.
bool reload_now(InspectionEngine &engine, std::string &error)
{
    if (!engine.start_reload())
        return false;
    InspectionEngine::ReloadOutcome outcome;
    while ((outcome = engine.finish_reload(error)) == InspectionEngine::ReloadOutcome::none)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return outcome == InspectionEngine::ReloadOutcome::swapped;
}

std::vector<EventRecord> drain(Worker &w)
{
    std::vector<EventRecord> out;
    EventRecord rec;
    while (rte_ring_sc_dequeue_elem(w.events(), &rec, sizeof(rec)) == 0)
        out.push_back(rec);
    return out;
}

struct FlowTruth {
    std::set<std::pair<uint32_t, std::string>> signatures;
    std::vector<std::pair<std::string, std::string>> logins;
    bool nonstandard_port;
};

std::map<uint16_t, FlowTruth> load_truth(const std::string &capture, std::vector<std::string> *passwords = nullptr)
{
    std::ifstream in(source_path("tests/data/" + capture + ".telnet-truth.json"));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    rapidjson::Document d;
    d.Parse(text.c_str());
    if (d.HasParseError() || !d.IsObject())
        throw std::runtime_error("bad truth for " + capture);
    std::map<uint16_t, FlowTruth> out;
    for (const auto &f : d["flows"].GetArray()) {
        FlowTruth t;
        for (const auto &s : f["signatures"].GetArray())
            t.signatures.insert({s[0].GetUint(), s[1].GetString()});
        for (const auto &l : f["logins"].GetArray())
            t.logins.push_back({l[0].GetString(), l[1].GetString()});
        t.nonstandard_port = f["nonstandard_port"].GetBool();
        out[static_cast<uint16_t>(f["client"][1].GetUint())] = t;
    }
    if (passwords != nullptr)
        for (const auto &p : d["passwords"].GetArray())
            passwords->push_back(p.GetString());
    return out;
}

const char *dir_name(uint8_t d) { return d == 0 ? "to_server" : "to_client"; }

}  // namespace

TEST(PayloadInspector, GeneratedCapturesMatchTheirTruth)
{
    for (const char *name : {"telnet_mirai_23", "telnet_mirai_2323", "telnet_mirai_1byte", "telnet_mirai_iac_nop",
                             "telnet_mirai_out_of_order", "telnet_login_retry", "telnet_brute_force",
                             "http_telnet_strings", "telnet_nonstandard_port"}) {
        SCOPED_TRACE(name);
        std::vector<std::string> passwords;
        const auto truth = load_truth(name, &passwords);
        Rig rig(inspection_config());
        feed(rig.w(), name);
        rig.w().flush();
        std::map<uint16_t, std::multiset<std::pair<uint32_t, std::string>>> sigs;
        std::map<uint16_t, std::vector<std::pair<std::string, std::string>>> logins;
        std::map<uint16_t, int> nonstandard;
        for (const EventRecord &r : drain(rig.w())) {
            if (r.type != EventType::alert)
                continue;
            if (r.rule == RuleId::signature)
                sigs[r.client_port].insert({r.signature_id, dir_name(r.direction)});
            if (r.rule == RuleId::telnet_cleartext_credentials)
                logins[r.client_port].push_back(
                    {std::string(r.user_name, r.user_name_len),
                     login_outcome_name(static_cast<LoginOutcome>(r.login_outcome))});
            if (r.rule == RuleId::telnet_nonstandard_port)
                ++nonstandard[r.client_port];
            // Records never carry a password, in any field.
            const std::string raw(reinterpret_cast<const char *>(&r), sizeof r);
            for (const std::string &pw : passwords)
                EXPECT_EQ(raw.find(pw), std::string::npos) << pw;
        }
        for (const auto &[port, t] : truth) {
            SCOPED_TRACE(port);
            const auto &got = sigs[port];
            // Exactly the expected signatures, each exactly once.
            const std::set<std::pair<uint32_t, std::string>> distinct(got.begin(), got.end());
            EXPECT_EQ(distinct, t.signatures);
            EXPECT_EQ(got.size(), t.signatures.size());
            EXPECT_EQ(logins[port], t.logins);
            EXPECT_EQ(nonstandard[port], t.nonstandard_port ? 1 : 0);
        }
        EXPECT_EQ(rig.w().counters().document_drops.get(), 0u);
        EXPECT_EQ(rig.w().counters().inspect_scan_errors.get(), 0u);
    }
}

// Inspection started with the sides the wrong way round (a flow joined
// mid-stream whose server spoke first on an unknown port) starts over when
// the server's prompt re-orients the flow: the login is then seen right.
TEST(PayloadInspector, ReorientationStartsInspectionOverTheRightWayRound)
{
    Rig rig(inspection_config());
    feed(rig.w(), "midstream_reoriented_late");
    rig.w().flush();
    const WorkerCounters &c = rig.w().counters();
    EXPECT_EQ(c.midstream[static_cast<int>(MidstreamOrientation::first_sender)].get(), 1u);
    EXPECT_EQ(c.midstream_reoriented.get(), 1u);
    EXPECT_EQ(c.inspect_flows.get(), 2u);  // once each way round
    std::vector<EventRecord> logins;
    for (const EventRecord &r : drain(rig.w()))
        if (r.type == EventType::alert && r.rule == RuleId::telnet_cleartext_credentials)
            logins.push_back(r);
    ASSERT_EQ(logins.size(), 1u);
    EXPECT_EQ(std::string(logins[0].user_name, logins[0].user_name_len), "operator");
    EXPECT_EQ(static_cast<LoginOutcome>(logins[0].login_outcome), LoginOutcome::success);
    EXPECT_EQ(logins[0].client_port, 40601);
    EXPECT_EQ(logins[0].server_port, 10023);
}

TEST(PayloadInspector, EvasionCapturesExerciseTheirStages)
{
    {
        // The same session with and without IAC commands inside the client's
        // words: exactly the inserted ones more are taken out.
        uint64_t plain = 0;
        {
            Rig rig(inspection_config());
            feed(rig.w(), "telnet_mirai_23");
            plain = rig.w().counters().telnet_commands.get();
        }
        std::ifstream in(source_path("tests/data/telnet_mirai_iac_nop.telnet-truth.json"));
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        rapidjson::Document d;
        d.Parse(text.c_str());
        Rig rig(inspection_config());
        feed(rig.w(), "telnet_mirai_iac_nop");
        EXPECT_EQ(rig.w().counters().telnet_commands.get(), plain + d["iac_commands_inserted"].GetUint());
    }
    {
        Rig rig(inspection_config());
        feed(rig.w(), "telnet_mirai_out_of_order");
        const WorkerCounters &c = rig.w().counters();
        EXPECT_GT(c.reasm_held_chunks.get(), 10u);
        EXPECT_EQ(c.reasm_retransmitted_bytes.get(), 6u);
        EXPECT_EQ(c.reasm_overlap_bytes.get(), 8u);
        EXPECT_EQ(c.reasm_gap_bytes.get(), 0u);
    }
    {
        Rig rig(inspection_config());
        feed(rig.w(), "http_telnet_strings");
        EXPECT_EQ(rig.w().counters().inspect_flows.get(), 0u);  // port 80, no negotiation first: not inspected
        EXPECT_EQ(rig.w().counters().telnet_identified.get(), 0u);
    }
    {
        Rig rig(inspection_config());
        feed(rig.w(), "telnet_nonstandard_port");
        EXPECT_EQ(rig.w().counters().telnet_identified.get(), 1u);
        rig.w().flush();
        size_t telnet_marked = 0;
        for (const EventRecord &r : drain(rig.w()))
            telnet_marked += r.type == EventType::connection_end && r.telnet;
        EXPECT_EQ(telnet_marked, 1u);  // network.protocol: telnet on its end document
    }
}

TEST(PayloadInspector, DepthStopsInspectionAndIsCounted)
{
    Config c = inspection_config();
    c.inspection.depth_to_server = 20;
    Rig rig(c);
    feed(rig.w(), "telnet_mirai_23");
    rig.w().flush();
    std::set<uint32_t> ids;
    for (const EventRecord &r : drain(rig.w()))
        if (r.type == EventType::alert && r.rule == RuleId::signature && r.direction == 0)
            ids.insert(r.signature_id);
    EXPECT_EQ(ids, (std::set<uint32_t>{2300001, 2300007}));  // only the first 20 bytes: the NAWS reply
    EXPECT_GT(rig.w().counters().inspect_depth_bytes.get(), 40u);
}

TEST(PayloadInspector, PoolExhaustionIsCountedNeverFatal)
{
    Config c = inspection_config();
    c.inspection.flows_per_worker = 1;
    c.flow_table.established_timeout_s = 3600;
    Rig rig(c);
    feed(rig.w(), "telnet_brute_force");  // five sessions, one after the other
    EXPECT_EQ(rig.w().counters().inspect_flows.get(), 5u);  // each ends before the next: the state is reused
}

TEST(PayloadInspector, ConcurrentFlowsBeyondThePoolAreCounted)
{
    Config c = inspection_config();
    c.inspection.flows_per_worker = 2;
    Rig rig(c);
    // The captures' flows, interleaved so that three are open at once.
    feed(rig.w(), "telnet_mirai_1byte");
    EXPECT_EQ(rig.w().counters().inspect_flows.get(), 1u);
    // A flow that never closes holds its state; open two more that do not close either.
    auto frames_until_fin = [&](const std::string &capture, uint16_t shift) {
        char err[PCAP_ERRBUF_SIZE];
        pcap_t *p = pcap_open_offline(source_path("tests/data/" + capture + ".pcap").c_str(), err);
        ASSERT_NE(p, nullptr);
        pcap_pkthdr *h;
        const u_char *data;
        while (pcap_next_ex(p, &h, &data) == 1) {
            std::vector<u_char> frame(data, data + h->caplen);
            frame[14 + 12 + 3] = static_cast<u_char>(frame[14 + 12 + 3] + shift);  // another client address
            frame[14 + 16 + 3] = static_cast<u_char>(frame[14 + 16 + 3] + shift);  // either direction
            const uint8_t flags = frame[14 + 20 + 13];
            if (flags & 0x01)
                break;  // stop before the FIN: the flow stays open
            rig.w().handle_frame(frame.data(), h->caplen, 1, 0);
        }
        pcap_close(p);
    };
    frames_until_fin("telnet_login_retry", 1);
    frames_until_fin("telnet_login_retry", 2);
    frames_until_fin("telnet_login_retry", 3);
    EXPECT_EQ(rig.w().counters().inspect_pool_exhausted.get(), 1u);
    EXPECT_GT(rig.w().counters().inspect_unassigned_bytes.get(), 0u);
}

TEST(PayloadInspector, ReloadSwapsUnderRcuAndKeepsTheOldOnError)
{
    const std::string pack = ::testing::TempDir() + "/fs_reload_pack.yaml";
    std::ofstream(pack) << "signatures:\n  - id: 1\n    name: busybox\n    pattern: '/bin/busybox'\n"
                           "    direction: to_server\n";
    Rig rig(inspection_config(pack));
    const InspectionGeneration *first = rig.engine.published();
    feed(rig.w(), "telnet_mirai_23");

    // A new pack: the control thread compiles and publishes; the old
    // generation waits for the worker's quiescent point.
    std::ofstream(pack) << "signatures:\n  - id: 2\n    name: answer\n    pattern: 'applet not found'\n"
                           "    direction: to_client\n";
    std::string error;
    ASSERT_TRUE(reload_now(rig.engine, error)) << error;
    EXPECT_NE(rig.engine.published(), first);
    EXPECT_EQ(rig.engine.retired(), 1u);
    rig.engine.collect();
    EXPECT_EQ(rig.engine.retired(), 1u);  // the worker has not passed a quiescent point yet
    rig.w().expire(0);                    // its poll loop's quiescent point
    rig.engine.collect();
    EXPECT_EQ(rig.engine.retired(), 0u);

    // A bad pack keeps what runs.
    std::ofstream(pack) << "signatures:\n  - id: 3\n    name: bad\n    pattern: '(('\n";
    EXPECT_FALSE(reload_now(rig.engine, error));
    EXPECT_NE(error.find("signature 3: Hyperscan:"), std::string::npos) << error;
    EXPECT_EQ(rig.engine.generation(), 2u);

    // Flows after the swap are scanned with the new signatures only.
    drain(rig.w());
    feed(rig.w(), "telnet_mirai_2323");
    rig.w().flush();
    std::set<uint32_t> ids;
    for (const EventRecord &r : drain(rig.w()))
        if (r.type == EventType::alert && r.rule == RuleId::signature)
            ids.insert(r.signature_id);
    EXPECT_EQ(ids, std::set<uint32_t>{2});
}

TEST(PayloadInspector, OpenFlowsMoveToTheNewGenerationMidStream)
{
    const std::string pack = ::testing::TempDir() + "/fs_midstream_pack.yaml";
    std::ofstream(pack) << "signatures:\n  - id: 1\n    name: query\n    pattern: 'busybox MIRAI'\n";
    Rig rig(inspection_config(pack));
    // Half the session under generation 1 ...
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(source_path("tests/data/telnet_mirai_1byte.pcap").c_str(), err);
    ASSERT_NE(p, nullptr);
    pcap_pkthdr *h;
    const u_char *data;
    int n = 0;
    std::string error;
    while (pcap_next_ex(p, &h, &data) == 1) {
        if (++n == 60) {  // ... the rest under generation 2, with another signature
            std::ofstream(pack) << "signatures:\n  - id: 9\n    name: answer\n    pattern: 'applet not found'\n";
            ASSERT_TRUE(reload_now(rig.engine, error)) << error;
            rig.w().expire(0);
        }
        rig.w().handle_frame(data, h->caplen, 1, 0);
    }
    pcap_close(p);
    rig.w().flush();
    EXPECT_EQ(rig.w().counters().inspect_streams_reopened.get(), 1u);
    std::vector<std::pair<uint32_t, uint32_t>> hits;
    for (const EventRecord &r : drain(rig.w()))
        if (r.type == EventType::alert && r.rule == RuleId::signature)
            hits.push_back({r.signature_id, r.stream_offset});
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].first, 9u);
    // Offsets count from the start of the flow, not of the new stream.
    const std::string server_text = std::string("\r\nlogin: Password: ") +
                                    "\r\n\r\nBusyBox v1.19.4 (2014-05-20 11:03:17 CST) built-in shell (ash)\r\n"
                                    "Enter 'help' for a list of built-in commands.\r\n\r\n# MIRAI: applet not found";
    EXPECT_EQ(hits[0].second, server_text.size());
}

namespace {

// What a finding says, with the user name copied out of the tracker.
struct SeenFinding {
    RuleId rule;
    uint32_t signature_id;
    uint32_t stream_offset;
    uint8_t direction;
    LoginOutcome outcome;
    std::string user;
    bool operator<(const SeenFinding &o) const
    {
        return std::tie(rule, signature_id, stream_offset, direction, outcome, user) <
               std::tie(o.rule, o.signature_id, o.stream_offset, o.direction, o.outcome, o.user);
    }
    bool operator==(const SeenFinding &o) const { return !(*this < o) && !(o < *this); }
};

std::ostream &operator<<(std::ostream &os, const SeenFinding &f)
{
    return os << "{rule " << static_cast<int>(f.rule) << ", signature " << f.signature_id << ", offset "
              << f.stream_offset << ", direction " << int(f.direction) << ", " << login_outcome_name(f.outcome)
              << ", user '" << f.user << "'}";
}

struct CollectingSink final : FindingSink {
    std::vector<SeenFinding> seen;
    void report(const Finding &f) override
    {
        seen.push_back({f.rule, f.signature_id, f.stream_offset, f.direction, f.outcome,
                        std::string(f.user_name ? f.user_name : "", f.user_name_len)});
    }
};

// One message of a conversation: its bytes and where it is cut into
// segments (offsets inside it).
struct Message {
    bool from_client;
    std::string bytes;
    std::vector<size_t> cuts;
};

// A Telnet session straight through one worker's inspector, each message
// in the segments its cuts make; the findings of the whole flow, sorted.
std::vector<SeenFinding> inspect_session(PayloadInspector &inspector, const std::vector<Message> &session)
{
    // The handshake as the worker tracks it: the client is the key's lo side.
    Flow flow{};
    const struct {
        bool from_client;
        uint8_t flags;
        uint32_t seq, ack;
    } handshake[] = {{true, tcp_flag::syn, 1000, 0},
                     {false, tcp_flag::syn | tcp_flag::ack, 5000, 1001},
                     {true, tcp_flag::ack, 1001, 5001}};
    for (const auto &h : handshake) {
        DecodedPacket pkt{};
        pkt.tcp_flags = h.flags;
        pkt.seq = h.seq;
        pkt.ack = h.ack;
        tcp_track(flow.tcp, pkt, h.from_client);
    }
    EXPECT_TRUE(tcp_was_accepted(flow.tcp));
    uint32_t next_seq[2] = {1001, 5001};
    CollectingSink sink;
    for (const Message &m : session) {
        std::vector<size_t> ends = m.cuts;
        ends.push_back(m.bytes.size());
        size_t from = 0;
        for (size_t end : ends) {
            DecodedPacket pkt{};
            pkt.seq = next_seq[m.from_client ? 0 : 1] + static_cast<uint32_t>(from);
            pkt.payload_len = static_cast<uint16_t>(end - from);
            inspector.on_segment(flow, pkt, reinterpret_cast<const uint8_t *>(m.bytes.data()) + from,
                                 m.from_client, true, sink);
            from = end;
        }
        next_seq[m.from_client ? 0 : 1] += static_cast<uint32_t>(m.bytes.size());
    }
    inspector.on_flow_end(flow, sink);
    std::sort(sink.seen.begin(), sink.seen.end());
    return sink.seen;
}

}  // namespace

// Segments without IAC are scanned and tracked where they lie, the others
// through the normaliser's copy: cut anywhere (an IAC apart from its
// command, CR apart from its NUL, a signature or a prompt in two), a
// session gives the findings, offsets and logins it gives whole. (The
// server speaks only after the client answered its prompt: a prompt is
// read where the server pauses, so one cut out of a longer message is a
// pause of its own.)
TEST(PayloadInspector, EveryCutOfASessionGivesTheSameFindings)
{
    Config config = inspection_config();
    InspectionEngine engine(config, 1);
    WorkerCounters counters;
    PayloadInspector inspector(engine, 0, counters);
    using namespace std::string_literals;
    const std::string nop = "\xff\xf1", naws = "\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0"s;
    std::vector<Message> session = {
        {false, "\xff\xfd\x18\xff\xfd\x1f\xff\xfd\x01\r\nBusyBox login: ", {}},
        {true, naws + "root\r\0"s, {}},
        {false, "Pass" + nop + "word: ", {}},
        {true, "xc3511\r\n", {}},
        {false, "\r\nLogin incorrect\r\n\r\nlogin: ", {}},
        {true, "admin\r\n", {}},
        {false, "Password: ", {}},
        {true, "admin\r\n", {}},
        {false, "\r\n\r\nBusyBox v1.19.4 built-in shell (ash)\r\n# ", {}},
        {true, "enable\r\nsystem\r\nshell\r\nsh\r\n/bin/busy" + nop + "box MIRAI\r\n", {}},
        {false, "MIRAI: applet not found\r\n\xff\xff# ", {}},
    };
    const std::vector<SeenFinding> whole = inspect_session(inspector, session);
    std::set<uint32_t> ids;
    size_t logins = 0;
    for (const SeenFinding &f : whole) {
        ids.insert(f.signature_id);
        logins += f.rule == RuleId::telnet_cleartext_credentials;
    }
    // What the pack says of this session: negotiation, Mirai's NAWS reply
    // and credentials, prompts, the failure, the banner, the escape, the
    // query and its answer (0: the two logins).
    EXPECT_EQ(ids, (std::set<uint32_t>{0, 2300001, 2300002, 2300007, 2300008, 2300009, 2300014, 2300015, 2300017,
                                       2300018, 2300019, 2300020, 2300021}));
    EXPECT_EQ(logins, 2u);
    for (Message &m : session) {
        for (size_t a = 1; a < m.bytes.size(); ++a) {
            m.cuts = {a};
            ASSERT_EQ(inspect_session(inspector, session), whole) << "cut at " << a << " of " << m.bytes;
            if (a + 1 < m.bytes.size()) {
                m.cuts = {a, a + 1};  // a one-byte segment
                ASSERT_EQ(inspect_session(inspector, session), whole) << "cuts at " << a << " of " << m.bytes;
            }
        }
        m.cuts.clear();
    }
    EXPECT_EQ(inspector.free_states(), config.inspection.flows_per_worker);
}

// A worker's streams are one block, each flow's four side by side in its
// own piece of it; a stream opened outside the engine still comes from
// the heap and closes as usual.
TEST(InspectionEngine, AFlowsStreamsLieSideBySideInOneBlock)
{
    Config config = inspection_config();
    config.inspection.flows_per_worker = 8;
    InspectionEngine engine(config, 2);
    const InspectionGeneration &gen = *engine.published();
    size_t sizes[2] = {0, 0};
    for (SignatureStream kind : {SignatureStream::data, SignatureStream::raw})
        ASSERT_EQ(hs_stream_size(gen.signatures->database(kind), &sizes[static_cast<int>(kind)]), HS_SUCCESS);
    EXPECT_GE(gen.stream_bytes, 2 * (sizes[0] + sizes[1]));
    EXPECT_LT(gen.stream_bytes, 2 * (sizes[0] + sizes[1]) + 4 * 16);
    for (uint16_t w = 0; w < 2; ++w) {
        const uint8_t *block = reinterpret_cast<const uint8_t *>(gen.stream(w, 0, 0, SignatureStream::data));
        std::vector<std::pair<const uint8_t *, size_t>> pieces;
        for (uint32_t slot = 0; slot < 8; ++slot)
            for (unsigned dir = 0; dir < 2; ++dir)
                for (SignatureStream kind : {SignatureStream::data, SignatureStream::raw}) {
                    const auto *at = reinterpret_cast<const uint8_t *>(gen.stream(w, slot, dir, kind));
                    ASSERT_NE(at, nullptr);
                    EXPECT_EQ(reinterpret_cast<uintptr_t>(at) % 16, 0u);
                    EXPECT_GE(at, block + slot * gen.stream_bytes);
                    EXPECT_LE(at + sizes[static_cast<int>(kind)], block + (slot + 1) * gen.stream_bytes);
                    pieces.push_back({at, sizes[static_cast<int>(kind)]});
                }
        std::sort(pieces.begin(), pieces.end());
        for (size_t i = 1; i < pieces.size(); ++i)
            EXPECT_LE(pieces[i - 1].first + pieces[i - 1].second, pieces[i].first) << i;
    }
    EXPECT_NE(gen.stream(0, 0, 0, SignatureStream::data), gen.stream(1, 0, 0, SignatureStream::data));
    // Scanned and reset in place, as the inspector does.
    hs_scratch_t *scratch = gen.workers[1].scratch;
    size_t matches = 0;
    auto count = [](unsigned, unsigned long long, unsigned long long, unsigned, void *ctx) {
        ++*static_cast<size_t *>(ctx);
        return 0;
    };
    const std::string query = "/bin/busybox MIRAI";
    hs_stream_t *placed = gen.stream(1, 7, 0, SignatureStream::data);
    ASSERT_EQ(hs_scan_stream(placed, query.data(), static_cast<unsigned>(query.size()), 0, scratch, count, &matches),
              HS_SUCCESS);
    EXPECT_EQ(matches, 2u);  // the query and the path to BusyBox
    ASSERT_EQ(hs_reset_stream(placed, 0, scratch, count, &matches), HS_SUCCESS);
    hs_stream_t *heap = nullptr;
    ASSERT_EQ(hs_open_stream(gen.signatures->database(SignatureStream::data), 0, &heap), HS_SUCCESS);
    ASSERT_EQ(hs_scan_stream(heap, query.data(), static_cast<unsigned>(query.size()), 0, scratch, count, &matches),
              HS_SUCCESS);
    EXPECT_EQ(matches, 4u);
    EXPECT_EQ(hs_close_stream(heap, scratch, count, &matches), HS_SUCCESS);
}

TEST(TelnetControl, BruteForceAndThresholds)
{
    const std::string pack = ::testing::TempDir() + "/fs_threshold_pack.yaml";
    std::ofstream(pack) << "signatures:\n  - id: 4\n    name: t\n    pattern: x\n    threshold: {count: 3, seconds: 10}\n"
                           "  - id: 5\n    name: u\n    pattern: y\n";
    Config c = inspection_config(pack);
    InspectionEngine engine(c, 1);
    TelnetControl control(engine, 3, 60);
    std::vector<EventRecord> written;
    auto write = [&](const EventRecord &r) { written.push_back(r); };

    EventRecord failure{};
    failure.type = EventType::alert;
    failure.rule = RuleId::telnet_cleartext_credentials;
    failure.login_outcome = static_cast<uint8_t>(LoginOutcome::failure);
    failure.ip_version = 4;
    failure.client_addr[0] = 198;
    failure.user_name_len = 5;
    std::memcpy(failure.user_name, "admin", 5);
    const uint64_t s = 1000000000ull;
    for (int i = 0; i < 7; ++i) {
        failure.time_ns = (100 + i) * s;
        control.process(failure, write);
    }
    size_t brute = 0;
    for (const EventRecord &r : written) {
        if (r.rule == RuleId::telnet_brute_force) {
            ++brute;
            EXPECT_EQ(r.user_name_len, 0);
        }
    }
    EXPECT_EQ(written.size(), 7u + 2u);  // every credential alert, one brute force per 3 failures
    EXPECT_EQ(brute, 2u);
    // Another source has its own count; old failures age out of the window.
    written.clear();
    failure.client_addr[0] = 10;
    failure.time_ns = 200 * s;
    control.process(failure, write);
    failure.time_ns = 300 * s;
    control.process(failure, write);
    failure.time_ns = 301 * s;
    control.process(failure, write);
    EXPECT_EQ(written.size(), 3u);

    written.clear();
    EventRecord sig{};
    sig.type = EventType::alert;
    sig.rule = RuleId::signature;
    sig.signature_id = 4;
    sig.ip_version = 4;
    for (int i = 0; i < 7; ++i) {
        sig.time_ns = (10 + i) * s;
        control.process(sig, write);
    }
    EXPECT_EQ(written.size(), 2u);  // the 3rd and 6th within the window
    sig.signature_id = 5;
    control.process(sig, write);
    EXPECT_EQ(written.size(), 3u);  // no threshold: every match
}

TEST(TelnetControl, AMillionSourcesInABoundedTableWindowsStillExact)
{
    const std::string pack = ::testing::TempDir() + "/fs_bounded_pack.yaml";
    std::ofstream(pack) << "signatures:\n  - id: 4\n    name: t\n    pattern: x\n";
    Config c = inspection_config(pack);
    InspectionEngine engine(c, 1);
    TelnetControl control(engine, 2, 10, 1024);
    size_t brute = 0;
    auto write = [&](const EventRecord &r) { brute += r.rule == RuleId::telnet_brute_force; };
    EventRecord failure{};
    failure.type = EventType::alert;
    failure.rule = RuleId::telnet_cleartext_credentials;
    failure.login_outcome = static_cast<uint8_t>(LoginOutcome::failure);
    failure.ip_version = 4;
    const uint64_t s = 1000000000ull;
    // A million sources failing once each within one window: each needs a
    // place, the one whose window started first makes room.
    for (uint32_t i = 0; i < 1000000; ++i) {
        std::memcpy(failure.client_addr, &i, 4);
        failure.time_ns = 100 * s + i;
        control.process(failure, write);
    }
    EXPECT_EQ(brute, 0u);
    EXPECT_EQ(control.windows_evicted(), 1000000u - 1024u);
    // The newest are still counted: a second failure completes their window.
    uint32_t recent = 999999;
    std::memcpy(failure.client_addr, &recent, 4);
    failure.time_ns = 100 * s + 999999 + 10 * s;  // exactly the window after its first failure: still in it
    control.process(failure, write);
    EXPECT_EQ(brute, 1u);
    // One failure at the window's edge and one just past it: no alert.
    uint32_t other = 2000000;
    std::memcpy(failure.client_addr, &other, 4);
    failure.time_ns = 200 * s;
    control.process(failure, write);
    failure.time_ns = 210 * s + 1;
    control.process(failure, write);
    EXPECT_EQ(brute, 1u);
    failure.time_ns = 210 * s + 2;  // within 10 s of the window that began at 210 s + 1
    control.process(failure, write);
    EXPECT_EQ(brute, 2u);
}

namespace {

// A pack that keeps Hyperscan busy for a second or more: hundreds of bounded
// repeats, each between literals of its own.
std::string slow_pack(int signatures)
{
    std::string yaml = "signatures:\n";
    for (int i = 1; i <= signatures; ++i) {
        char line[160];
        std::snprintf(line, sizeof line, "  - id: %d\n    name: slow %d\n    pattern: 'k%05dx[^\\r\\n]{0,%d}y%05d'\n", i,
                      i, i, 50 + i % 100, i);
        yaml += line;
    }
    return yaml;
}

}  // namespace

TEST(TelnetControl, DrainGoesOnWhileASlowPackCompiles)
{
    const std::string pack = ::testing::TempDir() + "/fs_slow_reload_pack.yaml";
    std::ofstream(pack) << "signatures:\n  - id: 1\n    name: busybox\n    pattern: '/bin/busybox'\n";
    Rig rig(inspection_config(pack));
    Detections detections(rig.config.detections);
    EcsContext ctx;
    ctx.address_lists = detections.address_lists();
    SinkConfig sink;
    sink.path = ::testing::TempDir() + "/fs_slow_reload.ndjson";
    SinkSet sinks({sink}, "test");
    TelnetControl telnet(rig.engine, 5, 60);
    ControlOptions options;
    options.telnet = &telnet;
    Control control({&rig.w()}, {}, EcsFormatter(ctx), detections, sinks, options);

    std::ofstream(pack) << slow_pack(250);
    request_signature_reload();
    using Clock = std::chrono::steady_clock;
    const auto requested = Clock::now();
    // The worker goes on producing records; each control pass drains them,
    // and no pass waits for the compile.
    size_t drained_while_compiling = 0, passes_while_compiling = 0;
    Clock::duration longest_pass{};
    while (rig.engine.generation() == 1 && Clock::now() - requested < std::chrono::seconds(120)) {
        feed(rig.w(), "telnet_mirai_23");
        const auto before = Clock::now();
        const size_t moved = control.drain();
        longest_pass = std::max(longest_pass, Clock::now() - before);
        if (rig.engine.generation() == 1) {
            drained_while_compiling += moved;
            ++passes_while_compiling;
        }
    }
    const double compile_s = std::chrono::duration<double>(Clock::now() - requested).count();
    const double longest_s = std::chrono::duration<double>(longest_pass).count();
    ASSERT_EQ(rig.engine.generation(), 2u);
    EXPECT_EQ(telnet.reloads(), 1u);
    EXPECT_EQ(rig.engine.signatures().signatures().size(), 250u);
    // Only a slow compile shows anything: it must have taken long.
    ASSERT_GE(compile_s, 0.5) << "the pack compiled too fast to show a blocked drain";
    EXPECT_GE(passes_while_compiling, 10u) << "compile " << compile_s << " s";
    EXPECT_GT(drained_while_compiling, 0u);
    EXPECT_LT(longest_s, compile_s / 4) << "a drain pass waited for the compile";
}

TEST(TelnetControl, ReloadsDuringACompileAreCoalescedIntoOneMore)
{
    const std::string pack = ::testing::TempDir() + "/fs_coalesce_pack.yaml";
    std::ofstream(pack) << slow_pack(120);
    Config c = inspection_config(pack);
    InspectionEngine engine(c, 1);
    TelnetControl telnet(engine, 5, 60);

    request_signature_reload();
    telnet.tick();  // compile 1 starts
    ASSERT_TRUE(engine.reload_running());
    // Three more requests while it runs, the last with a new pack: they
    // make one more compile, of the pack as it is when that one starts.
    for (int i = 0; i < 3; ++i) {
        request_signature_reload();
        telnet.tick();
    }
    // Replaced whole (written aside, renamed), as the running compile may be
    // reading the old one.
    std::ofstream(pack + ".new") << "signatures:\n  - id: 7\n    name: last\n    pattern: 'last'\n";
    ASSERT_EQ(std::rename((pack + ".new").c_str(), pack.c_str()), 0);
    EXPECT_EQ(telnet.reloads_coalesced(), 3u);
    const auto start = std::chrono::steady_clock::now();
    while (telnet.reloads() + telnet.reload_failures() < 2 &&
           std::chrono::steady_clock::now() - start < std::chrono::seconds(120)) {
        telnet.tick();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(telnet.reloads(), 2u);
    EXPECT_EQ(engine.generation(), 3u);
    ASSERT_EQ(engine.signatures().signatures().size(), 1u);
    EXPECT_EQ(engine.signatures().signatures()[0].id, 7u);

    // A bad pack keeps the running signatures.
    std::ofstream(pack) << "signatures:\n  - id: 8\n    name: bad\n    pattern: '(('\n";
    request_signature_reload();
    while (telnet.reload_failures() == 0 && std::chrono::steady_clock::now() - start < std::chrono::seconds(120)) {
        telnet.tick();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(telnet.reload_failures(), 1u);
    EXPECT_EQ(engine.generation(), 3u);
    EXPECT_EQ(engine.signatures().signatures()[0].id, 7u);
}
