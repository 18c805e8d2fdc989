// Integration test of the scale-out paths, the binary run as deployed:
// two workers behind the software spreading lcore find what one worker
// finds; a tap pair (one direction per port) still finds every accepted
// handshake exactly once; telemetry answers while a replay runs; SIGTERM
// mid-replay loses nothing; the testpmd replay script reports JSON.
// Ground truth: the capture generator's truth files (tests/data/*.truth.json).
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "process.hpp"

using namespace flowsentry_test;

namespace {

std::string binary() { return env_or_empty("FLOWSENTRY_BIN"); }
fs::path source_root() { return env_or_empty("FLOWSENTRY_SOURCE_ROOT"); }
fs::path data(const std::string &name) { return source_root() / "tests" / "data" / name; }

void write_text(const fs::path &p, const std::string &text)
{
    std::ofstream(p) << text;
}

// One line per document that says what it reports, without the fields a
// port or a worker changes (observer, ingress interface).
struct Output {
    std::multiset<std::string> documents;
    std::multiset<std::string> accepted;  // "client ip|port|server ip|port"
    size_t ends = 0, ends_at_shutdown = 0;
};

std::string str(const rapidjson::Value &v, const char *a, const char *b)
{
    if (!v.HasMember(a) || !v[a].HasMember(b))
        return "";
    const rapidjson::Value &x = v[a][b];
    return x.IsString() ? x.GetString() : x.IsUint() ? std::to_string(x.GetUint()) : "";
}

Output parse_output(const fs::path &ndjson)
{
    Output out;
    for_each_json_line(read_file(ndjson), [&](const rapidjson::Document &d) {
        const std::string conn = str(d, "source", "ip") + "|" + str(d, "source", "port") + "|" +
                                 str(d, "destination", "ip") + "|" + str(d, "destination", "port");
        const std::string action = str(d, "event", "action");
        out.documents.insert(action + "|" + str(d, "rule", "id") + "|" + conn + "|" +
                             (d.HasMember("@timestamp") ? d["@timestamp"].GetString() : ""));
        if (action == "connection-accepted")
            out.accepted.insert(conn);
        if (action == "connection-end") {
            ++out.ends;
            out.ends_at_shutdown += str(d, "flowsentry", "end_reason") == "shutdown";
        }
    });
    return out;
}

std::multiset<std::string> truth_accepted(const std::string &capture)
{
    rapidjson::Document d;
    const std::string text = read_file(data(capture + ".truth.json"));
    d.Parse(text.c_str());
    EXPECT_FALSE(d.HasParseError());
    std::multiset<std::string> accepted;
    for (const auto &t : d["accepted"].GetArray())
        accepted.insert(std::string(t[0].GetString()) + "|" + std::to_string(t[1].GetUint()) + "|" +
                        t[2].GetString() + "|" + std::to_string(t[3].GetUint()));
    return accepted;
}

rapidjson::Document parse_json(const std::string &text)
{
    rapidjson::Document d;
    d.Parse(text.c_str());
    EXPECT_FALSE(d.HasParseError()) << text;
    return d;
}

// Replays `pcaps` (one port each) with `workers`; returns the exit status.
int replay(const std::vector<fs::path> &pcaps, unsigned workers, const TempDir &tmp, const std::string &tag,
           std::string *err = nullptr)
{
    const fs::path conf = tmp.path() / (tag + ".yaml");
    write_text(conf, "workers: " + std::to_string(workers) + "\n");
    std::string args;
    for (const fs::path &p : pcaps)
        args += " --pcap " + shell_quote(p.string());
    const fs::path err_file = tmp.path() / (tag + ".err");
    std::string ignored;
    const int status = run_command(shell_quote(binary()) + args + " -c " + shell_quote(conf.string()) + " -o " +
                                       shell_quote((tmp.path() / (tag + ".ndjson")).string()) + " --stats-json " +
                                       shell_quote((tmp.path() / (tag + ".json")).string()) + " 2>" +
                                       shell_quote(err_file.string()),
                                   &ignored);
    if (err)
        *err = read_file(err_file);
    return status;
}

uint64_t counter(const rapidjson::Value &worker, const char *name) { return worker[name].GetUint64(); }

}  // namespace

