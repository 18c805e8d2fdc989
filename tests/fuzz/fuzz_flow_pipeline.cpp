// libFuzzer target: a sequence of frames through the worker's pipeline
// (decode → IP reassembly → flow table → handshake tracker → event ring), on
// a table of 8 flows, 4 datagrams and a ring of 64 records, so eviction,
// reuse, expiry and ring drops are all reached. Each input gets a fresh worker: a crash replays alone.
//
// Input: records of [time step: 1 byte, ms][length: 2 bytes, big endian][frame].
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <unistd.h>

#include "../unit/worker_harness.hpp"
#include "flowsentry/worker.hpp"

using namespace flowsentry;

namespace {

Config small_config()
{
    Config c;
    c.flow_table.capacity = 8;
    c.flow_table.attempt_timeout_s = 1;
    c.flow_table.established_timeout_s = 3;
    c.flow_table.closing_timeout_s = 2;
    c.flow_table.expiry_batch = 4;
    c.alert_ring_size = 64;
    c.telnet_ports = {23, 2323};
    c.defrag.max_datagrams = 4;
    c.defrag.max_datagram_size = 4096;
    c.defrag.max_bytes = 16384;
    c.defrag.timeout_s = 2;
    return c;
}

const Config kConfig = small_config();
const WorkerSettings kSettings = make_worker_settings(kConfig);

uint64_t counted_sum(const WorkerCounters &c)
{
    uint64_t n = 0;
    for (const Counter &d : c.decode)
        n += d.get();
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***)
{
    std::string prefix = "--file-prefix=fs-fuzz-" + std::to_string(getpid());
    std::vector<std::string> args = {"flowsentry-fuzz", "--no-huge", "--no-pci", "--no-shconf", "-m", "64",
                                     "-l",              "0",         prefix,     "--log-level=error"};
    std::vector<char *> argv;
    for (auto &a : args)
        argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0)
        std::abort();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    Worker w(0, kConfig, kSettings, 0);
    uint64_t now = 1000000000ull, frames = 0;
    size_t at = 0;
    while (at + 3 <= size) {
        now += data[at] * 1000000ull;
        const size_t len = static_cast<size_t>(data[at + 1]) << 8 | data[at + 2];
        at += 3;
        const size_t n = len < size - at ? len : size - at;
        // A copy of exactly the frame, so a read past it is caught.
        const std::vector<uint8_t> frame(data + at, data + at + n);
        w.handle_frame(frame.data(), static_cast<uint32_t>(n), now, 0);
        w.expire(now);
        ++frames;
        at += n;
    }
    w.flush();
    flowsentry_test::drain(w);
    // Every frame has one decode result, and so has every datagram defrag
    // put together; every flow left the table a counted way.
    const WorkerCounters &c = w.counters();
    if (counted_sum(c) != frames + c.defrag.reassembled.get() || w.flows().size() != 0 ||
        c.flows_created.get() != c.flows_evicted.get() + c.flows_expired.get() + c.flows_flushed.get())
        std::abort();
    return 0;
}
