// Worker: the poll loop and the per-packet pipeline (see worker.hpp).
#include "flowsentry/worker.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include <netinet/in.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

namespace flowsentry {

namespace {

constexpr uint32_t kMaxBurst = 512;
// Largest frame a scattered mbuf chain is copied into (the pcap PMD's
// snapshot length; NIC MTUs stay below it).
constexpr uint32_t kMaxFrame = 65535;

// Hands what a stage reports (an inspector's findings, the scan counter's
// hand-overs) to a worker function, for one flow.
template <typename Sink, typename Item, typename Fn>
class ReportsTo final : public Sink {
public:
    explicit ReportsTo(Fn fn) : fn_(fn) {}
    void report(const Item &item) override { fn_(item); }

private:
    Fn fn_;
};

template <typename Fn>
ReportsTo<FindingSink, Finding, Fn> findings_to(Fn fn)
{
    return ReportsTo<FindingSink, Finding, Fn>(fn);
}

template <typename Fn>
ReportsTo<ScanHandoverSink, ScanHandover, Fn> handovers_to(Fn fn)
{
    return ReportsTo<ScanHandoverSink, ScanHandover, Fn>(fn);
}

// Watch requests a worker takes per poll loop.
constexpr unsigned kWatchesPerLoop = 16;

uint16_t server_port_of(const Flow &flow, const FlowKey &key)
{
    return flow.tcp.client_is_lo ? key.port_hi : key.port_lo;
}

// A flow moves on its LRU list at most once per 2^30 ns (1.07 s) of packet
// time unless its state changes: expiry of flows queued behind it is at
// most that late (FlowTableParams::lru_period_log2).
constexpr uint8_t kLruPeriodLog2 = 30;

// How many packets of the side taken for the client of a flow joined
// mid-stream are checked for what only a Telnet server says.
constexpr uint32_t kReorientWithinPackets = 16;

constexpr uint64_t seconds_ns(uint32_t s) { return static_cast<uint64_t>(s) * 1000000000ull; }

// Points the worker at the TCP packet being handled for as long as it is.
class HandlingPacket {
public:
    HandlingPacket(const DecodedPacket *&slot, const DecodedPacket &pkt) : slot_(slot) { slot_ = &pkt; }
    ~HandlingPacket() { slot_ = nullptr; }
    HandlingPacket(const HandlingPacket &) = delete;
    HandlingPacket &operator=(const HandlingPacket &) = delete;

private:
    const DecodedPacket *&slot_;
};

// Mirai's scanner sets the SYN's sequence number to the destination address
// (mirai/bot/scanner.c), a marker no normal stack produces on purpose.
bool is_mirai_syn(const DecodedPacket &pkt)
{
    if (pkt.ip_version != 4)
        return false;
    const uint32_t dst = static_cast<uint32_t>(pkt.dst_addr[0]) << 24 | static_cast<uint32_t>(pkt.dst_addr[1]) << 16 |
                         static_cast<uint32_t>(pkt.dst_addr[2]) << 8 | pkt.dst_addr[3];
    return pkt.seq == dst;
}

}  // namespace

WorkerSettings make_worker_settings(const Config &config)
{
    WorkerSettings s;
    s.burst_size = config.burst_size;
    s.expiry_batch = config.flow_table.expiry_batch;
    s.scatter = config.scatter;
    s.decode = config.decode;
    for (uint16_t p : config.telnet_ports)
        s.telnet_port[p >> 3] |= static_cast<uint8_t>(1u << (p & 7));
    s.scan_sources = config.detections.scan_max_sources;
    s.scan_window_ns = seconds_ns(config.detections.scan_window_s);
    // A source at the threshold across N workers has ceil(T / N) servers on
    // one of them (scan_counter.hpp); past what a worker holds, earlier.
    const uint32_t workers = std::max<uint32_t>(1, config.workers);
    s.scan_hot_at = std::min<uint32_t>(ScanCounter::kHeldAttempts + 1,
                                       (config.detections.scan_destinations + workers - 1) / workers);
    return s;
}

Worker::Worker(uint16_t worker_id, const Config &config, const WorkerSettings &settings, int socket_id)
    : settings_(settings), id_(worker_id)
{
    if (settings.scatter)
        frame_copy_.resize(kMaxFrame);
    const std::string table_name = "flows_w" + std::to_string(worker_id);
    FlowTableParams params{};
    params.name = table_name.c_str();
    params.capacity = config.flow_table.capacity;
    params.timeout_ns[static_cast<int>(TimeoutClass::attempt)] = seconds_ns(config.flow_table.attempt_timeout_s);
    params.timeout_ns[static_cast<int>(TimeoutClass::established)] =
        seconds_ns(config.flow_table.established_timeout_s);
    params.timeout_ns[static_cast<int>(TimeoutClass::closing)] = seconds_ns(config.flow_table.closing_timeout_s);
    params.socket_id = socket_id;
    params.lru_period_log2 = kLruPeriodLog2;
    flows_ = std::make_unique<FlowTable>(params);

    const std::string ring_name = "events_w" + std::to_string(worker_id);
    events_ = rte_ring_create_elem(ring_name.c_str(), sizeof(EventRecord), config.alert_ring_size, socket_id,
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (events_ == nullptr)
        throw std::runtime_error("worker " + std::to_string(worker_id) + ": cannot create event ring of " +
                                 std::to_string(config.alert_ring_size) + " records: " + rte_strerror(rte_errno));
    const std::string scan_name = "scan_w" + std::to_string(worker_id);
    scan_ring_ = rte_ring_create_elem(scan_name.c_str(), sizeof(EventRecord), config.alert_ring_size, socket_id,
                                      RING_F_SP_ENQ | RING_F_SC_DEQ);
    const std::string watch_name = "watch_w" + std::to_string(worker_id);
    watch_ring_ = rte_ring_create_elem(watch_name.c_str(), sizeof(ScanWatch), config.alert_ring_size, socket_id,
                                       RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (scan_ring_ == nullptr || watch_ring_ == nullptr)
        throw std::runtime_error("worker " + std::to_string(worker_id) + ": cannot create scan rings of " +
                                 std::to_string(config.alert_ring_size) + " records: " + rte_strerror(rte_errno));
    scan_ = std::make_unique<ScanCounter>(settings.scan_sources, settings.scan_window_ns, settings.scan_hot_at,
                                          socket_id, counters_.scan);
    if (settings.inspection != nullptr)
        inspector_ = std::make_unique<PayloadInspector>(*settings.inspection, worker_id, counters_);
    if (config.defrag.enabled) {
        DefragLimits limits;
        limits.max_datagrams = config.defrag.max_datagrams;
        limits.max_bytes = config.defrag.max_bytes;
        limits.max_datagram_size = config.defrag.max_datagram_size;
        limits.max_fragments_per_datagram = config.defrag.max_fragments_per_datagram;
        limits.timeout_ns = seconds_ns(config.defrag.timeout_s);
        defrag_ = std::make_unique<IpReassembler>(limits, counters_.defrag);
    }
}

Worker::~Worker()
{
    rte_ring_free(events_);
    rte_ring_free(scan_ring_);
    rte_ring_free(watch_ring_);
}

int Worker::launch(void *arg)
{
    auto *l = static_cast<Launch *>(arg);
    l->worker->run(*l->stop);
    return 0;
}

void Worker::run(const std::atomic<bool> &stop)
{
    bool stamped = false;
    for (const RxQueue &q : queues_)
        stamped |= q.timestamps;
    clock_.init(stamped);

    while (!stop.load(std::memory_order_relaxed)) {
        poll(false);
        expire(clock_.now());
    }
    // Packets the spreading lcore already handed over were received: take
    // every one before the flows are flushed. Reading `done` before draining
    // makes the last drain see everything the producer enqueued.
    bool producers_done;
    do {
        producers_done = true;
        for (const RxQueue &q : queues_)
            if (q.ring != nullptr)
                producers_done &= q.ring_done->load(std::memory_order_acquire);
        while (poll(true) != 0) {
        }
    } while (!producers_done);
    flush();
    finished_.store(true, std::memory_order_release);
    // The control thread may still ask about sources whose attempts it is
    // taking in (watch): answer until it is done.
    while (control_alive_ != nullptr && control_alive_->load(std::memory_order_acquire)) {
        serve_watches(clock_.now());
        rte_pause();
    }
}

uint32_t Worker::poll(bool rings_only)
{
    rte_mbuf *burst[kMaxBurst];
    const uint16_t burst_size = static_cast<uint16_t>(std::min(settings_.burst_size, kMaxBurst));
    uint32_t taken = 0;

    clock_.start_burst();
    for (const RxQueue &q : queues_) {
        if (rings_only && q.ring == nullptr)
            continue;
        const uint16_t n = q.ring != nullptr ? static_cast<uint16_t>(rte_ring_sc_dequeue_burst(
                                                   q.ring, reinterpret_cast<void **>(burst), burst_size, nullptr))
                                             : rte_eth_rx_burst(q.port_id, q.queue_id, burst, burst_size);
        if (n == 0)
            continue;
        const uint64_t start = rte_rdtsc();
        receive_burst(burst, n, q);
        rte_pktmbuf_free_bulk(burst, n);
        counters_.busy_cycles.add(rte_rdtsc() - start);
        taken += n;
    }
    return taken;
}

void Worker::receive_burst(rte_mbuf *const *pkts, uint16_t n, const RxQueue &q)
{
    for (uint16_t i = 0; i < n;)
        i += receive_bulk(pkts + i, static_cast<uint16_t>(std::min<uint32_t>(n - i, FlowTable::kBulkMax)), q);
}

uint16_t Worker::receive_bulk(rte_mbuf *const *pkts, uint16_t n, const RxQueue &q)
{
    for (uint16_t i = 0; i < n; ++i)
        rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));

    // Decode every frame first, in order (the clock advances as it would
    // frame by frame), and key the TCP ones.
    uint32_t hashes[FlowTable::kBulkMax];
    uint32_t tcp = 0;
    uint16_t taken = 0;
    // A burst often holds several packets of one flow (a handshake, a
    // stream): only the first is looked up, the others take the flow it
    // went to. By hash: 1 + index of the latest TCP packet, 0: none.
    constexpr uint32_t kSeenSlots = 128;
    uint8_t seen[kSeenSlots] = {};
    // Per-packet counters of the common case are summed here and added
    // once per bulk: a counter update is a store the compiler cannot merge.
    uint64_t rx_bytes = 0;
    uint32_t decoded_ok = 0;
    while (taken < n) {
        const rte_mbuf *m = pkts[taken];
        // frame_copy_ holds one scattered frame: the bulk ends with it.
        const bool scattered = m->nb_segs != 1;
        if (scattered && taken != 0)
            break;
        Staged &s = staged_[taken++];
        // A spread packet's port is the one the PMD wrote into the mbuf.
        s.port_id = q.ring != nullptr ? m->port : q.port_id;
        s.tcp = false;
        rx_bytes += m->pkt_len;
        if (frame_of(m, s.frame, s.len)) {
            s.time_ns = clock_.packet_time(m);
            clock_.advance(s.time_ns);
            s.result = decode_packet(s.frame, s.len, s.pkt, settings_.decode);
            if (s.result == DecodeResult::ok && s.pkt.tunnel_layers == 0)
                ++decoded_ok;
            else
                count_decoded(s.result, s.pkt);
            s.tcp = tcp_fields_usable(s.result, s.pkt);
            if (s.tcp) {
                make_flow_ref(s.pkt, s.ref);
                uint8_t &latest = seen[s.ref.hash & (kSeenSlots - 1)];
                const Staged *prev = latest != 0 ? &staged_[latest - 1] : nullptr;
                if (prev != nullptr && prev->ref.hash == s.ref.hash && same_flow_key(prev->ref.key, s.ref.key)) {
                    s.same_flow_as = latest;
                } else {
                    s.same_flow_as = 0;
                    s.lookup = static_cast<uint8_t>(tcp);
                    hashes[tcp++] = s.ref.hash;
                }
                latest = static_cast<uint8_t>(taken);
            }
        }
        if (scattered)
            break;
    }
    counters_.rx_packets.add(taken);
    counters_.rx_bytes.add(rx_bytes);
    counters_.decode[static_cast<int>(DecodeResult::ok)].add(decoded_ok);

    Flow *found[FlowTable::kBulkMax];
    flows_->lookup_bulk(hashes, tcp, found);

    // Then handle them in arrival order. An earlier frame of this bulk may
    // have added or evicted a flow: current() checks the answer.
    uint32_t tcp_packets = 0;
    for (uint16_t i = 0; i < taken; ++i) {
        Staged &s = staged_[i];
        if (s.tcp) {
            ++tcp_packets;
            Flow *answer = s.same_flow_as != 0 ? staged_[s.same_flow_as - 1].flow : found[s.lookup];
            s.flow = handle_tcp(s.pkt, s.frame, s.time_ns, s.port_id, s.ref,
                                flows_->current(s.ref.key, s.ref.hash, answer));
        } else if (s.frame != nullptr) {
            handle_decoded(s.result, s.pkt, s.frame, s.len, s.time_ns, s.port_id);
        }
    }
    counters_.tcp_packets.add(tcp_packets);
    return taken;
}

bool Worker::frame_of(const rte_mbuf *m, const uint8_t *&frame, uint32_t &len)
{
    frame = rte_pktmbuf_mtod(m, const uint8_t *);
    len = m->data_len;
    // Half a frame is never parsed: a frame spread over mbufs is copied
    // whole when scatter is on, else dropped and counted.
    if (m->nb_segs != 1) {
        if (frame_copy_.empty() || m->pkt_len > frame_copy_.size()) {
            counters_.rx_multi_segment.add();
            frame = nullptr;
            return false;
        }
        frame = static_cast<const uint8_t *>(rte_pktmbuf_read(m, 0, m->pkt_len, frame_copy_.data()));
        len = m->pkt_len;
        counters_.rx_scattered.add();
    }
    return true;
}

void Worker::make_flow_ref(const DecodedPacket &pkt, FlowRef &ref)
{
    ref.hash = make_flow_key(pkt, ref.key, ref.sender_is_lo);
}

void Worker::handle_frame(const uint8_t *frame, uint32_t len, uint64_t time_ns, uint16_t port_id)
{
    DecodedPacket pkt;
    const DecodeResult r = decode_counted(frame, len, pkt);
    handle_decoded(r, pkt, frame, len, time_ns, port_id);
}

DecodeResult Worker::decode_counted(const uint8_t *frame, uint32_t len, DecodedPacket &pkt)
{
    const DecodeResult r = decode_packet(frame, len, pkt, settings_.decode);
    count_decoded(r, pkt);
    return r;
}

void Worker::count_decoded(DecodeResult r, const DecodedPacket &pkt)
{
    counters_.decode[static_cast<int>(r)].add();
    if (pkt.tcp_header_only != 0)
        counters_.tcp_header_only.add();
    for (unsigned i = 0; i < pkt.tunnel_layers; ++i)
        counters_.layer[static_cast<int>(pkt.layers[i])].add();
}

void Worker::handle_decoded(DecodeResult r, const DecodedPacket &pkt, const uint8_t *frame, uint32_t len,
                            uint64_t time_ns, uint16_t port_id)
{
    if (r == DecodeResult::ipv4_fragment || r == DecodeResult::ipv6_fragment) {
        // A reassembled datagram is decoded like any frame, once: if it is
        // a fragment again it is counted and dropped, never reassembled.
        if (defrag_ == nullptr)
            return;
        if (in_reassembled_) {
            counters_.defrag.refragmented.add();
            return;
        }
        const ReassembledFrame whole = defrag_->add(frame, len, pkt, time_ns);
        if (whole.data != nullptr) {
            in_reassembled_ = true;
            handle_frame(whole.data, whole.len, time_ns, port_id);
            in_reassembled_ = false;
        }
        return;
    }
    if (tcp_fields_usable(r, pkt)) {
        counters_.tcp_packets.add();
        FlowRef ref;
        make_flow_ref(pkt, ref);
        handle_tcp(pkt, frame, time_ns, port_id, ref, flows_->lookup(ref.key, ref.hash));
        return;
    }
    if (r == DecodeResult::ok)
        counters_.udp_packets.add();
}

Flow *Worker::handle_tcp(const DecodedPacket &pkt, const uint8_t *frame, uint64_t time_ns, uint16_t port_id,
                         const FlowRef &ref, Flow *flow)
{
    const FlowKey &key = ref.key;
    const bool sender_is_lo = ref.sender_is_lo;
    if (flow == nullptr) {
        flow = flows_->insert(key, ref.hash, time_ns, [&](Flow &victim, const FlowKey &victim_key) {
            counters_.flows_evicted.add();
            end_flow(victim, victim_key, EndReason::evicted, victim.last_seen_ns);
        });
        if (flow == nullptr) {
            counters_.flow_table_full.add();
            return nullptr;
        }
        counters_.flows_created.add();
        flow->port_id = port_id;
    }

    // Not before: an eviction above ends another flow, not this packet's.
    const HandlingPacket handling(packet_, pkt);
    const TcpState before = flow->tcp.state;
    TcpStep step = tcp_track(flow->tcp, pkt, sender_is_lo);
    if (step.event == TcpEvent::reused) {
        // The old connection ends where it last saw a packet; this SYN opens
        // the next one in the same slot.
        counters_.flows_reused.add();
        end_flow(*flow, key, EndReason::reused, flow->last_seen_ns);
        std::memset(flow->bytes, 0, sizeof(flow->bytes));
        std::memset(flow->packets, 0, sizeof(flow->packets));
        flow->tcp = TcpConnection{};
        flow->end_reported = 0;
        flow->inspect_flags = 0;
        flow->first_seen_ns = time_ns;
        flow->port_id = port_id;
        step = tcp_track(flow->tcp, pkt, sender_is_lo);
    }

    const int side = sender_is_lo ? 0 : 1;
    flow->packets[side] += 1;
    flow->bytes[side] += pkt.frame_len;  // what tshark's conversations count
    flows_->touch(*flow, time_ns);

    if (flow->tcp.state == TcpState::syn_sent && (before != TcpState::syn_sent || step.event == TcpEvent::reused))
        on_attempt_opened(*flow, key, pkt, time_ns);

    if (step.event == TcpEvent::attempt_failed && step.outcome == HandshakeOutcome::midstream) {
        const MidstreamOrientation how = tcp_orient_midstream(flow->tcp, key.port_lo, key.port_hi,
                                                              settings_.is_telnet_port(key.port_lo),
                                                              settings_.is_telnet_port(key.port_hi));
        counters_.midstream[static_cast<int>(how)].add();
    }
    // Only a flow's first packets are looked at: a server shows itself at
    // once, and a long mid-stream transfer pays nothing for it.
    if (flow->tcp.state == TcpState::midstream && !flow->tcp.reoriented && pkt.payload_len != 0 &&
        sender_is_lo == (flow->tcp.client_is_lo != 0) && flow->packets[side] <= kReorientWithinPackets &&
        looks_like_telnet_server(frame + pkt.payload_offset, pkt.payload_len) && tcp_reorient_midstream(flow->tcp)) {
        counters_.midstream_reoriented.add();
        if (inspector_ != nullptr)
            inspector_->on_reoriented(*flow);
    }

    if (inspector_ != nullptr && pkt.payload_len != 0) {
        const uint16_t server_port = server_port_of(*flow, key);
        auto sink = findings_to([&](const Finding &f) { emit_finding(*flow, key, time_ns, f); });
        inspector_->on_segment(*flow, pkt, frame + pkt.payload_offset, sender_is_lo,
                               settings_.is_telnet_port(server_port), sink);
    }

    switch (step.event) {
    case TcpEvent::accepted:
        counters_.handshake[static_cast<int>(HandshakeOutcome::accepted)].add();
        on_accepted(*flow, key, time_ns);
        break;
    case TcpEvent::attempt_failed:
        counters_.handshake[static_cast<int>(step.outcome)].add();
        if (step.outcome != HandshakeOutcome::midstream)
            report_attempt(*flow, key, AttemptPhase::failed, step.outcome, time_ns);
        break;
    case TcpEvent::closed:
        // Inspection ends with the connection; the end record waits until
        // the flow leaves the table (end_flow), so that the last ACK and any
        // reset after the close are counted in it too.
        counters_.flows_closed.add();
        end_inspection(*flow, key, time_ns);
        break;
    case TcpEvent::none:
    case TcpEvent::reused:
        break;
    }
    return flow;
}

void Worker::on_accepted(const Flow &flow, const FlowKey &key, uint64_t time_ns)
{
    EventRecord rec;
    fill_record(rec, EventType::connection_start, flow, key, time_ns);
    emit(rec);
    counters_.events_connection_start.add();

    if (settings_.is_telnet_port(rec.server_port)) {
        rec.type = EventType::alert;
        rec.rule = RuleId::accepted_telnet_port;
        emit(rec);
        counters_.alerts.add();
    }
}

void Worker::on_attempt_opened(const Flow &flow, const FlowKey &key, const DecodedPacket &syn, uint64_t time_ns)
{
    report_attempt(flow, key, AttemptPhase::opened, HandshakeOutcome::accepted, time_ns);
    if (is_mirai_syn(syn)) {
        EventRecord rec;
        fill_record(rec, EventType::alert, flow, key, time_ns);
        rec.rule = RuleId::mirai_scan_syn;
        emit(rec);
        counters_.alerts.add();
    }
}

void Worker::report_attempt(const Flow &flow, const FlowKey &key, AttemptPhase phase, HandshakeOutcome outcome,
                            uint64_t time_ns)
{
    // Only Telnet attempts feed the scan detection: most SYNs of a busy
    // link are not worth counting.
    if (!settings_.is_telnet_port(server_port_of(flow, key)))
        return;
    const bool client_lo = flow.tcp.client_is_lo != 0;
    ScanSourceKey source{};
    std::memcpy(source.addr, client_lo ? key.addr_lo : key.addr_hi, sizeof source.addr);
    source.ip_version = key.ip_version;
    auto sink = handovers_to([&](const ScanHandover &h) { hand_over_attempt(&flow, &key, source, h); });
    if (phase == AttemptPhase::opened)
        scan_->opened(source, client_lo ? key.addr_hi : key.addr_lo, client_lo ? key.port_lo : key.port_hi,
                      server_port_of(flow, key), time_ns, sink);
    else
        scan_->failed(source, outcome, time_ns, sink);
}

void Worker::hand_over_attempt(const Flow *flow, const FlowKey *key, const ScanSourceKey &source,
                               const ScanHandover &h)
{
    // Live, a record that finds the ring full is dropped (emit_scan()): know
    // it before filling 192 bytes.
    if (!waits_for_ring() && rte_ring_full(scan_ring_)) {
        counters_.scan_record_drops.add();
        return;
    }
    EventRecord rec;
    if (h.current && flow != nullptr)
        fill_record(rec, EventType::attempt, *flow, *key, h.time_ns);
    else
        fill_held_attempt(rec, source, h, id_);
    record_handover(rec, h);
    emit_scan(rec);
}

bool Worker::watch(const ScanWatch &request)
{
    return rte_ring_sp_enqueue_elem(watch_ring_, const_cast<ScanWatch *>(&request), sizeof request) == 0;
}

void Worker::serve_watches(uint64_t now_ns)
{
    // A watch's answer is never dropped: one is taken only while the scan
    // ring has room for everything it can hand over.
    ScanWatch request;
    for (unsigned i = 0; i < kWatchesPerLoop; ++i) {
        if (rte_ring_free_count(scan_ring_) < ScanCounter::kMaxHandovers ||
            rte_ring_sc_dequeue_elem(watch_ring_, &request, sizeof request) != 0)
            return;
        const ScanSourceKey &source = request.source;
        auto sink = handovers_to([&](const ScanHandover &h) { hand_over_attempt(nullptr, nullptr, source, h); });
        scan_->watch(source, std::max(now_ns, request.time_ns), sink);
    }
}

void Worker::end_inspection(Flow &flow, const FlowKey &key, uint64_t time_ns)
{
    if (inspector_ == nullptr)
        return;
    auto sink = findings_to([&](const Finding &f) { emit_finding(flow, key, time_ns, f); });
    inspector_->on_flow_end(flow, sink);
}

void Worker::end_flow(Flow &flow, const FlowKey &key, EndReason reason, uint64_t time_ns)
{
    end_inspection(flow, key, time_ns);
    if (!tcp_was_accepted(flow.tcp)) {
        // Failures that were final when they happened are counted already.
        const TcpState s = flow.tcp.state;
        if (s == TcpState::syn_sent || s == TcpState::syn_received) {
            const HandshakeOutcome outcome = tcp_unfinished_outcome(flow.tcp);
            counters_.handshake[static_cast<int>(outcome)].add();
            report_attempt(flow, key, AttemptPhase::failed, outcome, time_ns);
        }
        return;
    }
    if (flow.end_reported)
        return;
    flow.end_reported = 1;
    if (flow.tcp.state == TcpState::closed)  // however long it stayed after the close
        reason = (flow.tcp.history & (history::client_rst | history::server_rst)) ? EndReason::reset
                                                                                  : EndReason::closed;
    EventRecord rec;
    fill_record(rec, EventType::connection_end, flow, key, time_ns);
    rec.end_reason = reason;
    emit(rec);
    counters_.events_connection_end.add();
}

void Worker::expire(uint64_t now_ns)
{
    // Runs once per poll loop: the worker's RCU quiescent point.
    if (inspector_ != nullptr)
        inspector_->quiescent();
    serve_watches(now_ns);
    const uint32_t n = flows_->expire(now_ns, settings_.expiry_batch, [&](Flow &flow, const FlowKey &key) {
        end_flow(flow, key, EndReason::timeout, flow.last_seen_ns);
    });
    counters_.flows_expired.add(n);
    if (defrag_ != nullptr)
        defrag_->expire(now_ns, settings_.expiry_batch);
}

void Worker::flush()
{
    flushing_ = true;
    flows_->flush([&](Flow &flow, const FlowKey &key) {
        counters_.flows_flushed.add();
        end_flow(flow, key, EndReason::shutdown, flow.last_seen_ns);
    });
    flushing_ = false;
    if (defrag_ != nullptr)
        defrag_->flush();
    if (inspector_ != nullptr)
        inspector_->offline();  // polling is over: reloads no longer wait for this worker
}

void Worker::emit(const EventRecord &rec)
{
    if (!enqueue(events_, rec))
        counters_.document_drops.add();
}

void Worker::emit_scan(const EventRecord &rec)
{
    if (enqueue(scan_ring_, rec))
        counters_.events_attempt.add();
    else
        counters_.scan_record_drops.add();
}

bool Worker::enqueue(rte_ring *ring, const EventRecord &rec)
{
    // The ring API takes a non-const pointer but only copies from it.
    while (rte_ring_sp_enqueue_elem(ring, const_cast<EventRecord *>(&rec), sizeof(rec)) != 0) {
        if (!waits_for_ring() || control_alive_ == nullptr || !control_alive_->load(std::memory_order_relaxed))
            return false;
        rte_pause();
    }
    return true;
}

void Worker::fill_record(EventRecord &rec, EventType type, const Flow &flow, const FlowKey &key,
                         uint64_t time_ns) const
{
    std::memset(&rec, 0, sizeof(rec));
    const bool client_lo = flow.tcp.client_is_lo != 0;
    const int c = client_lo ? 0 : 1;
    rec.type = type;
    rec.time_ns = time_ns;
    rec.start_ns = flow.first_seen_ns;
    rec.client_bytes = flow.bytes[c];
    rec.server_bytes = flow.bytes[1 - c];
    rec.client_packets = flow.packets[c];
    rec.server_packets = flow.packets[1 - c];
    std::memcpy(rec.client_addr, client_lo ? key.addr_lo : key.addr_hi, sizeof(rec.client_addr));
    std::memcpy(rec.server_addr, client_lo ? key.addr_hi : key.addr_lo, sizeof(rec.server_addr));
    rec.client_port = client_lo ? key.port_lo : key.port_hi;
    rec.server_port = server_port_of(flow, key);
    std::memcpy(rec.vlan, key.vlan, sizeof(rec.vlan));
    rec.vlan_count = static_cast<uint8_t>((key.vlan[0] != 0) + (key.vlan[1] != 0));
    rec.tunnel_id = key.tunnel_id;
    rec.tunnel_tenant = key.tunnel_type;
    rec.tunnel_type = key.tunnel_type;
    if (packet_ != nullptr && packet_->tunnel_layers != 0) {
        const TunnelContext &t = packet_->tunnel;
        rec.tunnel_type = t.type;
        rec.outer_ip_version = t.outer_ip_version;
        rec.erspan_session = t.erspan_session;
        rec.outer_vlan = t.outer_vlan;
        std::memcpy(rec.outer_src, t.outer_src, sizeof rec.outer_src);
        std::memcpy(rec.outer_dst, t.outer_dst, sizeof rec.outer_dst);
    }
    rec.port_id = flow.port_id;
    rec.worker_id = id_;
    rec.history = flow.tcp.history;
    rec.ip_version = key.ip_version;
    rec.l4_proto = key.l4_proto;
    rec.tcp_state = static_cast<uint8_t>(flow.tcp.state);
    rec.telnet = (flow.inspect_flags & inspect_flag::telnet) != 0;
}

void Worker::emit_finding(const Flow &flow, const FlowKey &key, uint64_t time_ns, const Finding &f)
{
    EventRecord rec;
    fill_record(rec, EventType::alert, flow, key, time_ns);
    rec.rule = f.rule;
    rec.signature_id = f.signature_id;
    rec.stream_offset = f.stream_offset;
    rec.direction = f.direction;
    rec.login_outcome = static_cast<uint8_t>(f.outcome);
    rec.user_name_len = static_cast<uint8_t>(std::min<size_t>(f.user_name_len, sizeof rec.user_name));
    if (rec.user_name_len != 0)
        std::memcpy(rec.user_name, f.user_name, rec.user_name_len);
    emit(rec);
    counters_.alerts.add();
}

}  // namespace flowsentry
