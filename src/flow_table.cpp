// Flow table (see flow_table.hpp for the design).
#include "flowsentry/flow_table.hpp"

#include <cerrno>
#include <stdexcept>
#include <string>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>

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

FlowTable::FlowTable(const FlowTableParams &params)
    : capacity_(params.capacity), slots_(params.capacity + params.capacity / 4),
      handshake_reserve_(params.capacity / 8 > 0 ? params.capacity / 8 : 1),
      lru_period_log2_(params.lru_period_log2)
{
    for (int l = 0; l < kLists; ++l)
        timeout_ns_[l] = params.timeout_ns[static_cast<int>(timeout_class(static_cast<FlowList>(l)))];

    rte_hash_parameters hp{};
    hp.name = params.name;
    // A quarter more entries than flows: eviction keeps the table at
    // `capacity`, so cuckoo insertion never works at full load, where it
    // searches long displacement paths.
    hp.entries = slots_;
    hp.key_len = sizeof(FlowKey);
    hp.hash_func = rte_hash_crc;
    hp.hash_func_init_val = 0;
    hp.socket_id = params.socket_id;
    // The extendable bucket table guarantees `capacity` keys fit whatever
    // their hashes, so "full" means full and an attacker can't make it fail
    // early by colliding buckets.
    hp.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    hash_ = rte_hash_create(&hp);
    if (hash_ == nullptr)
        throw std::runtime_error(std::string("flow table ") + params.name + ": cannot create hash of " +
                                 std::to_string(slots_) + " entries: " + rte_strerror(rte_errno));

    flows_ = static_cast<Flow *>(rte_zmalloc_socket(params.name, sizeof(Flow) * slots_,
                                                    RTE_CACHE_LINE_SIZE, params.socket_id));
    if (flows_ == nullptr) {
        rte_hash_free(hash_);
        throw std::runtime_error(std::string("flow table ") + params.name + ": cannot allocate " +
                                 std::to_string(sizeof(Flow) * slots_) + " bytes of flow state");
    }
}

FlowTable::~FlowTable()
{
    rte_free(flows_);
    rte_hash_free(hash_);
}

Flow *FlowTable::lookup(const FlowKey &key, uint32_t hash)
{
    const int32_t pos = rte_hash_lookup_with_hash(hash_, &key, hash);
    return pos >= 0 ? &flows_[pos] : nullptr;
}

void FlowTable::lookup_bulk(const FlowKey *const keys[], const uint32_t hashes[], uint32_t n, Flow *found[])
{
    freed_.reset();
    added_.reset();
    if (n == 0)
        return;
    int32_t pos[kBulkMax];
    // The API takes non-const arrays but only reads them.
    rte_hash_lookup_with_hash_bulk(hash_, reinterpret_cast<const void **>(const_cast<const FlowKey **>(keys)),
                                   const_cast<uint32_t *>(hashes), n, pos);
    for (uint32_t i = 0; i < n; ++i) {
        if (pos[i] < 0) {
            found[i] = nullptr;
            continue;
        }
        found[i] = &flows_[pos[i]];
        rte_prefetch0(found[i]);
        rte_prefetch0(reinterpret_cast<const char *>(found[i] + 1) - 1);  // a flow may straddle two lines
    }
}

Flow *FlowTable::current(const FlowKey &key, uint32_t hash, Flow *answer)
{
    // Slots are stable while their key is in the table: a hit only goes
    // stale if its slot was freed (it may hold another key now). A miss
    // stays a miss unless a key of the same hash was added.
    const bool recheck = answer != nullptr ? freed_.contains(index_of(*answer)) : added_.contains(hash);
    return recheck ? lookup(key, hash) : answer;
}

int32_t FlowTable::add_key(const FlowKey &key, uint32_t hash)
{
    const int32_t pos = rte_hash_add_key_with_hash(hash_, &key, hash);
    // Positions are below `entries` when no per-lcore cache is used; check
    // anyway, since flows_ is indexed by it.
    if (pos >= 0 && static_cast<uint32_t>(pos) >= slots_) {
        rte_hash_del_key_with_hash(hash_, &key, hash);
        return -ENOSPC;
    }
    return pos;
}

const FlowKey &FlowTable::key_of(const Flow &flow) const
{
    void *key = nullptr;
    // Cannot fail for a slot in use; the key store outlives the flow.
    rte_hash_get_key_with_position(hash_, static_cast<int32_t>(index_of(flow)), &key);
    return *static_cast<const FlowKey *>(key);
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
    const FlowKey &key = key_of(flow);
    rte_hash_del_key(hash_, &key);
    freed_.note(index_of(flow));
    flow.in_use = 0;
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
