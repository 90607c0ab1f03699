#pragma once
// The live event stream: the simulator's signals as JSON lines, in the events.jsonl format
// (traces/README.md) plus three line types that events.jsonl leaves to trace.json:
//
//   {"t": end, "type": "compute",  "host": NAME, "start": s, "session": k, "step": n, "what": "blocks", "blocks": {start, end}}
//   {"t": end, "type": "transfer", "from": NAME, "to": NAME, "start": s, "session": k, "step": n, "bytes": b}
//   {"t": t,   "type": "step",     "session": k, "step": n, "latency": s}
//
// and "tokens_per_step" (the batch size) in "run_start". A Fisher B-tree's "tree" lines are those of
// events.jsonl (sim/output/event_log.cpp). `swarmsim-gui --emit-events` writes it
// on stdout from a child process; EventLineReader (run_loader.hpp) reads it back.
#include <functional>
#include <string>

#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::gui {

class EventStreamWriter {
 public:
  /// `scenario` is borrowed for the writer's lifetime; `sink` receives each line without its '\n'.
  EventStreamWriter(const sim::Scenario& scenario, std::function<void(const std::string&)> sink);
  EventStreamWriter(const EventStreamWriter&) = delete;
  EventStreamWriter& operator=(const EventStreamWriter&) = delete;

  /// Writes the "run_start" line and subscribes to every signal; call before the run.
  void connect(sim::SimSignals& signals);
  /// Writes the "run_end" line at `simulated_time` (s).
  void finish(double simulated_time);

 private:
  std::string host_name(int host) const;
  const sim::Scenario& sc_;
  std::function<void(const std::string&)> sink_;
};

}  // namespace swarmsim::gui
