#include "gui/run_loader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "sim/scenario/scenario.hpp"

namespace swarmsim::gui {

using nlohmann::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// [SECTION] Field readers
// ---------------------------------------------------------------------------------------------

namespace {

const json& field(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) throw EventFormatError(std::string("missing key \"") + key + "\"");
  return *it;
}

double number(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_number()) throw EventFormatError(std::string("\"") + key + "\": expected a number, got " + v.dump());
  const double d = v.get<double>();
  if (!std::isfinite(d)) throw EventFormatError(std::string("\"") + key + "\": not a finite number");
  return d;
}

int integer(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_number_integer() || v.get<double>() < std::numeric_limits<int>::min() || v.get<double>() > std::numeric_limits<int>::max())
    throw EventFormatError(std::string("\"") + key + "\": expected an integer, got " + v.dump());
  return v.get<int>();
}

/// An optional integer: `fallback` when absent.
int integer_or(const json& j, const char* key, int fallback) { return j.contains(key) ? integer(j, key) : fallback; }

/// A time or duration in seconds: in [0, kMaxSeconds].
double seconds(const json& j, const char* key) {
  const double x = number(j, key);
  if (x < 0 || x > kMaxSeconds)
    throw EventFormatError(std::string("\"") + key + "\": expected seconds in [0, 1e12], got " + field(j, key).dump());
  return x;
}

/// An optional time in seconds: `fallback` when absent.
double seconds_or(const json& j, const char* key, double fallback) { return j.contains(key) ? seconds(j, key) : fallback; }

/// An optional finite number: `fallback` when absent.
double number_or(const json& j, const char* key, double fallback) { return j.contains(key) ? number(j, key) : fallback; }

/// A finite number >= 0.
double non_negative(const json& j, const char* key) {
  const double x = number(j, key);
  if (x < 0) throw EventFormatError(std::string("\"") + key + "\": expected a number >= 0, got " + field(j, key).dump());
  return x;
}

/// An optional number >= 0: `fallback` when absent.
double non_negative_or(const json& j, const char* key, double fallback) { return j.contains(key) ? non_negative(j, key) : fallback; }


std::string text(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_string()) throw EventFormatError(std::string("\"") + key + "\": expected a string, got " + v.dump());
  return v.get<std::string>();
}

/// An optional string: `fallback` when absent.
std::string text_or(const json& j, const char* key, const std::string& fallback) { return j.contains(key) ? text(j, key) : fallback; }

int host(const json& j, const char* key, const SwarmInfo& info) {
  const std::string name = text(j, key);
  const int i = info.host_index(name);
  if (i < 0) throw EventFormatError(std::string("\"") + key + "\": unknown host \"" + name + "\" (not in run_start)");
  return i;
}

/// Whether `r` is a range of a model of `n_blocks` blocks: 0 <= start <= end <= n_blocks.
bool inside_model(const BlockRange& r, int n_blocks) { return r.start >= 0 && r.start <= r.end && r.end <= n_blocks; }

/// A block range {start, end} inside the model's `n_blocks` blocks (0 <= start <= end <= n_blocks).
BlockRange blocks(const json& j, const char* key, int n_blocks) {
  const json& v = field(j, key);
  if (!v.is_object()) throw EventFormatError(std::string("\"") + key + "\": expected {start, end}");
  const BlockRange r{integer(v, "start"), integer(v, "end")};
  if (!inside_model(r, n_blocks))
    throw EventFormatError(std::string("\"") + key + "\": blocks {start: " + std::to_string(r.start) + ", end: " +
                           std::to_string(r.end) + "} are not a range of the model's " + std::to_string(n_blocks) +
                           " blocks (expected 0 <= start <= end <= " + std::to_string(n_blocks) + ")");
  return r;
}

std::optional<topology::GeoPoint> location(const json& j) {
  auto it = j.find("location");
  if (it == j.end() || it->is_null()) return std::nullopt;
  const topology::GeoPoint p{number(*it, "lat"), number(*it, "lon")};
  if (std::abs(p.lat_deg) > 90 || std::abs(p.lon_deg) > 180)
    throw EventFormatError("\"location\": expected lat in [-90, 90] and lon in [-180, 180], got " + it->dump());
  return p;
}

/// A chain's hops: servers (not clients) with their block ranges.
std::vector<ChainHop> hops(const json& j, const SwarmInfo& info) {
  const json& list = field(j, "hops");
  if (!list.is_array()) throw EventFormatError("\"hops\": expected an array of {node, blocks}");
  std::vector<ChainHop> out;
  for (const json& h : list) {
    if (!h.is_object()) throw EventFormatError("\"hops\": expected an array of {node, blocks}, got " + h.dump());
    const int node = host(h, "node", info);
    if (node >= info.n_servers) throw EventFormatError("\"hops\": \"" + info.hosts[node].name + "\" is a client, not a server");
    out.push_back({node, blocks(h, "blocks", info.n_blocks)});
  }
  return out;
}

/// A span's start: finite and not after its end `t`.
double span_start(const json& j, double t) {
  const double start = seconds(j, "start");
  if (start > t) throw EventFormatError("\"start\": " + std::to_string(start) + " is after the span's end t = " + std::to_string(t));
  return start;
}

/// Most nodes a "tree" line may list (a tree has one per server; 10^5 servers is far beyond any scenario).
constexpr std::size_t kMaxTreeNodes = 100000;

