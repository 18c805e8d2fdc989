// Sinks (see sinks.hpp): one writer thread per sink, each with its own queue.
#include "flowsentry/sinks.hpp"

#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "flowsentry/ecs_format.hpp"

namespace flowsentry {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<uint64_t> g_reopen_generation{0};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "request_sink_reopen runs in a signal handler");

constexpr auto kFirstRetry = std::chrono::milliseconds(200);
constexpr auto kMaxRetry = std::chrono::seconds(5);
constexpr auto kPoll = std::chrono::milliseconds(100);

uint64_t wall_ns()
{
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

size_t count_lines(const std::string &s, size_t from = 0)
{
    return static_cast<size_t>(std::count(s.begin() + static_cast<std::ptrdiff_t>(from), s.end(), '\n'));
}

// Where bytes go. send() consumes whole lines from the front of `lines`
// and returns how many bytes it consumed; it sets `error` and returns what
// it managed when the transport fails, and returns early without an error
// when it must wait (pacing, a slow receiver). Runs on the sink's writer
// thread.
class Transport {
public:
    virtual ~Transport() = default;
    virtual bool open(std::string &error) = 0;
    virtual void close() = 0;
    virtual size_t send(const std::string &lines, std::string &error, uint64_t &dropped) = 0;
    virtual bool reopens_on_hup() const { return false; }
    virtual uint64_t rotations() const { return 0; }
    // Lines consumed but not known to be delivered yet (TCP: not yet
    // acknowledged); send("") checks again.
    virtual uint64_t unconfirmed() const { return 0; }
    // The failure cannot pass: the reader of a pipe has gone (EPIPE).
    virtual bool gone() const { return false; }
};

// A file (rotated by size) or stdout. A file gets whole lines or nothing:
// a write that fails inside a line (a disk that fills) is cut back to the
// line's start, and the line is written whole once there is room. A pipe
// cannot be cut back: a short write there resumes at the exact byte. A
// closed pipe (EPIPE) is for good.
class FileTransport : public Transport {
public:
    explicit FileTransport(const SinkConfig &c) : config_(c), is_stdout_(c.type == SinkType::stdout_stream) {}
    ~FileTransport() override { close(); }

    bool open(std::string &error) override
    {
        close();
        if (is_stdout_) {
            fd_ = STDOUT_FILENO;
            return true;
        }
        fd_ = ::open(config_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd_ < 0) {
            error = config_.path + ": cannot open for writing: " + std::strerror(errno);
            return false;
        }
        struct stat st {};
        size_ = fstat(fd_, &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
        return true;
    }

    void close() override
    {
        if (fd_ >= 0 && !is_stdout_)
            ::close(fd_);
        fd_ = -1;
    }

    size_t send(const std::string &lines, std::string &error, uint64_t &) override
    {
        size_t done = 0;
        while (done < lines.size()) {
            size_t chunk = lines.size() - done;
            if (config_.rotate_bytes != 0) {
                // Whole lines that still fit; a full file rotates first.
                size_t fit = 0;
                for (size_t nl = lines.find('\n', done); nl != std::string::npos; nl = lines.find('\n', nl + 1)) {
                    if (size_ + (nl + 1 - done) > config_.rotate_bytes && fit != 0)
                        break;
                    fit = nl + 1 - done;
                    if (size_ + fit > config_.rotate_bytes)
                        break;
                }
                if (size_ + fit > config_.rotate_bytes && size_ != 0) {
                    if (!rotate(error))
                        return done;
                    continue;
                }
                chunk = fit != 0 ? fit : chunk;
            }
            const ssize_t n = ::write(fd_, lines.data() + done, chunk);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                const int err = errno;
                gone_ = is_stdout_ && err == EPIPE;
                error = (is_stdout_ ? std::string("stdout") : config_.path) + ": write failed: " + std::strerror(err);
                return cut_back_to_line(lines, done);
            }
            done += static_cast<size_t>(n);
            size_ += static_cast<uint64_t>(n);
        }
        return done;
    }

    bool reopens_on_hup() const override { return !is_stdout_; }
    uint64_t rotations() const override { return rotations_; }
    bool gone() const override { return gone_; }

private:
    // After a failed write at `done`: truncates the file back to the start
    // of the line written in part, so the file never holds half a line.
    // Returns the consumed bytes: up to that line's start.
    size_t cut_back_to_line(const std::string &lines, size_t done)
    {
        const size_t nl = done == 0 ? std::string::npos : lines.rfind('\n', done - 1);
        const size_t line_start = nl == std::string::npos ? 0 : nl + 1;
        const uint64_t partial = done - line_start;
        if (partial == 0)
            return done;
        // A pipe cannot be cut back (ESPIPE): the rest of the line follows
        // once the write works again.
        const off_t end = ::lseek(fd_, 0, SEEK_CUR);
        const off_t line_at = end - static_cast<off_t>(partial);
        if (end < 0 || ::ftruncate(fd_, line_at) != 0 || ::lseek(fd_, line_at, SEEK_SET) != line_at)
            return done;
        size_ -= partial;
        return line_start;
    }

    // path -> path.1 -> ... -> path.N, the oldest removed.
    bool rotate(std::string &error)
    {
        close();
        const std::string &p = config_.path;
        std::remove((p + "." + std::to_string(config_.rotate_files)).c_str());
        for (uint32_t i = config_.rotate_files; i > 1; --i)
            std::rename((p + "." + std::to_string(i - 1)).c_str(), (p + "." + std::to_string(i)).c_str());
        if (std::rename(p.c_str(), (p + ".1").c_str()) != 0 && errno != ENOENT) {
            error = p + ": cannot rotate: " + std::strerror(errno);
            return false;
        }
        rotations_ += 1;
        return open(error);
    }

    SinkConfig config_;
    bool is_stdout_;
    int fd_ = -1;
    uint64_t size_ = 0;
    uint64_t rotations_ = 0;
    bool gone_ = false;
};

// Syslog, RFC 5424, one document per message. UDP and unix datagrams carry
// one message each; TCP uses octet-counting framing (RFC 6587).
//
// UDP has no acknowledgement: a receiver that is down or whose socket
// buffer is full drops datagrams and nobody is told. So UDP is paced
// (`rate` messages per second), and a backlog after an outage does not
// overrun the receiver in one burst. A unix datagram socket blocks instead
// of dropping.
//
// TCP keeps every frame until the receiver's TCP has acknowledged it
// (SIOCOUTQ: bytes not yet acknowledged), and resends the frames not
// acknowledged, whole, on a new connection: a receiver that restarts loses
// nothing it had not taken in. A frame the receiver had taken in but not
// processed when it died is lost (TCP acknowledges receipt, not processing);
// one it had taken in and whose acknowledgement was lost is sent twice.
class SyslogSender : public Transport {
public:
    SyslogSender(const SinkConfig &c, std::string hostname)
        : config_(c), hostname_(std::move(hostname)), burst_(std::max(1.0, c.rate / 100.0)), tokens_(burst_)
    {
    }
    ~SyslogSender() override { close(); }

    bool open(std::string &error) override
    {
        close();
        sent_ = 0;  // what was not acknowledged goes again, whole, on the new connection
        if (config_.transport == SyslogTransport::unix_datagram) {
            fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
            sockaddr_un addr{};
            addr.sun_family = AF_UNIX;
            std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", config_.address.c_str());
            if (fd_ < 0 || connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0)
                return failed(error);
            return true;
        }
        const size_t colon = config_.address.rfind(':');
        std::string host = config_.address.substr(0, colon);
        if (host.size() >= 2 && host.front() == '[')
            host = host.substr(1, host.size() - 2);
        const std::string port = config_.address.substr(colon + 1);
        addrinfo hints{};
        hints.ai_socktype = stream() ? SOCK_STREAM : SOCK_DGRAM;
        addrinfo *res = nullptr;
        const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
        if (rc != 0) {
            error = name() + ": cannot resolve: " + gai_strerror(rc);
            return false;
        }
        for (addrinfo *ai = res; ai != nullptr; ai = ai->ai_next) {
            fd_ = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd_ >= 0 && stream()) {
                // A receiver that stops reading, or a host that never answers
                // the SYN, must not hold the writer (and the exit) for
                // minutes: a send or a connect (Linux applies SO_SNDTIMEO to
                // both) that waits this long comes back, and is retried.
                timeval tv{1, 0};
                setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
            }
            if (fd_ >= 0 && connect(fd_, ai->ai_addr, ai->ai_addrlen) == 0)
                break;
            failed(error);
        }
        freeaddrinfo(res);
        return fd_ >= 0;
    }

    void close() override
    {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

    size_t send(const std::string &lines, std::string &error, uint64_t &dropped) override
    {
        return stream() ? send_stream(lines, error) : send_datagrams(lines, error, dropped);
    }

    uint64_t unconfirmed() const override { return frame_ends_.size(); }

private:
    bool stream() const { return config_.transport == SyslogTransport::tcp; }
    std::string name() const { return "syslog " + config_.address; }

    std::string frame(const std::string &lines, size_t from, size_t to) const
    {
        const std::string msg = syslog_message(lines.substr(from, to - from), config_.facility, hostname_,
                                               config_.app_name, wall_ns());
        return stream() ? std::to_string(msg.size()) + " " + msg : msg;
    }

    static size_t line_end(const std::string &lines, size_t from)
    {
        const size_t nl = lines.find('\n', from);
        return nl == std::string::npos ? lines.size() : nl + 1;
    }

    size_t send_datagrams(const std::string &lines, std::string &error, uint64_t &dropped)
    {
        const auto give_back = Clock::now() + kPoll;
        size_t done = 0;
        while (done < lines.size()) {
            if (config_.transport == SyslogTransport::udp && !take_token()) {
                if (Clock::now() >= give_back)
                    return done;  // back to the writer loop; the rest stays queued
                std::this_thread::sleep_for(std::chrono::microseconds(1000000 / std::max<uint32_t>(config_.rate, 1)));
                continue;
            }
            const size_t end = line_end(lines, done);
            const std::string msg = frame(lines, done, end);
            ssize_t n;
            while ((n = ::send(fd_, msg.data(), msg.size(), MSG_NOSIGNAL)) < 0 && errno == EINTR) {
            }
            if (n < 0) {
                if (errno != EMSGSIZE) {
                    failed(error);
                    return done;
                }
                dropped += 1;  // bigger than any datagram: can never be sent
            }
            done = end;
        }
        return done;
    }

    // UDP pacing: a token bucket of `rate` per second, 10 ms of it at once.
    bool take_token()
    {
        const auto now = Clock::now();
        const double elapsed = std::chrono::duration<double>(now - last_refill_).count();
        last_refill_ = now;
        tokens_ = std::min(burst_, tokens_ + elapsed * config_.rate);
        if (tokens_ < 1)
            return false;
        tokens_ -= 1;
        return true;
    }

    size_t send_stream(const std::string &lines, std::string &error)
    {
        if (fd_ < 0 || !acknowledged(error))
            return 0;
        size_t done = 0;
        for (;;) {
            // Frame whole lines, a bounded amount ahead of what is sent.
            while (done < lines.size() && unacked_.size() - sent_ < kFrameAhead) {
                const size_t end = line_end(lines, done);
                unacked_ += frame(lines, done, end);
                frame_ends_.push_back(unacked_.size());
                done = end;
            }
            if (sent_ == unacked_.size())
                return done;
            const ssize_t n = ::send(fd_, unacked_.data() + sent_, unacked_.size() - sent_, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK)
                    return done;  // the receiver is slow: come back later
                failed(error);
                return done;
            }
            sent_ += static_cast<size_t>(n);
            if (!acknowledged(error))
                return done;
        }
    }

    // Drops the frames the receiver's TCP has acknowledged. False (and the
    // connection closed) when the receiver has closed or reset it.
    bool acknowledged(std::string &error)
    {
        int outq = 0;
        if (::ioctl(fd_, SIOCOUTQ, &outq) == 0) {
            const size_t acked = sent_ - std::min(sent_, static_cast<size_t>(outq));
            size_t whole = 0;
            while (!frame_ends_.empty() && frame_ends_.front() <= acked) {
                whole = frame_ends_.front();
                frame_ends_.pop_front();
            }
            unacked_.erase(0, whole);
            for (size_t &e : frame_ends_)
                e -= whole;
            sent_ -= whole;
        }
        // A receiver never sends: readable means closed or reset.
        char byte;
        const ssize_t r = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (r == 0) {
            error = name() + ": the receiver closed the connection";
            close();
            return false;
        }
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return failed(error);
        return true;
    }

    bool failed(std::string &error)
    {
        error = name() + ": " + std::strerror(errno);
        close();
        return false;
    }

    static constexpr size_t kFrameAhead = 256 * 1024;

    SinkConfig config_;
    std::string hostname_;
    int fd_ = -1;
    // TCP: frames consumed and not yet acknowledged, oldest first.
    std::string unacked_;
    std::deque<size_t> frame_ends_;  // end of each frame in unacked_
    size_t sent_ = 0;                // bytes of unacked_ sent on this connection
    // UDP pacing.
    double burst_;
    double tokens_;
    Clock::time_point last_refill_ = Clock::now();
};

