// TCP handshake tracking (see tcp_handshake.hpp for the contract).
//
// Only the numbers of the handshake are checked: flowsentry is a passive tap
// and does not reassemble here, it only has to be sure a server said yes.
#include "flowsentry/tcp_handshake.hpp"

#include <cstddef>

namespace flowsentry {

namespace {

using namespace tcp_flag;

inline bool has(uint8_t flags, uint8_t f) { return (flags & f) == f; }

inline void mark(TcpConnection &c, uint16_t bit) { c.history |= bit; }


// The sequence number the client sends next: c + 1, or after a Fast Open SYN
// anything up to c + 1 + its data (the server may have declined the data).
inline bool at_client_next(const TcpConnection &c, uint32_t seq)
{
    return seq - (c.client_isn + 1) <= c.syn_data_len;
}

// A SYN-ACK acknowledges the SYN, with or without its Fast Open data.
inline bool acknowledges_syn(const TcpConnection &c, uint32_t ack)
{
    const uint32_t acked = ack - (c.client_isn + 1);
    return acked == 0 || acked == c.syn_data_len;
}

// Remembers how far the server's sequence numbers went past its SYN before
// the handshake completed, so that a client acknowledging a banner can stand
// in for a lost final ACK.
void note_server_sent(TcpConnection &c, const DecodedPacket &pkt)
{
    const uint32_t end = pkt.seq + (has(pkt.tcp_flags, syn) ? 1u : 0u) + pkt.payload_len +
                         (has(pkt.tcp_flags, fin) ? 1u : 0u) - (c.server_isn + 1);
    if (end >= 0x80000000u || end <= c.server_sent)
        return;  // before the SYN (or far off), or nothing new
    c.server_sent = static_cast<uint16_t>(end > UINT16_MAX ? UINT16_MAX : end);
}

// The client acknowledges the server's SYN: s + 1 exactly, or, from the
// client's next sequence number (the final ACK was lost), anything up to
// what the server has sent.
inline bool acknowledges_server_syn(const TcpConnection &c, const DecodedPacket &pkt)
{
    const uint32_t beyond = pkt.ack - (c.server_isn + 1);
    return beyond == 0 || (beyond <= c.server_sent && at_client_next(c, pkt.seq));
}

// A SYN is a fresh attempt on a finished connection unless it retransmits
// the original one (same ISN from the same client).
inline bool is_new_syn(const TcpConnection &c, const DecodedPacket &pkt, bool from_client)
{
    return has(pkt.tcp_flags, syn) && !has(pkt.tcp_flags, ack) &&
           !(from_client && pkt.seq == c.client_isn);
}

void record_history(TcpConnection &c, const DecodedPacket &pkt, bool from_client)
{
    const uint8_t f = pkt.tcp_flags;
    if (has(f, syn) && !has(f, ack))
        mark(c, from_client ? history::client_syn : history::server_syn);
    if (has(f, syn) && has(f, ack) && !from_client)
        mark(c, history::server_synack);
    if (has(f, ack) && !has(f, syn))
        mark(c, from_client ? history::client_ack : history::server_ack);
    if (pkt.payload_len > 0)
        mark(c, from_client ? history::client_data : history::server_data);
    if (has(f, fin))
        mark(c, from_client ? history::client_fin : history::server_fin);
    if (has(f, rst))
        mark(c, from_client ? history::client_rst : history::server_rst);
}

// A SYN that opens an attempt: the sender is the client from now on.
TcpStep open_attempt(TcpConnection &c, const DecodedPacket &pkt, bool sender_is_lo)
{
    c = TcpConnection{};
    c.state = TcpState::syn_sent;
    c.client_is_lo = sender_is_lo;
    c.client_isn = pkt.seq;
    c.syn_data_len = pkt.payload_len;
    record_history(c, pkt, true);
    return {TcpEvent::none, HandshakeOutcome::accepted};
}

TcpStep fail(TcpConnection &c, TcpState state, HandshakeOutcome outcome)
{
    c.state = state;
    return {TcpEvent::attempt_failed, outcome};
}

constexpr TcpStep kNothing{TcpEvent::none, HandshakeOutcome::accepted};

template <size_t N>
const char *name_at(const char *const (&names)[N], unsigned i)
{
    return i < N ? names[i] : "unknown";
}

}  // namespace

TcpStep tcp_track(TcpConnection &c, const DecodedPacket &pkt, bool sender_is_lo)
{
    const uint8_t f = pkt.tcp_flags;

    if (c.state == TcpState::none) {
        if (has(f, syn) && !has(f, ack) && !has(f, rst))
            return open_attempt(c, pkt, sender_is_lo);
        // Joined late (or the SYN was lost): we can never know the server
        // accepted, so this flow never yields a connection document.
        c.client_is_lo = sender_is_lo;
        record_history(c, pkt, true);
        return fail(c, TcpState::midstream, HandshakeOutcome::midstream);
    }

    const bool from_client = (sender_is_lo != 0) == (c.client_is_lo != 0);
    record_history(c, pkt, from_client);

    switch (c.state) {
    case TcpState::syn_sent:
        if (from_client) {
            if (has(f, rst)) {
                // RFC 793: a client in SYN-SENT answers an unacceptable
                // SYN-ACK (forged, stale) with <SEQ=SEG.ACK><CTL=RST> and
                // keeps waiting for the real one.
                if (!at_client_next(c, pkt.seq))
                    return kNothing;
                return fail(c, TcpState::rejected, HandshakeOutcome::no_reply);
            }
            if (has(f, syn) && !has(f, ack) && pkt.seq != c.client_isn) {
                c.client_isn = pkt.seq;  // the client gave up and retried
                c.syn_data_len = pkt.payload_len;
            }
            return kNothing;
        }
        if (has(f, syn) && has(f, ack)) {
            if (acknowledges_syn(c, pkt.ack)) {
                c.server_isn = pkt.seq;
                c.state = TcpState::syn_received;
                note_server_sent(c, pkt);
            } else {
                c.mismatch_seen = 1;
            }
            return kNothing;
        }
        if (has(f, rst)) {
            // RFC 793: in SYN-SENT a reset is only acceptable if it
            // acknowledges the SYN; anything else could be spoofed.
            if (has(f, ack) && pkt.ack == c.client_isn + 1)
                return fail(c, TcpState::rejected, HandshakeOutcome::rejected);
            c.mismatch_seen = 1;
        }
        return kNothing;

    case TcpState::syn_received:
        if (!from_client) {
            if (has(f, rst))
                return fail(c, TcpState::rejected, HandshakeOutcome::rejected);
            note_server_sent(c, pkt);  // SYN-ACK retransmissions, a banner
            return kNothing;
        }
        if (has(f, rst))
            return fail(c, TcpState::half_open, HandshakeOutcome::half_open);
        if (has(f, ack) && !has(f, syn)) {
            if (acknowledges_server_syn(c, pkt)) {
                c.state = has(f, fin) ? TcpState::closing : TcpState::established;
                c.accepted_once = 1;
                return {TcpEvent::accepted, HandshakeOutcome::accepted};
            }
            c.mismatch_seen = 1;
        }
        return kNothing;

    case TcpState::established:
    case TcpState::closing:
        if (has(f, rst)) {
            c.state = TcpState::closed;
            return {TcpEvent::closed, HandshakeOutcome::accepted};
        }
        if (has(f, fin)) {
            const uint16_t both = history::client_fin | history::server_fin;
            if ((c.history & both) == both) {
                c.state = TcpState::closed;
                return {TcpEvent::closed, HandshakeOutcome::accepted};
            }
            c.state = TcpState::closing;
        }
        return kNothing;

    case TcpState::closed:
    case TcpState::rejected:
    case TcpState::half_open:
    case TcpState::midstream:
        if (is_new_syn(c, pkt, from_client) && !has(f, rst))
            return {TcpEvent::reused, HandshakeOutcome::accepted};
        return kNothing;

    case TcpState::none:
        break;
    }
    return kNothing;
}

HandshakeOutcome tcp_unfinished_outcome(const TcpConnection &c)
{
    if (c.mismatch_seen)
        return HandshakeOutcome::ack_mismatch;
    if (c.state == TcpState::syn_received)
        return HandshakeOutcome::unacknowledged;
    return HandshakeOutcome::no_reply;
}

namespace {

// Mid-stream, history was recorded with the first sender as the client:
// moving the client to the other side moves the letters with it.
void swap_sides(TcpConnection &c)
{
    using namespace history;
    constexpr uint16_t client_bits = client_ack | client_data | client_fin | client_rst;
    constexpr uint16_t server_bits = server_ack | server_data | server_fin | server_rst;
    static_assert(server_bits == client_bits << 1, "each server letter follows its client letter");
    c.client_is_lo = !c.client_is_lo;
    c.history = static_cast<uint16_t>((c.history & ~(client_bits | server_bits)) | (c.history & client_bits) << 1 |
                                      (c.history & server_bits) >> 1);
}

}  // namespace

MidstreamOrientation tcp_orient_midstream(TcpConnection &c, uint16_t port_lo, uint16_t port_hi, bool lo_is_service,
                                          bool hi_is_service)
{
    constexpr uint16_t kWellKnownEnd = 1024;
    MidstreamOrientation how = MidstreamOrientation::first_sender;
    bool client_is_lo = c.client_is_lo;
    if (lo_is_service != hi_is_service) {
        how = MidstreamOrientation::service_port;
        client_is_lo = hi_is_service;
    } else if ((port_lo < kWellKnownEnd) != (port_hi < kWellKnownEnd)) {
        how = MidstreamOrientation::well_known_port;
        client_is_lo = port_hi < kWellKnownEnd;
    }
    if (client_is_lo != (c.client_is_lo != 0))
        swap_sides(c);
    return how;
}

bool tcp_reorient_midstream(TcpConnection &c)
{
    if (c.state != TcpState::midstream || c.reoriented)
        return false;
    swap_sides(c);
    c.reoriented = 1;
    return true;
}

#define FLOWSENTRY_NAME_ITEM(name) #name,
const char *midstream_orientation_name(MidstreamOrientation o)
{
    static const char *const names[] = {FLOWSENTRY_MIDSTREAM_ORIENTATIONS(FLOWSENTRY_NAME_ITEM)};
    return name_at(names, static_cast<unsigned>(o));
}

const char *handshake_outcome_name(HandshakeOutcome o)
{
    static const char *const names[] = {FLOWSENTRY_HANDSHAKE_OUTCOMES(FLOWSENTRY_NAME_ITEM)};
    return name_at(names, static_cast<unsigned>(o));
}
#undef FLOWSENTRY_NAME_ITEM

unsigned format_history(uint16_t bits, char *out)
{
    unsigned n = 0;
    for (unsigned i = 0; history::letters[i] != '\0'; ++i)
        if (bits & (1u << i))
            out[n++] = history::letters[i];
    out[n] = '\0';
    return n;
}

// Zeek's names (base/protocols/conn/main.zeek), restricted to connections
// that completed a handshake, which is all flowsentry reports.
const char *conn_state_name(TcpState state, uint16_t h)
{
    using namespace history;
    if (h & client_rst)
        return "RSTO";
    if (h & server_rst)
        return "RSTR";
    const bool cf = h & client_fin, sf = h & server_fin;
    if (cf && sf)
        return "SF";
    if (cf)
        return "S2";
    if (sf)
        return "S3";
    return state == TcpState::established || state == TcpState::closing ? "S1" : "OTH";
}

}  // namespace flowsentry