/// A "tree" line's change and nodes. Each node's parent is listed before it (-1: a root), ids are
/// unique, keys are [lo, hi) with 0 <= lo < hi, servers are servers, and "created" names listed nodes.
std::shared_ptr<const TreeSnapshot> tree_snapshot(const json& j, double t, const SwarmInfo& info) {
  auto snap = std::make_shared<TreeSnapshot>();
  TreeChange& c = snap->change;
  c.t = t;
  const std::string what = text(j, "what");
  static const TreeChangeKind kinds[] = {TreeChangeKind::Planned,        TreeChangeKind::SplitStarted, TreeChangeKind::Split,
                                         TreeChangeKind::Merge,          TreeChangeKind::Balance,      TreeChangeKind::SplitCancelled,
                                         TreeChangeKind::Failed,         TreeChangeKind::FailureDetected, TreeChangeKind::Replaced,
                                         TreeChangeKind::FailbackLoading, TreeChangeKind::Failback,    TreeChangeKind::FailbackDropped};
  const auto kind = std::find_if(std::begin(kinds), std::end(kinds), [&](TreeChangeKind k) { return what == to_string(k); });
  if (kind == std::end(kinds))
    throw EventFormatError("\"what\": expected \"planned\", \"split_started\", \"split\", \"merge\", \"balance\", \"split_cancelled\", "
                           "\"failed\", \"failure_detected\", \"replaced\", \"failback_loading\", \"failback\" or \"failback_dropped\", got \"" +
                           what + "\"");
  c.what = *kind;
  c.node = integer_or(j, "node", -1);
  if (c.node < -1) throw EventFormatError("\"node\": expected a node id >= 0 or -1, got " + std::to_string(c.node));
  const json& nodes = field(j, "nodes");
  if (!nodes.is_array()) throw EventFormatError("\"nodes\": expected an array of {id, parent, keys, server, state, fisher, load}");
  if (nodes.size() > kMaxTreeNodes) throw EventFormatError("\"nodes\": more than 100000 nodes");
  std::map<int, std::size_t> index;  // id -> position
  for (std::size_t k = 0; k < nodes.size(); ++k) {
    const json& v = nodes[k];
    const std::string at = "nodes[" + std::to_string(k) + "]";
    try {
      if (!v.is_object()) throw EventFormatError("expected an object {id, parent, keys, server, state, fisher, load}, got " + v.dump());
      TreeNodeView n;
      n.id = integer(v, "id");
      if (n.id < 0) throw EventFormatError("\"id\": expected an id >= 0, got " + std::to_string(n.id));
      if (index.count(n.id)) throw EventFormatError("\"id\": node " + std::to_string(n.id) + " is listed twice");
      n.parent = integer(v, "parent");
      if (n.parent != -1 && !index.count(n.parent))
        throw EventFormatError("\"parent\": node " + std::to_string(n.parent) +
                               " is not listed before it (expected -1 for the root, or the id of an earlier node)");
      // A tree run's keys are its classes, which run_start gives as its blocks.
      const double max_key = info.tree ? info.n_blocks : std::numeric_limits<int>::max();
      const json& keys = field(v, "keys");
      if (!keys.is_array() || keys.size() != 2 || !keys[0].is_number_integer() || !keys[1].is_number_integer() ||
          keys[0].get<double>() < 0 || keys[0].get<double>() >= keys[1].get<double>() || keys[1].get<double>() > max_key)
        throw EventFormatError("\"keys\": expected [lo, hi] with integers 0 <= lo < hi" +
                               (info.tree ? " <= " + std::to_string(info.n_blocks) + " (the run's keys)" : std::string()) +
                               ", got " + keys.dump());
      n.lo = keys[0].get<int>();
      n.hi = keys[1].get<int>();
      n.server = host(v, "server", info);
      if (n.server >= info.n_servers)
        throw EventFormatError("\"server\": \"" + info.hosts[static_cast<std::size_t>(n.server)].name + "\" is a client, not a server");
      const std::string state = text(v, "state");
      if (state != "loading" && state != "serving" && state != "failed")
        throw EventFormatError("\"state\": expected \"loading\", \"serving\" or \"failed\", got \"" + state + "\"");
      n.loading = state == "loading";
      n.failed = state == "failed";
      n.fisher = non_negative(v, "fisher");
      n.load = non_negative(v, "load");
      index.emplace(n.id, k);
      snap->nodes.push_back(n);
    } catch (const EventFormatError& e) {
      throw EventFormatError(at + ": " + e.what());
    }
  }
  const json& created = field(j, "created");
  if (!created.is_array()) throw EventFormatError("\"created\": expected an array of node ids, got " + created.dump());
  for (const json& id : created) {
    if (!id.is_number_integer() || id.get<double>() < 0 || id.get<double>() > std::numeric_limits<int>::max() ||
        !index.count(id.get<int>()))
      throw EventFormatError("\"created\": " + id.dump() + " is not the id of a listed node");
    c.created.push_back(id.get<int>());
  }
  return snap;
}

