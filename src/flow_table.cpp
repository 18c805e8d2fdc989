// Flow table (see flow_table.hpp for the design).
#include "flowsentry/flow_table.hpp"

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>

#include <rte_config.h>
#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace flowsentry {

FlowList flow_list(TcpState s)
{
    switch (s) {
    case TcpState::none:
    case TcpState::syn_sent:
        return FlowList::unanswered;
    case TcpState::syn_received:
        return FlowList::answered;
    case TcpState::established:
        return FlowList::established;
    case TcpState::closing:
        return FlowList::closing;
    case TcpState::closed:
        return FlowList::closed;
    case TcpState::midstream:
        return FlowList::midstream;
    case TcpState::rejected:
    case TcpState::half_open:
        break;
    }
    return FlowList::attempt_over;
}

TimeoutClass timeout_class(FlowList l)
{
    switch (l) {
    case FlowList::closed:
    case FlowList::closing:
        return TimeoutClass::closing;
    case FlowList::midstream:
    case FlowList::established:
        return TimeoutClass::established;
    default:
        return TimeoutClass::attempt;
    }
}

namespace {

// Fibonacci hashing: the high bits of the product depend on every bit of x,
// and reduce() takes the high bits.
uint32_t mix32(uint32_t x) { return x * 0x9e3779b1u; }

// [0, n) from 32 well-mixed bits, without a division.
uint32_t reduce(uint32_t x, uint32_t n) { return static_cast<uint32_t>((uint64_t{x} * n) >> 32); }

uint32_t bucket_count(uint32_t capacity)
{
    const uint64_t ways = (uint64_t{capacity} * 100 + FlowTable::kIndexLoadPercent - 1) / FlowTable::kIndexLoadPercent;
    // A key's two buckets are one when the signature's offset is twice the
    // first (alternate()): one key in nbuckets. A small table gets enough
    // buckets that such keys still find room.
    return static_cast<uint32_t>(std::max<uint64_t>(8, (ways + FlowTable::kIndexWays - 1) / FlowTable::kIndexWays));
}

}  // namespace

static_assert(RTE_MAX_ETHPORTS <= 256, "Flow::port_id is one byte");
static_assert(sizeof(Flow) == 120, "Flow is 120 bytes: see its comment before growing it");

uint64_t FlowTable::memory_bytes(uint32_t capacity)
{
    return uint64_t{capacity} * sizeof(Flow) + uint64_t{bucket_count(capacity)} * sizeof(Bucket);
}

FlowTable::FlowTable(const FlowTableParams &params)
    : nbuckets_(bucket_count(params.capacity)), capacity_(params.capacity),
      handshake_reserve_(params.capacity / 8 > 0 ? params.capacity / 8 : 1),
      lru_period_log2_(params.lru_period_log2)
{
    for (int l = 0; l < kLists; ++l)
        timeout_ns_[l] = params.timeout_ns[static_cast<int>(timeout_class(static_cast<FlowList>(l)))];
    salt_ = mix32(static_cast<uint32_t>(rte_rdtsc()) ^ static_cast<uint32_t>(reinterpret_cast<uintptr_t>(this)));

    // Zeroed buckets are empty ways.
    buckets_ = static_cast<Bucket *>(
        rte_zmalloc_socket(params.name, sizeof(Bucket) * uint64_t{nbuckets_}, RTE_CACHE_LINE_SIZE, params.socket_id));
    flows_ = static_cast<Flow *>(
        rte_zmalloc_socket(params.name, sizeof(Flow) * uint64_t{capacity_}, RTE_CACHE_LINE_SIZE, params.socket_id));
    if (buckets_ == nullptr || flows_ == nullptr) {
        rte_free(buckets_);
        rte_free(flows_);
        throw std::runtime_error(std::string("flow table ") + params.name + ": cannot allocate " +
                                 std::to_string(memory_bytes(capacity_)) + " bytes for " +
                                 std::to_string(capacity_) + " flows (DPDK memory: -m / hugepages)");
    }
    for (uint32_t i = 0; i < capacity_; ++i) {
        flows_[i].lru_list = FlowList::count_;
        flows_[i].lru_next = i + 1 < capacity_ ? i + 1 : kNil;
    }
    free_head_ = capacity_ > 0 ? 0 : kNil;
}

