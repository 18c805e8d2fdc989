// The control thread's bounded per-key tables: BoundedTable itself, and the
// alert throttle on it. Bounds hold under a million distinct keys, every
// drop is counted, and the queues keep their order.
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "flowsentry/alert_throttle.hpp"
#include "flowsentry/bounded_table.hpp"

using namespace flowsentry;

namespace {

struct Key {
    uint32_t a;
    uint32_t b;
};

using Table = BoundedTable<Key, uint64_t, 2>;

TEST(BoundedTable, FindInsertEraseAndQueueOrder)
{
    Table t(8);
    EXPECT_EQ(t.front(0), nullptr);
    EXPECT_EQ(t.oldest(), nullptr);
    for (uint32_t i = 0; i < 6; ++i)
        t.insert(Key{i, 0}, i % 2).value = i * 10;
    EXPECT_EQ(t.size(), 6u);
    for (uint32_t i = 0; i < 6; ++i) {
        Table::Entry *e = t.find(Key{i, 0});
        ASSERT_NE(e, nullptr);
        EXPECT_EQ(e->value, i * 10);
    }
    EXPECT_EQ(t.find(Key{0, 1}), nullptr);
    EXPECT_EQ(t.front(0)->key.a, 0u);
    EXPECT_EQ(t.front(1)->key.a, 1u);
    // Requeued entries go to the back; the oldest is across both queues.
    t.requeue(*t.find(Key{0, 0}), 0);
    EXPECT_EQ(t.front(0)->key.a, 2u);
    EXPECT_EQ(t.oldest()->key.a, 1u);
    t.erase(*t.find(Key{1, 0}));
    EXPECT_EQ(t.find(Key{1, 0}), nullptr);
    EXPECT_EQ(t.oldest()->key.a, 2u);
    EXPECT_EQ(t.front(1)->key.a, 3u);
    EXPECT_EQ(t.size(), 5u);
    // A requeue may move an entry to the other queue.
    t.requeue(*t.find(Key{2, 0}), 1);
    std::vector<uint32_t> order;
    while (Table::Entry *e = t.oldest()) {
        order.push_back(e->key.a);
        t.erase(*e);
    }
    EXPECT_EQ(order, (std::vector<uint32_t>{3, 4, 5, 0, 2}));
    EXPECT_EQ(t.size(), 0u);
}

TEST(BoundedTable, AMillionKeysThroughATableOfAThousand)
{
    Table t(1000);
    uint64_t dropped = 0;
    for (uint32_t i = 0; i < 1000000; ++i) {
        if (t.full()) {
            // The front is always the oldest key still in: i - 1000.
            ASSERT_EQ(t.front(0)->key.a, i - 1000);
            t.erase(*t.front(0));
            ++dropped;
        }
        t.insert(Key{i, ~i}).value = i;
    }
    EXPECT_EQ(t.size(), 1000u);
    EXPECT_EQ(dropped, 999000u);
    for (uint32_t i = 999000; i < 1000000; ++i)
        ASSERT_NE(t.find(Key{i, ~i}), nullptr) << i;
    EXPECT_EQ(t.find(Key{998999, ~998999u}), nullptr);
}

constexpr uint64_t kSecond = 1000000000ull;

EventRecord alert_from(uint32_t client, uint64_t t)
{
    EventRecord r;
    std::memset(&r, 0, sizeof r);
    r.type = EventType::alert;
    r.rule = RuleId::mirai_scan_syn;
    r.ip_version = 4;
    std::memcpy(r.client_addr, &client, 4);
    r.server_addr[0] = 10;
    r.time_ns = t;
    return r;
}

TEST(AlertThrottle, AMillionKeysBoundedAndEveryHeldBackAlertReported)
{
    ThrottleConfig config;
    config.limits[static_cast<size_t>(RuleId::mirai_scan_syn)] = ThrottleLimit{ThrottleTrack::by_src, 1, 60};
    config.max_keys = 4096;
    AlertThrottle throttle(config);
    std::vector<ThrottleSummary> due;
    uint64_t written = 0, reported = 0;
    // Each source twice, 1000 sources apart: the second is held back while
    // the key is still in the table; a million sources in one interval.
    constexpr uint32_t kSources = 1000000;
    for (uint32_t i = 0; i < kSources + 1000; ++i) {
        for (uint32_t source : {i, i - 1000}) {
            if (source >= kSources)  // beyond the end, or before the start (wrapped)
                continue;
            written += throttle.admit(alert_from(source, 1000 * kSecond + i), due);
        }
        for (const ThrottleSummary &s : due)
            reported += s.suppressed;
        due.clear();
        ASSERT_LE(throttle.keys(), 4096u);
    }
    throttle.finish(due);
    for (const ThrottleSummary &s : due)
        reported += s.suppressed;
    EXPECT_EQ(written, kSources);
    EXPECT_EQ(throttle.throttled(), kSources);
    EXPECT_EQ(reported, kSources);  // nothing held back goes unreported
    EXPECT_EQ(throttle.keys_evicted(), kSources - 4096);
    EXPECT_EQ(throttle.keys(), 0u);
}

TEST(AlertThrottle, IntervalIsExact)
{
    ThrottleConfig config;
    config.limits[static_cast<size_t>(RuleId::mirai_scan_syn)] = ThrottleLimit{ThrottleTrack::by_src, 2, 10};
    AlertThrottle throttle(config);
    std::vector<ThrottleSummary> due;
    const uint64_t t0 = 5000 * kSecond;
    EXPECT_TRUE(throttle.admit(alert_from(1, t0), due));
    EXPECT_TRUE(throttle.admit(alert_from(1, t0 + 1), due));
    EXPECT_FALSE(throttle.admit(alert_from(1, t0 + 10 * kSecond - 1), due));  // last ns of the interval
    EXPECT_TRUE(due.empty());
    throttle.expire(t0 + 10 * kSecond - 1, due);
    EXPECT_TRUE(due.empty());
    EXPECT_TRUE(throttle.admit(alert_from(1, t0 + 10 * kSecond), due));  // a new interval
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0].suppressed, 1u);
    EXPECT_EQ(due[0].interval_start_ns, t0);
    EXPECT_EQ(due[0].last.time_ns, t0 + 10 * kSecond - 1);
}

// A record with a rule id this build does not know must not index past the
// per-rule queues: it shares the queue and limit of none.
TEST(AlertThrottle, UnknownRuleIdSharesTheLimitOfNone)
{
    ThrottleConfig config;
    config.limits[0] = ThrottleLimit{ThrottleTrack::by_rule, 1, 60};
    AlertThrottle throttle(config);
    std::vector<ThrottleSummary> due;
    EventRecord r = alert_from(1, 1000 * kSecond);
    r.rule = static_cast<RuleId>(999);
    EXPECT_TRUE(throttle.admit(r, due));
    EXPECT_FALSE(throttle.admit(r, due));
    throttle.expire(1060 * kSecond, due);
    ASSERT_EQ(due.size(), 1u);
    EXPECT_EQ(due[0].suppressed, 1u);
    EXPECT_EQ(throttle.keys(), 0u);
}

}  // namespace
