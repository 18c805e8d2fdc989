// Receive: DPDK ports, their RX queues and mempools, set up from the config.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "flowsentry/config.hpp"

struct rte_mempool;

namespace flowsentry {

// How a port's packets reach the workers.
enum class RxMode : uint8_t {
    rss,     // symmetric RSS: worker i polls queue i
    queues,  // no hashing by us or the NIC: worker i polls queue i as delivered
    spread,  // one lcore reads every queue and spreads by the canonical flow hash
};

const char *rx_mode_name(RxMode mode);

struct RxPort {
    uint16_t port_id;
    std::string device;   // rte_eth_dev_get_name_by_port
    std::string name;     // observer.ingress.interface.name
    std::string driver;
    int socket;           // NUMA socket, 0 when the port says "any"
    RxMode mode;
    uint16_t rx_queues;   // one per worker; spread: every queue the port has
    uint16_t rx_descriptors;
    bool from_file;       // reads a capture file (pcap PMD): never dropped, read at the workers' pace
    bool timestamps;      // packets carry capture time (pcap PMD, unless it loops the file)
};

struct PortStats {
    uint64_t ipackets, ibytes, imissed, ierrors, rx_nombuf;
};

// Configures and starts every port named in the config (every probed port if
// none is named): RX queues, symmetric RSS, scatter, promiscuous mode; one
// mbuf pool per NUMA socket; then waits up to link_up_timeout for the links.
// Throws std::runtime_error with the port and the DPDK cause on any failure.
std::vector<RxPort> setup_rx_ports(const Config &config, std::vector<rte_mempool *> &pools);

// The Toeplitz key whose repeated 16-bit pattern makes the RSS hash the same
// for both directions of a flow.
void symmetric_rss_key(uint8_t *key, size_t len);

// Control thread only: basic stats of a port.
PortStats read_port_stats(uint16_t port_id);

void stop_rx_ports(const std::vector<RxPort> &ports);

}  // namespace flowsentry
