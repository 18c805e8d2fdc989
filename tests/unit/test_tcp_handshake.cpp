// Handshake tracking: every outcome, retransmissions, reuse, orientation.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "flowsentry/tcp_handshake.hpp"

using namespace flowsentry;
using namespace flowsentry::tcp_flag;

namespace {

// A conversation between a client (the lo side of the key unless told
// otherwise) and a server, one TCP segment at a time.
class Conversation {
public:
    explicit Conversation(bool client_is_lo = true) : client_lo_(client_is_lo) {}

    TcpStep client(uint8_t flags, uint32_t seq, uint32_t ack = 0, uint16_t payload = 0)
    {
        return send(client_lo_, flags, seq, ack, payload);
    }
    TcpStep server(uint8_t flags, uint32_t seq, uint32_t ack = 0, uint16_t payload = 0)
    {
        return send(!client_lo_, flags, seq, ack, payload);
    }

    // The textbook handshake: c = 1000, s = 5000.
    TcpStep handshake()
    {
        client(syn, 1000);
        server(syn | ack, 5000, 1001);
        return client(ack, 1001, 5001);
    }

    TcpConnection conn{};

private:
    TcpStep send(bool from_lo, uint8_t flags, uint32_t seq, uint32_t ack, uint16_t payload)
    {
        DecodedPacket pkt;
        std::memset(&pkt, 0, sizeof(pkt));
        pkt.tcp_flags = flags;
        pkt.seq = seq;
        pkt.ack = ack;
        pkt.payload_len = payload;
        return tcp_track(conn, pkt, from_lo);
    }
    bool client_lo_;
};

std::string history_of(const TcpConnection &c)
{
    char buf[16];
    format_history(c.history, buf);
    return buf;
}

}  // namespace

TEST(TcpHandshake, AcceptedAfterThreeMatchingPackets)
{
    Conversation c;
    EXPECT_EQ(c.client(syn, 1000).event, TcpEvent::none);
    EXPECT_EQ(c.conn.state, TcpState::syn_sent);
    EXPECT_EQ(c.server(syn | ack, 5000, 1001).event, TcpEvent::none);
    EXPECT_EQ(c.conn.state, TcpState::syn_received);
    EXPECT_EQ(c.client(ack, 1001, 5001).event, TcpEvent::accepted);
    EXPECT_EQ(c.conn.state, TcpState::established);
    EXPECT_TRUE(tcp_was_accepted(c.conn));
    EXPECT_EQ(history_of(c.conn), "ShA");
}

TEST(TcpHandshake, DataCarryingFinalAckAccepts)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    EXPECT_EQ(c.client(ack | psh, 1001, 5001, 10).event, TcpEvent::accepted);
    EXPECT_EQ(history_of(c.conn), "ShAD");
}

TEST(TcpHandshake, ClientIsTheSynSenderWhateverTheKeyOrder)
{
    Conversation c(/*client_is_lo=*/false);
    EXPECT_EQ(c.handshake().event, TcpEvent::accepted);
    EXPECT_EQ(c.conn.client_is_lo, 0);
}

TEST(TcpHandshake, RejectedByResetAnsweringTheSyn)
{
    Conversation c;
    c.client(syn, 1000);
    const TcpStep s = c.server(rst | ack, 0, 1001);
    EXPECT_EQ(s.event, TcpEvent::attempt_failed);
    EXPECT_EQ(s.outcome, HandshakeOutcome::rejected);
    EXPECT_FALSE(tcp_was_accepted(c.conn));
}

TEST(TcpHandshake, ResetNotAcknowledgingTheSynIsNotARejection)
{
    Conversation c;
    c.client(syn, 1000);
    EXPECT_EQ(c.server(rst | ack, 0, 777).event, TcpEvent::none);
    EXPECT_EQ(c.conn.state, TcpState::syn_sent);
    EXPECT_EQ(tcp_unfinished_outcome(c.conn), HandshakeOutcome::ack_mismatch);
}

