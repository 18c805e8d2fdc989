// Sinks against real receivers on loopback (UDP, TCP, unix datagram
// sockets the test opens), rotation, reopen, and failing sinks: a path
// that cannot be opened, /dev/full, a file size limit (a disk that fills),
// a socket that disappears and comes back, a full queue.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "flowsentry/config.hpp"
#include "flowsentry/sinks.hpp"

using namespace flowsentry;
namespace fs = std::filesystem;

namespace {

class TempDir {
public:
    TempDir()
    {
        std::string t = (fs::temp_directory_path() / "fs-sinks-XXXXXX").string();
        path_ = mkdtemp(t.data()) ? t : "";
    }
    ~TempDir() { fs::remove_all(path_); }
    fs::path operator/(const std::string &name) const { return fs::path(path_) / name; }

private:
    std::string path_;
};

std::string read_file(const fs::path &p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Numbered JSON documents of a fixed size, one per line.
std::string doc_line(unsigned i, bool alert = false)
{
    char buf[128];
    std::snprintf(buf, sizeof buf, "{\"event\":{\"kind\":\"%s\"},\"n\":\"%06u\",\"pad\":\"%s\"}\n", alert ? "alert" : "event",
                  i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    return buf;
}

std::string lines(unsigned from, unsigned to)
{
    std::string s;
    for (unsigned i = from; i < to; ++i)
        s += doc_line(i);
    return s;
}

SinkConfig file_sink(const fs::path &p)
{
    SinkConfig c;
    c.type = SinkType::file;
    c.path = p.string();
    return c;
}

SinkConfig syslog_sink(SyslogTransport t, const std::string &address)
{
    SinkConfig c;
    c.type = SinkType::syslog;
    c.transport = t;
    c.address = address;
    return c;
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10))
{
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (pred())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
}

// "<PRI>1 TIMESTAMP HOST APP PROCID MSGID - MSG": returns MSG after checking the header.
std::string check_rfc5424(const std::string &msg, unsigned pri, const char *msgid)
{
    static const std::regex header(
        R"(^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) (\S+) (\d+) (\S+) - )");
    std::smatch m;
    if (!std::regex_search(msg, m, header)) {
        ADD_FAILURE() << "not RFC 5424: " << msg;
        return "";
    }
    EXPECT_EQ(std::stoul(m[1]), pri);
    EXPECT_EQ(m[3].str(), "sensor-1");
    EXPECT_EQ(m[4].str(), "flowsentry");
    EXPECT_EQ(std::stoul(m[5]), static_cast<unsigned long>(getpid()));
    EXPECT_EQ(m[6].str(), msgid);
    return m.suffix();
}

// Runs fn() in a child process (for what is process-wide: a file size
// limit, stdout, signal dispositions); returns its exit code, or 128 + the
// signal that killed it.
template <typename Fn>
int in_child(Fn fn)
{
    const pid_t child = fork();
    if (child < 0)
        return -1;
    if (child == 0)
        _exit(fn());
    int status = 0;
    if (waitpid(child, &status, 0) != child)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A process file size limit is what a full disk looks like to write(2): a
// short write, then EFBIG. Returns the limit it replaced.
rlimit limit_file_size(rlim_t bytes)
{
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit old{};
    getrlimit(RLIMIT_FSIZE, &old);
    rlimit small = old;
    small.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &small);
    return old;
}

// ------------------------------------------------------------ files

TEST(FileSink, WritesEveryLineInOrder)
{
    TempDir tmp;
    SinkSet sinks({file_sink(tmp / "out.ndjson")}, "sensor-1");
    sinks.write(lines(0, 50));
    sinks.write(lines(50, 100));
    sinks.close();
    EXPECT_EQ(read_file(tmp / "out.ndjson"), lines(0, 100));
    const auto st = sinks.status();
    EXPECT_EQ(st[0].lines_written, 100u);
    EXPECT_EQ(st[0].lines_dropped, 0u);
    EXPECT_TRUE(st[0].healthy);
}

TEST(FileSink, RotatesBySizeAndKeepsCount)
{
    TempDir tmp;
    const size_t line = doc_line(0).size();
    SinkConfig c = file_sink(tmp / "out.ndjson");
    c.rotate_bytes = line * 10 + line / 2;  // 10 whole lines per file
    c.rotate_files = 3;
    SinkSet sinks({c}, "sensor-1");
    sinks.write(lines(0, 55));  // files of 10,10,10,10,10,5: 5 rotations, 2 oldest removed
    sinks.close();
    EXPECT_EQ(read_file(tmp / "out.ndjson"), lines(50, 55));
    EXPECT_EQ(read_file(tmp / "out.ndjson.1"), lines(40, 50));
    EXPECT_EQ(read_file(tmp / "out.ndjson.2"), lines(30, 40));
    EXPECT_EQ(read_file(tmp / "out.ndjson.3"), lines(20, 30));
    EXPECT_FALSE(fs::exists(tmp / "out.ndjson.4"));
    EXPECT_EQ(sinks.status()[0].rotations, 5u);
    for (const char *suffix : {"", ".1", ".2", ".3"})
        EXPECT_LE(fs::file_size(tmp / ("out.ndjson" + std::string(suffix))), c.rotate_bytes);
}

TEST(FileSink, ReopensOnRequestAfterTheFileWasMoved)
{
    TempDir tmp;
    SinkSet sinks({file_sink(tmp / "out.ndjson")}, "sensor-1");
    sinks.write(lines(0, 10));
    ASSERT_TRUE(eventually([&] { return sinks.status()[0].lines_written == 10; }));
    fs::rename(tmp / "out.ndjson", tmp / "out.ndjson.old");  // what logrotate does
    request_sink_reopen();
    ASSERT_TRUE(eventually([&] { return fs::exists(tmp / "out.ndjson"); }));
    sinks.write(lines(10, 20));
    sinks.close();
    EXPECT_EQ(read_file(tmp / "out.ndjson.old"), lines(0, 10));
    EXPECT_EQ(read_file(tmp / "out.ndjson"), lines(10, 20));
}

TEST(FileSink, UnopenablePathIsAStartUpError)
{
    try {
        SinkSet sinks({file_sink("/nonexistent-dir/out.ndjson")}, "sensor-1");
        ADD_FAILURE() << "no error";
    } catch (const std::runtime_error &e) {
        EXPECT_STREQ(e.what(), "/nonexistent-dir/out.ndjson: cannot open for writing: No such file or directory");
    }
}

TEST(FileSink, DevFullCountsRetriesAndDropsOnlyAtExit)
{
    SinkSet sinks({file_sink("/dev/full")}, "sensor-1");
    sinks.write(lines(0, 30));
    ASSERT_TRUE(eventually([&] { return sinks.status()[0].write_errors >= 2; }));
    auto st = sinks.status();
    EXPECT_FALSE(st[0].healthy);
    EXPECT_EQ(st[0].lines_written, 0u);
    EXPECT_EQ(st[0].lines_dropped, 0u);  // still queued, being retried
    sinks.close(std::chrono::milliseconds(100));
    st = sinks.status();
    EXPECT_EQ(st[0].lines_dropped, 30u);
}

// A disk that fills: the sink resumes once there is room again, so the
// file ends up with every line once.
TEST(FileSink, DiskThatFillsThenHasRoomAgain)
{
    TempDir tmp;
    const fs::path path = tmp / "out.ndjson";
    const std::string all = lines(0, 100);
    const int code = in_child([&] {
        const rlimit room = limit_file_size(4096);
        SinkSet sinks({file_sink(path)}, "sensor-1");
        sinks.write(all);
        const bool failed = eventually([&] { return sinks.status()[0].write_errors >= 1; });
        const auto st = sinks.status();
        if (!failed || st[0].healthy || st[0].lines_written != 4096 / doc_line(0).size())
            return 10;
        setrlimit(RLIMIT_FSIZE, &room);
        if (!eventually([&] { return sinks.status()[0].lines_written == 100; }))
            return 11;
        sinks.close();
        if (!sinks.status()[0].healthy || sinks.status()[0].lines_dropped != 0)
            return 12;
        return 0;
    });
    EXPECT_EQ(code, 0) << "10: no failure at the limit, 11: no resume, 12: lost lines";
    EXPECT_EQ(read_file(path), all);
}

// A disk that stays full until the end: the file holds whole lines only
// (the line written in part is cut back), and every other line is counted
// as dropped.
TEST(FileSink, DiskThatStaysFullKeepsWholeLinesOnly)
{
    TempDir tmp;
    const fs::path path = tmp / "out.ndjson";
    const size_t line = doc_line(0).size();
    ASSERT_NE(4096 % line, 0u) << "the limit must fall inside a line";
    const int code = in_child([&] {
        limit_file_size(4096);
        SinkSet sinks({file_sink(path)}, "sensor-1");
        sinks.write(lines(0, 100));
        eventually([&] { return sinks.status()[0].write_errors >= 1; });
        sinks.close(std::chrono::milliseconds(300));
        const auto st = sinks.status()[0];
        return st.lines_written == 4096 / line && st.lines_written + st.lines_dropped == 100 ? 0 : 10;
    });
    EXPECT_EQ(code, 0) << "10: lines counted wrong";
    EXPECT_EQ(read_file(path), lines(0, 4096 / line));
}

// The reader of stdout goes away (`flowsentry ... | head -1`): EPIPE is the
// end of that sink, not of the process: its lines are dropped and counted
// at once, the cause kept, and another sink goes on.
TEST(StdoutSink, ClosedPipeDropsAndCountsAndTheOtherSinkGoesOn)
{
    TempDir tmp;
    const int code = in_child([&] {
        std::signal(SIGPIPE, SIG_IGN);  // as main() does
        int fds[2];
        if (pipe(fds) != 0 || dup2(fds[1], STDOUT_FILENO) < 0)
            return 20;
        close(fds[0]);  // the reader is gone
        SinkConfig out;
        out.type = SinkType::stdout_stream;
        SinkSet sinks({out, file_sink(tmp / "ok.ndjson")}, "sensor-1");
        sinks.write(lines(0, 30));
        if (!eventually([&] { return sinks.status()[0].lines_dropped == 30; }))
            return 10;
        sinks.write(lines(30, 40));
        const auto start = std::chrono::steady_clock::now();
        sinks.close();
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(2))
            return 11;  // nothing waits for a reader that is gone
        const auto st = sinks.status();
        if (st[0].lines_dropped != 40 || st[0].lines_written != 0 || st[1].lines_written != 40)
            return 12;
        if (st[0].last_error != "stdout: write failed: Broken pipe")
            return 13;
        if (lost_output(st) != "output lost: sink stdout dropped 40 of 40 line(s) (stdout: write failed: Broken pipe)")
            return 14;
        return 0;
    });
    EXPECT_EQ(code, 0) << "10: not dropped at once, 11: close waited, 12: counts, 13: cause, 14: summary, "
                          "141: killed by SIGPIPE";
    EXPECT_EQ(read_file(tmp / "ok.ndjson"), lines(0, 40));
}

TEST(Sinks, LostOutputNamesEverySinkThatDropped)
{
    std::vector<SinkStatus> st(3);
    st[0] = {"file:/a", true, 10, 0, 0, 0, 0, 0, ""};
    st[1] = {"file:/dev/full", false, 0, 30, 4, 3, 0, 0, "/dev/full: write failed: No space left on device"};
    st[2] = {"syslog+udp:h:1", true, 5, 2, 0, 0, 0, 0, ""};
    EXPECT_EQ(lost_output({st[0]}), "");
    EXPECT_EQ(lost_output(st), "output lost: sink file:/dev/full dropped 30 of 30 line(s) (/dev/full: write failed: "
                               "No space left on device); sink syslog+udp:h:1 dropped 2 of 7 line(s) (queue full, or "
                               "a datagram too big)");
}

TEST(Sinks, FullQueueDropsAndCountsWholeBatches)
{
    SinkConfig c = file_sink("/dev/full");
    c.queue_bytes = 4096;
    const std::string batch = lines(0, 10);  // < 4096 bytes
    ASSERT_LT(batch.size() * 2, 4096u);
    ASSERT_GT(batch.size() * 7, 4096u);
    SinkSet sinks({c}, "sensor-1");
    for (int i = 0; i < 7; ++i)
        sinks.write(batch);
    const auto st = sinks.status();
    // Whatever is queued plus what was dropped is everything written.
    EXPECT_GT(st[0].lines_dropped, 0u);
    EXPECT_EQ(st[0].lines_dropped + st[0].queued_bytes / doc_line(0).size(), 70u);
}

TEST(Sinks, AReplayWaitsForRoomAndLosesNothing)
{
    // The queue holds a few batches; writing many more than that as fast as
    // possible drops unless the writer waits for room (a replay does), and
    // then every line arrives in order. One batch bigger than the whole
    // queue is taken once the queue is empty.
    TempDir tmp;
    SinkConfig c = file_sink(tmp / "out.ndjson");
    c.queue_bytes = 4096;
    SinkSet sinks({c}, "sensor-1");
    std::string expected;
    for (int i = 0; i < 200; ++i) {
        const std::string batch = lines(i * 10, i * 10 + 10);
        ASSERT_LT(batch.size(), 4096u);
        sinks.write(batch, true);
        expected += batch;
    }
    const std::string big = lines(2000, 2100);
    ASSERT_GT(big.size(), 4096u);
    sinks.write(big, true);
    expected += big;
    sinks.close();
    EXPECT_EQ(read_file(tmp / "out.ndjson"), expected);
    const auto st = sinks.status();
    EXPECT_EQ(st[0].lines_written, 2100u);
    EXPECT_EQ(st[0].lines_dropped, 0u);
}

TEST(Sinks, AReplayDoesNotWaitForAFailingSink)
{
    // /dev/full fails every write: waiting for it would never end.
    SinkConfig c = file_sink("/dev/full");
    c.queue_bytes = 4096;
    SinkSet sinks({c}, "sensor-1");
    for (int i = 0; i < 50; ++i)
        sinks.write(lines(0, 10), true);
    sinks.close(std::chrono::milliseconds(100));
    const auto st = sinks.status();
    EXPECT_EQ(st[0].lines_written, 0u);
    EXPECT_EQ(st[0].lines_dropped, 500u);
}

// ------------------------------------------------------------ syslog

struct Socket {
    int fd = -1;
    ~Socket()
    {
        if (fd >= 0)
            close(fd);
    }
};

uint16_t bound_port(int fd)
{
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    return ntohs(a.sin_port);
}

int loopback_socket(int type)
{
    int fd = socket(AF_INET, type, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0)
        return -1;
    return fd;
}

std::string receive(int fd)
{
    timeval tv{5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[65536];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

TEST(SyslogSink, MessageFormat)
{
    const std::string m = syslog_message(doc_line(7, true), 16, "sensor 1", "flowsentry", 1700000000123456789ull);
    EXPECT_EQ(m, "<132>1 2023-11-14T22:13:20.123456Z sensor_1 flowsentry " + std::to_string(getpid()) +
                     " alert - " + doc_line(7, true).substr(0, doc_line(7, true).size() - 1));
    EXPECT_EQ(syslog_message(doc_line(1), 1, "h", "a", 0).substr(0, 4), "<14>");
}

TEST(SyslogSink, UdpOneDatagramPerDocument)
{
    Socket rx;
    rx.fd = loopback_socket(SOCK_DGRAM);
    ASSERT_GE(rx.fd, 0);
    SinkSet sinks({syslog_sink(SyslogTransport::udp, "127.0.0.1:" + std::to_string(bound_port(rx.fd)))}, "sensor-1");
    sinks.write(doc_line(1) + doc_line(2, true) + doc_line(3));
    const unsigned pri[] = {16 * 8 + 6, 16 * 8 + 4, 16 * 8 + 6};
    const char *ids[] = {"event", "alert", "event"};
    for (unsigned i = 0; i < 3; ++i) {
        const std::string json = check_rfc5424(receive(rx.fd), pri[i], ids[i]);
        EXPECT_EQ(json + "\n", doc_line(i + 1, i == 1));
        rapidjson::Document d;
        EXPECT_FALSE(d.Parse(json.c_str()).HasParseError());
    }
    sinks.close();
    EXPECT_EQ(sinks.status()[0].lines_written, 3u);
}

TEST(SyslogSink, TcpOctetCounting)
{
    Socket listener;
    listener.fd = loopback_socket(SOCK_STREAM);
    ASSERT_EQ(listen(listener.fd, 1), 0);
    Socket conn;
    {
        SinkSet sinks({syslog_sink(SyslogTransport::tcp, "127.0.0.1:" + std::to_string(bound_port(listener.fd)))},
                      "sensor-1");
        conn.fd = accept(listener.fd, nullptr, nullptr);
        ASSERT_GE(conn.fd, 0);
        sinks.write(lines(0, 20));
        sinks.close();
        EXPECT_EQ(sinks.status()[0].lines_written, 20u);
    }  // the connection closes: the stream ends
    std::string stream;
    for (std::string part; !(part = receive(conn.fd)).empty();)
        stream += part;
    size_t pos = 0;
    for (unsigned i = 0; i < 20; ++i) {
        const size_t sp = stream.find(' ', pos);
        ASSERT_NE(sp, std::string::npos) << "frame " << i << " of: " << stream;
        const size_t len = std::stoul(stream.substr(pos, sp - pos));
        const std::string msg = stream.substr(sp + 1, len);
        ASSERT_EQ(msg.size(), len);
        EXPECT_EQ(check_rfc5424(msg, 134, "event") + "\n", doc_line(i));
        pos = sp + 1 + len;
    }
    EXPECT_EQ(pos, stream.size());
}

// A backlog (what queues while a receiver is down) goes out at `rate`
// messages per second: a receiver with a small socket buffer gets every
// one, in order, where one burst would overrun its buffer.
TEST(SyslogSink, UdpBacklogIsPaced)
{
    Socket rx;
    rx.fd = loopback_socket(SOCK_DGRAM);
    ASSERT_GE(rx.fd, 0);
    const int rcvbuf = 65536;  // the kernel doubles it: room for about 100 of these datagrams
    ASSERT_EQ(setsockopt(rx.fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf), 0);
    SinkConfig c = syslog_sink(SyslogTransport::udp, "127.0.0.1:" + std::to_string(bound_port(rx.fd)));
    c.rate = 500;  // bursts of 5, each 10 ms: a receiver that stalls for a while keeps up
    const unsigned n = 300;
    const auto start = std::chrono::steady_clock::now();
    SinkSet sinks({c}, "sensor-1");
    sinks.write(lines(0, n));
    unsigned got = 0;
    for (std::string m; got < n && !(m = receive(rx.fd)).empty(); ++got) {
        EXPECT_EQ(check_rfc5424(m, 134, "event") + "\n", doc_line(got));
        std::this_thread::sleep_for(std::chrono::microseconds(200));  // a receiver with other work to do
    }
    EXPECT_EQ(got, n);
    EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500)) << "not paced";
    sinks.close();
    EXPECT_EQ(sinks.status()[0].lines_written, n);
}

// The receiver closes its connection and stays away for a while (rsyslog
// restarting): what the sink had sent that the receiver's TCP did not
// acknowledge, and what queued meanwhile, arrives on the next connection,
// in order, each document once.
TEST(SyslogSink, TcpReceiverRestartLosesNothing)
{
    // A listener on loopback:port (0: any) that a restarted one may take over.
    auto listen_on = [](uint16_t port) {
        const int fd = socket(AF_INET, SOCK_STREAM, 0);
        const int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 || listen(fd, 1) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    };
    Socket listener;
    listener.fd = listen_on(0);
    ASSERT_GE(listener.fd, 0);
    const uint16_t port = bound_port(listener.fd);
    auto read_frames = [](int fd, unsigned count) {
        std::vector<std::string> docs;
        std::string stream;
        while (docs.size() < count) {
            const size_t sp = stream.find(' ');
            if (sp != std::string::npos && stream.size() >= sp + 1 + std::stoul(stream.substr(0, sp))) {
                const size_t len = std::stoul(stream.substr(0, sp));
                docs.push_back(check_rfc5424(stream.substr(sp + 1, len), 134, "event") + "\n");
                stream.erase(0, sp + 1 + len);
                continue;
            }
            const std::string part = receive(fd);
            if (part.empty())
                break;
            stream += part;
        }
        return docs;
    };
    SinkSet sinks({syslog_sink(SyslogTransport::tcp, "127.0.0.1:" + std::to_string(port))}, "sensor-1");
    Socket first;
    first.fd = accept(listener.fd, nullptr, nullptr);
    ASSERT_GE(first.fd, 0);
    sinks.write(lines(0, 10));
    const auto before = read_frames(first.fd, 10);
    ASSERT_EQ(before.size(), 10u);
    EXPECT_EQ(before[9], doc_line(9));
    // The receiver stops: its connection and its listening socket close.
    close(first.fd);
    first.fd = -1;
    close(listener.fd);
    listener.fd = -1;
    for (unsigned i = 10; i < 40; ++i) {
        sinks.write(doc_line(i));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(eventually([&] { return sinks.status()[0].write_errors >= 2; }));
    // It comes back on the same port.
    listener.fd = listen_on(port);
    ASSERT_GE(listener.fd, 0) << std::strerror(errno);
    Socket second;
    second.fd = accept(listener.fd, nullptr, nullptr);
    ASSERT_GE(second.fd, 0);
    const auto after = read_frames(second.fd, 30);
    ASSERT_EQ(after.size(), 30u);
    for (unsigned i = 0; i < 30; ++i)
        EXPECT_EQ(after[i], doc_line(10 + i));
    sinks.close();
    const auto st = sinks.status()[0];
    EXPECT_EQ(st.lines_written, 40u);
    EXPECT_EQ(st.lines_dropped, 0u);
}

// A receiver that takes the connection and never reads: what its TCP has
// not acknowledged by the exit deadline is counted as dropped, not written.
TEST(SyslogSink, TcpUnacknowledgedAtExitIsCountedAsDropped)
{
    Socket listener;
    listener.fd = loopback_socket(SOCK_STREAM);
    const int small = 4096;
    ASSERT_EQ(setsockopt(listener.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    ASSERT_EQ(listen(listener.fd, 1), 0);
    SinkSet sinks({syslog_sink(SyslogTransport::tcp, "127.0.0.1:" + std::to_string(bound_port(listener.fd)))},
                  "sensor-1");
    Socket conn;
    conn.fd = accept(listener.fd, nullptr, nullptr);
    ASSERT_GE(conn.fd, 0);
    const unsigned n = 20000;  // far more than the receiver's window and our send buffer
    sinks.write(lines(0, n));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    sinks.close(std::chrono::milliseconds(500));
    const auto st = sinks.status()[0];
    EXPECT_GT(st.lines_dropped, 0u);
    EXPECT_EQ(st.lines_written + st.lines_dropped, n);
    // Everything counted as written reached the receiver's socket.
    int queued = 0;
    ASSERT_EQ(ioctl(conn.fd, FIONREAD, &queued), 0);
    EXPECT_GE(static_cast<uint64_t>(queued), st.lines_written * doc_line(0).size());
}

int unix_receiver(const fs::path &p)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", p.c_str());
    if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0)
        return -1;
    return fd;
}

TEST(SyslogSink, UnixSocketThatDisappearsAndComesBack)
{
    TempDir tmp;
    const fs::path path = tmp / "log.sock";
    Socket rx;
    rx.fd = unix_receiver(path);
    ASSERT_GE(rx.fd, 0);
    SinkSet sinks({syslog_sink(SyslogTransport::unix_datagram, path.string())}, "sensor-1");
    sinks.write(doc_line(0));
    EXPECT_EQ(check_rfc5424(receive(rx.fd), 134, "event") + "\n", doc_line(0));

    // The receiver goes away (syslogd restarting): output is queued and retried.
    close(rx.fd);
    rx.fd = -1;
    fs::remove(path);
    sinks.write(lines(1, 11));
    ASSERT_TRUE(eventually([&] { return sinks.status()[0].write_errors >= 2; }));
    EXPECT_FALSE(sinks.status()[0].healthy);
    EXPECT_EQ(sinks.status()[0].lines_written, 1u);

    // It comes back: everything queued arrives, in order, nothing lost.
    rx.fd = unix_receiver(path);
    ASSERT_GE(rx.fd, 0);
    for (unsigned i = 1; i < 11; ++i)
        EXPECT_EQ(check_rfc5424(receive(rx.fd), 134, "event") + "\n", doc_line(i));
    ASSERT_TRUE(eventually([&] { return sinks.status()[0].healthy; }));
    sinks.close();
    const auto st = sinks.status();
    EXPECT_EQ(st[0].lines_written, 11u);
    EXPECT_EQ(st[0].lines_dropped, 0u);
}

TEST(SyslogSink, ReceiverDownAtStartIsRetriedNotFatal)
{
    TempDir tmp;
    const fs::path path = tmp / "late.sock";
    SinkSet sinks({syslog_sink(SyslogTransport::unix_datagram, path.string())}, "sensor-1");
    EXPECT_FALSE(sinks.status()[0].healthy);
    sinks.write(lines(0, 3));
    Socket rx;
    rx.fd = unix_receiver(path);
    ASSERT_GE(rx.fd, 0);
    for (unsigned i = 0; i < 3; ++i)
        EXPECT_EQ(check_rfc5424(receive(rx.fd), 134, "event") + "\n", doc_line(i));
}

TEST(SyslogSink, TcpReceiverThatNeverAnswersTheSynDoesNotHoldTheWriter)
{
    // A listener that never accepts, its accept queue full: the kernel drops
    // further SYNs, and a connect would wait for minutes of SYN retries.
    Socket listener;
    listener.fd = loopback_socket(SOCK_STREAM);
    ASSERT_GE(listener.fd, 0);
    ASSERT_EQ(listen(listener.fd, 0), 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    to.sin_port = htons(bound_port(listener.fd));
    std::vector<Socket> fillers(4);
    for (Socket &f : fillers) {
        f.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        connect(f.fd, reinterpret_cast<sockaddr *>(&to), sizeof to);
    }
    const auto started = std::chrono::steady_clock::now();
    {
        SinkSet sinks({syslog_sink(SyslogTransport::tcp, "127.0.0.1:" + std::to_string(bound_port(listener.fd)))},
                      "sensor-1");
        EXPECT_FALSE(sinks.status()[0].healthy);
        sinks.write(lines(0, 3));
        sinks.close(std::chrono::milliseconds(500));
        EXPECT_EQ(sinks.status()[0].lines_dropped, 3u);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

// A slow or dead sink must not hold back the others.
TEST(Sinks, OneFailingSinkDoesNotHoldBackAnother)
{
    TempDir tmp;
    SinkSet sinks({file_sink("/dev/full"), file_sink(tmp / "ok.ndjson")}, "sensor-1");
    sinks.write(lines(0, 40));
    ASSERT_TRUE(eventually([&] { return sinks.status()[1].lines_written == 40; }));
    EXPECT_EQ(read_file(tmp / "ok.ndjson"), lines(0, 40));
    EXPECT_EQ(sinks.status()[0].lines_written, 0u);
}

}  // namespace
