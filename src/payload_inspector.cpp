// Payload inspector (see payload_inspector.hpp).
#include "flowsentry/payload_inspector.hpp"

#include <algorithm>

#include <hs/hs.h>
#include <rte_rcu_qsbr.h>

namespace flowsentry {

namespace {

constexpr unsigned kToServer = 0;
constexpr unsigned kToClient = 1;

// What a Hyperscan match callback needs to turn a match into a finding.
struct MatchContext {
    const CompiledSignatures *signatures;
    FindingSink *sink;
    uint32_t base;  // stream offset when the stream was opened
    uint8_t direction;
    bool telnet;
};

int on_match(unsigned int index, unsigned long long, unsigned long long to, unsigned int, void *ctx)
{
    const auto &c = *static_cast<const MatchContext *>(ctx);
    const Signature &s = c.signatures->signatures()[index];
    const uint8_t wanted = c.direction == kToServer ? signature_direction::to_server : signature_direction::to_client;
    if ((s.directions & wanted) == 0 || (s.scope == SignatureScope::telnet && !c.telnet))
        return 0;
    Finding f{};
    f.rule = RuleId::signature;
    f.signature_id = s.id;
    f.stream_offset = c.base + static_cast<uint32_t>(to);
    f.direction = c.direction;
    c.sink->report(f);
    return 0;
}

// Logins become credential findings (the user name only).
class LoginFindings final : public LoginSink {
public:
    LoginFindings(FindingSink &sink, WorkerCounters &counters, uint32_t client_offset)
        : sink_(sink), counters_(counters), client_offset_(client_offset)
    {
    }
    void login(LoginOutcome outcome, const char *user, uint8_t user_len) override
    {
        counters_.logins_observed.add();
        Finding f{};
        f.rule = RuleId::telnet_cleartext_credentials;
        f.direction = kToServer;
        f.stream_offset = client_offset_;  // tells one attempt from the next
        f.outcome = outcome;
        f.user_name = user;
        f.user_name_len = user_len;
        sink_.report(f);
    }

private:
    FindingSink &sink_;
    WorkerCounters &counters_;
    uint32_t client_offset_;
};

bool seq_started(const StreamDirection &d) { return d.started != 0; }

}  // namespace

// In-order bytes of one direction of one flow, from the reassembler.
class PayloadInspector::Delivery final : public ByteSink {
public:
    Delivery(PayloadInspector &self, uint32_t slot, unsigned dir, FindingSink &sink)
        : self_(self), slot_(slot), dir_(dir), sink_(sink)
    {
    }
    void bytes(const uint8_t *data, uint32_t len) override { self_.deliver(slot_, dir_, data, len, sink_); }

private:
    PayloadInspector &self_;
    uint32_t slot_;
    unsigned dir_;
    FindingSink &sink_;
};

PayloadInspector::PayloadInspector(const InspectionEngine &engine, uint16_t worker_id, WorkerCounters &counters)
    : engine_(engine),
      gen_(engine.published()),
      worker_id_(worker_id),
      counters_(counters),
      reassembler_(ReassemblyLimits{engine.config().chunks_per_worker, engine.config().held_bytes_per_flow,
                                    engine.config().held_chunks_per_flow},
                   counters),
      states_(engine.config().flows_per_worker),
      normalised_(UINT16_MAX + 1)
{
    free_.reserve(states_.size());
    for (uint32_t i = static_cast<uint32_t>(states_.size()); i > 0; --i)
        free_.push_back(i - 1);
    if (rte_rcu_qsbr_thread_register(engine_.qsbr(), worker_id_) != 0)
        throw std::invalid_argument("inspection: worker " + std::to_string(worker_id_) + " out of RCU range");
    rte_rcu_qsbr_thread_online(engine_.qsbr(), worker_id_);
    online_ = true;
}

PayloadInspector::~PayloadInspector()
{
    offline();
    rte_rcu_qsbr_thread_unregister(engine_.qsbr(), worker_id_);
}

size_t PayloadInspector::bytes_per_flow() const { return sizeof(State) + engine_.stream_bytes_per_flow(); }

void PayloadInspector::quiescent()
{
    if (!online_) {
        rte_rcu_qsbr_thread_online(engine_.qsbr(), worker_id_);
        online_ = true;
    }
    const InspectionGeneration *gen = engine_.published();
    if (gen != gen_) {
        // The new generation's streams are fresh; a flow continues on them
        // from where it is (offsets keep counting from the flow's start).
        for (State &s : states_) {
            if (!s.in_use)
                continue;
            for (Direction &d : s.dir) {
                d.raw_base = d.raw_offset;
                d.data_base = d.data_offset;
            }
            counters_.inspect_streams_reopened.add();
        }
        gen_ = gen;
    }
    rte_rcu_qsbr_quiescent(engine_.qsbr(), worker_id_);
}

void PayloadInspector::offline()
{
    if (online_)
        rte_rcu_qsbr_thread_offline(engine_.qsbr(), worker_id_);
    online_ = false;
}

bool PayloadInspector::start_inspection(Flow &flow, unsigned dir, bool seen_before[2])
{
    if (free_.empty()) {
        counters_.inspect_pool_exhausted.add();
        flow.inspect_flags |= inspect_flag::no_state;
        return false;
    }
    const uint32_t slot = free_.back();
    free_.pop_back();
    State &s = states_[slot];
    s = State{};
    s.in_use = 1;
    s.telnet = (flow.inspect_flags & inspect_flag::telnet) != 0;
    for (Direction &d : s.dir)
        d.reasm.held_head = kNoChunk;  // not started: begins at its first segment
    // From the handshake's numbers when this direction has sent nothing
    // yet, so its first byte is inspected even if it came out of order.
    if (tcp_was_accepted(flow.tcp)) {
        for (unsigned d = 0; d < 2; ++d) {
            if (seen_before[d] || d == dir)
                continue;
            Reassembler::start(s.dir[d].reasm, (d == kToServer ? flow.tcp.client_isn : flow.tcp.server_isn) + 1);
        }
        if (!seen_before[dir])
            Reassembler::start(s.dir[dir].reasm,
                               (dir == kToServer ? flow.tcp.client_isn : flow.tcp.server_isn) + 1);
    }
    flow.inspect_slot = slot + 1;
    counters_.inspect_flows.add();
    return true;
}

void PayloadInspector::on_segment(Flow &flow, const DecodedPacket &pkt, const uint8_t *payload, bool sender_is_lo,
                                  bool telnet_port, FindingSink &sink)
{
    if (pkt.payload_len == 0 || (flow.inspect_flags & inspect_flag::finished))
        return;
    if (!online_)
        quiescent();
    const bool from_client = sender_is_lo == (flow.tcp.client_is_lo != 0);
    const unsigned dir = from_client ? kToServer : kToClient;
    const uint8_t seen_bit = sender_is_lo ? inspect_flag::payload_seen_lo : inspect_flag::payload_seen_hi;
    const bool first_payload = (flow.inspect_flags & seen_bit) == 0;
    bool seen_before[2];
    seen_before[dir] = !first_payload;
    seen_before[1 - dir] =
        (flow.inspect_flags & (sender_is_lo ? inspect_flag::payload_seen_hi : inspect_flag::payload_seen_lo)) != 0;
    flow.inspect_flags |= seen_bit;

    if (telnet_port)
        flow.inspect_flags |= inspect_flag::telnet;
    else if (first_payload && !(flow.inspect_flags & inspect_flag::telnet) &&
             looks_like_telnet_negotiation(payload, pkt.payload_len)) {
        flow.inspect_flags |= inspect_flag::telnet | inspect_flag::identified;
        counters_.telnet_identified.add();
        if (tcp_was_accepted(flow.tcp)) {
            Finding f{};
            f.rule = RuleId::telnet_nonstandard_port;
            f.direction = static_cast<uint8_t>(dir);
            sink.report(f);
        }
        if (flow.inspect_slot != 0)
            states_[flow.inspect_slot - 1].telnet = 1;
    }

    if (flow.inspect_slot == 0) {
        const bool wanted = (flow.inspect_flags & inspect_flag::telnet) || gen_->signatures->any_tcp_scope();
        if (!wanted)
            return;
        if ((flow.inspect_flags & inspect_flag::no_state) || !start_inspection(flow, dir, seen_before)) {
            counters_.inspect_unassigned_bytes.add(pkt.payload_len);
            return;
        }
    }

    const uint32_t slot = flow.inspect_slot - 1;
    StreamDirection &reasm = states_[slot].dir[dir].reasm;
    // A SYN's sequence number is the SYN's own; its data starts after it.
    const uint32_t seq = pkt.seq + ((pkt.tcp_flags & tcp_flag::syn) ? 1u : 0u);
    if (!seq_started(reasm))
        Reassembler::start(reasm, seq);
    Delivery delivery(*this, slot, dir, sink);
    reassembler_.segment(reasm, seq, payload, pkt.payload_len, delivery);
}

void PayloadInspector::deliver(uint32_t slot, unsigned dir, const uint8_t *data, uint32_t len, FindingSink &sink)
{
    State &s = states_[slot];
    Direction &d = s.dir[dir];
    if (d.stopped) {
        counters_.inspect_depth_bytes.add(len);
        return;
    }
    const uint32_t depth = dir == kToServer ? engine_.config().depth_to_server : engine_.config().depth_to_client;
    const uint32_t room = depth - std::min(depth, d.raw_offset);
    const uint32_t n = std::min(len, room);
    if (n < len)
        counters_.inspect_depth_bytes.add(len - n);
    if (n != 0) {
        (dir == kToServer ? counters_.inspect_bytes_to_server : counters_.inspect_bytes_to_client).add(n);
        scan(slot, dir, SignatureStream::raw, data, n, sink);
        d.raw_offset += n;
        if (s.telnet) {
            // Bytes without IAC are scanned and tracked where they are.
            TelnetNormalizerCounts counts{};
            size_t m = 0;
            const uint8_t *out = telnet_normalized(d.telnet, data, n, normalised_.data(), m, counts);
            counters_.telnet_commands.add(counts.commands);
            counters_.telnet_sb_unterminated.add(counts.sb_unterminated);
            scan(slot, dir, SignatureStream::data, out, static_cast<uint32_t>(m), sink);
            d.data_offset += static_cast<uint32_t>(m);
            LoginFindings logins(sink, counters_, s.dir[kToServer].data_offset);
            if (dir == kToClient)
                login_server_data(s.login, out, m, logins);
            else
                login_client_data(s.login, out, m, logins);
        } else {
            scan(slot, dir, SignatureStream::data, data, n, sink);
            d.data_offset += n;
        }
    }
    if (d.raw_offset >= depth)
        d.stopped = 1;
}

void PayloadInspector::scan(uint32_t slot, unsigned dir, SignatureStream kind, const uint8_t *data, uint32_t len,
                            FindingSink &sink)
{
    hs_stream_t *stream = gen_->stream(worker_id_, slot, dir, kind);
    if (stream == nullptr || len == 0)
        return;
    Direction &d = states_[slot].dir[dir];
    MatchContext ctx{gen_->signatures.get(), &sink, kind == SignatureStream::raw ? d.raw_base : d.data_base,
                     static_cast<uint8_t>(dir), states_[slot].telnet != 0};
    hs_scratch_t *scratch = gen_->workers[worker_id_].scratch;
    if (hs_scan_stream(stream, reinterpret_cast<const char *>(data), len, 0, scratch, on_match, &ctx) != HS_SUCCESS) {
        counters_.inspect_scan_errors.add();
        d.stopped = 1;
    }
}

void PayloadInspector::close_streams(uint32_t slot, FindingSink *sink)
{
    hs_scratch_t *scratch = gen_->workers[worker_id_].scratch;
    for (unsigned dir = 0; dir < 2; ++dir) {
        for (SignatureStream kind : {SignatureStream::data, SignatureStream::raw}) {
            hs_stream_t *stream = gen_->stream(worker_id_, slot, dir, kind);
            if (stream == nullptr)
                continue;
            const Direction &d = states_[slot].dir[dir];
            MatchContext ctx{gen_->signatures.get(), sink, kind == SignatureStream::raw ? d.raw_base : d.data_base,
                             static_cast<uint8_t>(dir), states_[slot].telnet != 0};
            // Reset, not close: the stream stays allocated for the next flow;
            // matches anchored at the end of data are reported now.
            if (hs_reset_stream(stream, 0, scratch, d.stopped || sink == nullptr ? nullptr : on_match, &ctx) !=
                HS_SUCCESS)
                counters_.inspect_scan_errors.add();
        }
    }
}

void PayloadInspector::on_flow_end(Flow &flow, FindingSink &sink)
{
    flow.inspect_flags |= inspect_flag::finished;
    if (flow.inspect_slot == 0)
        return;
    const uint32_t slot = flow.inspect_slot - 1;
    State &s = states_[slot];
    for (unsigned dir = 0; dir < 2; ++dir) {
        Delivery delivery(*this, slot, dir, sink);
        reassembler_.finish(s.dir[dir].reasm, delivery);
    }
    close_streams(slot, &sink);
    LoginFindings logins(sink, counters_, s.dir[kToServer].data_offset);
    login_flow_end(s.login, logins);
    free_state(flow);
}

void PayloadInspector::on_reoriented(Flow &flow)
{
    if (flow.inspect_slot == 0)
        return;
    // Its streams were fed with the sides the wrong way round: what they
    // hold is dropped (counted), and the next segment starts inspection over.
    const uint32_t slot = flow.inspect_slot - 1;
    for (Direction &d : states_[slot].dir)
        reassembler_.release(d.reasm);
    close_streams(slot, nullptr);
    free_state(flow);
}

void PayloadInspector::free_state(Flow &flow)
{
    const uint32_t slot = flow.inspect_slot - 1;
    states_[slot].in_use = 0;
    free_.push_back(slot);
    flow.inspect_slot = 0;
}

}  // namespace flowsentry
