// IP reassembly (see ip_reassembly.hpp).
#include "flowsentry/ip_reassembly.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>

#include <netinet/in.h>
#include <rte_hash_crc.h>

#include "flowsentry/byte_order.hpp"

namespace flowsentry {

namespace {

constexpr uint32_t kUnit = 8;  // fragment offsets count 8-byte units
constexpr uint32_t kIpv6HeaderLen = 40;

// The shortest header of the protocol the datagram carries: a first fragment
// shorter than this hides its ports or flags in a later fragment (RFC 1858).
uint32_t min_transport_header(uint8_t protocol)
{
    switch (protocol) {
    case IPPROTO_TCP:
        return 20;
    case IPPROTO_UDP:
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        return 8;
    case IPPROTO_GRE:
        return 4;
    case IPPROTO_IPIP:
        return 20;
    case IPPROTO_IPV6:
        return kIpv6HeaderLen;
    default:
        return 0;
    }
}

// Bytes of the IP datagram the length field has to hold: IPv4 total length
// counts its header, IPv6 payload length everything after the fixed header.
uint32_t ip_length_field(uint8_t ip_version, uint32_t header_len, uint32_t data_end)
{
    return ip_version == 4 ? header_len + data_end : header_len - kIpv6HeaderLen + data_end;
}

void ipv4_fix_checksum(uint8_t *h, uint32_t header_len)
{
    h[10] = h[11] = 0;
    uint32_t sum = 0;
    for (uint32_t i = 0; i + 1 < header_len; i += 2)
        sum += load_be16(h + i);
    while (sum >> 16)
        sum = (sum & 0xFFFF) + (sum >> 16);
    store_be16(h + 10, ~sum & 0xFFFF);
}


// Enclosing length fields must lie in the outer headers, before the IP header.
bool enclosing_before_ip(const FragmentInfo &f)
{
    if (f.enclosing_count > kMaxEnclosingLengths)
        return false;
    for (uint8_t i = 0; i < f.enclosing_count; ++i)
        if (uint32_t{f.enclosing_len_at[i]} + 2 > f.ip_offset)
            return false;
    return true;
}

// Whether every enclosing length field still holds its value grown by `added`.
bool enclosing_lengths_fit(const uint8_t *prefix, const uint16_t *at, uint8_t count, uint32_t added)
{
    for (uint8_t i = 0; i < count; ++i)
        if (load_be16(prefix + at[i]) + added > 0xFFFF)
            return false;
    return true;
}

}  // namespace

uint64_t defrag_min_bytes(uint32_t max_datagram_size)
{
    return (uint64_t{max_datagram_size} + kDefragBlockBytes - 1) / kDefragBlockBytes * kDefragBlockBytes +
           kDefragMaxPrefix;
}

void make_datagram_key(const DecodedPacket &pkt, DatagramKey &key)
{
    // Hashed and compared as raw bytes: every byte set, padding included.
    std::memset(&key, 0, sizeof key);
    std::memcpy(key.src, pkt.src_addr, sizeof key.src);
    std::memcpy(key.dst, pkt.dst_addr, sizeof key.dst);
    key.id = pkt.fragment.id;
    for (unsigned i = 0; i < pkt.vlan_count && i < kMaxVlanTags; ++i)
        key.vlan[i] = pkt.vlan[i];
    if (pkt.tunnel_layers != 0) {  // the tenant, as in the flow key
        key.tunnel_type = pkt.tunnel.tenant;
        key.tunnel_id = pkt.tunnel.id;
    }
    key.ip_version = pkt.ip_version;
    key.protocol = pkt.l4_proto;
}

IpReassembler::IpReassembler(const DefragLimits &limits, DefragCounters &counters)
    : limits_(limits), counters_(counters)
{
    if (limits.max_datagrams == 0 || limits.max_datagrams > (1u << 24))
        throw std::invalid_argument("defrag: max_datagrams must be between 1 and 16777216");
    if (limits.max_datagram_size < kUnit || limits.max_datagram_size > kMaxIpDatagram)
        throw std::invalid_argument("defrag: max_datagram_size must be between 8 and 65535");
    if (limits.max_fragments_per_datagram == 0 || limits.max_fragments_per_datagram > UINT16_MAX)
        throw std::invalid_argument("defrag: max_fragments_per_datagram must be between 1 and 65535");
    if (limits.timeout_ns == 0)
        throw std::invalid_argument("defrag: timeout must not be zero");
    blocks_per_datagram_ = (limits.max_datagram_size + kDefragBlockBytes - 1) / kDefragBlockBytes;
    const uint64_t blocks = limits.max_bytes / kDefragBlockBytes;
    if (limits.max_bytes < defrag_min_bytes(limits.max_datagram_size) || blocks >= kNone)
        throw std::invalid_argument("defrag: max_bytes must hold at least one datagram of max_datagram_size "
                                    "and its headers (" +
                                    std::to_string(defrag_min_bytes(limits.max_datagram_size)) + " bytes)");

    uint32_t buckets = 1;
    while (buckets < 2 * limits.max_datagrams)
        buckets <<= 1;
    bucket_mask_ = buckets - 1;
    buckets_.assign(buckets, kNone);
    datagrams_.resize(limits.max_datagrams);
    for (uint32_t i = limits.max_datagrams; i-- > 0;) {
        datagrams_[i].bucket_next = free_slot_;
        free_slot_ = i;
    }
    block_map_.assign(static_cast<size_t>(limits.max_datagrams) * blocks_per_datagram_, kNone);
    blocks_.resize(blocks);
    for (uint32_t i = static_cast<uint32_t>(blocks); i-- > 0;) {
        blocks_[i].next_free = free_block_;
        free_block_ = i;
    }
    free_blocks_ = static_cast<uint32_t>(blocks);
    out_.resize(kDefragMaxPrefix + limits.max_datagram_size);
    // A per-process seed: an attacker cannot aim many datagrams at one bucket.
    hash_seed_ = std::random_device{}();
}

uint32_t IpReassembler::find(const DatagramKey &key, uint32_t hash) const
{
    for (uint32_t d = buckets_[bucket_of(hash)]; d != kNone; d = datagrams_[d].bucket_next)
        if (datagrams_[d].hash == hash && std::memcmp(&datagrams_[d].key, &key, sizeof key) == 0)
            return d;
    return kNone;
}

void IpReassembler::link_newest(uint32_t d, List list)
{
    Datagram &g = datagrams_[d];
    g.list = list;
    g.newer = kNone;
    g.older = newest_[list];
    if (g.older != kNone)
        datagrams_[g.older].newer = d;
    else
        oldest_[list] = d;
    newest_[list] = d;
}

void IpReassembler::unlink(uint32_t d)
{
    Datagram &g = datagrams_[d];
    if (g.older != kNone)
        datagrams_[g.older].newer = g.newer;
    else
        oldest_[g.list] = g.newer;
    if (g.newer != kNone)
        datagrams_[g.newer].older = g.older;
    else
        newest_[g.list] = g.older;
}

void IpReassembler::release_blocks(Datagram &g)
{
    const uint32_t d = static_cast<uint32_t>(&g - datagrams_.data());
    uint32_t *map = &block_map_[static_cast<size_t>(d) * blocks_per_datagram_];
    for (uint32_t b = 0; b < blocks_per_datagram_ && g.blocks != 0; ++b) {
        if (map[b] == kNone)
            continue;
        blocks_[map[b]].next_free = free_block_;
        free_block_ = map[b];
        ++free_blocks_;
        map[b] = kNone;
        --g.blocks;
    }
    if (g.prefix_block != kNone) {
        blocks_[g.prefix_block].next_free = free_block_;
        free_block_ = g.prefix_block;
        ++free_blocks_;
        g.prefix_block = kNone;
    }
    g.data_bytes = 0;
}

uint32_t IpReassembler::create(const DatagramKey &key, uint32_t hash, uint64_t now_ns)
{
    if (free_slot_ == kNone && expire(now_ns, 1) == 0) {
        // Table full and nothing due: a dropped datagram's slot costs
        // nothing real, else the oldest incomplete datagram goes.
        if (oldest_[dropped_list] != kNone) {
            remove(oldest_[dropped_list]);
        } else {
            counters_.evicted.add();
            remove(oldest_[live_list]);
        }
    }
    const uint32_t d = free_slot_;
    Datagram &g = datagrams_[d];
    free_slot_ = g.bucket_next;
    std::memcpy(&g.key, &key, sizeof key);
    g.since_ns = now_ns;
    g.hash = hash;
    g.prefix_block = kNone;
    g.data_bytes = 0;
    g.total_len = 0;
    g.max_end = 0;
    g.prefix_len = g.ip_offset = g.header_len = 0;
    g.fragments = 0;
    g.blocks = 0;
    g.have_last = 0;
    g.bucket_next = buckets_[bucket_of(hash)];
    buckets_[bucket_of(hash)] = d;
    link_newest(d, live_list);
    ++used_;
    return d;
}

void IpReassembler::remove(uint32_t d)
{
    Datagram &g = datagrams_[d];
    release_blocks(g);
    unlink(d);
    uint32_t *link = &buckets_[bucket_of(g.hash)];
    while (*link != d)
        link = &datagrams_[*link].bucket_next;
    *link = g.bucket_next;
    g.bucket_next = free_slot_;
    free_slot_ = d;
    --used_;
}

void IpReassembler::drop(uint32_t d, Drop why, uint64_t now_ns)
{
    switch (why) {
    case Drop::tiny_first: counters_.tiny_first.add(); break;
    case Drop::transport_overlap: counters_.transport_overlap.add(); break;
    case Drop::inconsistent: counters_.inconsistent.add(); break;
    case Drop::too_big: counters_.too_big.add(); break;
    case Drop::oversize: counters_.oversize.add(); break;
    case Drop::too_many_fragments: counters_.too_many_fragments.add(); break;
    case Drop::header_too_long: counters_.header_too_long.add(); break;
    case Drop::memory: counters_.memory_evicted.add(); break;
    }
    // Known as dropped for one more timeout, holding no bytes: the rest of
    // its fragments are discarded instead of starting it again.
    Datagram &g = datagrams_[d];
    release_blocks(g);
    unlink(d);
    g.since_ns = now_ns;
    link_newest(d, dropped_list);
}

uint32_t IpReassembler::take_block(uint32_t keep, uint64_t now_ns)
{
    while (free_block_ == kNone) {
        uint32_t victim = oldest_[live_list];
        if (victim == keep)
            victim = datagrams_[keep].newer;
        if (victim == kNone)
            return kNone;
        if (due(datagrams_[victim], now_ns)) {
            counters_.timed_out.add();
            remove(victim);
        } else {
            drop(victim, Drop::memory, now_ns);
        }
    }
    const uint32_t b = free_block_;
    free_block_ = blocks_[b].next_free;
    --free_blocks_;
    blocks_[b].have = 0;
    return b;
}

bool IpReassembler::store(uint32_t d, const uint8_t *data, const FragmentInfo &f, uint64_t now_ns)
{
    Datagram &g = datagrams_[d];
    uint32_t *map = &block_map_[static_cast<size_t>(d) * blocks_per_datagram_];
    const uint32_t end = uint32_t{f.data_offset} + f.data_len;
    uint32_t added = 0, overlapped = 0;
    bool differs = false;
    // Block by block. Offsets are multiples of 8, so every unit starts on a
    // unit boundary; only the last fragment's last unit can be short.
    for (uint32_t pos = f.data_offset; pos < end;) {
        const uint32_t b = pos / kDefragBlockBytes;
        if (map[b] == kNone) {
            const uint32_t blk = take_block(d, now_ns);
            if (blk == kNone) {
                drop(d, Drop::memory, now_ns);
                return false;
            }
            map[b] = blk;
            ++g.blocks;
        }
        Block &blk = blocks_[map[b]];
        const uint32_t within = pos % kDefragBlockBytes;
        const uint32_t chunk_end = std::min(end, (b + 1) * kDefragBlockBytes);
        const uint32_t first_unit = within / kUnit, units = (chunk_end - pos + kUnit - 1) / kUnit;
        const uint64_t mask = (units == 64 ? ~uint64_t{0} : (uint64_t{1} << units) - 1) << first_unit;
        const uint8_t *src = data + (pos - f.data_offset);
        if ((blk.have & mask) == 0) {
            // Nothing held here: the common case, one copy.
            std::memcpy(blk.data + within, src, chunk_end - pos);
            blk.have |= mask;
            added += chunk_end - pos;
            pos = chunk_end;
            continue;
        }
        for (; pos < chunk_end; pos += kUnit, src += kUnit) {
            const uint32_t at = pos % kDefragBlockBytes;
            const uint64_t bit = uint64_t{1} << (at / kUnit);
            const uint32_t n = std::min(kUnit, chunk_end - pos);
            if (blk.have & bit) {
                // First copy wins: the held bytes stay.
                overlapped += n;
                differs = differs || std::memcmp(blk.data + at, src, n) != 0;
            } else {
                std::memcpy(blk.data + at, src, n);
                blk.have |= bit;
                added += n;
            }
        }
    }
    g.data_bytes += added;
    if (overlapped != 0) {
        if (added == 0 && !differs) {
            counters_.duplicates.add();
        } else {
            counters_.overlaps.add();
            counters_.overlap_bytes.add(overlapped);
        }
    }
    return true;
}

ReassembledFrame IpReassembler::build(Datagram &g)
{
    const uint32_t d = static_cast<uint32_t>(&g - datagrams_.data());
    uint8_t *out = out_.data();
    std::memcpy(out, blocks_[g.prefix_block].data, g.prefix_len);
    const uint32_t *map = &block_map_[static_cast<size_t>(d) * blocks_per_datagram_];
    for (uint32_t pos = 0; pos < g.total_len; pos += kDefragBlockBytes)
        std::memcpy(out + g.prefix_len + pos, blocks_[map[pos / kDefragBlockBytes]].data,
                    std::min(kDefragBlockBytes, g.total_len - pos));

    // Outer (tunnel) headers counted the first fragment's data only.
    const uint32_t added = g.total_len - g.first_data_len;
    for (uint8_t i = 0; i < g.enclosing_count; ++i)
        store_be16(out + g.enclosing_len_at[i], load_be16(out + g.enclosing_len_at[i]) + added);

    uint8_t *ip = out + g.ip_offset;
    const uint32_t length = ip_length_field(g.key.ip_version, g.header_len, g.total_len);
    if (g.key.ip_version == 4) {
        store_be16(ip + 2, length);
        store_be16(ip + 6, load_be16(ip + 6) & 0x4000);  // DF stays; MF and offset go
        ipv4_fix_checksum(ip, g.header_len);
    } else {
        store_be16(ip + 4, length);
        // Offset 0, M 0: an atomic fragment (RFC 6946), which decode walks past.
        uint8_t *frag = ip + g.header_len - 8;
        frag[2] = frag[3] = 0;
    }
    return ReassembledFrame{out, g.prefix_len + g.total_len};
}

bool IpReassembler::rejects(const Datagram &g, const FragmentInfo &f, uint32_t len, Drop &why) const
{
    const uint32_t prefix_len = uint32_t{f.ip_offset} + f.header_len;
    const uint32_t end = uint32_t{f.data_offset} + f.data_len;
    const uint32_t min_header = min_transport_header(g.key.protocol);
    const uint32_t min_ip_header = g.key.ip_version == 4 ? 20 : kIpv6HeaderLen + kUnit;
    if (g.fragments > limits_.max_fragments_per_datagram)
        why = Drop::too_many_fragments;
    else if (f.header_len < min_ip_header || prefix_len + f.data_len > len || !enclosing_before_ip(f))
        why = Drop::inconsistent;  // not what decode reports: never trusted
    else if (ip_length_field(g.key.ip_version, f.header_len, end) > kMaxIpDatagram)
        why = Drop::oversize;
    else if (end > limits_.max_datagram_size)
        why = Drop::too_big;
    else if ((f.more && (f.data_len == 0 || f.data_len % kUnit != 0)) || (g.have_last && end > g.total_len) ||
             (!f.more && (g.have_last ? end != g.total_len : end < g.max_end)))
        why = Drop::inconsistent;  // odd middle length, past the last fragment, two different last ones
    else if (f.data_offset == 0 && f.data_len < min_header)
        why = Drop::tiny_first;
    else if (f.data_offset != 0 && f.data_offset < min_header)
        why = Drop::transport_overlap;
    else if (f.data_offset == 0 && prefix_len > kDefragMaxPrefix)
        why = Drop::header_too_long;
    else
        return false;
    return true;
}

ReassembledFrame IpReassembler::add(const uint8_t *frame, uint32_t len, const DecodedPacket &pkt, uint64_t now_ns)
{
    counters_.fragments.add();
    const FragmentInfo &f = pkt.fragment;
    DatagramKey key;
    make_datagram_key(pkt, key);
    const uint32_t hash = rte_hash_crc(&key, sizeof key, hash_seed_);

    uint32_t d = find(key, hash);
    // Its timeout passed before expiry got to it: it is over either way.
    if (d != kNone && due(datagrams_[d], now_ns)) {
        if (datagrams_[d].list == live_list)
            counters_.timed_out.add();
        remove(d);
        d = kNone;
    }
    if (d != kNone && datagrams_[d].list == dropped_list) {
        counters_.discarded.add();
        return {};
    }
    if (d == kNone)
        d = create(key, hash, now_ns);
    Datagram &g = datagrams_[d];
    ++g.fragments;

    Drop why;
    if (rejects(g, f, len, why)) {
        drop(d, why, now_ns);
        return {};
    }
    const uint32_t prefix_len = uint32_t{f.ip_offset} + f.header_len;
    const uint32_t end = uint32_t{f.data_offset} + f.data_len;
    if (f.data_offset == 0 && g.prefix_block == kNone) {
        const uint32_t blk = take_block(d, now_ns);
        if (blk == kNone) {
            drop(d, Drop::memory, now_ns);
            return {};
        }
        g.prefix_block = blk;
        std::memcpy(blocks_[blk].data, frame, prefix_len);
        g.prefix_len = static_cast<uint16_t>(prefix_len);
        g.ip_offset = f.ip_offset;
        g.header_len = f.header_len;
        g.first_data_len = f.data_len;
        g.enclosing_count = f.enclosing_count;
        std::copy_n(f.enclosing_len_at, f.enclosing_count, g.enclosing_len_at);
    }
    if (!store(d, frame + prefix_len, f, now_ns))
        return {};
    g.max_end = std::max(g.max_end, end);
    if (!f.more) {
        g.have_last = 1;
        g.total_len = end;
    }
    if (!g.have_last || g.prefix_block == kNone || g.data_bytes != g.total_len)
        return {};
    // The first fragment's headers with the data could still exceed what
    // the length field holds (its header longer than the others').
    if (ip_length_field(g.key.ip_version, g.header_len, g.total_len) > kMaxIpDatagram ||
        !enclosing_lengths_fit(blocks_[g.prefix_block].data, g.enclosing_len_at, g.enclosing_count,
                               g.total_len - g.first_data_len)) {
        drop(d, Drop::oversize, now_ns);
        return {};
    }
    const ReassembledFrame out = build(g);
    counters_.reassembled.add();
    remove(d);
    return out;
}

uint32_t IpReassembler::expire(uint64_t now_ns, uint32_t batch)
{
    uint32_t n = 0;
    for (List list : {live_list, dropped_list}) {
        while (n < batch && oldest_[list] != kNone) {
            if (!due(datagrams_[oldest_[list]], now_ns))
                break;
            if (list == live_list)
                counters_.timed_out.add();
            remove(oldest_[list]);
            ++n;
        }
    }
    return n;
}

void IpReassembler::flush()
{
    while (oldest_[live_list] != kNone) {
        counters_.flushed.add();
        remove(oldest_[live_list]);
    }
    while (oldest_[dropped_list] != kNone)
        remove(oldest_[dropped_list]);
}

}  // namespace flowsentry
