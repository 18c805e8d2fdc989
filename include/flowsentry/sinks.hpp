// Sinks: where the control thread's NDJSON goes. Any combination of
// rotating files, stdout and syslog (RFC 5424 over UDP, TCP or a unix
// datagram socket, the JSON document as the message).
//
// Each sink has its own queue and writer thread, so a slow or dead sink
// never holds the control thread or the other sinks back. A sink that
// fails keeps what it could not write queued (up to queue_bytes), retries
// with back-off, resumes by itself, and logs each change of state once.
// Lines that do not fit in the queue are dropped and counted; so is all
// output of a stdout whose reader has gone (EPIPE).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "flowsentry/config.hpp"

namespace flowsentry {

struct SinkStatus {
    std::string name;           // "file:/var/log/x.ndjson", "syslog+udp:127.0.0.1:514", "stdout"
    bool healthy;               // last write or open succeeded
    uint64_t lines_written;     // TCP syslog: acknowledged by the receiver's TCP
    uint64_t lines_dropped;     // queue full, too big for a datagram, the reader gone (EPIPE),
                                // or still queued (TCP: unacknowledged) at exit
    uint64_t write_errors;      // failed writes or opens
    uint64_t reopens;           // opens after the first: retries, SIGHUP, rotation
    uint64_t rotations;
    uint64_t queued_bytes;
    std::string last_error;     // the cause of the last failure, "" if none
};

class SinkWriter;

class SinkSet {
public:
    // Opens every sink. A file or stdout that cannot be opened is a
    // start-up error (std::runtime_error with the cause); a syslog receiver
    // that is down is not: it is retried until it answers.
    SinkSet(const std::vector<SinkConfig> &configs, const std::string &hostname);
    ~SinkSet();
    SinkSet(const SinkSet &) = delete;
    SinkSet &operator=(const SinkSet &) = delete;

    // Queues lines (each ending in '\n') on every sink; never blocks on I/O.
    // A sink whose queue has no room drops them (counted), unless
    // `wait_for_room` (a replay: no line rate to keep up with) and the sink
    // is healthy: then this waits until its writer has taken the queue.
    void write(const std::string &lines, bool wait_for_room = false);

    // Waits up to `timeout` for every queue to drain, then stops the
    // writers; what is still queued is counted in lines_dropped.
    void close(std::chrono::milliseconds timeout = std::chrono::seconds(5));

    std::vector<SinkStatus> status() const;

private:
    std::vector<std::unique_ptr<SinkWriter>> writers_;
};

// One line naming each sink that lost lines, how many and the last cause
// ("" when none did): why a run whose output is incomplete exits 1.
std::string lost_output(const std::vector<SinkStatus> &sinks);

// Asks every file sink to reopen its path (logrotate's SIGHUP convention).
// Async-signal-safe: a signal handler may call it.
void request_sink_reopen();

// The RFC 5424 frame of one document: "<PRI>1 TIMESTAMP HOST APP PROCID
// MSGID - JSON". Alerts are severity warning with MSGID "alert", other
// documents info with MSGID "event".
std::string syslog_message(const std::string &json_line, uint8_t facility, const std::string &hostname,
                           const std::string &app_name, uint64_t now_ns);

}  // namespace flowsentry