/// A node ("gpu", memory) or a client ("device") of the run_start header.
HostInfo host_info(const json& j, bool server) {
  HostInfo h;
  h.name = text(j, "name");
  h.device = text(j, server ? "gpu" : "device");
  h.is_server = server;
  if (server) h.memory_bytes = non_negative_or(j, "memory_bytes", 0.0);
  h.uplink_Bps = non_negative_or(j, "uplink_Bps", 0.0);
  h.downlink_Bps = non_negative_or(j, "downlink_Bps", 0.0);
  h.location = location(j);
  return h;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// [SECTION] Lines
// ---------------------------------------------------------------------------------------------

namespace {

/// A graph pipeline's own event types (sim/pipeline_run.cpp): the GUI draws the swarm from the
/// generic lines those runs also write.
bool pipeline_detail(const std::string& type) {
  static const std::set<std::string> types{"request_sent", "request_resent", "request_done", "stage_start", "stage_end",
                                           "stage_down", "stage_down_detected", "stage_loading", "stage_ready", "stage_drained",
                                           "stage_drain_failed", "failback_loading", "failback_dropped", "migration_loading",
                                           "migration_dropped"};
  return types.count(type) != 0;
}

}  // namespace

SwarmInfo parse_run_start(const json& j) {
  if (j.is_object() && j.contains("type") && j["type"].is_string()) {
    const std::string type = j["type"];
    if (type == "request_sent" || type == "stage_start" || type == "stage_down")
      throw EventFormatError("a graph-model pipeline's events without a \"run_start\" line (written by an older "
                             "swarmsim); run the scenario again, or open the scenario file to watch it live");
  }
  if (!j.is_object() || text(j, "type") != "run_start")
    throw EventFormatError("the first line must be the \"run_start\" event");
  SwarmInfo info;
  info.scenario = text(j, "scenario");
  info.model = text_or(j, "model", "");
  if (j.contains("seed")) {
    const json& seed = j.at("seed");
    if (!seed.is_number_unsigned()) throw EventFormatError("\"seed\": expected an integer >= 0, got " + seed.dump());
    info.seed = seed.get<std::uint64_t>();
  }
  info.n_blocks = integer(j, "n_blocks");
  if (info.n_blocks < 1 || info.n_blocks > kMaxBlocks)
    throw EventFormatError("\"n_blocks\": expected 1 to " + std::to_string(kMaxBlocks) + ", got " + std::to_string(info.n_blocks));
  for (const char* key : {"nodes", "clients"})
    if (!field(j, key).is_array()) throw EventFormatError(std::string("\"") + key + "\": expected an array of hosts");
  for (const json& n : j.at("nodes")) info.hosts.push_back(host_info(n, true));
  info.n_servers = static_cast<int>(info.hosts.size());
  for (const json& c : j.at("clients")) info.hosts.push_back(host_info(c, false));
  info.tokens_per_step = number_or(j, "tokens_per_step", 1.0);
  if (j.contains("pipeline")) {
    if (!j.at("pipeline").is_boolean()) throw EventFormatError("\"pipeline\": expected true or false, got " + j.at("pipeline").dump());
    info.pipeline = j.at("pipeline").get<bool>();
  }
  if (j.contains("tree")) {
    if (!j.at("tree").is_boolean()) throw EventFormatError("\"tree\": expected true or false, got " + j.at("tree").dump());
    info.tree = j.at("tree").get<bool>();
  }
  if (j.contains("coded")) {
    const json& c = j.at("coded");
    if (!c.is_object()) throw EventFormatError("\"coded\": expected an object with \"models\" and \"parity\", got " + c.dump());
    info.coded_models = integer(c, "models");
    info.coded_parity = integer(c, "parity");
    if (info.coded_models < 2 || info.coded_parity < 0 || info.coded_parity > std::min(info.coded_models, sim::kMaxCodedParity) ||
        info.coded_models + info.coded_parity != info.n_blocks)
      throw EventFormatError("\"coded\": expected at least 2 models and a parity in [0, min(models, " + std::to_string(sim::kMaxCodedParity) +
                             ")] that add up to n_blocks (" +
                             std::to_string(info.n_blocks) + "), got " + c.dump());
  }
  if (!(info.tokens_per_step > 0)) throw EventFormatError("\"tokens_per_step\": expected a number > 0");
  if (j.contains("workload_start_s")) info.workload_start_s = non_negative(j, "workload_start_s");
  if (j.contains("client_blocks")) {
    info.client_blocks = integer(j, "client_blocks");
    if (info.client_blocks < 0 || info.client_blocks >= info.n_blocks)
      throw EventFormatError("\"client_blocks\": expected 0 to n_blocks - 1 (" + std::to_string(info.n_blocks - 1) + "), got " +
                             std::to_string(info.client_blocks));
  }
  if (j.contains("fine_tuning")) {
    const json& ft = j.at("fine_tuning");
    if (!ft.is_object()) throw EventFormatError("\"fine_tuning\": expected an object, got " + ft.dump());
    info.training = true;
    if (ft.contains("zero")) {
      info.zero = integer(ft, "zero");
      if (info.zero < 0 || info.zero > 2) throw EventFormatError("\"fine_tuning.zero\": expected 0, 1 or 2, got " + std::to_string(info.zero));
    }
  }
  info.index_hosts();
  if (info.by_name.size() != info.hosts.size()) throw EventFormatError("two hosts share a name (host names must be unique)");
  return info;
}

SwarmEvent parse_event(const json& j, const SwarmInfo& info) {
  if (!j.is_object()) throw EventFormatError("expected a JSON object");
  SwarmEvent e;
  e.t = seconds(j, "t");
  const std::string type = text(j, "type");
  if (type == "node_join") {
    e.type = EventType::NodeJoin;
    e.node = host(j, "node", info);
    e.blocks = blocks(j, "blocks", info.n_blocks);
    e.start = seconds_or(j, "load_started", e.t);
  } else if (type == "node_down" || type == "node_up") {
    e.type = type == "node_down" ? EventType::NodeDown : EventType::NodeUp;
    e.node = host(j, "node", info);
  } else if (type == "link_change") {
    e.type = EventType::LinkChange;
    e.text = text(j, "action");
    e.node = host(j, "node", info);
    if (j.contains("peer")) e.peer = host(j, "peer", info);
    if (e.text == "set_bandwidth") {
      e.value = non_negative(j, "bandwidth_Bps");
      const std::string d = text_or(j, "direction", "both");
      e.direction = d == "up" ? 'u' : d == "down" ? 'd' : 'b';
    } else if (e.text == "set_latency") {
      e.value = seconds(j, "latency_s");
    } else {
      throw EventFormatError("\"action\": expected \"set_bandwidth\" or \"set_latency\", got \"" + e.text + "\"");
    }
  } else if (type == "session_start") {
    e.type = EventType::SessionStart;
    e.session = integer(j, "session");
    e.client = host(j, "client", info);
  } else if (type == "chain_formed") {
    e.type = EventType::ChainFormed;
    e.session = integer(j, "session");
    e.attempt = integer_or(j, "attempt", 1);
    e.value = number_or(j, "cost", 0.0);
    e.hops = hops(j, info);
  } else if (type == "session_done" || type == "session_failed") {
    e.type = type == "session_done" ? EventType::SessionDone : EventType::SessionFailed;
    e.session = integer(j, "session");
    e.tokens = integer_or(j, "tokens", 0);
    e.decoded = integer_or(j, "decoded", 0);
    if (e.decoded < 0) throw EventFormatError("\"decoded\": expected a count >= 0, got " + std::to_string(e.decoded));
    if (e.type == EventType::SessionFailed) e.text = text_or(j, "reason", "");
    if (j.contains("abandoned") && !j.at("abandoned").is_boolean())
      throw EventFormatError("\"abandoned\": expected true or false, got " + j.at("abandoned").dump());
    e.abandoned = e.type == EventType::SessionFailed && j.value("abandoned", false);
    if (j.contains("client_lost") && !j.at("client_lost").is_boolean())
      throw EventFormatError("\"client_lost\": expected true or false, got " + j.at("client_lost").dump());
    e.client_lost = e.type == EventType::SessionFailed && j.value("client_lost", false);
  } else if (type == "compute") {
    e.type = EventType::Compute;
    e.node = host(j, "host", info);
    e.start = span_start(j, e.t);
    e.session = integer_or(j, "session", -1);
    e.step = integer_or(j, "step", 0);
    e.text = text_or(j, "what", "blocks");
    if (j.contains("blocks")) e.blocks = blocks(j, "blocks", info.n_blocks);
  } else if (type == "transfer") {
    e.type = EventType::Transfer;
    e.node = host(j, "from", info);
    e.peer = host(j, "to", info);
    e.start = span_start(j, e.t);
    e.value = non_negative(j, "bytes");
    e.session = integer_or(j, "session", -1);
    e.step = integer_or(j, "step", 0);
  } else if (type == "step") {
    e.type = EventType::Step;
    e.session = integer(j, "session");
    e.step = integer(j, "step");
    e.value = seconds(j, "latency");
  } else if (type == "transfer_retry") {
    e.type = EventType::TransferRetry;
    e.node = host(j, "from", info);
    e.peer = host(j, "to", info);
    e.session = integer_or(j, "session", -1);
    e.step = integer_or(j, "step", 0);
    e.attempt = integer_or(j, "attempt", 1);
    e.text = text_or(j, "reason", "");
    if (j.contains("given_up")) {
      if (!j.at("given_up").is_boolean()) throw EventFormatError("\"given_up\": expected true or false, got " + j.at("given_up").dump());
      e.given_up = j.at("given_up").get<bool>();
    }
  } else if (type == "session_recovered") {
    e.type = EventType::SessionRecovered;
    e.session = integer(j, "session");
    e.step = integer_or(j, "step", 0);
    e.node = host(j, "failed_node", info);
    e.blocks = blocks(j, "blocks", info.n_blocks);
    e.tokens = integer_or(j, "replayed_tokens", 0);
    e.value = seconds_or(j, "detected_after", 0.0);
    e.hops = hops(j, info);
  } else if (type == "blocks_moved") {
    e.type = EventType::BlocksMoved;
    e.node = host(j, "node", info);
    e.blocks = blocks(j, "from", info.n_blocks);
    e.blocks_to = blocks(j, "to", info.n_blocks);
  } else if (type == "server_banned") {
    e.type = EventType::ServerBanned;
    e.node = host(j, "node", info);
    if (j.contains("honest") && !j.at("honest").is_boolean()) throw EventFormatError("\"honest\": expected true or false, got " + j.at("honest").dump());
    e.honest = j.value("honest", false);
    e.session = integer(j, "session");
    e.step = integer_or(j, "step", 0);
  } else if (type == "adapters_saved" || type == "adapters_restored") {
    e.type = EventType::AdaptersMoved;
    e.restored = type == "adapters_restored";
    e.node = host(j, "node", info);
    e.session = integer(j, "session");
    e.step = integer_or(j, "step", 0);
    e.blocks = blocks(j, "blocks", info.n_blocks);
    e.value = non_negative(j, "bytes");
    e.updates_lost = e.restored ? integer_or(j, "updates_lost", 0) : 0;
    if (j.contains("from_peer")) {
      if (!j.at("from_peer").is_boolean()) throw EventFormatError("\"from_peer\": expected true or false, got " + j.at("from_peer").dump());
      e.from_peer = j.at("from_peer").get<bool>();
    }
    if (e.updates_lost < 0) throw EventFormatError("\"updates_lost\": expected a count >= 0, got " + std::to_string(e.updates_lost));
  } else if (type == "loss") {
    e.type = EventType::Loss;
    e.session = integer(j, "session");
    e.step = integer_or(j, "step", 0);
    e.value = non_negative(j, "loss");
  } else if (type == "adapters_synced") {
    e.type = EventType::AdaptersMoved;
    e.text = "synced";
    e.session = integer(j, "session");
    e.step = integer_or(j, "step", 0);
    e.value = non_negative(j, "bytes");
    e.start = e.t - non_negative(j, "seconds");
  } else if (type == "kv") {
    e.type = EventType::Kv;
    e.node = host(j, "node", info);
    e.value = non_negative(j, "bytes");
    if (e.node < info.n_servers && j.contains("waiting"))
      throw EventFormatError("\"waiting\": \"" + info.hosts[static_cast<std::size_t>(e.node)].name + "\" is a server; only a client's sessions wait for its memory");
    if (e.node >= info.n_servers) {
      e.waiting = integer_or(j, "waiting", 0);
      if (e.waiting < 0) throw EventFormatError("\"waiting\": expected a count >= 0, got " + std::to_string(e.waiting));
    }
    if (e.value > 1e18)  // an exabyte: past any device, and past what the plots' floats hold
      throw EventFormatError("\"bytes\": expected at most 1e18, got " + field(j, "bytes").dump());
  } else if (type == "tree") {
    e.type = EventType::Tree;
    e.tree = tree_snapshot(j, e.t, info);
  } else if (type == "run_end") {
    e.type = EventType::RunEnd;
  } else if (type == "run_start") {
    throw EventFormatError("a second \"run_start\" line");
  } else if (pipeline_detail(type)) {
    throw UndrawnEventType(type);
  } else {
    throw UnknownEventType("unknown event type \"" + type + "\"");
  }
  return e;
}

bool EventLineReader::feed(std::string_view line, Timeline& timeline) {
  if (failed()) return false;
  ++line_;
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return true;  // blank lines are harmless
  try {
    json j;
    try {
      j = json::parse(line);
    } catch (const json::parse_error& pe) {
      throw EventFormatError(std::string("not valid JSON (truncated line?): ") + pe.what());
    }
    if (!started_) {
      timeline = Timeline(parse_run_start(j));
      started_ = true;
      return true;
    }
    SwarmEvent e;
    try {
      e = parse_event(j, timeline.info());
    } catch (const UndrawnEventType&) {
      return true;
    } catch (const UnknownEventType&) {
      ++ignored_;
      return true;
    }
    if (!timeline.append(e))
      throw EventFormatError("t = " + std::to_string(e.t) + " is earlier than the previous event's (events must be in time order)");
    return true;
  } catch (const std::exception& ex) {
    error_ = source_ + ":" + std::to_string(line_) + ": " + ex.what();
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// [SECTION] Files
// ---------------------------------------------------------------------------------------------

namespace {

/// Reads events.jsonl into `info` + `events`; returns the number of lines read.
void read_lines(const fs::path& file, SwarmInfo& info, std::vector<SwarmEvent>& events, bool& have_info,
                std::vector<std::string>& errors, std::vector<std::string>& warnings) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    errors.push_back(file.string() + ": cannot open (" + (fs::exists(file) ? "permission denied?" : "no such file") + ")");
    return;
  }
  std::string line;
  int n = 0;
  bool saw_end = false;
  double last_t = 0.0;
  int unknown = 0;
  std::string first_unknown;
  while (std::getline(in, line)) {
    ++n;
    const bool complete = !in.eof();  // getline hit a newline
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = file.string() + ":" + std::to_string(n) + ": ";
    try {
      json j;
      try {
        j = json::parse(line);
      } catch (const json::parse_error& pe) {
        throw EventFormatError(complete ? std::string("not valid JSON: ") + pe.what()
                                        : std::string("the last line is cut short (truncated file): ") + pe.what());
      }
      if (!have_info) {
        info = parse_run_start(j);
        have_info = true;
        continue;
      }
      SwarmEvent e;
      try {
        e = parse_event(j, info);
      } catch (const UndrawnEventType&) {
        continue;
      } catch (const UnknownEventType& u) {
        if (unknown++ == 0) first_unknown = where + u.what();
        continue;
      }
      if (e.t < last_t)
        throw EventFormatError("t = " + std::to_string(e.t) + " is earlier than the previous event's " + std::to_string(last_t));
      if (saw_end) throw EventFormatError("an event after \"run_end\"");
      last_t = e.t;
      saw_end = e.type == EventType::RunEnd;
      events.push_back(std::move(e));
    } catch (const std::exception& ex) {
      errors.push_back(where + ex.what() + (have_info ? " (showing the events before this line)" : ""));
      return;
    }
  }
  if (unknown)
    warnings.push_back(std::to_string(unknown) + " line(s) of event types this GUI does not know were skipped; first: " +
                       first_unknown);
  if (n == 0) {
    errors.push_back(file.string() + ":1: the file is empty (expected a \"run_start\" line)");
  } else if (!saw_end) {
    errors.push_back(file.string() + ":" + std::to_string(n + 1) +
                     ": the file ends without a \"run_end\" line (truncated?); showing the events up to t = " +
                     std::to_string(last_t) + " s");
  }
}

/// "blocks 3-7" -> [3, 8), as "forward blocks 3-7" (one word before: what the work was); any other
/// name, or numbers beyond int, -> an empty range.
BlockRange blocks_from_name(const std::string& name) {
  const std::string prefix = "blocks ";
  std::size_t at = 0;
  if (name.rfind(prefix, 0) != 0) {
    const std::size_t space = name.find(' ');
    if (space == std::string::npos || name.compare(space + 1, prefix.size(), prefix) != 0) return {};
    at = space + 1;
  }
  const char* end = name.data() + name.size();
  int a = 0, b = 0;
  const auto first = std::from_chars(name.data() + at + prefix.size(), end, a);
  if (first.ec != std::errc() || first.ptr == end || *first.ptr != '-') return {};
  const auto second = std::from_chars(first.ptr + 1, end, b);
  if (second.ec != std::errc() || b == std::numeric_limits<int>::max()) return {};
  return BlockRange{a, b + 1};
}

/// trace.json's compute and transfer spans, and the token steps they imply (the client's "head"
/// span ends when a step completes: sim/engine/swarm_simulation.cpp).
void read_trace(const fs::path& file, const SwarmInfo& info, const std::vector<SwarmEvent>& events,
                std::vector<SwarmEvent>& out, std::vector<std::string>& warnings) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return;
  json doc;
  try {
    doc = json::parse(in);
  } catch (const std::exception& ex) {
    warnings.push_back(file.string() + ": not readable (" + std::string(ex.what()) +
                       "); busy time, traffic and the throughput and latency series are unavailable");
    return;
  }
  std::map<int, double> arrival;
  for (const SwarmEvent& e : events)
    if (e.type == EventType::SessionStart) arrival[e.session] = e.t;
  struct Head {
    double end;
    int session, step;
  };
  std::vector<Head> heads;
  const int H = static_cast<int>(info.hosts.size());
  const auto events_it = doc.find("traceEvents");
  if (events_it == doc.end() || !events_it->is_array()) {
    warnings.push_back(file.string() + ": no \"traceEvents\" array");
    return;
  }
  // A span that does not read (a wrong type, a time that is not finite) drops every span: the
  // series would be wrong, not just shorter.
  const std::size_t events_before = out.size();
  for (std::size_t k = 0; k < events_it->size(); ++k) {
    const json& t = (*events_it)[k];
    try {
      if (!t.is_object()) throw EventFormatError("expected an object, got " + t.dump());
      if (text_or(t, "ph", "") != "X") continue;
      const std::string cat = text_or(t, "cat", "");
      if (cat != "compute" && cat != "transfer") continue;
      const int tid = integer(t, "tid");
      if (tid < 0 || tid >= H) continue;
      const double start = number(t, "ts") * 1e-6, end = start + non_negative(t, "dur") * 1e-6;
      if (start < 0 || end > kMaxSeconds)
        throw EventFormatError("the span [" + std::to_string(start) + ", " + std::to_string(end) + "] s is not inside [0, 1e12] s");
      const json no_args = json::object();
      const json& args = t.contains("args") ? t.at("args") : no_args;
      if (!args.is_object()) throw EventFormatError("\"args\": expected an object, got " + args.dump());
      SwarmEvent e;
      e.t = end;
      e.start = start;
      e.node = tid;
      e.session = integer_or(args, "session", -1);
      e.step = integer_or(args, "step", 0);
      const std::string name = text_or(t, "name", "");
      if (cat == "compute") {
        e.type = EventType::Compute;
        e.blocks = blocks_from_name(name);
        if (!inside_model(e.blocks, info.n_blocks))
          throw EventFormatError("\"name\": \"" + name + "\" names blocks outside the model's " + std::to_string(info.n_blocks));
        const std::size_t word = name.find(" blocks ");  // "forward blocks 0-15": the work was "forward"
        e.text = e.blocks.empty() ? name : word != std::string::npos ? name.substr(0, word) : "blocks";
        if (name == "head") heads.push_back({end, e.session, e.step});
      } else {
        e.type = EventType::Transfer;
        e.value = non_negative_or(args, "bytes", 0.0);
        // "send to NAME (8.25 KiB)"
        const std::string prefix = "send to ";
        const std::size_t paren = name.rfind(" (");
        if (name.rfind(prefix, 0) == 0 && paren != std::string::npos)
          e.peer = info.host_index(name.substr(prefix.size(), paren - prefix.size()));
        if (e.peer < 0) continue;
      }
      out.push_back(std::move(e));
    } catch (const std::exception& ex) {
      out.resize(events_before);
      warnings.push_back(file.string() + ": traceEvents[" + std::to_string(k) + "]: " + ex.what() +
                         "; its spans are not shown (busy time, traffic and the throughput and latency series are unavailable)");
      return;
    }
  }
  std::sort(heads.begin(), heads.end(), [](const Head& a, const Head& b) { return a.end < b.end; });
  std::map<int, double> last_token;
  for (const Head& h : heads) {
    SwarmEvent s;
    s.type = EventType::Step;
    s.t = h.end;
    s.session = h.session;
    s.step = h.step;
    auto prev = last_token.find(h.session);
    const double since = prev != last_token.end() ? prev->second : arrival.count(h.session) ? arrival[h.session] : h.end;
    if (since > h.end) {
      out.resize(events_before);
      warnings.push_back(file.string() + ": the \"head\" span of session " + std::to_string(h.session) + " ends at t = " +
                         std::to_string(h.end) + " s, before the session started (" + std::to_string(since) +
                         " s); its spans are not shown (busy time, traffic and the throughput and latency series are unavailable)");
      return;
    }
    s.value = h.end - since;
    last_token[h.session] = h.end;
    out.push_back(s);
  }
}

}  // namespace

