// Inspection engine: the compiled signatures and the Hyperscan state built
// from them, shared by every worker, and their replacement on reload.
//
// A generation is one compiled database plus, for each worker, a scratch
// and a preallocated pool of streams (four per inspected flow: each
// direction's data and raw stream), so the fast path never allocates. A
// worker's streams are one allocation, a flow's four side by side in it:
// Hyperscan opens each stream where the engine places it (its stream
// allocator, hs_set_stream_allocator, hands out the place set for the
// calling thread), and the generation frees the block whole, never closing
// a stream one by one.
//
// On reload a thread of its own builds the new generation (the compile takes
// a tenth of a second or more, and the control thread must keep draining
// the rings meanwhile); the control thread takes it when it is done,
// publishes it, and frees the old one after an RCU grace period
// (rte_rcu_qsbr): every worker has passed its quiescent point, where it
// moves its flows to the new generation, since the swap.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "flowsentry/config.hpp"
#include "flowsentry/signatures.hpp"

struct hs_scratch;
struct hs_stream;
struct rte_rcu_qsbr;

namespace flowsentry {

struct InspectionGeneration {
    struct FreeBlock {
        void operator()(void *p) const;
    };
    struct PerWorker {
        hs_scratch *scratch = nullptr;
        std::unique_ptr<uint8_t, FreeBlock> streams;  // stream_bytes per inspected flow
    };
    // Where a flow's stream of one direction and kind lies in its piece of
    // the block; kNoStream where that kind has no database.
    static constexpr uint32_t kNoStream = UINT32_MAX;
    uint32_t stream_offset[2][2] = {{kNoStream, kNoStream}, {kNoStream, kNoStream}};  // [direction][kind]

    std::shared_ptr<const CompiledSignatures> signatures;
    std::vector<PerWorker> workers;
    uint64_t number = 0;
    size_t stream_bytes = 0;  // Hyperscan stream state per flow (all four, each 16-byte aligned)

    // The stream of `slot`'s direction and kind on `worker`, or nullptr.
    hs_stream *stream(uint16_t worker, uint32_t slot, unsigned direction, SignatureStream kind) const
    {
        const uint32_t at = stream_offset[direction][static_cast<unsigned>(kind)];
        if (at == kNoStream)
            return nullptr;
        return reinterpret_cast<hs_stream *>(workers[worker].streams.get() + slot * stream_bytes + at);
    }

    InspectionGeneration() = default;
    InspectionGeneration(const InspectionGeneration &) = delete;
    InspectionGeneration &operator=(const InspectionGeneration &) = delete;
    ~InspectionGeneration();
};

class InspectionEngine {
public:
    // Loads and compiles config.inspection.signature_packs and builds the
    // first generation for `workers` workers. Throws SignatureError.
    InspectionEngine(const Config &config, uint32_t workers);
    ~InspectionEngine();
    InspectionEngine(const InspectionEngine &) = delete;
    InspectionEngine &operator=(const InspectionEngine &) = delete;

    // ---- workers ----
    const InspectionGeneration *published() const { return published_.load(std::memory_order_acquire); }
    rte_rcu_qsbr *qsbr() const { return qsbr_; }
    const InspectionConfig &config() const { return config_; }
    uint32_t workers() const { return workers_; }

    // ---- control thread ----
    // Starts recompiling the packs on a thread of its own; false (and
    // nothing started) while a compile is still running or waits to be
    // taken.
    bool start_reload();
    bool reload_running() const { return compiler_.joinable(); }
    // Takes a finished compile without waiting: `swapped` when it was
    // published, `failed` when the old generation stays and `error` says
    // why (file:line, signature id, Hyperscan's message), `none` when no
    // compile has finished since the last call.
    enum class ReloadOutcome { none, swapped, failed };
    ReloadOutcome finish_reload(std::string &error);
    // Frees retired generations whose grace period is over; non-blocking.
    void collect();
    size_t retired() const { return retired_.size(); }
    // The newest signatures (for formatting alerts and thresholds).
    const CompiledSignatures &signatures() const { return *current_->signatures; }
    uint64_t generation() const { return current_->number; }
    size_t stream_bytes_per_flow() const { return current_->stream_bytes; }

private:
    // Loads and compiles the packs into a generation (its number is set
    // when it is published). Runs on the start-up thread and on the compile
    // thread: touches no member that changes after construction.
    std::unique_ptr<InspectionGeneration> build() const;
    void publish(std::unique_ptr<InspectionGeneration> next);

    struct Retired {
        std::unique_ptr<InspectionGeneration> generation;
        uint64_t token;
    };

    InspectionConfig config_;
    uint32_t workers_;
    rte_rcu_qsbr *qsbr_ = nullptr;
    std::unique_ptr<InspectionGeneration> current_;
    std::atomic<const InspectionGeneration *> published_{nullptr};
    std::vector<Retired> retired_;
    uint64_t next_number_ = 1;

    // The compile thread's result: written by it before it sets
    // compiled_done_, read by the control thread after it saw the flag.
    std::thread compiler_;
    std::atomic<bool> compiled_done_{false};
    std::unique_ptr<InspectionGeneration> compiled_;
    std::string compile_error_;
};

// SIGHUP: the handler only sets a flag (async-signal-safe); the control
// thread takes it and reloads.
void request_signature_reload();
bool take_signature_reload_request();

}  // namespace flowsentry
