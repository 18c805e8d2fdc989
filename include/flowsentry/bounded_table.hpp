// Per-key state of the control thread's detections (throttle keys, alerts
// already written, brute-force and signature-threshold windows): at most
// `capacity` entries, O(1) find, insert and erase, and every entry in one of
// `Lists` queues in the order it was last queued, so the oldest entry is
// found (and dropped when the table is full) in O(1) instead of by a walk.
//
// Keys are trivially copyable structs hashed and compared as bytes: zero a
// key whole before filling it, so padding and unused bytes compare equal.
// Entries live in a vector that grows up to the capacity, so memory follows
// the keys in use; an Entry reference is valid until the next insert().
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string_view>
#include <type_traits>
#include <vector>

namespace flowsentry {

template <typename Key, typename Value, unsigned Lists = 1>
class BoundedTable {
    static_assert(std::is_trivially_copyable_v<Key>, "keys are hashed and compared as bytes");
    static constexpr uint32_t kNil = UINT32_MAX;

public:
    struct Entry {
        Key key;
        Value value;

    private:
        friend class BoundedTable;
        uint64_t queued = 0;     // when it was last queued: the oldest of the queues' heads
        uint32_t prev = kNil;    // its queue
        uint32_t next = kNil;
        uint32_t chain = kNil;   // next in its bucket, or in the free list
        uint8_t list = 0;
        bool used = false;
    };

    explicit BoundedTable(size_t capacity) : capacity_(capacity), buckets_(16, kNil)
    {
        for (unsigned l = 0; l < Lists; ++l)
            head_[l] = tail_[l] = kNil;
    }

    size_t size() const { return size_; }
    size_t capacity() const { return capacity_; }
    bool full() const { return size_ >= capacity_; }

    Entry *find(const Key &key)
    {
        for (uint32_t i = buckets_[bucket_of(key)]; i != kNil; i = slots_[i].chain)
            if (std::memcmp(&slots_[i].key, &key, sizeof key) == 0)
                return &slots_[i];
        return nullptr;
    }

    // Adds `key` (not in the table; the table not full) with a
    // value-initialised value at the back of queue `list`.
    Entry &insert(const Key &key, unsigned list = 0)
    {
        uint32_t i = free_;
        if (i != kNil) {
            free_ = slots_[i].chain;
        } else {
            i = static_cast<uint32_t>(slots_.size());
            slots_.emplace_back();
        }
        Entry &e = slots_[i];
        e.key = key;
        e.value = Value{};
        e.used = true;
        uint32_t &b = buckets_[bucket_of(key)];
        e.chain = b;
        b = i;
        ++size_;
        enqueue(i, list);
        if (size_ > buckets_.size())
            grow_buckets();
        return e;
    }

    void erase(Entry &e)
    {
        const uint32_t i = index_of(e);
        uint32_t *link = &buckets_[bucket_of(e.key)];
        while (*link != i)
            link = &slots_[*link].chain;
        *link = e.chain;
        dequeue(i);
        e.used = false;
        e.chain = free_;
        free_ = i;
        --size_;
    }

    // Moves `e` to the back of queue `list`.
    void requeue(Entry &e, unsigned list = 0)
    {
        const uint32_t i = index_of(e);
        dequeue(i);
        enqueue(i, list);
    }

    // The entry queued longest ago in queue `list`, or nullptr.
    Entry *front(unsigned list = 0) { return head_[list] == kNil ? nullptr : &slots_[head_[list]]; }

    // The entry queued longest ago in any queue, or nullptr.
    Entry *oldest()
    {
        Entry *best = nullptr;
        for (unsigned l = 0; l < Lists; ++l)
            if (Entry *e = front(l); e != nullptr && (best == nullptr || e->queued < best->queued))
                best = e;
        return best;
    }

private:
    size_t bucket_of(const Key &key) const
    {
        return std::hash<std::string_view>{}(std::string_view(reinterpret_cast<const char *>(&key), sizeof key)) &
               (buckets_.size() - 1);
    }

    uint32_t index_of(const Entry &e) const { return static_cast<uint32_t>(&e - slots_.data()); }

    void enqueue(uint32_t i, unsigned list)
    {
        Entry &e = slots_[i];
        e.list = static_cast<uint8_t>(list);
        e.queued = next_queued_++;
        e.prev = tail_[list];
        e.next = kNil;
        if (tail_[list] != kNil)
            slots_[tail_[list]].next = i;
        else
            head_[list] = i;
        tail_[list] = i;
    }

    void dequeue(uint32_t i)
    {
        Entry &e = slots_[i];
        (e.prev != kNil ? slots_[e.prev].next : head_[e.list]) = e.next;
        (e.next != kNil ? slots_[e.next].prev : tail_[e.list]) = e.prev;
        e.prev = e.next = kNil;
    }

    // Doubling keeps the chains short; each rehash is paid for by the
    // inserts since the last one.
    void grow_buckets()
    {
        buckets_.assign(buckets_.size() * 2, kNil);
        for (uint32_t i = 0; i < slots_.size(); ++i) {
            if (!slots_[i].used)
                continue;
            uint32_t &b = buckets_[bucket_of(slots_[i].key)];
            slots_[i].chain = b;
            b = i;
        }
    }

    size_t capacity_;
    size_t size_ = 0;
    std::vector<Entry> slots_;
    std::vector<uint32_t> buckets_;  // power of two, at least size_
    uint32_t free_ = kNil;
    uint32_t head_[Lists];
    uint32_t tail_[Lists];
    uint64_t next_queued_ = 0;
};

}  // namespace flowsentry
