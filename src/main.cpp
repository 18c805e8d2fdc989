// flowsentry: detects accepted Telnet connections on tapped traffic and
// exports them as ECS NDJSON.
//
// main() validates everything first (arguments, configuration, capture,
// EAL, ports, lcores) and fails with one line naming the cause; then it
// launches one worker per lcore and becomes the control thread.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mempool.h>

#include "flowsentry/capture_file.hpp"
#include "flowsentry/command_line.hpp"
#include "flowsentry/config.hpp"
#include "flowsentry/control.hpp"
#include "flowsentry/ecs_format.hpp"
#include "flowsentry/detections.hpp"
#include "flowsentry/inspection_engine.hpp"
#include "flowsentry/rx_port.hpp"
#include "flowsentry/rx_spreader.hpp"
#include "flowsentry/sinks.hpp"
#include "flowsentry/telemetry.hpp"
#include "flowsentry/worker.hpp"
#include "flowsentry_version.h"

using namespace flowsentry;

namespace {

constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;

std::atomic<bool> g_stop{false};

void on_signal(int signo)
{
    // The first signal asks for a clean stop (flows flushed, sinks written);
    // a second one means the operator will not wait.
    if (g_stop.exchange(true))
        _exit(128 + signo);
}

// SIGHUP: file sinks reopen their paths (logrotate). Whatever else SIGHUP
// reloads belongs here too, so one handler serves all.
void on_hangup(int)
{
    request_sink_reopen();
    request_signature_reload();
}

class Fatal : public std::runtime_error {
public:
    Fatal(int code, const std::string &what) : std::runtime_error(what), code(code) {}
    int code;
};

// SIGINT/SIGTERM during start-up: it ends at the next step, cleanly.
struct StartupStopped {};

void stop_point()
{
    if (g_stop.load())
        throw StartupStopped{};
}

// Once the EAL runs, however run() leaves (done, a start-up error, a stop
// during start-up) the EAL is cleaned up and a replay's runtime directory
// removed: it is ours alone (--file-prefix with our pid) and the EAL leaves
// it behind, so replays don't pile up.
class EalSession {
public:
    explicit EalSession(bool remove_runtime_dir) : remove_runtime_dir_(remove_runtime_dir) {}
    EalSession(const EalSession &) = delete;
    EalSession &operator=(const EalSession &) = delete;
    ~EalSession()
    {
        const std::string runtime_dir = rte_eal_get_runtime_dir();
        rte_eal_cleanup();
        if (remove_runtime_dir_) {
            std::error_code ignored;
            std::filesystem::remove_all(runtime_dir, ignored);
        }
    }

private:
    bool remove_runtime_dir_;
};

bool hugepages_available()
{
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    long value;
    while (meminfo >> key >> value) {
        if (key == "HugePages_Total:")
            return value > 0;
        meminfo.ignore(256, '\n');
    }
    return false;
}

void init_eal(std::vector<std::string> args)
{
    std::vector<char *> argv;
    bool no_huge = false;
    for (std::string &a : args) {
        argv.push_back(a.data());
        no_huge |= a == "--no-huge";
    }
    argv.push_back(nullptr);
    if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0) {
        std::string cause = std::string("cannot initialise DPDK (EAL): ") + rte_strerror(rte_errno);
        if (!no_huge && !hugepages_available())
            cause += "; no hugepages are reserved: reserve some (dpdk-hugepages.py --setup 1G) "
                     "or run with --no-huge";
        throw Fatal(kExitRuntime, cause);
    }
}

// The lcores the workers run on: the configured list, or the EAL's worker
// lcores in order.
std::vector<unsigned> worker_lcores(const Config &config)
{
    std::vector<unsigned> available;
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore) { available.push_back(lcore); }

    if (!config.worker_lcores.empty()) {
        for (uint32_t l : config.worker_lcores)
            if (l >= RTE_MAX_LCORE || !rte_lcore_is_enabled(l) || l == rte_get_main_lcore())
                throw Fatal(kExitUsage, config.source + ": worker_lcores: lcore " + std::to_string(l) +
                                            " is not an enabled worker lcore (give it to the EAL with -l/--lcores)");
        return {config.worker_lcores.begin(), config.worker_lcores.end()};
    }
    if (available.size() < config.workers)
        throw Fatal(kExitUsage, std::to_string(config.workers) + " workers configured but the EAL has " +
                                    std::to_string(available.size()) +
                                    " worker lcore(s): give one lcore per worker plus the main lcore (-l/--lcores)");
    available.resize(config.workers);
    return available;
}