std::string sink_name(const SinkConfig &c)
{
    switch (c.type) {
    case SinkType::file:
        return "file:" + c.path;
    case SinkType::stdout_stream:
        return "stdout";
    case SinkType::syslog:
        break;
    }
    const char *t = c.transport == SyslogTransport::tcp ? "tcp" : c.transport == SyslogTransport::udp ? "udp" : "unix";
    return std::string("syslog+") + t + ":" + c.address;
}

}  // namespace

class SinkWriter {
public:
    SinkWriter(const SinkConfig &config, const std::string &hostname)
        : name_(sink_name(config)), queue_limit_(config.queue_bytes)
    {
        if (config.type == SinkType::syslog)
            transport_ = std::make_unique<SyslogSender>(config, hostname);
        else
            transport_ = std::make_unique<FileTransport>(config);
        std::string error;
        healthy_ = transport_->open(error);
        if (!healthy_) {
            if (config.type != SinkType::syslog)
                throw std::runtime_error(error);
            last_error_ = error;
            note_failure(error);
        }
        seen_generation_ = g_reopen_generation.load();
        thread_ = std::thread([this] { run(); });
    }

    ~SinkWriter() { stop(Clock::now()); }

    void enqueue(const std::string &lines, bool wait_for_room)
    {
        std::unique_lock<std::mutex> lock(mutex_);
        // Waiting, a piece bigger than the whole queue goes into an empty one.
        const auto fits = [&] {
            return queue_.size() + lines.size() <= queue_limit_ || (wait_for_room && queue_.empty());
        };
        // A healthy writer empties the queue at each pass: waiting for it
        // costs time, never lines. A failing sink is not waited for.
        if (wait_for_room)
            room_.wait(lock, [&] { return stopping_ || gone_ || !healthy_ || fits(); });
        if (stopping_ || gone_ || !fits()) {
            dropped_ += count_lines(lines);
            return;
        }
        queue_ += lines;
        cv_.notify_one();
    }

