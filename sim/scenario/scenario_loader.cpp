#include "sim/scenario/scenario_loader.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>
#include <string_view>
#include <utility>
#include <variant>
#include <cctype>

#include <nlohmann/json.hpp>

#include "gpu/shard_cost_model.hpp"
#include "sim/coded/coin.hpp"
#include "sim/partition/model_graph_io.hpp"
#include "sim/json_diagnostics.hpp"
#include "sim/json_path.hpp"
#include "sim/pricing.hpp"
#include "sim/routing/swarm_view.hpp"
#include "sim/scenario/churn.hpp"
#include "sim/swarm/block_assignment.hpp"
#include "sim/swarm/client_memory.hpp"
#include "sim/swarm/training_step.hpp"
#include "sim/units.hpp"

namespace swarmsim::sim {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// [SECTION] Diagnostics
// ---------------------------------------------------------------------------------------------

std::string Diagnostic::str() const {
  std::string s = file;
  if (!path.empty()) s += ": " + path;
  return s + ": " + message;
}

namespace {
std::string join_diagnostics(const std::vector<Diagnostic>& d) {
  std::string s;
  for (const Diagnostic& x : d) s += (s.empty() ? "" : "\n") + x.str();
  return s;
}
}  // namespace

ScenarioError::ScenarioError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

const std::map<std::string, std::vector<std::string>>& scenario_object_keys() {
  static const std::map<std::string, std::vector<std::string>> keys{
      {"scenario",
       {"$schema", "name", "description", "seed", "model", "nodes", "clients", "network", "workload", "policy",
        "overheads", "events", "churn", "outputs", "simulation", "costs"}},
      {"model", {"name", "weight_dtype", "reduce_width", "graph", "tree", "coded"}},
      {"coded",
       {"models", "parity", "method", "beta", "classes", "dim", "hidden", "noise", "separation", "pretrain_steps", "finetune_steps",
        "batch", "learning_rate", "fisher_samples", "fisher_damping", "test_samples", "decode_wait", "cancel", "straggle", "node_work", "node_params", "input", "output"}},
      {"coded_straggle", {"probability", "slowdown"}},
      {"tree",
       {"classes", "dim", "noise", "separation", "class_skew", "order", "initial_children", "threshold", "alpha", "balance_period",
        "split", "merge", "min_samples", "node_work", "node_params", "hidden_state", "answer"}},
      {"tree_split", {"fisher", "load_ratio"}},
      {"tree_merge", {"fisher"}},
      {"graph", {"file", "generator", "batch", "seq_len", "image_size", "layers", "width", "seed", "llm", "bytes_per_element"}},
      {"node",
       {"name", "count", "gpu", "location", "uplink", "downlink", "access_latency", "uptime", "blocks", "max_blocks",
        "kv_cache_tokens", "join_at", "weights_load_bandwidth", "dishonest", "divergence", "mtbf", "mttr", "power", "costs"}},
      {"power", {"idle", "busy"}},
      {"costs", {"currency", "rent", "electricity"}},
      {"host_costs", {"rent", "electricity"}},
      {"location", {"lat", "lon"}},
      {"blocks", {"start", "end"}},
      {"client", {"name", "device", "location", "uplink", "downlink", "access_latency", "mtbf", "mttr", "power", "costs"}},
      {"network", {"model", "latency", "fiber_speed", "route_inflation", "rtt_matrix"}},
      {"rtt_matrix", {"hosts", "rtt"}},
      {"workload", {"sessions", "start", "arrival", "batch_size", "prompt_tokens", "new_tokens", "max_in_flight", "deadline", "abandon_share", "fine_tuning"}},
      {"fine_tuning", {"adapter", "rank", "targets", "steps", "optimizer", "checkpoint_every", "replicas", "sync_every", "zero", "loss"}},
      {"loss", {"width", "vocab", "sequences", "tokens", "learning_rate"}},
      {"arrival", {"process", "interval", "rate", "file", "phases"}},
      {"arrival_phase", {"rate", "duration"}},
      {"policy",
       {"router", "gamma", "beta", "alpha", "context", "orchestrator", "admission_timeout", "admission_retry", "admission_jitter",
        "compression", "reputation", "partitioner", "faults", "rebalance", "scheduler", "dht", "topology", "privacy", "verification"}},
      {"reputation", {"estimate", "prior"}},
      {"verification", {"rate", "ban", "tolerance"}},
      {"dishonest", {"from", "rate", "lazy", "cartel", "magnitude"}},
      {"privacy", {"client_blocks", "differential_privacy"}},
      {"differential_privacy", {"epsilon", "delta", "clip_norm"}},
      {"topology", {"period", "states", "apply_schemes", "stability_reliability"}},
      {"dht", {"enabled", "k", "alpha", "rpc_timeout", "record_ttl", "client_refresh"}},
      {"faults", {"heartbeat", "heartbeat_misses", "transfer_timeout", "retries", "retry_backoff", "corruption_rate", "checksum_bandwidth", "failback",
                  "session_timeout"}},
      {"rebalance", {"period", "balance_quality"}},
      {"scheduler", {"kind", "batch_max", "batch_wait"}},
      {"partitioner", {"method", "stages", "placement", "population", "generations", "elite_fraction", "mutant_fraction", "rho",
                       "crossover", "migrate", "handover", "objective"}},
      {"migrate", {"period", "min_gain"}},
      {"objective", {"minimize", "min_throughput", "max_latency", "max_energy_per_request", "max_cost", "unused_nodes"}},
      {"compression", {"hidden_states", "block_size", "weights", "outlier_threshold", "outlier_fraction"}},
      {"overheads", {"rpc", "serialization_bandwidth", "message_header", "round_trips", "runtime_memory"}},
      {"event", {"at", "action", "node", "peer", "direction", "bandwidth", "latency"}},
      {"churn", {"mttr", "mtbf", "until", "regional"}},
      {"regional", {"every", "lasts", "radius", "clients"}},
      {"outputs", {"metrics", "trace", "events", "trace_max_events"}},
      {"simulation", {"time_limit", "pricing", "engine"}},
  };
  return keys;
}

const char* to_string(RouterKind r) {
  switch (r) {
    case RouterKind::Eq18: return "eq18";
    case RouterKind::ShortestPath: return "shortest_path";
    case RouterKind::Random: return "random";
  }
  return "?";
}
bool Scenario::priced() const {
  const auto own = [](const auto& h) { return h.costs.has_value(); };
  return costs || std::any_of(nodes.begin(), nodes.end(), own) || std::any_of(clients.begin(), clients.end(), own);
}

int host_index(const Scenario& sc, const std::string& name) {
  for (std::size_t i = 0; i < sc.nodes.size(); ++i)
    if (sc.nodes[i].name == name) return static_cast<int>(i);
  for (std::size_t c = 0; c < sc.clients.size(); ++c)
    if (sc.clients[c].name == name) return static_cast<int>(sc.nodes.size() + c);
  return -1;
}

const char* to_string(NetworkModel m) { return m == NetworkModel::Tcp ? "tcp" : "exact"; }
double latency_factor(NetworkModel m) { return m == NetworkModel::Tcp ? 13.01 : 1.0; }
const char* to_string(EngineKind e) { return e == EngineKind::Flow ? "flow" : "simgrid"; }
const char* to_string(PlanGoal g) {
  switch (g) {
    case PlanGoal::Bottleneck: return "bottleneck";
    case PlanGoal::Cost: return "cost";
    case PlanGoal::Energy: return "energy";
    case PlanGoal::Latency: return "latency";
  }
  return "?";
}
std::optional<PlanGoal> plan_goal_from_string(std::string_view name) {
  for (const PlanGoal g : {PlanGoal::Bottleneck, PlanGoal::Cost, PlanGoal::Energy, PlanGoal::Latency})
    if (name == to_string(g)) return g;
  return std::nullopt;
}
PhaseClock::PhaseClock(const WorkloadSpec& w) : start_(w.start_s) {
  for (const ArrivalPhase& p : w.phases) {
    offset_.push_back(cycle_);
    duration_.push_back(p.duration_s);
    cycle_ += p.duration_s;
  }
}

int PhaseClock::phase_at(double t) const {
  if (duration_.empty() || t < start_) return -1;
  const double into = std::fmod(t - start_, cycle_);
  const auto it = std::upper_bound(offset_.begin(), offset_.end(), into);
  return static_cast<int>(it - offset_.begin()) - 1;
}

double PhaseClock::seconds_in_phase_until(int p, double t) const {
  if (duration_.empty() || t <= start_) return 0.0;
  const auto i = static_cast<std::size_t>(p);
  const double full = std::floor((t - start_) / cycle_);
  const double into = (t - start_) - full * cycle_;
  return full * duration_[i] + std::clamp(into - offset_[i], 0.0, duration_[i]);
}

void PhaseClock::add_seconds_by_phase(double a, double b, std::vector<double>& into) const {
  if (duration_.empty() || b <= a) return;
  if (const int p = phase_holding(a, b); p >= 0) {  // the usual case for a compute span
    into[static_cast<std::size_t>(p)] += b - a;
    return;
  }
  for (int p = 0; p < phases(); ++p) into[static_cast<std::size_t>(p)] += seconds_in_phase_until(p, b) - seconds_in_phase_until(p, a);
}

int PhaseClock::phase_holding(double a, double b) const {
  const int pa = phase_at(a);
  return pa >= 0 && pa == phase_at(b) && b - a < duration_[static_cast<std::size_t>(pa)] ? pa : -1;
}

int WorkloadSpec::phase_at(double t) const { return PhaseClock(*this).phase_at(t); }

const char* to_string(ArrivalProcess a) {
  switch (a) {
    case ArrivalProcess::AllAtStart: return "all_at_start";
    case ArrivalProcess::Fixed: return "fixed";
    case ArrivalProcess::Poisson: return "poisson";
    case ArrivalProcess::Trace: return "trace";
    case ArrivalProcess::Phases: return "phases";
  }
  return "?";
}
const char* to_string(EventAction a) {
  switch (a) {
    case EventAction::NodeDown: return "node_down";
    case EventAction::NodeUp: return "node_up";
    case EventAction::SetBandwidth: return "set_bandwidth";
    case EventAction::SetLatency: return "set_latency";
  }
  return "?";
}

namespace {

// ---------------------------------------------------------------------------------------------
// [SECTION] Helpers: suggestions, JSON type names, paths
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// [SECTION] Reader: typed field access that records diagnostics instead of throwing
// ---------------------------------------------------------------------------------------------

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  void error(const std::string& path, std::string message) {
    diags_.push_back({file_, path.empty() ? "(root)" : path, std::move(message)});
  }
  bool ok() const { return diags_.empty(); }

  /// For each node after "count" expansion: the JSON path of the entry it came from, and a label
  /// naming the copy ("" for a single node), so later checks report paths that exist in the file.
  std::vector<std::string> node_path;
  std::vector<std::string> node_label;
  /// Node keys that only a swarm of blocks reads, as (JSON path of the entry, key), once per entry.
  std::vector<std::pair<std::string, const char*>> block_swarm_node_keys;
  std::vector<Diagnostic>& diagnostics() { return diags_; }

  /// True when `j` is an object; reports each key not in the keyset `kind`.
  bool object(const json& j, const std::string& path, const std::string& kind) {
    if (!j.is_object()) {
      error(path, "expected an object, got " + type_name(j));
      return false;
    }
    const auto& allowed = scenario_object_keys().at(kind);
    for (const auto& [key, value] : j.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        error(child(path, key), "unknown key \"" + key + "\"" + suggestion(key, allowed) + "; " + kind +
                                    " keys are " + quoted_list(allowed));
    }
    return true;
  }

  static const json* get(const json& obj, std::string_view key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }

  const json* require(const json& obj, std::string_view key, const std::string& path, std::string_view what) {
    const json* v = get(obj, key);
    if (!v) error(child(path, key), "missing; expected " + std::string(what));
    return v;
  }

  std::optional<std::string> string(const json& obj, std::string_view key, const std::string& path, bool required) {
    const json* v = required ? require(obj, key, path, "a string") : get(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      error(child(path, key), "expected a string, got " + type_name(*v));
      return std::nullopt;
    }
    return v->get<std::string>();
  }

  /// A string that names something, so it must not be empty: "must not be empty" then `hint`.
  std::optional<std::string> name(const json& obj, std::string_view key, const std::string& path, bool required,
                                  std::string_view hint = "") {
    std::optional<std::string> s = string(obj, key, path, required);
    if (s && s->empty()) error(child(path, key), "must not be empty" + std::string(hint));
    return s;
  }

  std::optional<double> number(const json& obj, std::string_view key, const std::string& path, bool required,
                               double lo, double hi, std::string_view range_text) {
    const json* v = required ? require(obj, key, path, "a number") : get(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_number()) {
      error(child(path, key), "expected a number " + std::string(range_text) + ", got " + type_name(*v));
      return std::nullopt;
    }
    const double x = v->get<double>();
    if (!(x >= lo && x <= hi)) {
      error(child(path, key), "expected a number " + std::string(range_text) + ", got " + v->dump());
      return std::nullopt;
    }
    return x;
  }

  std::optional<long long> integer(const json& obj, std::string_view key, const std::string& path, bool required,
                                   long long lo, long long hi) {
    const json* v = required ? require(obj, key, path, "an integer") : get(obj, key);
    if (!v) return std::nullopt;
    const std::string range = "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    if (!v->is_number_integer()) {
      error(child(path, key), "expected an integer " + range + ", got " + type_name(*v));
      return std::nullopt;
    }
    // Values above the signed 64-bit range are unsigned in nlohmann: report them as written.
    if (v->is_number_unsigned() && v->get<unsigned long long>() > static_cast<unsigned long long>(hi)) {
      error(child(path, key), "expected an integer " + range + ", got " + v->dump());
      return std::nullopt;
    }
    const long long x = v->get<long long>();
    if (x < lo || x > hi) {
      error(child(path, key), "expected an integer " + range + ", got " + v->dump());
      return std::nullopt;
    }
    return x;
  }

  std::optional<bool> boolean(const json& obj, std::string_view key, const std::string& path) {
    const json* v = get(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) {
      error(child(path, key), "expected true or false, got " + type_name(*v));
      return std::nullopt;
    }
    return v->get<bool>();
  }

  /// A quantity with a unit; `positive` also rejects zero and negatives, else negatives only.
  std::optional<double> quantity(const json& obj, std::string_view key, const std::string& path, Quantity q,
                                 bool required, bool positive) {
    const json* v = required ? require(obj, key, path, quantity_expectation(q)) : get(obj, key);
    if (!v) return std::nullopt;
    return quantity_value(*v, child(path, key), q, positive);
  }