TEST(TcpHandshake, NoReplyWhenTheSynIsNeverAnswered)
{
    Conversation c;
    c.client(syn, 1000);
    c.client(syn, 1000);  // retransmission
    c.client(syn, 1000);
    EXPECT_EQ(c.conn.state, TcpState::syn_sent);
    EXPECT_EQ(tcp_unfinished_outcome(c.conn), HandshakeOutcome::no_reply);
}

TEST(TcpHandshake, HalfOpenWhenTheClientResetsAfterSynAck)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    const TcpStep s = c.client(rst, 1001);
    EXPECT_EQ(s.event, TcpEvent::attempt_failed);
    EXPECT_EQ(s.outcome, HandshakeOutcome::half_open);
    EXPECT_FALSE(tcp_was_accepted(c.conn));
}

TEST(TcpHandshake, SynAckWithWrongAckNumberIsNotAccepted)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 2000);            // does not acknowledge 1000 + 1
    EXPECT_EQ(c.client(ack, 1001, 5001).event, TcpEvent::none);
    EXPECT_FALSE(tcp_was_accepted(c.conn));
    EXPECT_EQ(tcp_unfinished_outcome(c.conn), HandshakeOutcome::ack_mismatch);
}

TEST(TcpHandshake, FinalAckWithWrongNumberIsNotAccepted)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    EXPECT_EQ(c.client(ack, 1001, 9999).event, TcpEvent::none);
    EXPECT_FALSE(tcp_was_accepted(c.conn));
    EXPECT_EQ(tcp_unfinished_outcome(c.conn), HandshakeOutcome::ack_mismatch);
}

TEST(TcpHandshake, UnacknowledgedWhenTheFinalAckNeverComes)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    EXPECT_EQ(tcp_unfinished_outcome(c.conn), HandshakeOutcome::unacknowledged);
}

TEST(TcpHandshake, DuplicatedHandshakePacketsAcceptOnce)
{
    Conversation c;
    c.client(syn, 1000);
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    c.server(syn | ack, 5000, 1001);
    EXPECT_EQ(c.client(ack, 1001, 5001).event, TcpEvent::accepted);
    EXPECT_EQ(c.client(ack, 1001, 5001).event, TcpEvent::none);
    EXPECT_EQ(c.server(syn | ack, 5000, 1001).event, TcpEvent::none);
    EXPECT_EQ(c.client(syn, 1000).event, TcpEvent::none);  // old SYN retransmitted late
}

TEST(TcpHandshake, ClientRetryWithNewIsnIsTracked)
{
    Conversation c;
    c.client(syn, 1000);
    c.client(syn, 3000);  // gave up on the first attempt
    c.server(syn | ack, 5000, 3001);
    EXPECT_EQ(c.client(ack, 3001, 5001).event, TcpEvent::accepted);
}

TEST(TcpHandshake, MidstreamNeverAccepts)
{
    Conversation c;
    const TcpStep s = c.client(ack | psh, 1001, 5001, 20);
    EXPECT_EQ(s.event, TcpEvent::attempt_failed);
    EXPECT_EQ(s.outcome, HandshakeOutcome::midstream);
    EXPECT_EQ(c.server(ack, 5001, 1021).event, TcpEvent::none);
    EXPECT_FALSE(tcp_was_accepted(c.conn));
}

TEST(TcpHandshake, SynAckFirstIsMidstream)
{
    Conversation c;
    EXPECT_EQ(c.server(syn | ack, 5000, 1001).outcome, HandshakeOutcome::midstream);
    EXPECT_EQ(c.client(ack, 1001, 5001).event, TcpEvent::none);
}

TEST(TcpHandshake, FinBothWaysClosesWithStateSF)
{
    Conversation c;
    c.handshake();
    EXPECT_EQ(c.client(fin | ack, 1001, 5001).event, TcpEvent::none);
    EXPECT_EQ(c.conn.state, TcpState::closing);
    EXPECT_EQ(c.server(fin | ack, 5001, 1002).event, TcpEvent::closed);
    EXPECT_STREQ(conn_state_name(c.conn.state, c.conn.history), "SF");
    EXPECT_EQ(history_of(c.conn), "ShAaFf");
}