TEST(Spreading, TwoWorkersFindWhatOneWorkerFinds)
{
    for (const char *capture : {"many_flows", "demo"}) {
        SCOPED_TRACE(capture);
        TempDir tmp;
        std::string err;
        ASSERT_EQ(replay({data(std::string(capture) + ".pcap")}, 1, tmp, "one", &err), 0) << err;
        ASSERT_EQ(replay({data(std::string(capture) + ".pcap")}, 2, tmp, "two", &err), 0) << err;
        const Output one = parse_output(tmp.path() / "one.ndjson"), two = parse_output(tmp.path() / "two.ndjson");
        EXPECT_EQ(one.accepted, truth_accepted(capture));
        EXPECT_EQ(two.accepted, truth_accepted(capture));
        EXPECT_GT(two.documents.size(), 0u);
        EXPECT_EQ(one.documents, two.documents);

        // Both workers had packets: the spreading lcore really spread them,
        // and lost none.
        const rapidjson::Document stats = parse_json(read_file(tmp.path() / "two.json"));
        ASSERT_EQ(stats["workers"].Size(), 2u);
        const uint64_t rx0 = counter(stats["workers"][0], "worker.rx_packets");
        const uint64_t rx1 = counter(stats["workers"][1], "worker.rx_packets");
        EXPECT_GT(rx0, 0u);
        EXPECT_GT(rx1, 0u);
        EXPECT_EQ(stats["ports"][0]["mode"].GetString(), std::string("spread"));
        EXPECT_EQ(stats["spreader"]["rx_packets"].GetUint64(), rx0 + rx1);
        EXPECT_EQ(stats["spreader"]["ring_drops"].GetUint64(), 0u);
    }
}

TEST(TapPair, EveryAcceptedHandshakeFoundExactlyOnce)
{
    TempDir tmp;
    const fs::path c2s = tmp.path() / "c2s.pcap", s2c = tmp.path() / "s2c.pcap";
    std::string out;
    ASSERT_EQ(run_command("/usr/bin/python3 " + shell_quote((source_root() / "scripts" / "split-tap.py").string()) +
                              " " + shell_quote(data("many_flows.pcap").string()) + " " + shell_quote(c2s.string()) +
                              " " + shell_quote(s2c.string()),
                          &out),
              0)
        << out;
    // The split is real: tshark sees both files non-empty, adding up to the
    // original, and no SYN-ACK among the client's packets.
    auto frames = [](const fs::path &p, const std::string &filter) {
        std::string n;
        run_command("tshark -r " + shell_quote(p.string()) + (filter.empty() ? "" : " -Y " + shell_quote(filter)) +
                        " 2>/dev/null | wc -l",
                    &n);
        return std::stoul(n);
    };
    const unsigned long a = frames(c2s, ""), b = frames(s2c, "");
    EXPECT_GT(a, 0u);
    EXPECT_GT(b, 0u);
    EXPECT_EQ(a + b, frames(data("many_flows.pcap"), ""));
    EXPECT_EQ(frames(c2s, "tcp.flags.syn == 1 && tcp.flags.ack == 1"), 0u);

    for (unsigned workers : {1u, 2u}) {
        SCOPED_TRACE(workers);
        const std::string tag = "tap" + std::to_string(workers);
        std::string err;
        ASSERT_EQ(replay({c2s, s2c}, workers, tmp, tag, &err), 0) << err;
        const Output o = parse_output(tmp.path() / (tag + ".ndjson"));
        EXPECT_EQ(o.accepted, truth_accepted("many_flows"));  // a multiset: exactly once each
        const rapidjson::Document stats = parse_json(read_file(tmp.path() / (tag + ".json")));
        EXPECT_EQ(stats["ports"].Size(), 2u);
        EXPECT_EQ(stats["spreader"]["rx_packets"].GetUint64(), a + b);
    }
}