  std::optional<double> quantity_value(const json& v, const std::string& path, Quantity q, bool positive) {
    if (!v.is_string()) {
      std::string hint;
      if (v.is_number()) hint = " (units go inside the string, e.g. \"" + v.dump() + unit_example(q) + "\")";
      error(path, "expected " + quantity_expectation(q) + ", got " + type_name(v) + hint);
      return std::nullopt;
    }
    ParsedQuantity p = parse_quantity(v.get<std::string>(), q);
    if (!p.value) {
      error(path, p.error);
      return std::nullopt;
    }
    if (positive ? !(*p.value > 0) : !(*p.value >= 0)) {
      error(path, std::string(positive ? "must be positive" : "must not be negative") + ", got \"" +
                      v.get<std::string>() + "\"");
      return std::nullopt;
    }
    return p.value;
  }

  /// One of the listed words.
  template <class E>
  std::optional<E> choice(const json& obj, std::string_view key, const std::string& path, bool required,
                          const std::vector<std::pair<std::string, E>>& options) {
    std::vector<std::string> names;
    for (const auto& o : options) names.push_back(o.first);
    const json* v = required ? require(obj, key, path, "one of " + quoted_list(names)) : get(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      error(child(path, key), "expected one of " + quoted_list(names) + ", got " + type_name(*v));
      return std::nullopt;
    }
    const std::string s = v->get<std::string>();
    for (const auto& o : options)
      if (o.first == s) return o.second;
    error(child(path, key), "unknown value \"" + s + "\"" + suggestion(s, names) + "; expected one of " +
                                quoted_list(names));
    return std::nullopt;
  }

 private:
  static std::string unit_example(Quantity q) {
    switch (q) {
      case Quantity::Duration: return "ms";
      case Quantity::Size: return "GiB";
      case Quantity::Bandwidth: return "Mbps";
      case Quantity::Rate: return "/s";
      case Quantity::FlopRate: return "TFLOPS";
      case Quantity::Work: return "GFLOP";
      case Quantity::Distance: return "km";
      case Quantity::Speed: return "km/s";
      case Quantity::Power: return "W";
      case Quantity::Energy: return "J";
      case Quantity::PricePerTime: return "/h";
      case Quantity::PricePerEnergy: return "/kWh";
    }
    return "";
  }

  std::string file_;
  std::vector<Diagnostic> diags_;
};

// ---------------------------------------------------------------------------------------------
// [SECTION] Sections of the format
// ---------------------------------------------------------------------------------------------

std::optional<topology::GeoPoint> read_location(Reader& r, const json& obj, const std::string& path) {
  const json* v = Reader::get(obj, "location");
  if (!v) return std::nullopt;
  const std::string p = child(path, "location");
  if (!r.object(*v, p, "location")) return std::nullopt;
  auto lat = r.number(*v, "lat", p, true, -90, 90, "in [-90, 90] (degrees)");
  auto lon = r.number(*v, "lon", p, true, -180, 180, "in [-180, 180] (degrees)");
  if (!lat || !lon) return std::nullopt;
  return topology::GeoPoint{*lat, *lon};
}

const gpu::DeviceSpec* read_device(Reader& r, const json& obj, std::string_view key, const std::string& path) {
  auto name = r.string(obj, key, path, true);
  if (!name) return nullptr;
  const gpu::DeviceSpec* d = gpu::find_device(*name);
  if (!d) {
    const auto names = gpu::device_names();
    r.error(child(path, key),
            "unknown device \"" + *name + "\"" + suggestion(*name, names) + "; known devices are " + quoted_list(names));
  }
  return d;
}

/// model.graph: a computation graph from a file (relative to the scenario's folder) or a generator.
void read_graph_model(Reader& r, const json& g, Scenario& sc) {
  const std::string gp = "model.graph";
  if (!r.object(g, gp, "graph")) return;
  const auto file = r.string(g, "file", gp, false);
  const auto generator = r.string(g, "generator", gp, false);
  if (file.has_value() == generator.has_value()) {
    r.error(gp, "expected exactly one of \"file\" (a model graph JSON file) or \"generator\" (one of " +
                    quoted_list(partition::generator_names()) + ")");
    return;
  }
  partition::GeneratorOptions o;
  o.batch = static_cast<int>(r.integer(g, "batch", gp, false, 1, 65536).value_or(o.batch));
  o.seq_len = static_cast<int>(r.integer(g, "seq_len", gp, false, 1, 1 << 20).value_or(o.seq_len));
  o.image_size = static_cast<int>(r.integer(g, "image_size", gp, false, 32, 8192).value_or(o.image_size));
  o.layers = static_cast<int>(r.integer(g, "layers", gp, false, 0, 1000000).value_or(o.layers));
  o.width = static_cast<int>(r.integer(g, "width", gp, false, 1, 1000).value_or(o.width));
  o.seed = static_cast<std::uint64_t>(r.integer(g, "seed", gp, false, 0, (1LL << 53)).value_or(1));
  o.llm = r.string(g, "llm", gp, false).value_or(o.llm);
  o.bytes_per_element = r.number(g, "bytes_per_element", gp, false, 0.125, 8, "in [0.125, 8]").value_or(o.bytes_per_element);
  if (file) {
    for (const char* key : {"batch", "seq_len", "image_size", "layers", "width", "seed", "llm", "bytes_per_element"})
      if (Reader::get(g, key)) r.error(gp + "." + key, "only applies to \"generator\" graphs, not to a graph \"file\"");
    std::filesystem::path path(*file);
    if (path.is_relative() && !sc.source_file.empty()) path = std::filesystem::path(sc.source_file).parent_path() / path;
    try {
      sc.graph = std::make_shared<const partition::ModelGraph>(partition::load_model_graph_file(path.string()));
      sc.graph_source = path.string();
    } catch (const partition::GraphFileError& e) {
      for (const std::string& line : e.lines()) r.error(gp + ".file", line);
    }
    return;
  }
  const auto& names = partition::generator_names();
  if (std::find(names.begin(), names.end(), *generator) == names.end()) {
    r.error(gp + ".generator", "unknown generator \"" + *generator + "\"" + suggestion(*generator, names) + "; expected one of " +
                                   quoted_list(names));
    return;
  }
  if (*generator == "llama-chain" && !gpu::find_model(o.llm)) {
    r.error(gp + ".llm", "unknown model \"" + o.llm + "\"; known models are " + quoted_list(gpu::model_names()));
    return;
  }
  try {
    sc.graph = std::make_shared<const partition::ModelGraph>(partition::generate_model_graph(*generator, o));
    sc.graph_source = "generator:" + *generator;
  } catch (const std::exception& e) {
    r.error(gp, e.what());
  }
}

/// model.tree: a Fisher-information guided B-tree network (seed 000).
void read_tree_model(Reader& r, const json& t, Scenario& sc) {
  const std::string tp = "model.tree";
  if (!r.object(t, tp, "tree")) return;
  FisherTreeSpec f;
  f.classes = static_cast<int>(r.integer(t, "classes", tp, false, 2, 4096).value_or(f.classes));
  f.dim = static_cast<int>(r.integer(t, "dim", tp, false, 1, 4096).value_or(f.dim));
  f.noise = r.number(t, "noise", tp, false, 1e-6, 1e6, "> 0 (the standard deviation of a look)").value_or(f.noise);
  f.separation = r.number(t, "separation", tp, false, 0, 1e6, ">= 0 (the norm of a class mean)").value_or(f.separation);
  f.class_skew = r.number(t, "class_skew", tp, false, 0, 10, "in [0, 10] (the Zipf exponent of class popularity)").value_or(f.class_skew);
  // Order 3 at least: an overflowing node's halves then keep two children each.
  f.order = static_cast<int>(r.integer(t, "order", tp, false, 3, 64).value_or(f.order));
  f.initial_children = static_cast<int>(r.integer(t, "initial_children", tp, false, 1, 64).value_or(f.initial_children));
  f.threshold = r.number(t, "threshold", tp, false, 0, 1, "in [0, 1] (the confidence above which a node answers)").value_or(f.threshold);
  f.alpha = r.number(t, "alpha", tp, false, 0, 1, "in [0, 1]").value_or(f.alpha);
  f.balance_period_s = r.quantity(t, "balance_period", tp, Quantity::Duration, false, false).value_or(f.balance_period_s);
  f.min_samples = static_cast<int>(r.integer(t, "min_samples", tp, false, 1, 1 << 30).value_or(f.min_samples));
  if (const json* sp = Reader::get(t, "split"); sp && r.object(*sp, tp + ".split", "tree_split")) {
    f.split_fisher = r.number(*sp, "fisher", tp + ".split", false, 0, 1e300, ">= 0 (τ_split)").value_or(f.split_fisher);
    f.split_load = r.number(*sp, "load_ratio", tp + ".split", false, 0, 1e300, ">= 0 (ρ_split)").value_or(f.split_load);
  }
  if (const json* mg = Reader::get(t, "merge"); mg && r.object(*mg, tp + ".merge", "tree_merge"))
    f.merge_fisher = r.number(*mg, "fisher", tp + ".merge", false, 0, 1e300, ">= 0 (τ_merge)").value_or(f.merge_fisher);
  f.node_flops = r.quantity(t, "node_work", tp, Quantity::Work, false, false).value_or(f.node_flops);
  f.node_param_bytes = r.quantity(t, "node_params", tp, Quantity::Size, false, false).value_or(f.node_param_bytes);
  f.hidden_bytes = r.quantity(t, "hidden_state", tp, Quantity::Size, false, true).value_or(f.hidden_bytes);
  f.answer_bytes = r.quantity(t, "answer", tp, Quantity::Size, false, true).value_or(f.answer_bytes);
  if (f.initial_children > f.order)
    r.error(tp + ".initial_children", std::to_string(f.initial_children) + " children exceed the tree's order " + std::to_string(f.order) +
                                          " (the most children a node has)");
  if (f.initial_children > f.classes)
    r.error(tp + ".initial_children", std::to_string(f.initial_children) + " leaves need as many classes (keys); the task has " +
                                          std::to_string(f.classes));
  if (f.merge_fisher >= f.split_fisher && f.split_fisher > 0)
    r.error(tp + ".merge.fisher", "expected below split.fisher (" + std::to_string(f.split_fisher) +
                                      "), or a node would merge right after it split");
  sc.tree = f;
}

/// model.coded.beta: N weights (one coded model) or parity rows of N, each positive and summing to
/// 1, with every square submatrix nonsingular (else some N outputs could not decode the rest).
void read_coding_weights(Reader& r, const json& b, const std::string& path, CodedSpec& c) {
  const std::string n = std::to_string(c.models);
  const bool nested = b.is_array() && !b.empty() && b[0].is_array();
  const auto rows = static_cast<std::size_t>(std::max(c.parity, 1));  // rows beyond parity are not used (parity=0 runs included)
  if (!b.is_array() || (!nested && c.parity > 1) || (nested && b.size() < rows)) {
    r.error(path, (c.parity > 1 ? "expected " + std::to_string(c.parity) + " rows (one per coded model) of " + n + " positive numbers"
                                : "expected an array of " + n + " positive numbers (one coding weight per model)") +
                      ", got " +
                      (b.is_array() ? std::to_string(b.size()) + (nested ? (b.size() == 1 ? " row" : " rows") : (b.size() == 1 ? " value" : " values"))
                                    : type_name(b)));
    return;
  }
  bool ok = true;
  auto read_row = [&](const json& row, const std::string& rp) {
    std::vector<double> w;
    if (!row.is_array() || row.size() != static_cast<std::size_t>(c.models)) {
      r.error(rp, "expected an array of " + n + " positive numbers (one coding weight per model), got " +
                      (row.is_array() ? std::to_string(row.size()) + (row.size() == 1 ? " value" : " values") : type_name(row)));
      ok = false;
      return w;
    }
    double sum = 0;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (!row[i].is_number() || !(row[i].get<double>() > 0)) {
        r.error(rp + "[" + std::to_string(i) + "]", "expected a positive number, got " + row[i].dump());
        ok = false;
        continue;
      }
      w.push_back(row[i].get<double>());
      sum += w.back();
    }
    if (w.size() == row.size() && std::abs(sum - 1) > 1e-9) {
      r.error(rp, "expected weights that sum to 1 (the coded output approximates the mixture Σ β_i p_i), got a sum of " +
                      [&] { char buf[32]; std::snprintf(buf, sizeof buf, "%.6g", sum); return std::string(buf); }());
      ok = false;
    }
    return w;
  };
  if (!nested) {
    c.beta.push_back(read_row(b, path));
  } else {
    for (std::size_t k = 0; k < b.size(); ++k) c.beta.push_back(read_row(b[k], path + "[" + std::to_string(k) + "]"));
  }
  c.beta.resize(static_cast<std::size_t>(c.parity));
  if (!ok) {
    c.beta.clear();
    return;
  }
  const SingularCoding bad = find_singular_coding(c.beta);
  if (bad.found()) {
    auto list = [](const std::vector<int>& v) {
      std::string out;
      for (const int x : v) out += (out.empty() ? "" : ", ") + std::to_string(x);
      return out;
    };
    r.error(path, "the weights of coded model" + std::string(bad.rows.size() > 1 ? "s " : " ") + list(bad.rows) + " on model" +
                      (bad.columns.size() > 1 ? "s " : " ") + list(bad.columns) +
                      " form a singular matrix: those outputs could not be decoded from those coded ones; expected weights whose "
                      "every square submatrix is nonsingular (omit beta for ones that are)");
    c.beta.clear();
  }
}