    void stop(Clock::time_point deadline)
    {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!thread_.joinable())
                return;
            deadline_ = deadline;
            stopping_ = true;
        }
        cv_.notify_one();
        room_.notify_all();
        thread_.join();
    }

    SinkStatus status() const
    {
        std::lock_guard<std::mutex> lock(mutex_);
        return {name_, healthy_, written_, dropped_, errors_, reopens_, rotations_, queue_.size(), last_error_};
    }

private:
    void run()
    {
        std::unique_lock<std::mutex> lock(mutex_);
        auto retry_at = Clock::now();
        auto retry_delay = kFirstRetry;
        uint64_t unconfirmed = 0;  // lines the transport holds until they are known delivered
        for (;;) {
            cv_.wait_for(lock, kPoll, [&] { return !queue_.empty() || stopping_; });
            const bool hup = g_reopen_generation.load() != seen_generation_;
            if (stopping_ && ((queue_.empty() && unconfirmed == 0) || gone_ || Clock::now() >= deadline_))
                break;
            if (queue_.empty() && !hup && unconfirmed == 0)
                continue;
            lock.unlock();

            std::string error;
            bool ok = healthy_;
            if (hup) {
                seen_generation_ = g_reopen_generation.load();
                if (transport_->reopens_on_hup() || !healthy_) {
                    ok = transport_->open(error);
                    lock.lock();
                    reopens_ += 1;
                    lock.unlock();
                }
            }
            if (!ok && Clock::now() >= retry_at) {
                ok = transport_->open(error);
                lock.lock();
                reopens_ += 1;
                lock.unlock();
            }
            bool idle = false;
            if (ok) {
                lock.lock();
                std::string batch;
                batch.swap(queue_);
                room_.notify_all();
                lock.unlock();
                uint64_t dropped = 0;
                const size_t sent = transport_->send(batch, error, dropped);
                ok = error.empty();
                idle = batch.empty();
                const uint64_t still_unconfirmed = transport_->unconfirmed();
                lock.lock();
                // What was not sent goes back in front of what arrived meanwhile.
                queue_.insert(0, batch, sent, std::string::npos);
                written_ += count_lines(batch.substr(0, sent)) + unconfirmed - dropped - still_unconfirmed;
                unconfirmed = still_unconfirmed;
                dropped_ += dropped;
                rotations_ = transport_->rotations();
                if (transport_->gone()) {
                    gone_ = true;
                    dropped_ += count_lines(queue_);
                    queue_.clear();
                    std::fprintf(stderr, "flowsentry: sink %s: %s: the reader has gone; its output is dropped "
                                         "and counted from now on\n",
                                 name_.c_str(), error.c_str());
                }
                lock.unlock();
            }

            lock.lock();
            if (ok && !healthy_) {
                std::fprintf(stderr, "flowsentry: sink %s: resumed after %" PRIu64 " failed attempt(s)\n",
                             name_.c_str(), failures_in_a_row_);
                failures_in_a_row_ = 0;
                retry_delay = kFirstRetry;
            }
            if (!ok) {
                if (!error.empty()) {
                    errors_ += 1;
                    last_error_ = error;
                    if (healthy_ && !gone_)
                        note_failure(error);
                    failures_in_a_row_ += 1;
                    retry_at = Clock::now() + retry_delay;
                    retry_delay = std::min<std::chrono::milliseconds>(retry_delay * 2, kMaxRetry);
                }
                // Wait for the retry without spinning.
                cv_.wait_until(lock, stopping_ ? std::min(retry_at, deadline_) : retry_at,
                               [&] { return stopping_ && Clock::now() >= deadline_; });
            } else if (idle && stopping_) {
                // Only waiting for acknowledgements: look again shortly.
                cv_.wait_for(lock, kPoll / 10);
            }
            healthy_ = ok;
            room_.notify_all();  // a producer waiting for room stops waiting for a failing sink
        }
        // Whatever could not be written, or is not known delivered, by the
        // deadline is lost: count it.
        dropped_ += count_lines(queue_) + unconfirmed;
        queue_.clear();
    }

    // Called with the mutex held or before the thread starts.
    void note_failure(const std::string &error)
    {
        std::fprintf(stderr, "flowsentry: sink %s: failing: %s; retrying, output is queued (up to %u bytes)\n",
                     name_.c_str(), error.c_str(), queue_limit_);
        healthy_ = false;
    }

    const std::string name_;
    const uint32_t queue_limit_;
    std::unique_ptr<Transport> transport_;
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::condition_variable room_;  // the queue was taken, or the sink failed
    std::string queue_;
    bool stopping_ = false;
    Clock::time_point deadline_;
    bool healthy_ = true;
    uint64_t seen_generation_ = 0;
    bool gone_ = false;
    std::string last_error_;
    uint64_t written_ = 0, dropped_ = 0, errors_ = 0, reopens_ = 0, rotations_ = 0;
    uint64_t failures_in_a_row_ = 0;
    std::thread thread_;
};

