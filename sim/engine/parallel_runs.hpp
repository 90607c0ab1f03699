#pragma once
// Runs many scenarios, each in its own forked child process (SimGrid allows one simulation per
// process; see isolated_run.hpp), up to N at once; when every job is for the flow engine (no
// SimGrid), on N threads of this process instead. Results come back in job order whatever the
// order in which the children finish, so a caller's output does not depend on scheduling.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "sim/engine/swarm_simulation.hpp"

namespace swarmsim::sim {

/// One run to do.
struct RunJob {
  Scenario scenario;
  RunOptions options;  ///< usually no outputs (empty out_dir) and Progress::Never
};

/// What one run produced: its report, or why it failed.
struct RunOutcome {
  bool ok = false;
  RunReport report;    ///< valid when ok
  std::string error;   ///< the child's exception message, or how the child died, when !ok
};

/// Called in the parent as each run finishes: its job index, runs finished so far, and its outcome.
using RunFinished = std::function<void(std::size_t index, std::size_t finished, const RunOutcome& outcome)>;

/// Child processes run at once by default: std::thread::hardware_concurrency(), at least 1.
int default_parallel_runs();

/// Runs every job in a child process, at most `max_parallel` at once (<= 0: default_parallel_runs()),
/// and returns the outcomes in job order. A failed run is an outcome with ok = false, never an
/// exception; throws std::runtime_error only when no process can be started (pipe, fork, poll).
std::vector<RunOutcome> run_parallel(const std::vector<RunJob>& jobs, int max_parallel = 0,
                                     const RunFinished& on_finished = {});

}  // namespace swarmsim::sim