/// model.coded: erasure-coded inference over N models (seed 001, COIN).
void read_coded_model(Reader& r, const json& t, Scenario& sc) {
  const std::string cp = "model.coded";
  if (!r.object(t, cp, "coded")) return;
  CodedSpec c;
  c.models = static_cast<int>(r.integer(t, "models", cp, false, 2, 16).value_or(c.models));
  c.parity = static_cast<int>(r.integer(t, "parity", cp, false, 0, std::min(c.models, kMaxCodedParity)).value_or(c.parity));
  if (const auto m = r.choice<std::string>(t, "method", cp, false, {{"coin", "coin"}, {"coin_full", "coin_full"}, {"coin_block", "coin_block"}, {"average", "average"}}))
    c.method = *m;
  if (const json* b = Reader::get(t, "beta")) read_coding_weights(r, *b, cp + ".beta", c);
  c.classes = static_cast<int>(r.integer(t, "classes", cp, false, 2, 1024).value_or(c.classes));
  c.dim = static_cast<int>(r.integer(t, "dim", cp, false, 1, 1024).value_or(c.dim));
  c.hidden = static_cast<int>(r.integer(t, "hidden", cp, false, 1, 1024).value_or(c.hidden));
  c.noise = r.number(t, "noise", cp, false, 1e-6, 1e6, "> 0 (the standard deviation of an input around its class mean)").value_or(c.noise);
  c.separation = r.number(t, "separation", cp, false, 0, 1e6, ">= 0 (the norm of a class mean)").value_or(c.separation);
  c.pretrain_steps = static_cast<int>(r.integer(t, "pretrain_steps", cp, false, 0, 1000000).value_or(c.pretrain_steps));
  c.finetune_steps = static_cast<int>(r.integer(t, "finetune_steps", cp, false, 0, 1000000).value_or(c.finetune_steps));
  c.batch = static_cast<int>(r.integer(t, "batch", cp, false, 1, 65536).value_or(c.batch));
  c.learning_rate = r.number(t, "learning_rate", cp, false, 1e-9, 100, "in (0, 100] (the SGD step size)").value_or(c.learning_rate);
  c.fisher_samples = static_cast<int>(r.integer(t, "fisher_samples", cp, false, 1, 1000000).value_or(c.fisher_samples));
  c.fisher_damping = r.number(t, "fisher_damping", cp, false, 1e-12, 1e6,
                              "in [1e-12, 1e6] (λ relative to the Fisher sum's mean diagonal, method coin_full)")
                         .value_or(c.fisher_damping);
  if (c.method == "coin_full" && c.parity > 0) {
    const long params = static_cast<long>(c.hidden) * (c.dim + 1) + static_cast<long>(c.classes) * (c.hidden + 1);
    if (params > kMaxFullFisherParameters)
      r.error(cp + ".method", "coin_full holds a parameters × parameters Fisher; expected at most " +
                                  std::to_string(kMaxFullFisherParameters) + " parameters (hidden·(dim + 1) + classes·(hidden + 1)), got " +
                                  std::to_string(params) + ": use \"coin_block\" (a Fisher block per unit), \"coin\" (diagonal) or smaller dim/hidden");
  }
  if (c.method == "coin_block" && c.parity > 0 && fisher_matrix_entries(c) > kMaxFullFisherParameters * kMaxFullFisherParameters)
    r.error(cp + ".method", "coin_block holds a Fisher block per unit; expected at most " +
                                std::to_string(kMaxFullFisherParameters * kMaxFullFisherParameters) +
                                " block entries (hidden·(dim + 1)² + classes·(hidden + 1)²), got " + std::to_string(fisher_matrix_entries(c)) +
                                ": use \"coin\" (diagonal) or smaller dim/hidden");
  c.test_samples = static_cast<int>(r.integer(t, "test_samples", cp, false, 1, 1000000).value_or(c.test_samples));
  c.decode_wait_s = r.quantity(t, "decode_wait", cp, Quantity::Duration, false, false).value_or(c.decode_wait_s);
  c.cancel = r.boolean(t, "cancel", cp).value_or(c.cancel);
  if (const json* st = Reader::get(t, "straggle"); st && r.object(*st, cp + ".straggle", "coded_straggle")) {
    c.straggle_probability =
        r.number(*st, "probability", cp + ".straggle", false, 0, 1, "in [0, 1] (the chance a computation straggles)").value_or(0.0);
    c.straggle_slowdown = r.number(*st, "slowdown", cp + ".straggle", false, 1, 1e6, "in [1, 1e6] (how many times longer it takes)").value_or(1.0);
  }
  c.node_flops = r.quantity(t, "node_work", cp, Quantity::Work, false, false).value_or(c.node_flops);
  c.node_param_bytes = r.quantity(t, "node_params", cp, Quantity::Size, false, false).value_or(c.node_param_bytes);
  c.input_bytes = r.quantity(t, "input", cp, Quantity::Size, false, true).value_or(c.input_bytes);
  c.output_bytes = r.quantity(t, "output", cp, Quantity::Size, false, true).value_or(c.output_bytes);
  sc.coded = c;
}

void read_model(Reader& r, const json& root, Scenario& sc) {
  const json* v = r.require(root, "model", "", "an object such as {\"name\": \"Llama-3-8B\"} or {\"graph\": {\"generator\": \"resnet50\"}}");
  if (!v || !r.object(*v, "model", "model")) return;
  if (const json* c = Reader::get(*v, "coded")) {
    for (const char* key : {"name", "weight_dtype", "reduce_width", "graph", "tree"})
      if (Reader::get(*v, key)) r.error(std::string("model.") + key, "does not apply to erasure-coded inference (model.coded)");
    read_coded_model(r, *c, sc);
    return;
  }
  if (const json* t = Reader::get(*v, "tree")) {
    for (const char* key : {"name", "weight_dtype", "reduce_width", "graph"})
      if (Reader::get(*v, key)) r.error(std::string("model.") + key, "does not apply to a Fisher B-tree (model.tree)");
    read_tree_model(r, *t, sc);
    return;
  }
  if (const json* g = Reader::get(*v, "graph")) {
    for (const char* key : {"name", "weight_dtype", "reduce_width"})
      if (Reader::get(*v, key)) r.error(std::string("model.") + key, "does not apply to a graph model (model.graph)");
    read_graph_model(r, *g, sc);
    return;
  }
  auto name = r.string(*v, "name", "model", true);
  if (name) {
    const gpu::TransformerSpec* m = gpu::find_model(*name);
    if (!m) {
      const auto names = gpu::model_names();
      r.error("model.name",
              "unknown model \"" + *name + "\"" + suggestion(*name, names) + "; known models are " + quoted_list(names));
    } else {
      sc.model = *m;
    }
  }
  if (auto div = r.integer(*v, "reduce_width", "model", false, 1, 1024); div && sc.model.n_layers > 0)
    sc.model = gpu::reduced_width(sc.model, static_cast<int>(*div));  // fast tests and real execution on small machines
  if (auto dt = r.string(*v, "weight_dtype", "model", false)) {
    if (auto parsed = gpu::parse_dtype(*dt))
      sc.model.weight_dtype = *parsed;
    else
      r.error("model.weight_dtype", "unknown dtype \"" + *dt + "\"; expected one of \"bf16\", \"f16\" (or \"fp16\"), \"f32\" (or \"fp32\"), \"int8\"");
  }
}

/// The fields every host has, servers and clients alike; `device_key` is "gpu" or "device".
template <class Host>
void read_host_fields(Reader& r, const json& obj, const std::string& p, std::string_view device_key, Host& h) {
  h.name = r.name(obj, "name", p, true).value_or("");
  h.device = read_device(r, obj, device_key, p);
  h.location = read_location(r, obj, p);
  h.uplink_Bps = r.quantity(obj, "uplink", p, Quantity::Bandwidth, true, true).value_or(0);
  h.downlink_Bps = r.quantity(obj, "downlink", p, Quantity::Bandwidth, true, true).value_or(0);
  h.access_latency_s = r.quantity(obj, "access_latency", p, Quantity::Duration, false, false).value_or(1e-3);
  if (const json* w = Reader::get(obj, "power")) {  // the device's catalog draw, overridden in part or whole
    const std::string wp = child(p, "power");
    if (r.object(*w, wp, "power") && h.device) {
      PowerDraw d{h.device->idle_power_w, h.device->busy_power_w};
      const std::optional<double> idle = r.quantity(*w, "idle", wp, Quantity::Power, false, false);
      const std::optional<double> busy = r.quantity(*w, "busy", wp, Quantity::Power, false, true);
      d.idle_w = idle.value_or(d.idle_w);
      d.busy_w = busy.value_or(d.busy_w);
      if (!Reader::get(*w, "idle") && !Reader::get(*w, "busy"))
        r.error(wp, "expected \"idle\" and/or \"busy\" (e.g. {\"idle\": \"25W\", \"busy\": \"350W\"}), got an empty object");
      else if (Reader::get(*w, "idle") && !idle) {
      } else if (Reader::get(*w, "busy") && !busy) {  // already named
      } else if (d.idle_w > d.busy_w)
        r.error(child(wp, idle ? "idle" : "busy"), "the idle draw (" + format_power(d.idle_w) + ") exceeds the busy draw (" +
                                                        format_power(d.busy_w) + (idle && busy ? "" : ", the rest from the " + h.device->name + "'s catalog entry") +
                                                        "); expected idle <= busy");
      else
        h.power = d;
    }
  }
  if (const json* c = Reader::get(obj, "costs")) {  // the scenario's prices, overridden in part or whole
    const std::string cp = child(p, "costs");
    if (r.object(*c, cp, "host_costs")) {
      HostPrices prices;
      prices.rent_per_s = r.quantity(*c, "rent", cp, Quantity::PricePerTime, false, false);
      prices.electricity_per_j = r.quantity(*c, "electricity", cp, Quantity::PricePerEnergy, false, false);
      if (!Reader::get(*c, "rent") && !Reader::get(*c, "electricity"))
        r.error(cp, "expected \"rent\" and/or \"electricity\" (e.g. {\"rent\": \"1.20/h\", \"electricity\": \"0.30/kWh\"}), got an empty object");
      h.costs = prices;
    }
  }
}

/// A non-empty array at root[key]; nullptr (and an error) otherwise.
const json* read_host_array(Reader& r, const json& root, const char* key, const std::string& what) {
  const json* v = r.require(root, key, "", "a non-empty array of " + what);
  if (!v) return nullptr;
  if (!v->is_array() || v->empty()) {
    r.error(key, "expected a non-empty array of " + what + ", got " + (v->is_array() ? "an empty array" : type_name(*v)));
    return nullptr;
  }
  return v;
}

void read_nodes(Reader& r, const json& root, Scenario& sc) {
  const json* v = read_host_array(r, root, "nodes", "server nodes");
  if (!v) return;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& n = (*v)[i];
    const std::string p = at_index("nodes", i);
    if (!r.object(n, p, "node")) continue;
    NodeSpec node;
    read_host_fields(r, n, p, "gpu", node);
    const long long count = r.integer(n, "count", p, false, 1, 100000).value_or(1);
    node.uptime = r.number(n, "uptime", p, false, 0.0, 1.0, "in [0, 1] (fraction of time up)").value_or(1.0);
    node.max_blocks = static_cast<int>(r.integer(n, "max_blocks", p, false, 0, 100000).value_or(0));
    node.kv_cache_tokens = static_cast<int>(r.integer(n, "kv_cache_tokens", p, false, 0, 1 << 30).value_or(16384));
    node.join_at_s = r.quantity(n, "join_at", p, Quantity::Duration, false, false).value_or(0.0);
    for (const char* key : {"join_at", "max_blocks", "kv_cache_tokens"})
      if (Reader::get(n, key)) r.block_swarm_node_keys.emplace_back(p, key);
    node.weights_load_Bps =
        r.quantity(n, "weights_load_bandwidth", p, Quantity::Bandwidth, false, true).value_or(2e9);
    node.mtbf_s = r.quantity(n, "mtbf", p, Quantity::Duration, false, true);
    node.mttr_s = r.quantity(n, "mttr", p, Quantity::Duration, false, true);
    if (const json* d = Reader::get(n, "dishonest")) {
      const std::string dp = child(p, "dishonest");
      if (r.object(*d, dp, "dishonest")) {
        DishonestSpec spec;
        spec.from_s = r.quantity(*d, "from", dp, Quantity::Duration, false, false).value_or(0.0);
        spec.rate = r.number(*d, "rate", dp, false, 0.0, 1.0, "in [0, 1] (chance that a step it serves gets a wrong output)").value_or(1.0);
        spec.lazy = r.boolean(*d, "lazy", dp).value_or(false);
        spec.cartel = r.string(*d, "cartel", dp, false).value_or("");
        spec.magnitude = r.number(*d, "magnitude", dp, false, 1e-12, 10.0,
                                  "in (0, 10] (relative L2 distance of its wrong outputs from the right ones; 1: unrelated values)")
                             .value_or(1.0);
        node.dishonest = spec;
      }
    }
    node.divergence = r.number(n, "divergence", p, false, 0.0, 0.999999,
                               "in [0, 1) (relative L2 distance of its honest outputs from exact arithmetic)")
                          .value_or(0.0);
    if (const json* b = Reader::get(n, "blocks")) {
      const std::string bp = child(p, "blocks");
      if (b->is_string() && b->get<std::string>() == "auto") {
        node.blocks.reset();
      } else if (b->is_object()) {
        if (r.object(*b, bp, "blocks")) {
          auto start = r.integer(*b, "start", bp, true, 0, 1 << 20);
          auto end = r.integer(*b, "end", bp, true, 1, 1 << 20);
          if (start && end) {
            if (*end <= *start)
              r.error(bp, "expected start < end (end is exclusive), got start " + std::to_string(*start) + ", end " +
                              std::to_string(*end));
            else
              node.blocks = BlockRange{static_cast<int>(*start), static_cast<int>(*end)};
          }
        }
      } else {
        r.error(bp, "expected \"auto\" or an object {\"start\": first, \"end\": one past last}, got " + type_name(*b));
      }
      if (node.blocks && node.max_blocks > 0)
        r.error(child(p, "max_blocks"), "only applies to \"blocks\": \"auto\"");
    }
    if (count == 1) {
      sc.nodes.push_back(node);
      r.node_path.push_back(p);
      r.node_label.push_back("");
    } else {
      for (long long k = 0; k < count; ++k) {
        NodeSpec copy = node;
        copy.name = node.name + "-" + std::to_string(k);
        r.node_path.push_back(p);
        r.node_label.push_back("copy \"" + copy.name + "\" of this entry: ");
        sc.nodes.push_back(std::move(copy));
      }
    }
  }
}

void read_clients(Reader& r, const json& root, Scenario& sc) {
  const json* v = read_host_array(r, root, "clients", "clients");
  if (!v) return;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& c = (*v)[i];
    const std::string p = at_index("clients", i);
    if (!r.object(c, p, "client")) continue;
    ClientSpec client;
    read_host_fields(r, c, p, "device", client);
    client.mtbf_s = r.quantity(c, "mtbf", p, Quantity::Duration, false, true);
    client.mttr_s = r.quantity(c, "mttr", p, Quantity::Duration, false, true);
    if (client.mttr_s && !client.mtbf_s)
      r.error(p + ".mttr", "a client fails under drawn churn only with its own \"mtbf\" (clients declare no uptime); add one or remove \"mttr\"");
    sc.clients.push_back(client);
  }
}