// The Telnet Scan alerts of a replay, whole documents, in a stable order.
std::multiset<std::string> scan_alerts(const fs::path &ndjson)
{
    std::multiset<std::string> alerts;
    std::istringstream lines(read_file(ndjson));
    for (std::string line; std::getline(lines, line);)
        if (line.find("\"name\":\"Telnet Scan\"") != std::string::npos)
            alerts.insert(line);
    return alerts;
}

TEST(Spreading, ScanAlertsAreTheSameForOneTwoAndFourWorkers)
{
    // An infected IoT host sweeping random addresses on 23 and 2323: its
    // (client, server) pairs spread over the workers, each of which counts
    // its share; the control thread's merge gives one worker's alerts.
    const char *shared = std::getenv("FLOWSENTRY_SHARED_PCAPS");
    ASSERT_NE(shared, nullptr);
    const fs::path capture = fs::path(shared) / "stratosphereips__StratosphereLinuxIPS__test7-malicious.pcap";
    TempDir tmp;
    std::string err;
    ASSERT_EQ(replay({capture}, 1, tmp, "one", &err), 0) << err;
    const std::multiset<std::string> one = scan_alerts(tmp.path() / "one.ndjson");
    // tshark: 81 Telnet SYNs from 192.168.2.16 to distinct servers over
    // about three minutes, more than 5 servers in every minute.
    EXPECT_EQ(one.size(), 3u);
    for (unsigned workers : {2u, 4u}) {
        const std::string tag = "w" + std::to_string(workers);
        ASSERT_EQ(replay({capture}, workers, tmp, tag, &err), 0) << err;
        EXPECT_EQ(scan_alerts(tmp.path() / (tag + ".ndjson")), one) << workers << " workers";
        const rapidjson::Document stats = parse_json(read_file(tmp.path() / (tag + ".json")));
        EXPECT_GE(stats["detections"]["scan_watches"].GetUint64(), 1u);
        EXPECT_EQ(stats["detections"]["scan_reorder_full"].GetUint64(), 0u);
    }
}

TEST(Spreading, OneTwoAndFourWorkersWriteTheSameBytes)
{
    // Records reach the control thread in whatever order its passes over
    // the workers' rings take them; it puts them back in packet-time order
    // before throttling, brute force, thresholds and the scan window see
    // them, and writes them in that order: the same bytes. Every shared
    // capture and three generated ones with many flows.
    const char *shared = std::getenv("FLOWSENTRY_SHARED_PCAPS");
    ASSERT_NE(shared, nullptr);
    std::vector<fs::path> captures = {data("many_flows.pcap"), data("telnet_brute_force.pcap"),
                                      data("telnet_pairs.pcap")};
    for (const auto &entry : fs::directory_iterator(shared))
        if (entry.path().extension() == ".pcap")
            captures.push_back(entry.path());
    for (const fs::path &capture : captures) {
        SCOPED_TRACE(capture.filename().string());
        TempDir tmp;
        std::string err;
        ASSERT_EQ(replay({capture}, 1, tmp, "w1", &err), 0) << err;
        const std::string one = read_file(tmp.path() / "w1.ndjson");
        for (unsigned workers : {2u, 4u}) {
            const std::string tag = "w" + std::to_string(workers);
            ASSERT_EQ(replay({capture}, workers, tmp, tag, &err), 0) << err;
            EXPECT_EQ(read_file(tmp.path() / (tag + ".ndjson")), one) << workers << " workers";
        }
    }
}