TEST(TcpHandshake, ResetAfterAcceptCloses)
{
    Conversation c;
    c.handshake();
    EXPECT_EQ(c.server(rst | ack, 5001, 1001).event, TcpEvent::closed);
    EXPECT_STREQ(conn_state_name(c.conn.state, c.conn.history), "RSTR");
    Conversation d;
    d.handshake();
    EXPECT_EQ(d.client(rst, 1001).event, TcpEvent::closed);
    EXPECT_STREQ(conn_state_name(d.conn.state, d.conn.history), "RSTO");
}

TEST(TcpHandshake, OpenConnectionIsS1AndHalfClosedS2S3)
{
    Conversation c;
    c.handshake();
    EXPECT_STREQ(conn_state_name(c.conn.state, c.conn.history), "S1");
    c.client(fin | ack, 1001, 5001);
    EXPECT_STREQ(conn_state_name(c.conn.state, c.conn.history), "S2");
    Conversation d;
    d.handshake();
    d.server(fin | ack, 5001, 1001);
    EXPECT_STREQ(conn_state_name(d.conn.state, d.conn.history), "S3");
}

TEST(TcpHandshake, NewSynAfterCloseIsReuse)
{
    Conversation c;
    c.handshake();
    c.client(fin | ack, 1001, 5001);
    c.server(fin | ack, 5001, 1002);
    c.client(ack, 1002, 5002);
    EXPECT_EQ(c.client(syn, 90000).event, TcpEvent::reused);
    // The caller starts over with the same packet.
    c.conn = TcpConnection{};
    c.client(syn, 90000);
    c.server(syn | ack, 7000, 90001);
    EXPECT_EQ(c.client(ack, 90001, 7001).event, TcpEvent::accepted);
}

TEST(TcpHandshake, RetransmittedOriginalSynAfterCloseIsNotReuse)
{
    Conversation c;
    c.handshake();
    c.client(rst, 1001);
    EXPECT_EQ(c.client(syn, 1000).event, TcpEvent::none);
}

TEST(TcpHandshake, NewSynAfterRejectionIsANewAttempt)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(rst | ack, 0, 1001);
    EXPECT_EQ(c.client(syn, 4242).event, TcpEvent::reused);
}

// TCP Fast Open (RFC 7413): the SYN carries data.
TEST(TcpHandshake, FastOpenSynAckAcknowledgingTheDataAccepts)
{
    Conversation c;
    c.client(syn, 1000, 0, 20);
    c.server(syn | ack, 5000, 1021);
    EXPECT_EQ(c.conn.state, TcpState::syn_received);
    EXPECT_EQ(c.client(ack, 1021, 5001).event, TcpEvent::accepted);
    EXPECT_EQ(history_of(c.conn), "ShAD");
}

TEST(TcpHandshake, FastOpenDataDeclinedByTheServerAccepts)
{
    Conversation c;
    c.client(syn, 1000, 0, 20);
    c.server(syn | ack, 5000, 1001);
    EXPECT_EQ(c.conn.state, TcpState::syn_received);
    EXPECT_EQ(c.client(ack | psh, 1001, 5001, 20).event, TcpEvent::accepted);  // the data again
}

TEST(TcpHandshake, FastOpenSynAckAcknowledgingPartOfTheDataIsAMismatch)
{
    Conversation c;
    c.client(syn, 1000, 0, 20);
    c.server(syn | ack, 5000, 1011);
    EXPECT_EQ(c.conn.state, TcpState::syn_sent);
    EXPECT_EQ(tcp_unfinished_outcome(c.conn), HandshakeOutcome::ack_mismatch);
}

TEST(TcpHandshake, FastOpenRetryWithANewIsnTakesItsOwnDataLength)
{
    Conversation c;
    c.client(syn, 1000, 0, 20);
    c.client(syn, 3000);  // plain SYN this time
    c.server(syn | ack, 5000, 3021);
    EXPECT_EQ(c.conn.state, TcpState::syn_sent);
    c.server(syn | ack, 5000, 3001);
    EXPECT_EQ(c.client(ack, 3001, 5001).event, TcpEvent::accepted);
}