void read_network(Reader& r, const json& root, Scenario& sc) {
  const json* v = Reader::get(root, "network");
  if (!v || !r.object(*v, "network", "network")) return;
  NetworkSpec& net = sc.network;
  net.model = r.choice<NetworkModel>(*v, "model", "network", false, {{"tcp", NetworkModel::Tcp}, {"exact", NetworkModel::Exact}})
                  .value_or(NetworkModel::Tcp);
  net.latency = r.choice<LatencyModel>(*v, "latency", "network", false,
                                       {{"geo", LatencyModel::Geo}, {"matrix", LatencyModel::Matrix}})
                    .value_or(LatencyModel::Geo);
  net.fiber_speed_km_s = r.quantity(*v, "fiber_speed", "network", Quantity::Speed, false, true).value_or(200000.0);
  net.route_inflation = r.number(*v, "route_inflation", "network", false, 1.0, 100.0, "in [1, 100]").value_or(2.0);
  const json* m = Reader::get(*v, "rtt_matrix");
  if (net.latency == LatencyModel::Matrix && !m) {
    r.error("network.rtt_matrix", "missing; \"latency\": \"matrix\" needs {\"hosts\": [...], \"rtt\": [[...], ...]}");
    return;
  }
  if (!m) return;
  if (net.latency != LatencyModel::Matrix) {
    r.error("network.rtt_matrix", "given but \"network.latency\" is not \"matrix\"");
    return;
  }
  const std::string mp = "network.rtt_matrix";
  if (!r.object(*m, mp, "rtt_matrix")) return;
  const json* hosts = r.require(*m, "hosts", mp, "an array of node and client names");
  const json* rtt = r.require(*m, "rtt", mp, "a square array of arrays of durations");
  if (!hosts || !rtt) return;
  if (!hosts->is_array()) {
    r.error(mp + ".hosts", "expected an array of node and client names, got " + type_name(*hosts));
    return;
  }
  for (std::size_t i = 0; i < hosts->size(); ++i) {
    if (!(*hosts)[i].is_string())
      r.error(at_index(mp + ".hosts", i), "expected a host name, got " + type_name((*hosts)[i]));
    else
      net.matrix_hosts.push_back((*hosts)[i].get<std::string>());
  }
  const std::size_t n = hosts->size();
  if (!rtt->is_array() || rtt->size() != n) {
    r.error(mp + ".rtt", "expected " + std::to_string(n) + " rows (one per host), got " +
                             (rtt->is_array() ? std::to_string(rtt->size()) + " rows" : type_name(*rtt)));
    return;
  }
  net.rtt_s.assign(n * n, 0.0);
  bool shape_ok = true;
  for (std::size_t i = 0; i < n; ++i) {
    const json& row = (*rtt)[i];
    const std::string rp = at_index(mp + ".rtt", i);
    if (!row.is_array() || row.size() != n) {
      r.error(rp, "expected a row of " + std::to_string(n) + " durations, got " +
                      (row.is_array() ? std::to_string(row.size()) + " entries" : type_name(row)));
      shape_ok = false;
      continue;
    }
    for (std::size_t j = 0; j < n; ++j) {
      auto x = r.quantity_value(row[j], at_index(rp, j), Quantity::Duration, false);
      if (!x) shape_ok = false;
      net.rtt_s[i * n + j] = x.value_or(0.0);
    }
  }
  if (!shape_ok) return;
  for (std::size_t i = 0; i < n; ++i) {
    if (net.rtt_s[i * n + i] != 0.0)
      r.error(at_index(at_index(mp + ".rtt", i), i), "the RTT of a host to itself must be \"0ms\"");
    for (std::size_t j = i + 1; j < n; ++j) {
      const double a = net.rtt_s[i * n + j], b = net.rtt_s[j * n + i];
      if (std::fabs(a - b) > 1e-12 * std::max(1.0, std::max(a, b)))
        r.error(at_index(at_index(mp + ".rtt", i), j),
                "RTT matrix is not symmetric: [" + std::to_string(i) + "][" + std::to_string(j) + "] = " +
                    format_duration(a) + " but [" + std::to_string(j) + "][" + std::to_string(i) + "] = " +
                    format_duration(b));
    }
  }
}

/// A trace of arrivals: CSV with a header line naming its columns, "at" (a duration such as
/// "1.5s", or seconds) required, "prompt_tokens", "new_tokens", "priority" optional; one session
/// per row, rows in time order. The path is relative to the scenario's folder.
void read_arrival_trace(Reader& r, const std::string& file, const std::string& path, Scenario& sc) {
  std::filesystem::path p(file);
  if (p.is_relative() && !sc.source_file.empty()) p = std::filesystem::path(sc.source_file).parent_path() / p;
  std::ifstream in(p);
  if (!in) {
    r.error(path, "cannot open the arrival trace \"" + p.string() + "\"");
    return;
  }
  const std::string where = p.string();
  std::string line;
  std::vector<std::string> columns;
  int line_no = 0;
  auto split = [](const std::string& text) {
    std::vector<std::string> out;
    std::string cell;
    std::istringstream ss(text);
    while (std::getline(ss, cell, ',')) {
      const auto b = cell.find_first_not_of(" \t\r"), e = cell.find_last_not_of(" \t\r");
      out.push_back(b == std::string::npos ? "" : cell.substr(b, e - b + 1));
    }
    return out;
  };
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    const auto cells = split(line);
    if (columns.empty()) {
      columns = cells;
      for (const auto& c : columns)
        if (c != "at" && c != "prompt_tokens" && c != "new_tokens" && c != "priority") {
          r.error(path, where + ": line " + std::to_string(line_no) + ": unknown column \"" + c +
                            "\"; expected at, prompt_tokens, new_tokens, priority");
          return;
        }
      if (std::find(columns.begin(), columns.end(), "at") == columns.end()) {
        r.error(path, where + ": line " + std::to_string(line_no) + ": the header must name an \"at\" column");
        return;
      }
      continue;
    }
    if (cells.size() != columns.size()) {
      r.error(path, where + ": line " + std::to_string(line_no) + ": expected " + std::to_string(columns.size()) +
                        " comma-separated values, got " + std::to_string(cells.size()));
      return;
    }
    TraceArrival a;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      const std::string& v = cells[c];
      const std::string at = where + ": line " + std::to_string(line_no) + ", column " + columns[c] + ": ";
      if (columns[c] == "at") {
        auto q = parse_quantity(v, Quantity::Duration);
        char* end = nullptr;
        const double plain = std::strtod(v.c_str(), &end);
        if (q.value && *q.value >= 0 && std::isfinite(*q.value)) a.at_s = *q.value;
        else if (!v.empty() && end && *end == '\0' && plain >= 0 && std::isfinite(plain)) a.at_s = plain;
        else {
          r.error(path, at + "expected a time such as \"1.5s\" or a finite number of seconds >= 0, got \"" + v + "\"");
          return;
        }
      } else {
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || !end || *end != '\0' || n < 0 || n > (1 << 24)) {
          r.error(path, at + "expected an integer >= 0, got \"" + v + "\"");
          return;
        }
        (columns[c] == "prompt_tokens" ? a.prompt_tokens : columns[c] == "new_tokens" ? a.new_tokens : a.priority) = static_cast<int>(n);
      }
    }
    if (!sc.workload.trace.empty() && a.at_s < sc.workload.trace.back().at_s) {
      r.error(path, where + ": line " + std::to_string(line_no) + ": arrivals must be in time order");
      return;
    }
    sc.workload.trace.push_back(a);
  }
  if (sc.workload.trace.empty()) r.error(path, where + ": the trace has no arrivals");
  sc.workload.trace_file = where;
}

/// workload.fine_tuning (seed 002, section 2.4).
void read_fine_tuning(Reader& r, const json& v, WorkloadSpec& w) {
  const std::string fp = "workload.fine_tuning";
  if (!r.object(v, fp, "fine_tuning")) return;
  FineTuningSpec f;
  f.adapter.kind = r.choice<gpu::AdapterKind>(v, "adapter", fp, false,
                                              {{"lora", gpu::AdapterKind::Lora}, {"bottleneck", gpu::AdapterKind::Bottleneck}})
                       .value_or(gpu::AdapterKind::Lora);
  f.adapter.rank = static_cast<int>(r.integer(v, "rank", fp, false, 1, 65536).value_or(8));
  f.steps = static_cast<int>(r.integer(v, "steps", fp, true, 1, 100000000).value_or(1));
  f.optimizer = r.choice<gpu::Optimizer>(v, "optimizer", fp, false, {{"adam", gpu::Optimizer::Adam}, {"sgd", gpu::Optimizer::Sgd}})
                    .value_or(gpu::Optimizer::Adam);
  f.checkpoint_every = static_cast<int>(r.integer(v, "checkpoint_every", fp, false, 0, 100000000).value_or(0));
  f.replicas = static_cast<int>(r.integer(v, "replicas", fp, false, 1, 4096).value_or(1));
  f.sync_every = static_cast<int>(r.integer(v, "sync_every", fp, false, 1, 100000000).value_or(1));
  if (f.replicas == 1 && v.contains("sync_every"))
    r.error(fp + ".sync_every", "only applies to data-parallel jobs (\"replicas\" above 1): a lone session has nothing to average with");
  f.zero = static_cast<int>(r.integer(v, "zero", fp, false, 0, 2).value_or(0));
  if (f.zero > 0 && f.replicas == 1)
    r.error(fp + ".zero", "partitions the optimizer state across a data-parallel job's replicas: it needs \"replicas\" above 1");
  if (f.zero > 0 && f.sync_every != 1)
    r.error(fp + ".sync_every", "ZeRO (\"zero\": " + std::to_string(f.zero) +
                                    ") applies the job's mean gradient every step: \"sync_every\" must be 1 or left out, got " +
                                    std::to_string(f.sync_every));
  if (const json* t = Reader::get(v, "targets")) {
    const std::vector<std::pair<std::string, gpu::LoraTarget>> names{
        {"qkv", gpu::kLoraQkv}, {"o", gpu::kLoraO}, {"gate_up", gpu::kLoraGateUp}, {"down", gpu::kLoraDown}};
    if (f.adapter.kind != gpu::AdapterKind::Lora) {
      r.error(fp + ".targets", "only applies to \"adapter\": \"lora\"; a bottleneck adapter follows each block (eq. 5)");
    } else if (!t->is_array() || t->empty()) {
      r.error(fp + ".targets", "expected a non-empty array of \"qkv\", \"o\", \"gate_up\", \"down\", got " + type_name(*t));
    } else {
      f.adapter.targets = 0;
      for (std::size_t i = 0; i < t->size(); ++i) {
        const json& e = (*t)[i];
        const auto it = std::find_if(names.begin(), names.end(), [&](const auto& n) { return e.is_string() && e.get<std::string>() == n.first; });
        if (it == names.end())
          r.error(at_index(fp + ".targets", i), "expected one of \"qkv\", \"o\", \"gate_up\", \"down\", got " +
                                                    (e.is_string() ? "\"" + e.get<std::string>() + "\"" : type_name(e)));
        else
          f.adapter.targets |= it->second;
      }
    }
  }
  if (const json* l = Reader::get(v, "loss"); l && r.object(*l, fp + ".loss", "loss")) {
    const std::string lp = fp + ".loss";
    LossProxySpec p;
    p.width = static_cast<int>(r.integer(*l, "width", lp, false, 8, 1024).value_or(32));
    if (p.width % 8 != 0)
      r.error(lp + ".width", "expected a multiple of 8 (four query heads of an even width), got " + std::to_string(p.width));
    if (f.adapter.rank > p.width)
      r.error(fp + ".rank", std::to_string(f.adapter.rank) + " is above the loss proxy's width (" + lp + ".width, " + std::to_string(p.width) +
                                "); expected at most the width");
    p.vocab = static_cast<int>(r.integer(*l, "vocab", lp, false, 2, 65536).value_or(128));
    p.sequences = static_cast<int>(r.integer(*l, "sequences", lp, false, 1, 1024).value_or(2));
    p.tokens = static_cast<int>(r.integer(*l, "tokens", lp, false, 1, 4096).value_or(16));
    p.learning_rate = r.number(*l, "learning_rate", lp, false, 1e-12, 1e3, "in (0, 1000]").value_or(f.optimizer == gpu::Optimizer::Adam ? 3e-4 : 0.03);
    f.loss = p;
  }
  w.fine_tuning = f;
}

/// workload.arrival.phases: a non-empty array of {"rate", "duration"}, some rate positive.
void read_arrival_phases(Reader& r, const json& arrival, const std::string& ap, WorkloadSpec& w) {
  const std::string pp = ap + ".phases";
  const std::string what = "a non-empty array of phases such as {\"rate\": \"50/s\", \"duration\": \"10min\"}";
  const json* v = r.require(arrival, "phases", ap, what);
  if (!v) return;
  if (!v->is_array() || v->empty()) {
    r.error(pp, "expected " + what + ", got " + (v->is_array() ? "an empty array" : type_name(*v)));
    return;
  }
  if (v->size() > 1000) {
    r.error(pp, "at most 1000 phases (a day at 90 s a phase), got " + std::to_string(v->size()));
    return;
  }
  bool some_rate = false, complete = true;
  for (std::size_t i = 0; i < v->size(); ++i) {
    const std::string path = pp + "[" + std::to_string(i) + "]";
    const json& phase = (*v)[i];
    if (!r.object(phase, path, "arrival_phase")) {
      complete = false;
      continue;
    }
    const auto rate = r.quantity(phase, "rate", path, Quantity::Rate, true, false);
    const auto duration = r.quantity(phase, "duration", path, Quantity::Duration, true, true);
    if (!rate || !duration) {
      complete = false;
      continue;
    }
    some_rate |= *rate > 0;
    w.phases.push_back({*rate, *duration});
  }
  if (complete && !some_rate) r.error(pp, "every phase has rate 0, so no session would ever arrive; give one phase a positive rate");
}

