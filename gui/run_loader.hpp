#pragma once
// Reading runs into a Timeline: the events.jsonl lines the simulator writes (traces/README.md),
// the extra "compute" / "transfer" / "step" lines the live stream adds (event_stream.hpp), and a
// run directory (events.jsonl + metrics.json, with trace.json's spans when present).
//
// Bad input never throws out of `load_run_directory`: every problem becomes a message
// "FILE:LINE: what" in `RunDirectory::errors`, and the events read before the first bad line stay
// in the timeline, so the state up to the last good line can still be shown.
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "gui/swarm_state.hpp"

namespace swarmsim::gui {

/// A line that is not a valid event: what is wrong with it (no file or line: the caller adds them).
class EventFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A well-formed line of a type this GUI does not know (a newer simulator): skipped, not an error.
class UnknownEventType : public EventFormatError {
 public:
  using EventFormatError::EventFormatError;
};

/// A line of a type the simulator writes that the GUI draws nothing from: a graph pipeline's own
/// detail (request_sent, stage_start, stage_ready, ...), whose effect on the swarm also comes as the
/// generic lines (chain, done, node_down, node_join) and whose spans trace.json holds. Skipped
/// silently, not counted as unknown.
class UndrawnEventType : public EventFormatError {
 public:
  using EventFormatError::EventFormatError;
};

/// Most blocks a run_start may declare (models have tens to hundreds; graph pipelines up to 10^4 ops).
inline constexpr int kMaxBlocks = 100000;
/// Latest simulated time a run file may name (s): about 31,700 years.
inline constexpr double kMaxSeconds = 1e12;  // messages say "1e12"

/// Reads "run_start"'s fields into the run's description. Throws EventFormatError.
SwarmInfo parse_run_start(const nlohmann::json& line);
/// Reads any other event line; host names are resolved through `info`. Throws EventFormatError.
SwarmEvent parse_event(const nlohmann::json& line, const SwarmInfo& info);

/// Feeds JSON lines one at a time into a Timeline (the live stream, or a file read line by line).
/// The first line must be "run_start". After the first bad line it accepts nothing more.
class EventLineReader {
 public:
  /// `source` names the stream in messages ("run/events.jsonl", "live run").
  explicit EventLineReader(std::string source) : source_(std::move(source)) {}
  /// Parses the next line (numbered from 1) into `timeline`. Returns false once a line failed.
  bool feed(std::string_view line, Timeline& timeline);
  bool started() const { return started_; }
  bool failed() const { return !error_.empty(); }
  /// "SOURCE:LINE: message" for the first bad line; empty when none.
  const std::string& error() const { return error_; }
  int lines() const { return line_; }
  /// Lines of unknown event types skipped so far.
  int ignored() const { return ignored_; }

 private:
  int ignored_ = 0;
  std::string source_;
  int line_ = 0;
  bool started_ = false;
  std::string error_;
};

/// The end-of-run figures of metrics.json that the panels show, read once so that drawing never
/// parses JSON. A figure metrics.json lacks, or holds with a wrong type, is NaN (strings: empty).
struct RunSummary {
  bool present = false;                 ///< metrics.json was read
  std::string router, network_model;
  double simulated_time_s = std::numeric_limits<double>::quiet_NaN();
  double tokens_per_s = std::numeric_limits<double>::quiet_NaN();
  double tokens_generated = std::numeric_limits<double>::quiet_NaN();
  double trace_dropped_events = 0;      ///< spans trace.json did not record
  /// metrics.json's "energy": over the serving window (s), in joules, mean watts, idle share, and
  /// joules per token or per request (NaN when the run has none).
  struct Energy {
    double window_s = std::numeric_limits<double>::quiet_NaN();
    double joules = std::numeric_limits<double>::quiet_NaN();
    double mean_power_w = std::numeric_limits<double>::quiet_NaN();
    double idle_share = std::numeric_limits<double>::quiet_NaN();
    double joules_per_token = std::numeric_limits<double>::quiet_NaN();
    double joules_per_request = std::numeric_limits<double>::quiet_NaN();
  } energy;
  /// metrics.json's "cost", when the scenario set prices: currency, total over the window, and
  /// per million tokens or per thousand requests (NaN when absent).
  struct Cost {
    std::string currency;  ///< empty: no cost section
    double total = std::numeric_limits<double>::quiet_NaN();
    double per_million_tokens = std::numeric_limits<double>::quiet_NaN();
    double per_thousand_requests = std::numeric_limits<double>::quiet_NaN();
  } cost;
  struct Latency {
    std::string name;                   ///< "time_to_first_token", "per_token", "session"
    double p50_s, p99_s;
  };
  std::vector<Latency> latency;         ///< those metrics.json has
  /// Mean parts of a decode step (latency_breakdown_s.per_token): name and seconds, in the file's
  /// order; empty when metrics.json has none.
  std::vector<std::pair<std::string, double>> token_parts;
  double token_latency = std::numeric_limits<double>::quiet_NaN();  ///< their sum: the mean decode step (s)
  struct Node {
    double weights_bytes = std::numeric_limits<double>::quiet_NaN();
    double kv_peak_bytes = std::numeric_limits<double>::quiet_NaN();
    double utilization = std::numeric_limits<double>::quiet_NaN();  ///< device seconds / run time
    double energy_joules = std::numeric_limits<double>::quiet_NaN();  ///< over the serving window
  };
  /// metrics.json's "nodes" (the servers, in host order), or for a request run, which has none, its
  /// energy.hosts (servers then clients, in host order: energy only).
  std::vector<Node> nodes;
};

/// Reads the figures of a metrics.json document; each one of the wrong type adds a warning
/// "FILE: PATH: expected ...". Never throws.
RunSummary read_run_summary(const nlohmann::json& metrics, const std::string& file, std::vector<std::string>& warnings);

/// What a run directory held.
struct RunDirectory {
  std::filesystem::path dir;
  Timeline timeline;
  RunSummary summary;                ///< metrics.json's figures (summary.present: false when missing or unreadable)
  std::filesystem::path scenario;    ///< DIR/scenario.json when the directory has one (for what-if)
  bool has_spans = false;            ///< trace.json's compute/transfer spans were merged
  std::vector<std::string> errors;   ///< "FILE:LINE: message"; the timeline holds what came before
  std::vector<std::string> warnings; ///< missing optional files, incomplete series
  bool ok() const { return errors.empty(); }
};

/// Reads DIR/events.jsonl (required), DIR/metrics.json and DIR/trace.json (optional). Never throws.
RunDirectory load_run_directory(const std::filesystem::path& dir);

/// Reads an events.jsonl file into `timeline`. Appends "FILE:LINE: message" problems to `errors`
/// and keeps the events before the first bad line. Never throws.
void read_events_file(const std::filesystem::path& file, Timeline& timeline, std::vector<std::string>& errors);

}  // namespace swarmsim::gui