void read_events_file(const fs::path& file, Timeline& timeline, std::vector<std::string>& errors) {
  SwarmInfo info;
  std::vector<SwarmEvent> events;
  bool have_info = false;
  std::vector<std::string> warnings;
  read_lines(file, info, events, have_info, errors, warnings);
  timeline = Timeline(std::move(info));
  timeline.assign(std::move(events));
}

RunSummary read_run_summary(const json& metrics, const std::string& file, std::vector<std::string>& warnings) {
  RunSummary r;
  if (!metrics.is_object()) {
    warnings.push_back(file + ": expected a JSON object; end-of-run figures are unavailable");
    return r;
  }
  r.present = true;
  // The value at `path` if it is a finite number (NaN if absent; a warning if of another type).
  const auto figure = [&](const json& obj, const std::string& path, const char* key) {
    const auto it = obj.find(key);
    if (it == obj.end()) return std::numeric_limits<double>::quiet_NaN();
    if (!it->is_number() || !std::isfinite(it->get<double>())) {
      warnings.push_back(file + ": " + path + key + ": expected a number, got " + it->dump().substr(0, 60));
      return std::numeric_limits<double>::quiet_NaN();
    }
    return it->get<double>();
  };
  const auto word = [&](const char* key) {
    const auto it = metrics.find(key);
    if (it == metrics.end()) return std::string();
    if (!it->is_string()) {
      warnings.push_back(file + ": " + key + ": expected a string, got " + it->dump().substr(0, 60));
      return std::string();
    }
    return it->get<std::string>();
  };
  // The object at metrics[key] (nullptr if absent; a warning if of another type).
  const auto object = [&](const json& obj, const std::string& path, const char* key) -> const json* {
    const auto it = obj.find(key);
    if (it == obj.end()) return nullptr;
    if (!it->is_object()) {
      warnings.push_back(file + ": " + path + key + ": expected an object, got " + it->dump().substr(0, 60));
      return nullptr;
    }
    return &*it;
  };
  r.router = word("router");
  r.network_model = word("network_model");
  r.simulated_time_s = figure(metrics, "", "simulated_time_s");
  const double dropped = figure(metrics, "", "trace_dropped_events");
  r.trace_dropped_events = dropped > 0 ? dropped : 0;
  if (const json* t = object(metrics, "", "throughput")) {
    r.tokens_per_s = figure(*t, "throughput.", "tokens_per_s");
    r.tokens_generated = figure(*t, "throughput.", "tokens_generated");
  }
  if (const json* e = object(metrics, "", "energy")) {
    r.energy.window_s = figure(*e, "energy.", "window_s");
    r.energy.joules = figure(*e, "energy.", "joules");
    r.energy.mean_power_w = figure(*e, "energy.", "mean_power_w");
    r.energy.idle_share = figure(*e, "energy.", "idle_share");
    // Per token (swarms of blocks) or per request (pipelines, trees, coded runs); null: none done.
    if (const auto it = e->find("joules_per_token"); it != e->end() && !it->is_null())
      r.energy.joules_per_token = figure(*e, "energy.", "joules_per_token");
    if (const auto it = e->find("joules_per_request"); it != e->end() && !it->is_null())
      r.energy.joules_per_request = figure(*e, "energy.", "joules_per_request");
  }
  if (const json* c = object(metrics, "", "cost")) {
    const auto cur = c->find("currency");
    if (cur != c->end() && cur->is_string())
      r.cost.currency = cur->get<std::string>();
    else
      warnings.push_back(file + ": cost.currency: expected a string");
    r.cost.total = figure(*c, "cost.", "total");
    for (auto [key, into] : {std::pair{"per_million_tokens", &r.cost.per_million_tokens}, std::pair{"per_thousand_requests", &r.cost.per_thousand_requests}})
      if (const auto it = c->find(key); it != c->end() && !it->is_null()) *into = figure(*c, "cost.", key);
  }
  if (const json* lat = object(metrics, "", "latency_s"))
    for (const char* k : {"time_to_first_token", "per_token", "session"})
      if (const json* p = object(*lat, "latency_s.", k)) {
        const std::string at = std::string("latency_s.") + k + ".";
        r.latency.push_back({k, figure(*p, at, "p50"), figure(*p, at, "p99")});
      }
  if (const json* breakdown = object(metrics, "", "latency_breakdown_s"))
    if (const json* token = object(*breakdown, "latency_breakdown_s.", "per_token")) {
      r.token_latency = figure(*token, "latency_breakdown_s.per_token.", "latency");
      for (const char* k : {"server_compute", "client_compute", "contention", "propagation", "software", "transmission", "waiting"})
        if (const double v = figure(*token, "latency_breakdown_s.per_token.", k); std::isfinite(v)) r.token_parts.emplace_back(k, v);
    }
  if (const auto it = metrics.find("nodes"); it != metrics.end()) {
    if (!it->is_array()) {
      warnings.push_back(file + ": nodes: expected an array, got " + it->dump().substr(0, 60));
    } else {
      for (std::size_t i = 0; i < it->size(); ++i) {
        const json& n = (*it)[i];
        const std::string at = "nodes[" + std::to_string(i) + "].";
        RunSummary::Node node;
        if (!n.is_object()) {
          warnings.push_back(file + ": " + at.substr(0, at.size() - 1) + ": expected an object");
        } else {
          node.weights_bytes = figure(n, at, "weights_bytes");
          node.kv_peak_bytes = figure(n, at, "kv_peak_bytes");
          node.utilization = figure(n, at, "utilization");
          node.energy_joules = figure(n, at, "energy_joules");
        }
        r.nodes.push_back(node);
      }
    }
  } else if (const auto e = metrics.find("energy"); e != metrics.end() && e->is_object()) {
    // Request runs (pipelines, trees, coded inference) have no "nodes": each host's energy is in
    // energy.hosts, servers then clients in host order.
    if (const auto hosts = e->find("hosts"); hosts != e->end() && hosts->is_array())
      for (std::size_t i = 0; i < hosts->size(); ++i) {
        const json& h = (*hosts)[i];
        const std::string at = "energy.hosts[" + std::to_string(i) + "].";
        RunSummary::Node node;
        if (h.is_object())
          node.energy_joules = figure(h, at, "energy_joules");
        else
          warnings.push_back(file + ": " + at.substr(0, at.size() - 1) + ": expected an object");
        r.nodes.push_back(node);
      }
  }
  return r;
}

