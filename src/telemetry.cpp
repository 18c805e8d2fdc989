// Telemetry (see telemetry.hpp).
#include "flowsentry/telemetry.hpp"

#include <mutex>
#include <stdexcept>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_telemetry.h>

namespace flowsentry {

namespace {

constexpr auto kPublishInterval = std::chrono::milliseconds(250);
// Non-zero xstats listed per port; a dict holds at most RTE_TEL_MAX_DICT_ENTRIES.
constexpr size_t kMaxXstats = 200;

// What the telemetry thread reads; written by the control thread.
std::mutex g_mutex;
Telemetry::Snapshot g_snapshot;
bool g_answering = false;
std::atomic<void (*)()> g_on_reload{nullptr};

using Object = Telemetry::Object;

void fill(const Object &o, rte_tel_data *d)
{
    rte_tel_data_start_dict(d);
    for (const auto &[k, v] : o.strings)
        rte_tel_data_add_dict_string(d, k.c_str(), v.c_str());
    for (const auto &[k, v] : o.numbers)
        rte_tel_data_add_dict_u64(d, k.c_str(), v);
    for (const auto &[k, v] : o.objects) {
        rte_tel_data *child = rte_tel_data_alloc();
        if (child == nullptr)
            continue;
        fill(v, child);
        rte_tel_data_add_dict_container(d, k.c_str(), child, 0);
    }
}

int answer(const Object Telemetry::Snapshot::*part, rte_tel_data *d)
{
    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_answering) {
        rte_tel_data_start_dict(d);
        rte_tel_data_add_dict_string(d, "state", "stopped");
        return 0;
    }
    fill(g_snapshot.*part, d);
    return 0;
}

int on_stats(const char *, const char *, rte_tel_data *d) { return answer(&Telemetry::Snapshot::stats, d); }
int on_workers(const char *, const char *, rte_tel_data *d) { return answer(&Telemetry::Snapshot::workers, d); }
int on_ports(const char *, const char *, rte_tel_data *d) { return answer(&Telemetry::Snapshot::ports, d); }
int on_flows(const char *, const char *, rte_tel_data *d) { return answer(&Telemetry::Snapshot::flows, d); }

int on_reload_command(const char *, const char *, rte_tel_data *d)
{
    void (*reload)() = g_on_reload.load();
    rte_tel_data_start_dict(d);
    if (reload == nullptr) {
        rte_tel_data_add_dict_string(d, "reload", "not running");
        return 0;
    }
    reload();
    rte_tel_data_add_dict_string(d, "reload", "requested");
    return 0;
}

uint64_t per(uint64_t amount, uint64_t count) { return count == 0 ? 0 : amount / count; }

uint64_t sum(const std::vector<Worker *> &workers, const Counter WorkerCounters::*field)
{
    uint64_t total = 0;
    for (const Worker *w : workers)
        total += (w->counters().*field).get();
    return total;
}

void add_xstats(uint16_t port_id, Object &port)
{
    const int n = rte_eth_xstats_get(port_id, nullptr, 0);
    if (n <= 0)
        return;
    std::vector<rte_eth_xstat> values(static_cast<size_t>(n));
    std::vector<rte_eth_xstat_name> names(static_cast<size_t>(n));
    if (rte_eth_xstats_get(port_id, values.data(), n) != n ||
        rte_eth_xstats_get_names(port_id, names.data(), n) != n)
        return;
    Object xstats;
    for (const rte_eth_xstat &x : values)
        if (x.value != 0 && x.id < names.size() && xstats.numbers.size() < kMaxXstats)
            xstats.numbers.emplace_back(names[x.id].name, x.value);
    port.objects.emplace_back("xstats", std::move(xstats));
}

}  // namespace

Telemetry::Telemetry(std::vector<Worker *> workers, std::vector<unsigned> worker_lcores, std::vector<RxPort> ports,
                     const RxSpreader *spreader)
    : workers_(std::move(workers)),
      lcores_(std::move(worker_lcores)),
      ports_(std::move(ports)),
      spreader_(spreader),
      started_(std::chrono::steady_clock::now()),
      last_rx_(workers_.size(), 0)
{
}

Telemetry::~Telemetry()
{
    g_on_reload.store(nullptr);
    std::lock_guard<std::mutex> lock(g_mutex);
    g_answering = false;
    g_snapshot = Snapshot{};
}

