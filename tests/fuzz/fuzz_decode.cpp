// libFuzzer target: the decoder on arbitrary bytes. Besides ASan/UBSan, it
// checks what the decoder promises its callers about a decoded packet.
#include <cstdint>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include <netinet/in.h>

#include "flowsentry/decode.hpp"

using namespace flowsentry;

// Every option a configuration can set changes which bytes decode reads;
// the input's length picks one set, so the corpus frames stay frames.
DecodeOptions options_for(size_t size)
{
    DecodeOptions o;
    switch (size % 4) {
    case 1:
        o.mpls_payload = MplsPayload::ethernet;
        o.max_depth = kMaxTunnelDepth;
        break;
    case 2:
        o.mpls_payload = MplsPayload::ip;
        o.max_depth = 1;
        o.vxlan_port_count = 0;
        break;
    case 3:
        o.vxlan_ports[o.vxlan_port_count++] = 6081 + 1;
        o.geneve_ports[o.geneve_port_count++] = 4789 + 1;
        break;
    default:
        break;  // the defaults
    }
    return o;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    DecodedPacket pkt;
    const uint32_t len = size > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(size);
    const DecodeOptions options = options_for(size);
    const DecodeResult r = decode_packet(data, len, pkt, options);
    if (static_cast<unsigned>(r) >= static_cast<unsigned>(DecodeResult::count_))
        std::abort();
    // The inline path for common frames says exactly what the general
    // decoder says, field for field (each starts from different garbage).
    DecodedPacket fast, general;
    std::memset(&fast, 0xA5, sizeof fast);
    std::memset(&general, 0x5A, sizeof general);
    const bool common = decode_common_tcp(data, len, fast);
    const DecodeResult rg = decode_packet_general(data, len, general, options);
    if (rg != r || (common && (rg != DecodeResult::ok || std::memcmp(&fast, &general, offsetof(DecodedPacket, layers)) != 0)))
        std::abort();
    // Whatever the result, the layers seen are within the bound and named.
    if (pkt.tunnel_layers > options.max_depth)
        std::abort();
    for (unsigned i = 0; i < pkt.tunnel_layers; ++i)
        if (pkt.layers[i] == TunnelType::none || pkt.layers[i] >= TunnelType::count_)
            std::abort();
    if (r == DecodeResult::ipv4_fragment || r == DecodeResult::ipv6_fragment) {
        // The reassembler copies header_len + data_len bytes from ip_offset.
        const FragmentInfo &f = pkt.fragment;
        if (static_cast<uint64_t>(f.ip_offset) + f.header_len + f.data_len > size)
            std::abort();
        return 0;
    }
    if (pkt.tcp_header_only != 0) {
        // Malformed past the TCP header's fixed fields: no payload.
        if (r == DecodeResult::ok || pkt.l4_proto != IPPROTO_TCP || pkt.payload_len != 0 || pkt.payload_offset > size)
            std::abort();
        return 0;
    }
    if (r != DecodeResult::ok)
        return 0;
    // The payload lies inside the frame, the rest is within its ranges.
    if (static_cast<uint64_t>(pkt.payload_offset) + pkt.payload_len > size)
        std::abort();
    if ((pkt.ip_version != 4 && pkt.ip_version != 6) || pkt.vlan_count > kMaxVlanTags)
        std::abort();
    if (pkt.l4_proto != IPPROTO_TCP && pkt.l4_proto != IPPROTO_UDP)
        std::abort();
    if (pkt.tunnel_layers != 0 && pkt.tunnel.type != pkt.layers[pkt.tunnel_layers - 1])
        std::abort();
    return 0;
}
