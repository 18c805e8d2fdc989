// Flow table: insert/lookup, expiry by class, eviction of the least recently
// seen flow, capacity bounds, the cuckoo index at full load and under
// colliding hashes. Memory comes from the EAL (started by
// eal_environment.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <rte_hash.h>

#include "flowsentry/flow_table.hpp"

using namespace flowsentry;

namespace {

constexpr uint64_t kSecond = 1000000000ull;

FlowKey key_for(uint32_t n)
{
    FlowKey k;
    std::memset(&k, 0, sizeof(k));
    k.addr_lo[0] = 10;
    std::memcpy(&k.addr_lo[1], &n, 3);
    k.addr_hi[0] = 192;
    k.port_lo = static_cast<uint16_t>(1024 + (n & 0x7fff));
    k.port_hi = 23;
    k.l4_proto = 6;
    k.ip_version = 4;
    return k;
}

uint32_t hash_of(const FlowKey &k) { return flow_key_hash(k); }

class FlowTableTest : public ::testing::Test {
protected:
    std::unique_ptr<FlowTable> make(uint32_t capacity)
    {
        static int instance = 0;
        name_ = "test_flows_" + std::to_string(instance++);
        FlowTableParams p{};
        p.name = name_.c_str();
        p.capacity = capacity;
        p.timeout_ns[static_cast<int>(TimeoutClass::attempt)] = 30 * kSecond;
        p.timeout_ns[static_cast<int>(TimeoutClass::established)] = 3600 * kSecond;
        p.timeout_ns[static_cast<int>(TimeoutClass::closing)] = 60 * kSecond;
        p.socket_id = 0;
        return std::make_unique<FlowTable>(p);
    }

    Flow *add(FlowTable &t, uint32_t n, uint64_t now, std::vector<uint32_t> *evicted = nullptr)
    {
        const FlowKey k = key_for(n);
        return t.insert(k, hash_of(k), now, [&](Flow &, const FlowKey &vk) {
            if (evicted != nullptr) {
                uint32_t id = 0;
                std::memcpy(&id, &vk.addr_lo[1], 3);
                evicted->push_back(id);
            }
        });
    }

    std::string name_;
};

}  // namespace

TEST_F(FlowTableTest, InsertedFlowIsFoundWithItsKey)
{
    auto t = make(64);
    Flow *f = add(*t, 1, 5 * kSecond);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(t->size(), 1u);
    const FlowKey k = key_for(1);
    EXPECT_EQ(t->lookup(k, hash_of(k)), f);
    EXPECT_EQ(std::memcmp(&t->key_of(*f), &k, sizeof(k)), 0);
    const FlowKey other = key_for(2);
    EXPECT_EQ(t->lookup(other, hash_of(other)), nullptr);
}

TEST_F(FlowTableTest, ExpiryFollowsTheClassTimeout)
{
    auto t = make(64);
    Flow *attempt = add(*t, 1, 0);
    Flow *open = add(*t, 2, 0);
    open->tcp.state = TcpState::established;
    t->touch(*open, 0);

    std::vector<uint32_t> ended;
    auto collect = [&](Flow &, const FlowKey &k) {
        uint32_t id = 0;
        std::memcpy(&id, &k.addr_lo[1], 3);
        ended.push_back(id);
    };
    EXPECT_EQ(t->expire(29 * kSecond, 100, collect), 0u);
    EXPECT_EQ(t->expire(30 * kSecond, 100, collect), 1u);
    EXPECT_EQ(ended, std::vector<uint32_t>{1});
    EXPECT_EQ(t->size(), 1u);
    (void)attempt;

    EXPECT_EQ(t->expire(3599 * kSecond, 100, collect), 0u);
    EXPECT_EQ(t->expire(3600 * kSecond, 100, collect), 1u);
    EXPECT_EQ(ended, (std::vector<uint32_t>{1, 2}));
    EXPECT_EQ(t->size(), 0u);
}