TEST(ScanWave, EveryAcceptedConnectionAndEveryScannerIsReported)
{
    // scripts/scan-wave.sh checks a replay against the generator's truth:
    // 20,000 SYNs from 5,000 sources, 200 accepted Telnet sessions, 20
    // sweeping scanners; one and two workers write the same documents.
    std::set<std::string> document_sets;
    for (const char *workers : {"1", "2"}) {
        std::string out;
        const int status =
            run_command("cd " + shell_quote(source_root().string()) + " && FLOWSENTRY_BUILD=" +
                            shell_quote(fs::path(binary()).parent_path().string()) +
                            " scripts/scan-wave.sh offline " + workers + " 20000 5000 200 2>&1",
                        &out);
        EXPECT_EQ(status, 0) << out;
        EXPECT_NE(out.find("\"problems\": []"), std::string::npos) << out;
        EXPECT_NE(out.find("\"document_drops\": 0"), std::string::npos) << out;
        const size_t at = out.find("\"documents_sha256\": \"");
        ASSERT_NE(at, std::string::npos) << out;
        document_sets.insert(out.substr(at, 90));
    }
    EXPECT_EQ(document_sets.size(), 1u);
}

TEST(ReplayOutput, ASinkQueueSmallerThanTheOutputLosesNothing)
{
    // A replay writes faster than any sink: it waits for the sink's queue
    // rather than drop. The end of a replay releases the whole reorder heap
    // at once, which with the shipped signature pack is tens of megabytes:
    // it reached a sink as one piece, bigger than the default 64 MiB queue,
    // and was dropped whole (65,536 documents of a 20,000-session replay).
    // Here a 64 KiB queue makes a small capture show the same.
    TempDir tmp;
    const fs::path capture = tmp.path() / "telnet.pcap";
    std::string out;
    ASSERT_EQ(run_command("/usr/bin/python3 " + shell_quote((source_root() / "scripts" / "gen-traffic").string()) +
                              " telnet-heavy " + shell_quote(capture.string()) + " --flows 1000 2>&1",
                          &out),
              0)
        << out;
    rapidjson::Document truth = parse_json(read_file(capture.string() + ".json"));
    const fs::path ndjson = tmp.path() / "out.ndjson";
    const fs::path conf = tmp.path() / "small-queue.yaml";
    write_text(conf, "workers: 1\ntelnet:\n  signature_packs: [" +
                         (source_root() / "conf" / "signatures" / "telnet.yaml").string() +
                         "]\nsinks:\n  - type: file\n    path: " + ndjson.string() + "\n    queue_bytes: 65536\n");
    const int status = run_command(shell_quote(binary()) + " --pcap " + shell_quote(capture.string()) + " -c " +
                                       shell_quote(conf.string()) + " --stats-json " +
                                       shell_quote((tmp.path() / "stats.json").string()) + " 2>&1",
                                   &out);
    EXPECT_EQ(status, 0) << out;
    EXPECT_EQ(out.find("output lost"), std::string::npos) << out;
    size_t accepted = 0, telnet_alerts = 0, lines = 0;
    for_each_json_line(read_file(ndjson), [&](const rapidjson::Document &d) {
        ++lines;
        accepted += str(d, "event", "action") == "connection-accepted";
        // Port 23, and the 2323 sessions of the capture as Telnet elsewhere.
        const std::string rule = str(d, "rule", "name");
        telnet_alerts += rule == "Accepted Default Telnet Port Connection" || rule == "Telnet on Non-Standard Port";
    });
    EXPECT_EQ(accepted, truth["accepted"].GetUint());
    EXPECT_EQ(telnet_alerts, truth["telnet_accepted"].GetUint());
    const rapidjson::Document stats = parse_json(read_file(tmp.path() / "stats.json"));
    ASSERT_TRUE(stats.HasMember("outputs")) << read_file(tmp.path() / "stats.json");
    EXPECT_EQ(stats["outputs"][0]["dropped"].GetUint64(), 0u);
    EXPECT_EQ(stats["outputs"][0]["lines"].GetUint64(), lines);
    EXPECT_GT(lines, 10000u);  // far more than the queue holds
}