FlowTable::~FlowTable()
{
    rte_free(flows_);
    rte_free(buckets_);
}

FlowTable::Place FlowTable::place_of(uint32_t hash) const
{
    Place p;
    p.sig = static_cast<uint16_t>(hash);
    p.bucket[0] = reduce(mix32(hash ^ salt_), nbuckets_);
    p.bucket[1] = alternate(p.bucket[0], p.sig);
    return p;
}

uint32_t FlowTable::alternate(uint32_t bucket, uint16_t sig) const
{
    // The two buckets sum to an offset that depends on the signature alone
    // (mod nbuckets_): either one gives the other.
    const uint32_t offset = reduce(mix32(sig ^ salt_), nbuckets_);
    return offset >= bucket ? offset - bucket : offset + nbuckets_ - bucket;
}

uint32_t FlowTable::matching_ways(const Bucket &bk, uint16_t sig)
{
    // An empty way's signature is 0: callers check the slot too.
#if defined(__SSE2__)
    // Ways 0-7 and 2-9 in two 8-lane compares, packed to one byte a way.
    static_assert(kIndexWays == 10 && offsetof(Bucket, sig) == 0, "two loads cover the signatures");
    const __m128i want = _mm_set1_epi16(static_cast<short>(sig));
    const __m128i lo = _mm_cmpeq_epi16(_mm_load_si128(reinterpret_cast<const __m128i *>(bk.sig)), want);
    const __m128i hi = _mm_cmpeq_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i *>(bk.sig + 2)), want);
    const uint32_t m = static_cast<uint32_t>(_mm_movemask_epi8(_mm_packs_epi16(lo, hi)));
    return (m & 0xff) | ((m >> 8) << 2);
#else
    uint32_t mask = 0;
    for (uint32_t w = 0; w < kIndexWays; ++w)
        mask |= uint32_t{bk.sig[w] == sig} << w;
    return mask;
#endif
}

Flow *FlowTable::find_in(const Place &p, const FlowKey &key)
{
    for (uint32_t b : p.bucket) {
        const Bucket &bk = buckets_[b];
        for (uint32_t m = matching_ways(bk, p.sig); m != 0; m &= m - 1) {
            const uint32_t slot = bk.slot[__builtin_ctz(m)];
            if (slot != 0 && same_flow_key(flows_[slot - 1].key, key))
                return &flows_[slot - 1];
        }
    }
    return nullptr;
}

Flow *FlowTable::lookup(const FlowKey &key, uint32_t hash) { return find_in(place_of(hash), key); }

void FlowTable::lookup_bulk(const uint32_t hashes[], uint32_t n, Flow *found[])
{
    added_.reset();
    // Two passes, so the memory reads of one key overlap the others': every
    // bucket line first, then the first flow whose signature matches, which
    // is prefetched for the packet's turn.
    Place places[kBulkMax];
    for (uint32_t i = 0; i < n; ++i) {
        places[i] = place_of(hashes[i]);
        rte_prefetch0(&buckets_[places[i].bucket[0]]);
        rte_prefetch0(&buckets_[places[i].bucket[1]]);
    }
    for (uint32_t i = 0; i < n; ++i) {
        found[i] = nullptr;
        for (uint32_t b : places[i].bucket) {
            const Bucket &bk = buckets_[b];
            for (uint32_t m = matching_ways(bk, places[i].sig); m != 0 && found[i] == nullptr; m &= m - 1)
                if (const uint32_t slot = bk.slot[__builtin_ctz(m)]; slot != 0)
                    found[i] = &flows_[slot - 1];
        }
        if (found[i] != nullptr) {
            rte_prefetch0(found[i]);
            rte_prefetch0(reinterpret_cast<const char *>(found[i] + 1) - 1);  // a flow may straddle two lines
        }
    }
}