void read_workload(Reader& r, const json& root, Scenario& sc) {
  const json* v = r.require(root, "workload", "", "an object with sessions, prompt_tokens and new_tokens");
  if (!v || !r.object(*v, "workload", "workload")) return;
  WorkloadSpec& w = sc.workload;
  const json* arrival = Reader::get(*v, "arrival");
  const bool traced = arrival && arrival->is_object() && arrival->contains("process") && (*arrival)["process"] == "trace";
  w.sessions = static_cast<int>(r.integer(*v, "sessions", "workload", !traced, 1, 100000000).value_or(traced ? 0 : 1));
  w.deadline_s = r.quantity(*v, "deadline", "workload", Quantity::Duration, false, true).value_or(0.0);
  w.start_s = r.quantity(*v, "start", "workload", Quantity::Duration, false, false).value_or(0.0);
  w.batch_size = static_cast<int>(r.integer(*v, "batch_size", "workload", false, 1, 65536).value_or(1));
  const json* model = Reader::get(root, "model");
  // A graph's or a tree's requests are single forward passes.
  const bool tokens = !(model && model->is_object() && (model->contains("graph") || model->contains("tree") || model->contains("coded")));
  const bool training = v->contains("fine_tuning");  // a fine-tuning session generates no tokens
  w.prompt_tokens = static_cast<int>(r.integer(*v, "prompt_tokens", "workload", tokens, 1, 1 << 24).value_or(1));
  w.new_tokens = static_cast<int>(r.integer(*v, "new_tokens", "workload", tokens && !training, 1, 1 << 24).value_or(1));
  if (training && v->contains("new_tokens"))
    r.error("workload.new_tokens", "does not apply to fine-tuning sessions (workload.fine_tuning): they train on prompt_tokens per sequence "
                                   "and generate nothing; set workload.fine_tuning.steps instead");
  if (const json* ft = Reader::get(*v, "fine_tuning")) read_fine_tuning(r, *ft, w);
  w.abandon_share = r.number(*v, "abandon_share", "workload", false, 0.0, 1.0, "in [0, 1]").value_or(0.0);
  if (v->contains("abandon_share") && (!tokens || training))
    r.error("workload.abandon_share", std::string("applies to sessions that generate tokens; ") +
                                          (training ? "fine-tuning sessions (workload.fine_tuning) are jobs, not users"
                                                    : "a graph model's, a tree's or coded inference's requests are single forward passes"));
  w.max_in_flight = static_cast<int>(r.integer(*v, "max_in_flight", "workload", false, 1, 1 << 20).value_or(4));
  if (const json* a = Reader::get(*v, "arrival")) {
    const std::string ap = "workload.arrival";
    if (r.object(*a, ap, "arrival")) {
      w.arrival = r.choice<ArrivalProcess>(*a, "process", ap, true,
                                           {{"all_at_start", ArrivalProcess::AllAtStart},
                                            {"fixed", ArrivalProcess::Fixed},
                                            {"poisson", ArrivalProcess::Poisson},
                                            {"trace", ArrivalProcess::Trace},
                                            {"phases", ArrivalProcess::Phases}})
                      .value_or(ArrivalProcess::AllAtStart);
      if (w.arrival == ArrivalProcess::Trace) {
        if (auto f = r.string(*a, "file", ap, true)) read_arrival_trace(r, *f, ap + ".file", sc);
      } else if (Reader::get(*a, "file")) {
        r.error(ap + ".file", "only applies to \"process\": \"trace\"");
      }
      if (w.arrival == ArrivalProcess::Fixed)
        w.interval_s = r.quantity(*a, "interval", ap, Quantity::Duration, true, false).value_or(0.0);
      else if (Reader::get(*a, "interval"))
        r.error(ap + ".interval", "only applies to \"process\": \"fixed\"");
      if (w.arrival == ArrivalProcess::Poisson)
        w.rate_per_s = r.quantity(*a, "rate", ap, Quantity::Rate, true, true).value_or(1.0);
      else if (Reader::get(*a, "rate"))
        r.error(ap + ".rate", "only applies to \"process\": \"poisson\" (with \"phases\", each phase has its own)");
      if (w.arrival == ArrivalProcess::Phases) read_arrival_phases(r, *a, ap, w);
      else if (Reader::get(*a, "phases"))
        r.error(ap + ".phases", "only applies to \"process\": \"phases\"");
    }
  }
  if (w.arrival == ArrivalProcess::Trace && !w.trace.empty()) {
    if (w.sessions == 0 || w.sessions > static_cast<int>(w.trace.size())) {
      if (w.sessions > static_cast<int>(w.trace.size()))
        r.error("workload.sessions", std::to_string(w.sessions) + " sessions but the trace has " + std::to_string(w.trace.size()) +
                                         " arrivals; leave sessions out to take them all");
      w.sessions = static_cast<int>(w.trace.size());
    }
    w.trace.resize(static_cast<std::size_t>(w.sessions));
  }
}

void read_policy(Reader& r, const json& root, Scenario& sc) {
  const json* v = Reader::get(root, "policy");
  if (!v || !r.object(*v, "policy", "policy")) return;
  PolicySpec& p = sc.policy;
  p.router = r.choice<RouterKind>(*v, "router", "policy", false,
                                  {{"eq18", RouterKind::Eq18},
                                   {"shortest_path", RouterKind::ShortestPath},
                                   {"random", RouterKind::Random}})
                 .value_or(RouterKind::Eq18);
  p.gamma = r.number(*v, "gamma", "policy", false, -16, 16, "in [-16, 16]").value_or(1.0);
  p.beta = r.number(*v, "beta", "policy", false, -16, 16, "in [-16, 16]").value_or(-1.0);
  p.alpha = r.number(*v, "alpha", "policy", false, -16, 16, "in [-16, 16]").value_or(-1.0);
  p.context = static_cast<int>(r.integer(*v, "context", "policy", false, 0, 1024).value_or(0));
  p.orchestrator = r.boolean(*v, "orchestrator", "policy").value_or(false);
  p.admission_timeout_s = r.quantity(*v, "admission_timeout", "policy", Quantity::Duration, false, false).value_or(60.0);
  p.admission_retry_s = r.quantity(*v, "admission_retry", "policy", Quantity::Duration, false, true).value_or(1.0);
  p.admission_jitter = r.number(*v, "admission_jitter", "policy", false, 0.0, 1.0, "in [0, 1]").value_or(0.0);
  if (const json* c = Reader::get(*v, "compression")) {
    const std::string cp = "policy.compression";
    if (r.object(*c, cp, "compression")) {
      CompressionSpec& cs = p.compression;
      cs.hidden_states = r.choice<bool>(*c, "hidden_states", cp, false, {{"none", false}, {"blockwise8", true}}).value_or(false);
      cs.block_size = static_cast<int>(r.integer(*c, "block_size", cp, false, 1, 1 << 20).value_or(64));
      cs.llm_int8_weights = r.choice<bool>(*c, "weights", cp, false, {{"none", false}, {"llm_int8", true}}).value_or(false);
      cs.outlier_threshold = r.number(*c, "outlier_threshold", cp, false, 0.0, 1e6, "in [0, 1e6]").value_or(6.0);
      cs.outlier_fraction = r.number(*c, "outlier_fraction", cp, false, 0.0, 1.0, "in [0, 1]").value_or(0.002);
    }
  }
  if (const json* pv = Reader::get(*v, "privacy")) {
    const std::string pp = "policy.privacy";
    if (r.object(*pv, pp, "privacy")) {
      PrivacySpec& ps = p.privacy;
      ps.client_blocks = static_cast<int>(r.integer(*pv, "client_blocks", pp, false, 0, 1 << 20).value_or(0));
      if (const json* dp = Reader::get(*pv, "differential_privacy")) {
        const std::string dpp = pp + ".differential_privacy";
        if (r.object(*dp, dpp, "differential_privacy")) {
          ps.epsilon = r.number(*dp, "epsilon", dpp, true, 1e-3, 100.0, "in [0.001, 100]").value_or(0.0);
          ps.delta = r.number(*dp, "delta", dpp, false, 1e-12, 0.1, "in [1e-12, 0.1]").value_or(ps.delta);
          ps.clip_norm = r.number(*dp, "clip_norm", dpp, false, 1e-6, 1e12, "in [1e-6, 1e12] (omit it for sqrt(hidden))").value_or(0.0);
        }
      }
    }
  }
  if (const json* vv = Reader::get(*v, "verification")) {
    const std::string vp = "policy.verification";
    if (r.object(*vv, vp, "verification")) {
      p.verification.rate = r.number(*vv, "rate", vp, true, 0.0, 1.0, "in [0, 1] (chance that a client checks a hop of a step)").value_or(0.0);
      p.verification.ban = r.boolean(*vv, "ban", vp).value_or(true);
      p.verification.tolerance =
          r.number(*vv, "tolerance", vp, false, 0.0, 10.0, "in [0, 10] (relative L2 distance up to which two outputs agree)").value_or(0.0);
    }
  }
  if (const json* rv = Reader::get(*v, "reputation")) {
    const std::string rp = "policy.reputation";
    if (r.object(*rv, rp, "reputation")) {
      ReputationSpec& rs = p.reputation;
      rs.estimate = r.choice<UptimeEstimate>(*rv, "estimate", rp, false,
                                             {{"declared_x_observed", UptimeEstimate::DeclaredTimesObserved},
                                              {"posterior", UptimeEstimate::Posterior}})
                        .value_or(UptimeEstimate::DeclaredTimesObserved);
      if (rs.estimate == UptimeEstimate::Posterior)
        rs.prior_s = r.quantity(*rv, "prior", rp, Quantity::Duration, false, false).value_or(rs.prior_s);
      else if (Reader::get(*rv, "prior"))
        r.error(rp + ".prior", "only applies to \"estimate\": \"posterior\"");
    }
  }
  if (const json* f = Reader::get(*v, "faults")) {
    const std::string fp = "policy.faults";
    if (r.object(*f, fp, "faults")) {
      FaultToleranceSpec& ft = p.faults;
      ft.heartbeat_s = r.quantity(*f, "heartbeat", fp, Quantity::Duration, false, true).value_or(ft.heartbeat_s);
      ft.heartbeat_misses = static_cast<int>(r.integer(*f, "heartbeat_misses", fp, false, 1, 1000).value_or(ft.heartbeat_misses));
      ft.transfer_timeout_s = r.quantity(*f, "transfer_timeout", fp, Quantity::Duration, false, true).value_or(ft.transfer_timeout_s);
      ft.retry_attempts = static_cast<int>(r.integer(*f, "retries", fp, false, 1, 100).value_or(ft.retry_attempts));
      ft.retry_backoff_s = r.quantity(*f, "retry_backoff", fp, Quantity::Duration, false, false).value_or(ft.retry_backoff_s);
      ft.corruption_rate = r.number(*f, "corruption_rate", fp, false, 0.0, 0.5, "in [0, 0.5]").value_or(ft.corruption_rate);
      ft.checksum_Bps = r.quantity(*f, "checksum_bandwidth", fp, Quantity::Bandwidth, false, true).value_or(ft.checksum_Bps);
      ft.failback = r.boolean(*f, "failback", fp).value_or(ft.failback);
      ft.session_timeout_s = r.quantity(*f, "session_timeout", fp, Quantity::Duration, false, false).value_or(ft.session_timeout_s);
    }
  }
  if (const json* d = Reader::get(*v, "dht")) {
    const std::string dp = "policy.dht";
    if (r.object(*d, dp, "dht")) {
      DhtSpec& ds = p.dht;
      ds.enabled = r.boolean(*d, "enabled", dp).value_or(true);
      ds.k = static_cast<int>(r.integer(*d, "k", dp, false, 1, 1000).value_or(ds.k));
      ds.alpha = static_cast<int>(r.integer(*d, "alpha", dp, false, 1, 100).value_or(ds.alpha));
      ds.rpc_timeout_s = r.quantity(*d, "rpc_timeout", dp, Quantity::Duration, false, true).value_or(ds.rpc_timeout_s);
      ds.record_ttl_s = r.quantity(*d, "record_ttl", dp, Quantity::Duration, false, true).value_or(ds.record_ttl_s);
      ds.client_refresh_s = r.quantity(*d, "client_refresh", dp, Quantity::Duration, false, true).value_or(ds.client_refresh_s);
    }
  }
  if (const json* t = Reader::get(*v, "topology")) {
    const std::string tp = "policy.topology";
    if (r.object(*t, tp, "topology")) {
      TopologyMonitorSpec& ts = p.topology;
      ts.period_s = r.quantity(*t, "period", tp, Quantity::Duration, true, true).value_or(10.0);
      ts.states = static_cast<int>(r.integer(*t, "states", tp, false, 1, 64).value_or(3));
      ts.apply_schemes = r.boolean(*t, "apply_schemes", tp).value_or(true);
      ts.stability_reliability = r.boolean(*t, "stability_reliability", tp).value_or(true);
    }
  }
  if (const json* b = Reader::get(*v, "rebalance")) {
    const std::string bp = "policy.rebalance";
    if (r.object(*b, bp, "rebalance")) {
      p.rebalance.period_s = r.quantity(*b, "period", bp, Quantity::Duration, false, true).value_or(60.0);
      p.rebalance.balance_quality = r.number(*b, "balance_quality", bp, false, 0.01, 1.0, "in [0.01, 1]").value_or(0.75);
    }
  }
  if (const json* c = Reader::get(*v, "scheduler")) {
    const std::string cp = "policy.scheduler";
    if (r.object(*c, cp, "scheduler")) {
      p.scheduler.kind = r.choice<SchedulerKind>(*c, "kind", cp, true,
                                                 {{"shared", SchedulerKind::Shared}, {"fcfs", SchedulerKind::Fcfs},
                                                  {"priority", SchedulerKind::Priority}, {"batch", SchedulerKind::Batch}})
                             .value_or(SchedulerKind::Shared);
      p.scheduler.batch_max = static_cast<int>(r.integer(*c, "batch_max", cp, false, 1, 4096).value_or(8));
      p.scheduler.batch_wait_s = r.quantity(*c, "batch_wait", cp, Quantity::Duration, false, false).value_or(0.005);
      if (p.scheduler.kind != SchedulerKind::Batch && (Reader::get(*c, "batch_max") || Reader::get(*c, "batch_wait")))
        r.error(cp, "batch_max and batch_wait apply to \"kind\": \"batch\" only");
    }
  }
  if (const json* c = Reader::get(*v, "partitioner")) {
    const std::string pp = "policy.partitioner";
    const json* model = Reader::get(root, "model");
    if (!(model && model->is_object() && model->contains("graph")))
      r.error(pp, "applies to graph models only (model.graph); a transformer is served as a chain of blocks");
    if (r.object(*c, pp, "partitioner")) {
      PartitionerSpec& ps = p.partitioner;
      if (auto m = r.string(*c, "method", pp, false)) {
        if (auto parsed = partition::method_from_string(*m))
          ps.method = *parsed;
        else
          r.error(pp + ".method", "unknown method \"" + *m + "\"" + suggestion(*m, partition::method_names()) +
                                      "; expected one of " + quoted_list(partition::method_names()));
      }
      ps.stages = static_cast<int>(r.integer(*c, "stages", pp, false, 1, 100000).value_or(0));
      ps.placement = r.choice<PlacementKind>(*c, "placement", pp, false,
                                             {{"optimal", PlacementKind::Optimal}, {"greedy", PlacementKind::Greedy}})
                         .value_or(PlacementKind::Optimal);
      ps.brkga.population = static_cast<int>(r.integer(*c, "population", pp, false, 2, 100000).value_or(ps.brkga.population));
      ps.brkga.generations = static_cast<int>(r.integer(*c, "generations", pp, false, 1, 1000000).value_or(ps.brkga.generations));
      ps.brkga.elite_fraction = r.number(*c, "elite_fraction", pp, false, 0.01, 0.9, "in [0.01, 0.9]").value_or(ps.brkga.elite_fraction);
      ps.brkga.mutant_fraction = r.number(*c, "mutant_fraction", pp, false, 0.0, 0.9, "in [0, 0.9]").value_or(ps.brkga.mutant_fraction);
      if (ps.brkga.elite_fraction + ps.brkga.mutant_fraction >= 1.0)
        r.error(pp, "elite_fraction + mutant_fraction must stay below 1 (room for crossover children)");
      ps.brkga.rho = r.number(*c, "rho", pp, false, 0.01, 0.99, "in [0.01, 0.99]").value_or(ps.brkga.rho);
      ps.brkga.crossover = r.choice<partition::Crossover>(*c, "crossover", pp, false,
                                                          {{"biased_uniform", partition::Crossover::BiasedUniform},
                                                           {"blend", partition::Crossover::Blend}})
                               .value_or(partition::Crossover::BiasedUniform);
      if (const json* m = Reader::get(*c, "migrate"); m && r.object(*m, pp + ".migrate", "migrate")) {
        const std::string mp = pp + ".migrate";
        ps.migrate_period_s = r.quantity(*m, "period", mp, Quantity::Duration, true, true).value_or(0.0);
        ps.migrate_min_gain = r.number(*m, "min_gain", mp, false, 0.0, 0.99, "in [0, 0.99]").value_or(ps.migrate_min_gain);
      }
      ps.handover = r.choice<Handover>(*c, "handover", pp, false, {{"drain", Handover::Drain}, {"forward", Handover::Forward}, {"resend", Handover::Resend}})
                        .value_or(Handover::Resend);
      if (const json* o = Reader::get(*c, "objective"); o && r.object(*o, pp + ".objective", "objective")) {
        const std::string op = pp + ".objective";
        PlanObjectiveSpec& obj = ps.objective;
        obj.set = true;
        obj.minimize = r.choice<PlanGoal>(*o, "minimize", op, false,
                                          {{to_string(PlanGoal::Bottleneck), PlanGoal::Bottleneck}, {to_string(PlanGoal::Cost), PlanGoal::Cost},
                                           {to_string(PlanGoal::Energy), PlanGoal::Energy}, {to_string(PlanGoal::Latency), PlanGoal::Latency}})
                           .value_or(PlanGoal::Bottleneck);
        obj.min_requests_per_s = r.quantity(*o, "min_throughput", op, Quantity::Rate, false, false);  // "0/s": may fall behind
        obj.max_latency_s = r.quantity(*o, "max_latency", op, Quantity::Duration, false, true).value_or(obj.max_latency_s);
        obj.max_joules_per_request = r.quantity(*o, "max_energy_per_request", op, Quantity::Energy, false, true).value_or(obj.max_joules_per_request);
        obj.max_cost_per_s = r.quantity(*o, "max_cost", op, Quantity::PricePerTime, false, true).value_or(obj.max_cost_per_s);
        obj.unused_nodes = r.choice<UnusedNodes>(*o, "unused_nodes", op, false, {{"off", UnusedNodes::Off}, {"standby", UnusedNodes::Standby}})
                               .value_or(UnusedNodes::Standby);
      }
    }
  }
  p.partitioner.brkga.seed = sc.seed;
}

