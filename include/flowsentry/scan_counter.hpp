// Scan counting on the worker: the first half of "Telnet Scan".
//
// Every SYN to a Telnet port is an attempt by its source. Sending each one to
// the control thread would make one thread do per-SYN work for every core,
// which is exactly what an Internet scan wave (hundreds of thousands of
// sources, one or two SYNs each) brings down. So each worker counts, per
// source, the distinct servers it tried within the scan window, and hands a
// source's attempts to the control thread only once they can matter:
//
//   - cold: fewer than `hot_at` distinct servers on this worker within the
//     window. Its attempts stay here (kHeldAttempts at most, repeats and
//     failures counted into them); nothing crosses to the control thread.
//   - hot: it reached `hot_at`, or the control thread asked (watch()). The
//     held attempts are handed over at once, later ones as they happen, until
//     the source has been quiet for a window.
//
// Spreading keeps every (client, server) address pair on one worker, so the
// workers count disjoint sets of a source's servers. With `hot_at` =
// ceil(destinations / workers), a source that reaches the threshold across N
// workers reaches `hot_at` on at least one of them; that worker's hand-over
// makes the control thread watch the source on the others, which hand over
// what they hold. The control thread then sees every attempt of every source
// that can cross the threshold, and the alert is the same for 1 or N workers.
//
// Memory is fixed at start: `capacity` sources in 4-way buckets, 192 bytes
// each. A new source takes a free way, else the way with the least to lose
// (a hot source, whose attempts are with the control thread, or one holding a
// single server, before one closer to the threshold; the one seen longest
// ago among equals), counted: O(1) per attempt, nothing is ever walked.
#pragma once

#include <cstdint>

#include "flowsentry/counters.hpp"
#include "flowsentry/event_record.hpp"
#include "flowsentry/tcp_handshake.hpp"

namespace flowsentry {

// An attempt or what became of it, as the worker hands it over.
struct ScanHandover {
    enum class Kind : uint8_t {
        opened,   // a SYN to `server` (count: SYNs to it from this source)
        failed,   // `count` attempts of this source ended as `outcome`
        watched,  // reply to watch(): everything held was handed over before it
    };
    Kind kind;
    HandshakeOutcome outcome;  // failed
    bool current;              // the attempt being counted now (else one held here)
    uint16_t client_port;
    uint16_t server_port;
    uint32_t count;
    uint64_t time_ns;
    const uint8_t *server;     // opened: 16 bytes
};

class ScanHandoverSink {
public:
    virtual void report(const ScanHandover &h) = 0;

protected:
    ~ScanHandoverSink() = default;
};

// A source as the counter keys it (and as a watch request carries it:
// ring elements are whole 4-byte words).
struct ScanSourceKey {
    uint8_t addr[16];
    uint8_t ip_version;
    uint8_t pad[3];
};

// A hand-over as the attempt record the scan detection takes. A held
// attempt (not `current`) is described whole: addresses, ports and time,
// all the detection needs of it. A current one's record is the caller's,
// from its flow; either way record_handover adds what the hand-over says.
void fill_held_attempt(EventRecord &rec, const ScanSourceKey &source, const ScanHandover &h, uint16_t worker_id);
void record_handover(EventRecord &rec, const ScanHandover &h);

// A watch request: the source, and the packet time of the attempt that made
// it hot elsewhere. A worker that lags behind (or has seen no packet yet)
// counts the watch from then, not from its own older clock, so its later
// attempts of the source are within the window, not a window past it.
struct ScanWatch {
    ScanSourceKey source;
    uint64_t time_ns;
};

class ScanCounter {
public:
    static constexpr unsigned kHeldAttempts = 4;
    static constexpr unsigned kWays = 4;

    // capacity: sources (rounded up to a power of two, at least kWays);
    // window_ns: the scan window; hot_at: 1..kHeldAttempts + 1.
    // Allocates on `socket_id`; throws std::runtime_error.
    ScanCounter(uint32_t capacity, uint64_t window_ns, uint32_t hot_at, int socket_id, ScanCounters &counters);
    ~ScanCounter();
    ScanCounter(const ScanCounter &) = delete;
    ScanCounter &operator=(const ScanCounter &) = delete;

    // A client's SYN to a Telnet server (a new attempt).
    void opened(const ScanSourceKey &source, const uint8_t server[16], uint16_t client_port, uint16_t server_port,
                uint64_t time_ns, ScanHandoverSink &sink);
    // An attempt of `source` ended without a handshake.
    void failed(const ScanSourceKey &source, HandshakeOutcome outcome, uint64_t time_ns, ScanHandoverSink &sink);
    // The control thread asks for `source`: what is held goes over, the source
    // is hot from now on; always ends with a `watched` hand-over.
    void watch(const ScanSourceKey &source, uint64_t now_ns, ScanHandoverSink &sink);

    // DPDK memory a counter of `capacity` sources takes.
    static size_t memory_bytes(uint32_t capacity);

    // The most hand-overs one call can make (for a caller reserving room).
    static constexpr unsigned kMaxHandovers = kHeldAttempts + 4;

    uint32_t hot_at() const { return hot_at_; }

private:
    struct Held {
        uint64_t time_ns;  // first try of the server
        uint8_t server[16];
        uint16_t client_port;
        uint16_t server_port;
        uint32_t count;    // SYNs to it
    };
    struct alignas(64) Source {
        // Who it is (start_over keeps these and last_ns)...
        uint8_t addr[16];
        uint64_t last_ns;   // last attempt; 0: free way
        uint8_t ip_version;
        // ...and what it did.
        uint8_t hot;
        uint8_t held;       // entries of `attempts` in use
        uint8_t pad;
        // Failures while cold, by outcome group (handed over with the held).
        uint16_t failures[static_cast<int>(HandshakeOutcome::count_)];
        Held attempts[kHeldAttempts];
    };

    Source *find(const ScanSourceKey &key);
    Source &find_or_add(const ScanSourceKey &key, uint64_t now_ns);
    // The source as if first seen at `last_ns`: its identity kept, nothing counted.
    static void start_over(Source &s, uint64_t last_ns);
    // Cold again once quiet for a window; held servers past the window go.
    void age(Source &s, uint64_t now_ns);
    void hand_over_held(Source &s, ScanHandoverSink &sink);

    Source *sources_ = nullptr;
    uint32_t bucket_mask_ = 0;
    uint64_t window_ns_;
    uint32_t hot_at_;
    ScanCounters &counters_;
};

}  // namespace flowsentry
