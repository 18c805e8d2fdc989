// IP reassembly: IPv4 and IPv6 fragments back into whole datagrams, per worker.
//
// Decode reports every fragment of the innermost IP layer (FragmentInfo);
// the worker hands it here, and a fragment that completes its datagram comes
// back as one contiguous frame: the first fragment's bytes up to the end of
// its unfragmentable part, then the data, with the IPv4 total length and
// flags/offset (or the IPv6 payload length and the Fragment header's offset
// and M) fixed, so decode reads it as an ordinary packet.
//
// Fixed policy, the same as the TCP stream reassembly: where fragments
// overlap, the copy that arrived first wins (counted). A datagram that can
// never be trusted (tiny first fragment, a fragment inside the transport
// header, inconsistent lengths, a limit hit) is dropped and stays known as
// dropped until its timeout, so its other fragments are discarded rather than
// start a new datagram. Everything is preallocated: a table of datagrams, a
// pool of 512-byte blocks holding data (an 8-byte-unit bitmap each tracks
// the holes), and the output frame. No allocation, lock or system call after
// construction; one worker owns one reassembler.
#pragma once

#include <cstdint>
#include <vector>

#include "flowsentry/counters.hpp"
#include "flowsentry/decode.hpp"

namespace flowsentry {

// Data bytes of one pool block: 64 units of 8 bytes, one bitmap word.
constexpr uint32_t kDefragBlockBytes = 512;
// Longest first-fragment prefix (outer headers + the unfragmentable part)
// kept: one block. Longer is counted (header_too_long) and dropped.
constexpr uint32_t kDefragMaxPrefix = kDefragBlockBytes;
// Largest IP datagram: IPv4 total length, IPv6 payload length (16 bits).
constexpr uint32_t kMaxIpDatagram = 65535;

struct DefragLimits {
    uint32_t max_datagrams = 4096;                // in progress per worker
    uint64_t max_bytes = 4u << 20;                // data held per worker (pool blocks)
    uint32_t max_datagram_size = kMaxIpDatagram;  // bytes of fragmentable data per datagram
    uint32_t max_fragments_per_datagram = 64;
    uint64_t timeout_ns = 30ull * 1000000000ull;  // from a datagram's first fragment
};

// The least max_bytes that holds one datagram of `max_datagram_size` and its
// headers: less, and such a datagram could never complete.
uint64_t defrag_min_bytes(uint32_t max_datagram_size);

// Identity of a datagram: RFC 791 / 8200 (addresses, id, protocol) plus what
// separates tenants (VLAN tags, tunnel), so two tenants never mix fragments.
struct alignas(8) DatagramKey {  // hashed and compared as raw bytes
    uint8_t src[16];
    uint8_t dst[16];
    uint32_t id;
    uint32_t tunnel_id;
    uint16_t vlan[kMaxVlanTags];
    uint8_t ip_version;
    uint8_t protocol;
    TunnelType tunnel_type;  // the tenant's layer (vxlan, geneve, gre), else none
    uint8_t pad;
};
static_assert(sizeof(DatagramKey) == 48, "DatagramKey is hashed as raw bytes: no implicit padding");

// The key of a fragment decode reported (ipv4_fragment / ipv6_fragment).
void make_datagram_key(const DecodedPacket &pkt, DatagramKey &key);

// A reassembled frame, owned by the reassembler: valid until its next call.
struct ReassembledFrame {
    const uint8_t *data = nullptr;  // null: nothing completed
    uint32_t len = 0;
};

class IpReassembler {
public:
    // Allocates the table, the block pool and the output frame (start-up
    // only). Throws std::invalid_argument on limits that cannot work.
    IpReassembler(const DefragLimits &limits, DefragCounters &counters);

    // One fragment: `frame`/`len` as received, `pkt` decode's result for it.
    // Returns the whole datagram's frame when this fragment completed it.
    // `now_ns` is packet time.
    ReassembledFrame add(const uint8_t *frame, uint32_t len, const DecodedPacket &pkt, uint64_t now_ns);

    // Drops datagrams whose timeout has passed at `now_ns`, at most `batch`
    // of them; returns how many were removed (live and dropped ones).
    uint32_t expire(uint64_t now_ns, uint32_t batch);