// The lcore of the software spreading path: the configured one, or the
// first EAL worker lcore no worker uses.
unsigned spreader_lcore(const Config &config, const std::vector<unsigned> &workers)
{
    auto is_worker = [&](unsigned l) { return std::find(workers.begin(), workers.end(), l) != workers.end(); };
    if (config.spreading.lcore >= 0) {
        const unsigned l = static_cast<unsigned>(config.spreading.lcore);
        if (!rte_lcore_is_enabled(l) || l == rte_get_main_lcore() || is_worker(l))
            throw Fatal(kExitUsage, config.source + ": spreading.lcore: lcore " + std::to_string(l) +
                                        " is not an enabled lcore free of workers (give it to the EAL with -l/--lcores)");
        return l;
    }
    unsigned lcore;
    RTE_LCORE_FOREACH_WORKER(lcore)
    {
        if (!is_worker(lcore))
            return lcore;
    }
    throw Fatal(kExitUsage, "a port needs the software spreading path (no symmetric RSS over " +
                                std::to_string(config.workers) +
                                " workers, or several capture ports) and it needs one more lcore than the workers: "
                                "give the EAL one more (-l/--lcores), or set spreading.lcore");
}

void warn_remote_port(const std::string &who, unsigned lcore, const RxPort &p)
{
    const int socket = static_cast<int>(rte_lcore_to_socket_id(lcore));
    if (rte_eth_dev_socket_id(p.port_id) >= 0 && rte_eth_dev_socket_id(p.port_id) != socket)
        std::fprintf(stderr, "flowsentry: warning: %s (lcore %u, socket %d) polls port %s on socket %d\n",
                     who.c_str(), lcore, socket, p.name.c_str(), rte_eth_dev_socket_id(p.port_id));
}

std::string hostname_or(const std::string &configured)
{
    if (!configured.empty())
        return configured;
    char name[256] = {};
    if (gethostname(name, sizeof(name) - 1) != 0)
        return "unknown";
    return name;
}

// Without -c: the installed configuration, or the source tree's for the
// binary of a build directory; one line says so when there is none.
Config default_config()
{
    std::error_code ec;
    const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
    const InstallLayout layout{FLOWSENTRY_BINDIR, FLOWSENTRY_SYSCONFDIR, FLOWSENTRY_BUILD_ROOT,
                               FLOWSENTRY_SOURCE_CONFDIR};
    std::string notice;
    Config config = load_default_config(default_config_dir(self, layout), notice);
    if (!notice.empty())
        std::fprintf(stderr, "flowsentry: %s\n", notice.c_str());
    return config;
}