Flow *FlowTable::current(const FlowKey &key, uint32_t hash, Flow *answer)
{
    // A candidate is the flow if it is in use and holds the key: slots are
    // stable while their key is in the index, and a key is there once. Any
    // other candidate (a signature shared with another key, a slot freed
    // or reused since) means a full lookup. A miss stays a miss unless a
    // key of the same hash was added.
    if (answer != nullptr)
        return answer->lru_list != FlowList::count_ && same_flow_key(answer->key, key) ? answer : lookup(key, hash);
    return added_.contains(hash) ? lookup(key, hash) : nullptr;
}

bool FlowTable::index_add(uint32_t hash, uint32_t slot)
{
    const Place p = place_of(hash);
    // Into the emptier bucket: the buckets' fill stays even, and at the
    // index's load a key seldom finds both full.
    int best = -1, best_way = -1;
    uint32_t most_free = 0;
    for (int b = 0; b < 2; ++b) {
        const Bucket &bk = buckets_[p.bucket[b]];
        uint32_t free = 0;
        int way = -1;
        for (uint32_t w = 0; w < kIndexWays; ++w)
            if (bk.slot[w] == 0) {
                ++free;
                if (way < 0)
                    way = static_cast<int>(w);
            }
        if (free > most_free) {
            most_free = free;
            best = b;
            best_way = way;
        }
    }
    if (best < 0)
        return cuckoo_add(p, slot);
    Bucket &bk = buckets_[p.bucket[best]];
    bk.sig[best_way] = p.sig;
    bk.slot[best_way] = slot + 1;
    return true;
}

bool FlowTable::cuckoo_add(const Place &p, uint32_t slot)
{
    // Breadth-first search for a bucket with a free way, over the entries'
    // alternate buckets; then every entry on the path moves one step, from
    // the free end back, and the new key takes the way freed in its own
    // bucket. Bounded: a key that finds no room is refused.
    struct Node {
        uint32_t bucket;
        int16_t parent;  // node whose bucket's entry at `way` moves here
        uint8_t way;
    };
    constexpr int kMaxNodes = 128;
    Node nodes[kMaxNodes];
    int count = 0;
    auto queued = [&](uint32_t b) {
        for (int i = 0; i < count; ++i)
            if (nodes[i].bucket == b)
                return true;
        return false;
    };
    for (uint32_t b : p.bucket)
        if (!queued(b))
            nodes[count++] = {b, -1, 0};
    for (int at = 0; at < count; ++at) {
        const Bucket &bk = buckets_[nodes[at].bucket];
        for (uint32_t w = 0; w < kIndexWays; ++w) {
            if (bk.slot[w] != 0)
                continue;
            // Found: shift the path towards this free way.
            uint32_t free_way = w;
            int cur = at;
            while (nodes[cur].parent >= 0) {
                const Node &n = nodes[cur];
                Bucket &from = buckets_[nodes[n.parent].bucket];
                Bucket &to = buckets_[n.bucket];
                to.sig[free_way] = from.sig[n.way];
                to.slot[free_way] = from.slot[n.way];
                free_way = n.way;
                cur = n.parent;
            }
            Bucket &home = buckets_[nodes[cur].bucket];
            home.sig[free_way] = p.sig;
            home.slot[free_way] = slot + 1;
            return true;
        }
        for (uint32_t w = 0; w < kIndexWays && count < kMaxNodes; ++w) {
            const uint32_t alt = alternate(nodes[at].bucket, bk.sig[w]);
            if (!queued(alt))
                nodes[count++] = {alt, static_cast<int16_t>(at), static_cast<uint8_t>(w)};
        }
    }
    return false;
}

void FlowTable::index_remove(uint32_t hash, uint32_t slot)
{
    const Place p = place_of(hash);
    for (uint32_t b : p.bucket) {
        Bucket &bk = buckets_[b];
        for (uint32_t w = 0; w < kIndexWays; ++w)
            if (bk.slot[w] == slot + 1) {
                bk.slot[w] = 0;
                bk.sig[w] = 0;
                return;
            }
    }
}

