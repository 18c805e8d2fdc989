// Flow table: one per worker, owned by that worker's core (no locks).
//
// Flows live in a preallocated array; each flow holds its own key. An index
// of 64-byte buckets maps a key to its flow: a bucketised cuckoo hash where
// a key may sit in one of two buckets, as a 16-bit signature and the flow's
// slot. A lookup touches the two bucket lines and, on a signature match,
// the flow itself; a miss (every new flow of a flood) touches the buckets
// alone. Flows sit on LRU lists by what is left to learn of them (see
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

namespace flowsentry {

enum class TimeoutClass : uint8_t { attempt, established, closing, count_ };

// The LRU list a flow is on, in eviction order: earlier lists go first.
enum class FlowList : uint8_t {
    attempt_over,  // rejected or half-open: outcome already counted
    closed,        // accepted and finished: the end record waits only for its last packets
    midstream,     // joined late: never yields a document
    unanswered,    // SYN seen, nothing from the server yet
    answered,      // matching SYN-ACK seen, final ACK awaited
    closing,       // accepted, one FIN seen
    established,   // accepted and open
    count_
};

FlowList flow_list(TcpState s);
TimeoutClass timeout_class(FlowList l);

// 120 bytes: with the index's share (FlowTable::kIndexBytesPerFlow) a
// tracked flow costs under 128 bytes.
struct Flow {
    FlowKey key;
    uint64_t first_seen_ns;
    uint64_t last_seen_ns;
    uint64_t bytes[2];     // indexed by key side: 0 = lo, 1 = hi
    uint32_t packets[2];
    uint32_t lru_prev;
    uint32_t lru_next;     // on the free list: the next free slot
    // Payload inspection (payload_inspector.hpp).
    uint32_t inspect_slot;  // the worker's inspection state + 1; 0: none
    TcpConnection tcp;
    uint8_t port_id;        // RTE_MAX_ETHPORTS fits (flow_table.cpp)
    FlowList lru_list;      // FlowList::count_: the slot is free
    uint8_t end_reported;   // the connection end record was emitted
    uint8_t inspect_flags;  // InspectFlag bits
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

    // The flow of `key`, or nullptr. `hash` is flow_key_hash(key).
    Flow *lookup(const FlowKey &key, uint32_t hash);

    // Most keys one lookup_bulk takes.
    static constexpr uint32_t kBulkMax = 64;

    // Index bytes per flow of capacity (its buckets are kept at most
    // kIndexLoadPercent full).
    static constexpr uint32_t kIndexWays = 10;
    static constexpr uint32_t kIndexLoadPercent = 85;
    static constexpr double kIndexBytesPerFlow = 64.0 * 100 / (kIndexWays * kIndexLoadPercent);
    // What `capacity` flows take, all allocated at construction.
    static uint64_t memory_bytes(uint32_t capacity);

    // Looks up `n` (≤ kBulkMax) keys by their hashes at once: the bucket
    // lines of all first, then the flows their signatures point to, which
    // are prefetched. found[i] is a candidate for the key of hashes[i] (or
    // nullptr: not in the table): current() confirms it when the packet's turn comes, by
    // which time the flow's line has come in. Until the next call the table
    // notes the hashes it adds, so that current() can tell a miss that no
    // longer holds.
    void lookup_bulk(const uint32_t hashes[], uint32_t n, Flow *found[]);

    // The flow of `key` now, given lookup_bulk's candidate for it, or the
    // flow an earlier packet of the burst went to. A packet handled in
    // between can have removed that flow (eviction) or added the missing
    // one; only then, or when the candidate holds another key, does this
    // look the key up again.
    Flow *current(const FlowKey &key, uint32_t hash, Flow *answer);

    // Inserts a zeroed flow for `key` (which must not be present). When the
    // table is full, the eviction victim (see the top of this file) is handed
    // to `on_evict` (before its slot is reused) and removed first. Returns
    // nullptr only if the index has no room for the key even then: both its
    // buckets and every cuckoo path from them are full, which takes more
    // than 2 x kIndexWays keys of colliding hashes (counted by the caller).
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
    const FlowKey &key_of(const Flow &flow) const { return flow.key; }

private:
    static constexpr uint32_t kNil = UINT32_MAX;
    struct List {
        uint32_t head = kNil;
        uint32_t tail = kNil;
        uint32_t size = 0;
    };
    static constexpr int kLists = static_cast<int>(FlowList::count_);

    // One cache line: a key is in a way whose signature is the low 16 bits
    // of its hash; slot 0 is an empty way, else the flow's index + 1.
    struct alignas(64) Bucket {
        uint16_t sig[kIndexWays];
        uint32_t slot[kIndexWays];
    };
    // Where a key may be: bucket[0] from the hash, bucket[1] from bucket[0]
    // and the signature alone, so an entry can move between its two buckets
    // without its key (alternate()).
    struct Place {
        uint32_t bucket[2];
        uint16_t sig;
    };

    uint32_t index_of(const Flow &flow) const { return static_cast<uint32_t>(&flow - flows_); }
    Place place_of(uint32_t hash) const;
    uint32_t alternate(uint32_t bucket, uint16_t sig) const;
    static uint32_t matching_ways(const Bucket &bk, uint16_t sig);  // bit w: way w's signature is sig
    Flow *find_in(const Place &p, const FlowKey &key);
    bool index_add(uint32_t hash, uint32_t slot);
    bool cuckoo_add(const Place &p, uint32_t slot);
    void index_remove(uint32_t hash, uint32_t slot);
    void list_push_tail(Flow &flow);
    void list_unlink(Flow &flow);
    Flow *head_of(FlowList l);
    Flow *oldest_head(FlowList first, FlowList last);  // least recently seen head of lists [first, last]
    Flow *eviction_victim();

    // Hashes added since lookup_bulk (see current()). A 256-bit filter
    // answers most "never added" questions without a scan; past kBatchLog
    // values, everything counts as added.
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
    BatchLog added_;

    Bucket *buckets_ = nullptr;
    uint32_t nbuckets_ = 0;
    uint32_t salt_ = 0;  // per table, so bucket collisions can't be precomputed
    Flow *flows_ = nullptr;
    uint32_t capacity_ = 0;
    uint32_t free_head_ = kNil;  // free slots, linked through lru_next
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
    const uint32_t pos = free_head_;
    if (pos == kNil || !index_add(hash, pos))
        return nullptr;
    Flow &flow = flows_[pos];
    free_head_ = flow.lru_next;
    added_.note(hash);
    flow = Flow{};
    flow.key = key;
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