// The tap lost the final ACK; the server spoke first (a banner).
TEST(TcpHandshake, LostFinalAckAfterABannerAcceptsOnTheClientsNextSegment)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    c.server(ack | psh, 5001, 1001, 30);
    EXPECT_EQ(c.client(ack | psh, 1001, 5031, 6).event, TcpEvent::accepted);
    EXPECT_EQ(c.conn.state, TcpState::established);
}

TEST(TcpHandshake, LostFinalAckPureAckCoveringPartOfTheBannerAccepts)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    c.server(ack | psh, 5001, 1001, 30);
    c.server(ack | psh, 5031, 1001, 10);
    c.server(ack | psh, 5001, 1001, 30);  // a retransmission moves nothing
    EXPECT_EQ(c.client(ack, 1001, 5021).event, TcpEvent::accepted);
}

TEST(TcpHandshake, AckBeyondWhatTheServerSentIsAMismatch)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    c.server(ack | psh, 5001, 1001, 30);
    EXPECT_EQ(c.client(ack | psh, 1001, 5032, 6).event, TcpEvent::none);
    EXPECT_FALSE(tcp_was_accepted(c.conn));
    EXPECT_EQ(tcp_unfinished_outcome(c.conn), HandshakeOutcome::ack_mismatch);
}

TEST(TcpHandshake, LostFinalAckNeedsTheClientsNextSequenceNumber)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    c.server(ack | psh, 5001, 1001, 30);
    EXPECT_EQ(c.client(ack | psh, 1700, 5031, 6).event, TcpEvent::none);
    EXPECT_FALSE(tcp_was_accepted(c.conn));
}

TEST(TcpHandshake, ServerFinCountsAsSent)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    c.server(fin | ack, 5001, 1001);
    EXPECT_EQ(c.client(ack, 1001, 5002).event, TcpEvent::accepted);
}

// RFC 793 / 5961: a client in SYN-SENT resets an unacceptable SYN-ACK with
// <SEQ=SEG.ACK> and keeps waiting for the real one.
TEST(TcpHandshake, ForgedSynAckAnsweredByAClientResetKeepsTheAttempt)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 777, 4242);  // forged or stale
    EXPECT_EQ(c.client(rst, 4242).event, TcpEvent::none);
    EXPECT_EQ(c.conn.state, TcpState::syn_sent);
    c.server(syn | ack, 5000, 1001);
    EXPECT_EQ(c.client(ack, 1001, 5001).event, TcpEvent::accepted);
    EXPECT_EQ(c.conn.server_isn, 5000u);
}

TEST(TcpHandshake, ClientResetAtItsNextSequenceNumberEndsTheAttempt)
{
    Conversation c;
    c.client(syn, 1000);
    const TcpStep s = c.client(rst, 1001);
    EXPECT_EQ(s.event, TcpEvent::attempt_failed);
    EXPECT_EQ(s.outcome, HandshakeOutcome::no_reply);
}

TEST(TcpHandshake, ForgedSynAckThenNoRealOneIsAMismatch)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 777, 4242);
    c.client(rst, 4242);
    EXPECT_EQ(tcp_unfinished_outcome(c.conn), HandshakeOutcome::ack_mismatch);
}

// Half-open scans stay unaccepted whatever the client's reset carries.
TEST(TcpHandshake, HalfOpenScanWithResetAckAcknowledgingTheSynAckIsNotAccepted)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn | ack, 5000, 1001);
    const TcpStep s = c.client(rst | ack, 1001, 5001);
    EXPECT_EQ(s.outcome, HandshakeOutcome::half_open);
    EXPECT_FALSE(tcp_was_accepted(c.conn));
}

// Simultaneous open (RFC 793 3.4): the first SYN's sender is the client; its
// own SYN-ACK is not the final ACK, its next segment acknowledging the other
// SYN is.
TEST(TcpHandshake, SimultaneousOpenAcceptsOnTheFirstSendersNextSegment)
{
    Conversation c;
    c.client(syn, 1000);
    c.server(syn, 5000);
    c.server(syn | ack, 5000, 1001);
    EXPECT_EQ(c.client(syn | ack, 1000, 5001).event, TcpEvent::none);
    EXPECT_EQ(c.client(ack | psh, 1001, 5001, 4).event, TcpEvent::accepted);
    EXPECT_EQ(c.conn.client_is_lo, 1);
    EXPECT_EQ(history_of(c.conn), "ShADs");
}