RunDirectory load_run_directory(const fs::path& dir) {
  RunDirectory run;
  run.dir = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    run.errors.push_back(dir.string() + ": " + (fs::exists(dir, ec) ? "not a directory" : "no such directory") +
                         " (expected a run directory holding events.jsonl)");
    return run;
  }
  const fs::path events_file = dir / "events.jsonl";
  if (!fs::exists(events_file, ec)) {
    run.errors.push_back(events_file.string() + ": no such file (is this a `swarmsim run --out` directory?)");
    return run;
  }
  SwarmInfo info;
  std::vector<SwarmEvent> events;
  bool have_info = false;
  read_lines(events_file, info, events, have_info, run.errors, run.warnings);

  const fs::path metrics_file = dir / "metrics.json";
  if (std::ifstream m(metrics_file, std::ios::binary); m) {
    try {
      run.summary = read_run_summary(json::parse(m), metrics_file.string(), run.warnings);
    } catch (const std::exception& ex) {
      run.warnings.push_back(metrics_file.string() + ": not valid JSON (" + std::string(ex.what()) + ")");
    }
  } else {
    run.warnings.push_back(metrics_file.string() + ": missing; end-of-run figures are unavailable");
  }

  std::vector<SwarmEvent> spans;
  if (have_info) {
    const fs::path trace_file = dir / "trace.json";
    if (fs::exists(trace_file, ec)) {
      read_trace(trace_file, info, events, spans, run.warnings);
      run.has_spans = !spans.empty();
      // Spans past the last good event line would run ahead of a truncated log: drop them.
      const double horizon = events.empty() ? 0.0 : events.back().t;
      if (!run.errors.empty())
        spans.erase(std::remove_if(spans.begin(), spans.end(), [&](const SwarmEvent& e) { return e.t > horizon; }),
                    spans.end());
    } else {
      run.warnings.push_back(trace_file.string() +
                             ": missing; busy time, traffic and the throughput and latency series are unavailable");
    }
    if (run.summary.trace_dropped_events > 0)
      run.warnings.push_back("trace.json stopped recording early (trace_dropped_events = " +
                             std::to_string(static_cast<long long>(run.summary.trace_dropped_events)) + "): series end early");
  }

  // A pipeline's, a tree's or a coded run's request is one step, answered when its session is done
  // (none has a "head" span; their live streams send that step).
  if (info.pipeline || info.tree || info.coded_models > 0) {
    std::map<int, double> arrival;
    for (const SwarmEvent& e : events) {
      if (e.type == EventType::SessionStart) arrival[e.session] = e.t;
      if (e.type != EventType::SessionDone || !arrival.count(e.session)) continue;
      SwarmEvent s;
      s.type = EventType::Step;
      s.t = e.t;
      s.session = e.session;
      s.value = e.t - arrival[e.session];
      spans.push_back(s);
    }
  }

  // Tokens per step (the batch size): what metrics.json counted over the steps seen.
  long steps = 0;
  for (const SwarmEvent& e : spans) steps += e.type == EventType::Step;
  if (steps > 0 && run.summary.tokens_generated > 0)
    info.tokens_per_step = std::max(1.0, std::round(run.summary.tokens_generated / static_cast<double>(steps)));

  events.insert(events.end(), std::make_move_iterator(spans.begin()), std::make_move_iterator(spans.end()));
  run.timeline = Timeline(std::move(info));
  run.timeline.assign(std::move(events));
  if (fs::exists(dir / "scenario.json", ec)) run.scenario = dir / "scenario.json";
  return run;
}

}  // namespace swarmsim::gui
