// Receive: port and queue set-up (see rx_port.hpp).
#include "flowsentry/rx_port.hpp"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_kvargs.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

namespace flowsentry {

namespace {

// What symmetric RSS hashes on: addresses and ports, both directions alike.
constexpr uint64_t kWantedRssHf = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP | RTE_ETH_RSS_UDP;
// Largest MTU asked for with scatter (jumbo frames); less if the port says so.
constexpr uint16_t kScatterMtu = 9000;

[[noreturn]] void fail(const std::string &port, const std::string &what, int err)
{
    throw std::runtime_error("port " + port + ": " + what + ": " + rte_strerror(err < 0 ? -err : err));
}

void warn(const std::string &port, const std::string &what)
{
    std::fprintf(stderr, "flowsentry: warning: port %s: %s\n", port.c_str(), what.c_str());
}

std::string port_name(uint16_t port_id)
{
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    if (rte_eth_dev_get_name_by_port(port_id, name) != 0)
        return "port" + std::to_string(port_id);
    return name;
}

int port_socket(uint16_t port_id)
{
    const int s = rte_eth_dev_socket_id(port_id);
    return s < 0 ? 0 : s;  // vdevs and single-node machines report "any"
}

// Which ports to use: the ones the config names, or every probed port.
std::vector<RxPort> select_ports(const Config &config)
{
    std::vector<RxPort> ports;
    auto add = [&](uint16_t id, const std::string &device, const std::string &name, uint16_t descriptors) {
        ports.push_back({id, device, name, "", port_socket(id), RxMode::queues, 0, descriptors, false, false});
    };
    if (config.ports.empty()) {
        uint16_t id;
        RTE_ETH_FOREACH_DEV(id)
        {
            const std::string dev = port_name(id);
            add(id, dev, dev, 1024);
        }
    } else {
        for (const PortConfig &pc : config.ports) {
            uint16_t id;
            if (rte_eth_dev_get_port_by_name(pc.device.c_str(), &id) != 0) {
                std::string probed;
                uint16_t p;
                RTE_ETH_FOREACH_DEV(p) { probed += (probed.empty() ? "" : ", ") + port_name(p); }
                throw std::runtime_error("port " + pc.device + " (config " + config.source +
                                         ") was not probed by DPDK; probed ports: " +
                                         (probed.empty() ? "none" : probed));
            }
            add(id, pc.device, pc.name.empty() ? pc.device : pc.name, pc.rx_descriptors);
        }
    }
    if (ports.empty())
        throw std::runtime_error("no ports: give --pcap FILE, or EAL options that probe a device "
                                 "(-a PCI_ADDRESS, --vdev ...) before '--'");
    return ports;
}

rte_eth_dev_info device_info(const RxPort &port)
{
    rte_eth_dev_info info{};
    const int rc = rte_eth_dev_info_get(port.port_id, &info);
    if (rc != 0)
        fail(port.device, "cannot read device info", rc);
    return info;
}

bool is_pcap(const rte_eth_dev_info &info) { return std::strcmp(info.driver_name, "net_pcap") == 0; }

// A pcap port with infinite_rx=1 loops its capture from memory and stamps
// nothing: its packets have no capture time.
bool loops_capture(const rte_eth_dev_info &info)
{
    const rte_devargs *devargs = info.device != nullptr ? rte_dev_devargs(info.device) : nullptr;
    if (devargs == nullptr || devargs->args == nullptr)
        return false;
    std::unique_ptr<rte_kvargs, decltype(&rte_kvargs_free)> kv(rte_kvargs_parse(devargs->args, nullptr),
                                                                &rte_kvargs_free);
    const char *value = kv ? rte_kvargs_get(kv.get(), "infinite_rx") : nullptr;
    return value != nullptr && std::strcmp(value, "0") != 0;
}

// Decides how each port reaches the workers, and how many queues it gets.
void choose_rx_modes(std::vector<RxPort> &ports, const Config &config)
{
    size_t capture_ports = 0;
    for (RxPort &p : ports) {
        const rte_eth_dev_info info = device_info(p);
        p.driver = info.driver_name;
        // The pcap PMD stamps every packet with its capture time (in µs)
        // through the RX timestamp dynfield, without advertising the offload
        // (but not when it loops the capture). A NIC's stamps are its own
        // clock, not the epoch: live ports use the TSC.
        p.from_file = is_pcap(info);
        p.timestamps = p.from_file && !loops_capture(info);
        capture_ports += p.timestamps;
    }
    for (RxPort &p : ports) {
        const rte_eth_dev_info info = device_info(p);
        const bool can_rss = config.workers > 1 && info.max_rx_queues >= config.workers &&
                             (info.flow_type_rss_offloads & kWantedRssHf) != 0;
        // Two capture files are two clocks read as fast as possible: only a
        // merge in capture-time order keeps a handshake's packets in order.
        const bool needs_merge = p.timestamps && capture_ports > 1;
        switch (config.spreading.mode) {
        case SpreadingMode::software:
            p.mode = RxMode::spread;
            break;
        case SpreadingMode::automatic:
            p.mode = (config.workers > 1 && !can_rss) || needs_merge ? RxMode::spread
                     : can_rss                                        ? RxMode::rss
                                                                      : RxMode::queues;
            break;
        case SpreadingMode::off:
            p.mode = can_rss ? RxMode::rss : RxMode::queues;
            if (info.max_rx_queues < config.workers)
                throw std::runtime_error("port " + p.device + " has " + std::to_string(info.max_rx_queues) +
                                         " RX queue(s) but the config asks for " + std::to_string(config.workers) +
                                         " workers with spreading off, and each worker polls its own queue of "
                                         "every port (spreading: mode: auto spreads it in software)");
            if (config.workers > 1 && !can_rss)
                warn(p.device, "no RSS and spreading is off: each of its queues must carry whole flows "
                               "(both directions), or connections are missed");
            break;
        }
        if (p.mode == RxMode::spread) {
            // A pcap port has one queue per rx_pcap file: read them all.
            p.rx_queues = is_pcap(info) ? std::max<uint16_t>(info.max_rx_queues, 1) : 1;
        } else {
            p.rx_queues = static_cast<uint16_t>(config.workers);
            if (is_pcap(info) && info.max_rx_queues != config.workers)
                throw std::runtime_error("port " + p.device + " has " + std::to_string(info.max_rx_queues) +
                                         " rx_pcap file(s) but " + std::to_string(config.workers) +
                                         " workers poll one queue each; give one rx_pcap per worker");
        }
    }
}

void configure_port(RxPort &port, const Config &config, rte_mempool *pool)
{
    const rte_eth_dev_info info = device_info(port);

    rte_eth_conf conf{};
    uint8_t rss_key[64];
    if (port.mode == RxMode::rss) {
        const size_t key_len = info.hash_key_size ? info.hash_key_size : 40;
        if (key_len > sizeof(rss_key))
            throw std::runtime_error("port " + port.device + ": RSS key of " + std::to_string(key_len) +
                                     " bytes is larger than supported");
        symmetric_rss_key(rss_key, key_len);
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = rss_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = static_cast<uint8_t>(key_len);
        conf.rx_adv_conf.rss_conf.rss_hf = kWantedRssHf & info.flow_type_rss_offloads;
        if (conf.rx_adv_conf.rss_conf.rss_hf != kWantedRssHf) {
            char msg[160];
            std::snprintf(msg, sizeof msg, "RSS hashes 0x%" PRIx64 " of the asked 0x%" PRIx64
                                           " (the rest of the traffic lands on queue 0)",
                          conf.rx_adv_conf.rss_conf.rss_hf, kWantedRssHf);
            warn(port.device, msg);
        }
    }
    if (config.scatter) {
        if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) {
            conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
            conf.rxmode.mtu = std::min<uint16_t>(kScatterMtu, info.max_mtu);
        } else {
            warn(port.device, "cannot scatter frames over mbufs; frames larger than one mbuf are dropped "
                              "by the port (ierrors) or counted as rx_multi_segment");
        }
    }