// Mid-stream orientation.
TEST(TcpHandshake, MidstreamServiceSideIsTheServerWhoeverSpokeFirst)
{
    Conversation c(/*client_is_lo=*/true);
    c.server(ack | psh, 5001, 1001, 7);  // the hi side speaks first: a banner
    EXPECT_EQ(c.conn.client_is_lo, 0);   // first sender
    EXPECT_EQ(tcp_orient_midstream(c.conn, 40000, 23, false, true), MidstreamOrientation::service_port);
    EXPECT_EQ(c.conn.client_is_lo, 1);
    EXPECT_EQ(history_of(c.conn), "ad");  // its letters moved to the server
}

TEST(TcpHandshake, MidstreamWellKnownPortAgainstEphemeralIsTheServer)
{
    Conversation c;
    c.server(ack | psh, 5001, 1001, 7);
    EXPECT_EQ(tcp_orient_midstream(c.conn, 51000, 513, false, false), MidstreamOrientation::well_known_port);
    EXPECT_EQ(c.conn.client_is_lo, 1);
    Conversation d;
    d.client(ack | psh, 1001, 5001, 7);
    EXPECT_EQ(tcp_orient_midstream(d.conn, 80, 51000, false, false), MidstreamOrientation::well_known_port);
    EXPECT_EQ(d.conn.client_is_lo, 0);
}

TEST(TcpHandshake, MidstreamWithoutAHintKeepsTheFirstSender)
{
    Conversation c;
    c.server(ack | psh, 5001, 1001, 7);
    EXPECT_EQ(tcp_orient_midstream(c.conn, 40000, 50000, false, false), MidstreamOrientation::first_sender);
    EXPECT_EQ(c.conn.client_is_lo, 0);
    Conversation both;
    both.client(ack, 1001, 5001);
    EXPECT_EQ(tcp_orient_midstream(both.conn, 23, 2323, true, true), MidstreamOrientation::well_known_port);
    EXPECT_EQ(both.conn.client_is_lo, 0);  // 23 is the one below 1024
    Conversation low;
    low.client(ack, 1001, 5001);
    EXPECT_EQ(tcp_orient_midstream(low.conn, 22, 80, false, false), MidstreamOrientation::first_sender);
    EXPECT_EQ(low.conn.client_is_lo, 1);
}

TEST(TcpHandshake, MidstreamReorientsOnceAndOnlyMidstream)
{
    Conversation c;
    c.client(ack | psh, 1001, 5001, 7);
    EXPECT_TRUE(tcp_reorient_midstream(c.conn));
    EXPECT_EQ(c.conn.client_is_lo, 0);
    EXPECT_EQ(history_of(c.conn), "ad");
    EXPECT_FALSE(tcp_reorient_midstream(c.conn));
    EXPECT_EQ(c.conn.client_is_lo, 0);
    Conversation d;
    d.handshake();
    EXPECT_FALSE(tcp_reorient_midstream(d.conn));
    EXPECT_EQ(d.conn.client_is_lo, 1);
}

TEST(TcpHandshake, OutcomeNamesAreStable)
{
    EXPECT_STREQ(handshake_outcome_name(HandshakeOutcome::accepted), "accepted");
    EXPECT_STREQ(handshake_outcome_name(HandshakeOutcome::half_open), "half_open");
    EXPECT_STREQ(handshake_outcome_name(HandshakeOutcome::midstream), "midstream");
}

TEST(TcpHandshake, MidstreamOrientationNamesAreStable)
{
    EXPECT_STREQ(midstream_orientation_name(MidstreamOrientation::service_port), "service_port");
    EXPECT_STREQ(midstream_orientation_name(MidstreamOrientation::well_known_port), "well_known_port");
    EXPECT_STREQ(midstream_orientation_name(MidstreamOrientation::first_sender), "first_sender");
    EXPECT_STREQ(midstream_orientation_name(MidstreamOrientation::count_), "unknown");
}