int run(int argc, char **argv)
{
    // A reader that closes our stdout is a failing sink (EPIPE), not a reason to die.
    CommandLine cl;
    try {
        cl = parse_command_line(argc, argv);
    } catch (const UsageError &e) {
        std::fprintf(stderr, "flowsentry: %s\nTry 'flowsentry --help'.\n", e.what());
        return kExitUsage;
    }
    if (cl.help) {
        std::fputs(usage_text(), stdout);
        return 0;
    }
    if (cl.version) {
        std::printf("flowsentry %s\n", FLOWSENTRY_VERSION);
        return 0;
    }

    Config config;
    try {
        config = cl.config_path.empty() ? default_config() : load_config(cl.config_path);
    } catch (const ConfigError &e) {
        throw Fatal(kExitUsage, e.what());
    }
    if (!cl.output.empty())
        config.output = cl.output;
    stop_point();

    ControlOptions control_options;
    control_options.stats_interval_s = config.stats_interval_s;
    control_options.stop_after_s = cl.bench_seconds;
    if (!cl.pcaps.empty()) {
        for (const std::string &pcap : cl.pcaps)
            control_options.expected_frames += capture_frames(pcap);
        if (control_options.expected_frames == 0) {
            std::fprintf(stderr, "flowsentry: %s has no frames; nothing to do\n",
                         cl.pcaps.size() == 1 ? cl.pcaps[0].c_str() : "no capture");
            return 0;
        }
        cl.eal_args = pcap_eal_args(argv[0], cl.pcaps, config);
    } else {
        check_pcap_vdevs(cl.eal_args, config.mempool_mbufs != 0 ? config.mempool_mbufs : mempool_size(config, 1));
    }
    stop_point();

    // Open the outputs before DPDK starts: a bad path is a start-up error.
    SinkSet sinks(effective_sinks(config, cl.output), hostname_or(config.observer_hostname));
    std::ofstream stats_out;
    if (!cl.stats_json.empty()) {
        stats_out.open(cl.stats_json);
        if (!stats_out)
            throw Fatal(kExitRuntime, cl.stats_json + ": cannot open for writing: " + std::strerror(errno));
    }
    stop_point();

    // Signature packs compile before DPDK starts: a bad one is a
    // configuration error, named by file, line and signature id.
    std::unique_ptr<InspectionEngine> inspection;
    if (!config.inspection.signature_packs.empty()) {
        try {
            inspection = std::make_unique<InspectionEngine>(config, config.workers);
        } catch (const SignatureError &e) {
            throw Fatal(kExitUsage, e.what());
        }
    }
    stop_point();

    init_eal(cl.eal_args);
    EalSession eal(!cl.pcaps.empty());
    stop_point();
    const std::vector<unsigned> lcores = worker_lcores(config);

    std::vector<rte_mempool *> pools;
    std::vector<RxPort> ports = setup_rx_ports(config, pools);
    stop_point();

    WorkerSettings settings = make_worker_settings(config);
    settings.wait_for_ring = !cl.pcaps.empty();
    settings.inspection = inspection.get();
    std::vector<std::unique_ptr<Worker>> workers;
    for (uint16_t i = 0; i < lcores.size(); ++i) {
        const int socket = static_cast<int>(rte_lcore_to_socket_id(lcores[i]));
        workers.push_back(std::make_unique<Worker>(i, config, settings, socket));
        for (const RxPort &p : ports) {
            if (p.mode == RxMode::spread)
                continue;
            warn_remote_port("worker " + std::to_string(i), lcores[i], p);
            workers.back()->add_queue({p.port_id, i, p.timestamps});
        }
    }
    // Ports that cannot hash a flow to one queue per worker: one lcore reads
    // them and spreads by the canonical flow hash.
    std::unique_ptr<RxSpreader> spreader;
    unsigned spread_lcore = 0;
    bool spread_stamped = false;
    for (const RxPort &p : ports) {
        if (p.mode != RxMode::spread)
            continue;
        if (!spreader) {
            spread_lcore = spreader_lcore(config, lcores);
            spreader = std::make_unique<RxSpreader>(static_cast<uint16_t>(workers.size()), config.spreading.ring_size,
                                                    config.burst_size, int(rte_lcore_to_socket_id(spread_lcore)),
                                                    config.decode);
        }
        warn_remote_port("the spreading lcore", spread_lcore, p);
        for (uint16_t q = 0; q < p.rx_queues; ++q)
            spreader->add_source({p.port_id, q, p.from_file, p.timestamps});
        spread_stamped |= p.timestamps;
    }
    if (spreader)
        for (auto &w : workers)
            w->add_queue({0, 0, spread_stamped, spreader->ring(w->id()), &spreader->done()});

    EcsContext ctx;
    ctx.observer_hostname = hostname_or(config.observer_hostname);
    ctx.product_version = FLOWSENTRY_VERSION;
    for (const RxPort &p : ports) {
        if (ctx.port_names.size() <= p.port_id)
            ctx.port_names.resize(p.port_id + 1);
        ctx.port_names[p.port_id] = p.name;
    }
    ctx.telnet_ports = config.telnet_ports;
    ctx.community_id_seed = config.community_id_seed;
    Detections detections(config.detections);
    ctx.address_lists = detections.address_lists();
    std::unique_ptr<TelnetControl> telnet_control;
    if (inspection) {
        const InspectionEngine *engine = inspection.get();
        ctx.signature_rule = [engine](uint32_t id) { return engine->signatures().rule_for(id); };
        telnet_control = std::make_unique<TelnetControl>(*inspection, config.inspection.brute_force_failures,
                                                         config.inspection.brute_force_window_s);
        control_options.telnet = telnet_control.get();
    }

    std::vector<Worker *> worker_ptrs;
    for (auto &w : workers)
        worker_ptrs.push_back(w.get());
    Telemetry telemetry(worker_ptrs, lcores, ports, spreader.get());
    if (config.telemetry) {
        // /flowsentry/reload does exactly what SIGHUP does.
        telemetry.start(+[] { on_hangup(SIGHUP); });
        control_options.tick = [&telemetry] { telemetry.publish(); };
    }
    control_options.spreader = spreader.get();
    Control control(worker_ptrs, ports, EcsFormatter(ctx), detections, sinks, control_options);
    stop_point();


    std::atomic<bool> workers_stop{false};
    std::vector<Worker::Launch> launches(workers.size());
    for (size_t i = 0; i < workers.size(); ++i) {
        launches[i] = {workers[i].get(), &workers_stop};
        const int rc = rte_eal_remote_launch(Worker::launch, &launches[i], lcores[i]);
        if (rc != 0)
            throw Fatal(kExitRuntime, "cannot launch worker " + std::to_string(i) + " on lcore " +
                                          std::to_string(lcores[i]) + ": " + rte_strerror(-rc));
    }
    // The spreader stops on the same flag; the workers take what it handed
    // over before they flush.
    RxSpreader::Launch spread_launch{spreader.get(), &workers_stop};
    if (spreader) {
        const int rc = rte_eal_remote_launch(RxSpreader::launch, &spread_launch, spread_lcore);
        if (rc != 0)
            throw Fatal(kExitRuntime, "cannot launch the spreading lcore " + std::to_string(spread_lcore) + ": " +
                                          rte_strerror(-rc));
    }

    control.run(g_stop, workers_stop);
    rte_eal_mp_wait_lcore();

    std::fputs(control.summary_text().c_str(), stderr);
    std::string output_failure = lost_output(sinks.status());
    if (stats_out.is_open()) {
        stats_out << control.summary_json() << std::flush;
        if (!stats_out && output_failure.empty())
            output_failure = cl.stats_json + ": cannot write stats: " + std::strerror(errno);
    }

    stop_rx_ports(ports);
    workers.clear();
    detections.release_tables();
    spreader.reset();
    for (rte_mempool *mp : pools)
        rte_mempool_free(mp);
    // Output was lost: the run failed, whatever else went well (the EAL
    // session still cleans up on the way out).
    if (!output_failure.empty())
        throw Fatal(kExitRuntime, output_failure);
    return 0;
}

}  // namespace

int main(int argc, char **argv)
{
    // First thing, so a stop during start-up is a clean exit too, and a
    // SIGHUP then (logrotate's postrotate, systemctl reload) is a request
    // taken once running, not the end of the process.
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::signal(SIGHUP, on_hangup);
    // A closed stdout pipe is a failed sink (EPIPE), and a file size limit
    // (RLIMIT_FSIZE) a failing one, not reasons to die.
    std::signal(SIGPIPE, SIG_IGN);
    std::signal(SIGXFSZ, SIG_IGN);
    try {
        return run(argc, argv);
    } catch (const StartupStopped &) {
        std::fprintf(stderr, "flowsentry: stopped during start-up\n");
        return 0;
    } catch (const Fatal &e) {
        std::fprintf(stderr, "flowsentry: %s\n", e.what());
        return e.code;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "flowsentry: %s\n", e.what());
        return kExitRuntime;
    }
}