TEST_F(FlowTableTest, TouchKeepsAFlowAlive)
{
    auto t = make(64);
    Flow *f = add(*t, 1, 0);
    t->touch(*f, 25 * kSecond);
    EXPECT_EQ(t->expire(40 * kSecond, 100, [](Flow &, const FlowKey &) {}), 0u);
    EXPECT_EQ(t->expire(55 * kSecond, 100, [](Flow &, const FlowKey &) {}), 1u);
}

TEST_F(FlowTableTest, ExpiryIsBoundedPerCall)
{
    auto t = make(256);
    for (uint32_t i = 0; i < 200; ++i)
        ASSERT_NE(add(*t, i, 0), nullptr);
    uint32_t calls = 0, total = 0, n;
    while ((n = t->expire(100 * kSecond, 64, [](Flow &, const FlowKey &) {})) != 0) {
        EXPECT_LE(n, 64u);
        total += n;
        ++calls;
    }
    EXPECT_EQ(total, 200u);
    EXPECT_EQ(calls, 4u);
}

TEST_F(FlowTableTest, FullTableEvictsTheLeastRecentlySeenFlow)
{
    auto t = make(16);
    for (uint32_t i = 0; i < 16; ++i)
        ASSERT_NE(add(*t, i, i * kSecond), nullptr);
    // Flow 0 is the oldest, but a packet makes it the youngest.
    const FlowKey k0 = key_for(0);
    t->touch(*t->lookup(k0, hash_of(k0)), 100 * kSecond);

    std::vector<uint32_t> evicted;
    ASSERT_NE(add(*t, 100, 101 * kSecond, &evicted), nullptr);
    EXPECT_EQ(evicted, std::vector<uint32_t>{1});
    EXPECT_EQ(t->size(), 16u);
    const FlowKey k1 = key_for(1);
    EXPECT_EQ(t->lookup(k1, hash_of(k1)), nullptr);
}

TEST_F(FlowTableTest, TenTimesCapacityStaysBounded)
{
    auto t = make(1024);
    std::vector<uint32_t> evicted;
    for (uint32_t i = 0; i < 10240; ++i)
        ASSERT_NE(add(*t, i, i, &evicted), nullptr) << "insert " << i;
    EXPECT_EQ(t->size(), 1024u);
    EXPECT_EQ(evicted.size(), 10240u - 1024u);
    // Evicted in insertion order: the survivors are the last 1024.
    for (uint32_t i = 0; i < evicted.size(); ++i)
        ASSERT_EQ(evicted[i], i);
    for (uint32_t i = 10240 - 1024; i < 10240; ++i) {
        const FlowKey k = key_for(i);
        ASSERT_NE(t->lookup(k, hash_of(k)), nullptr) << i;
    }
}

TEST_F(FlowTableTest, FlushVisitsEveryFlowAndEmpties)
{
    auto t = make(64);
    for (uint32_t i = 0; i < 40; ++i)
        add(*t, i, 0);
    std::set<uint32_t> seen;
    t->flush([&](Flow &, const FlowKey &k) {
        uint32_t id = 0;
        std::memcpy(&id, &k.addr_lo[1], 3);
        seen.insert(id);
    });
    EXPECT_EQ(seen.size(), 40u);
    EXPECT_EQ(t->size(), 0u);
    // Slots are reusable afterwards.
    for (uint32_t i = 0; i < 64; ++i)
        ASSERT_NE(add(*t, 1000 + i, 0), nullptr);
}

TEST_F(FlowTableTest, RemovedFlowIsGone)
{
    auto t = make(64);
    Flow *f = add(*t, 3, 0);
    t->remove(*f);
    const FlowKey k = key_for(3);
    EXPECT_EQ(t->lookup(k, hash_of(k)), nullptr);
    EXPECT_EQ(t->size(), 0u);
}

