// Capture file inspection (see capture_file.hpp).
#include "flowsentry/capture_file.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <pcap/pcap.h>

namespace flowsentry {

namespace {

bool starts_with(const std::string &s, const std::string &prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

}  // namespace

CaptureInfo inspect_capture(const std::string &path)
{
    char err[PCAP_ERRBUF_SIZE] = {};
    std::unique_ptr<pcap_t, decltype(&pcap_close)> pcap(pcap_open_offline(path.c_str(), err), &pcap_close);
    if (!pcap)
        throw std::runtime_error(path + ": cannot read capture: " + err);

    const int link = pcap_datalink(pcap.get());
    if (link != DLT_EN10MB) {
        const char *name = pcap_datalink_val_to_name(link);
        throw std::runtime_error(path + ": link type " + (name ? name : std::to_string(link)) +
                                 " is not Ethernet; flowsentry decodes Ethernet frames "
                                 "(convert with: tcprewrite --dlt=enet --infile=IN --outfile=OUT)");
    }

    CaptureInfo info{0, false};
    pcap_pkthdr *hdr;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(pcap.get(), &hdr, &data)) == 1)
        ++info.frames;
    if (rc == PCAP_ERROR) {
        // A file cut short ends at end of file; anything else (a pcapng
        // interface of another link type, a corrupt block) is libpcap's
        // error, and the PMD would stop there too.
        if (!std::feof(pcap_file(pcap.get())))
            throw std::runtime_error(path + ": cannot read capture after " + std::to_string(info.frames) +
                                     " frame(s): " + pcap_geterr(pcap.get()));
        info.truncated = true;
    }
    return info;
}

uint64_t capture_frames(const std::string &path)
{
    const CaptureInfo capture = inspect_capture(path);
    if (capture.truncated)
        std::fprintf(stderr, "flowsentry: warning: %s ends inside a record; reading its %llu whole frames\n",
                     path.c_str(), static_cast<unsigned long long>(capture.frames));
    return capture.frames;
}

std::vector<PcapVdev> pcap_vdevs(const std::vector<std::string> &eal_args)
{
    std::vector<PcapVdev> vdevs;
    for (size_t i = 0; i < eal_args.size(); ++i) {
        std::string spec;
        if (eal_args[i] == "--vdev" && i + 1 < eal_args.size())
            spec = eal_args[++i];
        else if (starts_with(eal_args[i], "--vdev="))
            spec = eal_args[i].substr(7);
        if (!starts_with(spec, "net_pcap") && !starts_with(spec, "eth_pcap"))
            continue;
        PcapVdev v;
        size_t pos = spec.find(',');
        v.name = spec.substr(0, pos);
        while (pos != std::string::npos) {
            const size_t next = spec.find(',', pos + 1);
            const std::string kv = spec.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
            if (starts_with(kv, "rx_pcap="))
                v.rx_files.push_back(kv.substr(8));
            else if (starts_with(kv, "infinite_rx="))
                v.infinite_rx = kv.substr(12) != "0";
            pos = next;
        }
        vdevs.push_back(v);
    }
    return vdevs;
}

void check_pcap_vdevs(const std::vector<std::string> &eal_args, uint32_t mbufs)
{
    for (const PcapVdev &v : pcap_vdevs(eal_args)) {
        uint64_t frames = 0;
        for (const std::string &file : v.rx_files) {
            // A pipe (rx_pcap=/dev/stdin, a FIFO) can be read once only:
            // it is the PMD's, unchecked.
            std::error_code ec;
            if (std::filesystem::exists(file, ec) && !std::filesystem::is_regular_file(file, ec))
                continue;
            frames += capture_frames(file);
        }
        // infinite_rx holds the whole capture in mbufs of the port's pool,
        // for as long as the port runs.
        if (v.infinite_rx && frames >= mbufs)
            throw std::runtime_error(v.name + ": infinite_rx=1 keeps all " + std::to_string(frames) +
                                     " frames of its capture in mbufs, and the mbuf pool has " + std::to_string(mbufs) +
                                     ": set mempool.mbufs above the capture's frames plus the RX descriptors "
                                     "(docs/configuration.md#automatic-mempool-size)");
    }
}

}  // namespace flowsentry
