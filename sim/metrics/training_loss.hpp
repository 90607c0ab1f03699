#pragma once
// workload.fine_tuning.loss: what a fine-tuning run's events do to the adapters' values. A small
// proxy of the model (gpu/fine_tuning_proxy.hpp) really trains, one session's adapters per session,
// following the run's adapter events in simulated-time order: each step's update (eq. 7), each
// checkpoint, each restore after a failure (from the checkpoint, from scratch, or from a peer
// replica), each averaging of a data-parallel job (or, under ZeRO, each step on the job's mean
// gradient). Beside it, the same run with nothing lost (the
// restores ignored) gives the loss the failures cost. Timing is untouched: the simulation prices
// every step; this only follows its values.
#include <map>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gpu/fine_tuning_proxy.hpp"
#include "sim/metrics/forward_legs.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

class TrainingLoss {
 public:
  /// The proxy of `sc` (workload.fine_tuning.loss must be set), seeded by the scenario's seed.
  /// `legs` (borrowed, may be null) says which steps trained on a dishonest server's wrong outputs,
  /// and where each step's hidden states crossed the wire (under policy.compression).
  explicit TrainingLoss(const Scenario& sc, const ForwardLegs* legs = nullptr);
  /// Follows the adapter events, and signals each step's loss on `signals`; call before the run.
  void connect(SimSignals& signals);

  /// One event, as the signals deliver them (public for tests that replay a hand-made sequence).
  void updated(const AdaptersUpdated& e);
  void moved(const AdaptersMoved& e);
  void synced(const AdaptersSynced& e);

  /// The session's step losses (before each update), or empty.
  const std::vector<double>& step_losses(int session) const;
  /// Held-out loss of the session's adapters now; `intact`: of those the run with nothing lost has.
  double held_out(int session, bool intact) const;
  /// Held-out loss of the untrained adapters (the base model against the teacher).
  double untrained() const;
  /// The session's adapters now (it must have had an event); `intact`: those of the run that lost nothing.
  const gpu::FineTuningProxy::Adapters& adapters(int session, bool intact) const;
  const gpu::FineTuningProxy& proxy() const { return *proxy_; }

  /// metrics.json's fine_tuning.loss.
  nlohmann::json to_json() const;

 private:
  using Adapters = gpu::FineTuningProxy::Adapters;
  struct SessionValues {
    Adapters actual;
    std::optional<Adapters> intact;                        ///< once anything was lost: the run that lost nothing
    std::vector<std::optional<gpu::BlockAdapters>> saved;  ///< per block: the client's checkpoint
    std::vector<double> losses, intact_losses;
    int recovering = -1;  ///< index in restores_ of the restore whose loss it has not yet recovered from
  };
  /// What one restore did to the session's held-out loss, and how many updates won it back.
  struct RestoreEffect {
    int session = 0, step = 0, updates_lost = 0;
    BlockRange blocks;
    bool from_peer = false, from_checkpoint = false;
    double before = 0.0, after = 0.0;
    int recovered_after = -1;  ///< updates until the held-out loss was back at `before` (-1: not before the run or the session's next restore ended it)
    int updates_at = 0;        ///< the session's updates when it was restored
    double t = 0.0;            ///< when (s)
  };
  SessionValues& values(int session);
  /// The first restore: from here on the run that lost nothing is followed apart.
  void diverge();
  /// An averaging: every member's adapters become the members' mean.
  void average(const std::vector<int>& members, bool intact);
  /// ZeRO's step (seed 002, section 2): every member applies eq. 7 to the members' mean gradient.
  void apply_mean_gradient(const std::vector<int>& members, bool intact);
  /// Every member's adapter values (or, `gradients`, their gradients) become the members' mean.
  void set_to_mean(const std::vector<int>& members, bool intact, bool gradients);
  /// ZeRO: updates wait for the job's mean gradient.
  bool zero() const { return sc_.workload.fine_tuning->zero > 0; }
  /// After session k's update: has its held-out loss come back from its last restore?
  void follow_recovery(int session);

  const Scenario& sc_;
  std::unique_ptr<gpu::FineTuningProxy> proxy_;
  std::vector<int> eval_tokens_;
  std::vector<double> eval_teacher_;
  std::map<int, SessionValues> sessions_;
  std::map<std::pair<int, int>, std::vector<int>> meetings_;  ///< (job, step) -> sessions averaged so far
  SimSignals* signals_ = nullptr;
  const ForwardLegs* legs_ = nullptr;
  bool diverged_ = false;
  std::vector<RestoreEffect> restores_;
};

}  // namespace swarmsim::sim