SinkSet::SinkSet(const std::vector<SinkConfig> &configs, const std::string &hostname)
{
    for (const SinkConfig &c : configs)
        writers_.push_back(std::make_unique<SinkWriter>(c, hostname));
}

SinkSet::~SinkSet() { close(std::chrono::milliseconds(0)); }

void SinkSet::write(const std::string &lines, bool wait_for_room)
{
    if (lines.empty())
        return;
    for (auto &w : writers_)
        w->enqueue(lines, wait_for_room);
}

void SinkSet::close(std::chrono::milliseconds timeout)
{
    const auto deadline = Clock::now() + timeout;
    for (auto &w : writers_)
        w->stop(deadline);
}

std::vector<SinkStatus> SinkSet::status() const
{
    std::vector<SinkStatus> out;
    for (const auto &w : writers_)
        out.push_back(w->status());
    return out;
}

std::string lost_output(const std::vector<SinkStatus> &sinks)
{
    std::string out;
    for (const SinkStatus &s : sinks) {
        if (s.lines_dropped == 0)
            continue;
        out += (out.empty() ? "output lost: sink " : "; sink ") + s.name + " dropped " +
               std::to_string(s.lines_dropped) + " of " + std::to_string(s.lines_written + s.lines_dropped) +
               " line(s)" + (s.last_error.empty() ? " (queue full, or a datagram too big)" : " (" + s.last_error + ")");
    }
    return out;
}

void request_sink_reopen()
{
    g_reopen_generation.fetch_add(1);
}

std::string syslog_message(const std::string &json_line, uint8_t facility, const std::string &hostname,
                           const std::string &app_name, uint64_t now_ns)
{
    // Our own key order puts event.kind early; attacker text inside a
    // string is escaped, so it cannot contain this exact byte sequence.
    const bool alert = json_line.find("\"kind\":\"alert\"") != std::string::npos;
    const unsigned severity = alert ? 4 : 6;  // warning : informational
    std::string host;
    for (char ch : hostname.substr(0, 255))
        host += (ch > 32 && ch < 127) ? ch : '_';
    if (host.empty())
        host = "-";
    std::string json = json_line;
    if (!json.empty() && json.back() == '\n')
        json.pop_back();
    return "<" + std::to_string(facility * 8u + severity) + ">1 " + format_timestamp(now_ns) + " " + host + " " +
           app_name + " " + std::to_string(getpid()) + " " + (alert ? "alert" : "event") + " - " + json;
}

}  // namespace flowsentry