void read_overheads(Reader& r, const json& root, Scenario& sc) {
  const json* v = Reader::get(root, "overheads");
  if (!v || !r.object(*v, "overheads", "overheads")) return;
  OverheadSpec& o = sc.overheads;
  o.rpc_s = r.quantity(*v, "rpc", "overheads", Quantity::Duration, false, false).value_or(o.rpc_s);
  o.serialization_Bps =
      r.quantity(*v, "serialization_bandwidth", "overheads", Quantity::Bandwidth, false, true).value_or(o.serialization_Bps);
  o.header_bytes = r.quantity(*v, "message_header", "overheads", Quantity::Size, false, false).value_or(o.header_bytes);
  o.round_trips = r.number(*v, "round_trips", "overheads", false, 0, 1000, "in [0, 1000]").value_or(o.round_trips);
  o.runtime_memory_bytes =
      r.quantity(*v, "runtime_memory", "overheads", Quantity::Size, false, false).value_or(o.runtime_memory_bytes);
}

void read_events(Reader& r, const json& root, Scenario& sc) {
  const json* v = Reader::get(root, "events");
  if (!v) return;
  if (!v->is_array()) {
    r.error("events", "expected an array of replay events, got " + type_name(*v));
    return;
  }
  for (std::size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    const std::string p = at_index("events", i);
    if (!r.object(e, p, "event")) continue;
    ReplayEvent ev;
    ev.at_s = r.quantity(e, "at", p, Quantity::Duration, true, false).value_or(0.0);
    auto action = r.choice<EventAction>(e, "action", p, true,
                                        {{"node_down", EventAction::NodeDown},
                                         {"node_up", EventAction::NodeUp},
                                         {"set_bandwidth", EventAction::SetBandwidth},
                                         {"set_latency", EventAction::SetLatency}});
    ev.node = r.name(e, "node", p, true, "; expected a node or client name").value_or("");
    if (!action) continue;
    ev.action = *action;
    const auto forbid = [&](std::string_view key) {
      if (Reader::get(e, key))
        r.error(child(p, key), "does not apply to \"action\": \"" + std::string(to_string(ev.action)) + "\"");
    };
    switch (ev.action) {
      case EventAction::NodeDown:
      case EventAction::NodeUp:
        forbid("peer"); forbid("direction"); forbid("bandwidth"); forbid("latency");
        break;
      case EventAction::SetBandwidth:
        forbid("peer"); forbid("latency");
        ev.direction = r.choice<LinkDirection>(e, "direction", p, false,
                                               {{"up", LinkDirection::Up},
                                                {"down", LinkDirection::Down},
                                                {"both", LinkDirection::Both}})
                           .value_or(LinkDirection::Both);
        ev.value = r.quantity(e, "bandwidth", p, Quantity::Bandwidth, true, true).value_or(1.0);
        break;
      case EventAction::SetLatency:
        forbid("direction"); forbid("bandwidth");
        ev.peer = r.name(e, "peer", p, false, "; leave \"peer\" out to change the node's access latency").value_or("");
        ev.value = r.quantity(e, "latency", p, Quantity::Duration, true, false).value_or(0.0);
        break;
    }
    sc.events.push_back(ev);
  }
}

void read_churn(Reader& r, const json& root, Scenario& sc) {
  const json* v = Reader::get(root, "churn");
  if (!v || !r.object(*v, "churn", "churn")) return;
  ChurnSpec c;
  c.mttr_s = r.quantity(*v, "mttr", "churn", Quantity::Duration, true, true).value_or(60.0);
  c.until_s = r.quantity(*v, "until", "churn", Quantity::Duration, true, true).value_or(1.0);
  c.mtbf_s = r.quantity(*v, "mtbf", "churn", Quantity::Duration, false, true);
  if (const json* g = Reader::get(*v, "regional"); g && r.object(*g, "churn.regional", "regional")) {
    ChurnSpec::Regional reg;
    reg.every_s = r.quantity(*g, "every", "churn.regional", Quantity::Duration, true, true).value_or(3600.0);
    reg.lasts_s = r.quantity(*g, "lasts", "churn.regional", Quantity::Duration, true, true).value_or(60.0);
    reg.radius_km = r.quantity(*g, "radius", "churn.regional", Quantity::Distance, true, false).value_or(0.0);
    reg.clients = r.boolean(*g, "clients", "churn.regional").value_or(false);
    c.regional = reg;
  }
  sc.churn = c;
}

/// What does not model a client's outage (nullptr: sessions that generate tokens, which do). A
/// client's outage ends its sessions (sim/swarm/client_outages.hpp): such sessions have a step to
/// notice it at; pipelines, trees, coded runs and training do not.
/// What a scenario runs in place of a swarm of blocks (graph pipelines, Fisher B-trees, coded
/// inference), for messages; nullptr for a swarm of blocks.
const char* not_a_swarm_of_blocks(const Scenario& sc) {
  return sc.graph ? "graph pipelines" : sc.tree ? "Fisher B-trees" : sc.coded ? "erasure-coded inference" : nullptr;
}

const char* without_client_outages(const Scenario& sc) {
  if (const char* kind = not_a_swarm_of_blocks(sc)) return kind;
  return sc.workload.fine_tuning ? "fine-tuning sessions" : nullptr;
}

/// The servers the listed node_down or node_up events name, each with the index of its first
/// such event: drawn churn spares them.
std::unordered_map<std::string, std::size_t> servers_with_listed_failures(const Scenario& sc) {
  std::unordered_map<std::string, std::size_t> listed;
  for (std::size_t k = 0; k < sc.events.size(); ++k)
    if (sc.events[k].action == EventAction::NodeDown || sc.events[k].action == EventAction::NodeUp) listed.emplace(sc.events[k].node, k);
  return listed;
}

/// A node's own "mtbf" or "mttr" is read by drawn churn only, which spares the servers the
/// listed events name: refuse the keys on such a server. (Without a top-level churn they are
/// read by nothing either, which validate advises about: `--set churn=null` compares the same
/// swarm without churn.)
void check_node_churn(Reader& r, const Scenario& sc) {
  if (!sc.churn) return;
  const auto listed = servers_with_listed_failures(sc);
  for (std::size_t i = 0; i < sc.nodes.size(); ++i) {
    const NodeSpec& n = sc.nodes[i];
    const char* key = n.mtbf_s ? "mtbf" : n.mttr_s ? "mttr" : nullptr;
    if (!key) continue;
    if (const auto it = listed.find(n.name); it != listed.end())
      r.error(r.node_path[i] + "." + key, r.node_label[i] + "drawn churn spares \"" + n.name + "\": events[" + std::to_string(it->second) +
                                             "] lists its failures; remove the key or the listed node_down/node_up");
  }
  for (std::size_t i = 0; i < sc.clients.size(); ++i)
    if (const auto it = listed.find(sc.clients[i].name); it != listed.end() && sc.clients[i].mtbf_s)
      r.error(at_index("clients", i) + ".mtbf", "drawn churn spares \"" + sc.clients[i].name + "\": events[" + std::to_string(it->second) +
                                                    "] lists its failures; remove the key or the listed node_down/node_up");
}

/// The failures `churn` draws, for every server no listed node_down or node_up names.
void draw_churn(Reader& r, Scenario& sc) {
  constexpr double kMaxEvents = 1e6;  // ~100 MB of events: far beyond any run worth watching
  const ChurnSpec& churn = *sc.churn;
  constexpr const char* kEvents = "node_down/node_up events";
  constexpr const char* kFewerFailures = "raise \"mtbf\" or the nodes' uptime";
  const auto too_many = [&](double n, const char* what, const char* remedy) {
    char msg[360];
    std::snprintf(msg, sizeof msg, "would draw about %.3g %s for %zu servers (at most %.0f); shorten \"until\", %s", n, what,
                  sc.nodes.size(), kMaxEvents, remedy);
    r.error("churn", msg);
  };
  const auto listed = servers_with_listed_failures(sc);
  double expected = 0.0;
  for (const NodeSpec& n : sc.nodes)
    if (!listed.count(n.name)) expected += churn_expected_events(churn, n);
  for (const ClientSpec& c : sc.clients) expected += churn_expected_events(churn, churning_client(c));
  if (expected > kMaxEvents) return too_many(expected, kEvents, kFewerFailures);
  // Regional outages: every server located, and their number bounded before they are drawn.
  std::vector<std::vector<std::pair<double, double>>> regional(sc.nodes.size()), regional_clients(sc.clients.size());
  if (churn.regional) {
    if (const double outages = churn.until_s / churn.regional->every_s; outages > kMaxEvents)
      return too_many(outages, "regional outages", "or space the outages (\"regional.every\")");
    for (std::size_t i = 0; i < sc.nodes.size(); ++i)
      if (!sc.nodes[i].location) {
        r.error("churn.regional", "needs every server's location to know which ones an outage takes down; " + r.node_path[i] +
                                      " has none (give nodes a \"location\", as \"network.latency\": \"geo\" does)");
        return;
      }
    double downs = 0.0;
    if (churn.regional->clients) {
      if (const char* no = without_client_outages(sc)) {
        r.error("churn.regional.clients", std::string("a client's outage applies to sessions that generate tokens, not to ") + no);
        return;
      }
      for (std::size_t c = 0; c < sc.clients.size(); ++c)
        if (!sc.clients[c].location) {
          r.error("churn.regional.clients", "needs every client's location to know which ones an outage takes down; " +
                                                at_index("clients", c) + " has none");
          return;
        }
    }
    for (const RegionalOutage& o : regional_outages(churn, sc.nodes, sc.seed)) {
      downs += static_cast<double>(o.servers.size());
      for (const int i : o.servers) regional[static_cast<std::size_t>(i)].emplace_back(o.start_s, o.end_s);
      if (churn.regional->clients)
        for (const int c : clients_within(o, sc.nodes, sc.clients, churn.regional->radius_km)) {
          downs += 1.0;
          regional_clients[static_cast<std::size_t>(c)].emplace_back(o.start_s, o.end_s);
        }
    }
    if (expected + 2.0 * downs > kMaxEvents) return too_many(expected + 2.0 * downs, kEvents, kFewerFailures);
  }
  // A host's own down periods and its regions' outages, as events; where they overlap it is down once.
  const auto draw_host = [&](const NodeSpec& host, std::vector<std::pair<double, double>> down) {
    const std::vector<ReplayEvent> own = churn_events(churn, host, sc.seed);
    for (std::size_t k = 0; k < own.size(); k += 2)
      down.emplace_back(own[k].at_s, k + 1 < own.size() ? own[k + 1].at_s : std::numeric_limits<double>::infinity());
    for (ReplayEvent& e : down_periods_as_events(std::move(down), host.name)) sc.events.push_back(std::move(e));
  };
  for (std::size_t i = 0; i < sc.nodes.size(); ++i)
    if (!listed.count(sc.nodes[i].name)) draw_host(sc.nodes[i], std::move(regional[i]));
  // Clients no listed event names, as servers: their own failures with their own mtbf (without one
  // they never fail of their own), and with regional.clients their regions' outages.
  for (std::size_t c = 0; c < sc.clients.size(); ++c)
    if (!listed.count(sc.clients[c].name)) draw_host(churning_client(sc.clients[c]), std::move(regional_clients[c]));
}

