#pragma once
// The policy of a server's request queue (policy.scheduler fcfs, priority, batch): which waiting
// request runs next, which decode steps join it in a batch, and how long the batch takes. Plain
// data and functions shared by both engines; each engine owns the waiting itself.
#include <algorithm>
#include <vector>

#include "gpu/shard_cost_model.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/block_range.hpp"

namespace swarmsim::sim {

/// One request for device time waiting in a server's queue.
struct QueuedRequest {
  double seconds = 0;       ///< device time alone (priced)
  int session = 0, step = 0;
  BlockRange blocks;
  gpu::BlockWork work{};    ///< the shape, for batching decode steps
  bool batchable = false;   ///< a decode step (one token) that may share a batch
  double deadline = 0;      ///< session arrival + workload.deadline (inf when none)
  int priority = 0;         ///< from the trace; higher first
  std::uint64_t seq = 0;    ///< arrival order in the queue
  const char* what = "blocks";  ///< what the span is called: "blocks" or "replay"

  QueuedRequest() = default;
  /// `work` (null for a KV replay) makes a one-token step batchable.
  QueuedRequest(double seconds_, int session_, int step_, BlockRange blocks_, const char* what_, const gpu::BlockWork* work_,
                double deadline_, int priority_)
      : seconds(seconds_), session(session_), step(step_), blocks(blocks_), deadline(deadline_), priority(priority_), what(what_) {
    if (work_) {
      work = *work_;
      batchable = work_->new_tokens == 1;
    }
  }
};

/// Whether the batch scheduler should wait batch_wait before taking from `queue` (its oldest
/// request is a decode step and the batch is not full yet). `P` points to a QueuedRequest.
template <class P>
bool waits_for_batch(const std::vector<P>& queue, const SchedulerSpec& spec) {
  if (spec.kind != SchedulerKind::Batch || queue.empty()) return false;
  const auto oldest = std::min_element(queue.begin(), queue.end(), [](const P& a, const P& b) { return a->seq < b->seq; });
  return (*oldest)->batchable && static_cast<int>(queue.size()) < spec.batch_max && spec.batch_wait_s > 0;
}

/// Removes from `queue` and returns what runs next: the first request by the policy (priority:
/// higher priority, then earliest deadline; otherwise arrival order), plus, for the batch
/// scheduler, up to batch_max - 1 waiting decode steps on the same blocks. `queue` is not empty.
template <class P>
std::vector<P> take_next(std::vector<P>& queue, const SchedulerSpec& spec) {
  auto first = std::min_element(queue.begin(), queue.end(), [&](const P& a, const P& b) {
    if (spec.kind == SchedulerKind::Priority) {
      if (a->priority != b->priority) return a->priority > b->priority;
      if (a->deadline != b->deadline) return a->deadline < b->deadline;  // earliest deadline first
    }
    return a->seq < b->seq;
  });
  std::vector<P> batch{*first};
  queue.erase(first);
  if (spec.kind == SchedulerKind::Batch && batch[0]->batchable)
    for (auto it = queue.begin(); it != queue.end() && static_cast<int>(batch.size()) < spec.batch_max;) {
      if ((*it)->batchable && (*it)->blocks == batch[0]->blocks) {
        batch.push_back(*it);
        it = queue.erase(it);
      } else {
        ++it;
      }
    }
  return batch;
}

/// Device seconds of `batch` on `device`: its one request's priced time, or one pass over the
/// weights for every sequence of the batch (batch sizes add, the longest KV cache counts).
template <class P>
double batch_seconds(const std::vector<P>& batch, const gpu::DeviceSpec& device, const gpu::TransformerSpec& model,
                     const gpu::ShardCostModel& cost) {
  if (batch.size() == 1) return batch[0]->seconds;
  gpu::BlockWork merged = batch[0]->work;
  merged.batch = 0;
  for (const P& j : batch) {
    merged.batch += j->work.batch;
    merged.kv_len = std::max(merged.kv_len, j->work.kv_len);
  }
  return cost.blocks_seconds(device, model, merged, batch[0]->blocks.size());
}

}  // namespace swarmsim::sim
