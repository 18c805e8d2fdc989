// The EAL of a benchmark: no hugepages, no PCI, its own file prefix, for
// the DPDK memory (rte_hash, rte_ring, rte_lpm) the measured code uses.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <rte_eal.h>
#include <unistd.h>

namespace flowsentry_bench {

// False (with a message) when the EAL does not start.
inline bool start_eal(const std::string &name, const char *memory_mb)
{
    std::string prefix = "--file-prefix=fs-" + name + "-" + std::to_string(getpid());
    std::vector<std::string> args = {name,     "--no-huge", "--no-pci", "--no-shconf", "-m", memory_mb, "-l", "0",
                                     prefix, "--log-level=error"};
    std::vector<char *> eal_argv;
    for (auto &a : args)
        eal_argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "%s: cannot start the EAL\n", name.c_str());
        return false;
    }
    return true;
}

}  // namespace flowsentry_bench
