// Software spreading (see rx_spreader.hpp).
#include "flowsentry/rx_spreader.hpp"

#include <stdexcept>
#include <string>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_ring.h>

#include "flowsentry/decode.hpp"
#include "flowsentry/flow_key.hpp"

namespace flowsentry {

namespace {

constexpr uint32_t kMaxBurst = 512;

}  // namespace

int spread_worker_of(const uint8_t *frame, uint32_t len, uint16_t workers, const DecodeOptions &options)
{
    DecodedPacket pkt;
    const DecodeResult r = decode_packet(frame, len, pkt, options);
    // A TCP packet malformed past its header still belongs to its flow's
    // worker, which counts it (decode.hpp).
    if (r != DecodeResult::ok && r != DecodeResult::ipv4_fragment && r != DecodeResult::ipv6_fragment &&
        !tcp_fields_usable(r, pkt))
        return -1;
    return static_cast<int>((uint64_t(flow_spread_hash(pkt)) * workers) >> 32);
}

RxSpreader::RxSpreader(uint16_t workers, uint32_t ring_size, uint32_t burst_size, int socket_id,
                       const DecodeOptions &decode)
    : stages_(new Stage[workers]),
      queued_(new Counter[workers]),
      ring_full_(new Counter[workers]),
      decode_(decode),
      burst_size_(static_cast<uint16_t>(std::min(burst_size, kMaxBurst)))
{
    for (uint16_t w = 0; w < workers; ++w) {
        const std::string name = "spread_w" + std::to_string(w);
        rte_ring *r = rte_ring_create(name.c_str(), ring_size, socket_id, RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (r == nullptr) {
            for (rte_ring *made : rings_)
                rte_ring_free(made);
            throw std::runtime_error("spreading: cannot create ring " + name + " of " + std::to_string(ring_size) +
                                     " mbufs: " + rte_strerror(rte_errno));
        }
        rings_.push_back(r);
    }
}

RxSpreader::~RxSpreader()
{
    for (rte_ring *r : rings_) {
        // Packets nobody took (start-up failed before the workers ran).
        void *m;
        while (rte_ring_sc_dequeue(r, &m) == 0)
            rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
        rte_ring_free(r);
    }
}

uint64_t RxSpreader::ring_full_total() const
{
    uint64_t total = 0;
    for (uint16_t w = 0; w < workers(); ++w)
        total += ring_full(w);
    return total;
}

int RxSpreader::launch(void *arg)
{
    auto *l = static_cast<Launch *>(arg);
    l->spreader->run(*l->stop);
    return 0;
}

void RxSpreader::run(const std::atomic<bool> &stop)
{
    clock_.init(true);
    // Capture files are read as fast as the workers go, and never dropped;
    // several stamped ones are merged back into capture-time order so that
    // a tap pair (one direction per file) replays as it was seen.
    lossless_ = !sources_.empty();
    bool stamped = true;
    for (const SpreadSource &s : sources_) {
        lossless_ &= s.from_file;
        stamped &= s.timestamps;
    }
    merge_ = lossless_ && stamped && sources_.size() > 1;
    if (merge_)
        pending_.reset(new Pending[sources_.size()]);

    while (!stop.load(std::memory_order_relaxed)) {
        const uint64_t start = rte_rdtsc();
        if ((merge_ ? merge_round(true) : read_round()) != 0)
            counters_.busy_cycles.add(rte_rdtsc() - start);
    }
    if (merge_)
        merge_round(false);  // what is still held in the merge buffers
    done_.store(true, std::memory_order_release);
}

uint32_t RxSpreader::read_round()
{
    rte_mbuf *burst[kMaxBurst];
    uint32_t total = 0;
    for (const SpreadSource &s : sources_) {
        const uint16_t n = rte_eth_rx_burst(s.port_id, s.queue_id, burst, burst_size_);
        if (n == 0)
            continue;
        counters_.rx_packets.add(n);
        spread(burst, n);
        total += n;
    }
    return total;
}

uint32_t RxSpreader::merge_round(bool refill)
{
    if (refill) {
        for (size_t s = 0; s < sources_.size(); ++s) {
            Pending &p = pending_[s];
            if (p.pos < p.n)
                continue;
            p.pos = 0;
            p.n = rte_eth_rx_burst(sources_[s].port_id, sources_[s].queue_id, p.pkts, burst_size_);
            counters_.rx_packets.add(p.n);
        }
    }
    uint32_t moved = 0;
    for (;;) {
        Pending *next = nullptr;
        uint64_t next_time = 0;
        for (size_t s = 0; s < sources_.size(); ++s) {
            Pending &p = pending_[s];
            if (p.pos == p.n)
                continue;
            const uint64_t t = clock_.packet_time(p.pkts[p.pos]);
            if (next == nullptr || t < next_time) {
                next = &p;
                next_time = t;
            }
        }
        if (next == nullptr)
            break;
        stage(next->pkts[next->pos++]);
        ++moved;
        // An emptied source is read again before the next choice: its next
        // packet may be the earliest.
        if (refill && next->pos == next->n)
            break;
    }
    send_all();
    return moved;
}

void RxSpreader::spread(rte_mbuf *const *pkts, uint16_t n)
{
    for (uint16_t i = 0; i < n; ++i)
        stage(pkts[i]);
    send_all();
}

void RxSpreader::stage(rte_mbuf *m)
{
    // The headers are in the first segment; the worker handles the rest.
    int w = spread_worker_of(rte_pktmbuf_mtod(m, const uint8_t *), m->data_len, workers(), decode_);
    if (w < 0) {
        counters_.unparsed.add();
        w = 0;
    }
    Stage &st = stages_[w];
    st.pkts[st.n++] = m;
    if (st.n == Stage::kCapacity)
        send(static_cast<uint16_t>(w));
}

void RxSpreader::send(uint16_t worker)
{
    Stage &st = stages_[worker];
    void *const *objs = reinterpret_cast<void *const *>(st.pkts);
    unsigned sent = rte_ring_sp_enqueue_burst(rings_[worker], objs, st.n, nullptr);
    if (lossless_) {
        while (sent < st.n) {
            rte_pause();
            sent += rte_ring_sp_enqueue_burst(rings_[worker], objs + sent, st.n - sent, nullptr);
        }
    } else if (sent < st.n) {
        rte_pktmbuf_free_bulk(st.pkts + sent, st.n - sent);
        ring_full_[worker].add(st.n - sent);
    }
    queued_[worker].add(sent);
    st.n = 0;
}

void RxSpreader::send_all()
{
    for (uint16_t w = 0; w < workers(); ++w)
        if (stages_[w].n != 0)
            send(w);
}

}  // namespace flowsentry
