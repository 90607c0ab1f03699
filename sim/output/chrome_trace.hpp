#pragma once
// Writes a run as Chrome trace-event JSON (opens in Perfetto and chrome://tracing): one track per
// node, spans for compute and transfers, instants for swarm events. Format: traces/README.md.
#include <filesystem>
#include <memory>

#include "sim/output/atomic_file.hpp"
#include "sim/scenario/scenario.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

class ChromeTraceWriter {
 public:
  /// Opens `path` (through an AtomicFile) and writes the track names. `scenario` is borrowed.
  ChromeTraceWriter(const Scenario& scenario, const std::filesystem::path& path);
  ChromeTraceWriter(const ChromeTraceWriter&) = delete;
  ChromeTraceWriter& operator=(const ChromeTraceWriter&) = delete;

  /// Subscribes to the signals it records.
  void connect(SimSignals& signals);
  /// Writes the closing bracket and renames the file into place.
  void finish();
  /// Spans not written because trace_max_events was reached.
  long dropped() const { return dropped_; }

 private:
  bool admit();
  void span(int host, double start, double end, const char* cat, const std::string& name, const std::string& args);
  void instant(int host, double t, const std::string& name, const std::string& args);
  std::string host_name(int host) const;

  const Scenario& sc_;
  AtomicFile file_;
  long written_ = 0, dropped_ = 0;
};

}  // namespace swarmsim::sim
