// Flow table: one per worker, owned by that worker's core (no locks).
//
// rte_hash maps the canonical key to a slot; flow state lives in a
// preallocated array indexed by the slot, so a lookup touches the hash bucket
// and one flow. Flows sit on LRU lists by what is left to learn of them (see
// FlowList); every list has one timeout, so each is ordered by expiry as
// well: expiry pops list heads (amortised, a bounded batch per poll).
//
// Eviction, when the table is full, is by value so that a flood of spoofed
// SYNs cannot push out real connections: first flows with nothing left to
// detect, then handshakes in progress (unanswered before answered), and
// accepted connections only while fewer handshakes than a reserve (an eighth
// of the table) are in progress, so new connections always find room.
#pragma once

#include <cstdint>

#include "flowsentry/event_record.hpp"
#include "flowsentry/flow_key.hpp"
#include "flowsentry/tcp_handshake.hpp"

struct rte_hash;

namespace flowsentry {

enum class TimeoutClass : uint8_t { attempt, established, closing, count_ };

// The LRU list a flow is on, in eviction order: earlier lists go first.
enum class FlowList : uint8_t {
    attempt_over,  // rejected or half-open: outcome already counted
    closed,        // accepted and finished: end record already written
    midstream,     // joined late: never yields a document
    unanswered,    // SYN seen, nothing from the server yet
    answered,      // matching SYN-ACK seen, final ACK awaited
    closing,       // accepted, one FIN seen
    established,   // accepted and open
    count_
};

FlowList flow_list(TcpState s);
TimeoutClass timeout_class(FlowList l);

struct Flow {
    uint64_t first_seen_ns;
    uint64_t last_seen_ns;
    uint64_t bytes[2];     // indexed by key side: 0 = lo, 1 = hi
    uint32_t packets[2];
    uint32_t lru_prev;
    uint32_t lru_next;
    TcpConnection tcp;
    uint16_t port_id;
    FlowList lru_list;
    uint8_t in_use;
    uint8_t end_reported;  // the connection end record was emitted
    // Payload inspection (payload_inspector.hpp): 8 bytes, 72 → 80 per flow.
    uint8_t inspect_flags;  // InspectFlag bits
    uint32_t inspect_slot;  // the worker's inspection state + 1; 0: none
};

struct FlowTableParams {
    const char *name;       // unique per process (rte_hash names are global)
    uint32_t capacity;      // most flows held at once
    uint64_t timeout_ns[static_cast<int>(TimeoutClass::count_)];
    int socket_id;
    // A packet moves its flow to the tail of its list only when the flow
    // changes list or its packet time enters a new period of 2^lru_period_log2
    // ns (0: on every packet). Fewer moves, fewer cache misses on list
    // neighbours; a flow's own expiry stays exact, and one behind it on its
    // list can expire up to one period late (see touch()).
    uint8_t lru_period_log2;
};

class FlowTable {
public:
    // Throws std::runtime_error with the cause when memory can't be had.
    explicit FlowTable(const FlowTableParams &params);
    ~FlowTable();
    FlowTable(const FlowTable &) = delete;
    FlowTable &operator=(const FlowTable &) = delete;

    // The flow of `key`, or nullptr.
    Flow *lookup(const FlowKey &key, uint32_t hash);

    // Most keys one lookup_bulk takes (rte_hash's bulk limit).
    static constexpr uint32_t kBulkMax = 64;

    // Looks up `n` (≤ kBulkMax) keys at once and prefetches the flows found:
    // found[i] is the flow of keys[i] or nullptr. The answers are as of this
    // call; until the next one the table notes the slots it frees and the
    // hashes it adds, so that current() can tell whether one still holds.
    void lookup_bulk(const FlowKey *const keys[], const uint32_t hashes[], uint32_t n, Flow *found[]);

    // The flow of `key` now, given an answer for it that was right at
    // lookup_bulk or since (lookup_bulk's, or what an earlier packet of the
    // flow went to). A packet handled in between can have removed that flow
    // (eviction) or added the missing one; only then does this look the key
    // up again.
    Flow *current(const FlowKey &key, uint32_t hash, Flow *answer);

    // Inserts a zeroed flow for `key` (which must not be present). When the
    // table is full, the eviction victim (see the top of this file) is handed
    // to `on_evict` (before its slot is reused) and removed first. Returns nullptr only if
    // the hash refuses the key even then (counted by the caller).
    template <typename OnEvict>
    Flow *insert(const FlowKey &key, uint32_t hash, uint64_t now_ns, OnEvict &&on_evict);

    // Records a packet of the flow at `now_ns`: moves the flow to the tail
    // of the list for its new state, if it changed list or entered a new LRU
    // period (FlowTableParams::lru_period_log2).
    void touch(Flow &flow, uint64_t now_ns);

