// Decode: Ethernet / 802.1Q / QinQ / IPv4 / IPv6 (extension headers) / TCP /
// UDP, and the tunnels between them (MPLS, GRE, ERSPAN, VXLAN, Geneve, IP in IP).
//
// This is the fast path. Every function here is a bounded walk over a byte
// buffer: no allocation, no exceptions, no system calls. Every read is preceded
// by a length check against the end of the layer it belongs to, and all
// multi-byte fields are assembled from single bytes, so headers may sit at any
// alignment (the IP header follows 14 bytes of Ethernet plus 4 per VLAN tag,
// and TCP/UDP follow IPv4 options or IPv6 extension headers of any length).
//
// Layers are parsed outermost first: one small function per layer parses its
// header, narrows the cursor to its payload and names the layer that follows.
// decode_packet loops over them; every tunnel layer entered counts against
// decode.max_depth, so the loop is bounded whatever the packet claims.
#include "flowsentry/decode.hpp"

#include <netinet/in.h>

#include <cstddef>
#include <cstring>

#include "flowsentry/byte_order.hpp"

namespace flowsentry {

const DecodeOptions kDefaultDecodeOptions{};

const char *decode_result_name(DecodeResult r) {
    switch (r) {
#define FLOWSENTRY_NAME_CASE(name) \
    case DecodeResult::name:       \
        return #name;
        FLOWSENTRY_DECODE_RESULTS(FLOWSENTRY_NAME_CASE)
#undef FLOWSENTRY_NAME_CASE
    case DecodeResult::count_:
        break;
    }
    return "unknown";
}

const char *tunnel_type_name(TunnelType t) {
    switch (t) {
    case TunnelType::none:
        return "none";
#define FLOWSENTRY_NAME_CASE(name) \
    case TunnelType::name:         \
        return #name;
        FLOWSENTRY_TUNNEL_TYPES(FLOWSENTRY_NAME_CASE)
#undef FLOWSENTRY_NAME_CASE
    case TunnelType::count_:
        break;
    }
    return "unknown";
}

namespace {

// Ethertypes (the values of DPDK's RTE_ETHER_TYPE_*; spelled out here so the
// decoder does not pull rte_mbuf.h into every user, e.g. a fuzz harness).
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
constexpr uint16_t kEtherTypeVlan = 0x8100;      // 802.1Q customer tag
constexpr uint16_t kEtherTypeQinq = 0x88A8;      // 802.1ad service tag
constexpr uint16_t kEtherTypeQinqOld = 0x9100;   // pre-standard QinQ outer tag
constexpr uint16_t kEtherTypeMpls = 0x8847;
constexpr uint16_t kEtherTypeMplsMulticast = 0x8848;
constexpr uint16_t kEtherTypeTeb = 0x6558;       // transparent Ethernet bridging
constexpr uint16_t kEtherTypeErspan12 = 0x88BE;  // ERSPAN type I and II
constexpr uint16_t kEtherTypeErspan3 = 0x22EB;

constexpr uint8_t kIpProtoIpip = 4;
constexpr uint8_t kIpProtoIpv6 = 41;
constexpr uint8_t kIpProtoGre = 47;

constexpr uint32_t kEthHeaderLen = 14;  // destination MAC, source MAC, ethertype
constexpr uint32_t kVlanTagLen = 4;     // TCI + the next ethertype
constexpr uint32_t kIpv4MinHeaderLen = 20;
constexpr uint32_t kIpv6HeaderLen = 40;
constexpr uint32_t kIpv6ExtUnit = 8;  // extension header lengths count 8-byte units
constexpr uint32_t kTcpMinHeaderLen = 20;
constexpr uint32_t kUdpHeaderLen = 8;
constexpr uint32_t kMplsLabelLen = 4;
constexpr uint32_t kGreBaseLen = 4;       // flags and version, protocol
constexpr uint32_t kGreOptionLen = 4;     // checksum+reserved, key, sequence: 4 each
constexpr uint32_t kErspan2HeaderLen = 8;
constexpr uint32_t kErspan3HeaderLen = 12;
constexpr uint32_t kErspan3PlatformLen = 8;  // optional platform-specific subheader
constexpr uint32_t kVxlanHeaderLen = 8;
constexpr uint32_t kGeneveBaseLen = 8;

// GRE flags (RFC 2784 and RFC 2890), in the first 16 bits.
constexpr uint16_t kGreChecksum = 0x8000;
constexpr uint16_t kGreKey = 0x2000;
constexpr uint16_t kGreSequence = 0x1000;
constexpr uint16_t kGreVersion = 0x0007;
// Routing (RFC 1701, deprecated) and Reserved0: a receiver must discard.
constexpr uint16_t kGreMustBeZero = 0x4FF8;

// Every offset and length in DecodedPacket is 16 bits wide. A frame handed to
// the decoder comes from one mbuf segment (data_len is 16 bits), so looking at
// no more than 65535 bytes loses nothing real and keeps every derived offset
// (payload_offset, IPv6 ip_len) representable.
constexpr uint32_t kMaxFrameLen = UINT16_MAX;

// The part of the frame that belongs to the layer being parsed: [off, end).
// `end` shrinks as lengths inside the packet are validated (the IP length
// field excludes Ethernet padding), and never grows past the frame length.
struct Cursor {
    const uint8_t *frame;
    uint32_t off;
    uint32_t end;