TEST(ScanWave, ControlWorkGoesOnUnderALiveWave)
{
    // A wave looping at the workers' full rate: Mirai-marked SYNs from
    // thousands of sources keep the document ring busy (a Mirai SYN alert
    // each). The control loop
    // takes a bounded share of each ring per pass, so the stats line, the
    // --bench deadline and the stats JSON still come, on time.
    TempDir tmp;
    const fs::path capture = tmp.path() / "wave.pcap";
    std::string out;
    ASSERT_EQ(run_command("/usr/bin/python3 " + shell_quote((source_root() / "scripts" / "gen-traffic").string()) +
                              " scan-wave " + shell_quote(capture.string()) +
                              " --flows 40000 --sources 40000 --accepted 100 2>&1",
                          &out),
              0)
        << out;
    const fs::path conf = tmp.path() / "wave.yaml";
    // A table smaller than the wave: every loop makes its flows anew.
    write_text(conf, "workers: 1\nmempool:\n  mbufs: 65535\nflow_table:\n  capacity: 4096\nstats:\n  interval: 1\n");
    const std::string prefix = "--file-prefix=fs-wave-" + std::to_string(getpid());
    const auto started = std::chrono::steady_clock::now();
    const int status = run_command(
        "timeout -k 5 30 " + shell_quote(binary()) + " --no-huge --no-pci -m 1024 " + prefix +
            " --lcores 0@0,1@1 --log-level=warning --vdev " +
            shell_quote("net_pcap0,rx_pcap=" + capture.string() + ",infinite_rx=1") + " -- -c " +
            shell_quote(conf.string()) + " -o /dev/null --stats-json " +
            shell_quote((tmp.path() / "wave.json").string()) + " --bench 3 2>&1",
        &out);
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    // It stopped by itself (not the timeout's 124 or a signal): 0, or 1 when
    // an overloaded machine made the output lose lines, which it then says.
    EXPECT_TRUE(status == 0 || (status == 1 && out.find("output lost:") != std::string::npos)) << out;
    EXPECT_LT(took, 20.0) << out;
    size_t stats_lines = 0;
    for (size_t at = out.find("flowsentry: stats rx="); at != std::string::npos;
         at = out.find("flowsentry: stats rx=", at + 1))
        ++stats_lines;
    EXPECT_GE(stats_lines, 2u) << out;
    const rapidjson::Document stats = parse_json(read_file(tmp.path() / "wave.json"));
    ASSERT_TRUE(stats.IsObject());
    EXPECT_GT(stats["run_seconds"].GetDouble(), 2.5);
    EXPECT_LT(stats["run_seconds"].GetDouble(), 5.0);
}