TEST_F(FlowTableTest, EveryFlowOfAFullTableIsFoundAfterCuckooMoves)
{
    // At capacity the index is kIndexLoadPercent full: inserts move entries
    // between buckets. Every flow must stay findable, one by one and in bulk,
    // through churn that removes and adds a third of them.
    constexpr uint32_t kCapacity = 50000;
    auto t = make(kCapacity);
    std::vector<Flow *> flow_of(3 * kCapacity, nullptr);
    for (uint32_t i = 0; i < kCapacity; ++i)
        ASSERT_NE(flow_of[i] = add(*t, i, 0), nullptr) << "insert " << i;
    for (uint32_t i = 0; i < kCapacity; i += 3) {
        t->remove(*flow_of[i]);
        flow_of[i] = nullptr;
    }
    for (uint32_t i = kCapacity; i < kCapacity + kCapacity / 3; ++i)
        ASSERT_NE(flow_of[i] = add(*t, i, 0), nullptr) << "insert " << i;

    std::set<const Flow *> distinct;
    for (uint32_t first = 0; first < kCapacity + kCapacity / 3; first += FlowTable::kBulkMax) {
        const uint32_t n = std::min<uint32_t>(FlowTable::kBulkMax, kCapacity + kCapacity / 3 - first);
        FlowKey keys[FlowTable::kBulkMax];
        uint32_t hashes[FlowTable::kBulkMax];
        Flow *found[FlowTable::kBulkMax];
        for (uint32_t i = 0; i < n; ++i) {
            keys[i] = key_for(first + i);
            hashes[i] = hash_of(keys[i]);
        }
        t->lookup_bulk(hashes, n, found);
        for (uint32_t i = 0; i < n; ++i) {
            found[i] = t->current(keys[i], hashes[i], found[i]);
            ASSERT_EQ(found[i], flow_of[first + i]) << "bulk, flow " << first + i;
            ASSERT_EQ(t->lookup(keys[i], hashes[i]), flow_of[first + i]) << "flow " << first + i;
            if (found[i] != nullptr) {
                EXPECT_TRUE(same_flow_key(t->key_of(*found[i]), keys[i]));
                distinct.insert(found[i]);
            }
        }
    }
    EXPECT_EQ(distinct.size(), t->size());
    EXPECT_EQ(t->size(), kCapacity - (kCapacity + 2) / 3 + kCapacity / 3);
}

TEST_F(FlowTableTest, CollidingHashesAreRefusedPastTwoBucketsAndHurtNoOtherFlow)
{
    // An attacker who makes keys of one hash (CRC is linear) gets at most
    // two buckets' worth of flows; the rest are refused, not chained, and
    // flows of other hashes insert and look up as before: all but those
    // whose own two buckets are the same pair (2 in nbuckets^2 keys, about
    // 1 in 30 million here).
    auto t = make(65536);
    const uint32_t colliding = 0x12345678;
    uint32_t placed = 0, refused = 0;
    for (uint32_t i = 0; i < 100; ++i) {
        const FlowKey k = key_for(i);
        Flow *f = t->insert(k, colliding, 0, [](Flow &, const FlowKey &) {});
        (f != nullptr ? placed : refused) += 1;
        if (f != nullptr) {
            EXPECT_EQ(t->lookup(k, colliding), f);
        }
    }
    // In bulk every key of the hash gets the same first candidate;
    // current() finds each key's own flow, or none.
    uint32_t hashes[FlowTable::kBulkMax];
    Flow *found[FlowTable::kBulkMax];
    std::fill(hashes, hashes + FlowTable::kBulkMax, colliding);
    t->lookup_bulk(hashes, FlowTable::kBulkMax, found);
    for (uint32_t i = 0; i < FlowTable::kBulkMax; ++i) {
        const FlowKey k = key_for(i);
        Flow *f = t->current(k, colliding, found[i]);
        EXPECT_EQ(f, t->lookup(k, colliding)) << i;
        if (f != nullptr) {
            EXPECT_TRUE(same_flow_key(f->key, k)) << i;
        }
    }
    EXPECT_GE(placed, FlowTable::kIndexWays);
    EXPECT_LE(placed, 2 * FlowTable::kIndexWays);
    EXPECT_EQ(placed + refused, 100u);
    EXPECT_EQ(t->size(), placed);
    uint32_t others_refused = 0;
    for (uint32_t i = 1000; i < 4000; ++i) {
        Flow *f = add(*t, i, 0);
        if (f == nullptr) {
            ++others_refused;
            continue;
        }
        const FlowKey k = key_for(i);
        ASSERT_EQ(t->lookup(k, hash_of(k)), f) << i;
    }
    EXPECT_LE(others_refused, 1u);
    EXPECT_EQ(t->size(), placed + 3000 - others_refused);
}

