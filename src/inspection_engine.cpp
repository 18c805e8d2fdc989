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

// What malloc gives, what Hyperscan asks of a stream allocator.
constexpr size_t kStreamAlign = 16;

// Where the next stream this thread opens goes (build() sets it before
// each hs_open_stream), and how many bytes it has there.
struct StreamPlace {
    uint8_t *at;
    size_t room;
};
thread_local StreamPlace t_stream_place{nullptr, 0};

// Hyperscan's stream allocator: the place set for this thread, once; the
// heap when none is set (a stream opened outside build()). A stream larger
// than its place fails to open (HS_NOMEM) rather than overrun it.
void *place_stream(size_t size)
{
    const StreamPlace place = t_stream_place;
    if (place.at == nullptr)
        return std::malloc(size);
    t_stream_place = {nullptr, 0};
    return size <= place.room ? place.at : nullptr;
}

// Only heap streams reach it: placed ones are never closed (their
// generation frees the block).
void free_stream(void *p) { std::free(p); }

}  // namespace

void InspectionGeneration::FreeBlock::operator()(void *p) const { std::free(p); }

void request_signature_reload() { g_reload_requested.store(true, std::memory_order_relaxed); }

bool take_signature_reload_request() { return g_reload_requested.exchange(false, std::memory_order_relaxed); }

InspectionGeneration::~InspectionGeneration()
{
    for (PerWorker &w : workers)
        hs_free_scratch(w.scratch);  // the streams go with their block
}

InspectionEngine::InspectionEngine(const Config &config, uint32_t workers)
    : config_(config.inspection), workers_(workers)
{
    if (workers == 0)
        throw SignatureError("inspection: no workers");
    static const hs_error_t allocator = hs_set_stream_allocator(place_stream, free_stream);
    if (allocator != HS_SUCCESS)
        throw SignatureError("inspection: Hyperscan refused the stream allocator");
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

    // A flow's four streams side by side, [direction][kind], each where
    // Hyperscan's alignment wants it, and the flows one after the other.
    size_t sizes[2] = {0, 0};
    hs_scratch_t *prototype = nullptr;
    for (int kind = 0; kind < 2; ++kind) {
        if (dbs[kind] == nullptr)
            continue;
        if (hs_stream_size(dbs[kind], &sizes[kind]) != HS_SUCCESS) {
            hs_free_scratch(prototype);
            throw SignatureError("inspection: Hyperscan cannot size a stream");
        }
        if (hs_alloc_scratch(dbs[kind], &prototype) != HS_SUCCESS) {
            hs_free_scratch(prototype);
            throw SignatureError("inspection: Hyperscan cannot allocate scratch");
        }
    }
    size_t per_flow = 0;
    for (unsigned dir = 0; dir < 2; ++dir) {
        for (int kind = 0; kind < 2; ++kind) {
            if (dbs[kind] == nullptr)
                continue;
            gen->stream_offset[dir][kind] = static_cast<uint32_t>(per_flow);
            per_flow += RTE_ALIGN_CEIL(sizes[kind], kStreamAlign);
        }
    }
    gen->stream_bytes = per_flow;

    gen->workers.resize(workers_);
    const uint32_t flows = config_.flows_per_worker;
    for (InspectionGeneration::PerWorker &w : gen->workers) {
        if (prototype != nullptr && hs_clone_scratch(prototype, &w.scratch) != HS_SUCCESS) {
            hs_free_scratch(prototype);
            throw std::bad_alloc();
        }
        if (gen->stream_bytes == 0 || flows == 0)
            continue;
        w.streams.reset(static_cast<uint8_t *>(
            std::aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL(flows * gen->stream_bytes, RTE_CACHE_LINE_SIZE))));
        if (!w.streams) {
            hs_free_scratch(prototype);
            throw SignatureError("inspection: cannot preallocate " + std::to_string(flows) +
                                 " stream sets: out of memory");
        }
        for (uint32_t slot = 0; slot < flows; ++slot) {
            for (unsigned dir = 0; dir < 2; ++dir) {
                for (int kind = 0; kind < 2; ++kind) {
                    if (dbs[kind] == nullptr)
                        continue;
                    uint8_t *place = w.streams.get() + slot * gen->stream_bytes + gen->stream_offset[dir][kind];
                    t_stream_place = {place, sizes[kind]};
                    hs_stream_t *s = nullptr;
                    const hs_error_t opened = hs_open_stream(dbs[kind], 0, &s);
                    t_stream_place = {nullptr, 0};
                    if (opened != HS_SUCCESS || s != reinterpret_cast<hs_stream_t *>(place)) {
                        hs_free_scratch(prototype);
                        throw SignatureError("inspection: Hyperscan did not open a stream in the " +
                                             std::to_string(sizes[kind]) + " bytes hs_stream_size gave it");
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