    int rc = rte_eth_dev_configure(port.port_id, port.rx_queues, 0, &conf);
    if (rc != 0)
        fail(port.device, "cannot configure " + std::to_string(port.rx_queues) + " RX queues", rc);

    uint16_t nb_rxd = port.rx_descriptors, nb_txd = 0;
    rc = rte_eth_dev_adjust_nb_rx_tx_desc(port.port_id, &nb_rxd, &nb_txd);
    if (rc != 0)
        fail(port.device, "cannot adjust descriptor counts", rc);
    port.rx_descriptors = nb_rxd;

    rte_eth_rxconf rxconf = info.default_rxconf;
    rxconf.offloads = conf.rxmode.offloads;
    for (uint16_t q = 0; q < port.rx_queues; ++q) {
        rc = rte_eth_rx_queue_setup(port.port_id, q, nb_rxd, port.socket, &rxconf, pool);
        if (rc != 0)
            fail(port.device, "cannot set up RX queue " + std::to_string(q), rc);
    }

    rc = rte_eth_dev_start(port.port_id);
    if (rc != 0)
        fail(port.device, "cannot start", rc);
    rc = rte_eth_promiscuous_enable(port.port_id);
    if (rc != 0 && rc != -ENOTSUP)
        fail(port.device, "cannot enable promiscuous mode", rc);
}

// Some NICs receive nothing for seconds after start; say so rather than
// report "running" while the first packets are lost.
void wait_for_links(const std::vector<RxPort> &ports, uint32_t timeout_s)
{
    if (timeout_s == 0)
        return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    for (const RxPort &p : ports) {
        rte_eth_link link{};
        while (rte_eth_link_get_nowait(p.port_id, &link) == 0 && link.link_status != RTE_ETH_LINK_UP &&
               std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (link.link_status != RTE_ETH_LINK_UP)
            warn(p.device, "link still down after " + std::to_string(timeout_s) +
                               " s (link_up_timeout); reading it anyway");
    }
}

}  // namespace

const char *rx_mode_name(RxMode mode)
{
    switch (mode) {
    case RxMode::rss:
        return "rss";
    case RxMode::queues:
        return "queues";
    case RxMode::spread:
        return "spread";
    }
    return "?";
}

// The Toeplitz key whose repeated 16-bit pattern makes the hash symmetric
// in source and destination (Woo & Park, "Scalable TCP Session Monitoring
// with Symmetric Receive-side Scaling").
void symmetric_rss_key(uint8_t *key, size_t len)
{
    for (size_t i = 0; i < len; ++i)
        key[i] = (i % 2 == 0) ? 0x6D : 0x5A;
}

std::vector<RxPort> setup_rx_ports(const Config &config, std::vector<rte_mempool *> &pools)
{
    std::vector<RxPort> ports = select_ports(config);
    choose_rx_modes(ports, config);

    // One mbuf pool per NUMA socket, shared by that socket's ports. Spread
    // packets also wait in the spreading rings, one per worker.
    bool spreading = false;
    std::map<int, uint32_t> ports_per_socket;
    for (const RxPort &p : ports) {
        ++ports_per_socket[p.socket];
        spreading |= p.mode == RxMode::spread;
    }
    const uint64_t in_flight = spreading ? uint64_t(config.workers) * config.spreading.ring_size : 0;
    std::map<int, rte_mempool *> pool_of;
    for (const auto &[socket, count] : ports_per_socket) {
        const std::string name = "mbufs_s" + std::to_string(socket);
        const uint32_t n = mempool_size(config, count, in_flight);
        rte_mempool *mp = rte_pktmbuf_pool_create(name.c_str(), n, config.mempool_cache, 0,
                                                  RTE_MBUF_DEFAULT_BUF_SIZE, socket);
        if (mp == nullptr)
            throw std::runtime_error("cannot create mbuf pool of " + std::to_string(n) + " mbufs on socket " +
                                     std::to_string(socket) + ": " + rte_strerror(rte_errno) +
                                     " (more memory: -m, or hugepages; or a smaller mempool.mbufs)");
        pools.push_back(mp);
        pool_of[socket] = mp;
    }

    for (RxPort &p : ports)
        configure_port(p, config, pool_of[p.socket]);
    wait_for_links(ports, config.link_up_timeout_s);
    return ports;
}

PortStats read_port_stats(uint16_t port_id)
{
    rte_eth_stats s{};
    rte_eth_stats_get(port_id, &s);
    return {s.ipackets, s.ibytes, s.imissed, s.ierrors, s.rx_nombuf};
}

void stop_rx_ports(const std::vector<RxPort> &ports)
{
    for (const RxPort &p : ports) {
        rte_eth_dev_stop(p.port_id);
        rte_eth_dev_close(p.port_id);
    }
}

}  // namespace flowsentry
