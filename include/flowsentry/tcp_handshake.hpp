// TCP handshake tracking: decides whether a server accepted a connection.
//
// A connection is accepted when the three packets of the handshake are seen
// with matching numbers: SYN (client ISN c), SYN-ACK acknowledging c + 1
// (server ISN s), ACK acknowledging s + 1. What real hosts and taps add:
//   - TCP Fast Open (RFC 7413): a SYN carrying n bytes may be answered by a
//     SYN-ACK acknowledging c + 1 + n (data taken) or c + 1 (declined);
//   - a final ACK the tap lost: the client's next segment (sequence number
//     c + 1, or up to c + 1 + n after Fast Open) acknowledging s + 1 up to
//     the end of what the server has sent since its SYN (a banner) accepts;
//   - a client reset in SYN-SENT carrying another number than the client's
//     next answers a SYN-ACK it found unacceptable (forged or stale, RFC 793
//     and 5961): the attempt goes on.
// Anything else is an attempt that is counted by how it failed, and produces
// no connection document.
#pragma once

#include <cstdint>

#include "flowsentry/decode.hpp"

namespace flowsentry {

enum class TcpState : uint8_t {
    none,          // no packet seen yet
    syn_sent,      // client SYN seen
    syn_received,  // matching SYN-ACK seen
    established,   // matching final ACK seen: accepted
    closing,       // accepted, one side sent FIN
    closed,        // accepted, FIN both ways or RST
    rejected,      // server answered the SYN with RST
    half_open,     // client reset after the SYN-ACK
    midstream,     // first packet was not a SYN: never an accepted connection
};

// How an attempt ended; each has a counter `handshake_<name>`.
#define FLOWSENTRY_HANDSHAKE_OUTCOMES(X)                                      \
    X(accepted)                                                               \
    X(rejected)      /* RST in answer to the SYN */                           \
    X(no_reply)      /* SYN never answered */                                 \
    X(half_open)     /* client RST after SYN-ACK */                           \
    X(unacknowledged) /* SYN-ACK seen, final ACK never came */                \
    X(ack_mismatch)  /* an answer whose numbers did not match */              \
    X(midstream)     /* data without a handshake */

enum class HandshakeOutcome : uint8_t {
#define FLOWSENTRY_ENUM_ITEM(name) name,
    FLOWSENTRY_HANDSHAKE_OUTCOMES(FLOWSENTRY_ENUM_ITEM)
#undef FLOWSENTRY_ENUM_ITEM
    count_
};

const char *handshake_outcome_name(HandshakeOutcome o);

// Zeek-style history letters, kept as a bit set (first occurrence only) and
// rendered in this fixed order: upper case for the client, lower for the server.
namespace history {
constexpr uint16_t client_syn = 1u << 0;      // S
constexpr uint16_t server_synack = 1u << 1;   // h
constexpr uint16_t client_ack = 1u << 2;      // A
constexpr uint16_t server_ack = 1u << 3;      // a
constexpr uint16_t client_data = 1u << 4;     // D
constexpr uint16_t server_data = 1u << 5;     // d
constexpr uint16_t client_fin = 1u << 6;      // F
constexpr uint16_t server_fin = 1u << 7;      // f
constexpr uint16_t client_rst = 1u << 8;      // R
constexpr uint16_t server_rst = 1u << 9;      // r
constexpr uint16_t server_syn = 1u << 10;     // s (SYN without ACK from the server)
constexpr const char letters[] = "ShAaDdFfRrs";
}  // namespace history

// Renders the history bit set into `out` (at least 12 bytes); returns length.
unsigned format_history(uint16_t bits, char *out);

// Zeek's conn_state for an accepted connection at its end.
const char *conn_state_name(TcpState state, uint16_t history_bits);

// The TCP part of a flow's state. Side 0 is the client (sender of the SYN),
// side 1 the server; `client_is_lo` ties that to the flow key's order.
struct TcpConnection {
    uint32_t client_isn;
    uint32_t server_isn;
    uint16_t history;
    uint16_t syn_data_len;  // Fast Open: bytes the client's SYN carried
    uint16_t server_sent;   // before acceptance: sequence space the server used past its SYN (saturates)
    TcpState state;
    uint8_t client_is_lo : 1;
    uint8_t mismatch_seen : 1;  // an answer with wrong numbers was seen
    uint8_t accepted_once : 1;  // this connection produced its accepted event
    uint8_t reoriented : 1;     // mid-stream: payload proved the first orientation wrong
};
static_assert(sizeof(TcpConnection) == 16, "TcpConnection is part of Flow (flow_table.hpp): keep it 16 bytes");

// What a packet did to the connection, for the caller to act on.
enum class TcpEvent : uint8_t {
    none,
    accepted,        // emit connection start (and Telnet alert if applicable)
    attempt_failed,  // outcome says how: rejected / half_open / midstream
    closed,          // accepted connection finished by FIN/FIN or RST
    reused,          // a new SYN on a finished 5-tuple (see tcp_track)
};

struct TcpStep {
    TcpEvent event;
    HandshakeOutcome outcome;  // meaningful for attempt_failed
};

// Advances the connection with one packet. `sender_is_lo` tells which side of
// the flow key sent it. A new flow starts from a zeroed TcpConnection (state
// none); on `reused` the caller ends the old connection, zeroes it and tracks
// the same packet again. Never allocates; O(1).
TcpStep tcp_track(TcpConnection &conn, const DecodedPacket &pkt, bool sender_is_lo);

// Outcome of an attempt that ends (timeout, eviction, flush) without having
// been accepted; meaningless for accepted connections.
HandshakeOutcome tcp_unfinished_outcome(const TcpConnection &conn);

// How a flow joined mid-stream (no SYN seen) was oriented; each has a
// counter `midstream.<name>`. Zeek and Suricata do much the same.
#define FLOWSENTRY_MIDSTREAM_ORIENTATIONS(X)                                  \
    X(service_port)     /* one port is in telnet.ports: its side is the server */ \
    X(well_known_port)  /* one port below 1024, the other not: the server's */ \
    X(first_sender)     /* neither: the first packet's sender is the client */

enum class MidstreamOrientation : uint8_t {
#define FLOWSENTRY_ENUM_ITEM(name) name,
    FLOWSENTRY_MIDSTREAM_ORIENTATIONS(FLOWSENTRY_ENUM_ITEM)
#undef FLOWSENTRY_ENUM_ITEM
    count_
};

const char *midstream_orientation_name(MidstreamOrientation o);

// Orients a connection that tcp_track has just made `midstream` (it takes
// the first sender as the client) by its ports: `lo_is_service` /
// `hi_is_service` say whether the key's lo / hi port is in telnet.ports.
MidstreamOrientation tcp_orient_midstream(TcpConnection &conn, uint16_t port_lo, uint16_t port_hi,
                                          bool lo_is_service, bool hi_is_service);

// A mid-stream connection whose client (as oriented) sent payload that only
// a server sends (looks_like_telnet_server): the sides swap, once. True if
// they did.
bool tcp_reorient_midstream(TcpConnection &conn);

inline bool tcp_was_accepted(const TcpConnection &conn)
{
    return conn.accepted_once != 0;
}

}  // namespace flowsentry