void Telemetry::start(void (*on_reload)())
{
    // Registered once per process; a command cannot be unregistered.
    static bool registered = false;
    if (!registered) {
        const struct {
            const char *cmd;
            telemetry_cb fn;
            const char *help;
        } commands[] = {
            {"/flowsentry/stats", on_stats, "Totals: packets, rates, accepted connections, alerts, drops. No parameters"},
            {"/flowsentry/workers", on_workers, "Per worker: lcore, rate, cycles per packet, flow table load, every counter. No parameters"},
            {"/flowsentry/ports", on_ports, "Per port: mode, queues, link, stats, non-zero xstats. No parameters"},
            {"/flowsentry/flows", on_flows, "Flow tables: flows held, load, created/expired/evicted, handshake outcomes. No parameters"},
            {"/flowsentry/reload", on_reload_command, "Asks the control thread to reload (as SIGHUP does). No parameters"},
        };
        for (const auto &c : commands) {
            const int rc = rte_telemetry_register_cmd(c.cmd, c.fn, c.help);
            if (rc != 0)
                throw std::runtime_error(std::string("telemetry: cannot register ") + c.cmd + ": error " +
                                         std::to_string(rc));
        }
        registered = true;
    }
    g_on_reload.store(on_reload);
    last_publish_ = std::chrono::steady_clock::now() - kPublishInterval;
    publish();
}

void Telemetry::publish()
{
    const auto now = std::chrono::steady_clock::now();
    if (now - last_publish_ < kPublishInterval)
        return;
    Snapshot s;
    take_snapshot(s);
    last_publish_ = now;
    std::lock_guard<std::mutex> lock(g_mutex);
    g_snapshot = std::move(s);
    g_answering = true;
}