    // Drops everything still in progress (shutdown), counted as flushed.
    void flush();

    uint32_t in_progress() const { return used_; }  // datagrams known, dropped ones included
    uint32_t free_blocks() const { return free_blocks_; }
    uint32_t total_blocks() const { return static_cast<uint32_t>(blocks_.size()); }

private:
    static constexpr uint32_t kNone = UINT32_MAX;

    struct Block {
        uint64_t have;  // bit i: data unit i (bytes 8i..8i+7) is held
        uint32_t next_free;
        uint32_t pad;
        uint8_t data[kDefragBlockBytes];
    };

    // Two age lists, each ordered by expiry: live datagrams expire
    // `timeout` after their first fragment, dropped ones `timeout` after
    // they were dropped.
    enum List : uint8_t { live_list, dropped_list, list_count };

    struct Datagram {
        DatagramKey key;
        uint64_t since_ns;      // first fragment (live) or drop (dropped)
        uint32_t hash;
        uint32_t bucket_next;   // chain of one hash bucket, or the free list
        uint32_t older, newer;  // age list
        uint32_t prefix_block;  // first fragment's headers, or kNone until it came
        uint32_t data_bytes;    // distinct data bytes held
        uint32_t total_len;     // data bytes of the datagram, once the last fragment came
        uint32_t max_end;       // end of the furthest data held
        uint16_t prefix_len;    // ip_offset + header_len of the first fragment
        uint16_t ip_offset;
        uint16_t header_len;
        uint16_t blocks;        // data blocks held
        uint32_t fragments;
        uint8_t have_last;
        uint8_t list;           // List
        // The first fragment's enclosing length fields (FragmentInfo) and the
        // data they counted, so build() can grow them to the whole datagram.
        uint8_t enclosing_count;
        uint16_t first_data_len;
        uint16_t enclosing_len_at[kMaxEnclosingLengths];
    };

    // Why a datagram is dropped; each has its counter.
    enum class Drop : uint8_t {
        tiny_first, transport_overlap, inconsistent, too_big, oversize, too_many_fragments, header_too_long,
        memory
    };

    uint32_t bucket_of(uint32_t hash) const { return hash & bucket_mask_; }
    // Its timeout has passed (packet time never runs backwards for it).
    bool due(const Datagram &g, uint64_t now_ns) const
    {
        return now_ns >= g.since_ns && now_ns - g.since_ns >= limits_.timeout_ns;
    }
    uint32_t find(const DatagramKey &key, uint32_t hash) const;
    uint32_t create(const DatagramKey &key, uint32_t hash, uint64_t now_ns);
    void remove(uint32_t d);  // out of the table, blocks freed, slot free
    void release_blocks(Datagram &g);
    void link_newest(uint32_t d, List list);
    void unlink(uint32_t d);
    void drop(uint32_t d, Drop why, uint64_t now_ns);
    // Whether fragment `f` (in a frame of `len` bytes) ends datagram `g`, and why.
    bool rejects(const Datagram &g, const FragmentInfo &f, uint32_t len, Drop &why) const;
    // A pool block; when the pool is empty the oldest other live datagrams
    // go (timed out if due, else dropped); kNone when only `keep` holds any.
    uint32_t take_block(uint32_t keep, uint64_t now_ns);
    // Stores the fragment's data; false when the datagram was dropped.
    bool store(uint32_t d, const uint8_t *data, const FragmentInfo &f, uint64_t now_ns);
    ReassembledFrame build(Datagram &g);

    DefragLimits limits_;
    DefragCounters &counters_;
    uint32_t hash_seed_;
    uint32_t bucket_mask_;
    uint32_t blocks_per_datagram_;
    std::vector<uint32_t> buckets_;
    std::vector<Datagram> datagrams_;
    std::vector<uint32_t> block_map_;  // datagram d's data block b: [d * blocks_per_datagram_ + b]
    std::vector<Block> blocks_;
    std::vector<uint8_t> out_;
    uint32_t free_slot_ = kNone;
    uint32_t free_block_ = kNone;
    uint32_t free_blocks_ = 0;
    uint32_t used_ = 0;
    uint32_t oldest_[list_count] = {kNone, kNone};
    uint32_t newest_[list_count] = {kNone, kNone};
};

}  // namespace flowsentry