namespace {

// A live run: flowsentry in the background on a net_pcap port that loops
// over its file (infinite_rx=1) through the spreading lcore.
class LiveRun {
public:
    LiveRun(const TempDir &tmp, const fs::path &capture, unsigned workers)
        : prefix_("fs-scale-" + std::to_string(getpid())), ndjson_(tmp.path() / "live.ndjson"),
          stats_(tmp.path() / "live.json"), err_(tmp.path() / "live.err")
    {
        const fs::path conf = tmp.path() / "live.yaml";
        write_text(conf, "workers: " + std::to_string(workers) + "\n");
        std::string lcores = "0@0";
        for (unsigned l = 1; l <= workers + 1; ++l)
            lcores += "," + std::to_string(l) + "@" + std::to_string(l % 2);
        pid_ = fork();
        if (pid_ == 0) {
            // Never outlive the test, even when the test itself is killed
            // (a timeout): the port loops over its file forever.
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            const std::string vdev = "net_pcap0,rx_pcap=" + capture.string() + ",infinite_rx=1";
            const std::string prefix = "--file-prefix=" + prefix_;
            if (!freopen(err_.c_str(), "w", stderr))
                _exit(127);
            execl(binary().c_str(), "flowsentry", "--no-huge", "--no-pci", "-m", "1024", prefix.c_str(), "--lcores",
                  lcores.c_str(), "--log-level=warning", "--vdev", vdev.c_str(), "--", "-c", conf.c_str(), "-o",
                  ndjson_.c_str(), "--stats-json", stats_.c_str(), static_cast<char *>(nullptr));
            _exit(127);
        }
    }
    ~LiveRun()
    {
        if (pid_ > 0 && !waited_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        std::error_code ec;
        fs::remove_all("/var/run/dpdk/" + prefix_, ec);
    }
    // Signals it and returns its exit status (-1: did not exit by itself).
    int stop(int signo)
    {
        kill(pid_, signo);
        int status = 0;
        for (int i = 0; i < 300; ++i) {
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                waited_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return -1;
    }
    fs::path socket_path() const { return "/var/run/dpdk/" + prefix_ + "/dpdk_telemetry.v2"; }
    const fs::path &ndjson() const { return ndjson_; }
    const fs::path &stats() const { return stats_; }
    std::string err() const { return read_file(err_); }

private:
    pid_t pid_ = -1;
    bool waited_ = false;
    std::string prefix_;
    fs::path ndjson_, stats_, err_;
};

// A client of the DPDK telemetry socket (SOCK_SEQPACKET, one JSON per message).
class TelemetryClient {
public:
    bool connect_to(const fs::path &path)
    {
        fd_ = socket(AF_UNIX, SOCK_SEQPACKET, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
        if (connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0)
            return false;
        return !receive().empty();  // the greeting: version, pid, max_output_len
    }
    ~TelemetryClient()
    {
        if (fd_ >= 0)
            close(fd_);
    }
    std::string ask(const std::string &command)
    {
        if (send(fd_, command.data(), command.size(), 0) < 0)
            return "";
        return receive();
    }

private:
    std::string receive()
    {
        std::string buf(65536, '\0');
        const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
        buf.resize(n > 0 ? size_t(n) : 0);
        return buf;
    }
    int fd_ = -1;
};

}  // namespace

TEST(Telemetry, EveryCommandAnswersWhileAReplayRunsAndCountersGrow)
{
    TempDir tmp;
    LiveRun run(tmp, data("many_flows.pcap"), 2);
    TelemetryClient client;
    bool connected = false;
    for (int i = 0; i < 100 && !connected; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        connected = fs::exists(run.socket_path()) && client.connect_to(run.socket_path());
    }
    ASSERT_TRUE(connected) << run.err();

    auto ask = [&](const std::string &cmd) {
        rapidjson::Document d = parse_json(client.ask(cmd));
        EXPECT_TRUE(d.IsObject() && d.HasMember(cmd.c_str())) << cmd;
        rapidjson::Document part;
        if (d.IsObject() && d.HasMember(cmd.c_str()))
            part.CopyFrom(d[cmd.c_str()], part.GetAllocator());
        return part;
    };
    // Wait for the first packets (the control thread publishes its first
    // snapshot a little after the socket appears; slower under sanitizers),
    // then read everything twice.
    auto packets_seen = [&]() {
        const rapidjson::Document stats = ask("/flowsentry/stats");
        return stats.IsObject() && stats.HasMember("rx_packets") && stats["rx_packets"].GetUint64() > 0;
    };
    for (int i = 0; i < 300 && !packets_seen(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const rapidjson::Document stats1 = ask("/flowsentry/stats"), workers1 = ask("/flowsentry/workers"),
                              ports1 = ask("/flowsentry/ports"), flows1 = ask("/flowsentry/flows");
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    const rapidjson::Document stats2 = ask("/flowsentry/stats"), workers2 = ask("/flowsentry/workers"),
                              ports2 = ask("/flowsentry/ports"), flows2 = ask("/flowsentry/flows");

    EXPECT_GT(stats1["rx_packets"].GetUint64(), 0u);
    EXPECT_GT(stats2["rx_packets"].GetUint64(), stats1["rx_packets"].GetUint64());
    EXPECT_GT(stats2["spreader"]["rx_packets"].GetUint64(), stats1["spreader"]["rx_packets"].GetUint64());
    for (const char *w : {"0", "1"}) {
        EXPECT_GT(workers2[w]["worker"]["rx_packets"].GetUint64(), workers1[w]["worker"]["rx_packets"].GetUint64())
            << w;
        EXPECT_GT(workers2[w]["cycles_per_packet"].GetUint64(), 0u);
    }
    EXPECT_EQ(ports2["0"]["mode"].GetString(), std::string("spread"));
    EXPECT_EQ(ports2["0"]["driver"].GetString(), std::string("net_pcap"));
    EXPECT_GT(ports2["0"]["ipackets"].GetUint64(), ports1["0"]["ipackets"].GetUint64());
    EXPECT_GT(flows1["created"].GetUint64(), 0u);
    EXPECT_GT(flows2["handshake"]["accepted"].GetUint64(), 0u);
    EXPECT_GE(flows2["flows_in_table"].GetUint64(), 1u);
    EXPECT_EQ(flows2["workers"].MemberCount(), 2u);
    EXPECT_EQ(ask("/flowsentry/reload")["reload"].GetString(), std::string("requested"));

    EXPECT_EQ(run.stop(SIGINT), 0) << run.err();
}

TEST(Shutdown, SigtermMidReplayEndsOpenFlowsAndLosesNothing)
{
    TempDir tmp;
    // The capture cut short: connections accepted in it never close, so
    // they are open whenever the signal comes.
    const fs::path cut = tmp.path() / "cut.pcap";
    std::string out;
    ASSERT_EQ(run_command("editcap -r " + shell_quote(data("many_flows.pcap").string()) + " " +
                              shell_quote(cut.string()) + " 1-400 2>&1",
                          &out),
              0)
        << out;
    LiveRun run(tmp, cut, 2);
    std::this_thread::sleep_for(std::chrono::seconds(3));
    ASSERT_EQ(run.stop(SIGTERM), 0) << run.err();

    const Output o = parse_output(run.ndjson());
    EXPECT_GT(o.accepted.size(), 0u);
    // Every accepted connection has its end; the ones still open were ended
    // by the shutdown flush.
    EXPECT_EQ(o.ends, o.accepted.size());
    EXPECT_GT(o.ends_at_shutdown, 0u);

    const rapidjson::Document stats = parse_json(read_file(run.stats()));
    uint64_t rx = 0, starts = 0, ends = 0, event_drops = 0;
    for (const auto &w : stats["workers"].GetArray()) {
        rx += counter(w, "worker.rx_packets");
        starts += counter(w, "worker.events_connection_start");
        ends += counter(w, "worker.events_connection_end");
        event_drops += counter(w, "worker.document_drops") + counter(w, "worker.scan_record_drops");
    }
    // Nothing lost between the spreading lcore and the workers, nor between
    // the workers and the output.
    EXPECT_EQ(stats["spreader"]["rx_packets"].GetUint64(), rx);
    EXPECT_EQ(stats["spreader"]["ring_drops"].GetUint64(), 0u);
    EXPECT_EQ(event_drops, 0u);
    EXPECT_EQ(starts, o.accepted.size());
    EXPECT_EQ(ends, o.ends);
}

TEST(ReplayScript, TestpmdReplayReportsPacketsAndNoWorkerErrors)
{
    TempDir tmp;
    const fs::path json = tmp.path() / "replay.json";
    std::string out;
    const int status = run_command("FLOWSENTRY=" + shell_quote(binary()) + " REPLAY_JSON=" + shell_quote(json.string()) + " " +
                                       shell_quote((source_root() / "scripts" / "replay-testpmd.sh").string()) + " " +
                                       shell_quote(data("many_flows.pcap").string()) + " 3 2 2>&1",
                                   &out);
    ASSERT_EQ(status, 0) << out;
    const rapidjson::Document d = parse_json(read_file(json));
    EXPECT_GT(d["offered"]["packets"].GetUint64(), 0u) << out;
    EXPECT_GT(d["delivered"]["packets"].GetUint64(), 0u) << out;
    EXPECT_GT(d["received"]["packets"].GetUint64(), 0u) << out;
    EXPECT_EQ(d["flowsentry_exit_status"].GetInt(), 0) << out;
    EXPECT_EQ(d["worker_errors"].GetUint64(), 0u) << out;
    EXPECT_GT(d["accepted"].GetUint64(), 0u) << out;
}
