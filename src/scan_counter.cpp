// Scan counting on the worker (see scan_counter.hpp).
#include "flowsentry/scan_counter.hpp"

#include <netinet/in.h>

#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>

#include <rte_hash_crc.h>
#include <rte_malloc.h>

namespace flowsentry {

namespace {

bool same_source(const uint8_t *addr, uint8_t ip_version, const ScanSourceKey &key)
{
    return ip_version == key.ip_version && std::memcmp(addr, key.addr, sizeof key.addr) == 0;
}

uint32_t source_hash(const ScanSourceKey &key)
{
    // CRC32C over both halves: addresses that differ in any byte (IPv6 ones
    // often only in the last) spread over the buckets.
    uint64_t a, b;
    std::memcpy(&a, key.addr, 8);
    std::memcpy(&b, key.addr + 8, 8);
    return rte_hash_crc_8byte(b, rte_hash_crc_8byte(a, key.ip_version));
}

uint32_t round_up_pow2(uint32_t n)
{
    uint32_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

}  // namespace

namespace {

uint32_t buckets_for(uint32_t capacity)
{
    return round_up_pow2((capacity + ScanCounter::kWays - 1) / ScanCounter::kWays);
}

}  // namespace

size_t ScanCounter::memory_bytes(uint32_t capacity) { return size_t(buckets_for(capacity)) * kWays * sizeof(Source); }

ScanCounter::ScanCounter(uint32_t capacity, uint64_t window_ns, uint32_t hot_at, int socket_id,
                         ScanCounters &counters)
    : window_ns_(window_ns), hot_at_(hot_at), counters_(counters)
{
    if (hot_at < 1 || hot_at > kHeldAttempts + 1)
        throw std::runtime_error("scan counter: hot_at " + std::to_string(hot_at) + " outside 1.." +
                                 std::to_string(kHeldAttempts + 1));
    const uint32_t buckets = buckets_for(capacity);
    bucket_mask_ = buckets - 1;
    const size_t bytes = memory_bytes(capacity);
    sources_ = static_cast<Source *>(rte_zmalloc_socket("scan_counter", bytes, alignof(Source), socket_id));
    if (sources_ == nullptr)
        throw std::runtime_error("scan counter: cannot allocate " + std::to_string(bytes) + " bytes for " +
                                 std::to_string(buckets * kWays) + " sources (detections.scan.max_sources)");
}

ScanCounter::~ScanCounter() { rte_free(sources_); }

void fill_held_attempt(EventRecord &rec, const ScanSourceKey &source, const ScanHandover &h, uint16_t worker_id)
{
    std::memset(&rec, 0, sizeof rec);
    rec.type = EventType::attempt;
    rec.time_ns = rec.start_ns = h.time_ns;
    rec.ip_version = source.ip_version;
    rec.l4_proto = IPPROTO_TCP;
    std::memcpy(rec.client_addr, source.addr, sizeof rec.client_addr);
    if (h.server != nullptr)
        std::memcpy(rec.server_addr, h.server, sizeof rec.server_addr);
    rec.client_port = h.client_port;
    rec.server_port = h.server_port;
    rec.worker_id = worker_id;
}

void record_handover(EventRecord &rec, const ScanHandover &h)
{
    rec.attempt_phase = h.kind == ScanHandover::Kind::opened   ? AttemptPhase::opened
                        : h.kind == ScanHandover::Kind::failed ? AttemptPhase::failed
                                                               : AttemptPhase::watched;
    rec.outcome = static_cast<uint8_t>(h.outcome);
    rec.count = h.count;
}

ScanCounter::Source *ScanCounter::find(const ScanSourceKey &key)
{
    Source *bucket = sources_ + size_t(source_hash(key) & bucket_mask_) * kWays;
    for (unsigned i = 0; i < kWays; ++i)
        if (bucket[i].last_ns != 0 && same_source(bucket[i].addr, bucket[i].ip_version, key))
            return &bucket[i];
    return nullptr;
}

ScanCounter::Source &ScanCounter::find_or_add(const ScanSourceKey &key, uint64_t now_ns)
{
    Source *bucket = sources_ + size_t(source_hash(key) & bucket_mask_) * kWays;
    // A free way, else the way with the least to lose: hot sources (their
    // attempts are with the control thread) and those holding one server
    // (most of a wave) before those closer to the threshold; the one seen
    // longest ago among equals.
    const auto worth = [](const Source &s) { return s.last_ns == 0 ? 0 : s.hot ? 1 : 1 + s.held; };
    Source *victim = &bucket[0];
    for (unsigned i = 0; i < kWays; ++i) {
        Source &s = bucket[i];
        if (s.last_ns != 0 && same_source(s.addr, s.ip_version, key))
            return s;
        if (worth(s) < worth(*victim) || (worth(s) == worth(*victim) && s.last_ns < victim->last_ns))
            victim = &s;
    }
    if (victim->last_ns != 0)
        counters_.sources_evicted.add();
    std::memcpy(victim->addr, key.addr, sizeof key.addr);
    victim->ip_version = key.ip_version;
    // Packet time 0 would read as a free way.
    start_over(*victim, now_ns != 0 ? now_ns : 1);
    return *victim;
}

void ScanCounter::start_over(Source &s, uint64_t last_ns)
{
    // Everything from `hot` on is what the source did; before it, who it is.
    std::memset(&s.hot, 0, sizeof(Source) - offsetof(Source, hot));
    s.last_ns = last_ns;
}

void ScanCounter::age(Source &s, uint64_t now_ns)
{
    if (now_ns > s.last_ns + window_ns_) {
        // Quiet for a whole window: nothing it did still counts.
        start_over(s, s.last_ns);
        return;
    }
    unsigned kept = 0;
    for (unsigned i = 0; i < s.held; ++i)
        if (now_ns <= s.attempts[i].time_ns + window_ns_)
            s.attempts[kept++] = s.attempts[i];
    s.held = static_cast<uint8_t>(kept);
}

void ScanCounter::hand_over_held(Source &s, ScanHandoverSink &sink)
{
    for (unsigned i = 0; i < s.held; ++i) {
        const Held &h = s.attempts[i];
        sink.report({ScanHandover::Kind::opened, HandshakeOutcome::accepted, false, h.client_port, h.server_port,
                        h.count, h.time_ns, h.server});
    }
    for (int o = 0; o < static_cast<int>(HandshakeOutcome::count_); ++o)
        if (s.failures[o] != 0)
            sink.report({ScanHandover::Kind::failed, static_cast<HandshakeOutcome>(o), false, 0, 0,
                            s.failures[o], s.last_ns, nullptr});
    s.held = 0;
    std::memset(s.failures, 0, sizeof s.failures);
}

void ScanCounter::opened(const ScanSourceKey &source, const uint8_t server[16], uint16_t client_port,
                         uint16_t server_port, uint64_t time_ns, ScanHandoverSink &sink)
{
    counters_.attempts.add();
    Source &s = find_or_add(source, time_ns);
    age(s, time_ns);
    s.last_ns = time_ns != 0 ? time_ns : 1;
    if (!s.hot) {
        for (unsigned i = 0; i < s.held; ++i) {
            if (std::memcmp(s.attempts[i].server, server, 16) == 0) {
                s.attempts[i].count += 1;  // a server tried again: one more SYN, not one more server
                counters_.held.add();
                return;
            }
        }
        if (s.held + 1u < hot_at_) {
            Held &h = s.attempts[s.held++];
            h.time_ns = time_ns;
            std::memcpy(h.server, server, sizeof h.server);
            h.client_port = client_port;
            h.server_port = server_port;
            h.count = 1;
            counters_.held.add();
            return;
        }
        s.hot = 1;
        counters_.hot.add();
        hand_over_held(s, sink);
    }
    sink.report({ScanHandover::Kind::opened, HandshakeOutcome::accepted, true, client_port, server_port, 1,
                    time_ns, server});
}

void ScanCounter::failed(const ScanSourceKey &source, HandshakeOutcome outcome, uint64_t time_ns,
                         ScanHandoverSink &sink)
{
    // A failure is news about a source being counted; one forgotten since
    // is not worth a way.
    Source *s = find(source);
    if (s == nullptr)
        return;
    if (s->hot) {
        sink.report({ScanHandover::Kind::failed, outcome, true, 0, 0, 1, time_ns, nullptr});
        return;
    }
    uint16_t &n = s->failures[static_cast<int>(outcome)];
    if (n != UINT16_MAX)
        n += 1;
}

void ScanCounter::watch(const ScanSourceKey &source, uint64_t now_ns, ScanHandoverSink &sink)
{
    counters_.watches.add();
    Source &s = find_or_add(source, now_ns);
    age(s, now_ns);
    if (!s.hot) {
        s.hot = 1;
        counters_.hot.add();
        hand_over_held(s, sink);
    }
    sink.report({ScanHandover::Kind::watched, HandshakeOutcome::accepted, false, 0, 0, 0, now_ns, nullptr});
}

}  // namespace flowsentry