void read_outputs(Reader& r, const json& root, Scenario& sc) {
  const json* v = Reader::get(root, "outputs");
  if (!v || !r.object(*v, "outputs", "outputs")) return;
  OutputSpec& o = sc.outputs;
  o.metrics = r.boolean(*v, "metrics", "outputs").value_or(true);
  o.trace = r.boolean(*v, "trace", "outputs").value_or(true);
  o.events = r.boolean(*v, "events", "outputs").value_or(true);
  o.trace_max_events = static_cast<long>(r.integer(*v, "trace_max_events", "outputs", false, 0, 1LL << 40).value_or(500000));
}

void read_costs(Reader& r, const json& root, Scenario& sc) {
  const json* v = Reader::get(root, "costs");
  if (!v || !r.object(*v, "costs", "costs")) return;
  CostSpec c;
  if (auto cur = r.string(*v, "currency", "costs", false)) {
    if (cur->empty() || cur->size() > 8 || std::any_of(cur->begin(), cur->end(), [](unsigned char ch) { return !std::isalpha(ch); }))
      r.error("costs.currency", "\"" + *cur + "\" is not a currency name; expected 1 to 8 letters such as \"USD\" or \"EUR\"");
    else
      c.currency = *cur;
  }
  c.rent_per_s = r.quantity(*v, "rent", "costs", Quantity::PricePerTime, false, false).value_or(0.0);
  c.electricity_per_j = r.quantity(*v, "electricity", "costs", Quantity::PricePerEnergy, false, false).value_or(0.0);
  sc.costs = c;
}

void read_simulation(Reader& r, const json& root, Scenario& sc) {
  const json* v = Reader::get(root, "simulation");
  if (!v || !r.object(*v, "simulation", "simulation")) return;
  sc.time_limit_s = r.quantity(*v, "time_limit", "simulation", Quantity::Duration, false, true).value_or(86400.0);
  sc.pricing = r.choice<Pricing>(*v, "pricing", "simulation", false, {{"auto", Pricing::Auto}, {"roofline", Pricing::Roofline}})
                   .value_or(Pricing::Auto);
  sc.engine = r.choice<EngineKind>(*v, "engine", "simulation", false, {{"simgrid", EngineKind::SimGrid}, {"flow", EngineKind::Flow}})
                  .value_or(EngineKind::SimGrid);
}

// ---------------------------------------------------------------------------------------------
// [SECTION] Cross-field checks: names, locations, memory, coverage
// ---------------------------------------------------------------------------------------------

void check_swarm(Reader& r, Scenario& sc) {
  // Names are unique across nodes and clients: events and the RTT matrix refer to them.
  std::unordered_map<std::string, std::string> seen;  // name -> path of first use
  for (std::size_t i = 0; i < sc.nodes.size(); ++i) {
    const std::string p = r.node_path[i] + ".name";
    if (sc.nodes[i].name.empty()) continue;
    if (auto [it, fresh] = seen.emplace(sc.nodes[i].name, p); !fresh)
      r.error(p, r.node_label[i] + "duplicate name \"" + sc.nodes[i].name + "\" (also at " + it->second + ")");
  }
  for (std::size_t i = 0; i < sc.clients.size(); ++i) {
    const std::string p = at_index("clients", i) + ".name";
    if (sc.clients[i].name.empty()) continue;
    if (auto [it, fresh] = seen.emplace(sc.clients[i].name, p); !fresh)
      r.error(p, "duplicate name \"" + sc.clients[i].name + "\" (also at " + it->second + ")");
  }

  // Node keys the other run kinds would ignore without a word: their servers are up from the
  // start and hold no block ranges to size.
  if (const char* kind = not_a_swarm_of_blocks(sc)) {
    for (const auto& [at, key] : r.block_swarm_node_keys) {
      const std::string k = key;
      const std::string what = k == "join_at" ? "sets when a server starts loading its blocks"
                               : k == "max_blocks" ? "caps an \"auto\" block range"
                                                   : "sizes an \"auto\" block range for its KV cache";
      r.error(at + "." + k, what + ", which only swarms of blocks read; in " + kind +
                                " every server is up from the start and holds no block range: remove \"" + k + "\"");
    }
  }

  // Geographic latency needs every host located; a matrix must name every host once.
  if (sc.network.latency == LatencyModel::Geo) {
    for (std::size_t i = 0; i < sc.nodes.size(); ++i)
      if (!sc.nodes[i].location && (i == 0 || r.node_path[i] != r.node_path[i - 1]))  // once per file entry
        r.error(r.node_path[i] + ".location",
                "missing; \"network.latency\": \"geo\" needs {\"lat\": ..., \"lon\": ...} for every node");
    for (std::size_t i = 0; i < sc.clients.size(); ++i)
      if (!sc.clients[i].location)
        r.error(at_index("clients", i) + ".location",
                "missing; \"network.latency\": \"geo\" needs {\"lat\": ..., \"lon\": ...} for every client");
  } else {
    std::unordered_set<std::string> listed;
    for (std::size_t i = 0; i < sc.network.matrix_hosts.size(); ++i) {
      const std::string& h = sc.network.matrix_hosts[i];
      if (!seen.count(h))
        r.error(at_index("network.rtt_matrix.hosts", i), "unknown host \"" + h + "\"; expected a node or client name");
      if (!listed.insert(h).second)
        r.error(at_index("network.rtt_matrix.hosts", i), "host \"" + h + "\" is listed twice");
    }
    for (const auto& [name, path] : seen)
      if (!listed.count(name))
        r.error("network.rtt_matrix.hosts", "host \"" + name + "\" (" + path + ") is missing from the RTT matrix");
  }

  for (std::size_t i = 0; i < sc.clients.size(); ++i)
    if (const char* no = without_client_outages(sc); no && (sc.clients[i].mtbf_s || sc.clients[i].mttr_s))
      r.error(at_index("clients", i) + (sc.clients[i].mtbf_s ? ".mtbf" : ".mttr"),
              std::string("a client's drawn failures apply to sessions that generate tokens, not to ") + no);

  // Events refer to existing hosts; up/down to servers, or to clients of sessions that generate tokens.
  for (std::size_t i = 0; i < sc.events.size(); ++i) {
    const ReplayEvent& e = sc.events[i];
    const std::string where = at_index("events", i);  // still in file order: sorted after the checks
    if (!e.node.empty() && !seen.count(e.node))
      r.error(where + ".node", "unknown node \"" + e.node + "\"; expected a node or client name");
    if (!e.peer.empty() && !seen.count(e.peer))
      r.error(where + ".peer", "unknown peer \"" + e.peer + "\"; expected a node or client name");
    if (!e.peer.empty() && e.peer == e.node)
      r.error(where + ".peer", "is the event's own node \"" + e.node + "\"; a pair latency needs two hosts");
    const char* no_client_outage = without_client_outages(sc);
    if ((e.action == EventAction::NodeDown || e.action == EventAction::NodeUp) && seen.count(e.node) &&
        seen[e.node].rfind("clients", 0) == 0 && no_client_outage)
      r.error(where + ".node", "\"" + e.node + "\" is a client; a client's node_down/node_up applies to sessions that generate tokens, not to " +
                                   no_client_outage + "; name a server node");
  }

  // SimGrid 3.32's LV08 ("tcp") model aborts ("Variable penalty should not be negative") when a
  // bandwidth profile raises a link's bandwidth while flows cross it: refuse such scenarios
  // with the reason instead of crashing mid-run.
  if (sc.network.model == NetworkModel::Tcp) {
    std::map<std::string, std::pair<double, double>> bw;  // node -> (up, down) as replayed so far
    for (const NodeSpec& n : sc.nodes) bw[n.name] = {n.uplink_Bps, n.downlink_Bps};
    for (const ClientSpec& c : sc.clients) bw[c.name] = {c.uplink_Bps, c.downlink_Bps};
    std::vector<std::size_t> order(sc.events.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return sc.events[a].at_s < sc.events[b].at_s; });
    for (std::size_t i : order) {
      const ReplayEvent& e = sc.events[i];
      if (e.action != EventAction::SetBandwidth || !bw.count(e.node)) continue;
      auto& [up, down] = bw[e.node];
      const bool raises = (e.direction != LinkDirection::Down && e.value > up) || (e.direction != LinkDirection::Up && e.value > down);
      if (raises)
        r.error(at_index("events", i) + ".bandwidth",
                "raises " + e.node + "'s bandwidth to " + format_bandwidth(e.value) +
                    ", which SimGrid 3.32's \"tcp\" (LV08) model cannot replay (it aborts with \"Variable penalty should not be "
                    "negative\"); use \"network\": {\"model\": \"exact\"} for scenarios whose links recover, or only lower bandwidths");
      if (e.direction != LinkDirection::Down) up = e.value;
      if (e.direction != LinkDirection::Up) down = e.value;
    }
  }
  // Split learning and its noise (policy.privacy), dishonest servers and spot checks (seed 002,
  // section 6) apply to a transformer served as a chain of blocks.
  const PrivacySpec& privacy = sc.policy.privacy;
  if (sc.coded || sc.tree || sc.graph) {
    const std::string what = sc.coded ? "erasure-coded models (model.coded)" : sc.tree ? "a Fisher B-tree (model.tree)" : "a graph model as a pipeline (model.graph)";
    if (privacy.client_blocks > 0 || privacy.noisy())
      r.error("policy.privacy", "applies to a transformer served as a chain of blocks; this scenario serves " + what);
    if (sc.policy.verification.enabled())
      r.error("policy.verification", "applies to a transformer served as a chain of blocks; this scenario serves " + what);
    if (sc.workload.fine_tuning)
      r.error("workload.fine_tuning", "applies to a transformer served as a chain of blocks; this scenario serves " + what);
    for (std::size_t i = 0; i < sc.nodes.size(); ++i)
      if (sc.nodes[i].dishonest && (i == 0 || r.node_path[i] != r.node_path[i - 1]))
        r.error(r.node_path[i] + ".dishonest", "applies to servers of a chain of blocks; this scenario serves " + what);
  }
  if (const auto& ft = sc.workload.fine_tuning; ft && !(sc.coded || sc.tree || sc.graph)) {
    // A training step's outputs are gradients, not tokens a spot check can recompute and compare.
    const std::string why = " does not apply to fine-tuning sessions (workload.fine_tuning): ";
    if (sc.policy.verification.enabled())
      r.error("policy.verification", "spot checks of generated tokens" + why + "they generate none");
    // A dishonest server's wrong forward outputs are drawn per training step and poison it (the
    // loss proxy trains on them); a lazy one would skip legs the step's timing prices.
    for (std::size_t i = 0; i < sc.nodes.size(); ++i)
      if (sc.nodes[i].dishonest && sc.nodes[i].dishonest->lazy && (i == 0 || r.node_path[i] != r.node_path[i - 1]))
        r.error(r.node_path[i] + ".dishonest.lazy", "a lazy cheater skips its work, which" + why +
                                                        "a training step's legs are priced whole; remove \"lazy\"");
    if (ft->replicas > 1 && sc.workload.sessions % ft->replicas != 0)
      r.error("workload.fine_tuning.replicas", std::to_string(ft->replicas) + " sessions per job do not divide workload.sessions (" +
                                                   std::to_string(sc.workload.sessions) + "): every job needs all its replicas");
    if (ft->loss && (sc.model.n_experts != 1 || sc.model.mlp != gpu::MlpKind::GatedSilu || sc.model.layer_norm))
      r.error("workload.fine_tuning.loss", "trains a Llama-style dense proxy (RMSNorm, RoPE, SiLU-gated MLP); " + sc.model.name +
                                               " is not one, so its loss has no proxy here");
    if (ft->adapter.rank > sc.model.hidden)
      r.error("workload.fine_tuning.rank", std::to_string(ft->adapter.rank) + " is not a low rank for " + sc.model.name +
                                               " (hidden width " + std::to_string(sc.model.hidden) + "); expected at most the width");
    for (std::size_t i = 0; i < sc.workload.trace.size(); ++i)
      if (sc.workload.trace[i].new_tokens > 0 || sc.workload.trace[i].prompt_tokens > 0) {
        r.error(sc.workload.trace_file, "arrival " + std::to_string(i + 1) + " sets its own token counts, which" + why +
                                            "every session of a training run takes batches of workload.prompt_tokens and generates none");
        break;
      }
  }
  if (sc.coded) {  // erasure-coded inference: member m (N task models, then the coded ones) on server node m
    const int needed = sc.coded->models + sc.coded->parity;
    if (static_cast<int>(sc.nodes.size()) < needed)
      r.error("nodes", std::to_string(sc.coded->models) + " models (model.coded.models) and " + std::to_string(sc.coded->parity) +
                           (sc.coded->parity == 1 ? " coded model" : " coded models") + " (model.coded.parity) need " + std::to_string(needed) + " server nodes, one each in order (later ones are spares); the scenario has " +
                           std::to_string(sc.nodes.size()));
    for (std::size_t i = 0; i < sc.nodes.size() && i < static_cast<std::size_t>(needed); ++i) {
      if (i > 0 && r.node_path[i] == r.node_path[i - 1]) continue;  // copies of one entry: checked once
      if (sc.nodes[i].blocks) r.error(r.node_path[i] + ".blocks", "does not apply to erasure-coded inference: server node m serves model m");
      if (const gpu::DeviceSpec* d = sc.nodes[i].device; d && sc.coded->node_param_bytes > usable_memory_bytes(*d, sc.overheads))
        r.error(r.node_path[i] + ".gpu", "a model's " + format_bytes(sc.coded->node_param_bytes) + " of parameters (model.coded.node_params) "
                                         "do not fit in " + d->name + "'s " + format_bytes(usable_memory_bytes(*d, sc.overheads)) + " usable memory");
    }
    if (sc.overheads.round_trips > 0)
      r.error("overheads.round_trips", "applies to the hidden-state messages of a transformer's chain, not to erasure-coded inference");
    return;
  }
  if (sc.tree) {  // a Fisher B-tree: its root and first leaves need a server node each
    const int needed = sc.tree->initial_children > 1 ? sc.tree->initial_children + 1 : 1;
    if (static_cast<int>(sc.nodes.size()) < needed)
      r.error("nodes", "the tree's root and its " + std::to_string(sc.tree->initial_children) + " leaves (model.tree.initial_children) need " +
                           std::to_string(needed) + " server nodes, the scenario has " + std::to_string(sc.nodes.size()));
    for (std::size_t i = 0; i < sc.nodes.size(); ++i) {
      if (i > 0 && r.node_path[i] == r.node_path[i - 1]) continue;  // copies of one entry: checked once
      if (sc.nodes[i].blocks) r.error(r.node_path[i] + ".blocks", "does not apply to a Fisher B-tree: the tree places its nodes");
      // Any server may host a tree node: its parameters must fit beside the runtime.
      if (const gpu::DeviceSpec* d = sc.nodes[i].device; d && sc.tree->node_param_bytes > usable_memory_bytes(*d, sc.overheads))
        r.error(r.node_path[i] + ".gpu", "a tree node's " + format_bytes(sc.tree->node_param_bytes) + " of parameters (model.tree.node_params) "
                                         "do not fit in " + d->name + "'s " + format_bytes(usable_memory_bytes(*d, sc.overheads)) +
                                         " usable memory; every server node may host a tree node");
    }
    if (sc.overheads.round_trips > 0)
      r.error("overheads.round_trips", "applies to the hidden-state messages of a transformer's chain, not to a Fisher B-tree");
    return;
  }
  if (sc.graph) {  // a pipeline of graph stages: one stage per server node at most
    const int k = sc.policy.partitioner.stages > 0 ? sc.policy.partitioner.stages : static_cast<int>(sc.nodes.size());
    if (k > static_cast<int>(sc.nodes.size()))
      r.error("policy.partitioner.stages", std::to_string(k) + " stages need as many server nodes, the scenario has " +
                                               std::to_string(sc.nodes.size()));
    for (std::size_t i = 0; i < sc.nodes.size(); ++i)
      if (sc.nodes[i].blocks) r.error(r.node_path[i] + ".blocks", "does not apply to a graph model: the partitioner places the stages");
    if (sc.overheads.round_trips > 0)
      r.error("overheads.round_trips", "applies to the hidden-state messages of a transformer's chain, not to graph-model "
                                       "pipelines; remove it or use a transformer model");
    const PlanObjectiveSpec& obj = sc.policy.partitioner.objective;
    if (!sc.priced()) {  // a plan's cost needs prices
      if (obj.minimize == PlanGoal::Cost)
        r.error("policy.partitioner.objective.minimize", "\"cost\" needs prices: give the scenario \"costs\" (rent, electricity) or its nodes their own");
      if (std::isfinite(obj.max_cost_per_s))
        r.error("policy.partitioner.objective.max_cost", "needs prices: give the scenario \"costs\" (rent, electricity) or its nodes their own");
    }
    return;
  }
  // Memory: fixed ranges must fit; auto nodes must hold at least one block.
  const gpu::TransformerSpec& m = sc.model;
  if (m.n_layers == 0) return;  // model unknown: already reported
  for (std::size_t i = 0; i < sc.nodes.size(); ++i) {
    const NodeSpec& n = sc.nodes[i];
    if (!n.device) continue;
    if (i > 0 && r.node_path[i] == r.node_path[i - 1]) continue;  // copies of one entry: checked once
    const std::string p = r.node_path[i];
    const double usable = usable_memory_bytes(*n.device, sc.overheads);
    if (n.blocks) {
      if (n.blocks->end > m.n_layers) {
        r.error(p + ".blocks", "range " + std::to_string(n.blocks->start) + ".." + std::to_string(n.blocks->end) +
                                   " exceeds the " + std::to_string(m.n_layers) + " blocks of " + m.name +
                                   " (end is exclusive, at most " + std::to_string(m.n_layers) + ")");
        continue;
      }
      const double need = n.blocks->size() * m.block_weight_bytes();
      if (need > usable)
        r.error(p + ".blocks", std::to_string(n.blocks->size()) + " blocks of " + m.name + " need " +
                                   format_bytes(need) + " of weights but " + n.device->name + " has " +
                                   format_bytes(usable) + " usable (device memory minus overheads.runtime_memory)");
    } else if (blocks_that_fit(n, m, sc.overheads) == 0) {
      r.error(p, n.device->name + " (" + format_bytes(usable) + " usable) cannot hold one block of " + m.name + " (" +
                     format_bytes(m.block_weight_bytes()) + " of weights + KV budget of " +
                     std::to_string(n.kv_cache_tokens) + " tokens)");
    }
  }
  // Every client embeds its tokens and computes the logits, so it holds the embedding table and
  // the LM head; under split learning also the weights and one session's KV cache (or training
  // state) of the blocks it runs, and the swarm must serve at least one block.
  if (privacy.client_blocks >= m.n_layers) {
    r.error("policy.privacy.client_blocks", std::to_string(privacy.client_blocks) + " leaves none of the " +
                                                std::to_string(m.n_layers) + " blocks of " + m.name +
                                                " to the swarm; expected at most " + std::to_string(m.n_layers - 1));
  } else {
    RouteRequest one{0, sc.workload.batch_size, sc.workload.prompt_tokens, sc.workload.new_tokens};
    if (sc.workload.fine_tuning) one.training_bytes_per_block = training_bytes_per_block(sc);  // adapters and saved inputs, not a KV cache
    const double need = client_fixed_bytes(sc) + privacy.client_blocks * one.kv_bytes_per_block(m);
    const std::string head = "the embedding and LM head of " + m.name + " (" + format_bytes(client_head_bytes(m)) + ")";
    const std::string what =
        privacy.client_blocks == 0
            ? head
            : head + " and " + std::to_string(privacy.client_blocks) + " blocks' weights and one session's " +
                  (sc.workload.fine_tuning ? "training state" : "KV cache");
    for (std::size_t i = 0; i < sc.clients.size(); ++i) {
      const gpu::DeviceSpec* d = sc.clients[i].device;
      if (d && need > usable_memory_bytes(*d, sc.overheads))
        r.error(privacy.client_blocks > 0 ? std::string("policy.privacy.client_blocks") : at_index("clients", i) + ".device",
                what + " need " + format_bytes(need) + " on every client, but " + at_index("clients", i) + " (" + sc.clients[i].name +
                    ", " + d->name + ") has " + format_bytes(usable_memory_bytes(*d, sc.overheads)) +
                    " usable (device memory minus overheads.runtime_memory)");
    }
    // Sessions wait for their client's memory (ClientMemoryGate), but a data-parallel job's
    // sessions meet at every synchronization: those on one client must fit there together, or one
    // would wait for another's memory forever. Sessions go to the clients in turn.
    if (const auto& ft = sc.workload.fine_tuning; ft && ft->replicas > 1 && privacy.client_blocks > 0 && !sc.clients.empty()) {
      const int together = (ft->replicas + static_cast<int>(sc.clients.size()) - 1) / static_cast<int>(sc.clients.size());
      const double job_need = client_fixed_bytes(sc) + together * privacy.client_blocks * one.kv_bytes_per_block(m);
      for (std::size_t i = 0; i < sc.clients.size(); ++i) {
        const gpu::DeviceSpec* d = sc.clients[i].device;
        if (together > 1 && d && job_need > usable_memory_bytes(*d, sc.overheads)) {
          r.error("workload.fine_tuning.replicas",
                  std::to_string(together) + " sessions of one job at once on " + at_index("clients", i) + " (" + sc.clients[i].name + ", " +
                      d->name + ") need " + format_bytes(job_need) + " (the embedding, LM head and " +
                      std::to_string(privacy.client_blocks) + " blocks' weights, and each session's training state of them), but it has " +
                      format_bytes(usable_memory_bytes(*d, sc.overheads)) + " usable: a job's sessions meet at every synchronization, so "
                      "they cannot wait for each other's memory (use more clients, fewer replicas or a larger client device)");
          break;
        }
      }
    }
  }
  if (!r.ok()) return;

  // Coverage: the initial assignment must serve every block the clients do not run themselves,
  // or no session can ever be routed.
  std::shared_ptr<const gpu::ShardCostModel> cost;
  try {
    cost = make_cost_model(sc);  // the pricing the run will use, so both plan the same ranges
  } catch (const std::exception& e) {
    r.error("simulation.pricing", std::string("cannot read the op profiles: ") + e.what());
    return;
  }
  std::vector<BlockRange> ranges = plan_initial_blocks(sc, *cost);
  for (BlockRange gap : uncovered_blocks(m.n_layers, ranges)) {
    gap.start = std::max(gap.start, sc.first_served_block());
    if (gap.empty()) continue;  // run by the clients (policy.privacy.client_blocks)
    int capacity = 0;
    for (std::size_t i = 0; i < sc.nodes.size(); ++i) capacity += ranges[i].size();
    r.error("nodes", "blocks " + gap.str() + " of " + m.name + " (" + std::to_string(m.n_layers) +
                         " blocks) are served by no node, so no chain can cover the model; the nodes hold " +
                         std::to_string(capacity) + " block slots in all");
  }
}

