#include "gui/run_loader.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

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
  if (!v.is_number_integer()) throw EventFormatError(std::string("\"") + key + "\": expected an integer, got " + v.dump());
  return v.get<int>();
}

std::string text(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_string()) throw EventFormatError(std::string("\"") + key + "\": expected a string, got " + v.dump());
  return v.get<std::string>();
}

int host(const json& j, const char* key, const SwarmInfo& info) {
  const std::string name = text(j, key);
  const int i = info.host_index(name);
  if (i < 0) throw EventFormatError(std::string("\"") + key + "\": unknown host \"" + name + "\" (not in run_start)");
  return i;
}

BlockRange blocks(const json& j, const char* key) {
  const json& v = field(j, key);
  if (!v.is_object()) throw EventFormatError(std::string("\"") + key + "\": expected {start, end}");
  return BlockRange{integer(v, "start"), integer(v, "end")};
}

std::optional<topology::GeoPoint> location(const json& j) {
  auto it = j.find("location");
  if (it == j.end() || it->is_null()) return std::nullopt;
  return topology::GeoPoint{number(*it, "lat"), number(*it, "lon")};
}

/// A node ("gpu", memory) or a client ("device") of the run_start header.
HostInfo host_info(const json& j, bool server) {
  HostInfo h;
  h.name = text(j, "name");
  h.device = text(j, server ? "gpu" : "device");
  h.is_server = server;
  if (server) h.memory_bytes = j.value("memory_bytes", 0.0);
  h.uplink_Bps = j.value("uplink_Bps", 0.0);
  h.downlink_Bps = j.value("downlink_Bps", 0.0);
  h.location = location(j);
  return h;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// [SECTION] Lines
// ---------------------------------------------------------------------------------------------

SwarmInfo parse_run_start(const json& j) {
  if (!j.is_object() || text(j, "type") != "run_start")
    throw EventFormatError("the first line must be the \"run_start\" event");
  SwarmInfo info;
  info.scenario = text(j, "scenario");
  info.model = j.value("model", "");
  info.seed = j.value("seed", std::uint64_t{0});
  info.n_blocks = integer(j, "n_blocks");
  for (const json& n : field(j, "nodes")) info.hosts.push_back(host_info(n, true));
  info.n_servers = static_cast<int>(info.hosts.size());
  for (const json& c : field(j, "clients")) info.hosts.push_back(host_info(c, false));
  info.tokens_per_step = j.value("tokens_per_step", 1.0);
  info.index_hosts();
  return info;
}

SwarmEvent parse_event(const json& j, const SwarmInfo& info) {
  if (!j.is_object()) throw EventFormatError("expected a JSON object");
  SwarmEvent e;
  e.t = number(j, "t");
  const std::string type = text(j, "type");
  if (type == "node_join") {
    e.type = EventType::NodeJoin;
    e.node = host(j, "node", info);
    e.blocks = blocks(j, "blocks");
    e.start = j.value("load_started", e.t);
  } else if (type == "node_down" || type == "node_up") {
    e.type = type == "node_down" ? EventType::NodeDown : EventType::NodeUp;
    e.node = host(j, "node", info);
  } else if (type == "link_change") {
    e.type = EventType::LinkChange;
    e.text = text(j, "action");
    e.node = host(j, "node", info);
    if (j.contains("peer")) e.peer = host(j, "peer", info);
    if (e.text == "set_bandwidth") {
      e.value = number(j, "bandwidth_Bps");
      const std::string d = j.value("direction", "both");
      e.direction = d == "up" ? 'u' : d == "down" ? 'd' : 'b';
    } else if (e.text == "set_latency") {
      e.value = number(j, "latency_s");
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
    e.attempt = j.value("attempt", 1);
    e.value = j.value("cost", 0.0);
    for (const json& h : field(j, "hops")) e.hops.push_back({host(h, "node", info), blocks(h, "blocks")});
  } else if (type == "session_done" || type == "session_failed") {
    e.type = type == "session_done" ? EventType::SessionDone : EventType::SessionFailed;
    e.session = integer(j, "session");
    e.tokens = j.value("tokens", 0);
    if (e.type == EventType::SessionFailed) e.text = j.value("reason", "");
  } else if (type == "compute") {
    e.type = EventType::Compute;
    e.node = host(j, "host", info);
    e.start = number(j, "start");
    e.session = j.value("session", -1);
    e.step = j.value("step", 0);
    e.text = j.value("what", "blocks");
    if (j.contains("blocks")) e.blocks = blocks(j, "blocks");
  } else if (type == "transfer") {
    e.type = EventType::Transfer;
    e.node = host(j, "from", info);
    e.peer = host(j, "to", info);
    e.start = number(j, "start");
    e.value = number(j, "bytes");
    e.session = j.value("session", -1);
    e.step = j.value("step", 0);
  } else if (type == "step") {
    e.type = EventType::Step;
    e.session = integer(j, "session");
    e.step = integer(j, "step");
    e.value = number(j, "latency");
  } else if (type == "transfer_retry") {
    e.type = EventType::TransferRetry;
    e.node = host(j, "from", info);
    e.peer = host(j, "to", info);
    e.session = j.value("session", -1);
    e.step = j.value("step", 0);
    e.attempt = j.value("attempt", 1);
    e.text = j.value("reason", "");
    e.given_up = j.value("given_up", false);
  } else if (type == "session_recovered") {
    e.type = EventType::SessionRecovered;
    e.session = integer(j, "session");
    e.step = j.value("step", 0);
    e.node = host(j, "failed_node", info);
    e.blocks = blocks(j, "blocks");
    e.tokens = j.value("replayed_tokens", 0);
    e.value = j.value("detected_after", 0.0);
    for (const json& h : field(j, "hops")) e.hops.push_back({host(h, "node", info), blocks(h, "blocks")});
  } else if (type == "blocks_moved") {
    e.type = EventType::BlocksMoved;
    e.node = host(j, "node", info);
    e.blocks = blocks(j, "from");
    e.blocks_to = blocks(j, "to");
  } else if (type == "run_end") {
    e.type = EventType::RunEnd;
  } else if (type == "run_start") {
    throw EventFormatError("a second \"run_start\" line");
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

/// "blocks 3-7" -> [3, 8)
BlockRange blocks_from_name(const std::string& name) {
  int a = 0, b = -1;
  if (std::sscanf(name.c_str(), "blocks %d-%d", &a, &b) == 2) return BlockRange{a, b + 1};
  return {};
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
  for (const json& t : *events_it) {
    if (t.value("ph", "") != "X") continue;
    const std::string cat = t.value("cat", "");
    if (cat != "compute" && cat != "transfer") continue;
    const int tid = t.value("tid", -1);
    if (tid < 0 || tid >= H) continue;
    const double start = t.value("ts", 0.0) * 1e-6, end = start + t.value("dur", 0.0) * 1e-6;
    const json args = t.value("args", json::object());
    SwarmEvent e;
    e.t = end;
    e.start = start;
    e.node = tid;
    e.session = args.value("session", -1);
    e.step = args.value("step", 0);
    const std::string name = t.value("name", "");
    if (cat == "compute") {
      e.type = EventType::Compute;
      e.blocks = blocks_from_name(name);
      e.text = e.blocks.empty() ? name : "blocks";
      if (name == "head") heads.push_back({end, e.session, e.step});
    } else {
      e.type = EventType::Transfer;
      e.value = args.value("bytes", 0.0);
      // "send to NAME (8.25 KiB)"
      const std::string prefix = "send to ";
      const std::size_t paren = name.rfind(" (");
      if (name.rfind(prefix, 0) == 0 && paren != std::string::npos)
        e.peer = info.host_index(name.substr(prefix.size(), paren - prefix.size()));
      if (e.peer < 0) continue;
    }
    out.push_back(std::move(e));
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
      run.metrics = json::parse(m);
    } catch (const std::exception& ex) {
      run.warnings.push_back(metrics_file.string() + ": not valid JSON (" + std::string(ex.what()) + ")");
      run.metrics = nullptr;
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
    if (run.metrics.is_object() && run.metrics.contains("trace_dropped_events"))
      run.warnings.push_back("trace.json stopped recording early (trace_dropped_events = " +
                             run.metrics["trace_dropped_events"].dump() + "): series end early");
  }

  // Tokens per step (the batch size): what metrics.json counted over the steps seen.
  long steps = 0;
  for (const SwarmEvent& e : spans) steps += e.type == EventType::Step;
  if (steps > 0 && run.metrics.is_object()) {
    const double tokens = run.metrics.value(json::json_pointer("/throughput/tokens_generated"), 0.0);
    if (tokens > 0) info.tokens_per_step = std::max(1.0, std::round(tokens / static_cast<double>(steps)));
  }

  events.insert(events.end(), std::make_move_iterator(spans.begin()), std::make_move_iterator(spans.end()));
  run.timeline = Timeline(std::move(info));
  run.timeline.assign(std::move(events));
  if (fs::exists(dir / "scenario.json", ec)) run.scenario = dir / "scenario.json";
  return run;
}

}  // namespace swarmsim::gui