    // Ends up to `budget` flows idle past their class timeout at `now_ns`,
    // calling on_expire(flow, key) before each is removed. Returns how many.
    template <typename OnExpire>
    uint32_t expire(uint64_t now_ns, uint32_t budget, OnExpire &&on_expire);

    // Calls fn(flow, key) for every flow, then empties the table.
    template <typename Fn>
    void flush(Fn &&fn);

    void remove(Flow &flow);

    uint32_t size() const { return size_; }
    uint32_t capacity() const { return capacity_; }
    // Flows on one list (tests, and the eviction policy).
    uint32_t list_size(FlowList l) const { return lists_[static_cast<int>(l)].size; }
    const FlowKey &key_of(const Flow &flow) const;

private:
    static constexpr uint32_t kNil = UINT32_MAX;
    struct List {
        uint32_t head = kNil;
        uint32_t tail = kNil;
        uint32_t size = 0;
    };
    static constexpr int kLists = static_cast<int>(FlowList::count_);

    uint32_t index_of(const Flow &flow) const { return static_cast<uint32_t>(&flow - flows_); }
    int32_t add_key(const FlowKey &key, uint32_t hash);  // slot, or -errno
    void list_push_tail(Flow &flow);
    void list_unlink(Flow &flow);
    Flow *head_of(FlowList l);
    Flow *oldest_head(FlowList first, FlowList last);  // least recently seen head of lists [first, last]
    Flow *eviction_victim();

    // Values noted since lookup_bulk (freed slots, added hashes; see
    // current()). A 256-bit filter answers most "never noted" questions
    // without a scan; past kBatchLog values, everything counts as noted.
    class BatchLog {
    public:
        void reset()
        {
            n_ = 0;
            filter_[0] = filter_[1] = filter_[2] = filter_[3] = 0;
        }
        void note(uint32_t v)
        {
            const uint32_t bit = mix(v);
            filter_[bit >> 6] |= 1ull << (bit & 63);
            if (n_ < kBatchLog)
                values_[n_] = v;
            if (n_ <= kBatchLog)
                ++n_;
        }
        bool contains(uint32_t v) const
        {
            const uint32_t bit = mix(v);
            if (!(filter_[bit >> 6] & (1ull << (bit & 63))))
                return false;
            if (n_ > kBatchLog)
                return true;
            for (uint32_t i = 0; i < n_; ++i)
                if (values_[i] == v)
                    return true;
            return false;
        }

    private:
        static constexpr uint32_t kBatchLog = 2 * kBulkMax;
        static uint32_t mix(uint32_t v) { return (v * 0x9e3779b1u) >> 24; }
        uint64_t filter_[4] = {};
        uint32_t values_[kBatchLog];
        uint32_t n_ = 0;
    };
    BatchLog freed_;  // slots
    BatchLog added_;  // hashes

    rte_hash *hash_ = nullptr;
    Flow *flows_ = nullptr;
    uint32_t capacity_ = 0;
    uint32_t slots_ = 0;  // rte_hash entries, and flows_'s length: capacity + headroom
    uint32_t size_ = 0;
    uint32_t handshake_reserve_ = 1;
    uint8_t lru_period_log2_ = 0;
    uint64_t timeout_ns_[kLists];  // of each list, from its timeout class
    List lists_[kLists];
};

// ---- templates ----

template <typename OnEvict>
Flow *FlowTable::insert(const FlowKey &key, uint32_t hash, uint64_t now_ns, OnEvict &&on_evict)
{
    if (size_ >= capacity_) {
        Flow *victim = eviction_victim();
        if (victim == nullptr)
            return nullptr;
        on_evict(*victim, key_of(*victim));
        remove(*victim);
    }
    int32_t pos = add_key(key, hash);
    if (pos < 0)
        return nullptr;
    added_.note(hash);
    Flow &flow = flows_[pos];
    flow = Flow{};
    flow.in_use = 1;
    flow.first_seen_ns = now_ns;
    flow.last_seen_ns = now_ns;
    flow.lru_list = FlowList::unanswered;
    list_push_tail(flow);
    ++size_;
    return &flow;
}

template <typename OnExpire>
uint32_t FlowTable::expire(uint64_t now_ns, uint32_t budget, OnExpire &&on_expire)
{
    uint32_t done = 0;
    for (int l = 0; l < kLists; ++l) {
        List &list = lists_[l];
        while (done < budget && list.head != kNil) {
            Flow &flow = flows_[list.head];
            if (now_ns < flow.last_seen_ns + timeout_ns_[l])
                break;  // the rest of this list is younger
            on_expire(flow, key_of(flow));
            remove(flow);
            ++done;
        }
    }
    return done;
}

template <typename Fn>
void FlowTable::flush(Fn &&fn)
{
    for (List &list : lists_) {
        while (list.head != kNil) {
            Flow &flow = flows_[list.head];
            fn(flow, key_of(flow));
            remove(flow);
        }
    }
}

}  // namespace flowsentry
