// Records put back in packet-time order (record_order.hpp): a replay keeps
// everything for the end, live waits a window, and what cannot be kept in
// order is counted.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "flowsentry/record_order.hpp"

using namespace flowsentry;

namespace {

EventRecord at(uint64_t t, uint16_t worker = 0, uint16_t client_port = 1000)
{
    EventRecord r{};
    r.time_ns = t;
    r.worker_id = worker;
    r.client_port = client_port;
    return r;
}

std::vector<uint64_t> times(const std::vector<EventRecord> &v)
{
    std::vector<uint64_t> t;
    for (const EventRecord &r : v)
        t.push_back(r.time_ns);
    return t;
}

}  // namespace

TEST(RecordOrder, ReplayTakesEverythingOutAtTheEndOldestFirst)
{
    RecordOrder order(16, 0, true);
    std::vector<EventRecord> out;
    const auto take = [&](const EventRecord &r) { out.push_back(r); };
    for (uint64_t t : {5, 3, 9, 1, 7})
        order.push(at(t), take);
    EXPECT_TRUE(out.empty());
    order.tick(100, take);  // a replay's clock is its records: nothing yet
    EXPECT_TRUE(out.empty());
    order.finish(take);
    EXPECT_EQ(times(out), (std::vector<uint64_t>{1, 3, 5, 7, 9}));
    EXPECT_EQ(order.late(), 0u);
    EXPECT_EQ(order.full(), 0u);
}

TEST(RecordOrder, AFullBufferLetsTheOldestOutEarlyAndALaterOlderOneIsLate)
{
    RecordOrder order(2, 0, true);
    std::vector<EventRecord> out;
    const auto take = [&](const EventRecord &r) { out.push_back(r); };
    order.push(at(10), take);
    order.push(at(20), take);
    order.push(at(30), take);  // three held, capacity two: 10 goes
    EXPECT_EQ(times(out), (std::vector<uint64_t>{10}));
    EXPECT_EQ(order.full(), 1u);
    order.push(at(5), take);  // older than what went out: at once
    EXPECT_EQ(times(out), (std::vector<uint64_t>{10, 5}));
    EXPECT_EQ(order.late(), 1u);
}

TEST(RecordOrder, LiveWaitsTheWindowOfPacketTime)
{
    RecordOrder order(1024, 100, false);
    std::vector<EventRecord> out;
    const auto take = [&](const EventRecord &r) { out.push_back(r); };
    order.push(at(1000), take);
    order.push(at(1050), take);
    EXPECT_TRUE(out.empty());
    order.push(at(1120), take);  // 1000 is a window older than the latest
    EXPECT_EQ(times(out), (std::vector<uint64_t>{1000}));
    order.tick(1300, take);      // no packet for a while: the clock moves on
    EXPECT_EQ(times(out), (std::vector<uint64_t>{1000, 1050, 1120}));
}

TEST(RecordOrder, TiesAreBrokenByWhatTheRecordIsAboutNotByTheWorker)
{
    // The same two records from two workers, drained in either order, come
    // out in one order.
    for (bool swap : {false, true}) {
        RecordOrder order(16, 0, true);
        std::vector<EventRecord> out;
        const auto take = [&](const EventRecord &r) { out.push_back(r); };
        EventRecord a = at(7, 0, 2000), b = at(7, 1, 1000);
        order.push(swap ? b : a, take);
        order.push(swap ? a : b, take);
        order.finish(take);
        ASSERT_EQ(out.size(), 2u);
        EXPECT_EQ(out[0].client_port, 1000);
        EXPECT_EQ(out[1].client_port, 2000);
    }
}
