// Event record: what a worker hands to the control thread through its ring.
//
// Fixed size and self-contained (no pointers into worker memory), so a
// worker copies it into the ring and forgets it; all formatting happens on
// the control thread.
#pragma once

#include <cstdint>

#include "flowsentry/decode.hpp"

namespace flowsentry {

enum class EventType : uint8_t {
    connection_start,  // handshake completed
    connection_end,    // an accepted connection ended
    alert,             // a detection fired
    attempt,           // a connection attempt to a Telnet port opened or
                       // failed: input of the control thread's scan
                       // detection, never written out as is; travels on
                       // the worker's scan ring, never the document ring
};

// Detections known to the control thread's rule table (rules.hpp).
enum class RuleId : uint16_t {
    none = 0,
    accepted_telnet_port,  // Accepted Default Telnet Port Connection
    mirai_scan_syn,        // SYN whose sequence number is the destination address
    signature,             // a payload signature; which one is in signature_id
    external_telnet,       // Connection to External Network via Telnet (control thread)
    telnet_scan,           // one source tried many Telnet servers (control thread)
    telnet_nonstandard_port,       // Telnet identified by payload outside telnet.ports
    telnet_cleartext_credentials,  // a Telnet login seen; outcome and user_name set
    telnet_brute_force,            // many failed logins from one source (control thread)
};

enum class AttemptPhase : uint8_t {
    opened,   // the client's SYN
    failed,   // the attempt ended without a handshake; outcome says how
    watched,  // the worker's answer to a watch of this client: all it held
              // of the source was handed over before this record
};

#define FLOWSENTRY_END_REASONS(X)                                             \
    X(closed)    /* FIN both ways */                                          \
    X(reset)     /* RST from either side */                                   \
    X(timeout)   /* idle longer than its state's timeout */                   \
    X(evicted)   /* table full, oldest idle flow made room */                 \
    X(shutdown)  /* flushed at end of capture or on stop */                   \
    X(reused)    /* a new SYN reused the 5-tuple */

enum class EndReason : uint8_t {
#define FLOWSENTRY_ENUM_ITEM(name) name,
    FLOWSENTRY_END_REASONS(FLOWSENTRY_ENUM_ITEM)
#undef FLOWSENTRY_ENUM_ITEM
    count_
};

const char *end_reason_name(EndReason r);

// Oriented client → server: the client is the side that sent the SYN.
struct EventRecord {
    uint64_t time_ns;        // packet time of the event, ns since the epoch
    uint64_t start_ns;       // connection start (client SYN)
    uint64_t client_bytes;   // IP bytes sent by the client
    uint64_t server_bytes;
    uint32_t client_packets;
    uint32_t server_packets;
    uint8_t client_addr[16];
    uint8_t server_addr[16];
    uint16_t client_port;
    uint16_t server_port;
    uint16_t vlan[kMaxVlanTags];
    uint32_t tunnel_id;
    uint16_t port_id;        // DPDK port the packet arrived on
    uint16_t worker_id;
    RuleId rule;             // alerts only
    uint16_t history;        // history bits (tcp_handshake.hpp)
    EventType type;
    uint8_t ip_version;
    uint8_t l4_proto;
    uint8_t vlan_count;
    uint8_t tcp_state;       // TcpState at the end (end records)
    EndReason end_reason;    // end records
    AttemptPhase attempt_phase;  // attempt records
    uint8_t outcome;         // attempt records: HandshakeOutcome when failed
    // Payload alerts (rule == signature).
    uint32_t signature_id;
    uint32_t stream_offset;  // end of the match in the direction's normalised stream
    uint8_t direction;       // 0: client to server, 1: server to client
    uint8_t user_name_len;
    char user_name[32];      // login name the client typed: attacker bytes, escaped on output
    uint8_t telnet;          // Telnet by port or by payload (network.protocol)
    uint8_t login_outcome;   // telnet_cleartext_credentials: LoginOutcome
    // Tunnel (flowsentry.tunnel). Type and id come from the flow key; the
    // outer context from the packet that triggered the event, so records
    // without one (timeout, eviction, shutdown) carry type and id only.
    TunnelType tunnel_type;    // the packet's innermost tunnel layer, else the key's tenant
    TunnelType tunnel_tenant;  // what tunnel_id is (vxlan, geneve, gre); none: no id
    uint8_t outer_ip_version;  // 0: no outer addresses
    uint16_t erspan_session;   // ERSPAN II/III only
    uint16_t outer_vlan;       // 0: none
    uint8_t outer_src[16];
    uint8_t outer_dst[16];
    // Attempt records: the SYNs (opened) or failures (failed) this record
    // stands for; a worker folds repeats it held into one record.
    uint32_t count;
};
static_assert(sizeof(EventRecord) % 8 == 0, "ring elements are copied in 8-byte words");

// Bytes of an address held as in EventRecord (IPv4 in the first four).
constexpr unsigned address_length(uint8_t ip_version) { return ip_version == 6 ? 16 : 4; }

}  // namespace flowsentry