TEST_F(FlowTableTest, ATrackedFlowCostsAtMost128Bytes)
{
    // Issue 5's budget: the flow and its share of the index, all allocated
    // at start (the peak-RSS measurement is in scripts/bench-all.sh).
    for (uint32_t capacity : {65536u, 1000000u, 1u << 20, 1u << 24})
        EXPECT_LE(FlowTable::memory_bytes(capacity), uint64_t{capacity} * 128) << capacity;
    EXPECT_LE(sizeof(Flow) + FlowTable::kIndexBytesPerFlow, 128.0);
}

namespace {

// Sets a flow's handshake state as the worker would, and files it on its list.
void set_state(FlowTable &t, Flow &f, TcpState s, uint64_t now)
{
    f.tcp.state = s;
    t.touch(f, now);
}

}  // namespace

TEST_F(FlowTableTest, EveryStateHasAListAndEachListATimeoutClass)
{
    EXPECT_EQ(flow_list(TcpState::syn_sent), FlowList::unanswered);
    EXPECT_EQ(flow_list(TcpState::syn_received), FlowList::answered);
    EXPECT_EQ(flow_list(TcpState::established), FlowList::established);
    EXPECT_EQ(flow_list(TcpState::closing), FlowList::closing);
    EXPECT_EQ(flow_list(TcpState::closed), FlowList::closed);
    EXPECT_EQ(flow_list(TcpState::rejected), FlowList::attempt_over);
    EXPECT_EQ(flow_list(TcpState::half_open), FlowList::attempt_over);
    EXPECT_EQ(flow_list(TcpState::midstream), FlowList::midstream);
    EXPECT_EQ(timeout_class(FlowList::unanswered), TimeoutClass::attempt);
    EXPECT_EQ(timeout_class(FlowList::attempt_over), TimeoutClass::attempt);
    EXPECT_EQ(timeout_class(FlowList::closed), TimeoutClass::closing);
    EXPECT_EQ(timeout_class(FlowList::midstream), TimeoutClass::established);
}

TEST_F(FlowTableTest, EvictionTakesFinishedFlowsBeforeHandshakesBeforeConnections)
{
    auto t = make(16);
    // Oldest first: 4 accepted, 4 answered, 4 unanswered, 4 finished
    // (rejected, half-open, closed, midstream).
    const TcpState states[] = {TcpState::established, TcpState::syn_received, TcpState::syn_sent,
                               TcpState::rejected,    TcpState::half_open,    TcpState::closed,
                               TcpState::midstream};
    uint32_t n = 0;
    for (TcpState s : {states[0], states[0], states[0], states[0], states[1], states[1], states[1], states[1],
                       states[2], states[2], states[2], states[2], states[3], states[4], states[5], states[6]}) {
        set_state(*t, *add(*t, n, n * kSecond), s, n * kSecond);
        ++n;
    }
    std::vector<uint32_t> evicted;
    for (uint32_t i = 0; i < 10; ++i)
        ASSERT_NE(add(*t, 100 + i, 100 * kSecond, &evicted), nullptr);
    // The finished ones in age order; then the unanswered handshakes, the
    // new flows among them in their turn, since they outnumber the answered
    // ones; no accepted connection.
    EXPECT_EQ(evicted, (std::vector<uint32_t>{12, 13, 14, 15, 8, 9, 10, 11, 100, 101}));
    EXPECT_EQ(t->list_size(FlowList::answered), 4u);
    EXPECT_EQ(t->list_size(FlowList::established), 4u);
}

TEST_F(FlowTableTest, UnansweredSynFloodKeepsAnsweredHandshakes)
{
    auto t = make(64);
    set_state(*t, *add(*t, 0, 0), TcpState::syn_received, 0);  // a real handshake, half done
    std::vector<uint32_t> evicted;
    for (uint32_t i = 1; i <= 640; ++i)
        ASSERT_NE(add(*t, i, i, &evicted), nullptr);
    EXPECT_EQ(evicted.size(), 640u - 63u);
    EXPECT_EQ(std::count(evicted.begin(), evicted.end(), 0u), 0);
    const FlowKey k0 = key_for(0);
    EXPECT_NE(t->lookup(k0, hash_of(k0)), nullptr);
}