    uint32_t avail() const { return end - off; }
    const uint8_t *at() const { return frame + off; }
};

// The layer that starts at the cursor.
enum class Layer : uint8_t { ethernet, ipv4, ipv6, tcp, udp, mpls, gre, erspan2, erspan3, vxlan, geneve };

// One step of the walk: a layer handing over to the next one.
struct Step {
    const DecodeOptions &options;
    Layer next;
    uint8_t enclosing = 0;  // length fields recorded in out.fragment so far
    // An IP length longer than the frame, let through to read the TCP header
    // (see decode_packet in decode.hpp): the result the packet ends with.
    DecodeResult cut_short = DecodeResult::ok;
};

// A datagram whose length field claims more than the frame holds is read
// over what the frame holds only for the TCP header of an unfragmented one:
// its flow and numbers still count, its payload is never inspected.
bool may_read_cut_short(uint8_t l4_proto, bool fragment) { return l4_proto == IPPROTO_TCP && !fragment; }

// Remembers a length field that encloses whatever comes next, in case the
// innermost IP header turns out to be a fragment (FragmentInfo).
DecodeResult record_enclosing_length(DecodedPacket &out, Step &step, uint32_t field_offset) {
    if (step.enclosing == kMaxEnclosingLengths)
        return DecodeResult::tunnel_too_deep;  // not reachable within max_depth
    out.fragment.enclosing_len_at[step.enclosing++] = static_cast<uint16_t>(field_offset);
    return DecodeResult::ok;
}

// Enters tunnel layer `type`: counts it against max_depth, records it, and on
// the first one keeps the outer context (the outermost VLAN tag, and the
// addresses of the IP header carrying the tunnel, if one does).
DecodeResult enter_tunnel(DecodedPacket &out, const DecodeOptions &options, TunnelType type) {
    if (out.tunnel_layers >= options.max_depth || out.tunnel_layers == kMaxTunnelDepth)
        return DecodeResult::tunnel_too_deep;
    if (out.tunnel_layers == 0) {
        out.tunnel = TunnelContext{};
        out.tunnel.outer_vlan = out.vlan_count != 0 ? out.vlan[0] : 0;
    }
    if (out.tunnel.outer_ip_version == 0 && out.ip_version != 0) {
        out.tunnel.outer_ip_version = out.ip_version;
        std::memcpy(out.tunnel.outer_src, out.src_addr, sizeof out.tunnel.outer_src);
        std::memcpy(out.tunnel.outer_dst, out.dst_addr, sizeof out.tunnel.outer_dst);
    }
    out.layers[out.tunnel_layers++] = type;
    out.tunnel.type = type;
    return DecodeResult::ok;
}

// The layer an ethertype names, where any carrier may name it (Ethernet,
// GRE, Geneve). Not IP or MPLS: `unsupported`.
DecodeResult layer_of_ethertype(uint16_t ethertype, DecodedPacket &out, Step &step, DecodeResult unsupported) {
    switch (ethertype) {
    case kEtherTypeIpv4:
        step.next = Layer::ipv4;
        return DecodeResult::ok;
    case kEtherTypeIpv6:
        step.next = Layer::ipv6;
        return DecodeResult::ok;
    case kEtherTypeMpls:
    case kEtherTypeMplsMulticast:
        step.next = Layer::mpls;
        return enter_tunnel(out, step.options, TunnelType::mpls);
    default:
        return unsupported;
    }
}

bool is_vlan_tpid(uint16_t ethertype) {
    // Some switches still emit the pre-standard 0x9100 as the QinQ outer tag.
    return ethertype == kEtherTypeVlan || ethertype == kEtherTypeQinq ||
           ethertype == kEtherTypeQinqOld;
}

// Ethernet II header plus up to kMaxVlanTags tags. The tags kept are those of
// the last Ethernet header (a tunnelled frame's replace the outer ones).
DecodeResult parse_ethernet(Cursor &c, DecodedPacket &out, Step &step) {
    if (c.avail() < kEthHeaderLen)
        return DecodeResult::eth_truncated;
    // The ethertype is the last field of the Ethernet header; each VLAN tag
    // inserts 4 bytes (TPID was the "ethertype", then TCI, then the next type).
    uint16_t ethertype = load_be16(c.at() + 12);
    c.off += kEthHeaderLen;

    out.vlan_count = 0;
    out.vlan[0] = out.vlan[1] = 0;
    while (is_vlan_tpid(ethertype)) {
        if (out.vlan_count == kMaxVlanTags)
            return DecodeResult::vlan_too_many_tags;
        if (c.avail() < kVlanTagLen)
            return DecodeResult::vlan_truncated;
        const uint16_t tci = load_be16(c.at());
        out.vlan[out.vlan_count++] = tci & 0x0FFF;  // drop PCP and DEI
        ethertype = load_be16(c.at() + 2);
        c.off += kVlanTagLen;
    }
    return layer_of_ethertype(ethertype, out, step, DecodeResult::unsupported_ethertype);
}

// TCP header: ports, sequence numbers, flags, and where the payload is.
// `c` spans exactly the IP payload.
DecodeResult parse_tcp(const Cursor &c, DecodedPacket &out, const Step &step) {
    // A datagram cut short fails as such unless its fixed TCP fields are there.
    const bool cut_short = step.cut_short != DecodeResult::ok;
    if (c.avail() < kTcpMinHeaderLen)
        return cut_short ? step.cut_short : DecodeResult::tcp_truncated;
    const uint8_t *h = c.at();
    const uint32_t header_len = (uint32_t{h[12]} >> 4) * 4;
    if (header_len < kTcpMinHeaderLen)
        return cut_short ? step.cut_short : DecodeResult::tcp_bad_data_offset;

    out.src_port = load_be16(h);
    out.dst_port = load_be16(h + 2);
    out.seq = load_be32(h + 4);
    out.ack = load_be32(h + 8);
    // Byte 13 holds CWR ECE URG ACK PSH RST SYN FIN; the NS bit in byte 12
    // is not needed by anything downstream.
    out.tcp_flags = h[13];
    // Options running past the IP payload (Mirai-style scanners leave them
    // in the Ethernet padding), or a datagram cut short: the fixed fields
    // above were read whole, the payload is not trusted.
    const DecodeResult malformed =
        cut_short ? step.cut_short : header_len > c.avail() ? DecodeResult::tcp_bad_data_offset : DecodeResult::ok;
    if (malformed != DecodeResult::ok) {
        out.tcp_header_only = 1;
        out.payload_offset = static_cast<uint16_t>(c.end);
        out.payload_len = 0;  // a tunnel's UDP header above may have set it
        return malformed;
    }
    out.payload_offset = static_cast<uint16_t>(c.off + header_len);
    out.payload_len = static_cast<uint16_t>(c.avail() - header_len);
    return DecodeResult::ok;
}

bool port_listed(uint16_t port, const uint16_t *ports, unsigned count) {
    for (unsigned i = 0; i < count && i < kMaxTunnelPorts; ++i)
        if (ports[i] == port)
            return true;
    return false;
}

// UDP header. `c` spans exactly the IP payload; the UDP length may be shorter
// than that (trailing bytes are then ignored) but never longer. A datagram to
// a VXLAN or Geneve port is a tunnel: the walk goes on into its payload.
// Returns ok with `done` set when the datagram is the innermost layer.
DecodeResult parse_udp(Cursor &c, DecodedPacket &out, Step &step, bool &done) {
    if (c.avail() < kUdpHeaderLen)
        return DecodeResult::udp_truncated;
    const uint8_t *h = c.at();
    const uint16_t udp_len = load_be16(h + 4);
    if (udp_len < kUdpHeaderLen || udp_len > c.avail())
        return DecodeResult::udp_bad_length;

    out.src_port = load_be16(h);
    out.dst_port = load_be16(h + 2);
    out.payload_offset = static_cast<uint16_t>(c.off + kUdpHeaderLen);
    out.payload_len = static_cast<uint16_t>(udp_len - kUdpHeaderLen);

    const DecodeOptions &o = step.options;
    TunnelType type;
    if (port_listed(out.dst_port, o.vxlan_ports, o.vxlan_port_count)) {
        step.next = Layer::vxlan;
        type = TunnelType::vxlan;
    } else if (port_listed(out.dst_port, o.geneve_ports, o.geneve_port_count)) {
        step.next = Layer::geneve;
        type = TunnelType::geneve;
    } else {
        done = true;
        return DecodeResult::ok;
    }
    const DecodeResult recorded = record_enclosing_length(out, step, c.off + 4);
    if (recorded != DecodeResult::ok)
        return recorded;
    c.end = c.off + udp_len;
    c.off += kUdpHeaderLen;
    return enter_tunnel(out, o, type);
}

// What an IP header's protocol (or the last IPv6 next header) carries.
// `c` spans the IP payload.
DecodeResult layer_of_ip_protocol(DecodedPacket &out, Step &step) {
    switch (out.l4_proto) {
    case IPPROTO_TCP:
        step.next = Layer::tcp;
        return DecodeResult::ok;
    case IPPROTO_UDP:
        step.next = Layer::udp;
        return DecodeResult::ok;
    case kIpProtoGre:
        step.next = Layer::gre;
        return enter_tunnel(out, step.options, TunnelType::gre);
    case kIpProtoIpip:
        step.next = Layer::ipv4;
        return enter_tunnel(out, step.options, TunnelType::ipip);
    case kIpProtoIpv6:
        step.next = Layer::ipv6;
        return enter_tunnel(out, step.options, TunnelType::ipv6_in_ip);
    default:
        return DecodeResult::unsupported_transport;
    }
}

DecodeResult parse_ipv4(Cursor &c, DecodedPacket &out, Step &step) {
    if (c.avail() < kIpv4MinHeaderLen)
        return DecodeResult::ipv4_truncated;
    const uint8_t *h = c.at();
    if ((h[0] >> 4) != 4)
        return DecodeResult::ipv4_bad_version;
    const uint32_t header_len = uint32_t{h[0] & 0x0Fu} * 4;
    if (header_len < kIpv4MinHeaderLen || header_len > c.avail())
        return DecodeResult::ipv4_bad_header_length;
    const uint16_t flags_offset = load_be16(h + 6);
    const bool fragment = (flags_offset & 0x3FFF) != 0;  // MF or a fragment offset
    uint32_t total_len = load_be16(h + 2);
    if (total_len < header_len)
        return DecodeResult::ipv4_bad_total_length;
    if (total_len > c.avail()) {
        if (!may_read_cut_short(h[9], fragment))
            return DecodeResult::ipv4_bad_total_length;
        step.cut_short = DecodeResult::ipv4_bad_total_length;
        total_len = c.avail();
    }

    out.ip_version = 4;
    out.ip_len = static_cast<uint16_t>(total_len);
    out.l4_proto = h[9];
    std::memcpy(out.src_addr, h + 12, 4);
    std::memset(out.src_addr + 4, 0, 12);  // an outer IPv6 header may have been here
    std::memcpy(out.dst_addr, h + 16, 4);
    std::memset(out.dst_addr + 4, 0, 12);

    // Every fragment, the first one included, goes to the reassembler: the
    // first one's transport header alone would give a flow half a payload.
    if (fragment) {
        FragmentInfo &f = out.fragment;
        f.ip_offset = static_cast<uint16_t>(c.off);
        f.header_len = static_cast<uint16_t>(header_len);
        f.data_offset = static_cast<uint16_t>((flags_offset & 0x1FFF) * 8u);
        f.data_len = static_cast<uint16_t>(total_len - header_len);
        f.id = load_be16(h + 4);
        f.more = (flags_offset & 0x2000) != 0;
        f.enclosing_count = step.enclosing;
        return DecodeResult::ipv4_fragment;
    }
    const DecodeResult recorded = record_enclosing_length(out, step, c.off + 2);
    if (recorded != DecodeResult::ok)
        return recorded;

    // Anything after total_len is Ethernet padding, not transport payload.
    c.end = c.off + total_len;
    c.off += header_len;  // options are skipped, not interpreted
    return layer_of_ip_protocol(out, step);
}

bool is_ipv6_ext_header(uint8_t next_header) {
    return next_header == IPPROTO_HOPOPTS || next_header == IPPROTO_ROUTING ||
           next_header == IPPROTO_DSTOPTS || next_header == IPPROTO_FRAGMENT;
}

// Walks the extension header chain until a header that is not one we skip.
// On ok, `c` is at that header and `next_header` names it. The chain is
// bounded both by the payload length and by kMaxIpv6ExtHeaders, so a packet
// of many tiny headers costs at most a fixed number of steps. A fragment
// stops the walk at its Fragment header (`ip_offset`: the IPv6 header).
DecodeResult walk_ipv6_ext_headers(Cursor &c, uint8_t &next_header, uint32_t ip_offset, FragmentInfo &frag) {
    unsigned walked = 0;
    while (is_ipv6_ext_header(next_header)) {
        if (walked == kMaxIpv6ExtHeaders)
            return DecodeResult::ipv6_ext_too_many;
        ++walked;
        // Every extension header is at least 8 bytes (fragment: exactly 8),
        // which also covers the length byte read below.
        if (c.avail() < kIpv6ExtUnit)
            return DecodeResult::ipv6_ext_truncated;
        const uint8_t *h = c.at();
        uint32_t ext_len = kIpv6ExtUnit;
        if (next_header == IPPROTO_FRAGMENT) {
            // Offset 0 without M is an atomic fragment (RFC 6946): a whole
            // datagram, walked past. Anything else goes to the reassembler,
            // with the protocol of the reassembled datagram.
            const uint16_t offset_flags = load_be16(h + 2);
            if ((offset_flags & 0xFFF9) != 0) {  // offset (13 bits) or M
                const uint32_t data_start = c.off + kIpv6ExtUnit;
                frag.ip_offset = static_cast<uint16_t>(ip_offset);
                frag.header_len = static_cast<uint16_t>(data_start - ip_offset);
                frag.data_offset = static_cast<uint16_t>(offset_flags & 0xFFF8);  // 8-byte units << 3
                frag.data_len = static_cast<uint16_t>(c.end - data_start);
                frag.id = load_be32(h + 4);
                frag.more = offset_flags & 1;
                next_header = h[0];
                return DecodeResult::ipv6_fragment;
            }
        } else {
            // Hop-by-hop, routing and destination options: length in 8-byte
            // units, not counting the first 8 bytes.
            ext_len = (uint32_t{h[1]} + 1) * kIpv6ExtUnit;
            if (ext_len > c.avail())
                return DecodeResult::ipv6_ext_truncated;
        }
        next_header = h[0];
        c.off += ext_len;
    }
    return DecodeResult::ok;
}

DecodeResult parse_ipv6(Cursor &c, DecodedPacket &out, Step &step) {
    if (c.avail() < kIpv6HeaderLen)
        return DecodeResult::ipv6_truncated;
    const uint8_t *h = c.at();
    if ((h[0] >> 4) != 6)
        return DecodeResult::ipv6_bad_version;
    // Zero means a jumbogram (hop-by-hop jumbo option); it cannot occur on a
    // single Ethernet frame we accept, so it is treated as malformed.
    uint32_t payload_len = load_be16(h + 4);
    if (payload_len == 0)
        return DecodeResult::ipv6_bad_payload_length;
    if (kIpv6HeaderLen + payload_len > c.avail()) {
        step.cut_short = DecodeResult::ipv6_bad_payload_length;  // settled once the transport is known
        payload_len = c.avail() - kIpv6HeaderLen;
    }

    out.ip_version = 6;
    out.ip_len = static_cast<uint16_t>(kIpv6HeaderLen + payload_len);
    std::memcpy(out.src_addr, h + 8, 16);
    std::memcpy(out.dst_addr, h + 24, 16);

    const uint32_t ip_offset = c.off;
    c.end = c.off + kIpv6HeaderLen + payload_len;  // drop Ethernet padding
    c.off += kIpv6HeaderLen;
    uint8_t next_header = h[6];
    const DecodeResult walked = walk_ipv6_ext_headers(c, next_header, ip_offset, out.fragment);
    out.l4_proto = next_header;
    if (step.cut_short != DecodeResult::ok &&
        !may_read_cut_short(next_header, walked == DecodeResult::ipv6_fragment))
        return step.cut_short;
    if (walked == DecodeResult::ipv6_fragment)
        out.fragment.enclosing_count = step.enclosing;
    if (walked != DecodeResult::ok)
        return walked;
    const DecodeResult recorded = record_enclosing_length(out, step, ip_offset + 4);
    if (recorded != DecodeResult::ok)
        return recorded;
    return layer_of_ip_protocol(out, step);
}

// An MPLS label stack: labels up to the bottom-of-stack bit, then IP or
// Ethernet as decode.mpls_payload says (nothing in the stack names it).
DecodeResult parse_mpls(Cursor &c, Step &step) {
    for (unsigned labels = 0;; ++labels) {
        if (labels == kMaxMplsLabels)
            return DecodeResult::mpls_too_many_labels;
        if (c.avail() < kMplsLabelLen)
            return DecodeResult::mpls_truncated;
        const bool bottom = (c.at()[2] & 0x01) != 0;  // label 20 bits, TC 3, S 1, TTL 8
        c.off += kMplsLabelLen;
        if (bottom)
            break;
    }
    if (c.avail() == 0)
        return DecodeResult::mpls_truncated;
    const uint8_t nibble = c.at()[0] >> 4;
    const MplsPayload payload = step.options.mpls_payload;
    if (payload != MplsPayload::ethernet && (nibble == 4 || nibble == 6)) {
        step.next = nibble == 4 ? Layer::ipv4 : Layer::ipv6;
        return DecodeResult::ok;
    }
    if (payload == MplsPayload::ip)
        return DecodeResult::mpls_bad_payload;
    step.next = Layer::ethernet;
    return DecodeResult::ok;
}

// GRE (RFC 2784, with RFC 2890's key and sequence number). The checksum is
// skipped, not verified. The key is the tenant's identifier.
DecodeResult parse_gre(Cursor &c, DecodedPacket &out, Step &step) {
    if (c.avail() < kGreBaseLen)
        return DecodeResult::gre_truncated;
    const uint8_t *h = c.at();
    const uint16_t flags = load_be16(h);
    const uint16_t protocol = load_be16(h + 2);
    if ((flags & kGreVersion) != 0)
        return DecodeResult::gre_bad_version;
    if ((flags & kGreMustBeZero) != 0)
        return DecodeResult::gre_bad_flags;
    uint32_t header_len = kGreBaseLen;
    if (flags & kGreChecksum)
        header_len += kGreOptionLen;
    uint32_t key_at = 0;
    if (flags & kGreKey) {
        key_at = header_len;
        header_len += kGreOptionLen;
    }
    if (flags & kGreSequence)
        header_len += kGreOptionLen;
    if (c.avail() < header_len)
        return DecodeResult::gre_truncated;
    if (key_at != 0) {
        out.tunnel.id = load_be32(h + key_at);
        out.tunnel.tenant = TunnelType::gre;
    }
    c.off += header_len;

    switch (protocol) {
    case kEtherTypeTeb:
        step.next = Layer::ethernet;
        return DecodeResult::ok;
    case kEtherTypeErspan12:
        // Type II has a sequence number and its own header; type I neither.
        if (flags & kGreSequence) {
            step.next = Layer::erspan2;
            return enter_tunnel(out, step.options, TunnelType::erspan2);
        }
        step.next = Layer::ethernet;
        return enter_tunnel(out, step.options, TunnelType::erspan1);
    case kEtherTypeErspan3:
        step.next = Layer::erspan3;
        return enter_tunnel(out, step.options, TunnelType::erspan3);
    default:
        return layer_of_ethertype(protocol, out, step, DecodeResult::unsupported_encapsulation);
    }
}

// ERSPAN type II: version 1, VLAN, CoS/En/T, session id, index; then the
// mirrored Ethernet frame.
DecodeResult parse_erspan2(Cursor &c, DecodedPacket &out, Step &step) {
    if (c.avail() < kErspan2HeaderLen)
        return DecodeResult::erspan_truncated;
    const uint8_t *h = c.at();
    if ((h[0] >> 4) != 1)
        return DecodeResult::erspan_bad_version;
    out.tunnel.erspan_session = load_be16(h + 2) & 0x03FF;
    c.off += kErspan2HeaderLen;
    step.next = Layer::ethernet;
    return DecodeResult::ok;
}

// ERSPAN type III: version 2, VLAN, CoS/BSO/T, session id, timestamp, SGT,
// P/FT/hardware id/D/Gra/O; with O set an 8-byte platform subheader follows.
DecodeResult parse_erspan3(Cursor &c, DecodedPacket &out, Step &step) {
    if (c.avail() < kErspan3HeaderLen)
        return DecodeResult::erspan_truncated;
    const uint8_t *h = c.at();
    if ((h[0] >> 4) != 2)
        return DecodeResult::erspan_bad_version;
    out.tunnel.erspan_session = load_be16(h + 2) & 0x03FF;
    const uint8_t frame_type = (h[10] >> 2) & 0x1F;  // 0: Ethernet, 2: IP
    const bool platform = (h[11] & 0x01) != 0;
    const uint32_t header_len = kErspan3HeaderLen + (platform ? kErspan3PlatformLen : 0);
    if (c.avail() < header_len)
        return DecodeResult::erspan_truncated;
    if (frame_type != 0)
        return DecodeResult::unsupported_encapsulation;
    c.off += header_len;
    step.next = Layer::ethernet;
    return DecodeResult::ok;
}

// VXLAN (RFC 7348): flags with I set, VNI; then Ethernet.
DecodeResult parse_vxlan(Cursor &c, DecodedPacket &out, Step &step) {
    if (c.avail() < kVxlanHeaderLen)
        return DecodeResult::vxlan_truncated;
    const uint8_t *h = c.at();
    if ((h[0] & 0x08) == 0)
        return DecodeResult::vxlan_bad_flags;
    out.tunnel.id = load_be24(h + 4);
    out.tunnel.tenant = TunnelType::vxlan;
    c.off += kVxlanHeaderLen;
    step.next = Layer::ethernet;
    return DecodeResult::ok;
}

// Geneve (RFC 8926): version 0, options skipped by their length, the payload
// named by an ethertype (Ethernet 0x6558, IPv4, IPv6, MPLS).
DecodeResult parse_geneve(Cursor &c, DecodedPacket &out, Step &step) {
    if (c.avail() < kGeneveBaseLen)
        return DecodeResult::geneve_truncated;
    const uint8_t *h = c.at();
    if ((h[0] >> 6) != 0)
        return DecodeResult::geneve_bad_version;
    const uint32_t header_len = kGeneveBaseLen + uint32_t{h[0] & 0x3Fu} * 4;
    if (c.avail() < header_len)
        return DecodeResult::geneve_bad_options;
    const uint16_t protocol = load_be16(h + 2);
    out.tunnel.id = load_be24(h + 4);
    out.tunnel.tenant = TunnelType::geneve;
    c.off += header_len;
    if (protocol == kEtherTypeTeb) {
        step.next = Layer::ethernet;
        return DecodeResult::ok;
    }
    return layer_of_ethertype(protocol, out, step, DecodeResult::unsupported_encapsulation);
}

}  // namespace

DecodeResult decode_packet_general(const uint8_t *frame, uint32_t len, DecodedPacket &out, const DecodeOptions &options) {
    // Zeroing gives the documented defaults (no VLAN, IPv4 address tails
    // zero, no ports on fragments, no tunnel) without per-branch
    // bookkeeping; the tunnel context is zeroed only when a tunnel is entered.
    std::memset(&out, 0, offsetof(DecodedPacket, layers));
    Cursor c{frame, 0, len < kMaxFrameLen ? len : kMaxFrameLen};
    out.frame_len = static_cast<uint16_t>(c.end);
    Step step{options, Layer::ethernet};

    // Each pass parses one layer. Only tunnel layers lead back to an outer
    // kind of layer, and enter_tunnel bounds those, so the loop ends.
    for (;;) {
        DecodeResult r;
        switch (step.next) {
        case Layer::ethernet:
            r = parse_ethernet(c, out, step);
            break;
        case Layer::ipv4:
            r = parse_ipv4(c, out, step);
            break;
        case Layer::ipv6:
            r = parse_ipv6(c, out, step);
            break;
        case Layer::tcp:
            return parse_tcp(c, out, step);
        case Layer::udp: {
            bool done = false;
            r = parse_udp(c, out, step, done);
            if (done)
                return r;
            break;
        }
        case Layer::mpls:
            r = parse_mpls(c, step);
            break;
        case Layer::gre:
            r = parse_gre(c, out, step);
            break;
        case Layer::erspan2:
            r = parse_erspan2(c, out, step);
            break;
        case Layer::erspan3:
            r = parse_erspan3(c, out, step);
            break;
        case Layer::vxlan:
            r = parse_vxlan(c, out, step);
            break;
        case Layer::geneve:
            r = parse_geneve(c, out, step);
            break;
        default:
            return DecodeResult::unsupported_encapsulation;  // unreachable: every Layer is handled
        }
        if (r != DecodeResult::ok)
            return r;
    }
}

}  // namespace flowsentry
