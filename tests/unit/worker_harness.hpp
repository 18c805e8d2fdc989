// What tests that drive a Worker without a port share: the frames of a
// capture, read with libpcap, and the records a worker put on its ring.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include <pcap/pcap.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "flowsentry/worker.hpp"

namespace flowsentry_test {

// A file of tests/data, under $FLOWSENTRY_SOURCE_ROOT (the test environment
// sets it) or the working directory.
inline std::string data_path(const std::string &name)
{
    const char *root = std::getenv("FLOWSENTRY_SOURCE_ROOT");
    return std::string(root ? root : ".") + "/tests/data/" + name;
}

struct Frame {
    uint64_t time_ns;  // capture time
    std::vector<uint8_t> bytes;
};

inline std::vector<Frame> read_frames(const std::string &path)
{
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(path.c_str(), err);
    if (p == nullptr)
        throw std::runtime_error(err);
    std::vector<Frame> frames;
    pcap_pkthdr *h;
    const u_char *data;
    while (pcap_next_ex(p, &h, &data) == 1)
        frames.push_back({static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull + h->ts.tv_usec * 1000ull,
                          std::vector<uint8_t>(data, data + h->caplen)});
    pcap_close(p);
    return frames;
}

// Takes every record off one of the worker's rings, as the control thread does.
inline std::vector<flowsentry::EventRecord> drain_ring(rte_ring *ring)
{
    std::vector<flowsentry::EventRecord> out;
    flowsentry::EventRecord rec;
    while (rte_ring_sc_dequeue_elem(ring, &rec, sizeof(rec)) == 0)
        out.push_back(rec);
    return out;
}

// Documents: connection start and end, alerts.
inline std::vector<flowsentry::EventRecord> drain(flowsentry::Worker &w) { return drain_ring(w.events()); }

// Attempt records the scan counter handed over.
inline std::vector<flowsentry::EventRecord> drain_scan(flowsentry::Worker &w) { return drain_ring(w.scan_records()); }

}  // namespace flowsentry_test