TEST_F(FlowTableTest, AcceptedConnectionsGoOnlyBelowTheHandshakeReserve)
{
    auto t = make(16);  // reserve: 16 / 8 = 2 handshakes
    for (uint32_t i = 0; i < 16; ++i)
        set_state(*t, *add(*t, i, i * kSecond), TcpState::established, i * kSecond);
    std::vector<uint32_t> evicted;
    // The first two new flows take accepted connections' places (least
    // recently seen first); from then on new flows take each other's.
    for (uint32_t i = 0; i < 10; ++i)
        ASSERT_NE(add(*t, 100 + i, 100 * kSecond + i, &evicted), nullptr);
    EXPECT_EQ(evicted, (std::vector<uint32_t>{0, 1, 100, 101, 102, 103, 104, 105, 106, 107}));
    EXPECT_EQ(t->list_size(FlowList::established), 14u);
    EXPECT_EQ(t->list_size(FlowList::unanswered), 2u);
}

TEST_F(FlowTableTest, AnsweredFloodGivesWayOldestFirst)
{
    // SYNs to a live server get answers: the table fills with answered
    // handshakes that never finish. A new SYN then pushes out the oldest of
    // those, not the newest SYN still waiting for its answer.
    auto t = make(16);
    for (uint32_t i = 0; i < 15; ++i)
        set_state(*t, *add(*t, i, i * kSecond), TcpState::syn_received, i * kSecond);
    ASSERT_NE(add(*t, 100, 20 * kSecond), nullptr);  // waiting for its SYN-ACK
    std::vector<uint32_t> evicted;
    ASSERT_NE(add(*t, 101, 21 * kSecond, &evicted), nullptr);
    ASSERT_NE(add(*t, 102, 22 * kSecond, &evicted), nullptr);
    EXPECT_EQ(evicted, (std::vector<uint32_t>{0, 1}));
}

TEST_F(FlowTableTest, CoarseLruKeepsOwnExpiryExactAndOthersLateByUnderAPeriod)
{
    // Periods of 2^30 ns (1.07 s): a packet within the period of a flow's
    // last move does not move it.
    static int instance = 0;
    const std::string name = "test_flows_coarse_" + std::to_string(instance++);
    FlowTableParams p{};
    p.name = name.c_str();
    p.capacity = 64;
    for (uint64_t &t : p.timeout_ns)
        t = 30 * kSecond;
    p.lru_period_log2 = 30;
    FlowTable t(p);
    const uint64_t ms = kSecond / 1000;
    Flow *a = add(t, 1, 0);
    add(t, 2, 100 * ms);
    t.touch(*a, 500 * ms);  // same period: a stays ahead of b

    std::vector<uint32_t> ended;
    auto collect = [&](Flow &, const FlowKey &k) {
        uint32_t id = 0;
        std::memcpy(&id, &k.addr_lo[1], 3);
        ended.push_back(id);
    };
    // b is due at 30.1 s but queued behind a, due at 30.5 s: a never
    // expires early, b waits for it (less than a period).
    EXPECT_EQ(t.expire(30100 * ms, 100, collect), 0u);
    EXPECT_EQ(t.expire(30499 * ms, 100, collect), 0u);
    EXPECT_EQ(t.expire(30500 * ms, 100, collect), 2u);
    EXPECT_EQ(ended, (std::vector<uint32_t>{1, 2}));

    // A packet in a new period moves the flow behind the others: c is due
    // first and goes first.
    Flow *c = add(t, 3, 40 * kSecond);
    add(t, 4, 40 * kSecond + 100 * ms);
    t.touch(*c, 42 * kSecond);
    ended.clear();
    EXPECT_EQ(t.expire(70100 * ms, 100, collect), 1u);
    EXPECT_EQ(ended, std::vector<uint32_t>{4});
}
