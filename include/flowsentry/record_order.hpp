// Records put back in packet-time order on the control thread.
//
// Each worker hands over records in the order it made them; several workers'
// records interleave however the control thread happens to drain them. What
// depends on order (throttling, brute force, signature thresholds, the scan
// window) must not depend on that, or 1 and N workers would write different
// documents. So records wait here, in a min-heap by packet time (ties broken
// by what the record is about, never by which worker sent it), and are taken
// out oldest first: a replay when the heap holds more than its capacity or at
// the end; live once older than a window of packet time.
//
// A record older than one already taken out is taken at once and counted
// (late): its order could not be kept. So is one taken out early because the
// heap was full.
#pragma once

#include <cstddef>
#include <cstdint>
#include <queue>
#include <vector>

#include "flowsentry/event_record.hpp"

namespace flowsentry {

class RecordOrder {
public:
    // capacity: records held at most; window_ns: live, how long one waits
    // (0: taken out as it comes); replay: held until capacity or the end.
    RecordOrder(size_t capacity, uint64_t window_ns, bool replay)
        : capacity_(capacity), window_ns_(window_ns), replay_(replay)
    {
    }

    // Takes `rec`; calls `take(record)` for every record now due, in order
    // (`rec` itself at once when it is late).
    template <typename Take>
    void push(const EventRecord &rec, Take &&take)
    {
        if (rec.time_ns > latest_ns_)
            latest_ns_ = rec.time_ns;
        if (rec.time_ns < taken_ns_) {
            late_ += 1;
            take(rec);
            return;
        }
        heap_.push(rec);
        release(replay_ || latest_ns_ < window_ns_ ? 0 : latest_ns_ - window_ns_, take);
    }

    // Takes out every record up to `until_ns` (and beyond while over
    // capacity), oldest first.
    template <typename Take>
    void release(uint64_t until_ns, Take &&take)
    {
        while (!heap_.empty() && (heap_.top().time_ns <= until_ns || heap_.size() > capacity_)) {
            const EventRecord rec = heap_.top();
            heap_.pop();
            if (rec.time_ns > until_ns)
                full_ += 1;
            if (rec.time_ns > taken_ns_)
                taken_ns_ = rec.time_ns;
            take(rec);
        }
    }

    // Live: what is due at packet time `now_ns`; a replay waits for finish().
    template <typename Take>
    void tick(uint64_t now_ns, Take &&take)
    {
        if (!replay_ && now_ns >= window_ns_)
            release(now_ns - window_ns_, take);
    }

    template <typename Take>
    void finish(Take &&take)
    {
        release(UINT64_MAX, take);
    }

    size_t held() const { return heap_.size(); }
    uint64_t late() const { return late_; }  // came after younger records had been taken out
    uint64_t full() const { return full_; }  // taken out early: the heap was full

    // The order: packet time, then what the record is about.
    static bool before(const EventRecord &a, const EventRecord &b);

private:
    struct Later {
        bool operator()(const EventRecord &a, const EventRecord &b) const { return before(b, a); }
    };

    std::priority_queue<EventRecord, std::vector<EventRecord>, Later> heap_;
    size_t capacity_;
    uint64_t window_ns_;
    bool replay_;
    uint64_t latest_ns_ = 0;
    uint64_t taken_ns_ = 0;
    uint64_t late_ = 0;
    uint64_t full_ = 0;
};

}  // namespace flowsentry