void Telemetry::take_snapshot(Snapshot &s)
{
    const auto now = std::chrono::steady_clock::now();
    const double interval_s = std::chrono::duration<double>(now - last_publish_).count();
    auto rate = [&](uint64_t now_count, uint64_t &last) {
        const uint64_t r = interval_s > 0 ? static_cast<uint64_t>(double(now_count - last) / interval_s) : 0;
        last = now_count;
        return r;
    };
    const uint64_t elapsed_tsc =
        static_cast<uint64_t>(double(rte_get_tsc_hz()) * std::chrono::duration<double>(now - started_).count());

    // Workers, and the flow table view of them.
    uint64_t flows = 0, capacity = 0, pps = 0;
    Object flows_per_worker;
    for (size_t i = 0; i < workers_.size(); ++i) {
        const Worker *w = workers_[i];
        const WorkerCounters &c = w->counters();
        const uint64_t rx = c.rx_packets.get();
        const uint64_t held = w->flows().size(), cap = w->flows().capacity();
        flows += held;
        capacity += cap;
        const uint64_t rx_pps = rate(rx, last_rx_[i]);
        pps += rx_pps;
        Object o;
        o.numbers = {{"lcore", lcores_[i]},
                     {"rx_pps", rx_pps},
                     {"cycles_per_packet", per(c.busy_cycles.get(), rx)},
                     {"busy_pct", per(c.busy_cycles.get() * 100, elapsed_tsc)},
                     {"flows_in_table", held},
                     {"flow_table_capacity", cap},
                     {"flow_table_load_pct", per(held * 100, cap)}};
        if (spreader_ != nullptr) {
            o.numbers.emplace_back("spread_queued", spreader_->queued(w->id()));
            o.numbers.emplace_back("spread_ring_drops", spreader_->ring_full(w->id()));
        }
        // Telemetry names allow no '.': each counter group is an object.
        for_each_counter(c, [&](const char *group, const char *name, uint64_t v) {
            if (o.objects.empty() || o.objects.back().first != group)
                o.objects.emplace_back(group, Object{});
            o.objects.back().second.numbers.emplace_back(name, v);
        });
        s.workers.objects.emplace_back(std::to_string(w->id()), std::move(o));

        Object f;
        f.numbers = {{"flows_in_table", held}, {"capacity", cap}, {"load_pct", per(held * 100, cap)}};
        flows_per_worker.objects.emplace_back(std::to_string(w->id()), std::move(f));
    }

    // Ports: stats and xstats, read here on the control thread only.
    uint64_t imissed = 0, ierrors = 0, nombuf = 0;
    for (const RxPort &p : ports_) {
        const PortStats st = read_port_stats(p.port_id);
        imissed += st.imissed;
        ierrors += st.ierrors;
        nombuf += st.rx_nombuf;
        rte_eth_link link{};
        rte_eth_link_get_nowait(p.port_id, &link);
        Object o;
        o.strings = {{"name", p.name}, {"device", p.device}, {"driver", p.driver}, {"mode", rx_mode_name(p.mode)},
                     {"link", link.link_status == RTE_ETH_LINK_UP ? "up" : "down"}};
        o.numbers = {{"port_id", p.port_id},      {"rx_queues", p.rx_queues}, {"rx_descriptors", p.rx_descriptors},
                     {"socket", uint64_t(p.socket)}, {"link_speed_mbps", link.link_speed},
                     {"ipackets", st.ipackets},   {"ibytes", st.ibytes},      {"imissed", st.imissed},
                     {"ierrors", st.ierrors},     {"rx_nombuf", st.rx_nombuf}};
        add_xstats(p.port_id, o);
        s.ports.objects.emplace_back(std::to_string(p.port_id), std::move(o));
    }

    // Totals.
    uint64_t accepted = 0;
    for (const Worker *w : workers_)
        accepted += w->counters().handshake[static_cast<int>(HandshakeOutcome::accepted)].get();
    const uint64_t rx = sum(workers_, &WorkerCounters::rx_packets);
    s.stats.numbers = {
        {"uptime_s", static_cast<uint64_t>(std::chrono::duration<double>(now - started_).count())},
        {"workers", workers_.size()},
        {"ports", ports_.size()},
        {"rx_packets", rx},
        {"rx_bytes", sum(workers_, &WorkerCounters::rx_bytes)},
        {"rx_pps", pps},
        {"rx_multi_segment", sum(workers_, &WorkerCounters::rx_multi_segment)},
        {"tcp_packets", sum(workers_, &WorkerCounters::tcp_packets)},
        {"flows_in_table", flows},
        {"accepted", accepted},
        {"alerts", sum(workers_, &WorkerCounters::alerts)},
        {"events", sum(workers_, &WorkerCounters::events_connection_start) +
                       sum(workers_, &WorkerCounters::events_connection_end) +
                       sum(workers_, &WorkerCounters::alerts)},
        {"document_drops", sum(workers_, &WorkerCounters::document_drops)},
        {"scan_record_drops", sum(workers_, &WorkerCounters::scan_record_drops)},
        {"imissed", imissed},
        {"ierrors", ierrors},
        {"rx_nombuf", nombuf},
    };
    if (spreader_ != nullptr) {
        const RxSpreader::Counters &c = spreader_->counters();
        const uint64_t drops = spreader_->ring_full_total();
        Object sp;
        sp.numbers = {{"rx_packets", c.rx_packets.get()},
                      {"rx_pps", rate(c.rx_packets.get(), last_spread_rx_)},
                      {"unparsed", c.unparsed.get()},
                      {"ring_drops", drops},
                      {"cycles_per_packet", per(c.busy_cycles.get(), c.rx_packets.get())}};
        s.stats.numbers.emplace_back("spread_ring_drops", drops);
        s.stats.objects.emplace_back("spreader", std::move(sp));
    }

    s.flows.numbers = {{"flows_in_table", flows}, {"capacity", capacity}, {"load_pct", per(flows * 100, capacity)}};
    const std::pair<const char *, const Counter WorkerCounters::*> flow_counters[] = {
        {"created", &WorkerCounters::flows_created}, {"expired", &WorkerCounters::flows_expired},
        {"evicted", &WorkerCounters::flows_evicted}, {"closed", &WorkerCounters::flows_closed},
        {"reused", &WorkerCounters::flows_reused},   {"flushed", &WorkerCounters::flows_flushed},
        {"table_full", &WorkerCounters::flow_table_full}};
    for (const auto &[name, field] : flow_counters)
        s.flows.numbers.emplace_back(name, sum(workers_, field));
    Object handshakes;
    for (int o = 0; o < static_cast<int>(HandshakeOutcome::count_); ++o) {
        uint64_t total = 0;
        for (const Worker *w : workers_)
            total += w->counters().handshake[o].get();
        handshakes.numbers.emplace_back(handshake_outcome_name(static_cast<HandshakeOutcome>(o)), total);
    }
    s.flows.objects.emplace_back("handshake", std::move(handshakes));
    s.flows.objects.emplace_back("workers", std::move(flows_per_worker));
}

}  // namespace flowsentry
