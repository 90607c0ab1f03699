#pragma once
// The simulations of a calibration (sim/calibration/calibration.hpp), each in its own child
// process (parallel_runs.hpp), several at once.
#include "sim/calibration/calibration.hpp"

namespace swarmsim::sim {

/// A calibration::Simulate that loads each request's scenario with its overrides (and its seed
/// plus the request's seed offset) and runs it with no outputs, `max_parallel` at once (<= 0: one per CPU). A request whose scenario does not load
/// (a parameter value the loader refuses), whose run fails, or whose metric is not a number in
/// metrics.json gives nullopt.
calibration::Simulate parallel_simulator(const calibration::CalibrationSpec& spec, int max_parallel);

}  // namespace swarmsim::sim
