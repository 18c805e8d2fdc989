// Capture files, for --pcap and for net_pcap vdevs given to the EAL:
// checked before DPDK starts, so a bad file gets one clear message instead
// of a replay that silently reads nothing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace flowsentry {

struct CaptureInfo {
    uint64_t frames;  // records libpcap can read
    bool truncated;   // the file ended inside a record
};

// Opens `path` with libpcap, requires Ethernet link type and counts frames.
// Throws std::runtime_error with the cause (missing file, not a capture,
// a link type flowsentry can't decode, with the conversion hint, or
// libpcap's own error for a record it cannot read, such as a pcapng
// interface of another link type); a file cut short is `truncated`.
CaptureInfo inspect_capture(const std::string &path);

// inspect_capture's frames, with a warning on stderr for a file cut short.
uint64_t capture_frames(const std::string &path);

// A net_pcap vdev of the EAL arguments (--vdev net_pcap0,rx_pcap=F,...).
struct PcapVdev {
    std::string name;                   // net_pcap0
    std::vector<std::string> rx_files;  // rx_pcap=, one RX queue each
    bool infinite_rx = false;           // the capture looped from memory, without capture time
};

std::vector<PcapVdev> pcap_vdevs(const std::vector<std::string> &eal_args);

// What --pcap checks, for every net_pcap vdev of the EAL arguments: each
// rx_pcap file (inspect_capture; not a pipe, which only the PMD may read),
// and that an infinite_rx capture fits in `mbufs`, the mbuf pool it is held
// in. Throws std::runtime_error.
void check_pcap_vdevs(const std::vector<std::string> &eal_args, uint32_t mbufs);

}  // namespace flowsentry
