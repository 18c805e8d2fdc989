// Decode: Ethernet / 802.1Q / QinQ / IPv4 / IPv6 (extension headers) / TCP /
// UDP, descending through encapsulations: MPLS, GRE, ERSPAN I/II/III, VXLAN,
// Geneve, IP-in-IP and IPv6-in-IP, to the innermost IP and its transport.
//
// Pure function over a byte buffer so it runs the same on an mbuf, a fuzzer
// input or a test vector. It never reads past `len` and never allocates.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "flowsentry/byte_order.hpp"

namespace flowsentry {

// Every way a frame can end its journey through the decoder. Each value has a
// counter of the same name (see counters.hpp); `ok` and the `*_fragment` /
// `unsupported_*` values are not errors, the rest are malformed input.
#define FLOWSENTRY_DECODE_RESULTS(X)                                          \
    X(ok)                                                                     \
    X(unsupported_ethertype)  /* ARP, LLDP, ...: not IP */                    \
    X(unsupported_transport)  /* ICMP, SCTP, ...: IP but not TCP/UDP */       \
    X(ipv4_fragment)          /* any fragment (MF or offset): see FragmentInfo */ \
    X(ipv6_fragment)          /* Fragment header with offset or M; not atomic */ \
    X(eth_truncated)                                                          \
    X(vlan_truncated)                                                         \
    X(vlan_too_many_tags)                                                     \
    X(ipv4_truncated)                                                         \
    X(ipv4_bad_version)                                                       \
    X(ipv4_bad_header_length)                                                 \
    X(ipv4_bad_total_length)                                                  \
    X(ipv6_truncated)                                                         \
    X(ipv6_bad_version)                                                       \
    X(ipv6_bad_payload_length)                                                \
    X(ipv6_ext_truncated)                                                     \
    X(ipv6_ext_too_many)                                                      \
    X(tcp_truncated)                                                          \
    X(tcp_bad_data_offset)                                                    \
    X(udp_truncated)                                                          \
    X(udp_bad_length)                                                         \
    X(unsupported_encapsulation) /* GRE/Geneve payload, ERSPAN III frame type */ \
    X(tunnel_too_deep)        /* more than decode.max_depth tunnel layers */  \
    X(mpls_truncated)         /* no bottom-of-stack label, or nothing after */ \
    X(mpls_too_many_labels)   /* more than kMaxMplsLabels */                 \
    X(mpls_bad_payload)       /* mpls_payload ip: first nibble not 4 or 6 */ \
    X(gre_truncated)                                                          \
    X(gre_bad_version)        /* version != 0 (PPTP's enhanced GRE too) */   \
    X(gre_bad_flags)          /* routing or reserved bits set (RFC 2784) */  \
    X(erspan_truncated)                                                       \
    X(erspan_bad_version)     /* type II header without version 1, III without 2 */ \
    X(vxlan_truncated)                                                        \
    X(vxlan_bad_flags)        /* I flag (valid VNI) not set */                \
    X(geneve_truncated)                                                       \
    X(geneve_bad_version)                                                     \
    X(geneve_bad_options)     /* options longer than the datagram */

enum class DecodeResult : uint8_t {
#define FLOWSENTRY_ENUM_ITEM(name) name,
    FLOWSENTRY_DECODE_RESULTS(FLOWSENTRY_ENUM_ITEM)
#undef FLOWSENTRY_ENUM_ITEM
    count_
};

const char *decode_result_name(DecodeResult r);

// Most 802.1Q/802.1ad tags kept; a deeper stack is counted and dropped.
constexpr unsigned kMaxVlanTags = 2;
// Most IPv6 extension headers walked before giving up (bounds the work an
// attacker can make one packet cost).
constexpr unsigned kMaxIpv6ExtHeaders = 8;
// Most labels in one MPLS stack (the same kind of bound).
constexpr unsigned kMaxMplsLabels = 8;
// Most tunnel layers decode.max_depth may allow.
constexpr unsigned kMaxTunnelDepth = 8;
// Length fields that can enclose the innermost IP header: one IP header per
// tunnel layer and the outermost one, and a UDP header per tunnel layer.
constexpr unsigned kMaxEnclosingLengths = 2 * kMaxTunnelDepth + 1;
// Most UDP ports configured for each of VXLAN and Geneve.
constexpr unsigned kMaxTunnelPorts = 8;

// Tunnel layers decode descends through. Each has a counter "layer.<name>"
// (a packet counts once per layer it carries) and is a value of
// flowsentry.tunnel.type.
#define FLOWSENTRY_TUNNEL_TYPES(X)                                            \
    X(mpls)        /* one label stack, 0x8847 or 0x8848 */                    \
    X(gre)         /* GRE carrying IP, MPLS or Ethernet (0x6558) */            \
    X(erspan1)     /* GRE 0x88BE without sequence number: no header */        \
    X(erspan2)     /* GRE 0x88BE with sequence number: 8-byte header */       \
    X(erspan3)     /* GRE 0x22EB: 12-byte header (+8 platform subheader) */   \
    X(vxlan)       /* UDP to decode.vxlan_ports */                             \
    X(geneve)      /* UDP to decode.geneve_ports */                            \
    X(ipip)        /* IPv4 in IPv4/IPv6 (protocol 4) */                        \
    X(ipv6_in_ip)  /* IPv6 in IPv4/IPv6 (protocol 41, 6in4) */

enum class TunnelType : uint8_t {
    none = 0,
#define FLOWSENTRY_ENUM_ITEM(name) name,
    FLOWSENTRY_TUNNEL_TYPES(FLOWSENTRY_ENUM_ITEM)
#undef FLOWSENTRY_ENUM_ITEM
    count_
};

const char *tunnel_type_name(TunnelType t);  // "none", "mpls", ...

// What follows an MPLS label stack (nothing in the labels says).
enum class MplsPayload : uint8_t {
    automatic,  // IPv4/IPv6 when the first nibble is 4/6, else Ethernet (pseudowire without control word)
    ip,         // always IP; another first nibble is malformed
    ethernet,   // always Ethernet (pseudowire without control word)
};

// The decode: section of the configuration.
struct DecodeOptions {
    uint8_t max_depth = 4;  // tunnel layers, 1..kMaxTunnelDepth
    MplsPayload mpls_payload = MplsPayload::automatic;
    uint8_t vxlan_port_count = 1;
    uint8_t geneve_port_count = 1;
    uint16_t vxlan_ports[kMaxTunnelPorts] = {4789};
    uint16_t geneve_ports[kMaxTunnelPorts] = {6081};
};

extern const DecodeOptions kDefaultDecodeOptions;

namespace tcp_flag {
constexpr uint8_t fin = 0x01;
constexpr uint8_t syn = 0x02;
constexpr uint8_t rst = 0x04;
constexpr uint8_t psh = 0x08;
constexpr uint8_t ack = 0x10;
}  // namespace tcp_flag

// Where a fragment sits, for the reassembler. Filled on ipv4_fragment and
// ipv6_fragment only. A reassembled datagram is handed back to decode as the
// first fragment's bytes up to ip_offset + header_len followed by the data,
// with the IPv4 length/flags (or IPv6 payload length and a Fragment header of
// offset 0, M 0: an atomic fragment, which decode walks past) fixed up.
struct FragmentInfo {
    uint16_t ip_offset;    // start of the fragmented IP header in the frame
    uint16_t header_len;   // unfragmentable part: IPv4 header with options, or
                           // IPv6 header + extension headers up to and
                           // including the Fragment header
    uint16_t data_offset;  // the fragment's data in the datagram, in bytes
    uint16_t data_len;     // bytes of fragment data here (padding excluded)
    uint32_t id;           // IPv4: 16-bit identification; IPv6: 32-bit
    uint8_t more;          // MF / M flag
    // Behind tunnels, the outer IPv4 total length, IPv6 payload length and
    // UDP length fields count this fragment's data too: the reassembler
    // grows each by what the other fragments add (frame offsets, outermost
    // first).
    uint8_t enclosing_count;
    uint16_t enclosing_len_at[kMaxEnclosingLengths];
};

// Where the packet came through tunnels. Valid when tunnel_layers != 0.
struct TunnelContext {
    uint8_t outer_src[16];     // the outermost IP header that carried a tunnel
    uint8_t outer_dst[16];     // (IPv4 in the first 4 bytes)
    uint32_t id;               // VNI or GRE key of the innermost layer having one
    uint16_t erspan_session;   // ERSPAN II/III session id
    uint16_t outer_vlan;       // first VLAN ID of the outermost Ethernet header, 0: none
    TunnelType type;           // innermost tunnel layer: what delivered the inner packet
    TunnelType tenant;         // the layer that set `id` (vxlan, geneve, gre), else none
    uint8_t outer_ip_version;  // 0: no IP header below the first tunnel (MPLS on Ethernet)
};

// What the fast path needs of one packet; numbers in host byte order,
// addresses in network byte order (IPv4 in the first 4 bytes, rest zero).
// Behind a tunnel, addresses, ports, VLAN tags (of the last Ethernet header)
// and lengths are those of the inner packet.
//
// decode zeroes the fields up to `tunnel_layers` for every packet; `tunnel`
// and `layers` only when a tunnel is entered, `fragment` only on a fragment,
// so a plain packet pays for what it uses.
struct DecodedPacket {
    uint8_t src_addr[16];
    uint8_t dst_addr[16];
    uint16_t src_port;
    uint16_t dst_port;
    uint16_t vlan[kMaxVlanTags];  // outermost first, 12-bit VIDs
    uint8_t vlan_count;
    uint8_t ip_version;           // 4 or 6
    uint8_t l4_proto;             // IPPROTO_TCP / IPPROTO_UDP
    uint8_t tcp_flags;
    uint16_t ip_len;              // bytes of the IP datagram (header + payload)
    uint16_t payload_offset;      // from the start of the frame
    uint32_t seq;
    uint32_t ack;
    uint16_t payload_len;         // L4 payload, Ethernet padding excluded
    uint16_t frame_len;           // bytes of the frame as received (at most 65535)
    uint8_t tcp_header_only;      // malformed TCP packet whose header fields were read whole (tcp_fields_usable)
    uint8_t tunnel_layers;        // tunnel layers entered, outermost first in `layers`
    TunnelType layers[kMaxTunnelDepth];
    TunnelContext tunnel;         // when tunnel_layers != 0
    FragmentInfo fragment;        // on ipv4_fragment / ipv6_fragment only
};

// decode_packet's every layer, tunnel and error: out of line (decode.cpp).
DecodeResult decode_packet_general(const uint8_t *frame, uint32_t len, DecodedPacket &out,
                                   const DecodeOptions &options);

// An IPv4 address in a 16-byte address field, zero-padded, as one 16-byte
// store: make_flow_key reads the field back at once, and a load spanning
// two smaller stores cannot be forwarded from them (a stall of a dozen
// cycles per packet).
inline void store_ipv4_address(uint8_t field[16], const uint8_t *addr)
{
    int32_t a;
    std::memcpy(&a, addr, 4);
#if defined(__SSE2__)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(field), _mm_cvtsi32_si128(a));
#else
    std::memcpy(field, &a, 4);
    std::memset(field + 4, 0, 12);
#endif
}

// The frame a tapped uplink mostly carries, decoded inline in a few
// branches: Ethernet with at most one 802.1Q tag, unfragmented IPv4 or IPv6
// without extension headers, TCP, every length consistent. Fills `out`
// exactly as the general decoder fills it for that frame and returns true;
// anything else, malformed or not, returns false and is the general
// decoder's (tests/unit/test_decode.cpp and the decode fuzzer check both
// agree).
inline bool decode_common_tcp(const uint8_t *frame, uint32_t len, DecodedPacket &out)
{
    constexpr uint32_t kEth = 14, kTag = 4, kIpv4Min = 20, kIpv6 = 40, kTcpMin = 20;
    constexpr uint8_t kTcp = 6;
    // At least the smallest IPv4 TCP frame: each header read below is whole
    // once the lengths are checked against it.
    if (len < kEth + kIpv4Min + kTcpMin || len > UINT16_MAX)
        return false;
    uint32_t ip = kEth;
    uint16_t type = load_be16(frame + 12);
    out.vlan[0] = out.vlan[1] = 0;
    out.vlan_count = 0;
    if (type == 0x8100) {
        out.vlan[0] = load_be16(frame + kEth) & 0x0FFF;
        out.vlan_count = 1;
        type = load_be16(frame + kEth + 2);
        ip += kTag;
    }
    const uint8_t *h = frame + ip;
    uint32_t ip_len, tcp;
    if (type == 0x0800) {
        const uint32_t header_len = (h[0] & 0x0Fu) * 4;
        if ((h[0] >> 4) != 4 || header_len < kIpv4Min || h[9] != kTcp ||
            (load_be16(h + 6) & 0x3FFF) != 0)
            return false;
        ip_len = load_be16(h + 2);
        if (ip_len < header_len + kTcpMin || ip_len > len - ip)
            return false;
        tcp = ip + header_len;
        out.ip_version = 4;
        store_ipv4_address(out.src_addr, h + 12);
        store_ipv4_address(out.dst_addr, h + 16);
    } else if (type == 0x86DD) {
        if (len < ip + kIpv6 + kTcpMin || (h[0] >> 4) != 6 || h[6] != kTcp)
            return false;
        ip_len = kIpv6 + load_be16(h + 4);
        if (ip_len < kIpv6 + kTcpMin || ip_len > len - ip)
            return false;
        tcp = ip + kIpv6;
        out.ip_version = 6;
        std::memcpy(out.src_addr, h + 8, 16);
        std::memcpy(out.dst_addr, h + 24, 16);
    } else {
        return false;
    }
    const uint8_t *t = frame + tcp;
    const uint32_t payload = tcp + (uint32_t{t[12]} >> 4) * 4;
    const uint32_t end = ip + ip_len;  // past it: Ethernet padding
    if (payload < tcp + kTcpMin || payload > end)
        return false;
    out.src_port = load_be16(t);
    out.dst_port = load_be16(t + 2);
    out.seq = load_be32(t + 4);
    out.ack = load_be32(t + 8);
    out.tcp_flags = t[13];
    out.l4_proto = kTcp;
    out.ip_len = static_cast<uint16_t>(ip_len);
    out.payload_offset = static_cast<uint16_t>(payload);
    out.payload_len = static_cast<uint16_t>(end - payload);
    out.frame_len = static_cast<uint16_t>(len);
    out.tcp_header_only = 0;
    out.tunnel_layers = 0;
    return true;
}

// Fills `out` and returns ok, or the reason the packet is not inspected.
// On ipv4_fragment / ipv6_fragment, `out` holds what the fragment shows:
// addresses, ip_version, VLAN tags, l4_proto (of the reassembled datagram),
// ip_len and `fragment`; no ports. A TCP packet that is malformed only past
// its fixed header fields (an IP length longer than the frame, a data offset
// running past the IP payload: what scanners and broken copies send) returns
// that error with `tcp_header_only` set and everything but the payload filled
// (payload_len 0, ip_len what the frame holds): it still counts for its flow,
// the handshake and the scan detections, and is not inspected. On any other
// non-ok result the contents of `out` are unspecified, except
// `tunnel_layers`/`layers`: the layers entered before the failure (each is
// counted as seen).
inline DecodeResult decode_packet(const uint8_t *frame, uint32_t len, DecodedPacket &out,
                                  const DecodeOptions &options = kDefaultDecodeOptions)
{
    if (decode_common_tcp(frame, len, out))
        return DecodeResult::ok;
    return decode_packet_general(frame, len, out, options);
}

// A TCP packet whose flow, flags and numbers can be used: decoded whole, or
// malformed past its fixed header (see decode_packet).
inline bool tcp_fields_usable(DecodeResult r, const DecodedPacket &pkt)
{
    constexpr uint8_t kIpProtoTcp = 6;
    return r == DecodeResult::ok ? pkt.l4_proto == kIpProtoTcp : pkt.tcp_header_only != 0;
}

}  // namespace flowsentry