void FlowTable::touch(Flow &flow, uint64_t now_ns)
{
    const uint64_t before = flow.last_seen_ns;
    if (now_ns > before)
        flow.last_seen_ns = now_ns;
    const FlowList list = flow_list(flow.tcp.state);
    // A flow was last moved within the period its last_seen_ns is in (a
    // packet in a new period moves it), so each list stays ordered by move
    // time, and a flow's last packet is less than a period after its move.
    // Expiry stops at the first head not yet due: any flow behind it was
    // moved no earlier, so it is due less than a period after that head.
    if (lru_period_log2_ != 0 && list == flow.lru_list &&
        (flow.last_seen_ns >> lru_period_log2_) == (before >> lru_period_log2_))
        return;
    list_unlink(flow);
    flow.lru_list = list;
    list_push_tail(flow);
}

void FlowTable::remove(Flow &flow)
{
    list_unlink(flow);
    const uint32_t idx = index_of(flow);
    index_remove(flow_key_hash(flow.key), idx);
    flow.lru_list = FlowList::count_;
    flow.lru_next = free_head_;
    free_head_ = idx;
    --size_;
}

void FlowTable::list_push_tail(Flow &flow)
{
    List &list = lists_[static_cast<int>(flow.lru_list)];
    const uint32_t idx = index_of(flow);
    flow.lru_next = kNil;
    flow.lru_prev = list.tail;
    if (list.tail != kNil)
        flows_[list.tail].lru_next = idx;
    else
        list.head = idx;
    list.tail = idx;
    ++list.size;
}

void FlowTable::list_unlink(Flow &flow)
{
    List &list = lists_[static_cast<int>(flow.lru_list)];
    if (flow.lru_prev != kNil)
        flows_[flow.lru_prev].lru_next = flow.lru_next;
    else
        list.head = flow.lru_next;
    if (flow.lru_next != kNil)
        flows_[flow.lru_next].lru_prev = flow.lru_prev;
    else
        list.tail = flow.lru_prev;
    flow.lru_prev = flow.lru_next = kNil;
    --list.size;
}

Flow *FlowTable::head_of(FlowList l)
{
    const uint32_t head = lists_[static_cast<int>(l)].head;
    return head == kNil ? nullptr : &flows_[head];
}

Flow *FlowTable::oldest_head(FlowList first, FlowList last)
{
    Flow *oldest = nullptr;
    for (int l = static_cast<int>(first); l <= static_cast<int>(last); ++l) {
        Flow *f = head_of(static_cast<FlowList>(l));
        if (f != nullptr && (oldest == nullptr || f->last_seen_ns < oldest->last_seen_ns))
            oldest = f;
    }
    return oldest;
}

Flow *FlowTable::eviction_victim()
{
    // Nothing left to detect: losing these costs at most a recount.
    if (Flow *f = oldest_head(FlowList::attempt_over, FlowList::midstream))
        return f;

    // Handshakes in progress, down to the reserve. A flood of spoofed SYNs
    // that nobody answers churns among itself, so answered handshakes are
    // kept; SYNs to a live server do get answers, and then the oldest
    // handshake goes, so each one has table-size / SYN-rate to complete.
    const uint32_t unanswered = list_size(FlowList::unanswered);
    const uint32_t answered = list_size(FlowList::answered);
    Flow *accepted = oldest_head(FlowList::closing, FlowList::established);
    if (unanswered + answered >= handshake_reserve_ || accepted == nullptr) {
        Flow *u = head_of(FlowList::unanswered);
        Flow *a = head_of(FlowList::answered);
        if (u != nullptr && (a == nullptr || unanswered >= answered || u->last_seen_ns <= a->last_seen_ns))
            return u;
        if (a != nullptr)
            return a;
    }
    // Accepted connections: their end record says `evicted`.
    return accepted;
}

}  // namespace flowsentry
