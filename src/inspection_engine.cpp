// Inspection engine: generations, reload, RCU (see inspection_engine.hpp).
#include "flowsentry/inspection_engine.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

#include <pthread.h>
#include <sys/resource.h>

#include <hs/hs.h>
#include <rte_rcu_qsbr.h>

namespace flowsentry {

namespace {

constexpr int kCompileNice = 10;

std::atomic<bool> g_reload_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

}  // namespace

void request_signature_reload() { g_reload_requested.store(true, std::memory_order_relaxed); }

bool take_signature_reload_request() { return g_reload_requested.exchange(false, std::memory_order_relaxed); }

InspectionGeneration::~InspectionGeneration()
{
    for (PerWorker &w : workers) {
        for (hs_stream *s : w.streams)
            if (s != nullptr)
                hs_close_stream(s, nullptr, nullptr, nullptr);
        hs_free_scratch(w.scratch);
    }
}

InspectionEngine::InspectionEngine(const Config &config, uint32_t workers)
    : config_(config.inspection), workers_(workers)
{
    if (workers == 0)
        throw SignatureError("inspection: no workers");
    current_ = build();
    current_->number = next_number_++;
    published_.store(current_.get(), std::memory_order_release);

    // Plain aligned memory: the QSBR variable needs no DPDK heap, so the
    // engine is built (and a bad pack refused) before the EAL starts.
    const size_t size = RTE_ALIGN_CEIL(rte_rcu_qsbr_get_memsize(workers), RTE_CACHE_LINE_SIZE);
    qsbr_ = static_cast<rte_rcu_qsbr *>(std::aligned_alloc(RTE_CACHE_LINE_SIZE, size));
    if (qsbr_ == nullptr || rte_rcu_qsbr_init(qsbr_, workers) != 0)
        throw SignatureError("inspection: cannot set up RCU for " + std::to_string(workers) + " workers");
}

InspectionEngine::~InspectionEngine()
{
    // A compile still running is waited for (its result is not used), so
    // nothing outlives the engine. Workers are gone by now: nothing can
    // still read a retired generation.
    if (compiler_.joinable())
        compiler_.join();
    retired_.clear();
    std::free(qsbr_);
}

std::unique_ptr<InspectionGeneration> InspectionEngine::build() const
{
    auto gen = std::make_unique<InspectionGeneration>();
    gen->signatures = std::make_shared<const CompiledSignatures>(load_signature_packs(config_.signature_packs),
                                                                 config_.signature_cache);
    const hs_database_t *dbs[2] = {gen->signatures->database(SignatureStream::data),
                                   gen->signatures->database(SignatureStream::raw)};

    hs_scratch_t *prototype = nullptr;
    for (const hs_database_t *db : dbs) {
        if (db == nullptr)
            continue;
        size_t bytes = 0;
        if (hs_stream_size(db, &bytes) != HS_SUCCESS)
            throw SignatureError("inspection: Hyperscan cannot size a stream");
        gen->stream_bytes += 2 * bytes;  // one per direction
        if (hs_alloc_scratch(db, &prototype) != HS_SUCCESS) {
            hs_free_scratch(prototype);
            throw SignatureError("inspection: Hyperscan cannot allocate scratch");
        }
    }

    gen->workers.resize(workers_);
    const uint32_t flows = config_.flows_per_worker;
    for (InspectionGeneration::PerWorker &w : gen->workers) {
        w.streams.assign(static_cast<size_t>(flows) * kStreamsPerFlow, nullptr);
        if (prototype != nullptr && hs_clone_scratch(prototype, &w.scratch) != HS_SUCCESS) {
            hs_free_scratch(prototype);
            throw std::bad_alloc();
        }
        for (uint32_t slot = 0; slot < flows; ++slot) {
            for (unsigned dir = 0; dir < 2; ++dir) {
                for (int kind = 0; kind < 2; ++kind) {
                    if (dbs[kind] == nullptr)
                        continue;
                    hs_stream_t *&s = w.streams[stream_index(slot, dir, static_cast<SignatureStream>(kind))];
                    if (hs_open_stream(dbs[kind], 0, &s) != HS_SUCCESS) {
                        hs_free_scratch(prototype);
                        throw SignatureError("inspection: cannot preallocate " + std::to_string(flows) +
                                             " stream sets: out of memory");
                    }
                }
            }
        }
    }
    hs_free_scratch(prototype);
    return gen;
}

bool InspectionEngine::start_reload()
{
    if (compiler_.joinable())
        return false;
    compiled_done_.store(false, std::memory_order_relaxed);
    compiler_ = std::thread([this] {
        // Below the control thread it shares a core with, which must keep
        // draining (Linux: the nice value of this thread alone).
        pthread_setname_np(pthread_self(), "fs-compile");
        setpriority(PRIO_PROCESS, 0, kCompileNice);
        try {
            compiled_ = build();
        } catch (const std::exception &e) {
            compile_error_ = e.what();
        }
        compiled_done_.store(true, std::memory_order_release);
    });
    return true;
}

InspectionEngine::ReloadOutcome InspectionEngine::finish_reload(std::string &error)
{
    if (!compiler_.joinable() || !compiled_done_.load(std::memory_order_acquire))
        return ReloadOutcome::none;
    compiler_.join();
    if (!compiled_) {
        error = std::move(compile_error_);
        compile_error_.clear();
        return ReloadOutcome::failed;
    }
    publish(std::move(compiled_));
    return ReloadOutcome::swapped;
}

void InspectionEngine::publish(std::unique_ptr<InspectionGeneration> next)
{
    next->number = next_number_++;
    published_.store(next.get(), std::memory_order_release);
    // Readers that saw the old pointer are done with it once each has
    // reported a quiescent state after this token.
    retired_.push_back({std::move(current_), rte_rcu_qsbr_start(qsbr_)});
    current_ = std::move(next);
}

void InspectionEngine::collect()
{
    retired_.erase(std::remove_if(retired_.begin(), retired_.end(),
                                  [&](const Retired &r) { return rte_rcu_qsbr_check(qsbr_, r.token, false) == 1; }),
                   retired_.end());
}

}  // namespace flowsentry