// ---------------------------------------------------------------------------------------------
// [SECTION] Parsing with duplicate-key detection, overrides
// ---------------------------------------------------------------------------------------------


json parse_text(const std::string& text, const std::string& file) {
  std::vector<JsonProblem> problems;
  std::optional<json> doc = parse_json_strict(text, problems);
  if (!problems.empty()) {
    std::vector<Diagnostic> d;
    for (JsonProblem& p : problems) d.push_back({file, std::move(p.path), std::move(p.message)});
    throw ScenarioError(std::move(d));
  }
  return std::move(*doc);
}

void apply_override(json& doc, const Override& o) {
  const auto fail = [&](const std::string& msg) {
    throw ScenarioError({{"--set", o.path + "=" + o.value, msg}});
  };
  std::string err;
  auto tokens = parse_json_path(o.path, err);
  if (!err.empty()) fail(err);
  json value = json::parse(o.value, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) value = o.value;  // not JSON: a plain string such as 10Mbps
  json* cur = &doc;
  std::string walked;
  for (std::size_t t = 0; t < tokens.size(); ++t) {
    const bool last = t + 1 == tokens.size();
    if (auto* key = std::get_if<std::string>(&tokens[t])) {
      walked = child(walked, *key);
      if (!cur->is_object()) fail("cannot set key \"" + *key + "\": the value before it is not an object");
      if (last && value.is_null()) {  // path=null removes the key (no scenario value is null)
        cur->erase(*key);
        return;
      }
      if (!last && !cur->contains(*key)) (*cur)[*key] = json::object();
      cur = &(*cur)[*key];
    } else {
      const std::size_t i = std::get<std::size_t>(tokens[t]);
      if (!cur->is_array()) fail(walked + " is not an array");
      if (i >= cur->size())
        fail(walked + " has " + std::to_string(cur->size()) + (cur->size() == 1 ? " entry" : " entries") + "; index " +
             std::to_string(i) + " is out of range");
      walked = at_index(walked, i);
      cur = &(*cur)[i];
    }
  }
  *cur = std::move(value);
}

}  // namespace

Override parse_override(std::string_view text) {
  const std::size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0)
    throw ScenarioError({{"--set", std::string(text), "expected path=value, e.g. workload.batch_size=32"}});
  return Override{std::string(text.substr(0, eq)), std::string(text.substr(eq + 1))};
}

Scenario load_scenario_json(const json& doc, const std::string& file) {
  Reader r(file);
  Scenario sc;
  sc.source_file = file;
  if (!r.object(doc, "", "scenario")) throw ScenarioError(std::move(r.diagnostics()));
  sc.name = r.string(doc, "name", "", true).value_or("");
  // The name is the default run directory, runs/<name>/: a name with a path in it would write
  // outside runs/ (or into runs/ itself).
  if (Reader::get(doc, "name") && Reader::get(doc, "name")->is_string()) {
    const bool unsafe = sc.name.empty() || sc.name.front() == '.' ||
                        std::any_of(sc.name.begin(), sc.name.end(), [](char c) {
                          return c == '/' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
                        });
    if (unsafe)
      r.error("name", "\"" + sc.name + "\" cannot name the run directory runs/<name>/; expected a non-empty name "
                      "without '/', '\\' or control characters that does not start with '.'");
  }
  sc.description = r.string(doc, "description", "", false).value_or("");
  if (r.string(doc, "$schema", "", false)) { /* editor hint only */ }
  sc.seed = static_cast<std::uint64_t>(r.integer(doc, "seed", "", false, 0, (1LL << 53)).value_or(1));
  read_model(r, doc, sc);
  read_nodes(r, doc, sc);
  read_clients(r, doc, sc);
  read_network(r, doc, sc);
  read_workload(r, doc, sc);
  read_policy(r, doc, sc);
  read_overheads(r, doc, sc);
  read_events(r, doc, sc);
  read_churn(r, doc, sc);
  read_outputs(r, doc, sc);
  read_simulation(r, doc, sc);
  read_costs(r, doc, sc);
  if (sc.policy.compression.llm_int8_weights) {
    // The served weights become LLM.int8: 8-bit with the outlier columns kept in 16 bits.
    sc.model.weight_dtype = gpu::DType::Int8;
    sc.model.int8_outlier_fraction = sc.policy.compression.outlier_fraction;
  }
  if (r.ok()) check_swarm(r, sc);
  if (r.ok()) check_node_churn(r, sc);
  if (r.ok() && sc.churn) draw_churn(r, sc);  // after the checks: the listed events name real servers
  if (!r.ok()) throw ScenarioError(std::move(r.diagnostics()));
  std::stable_sort(sc.events.begin(), sc.events.end(),
                   [](const ReplayEvent& a, const ReplayEvent& b) { return a.at_s < b.at_s; });
  return sc;
}

Scenario load_scenario_text(const std::string& text, const std::string& file, const std::vector<Override>& overrides) {
  json doc = parse_text(text, file);
  for (const Override& o : overrides) apply_override(doc, o);
  return load_scenario_json(doc, file);
}

Scenario load_scenario_file(const std::string& path, const std::vector<Override>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScenarioError({{path, "", "cannot open the file for reading"}});
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_scenario_text(ss.str(), path, overrides);
}

}  // namespace swarmsim::sim
