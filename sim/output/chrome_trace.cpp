#include "sim/output/chrome_trace.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "sim/units.hpp"

namespace swarmsim::sim {
namespace {
// Servers are one Perfetto "process", clients another; each host is a "thread" (track) of it.
constexpr int kServersPid = 1;
constexpr int kClientsPid = 2;

std::string micros(double seconds) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f", seconds * 1e6);
  return buf;
}
}  // namespace

ChromeTraceWriter::ChromeTraceWriter(const Scenario& sc, const std::filesystem::path& path) : sc_(sc), file_(path) {
  std::ostream& o = file_.stream();
  nlohmann::json meta = {{"scenario", sc.name}, {"seed", sc.seed}, {"model", sc.model.name},
                         {"time_unit", "simulated microseconds"}};
  o << "{\"displayTimeUnit\":\"ms\",\"otherData\":" << meta.dump() << ",\"traceEvents\":[\n";
  o << R"({"ph":"M","pid":1,"tid":0,"name":"process_name","args":{"name":"servers"}})";
  o << ",\n" << R"({"ph":"M","pid":2,"tid":0,"name":"process_name","args":{"name":"clients"}})";
  const int S = static_cast<int>(sc.nodes.size());
  for (int h = 0; h < S + static_cast<int>(sc.clients.size()); ++h) {
    const bool server = h < S;
    const std::string label = server ? sc.nodes[h].name + " (" + sc.nodes[h].device->name + ")"
                                     : sc.clients[h - S].name + " (client)";
    o << ",\n{\"ph\":\"M\",\"pid\":" << (server ? kServersPid : kClientsPid) << ",\"tid\":" << h
      << ",\"name\":\"thread_name\",\"args\":{\"name\":" << nlohmann::json(label).dump() << "}}";
    o << ",\n{\"ph\":\"M\",\"pid\":" << (server ? kServersPid : kClientsPid) << ",\"tid\":" << h
      << ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":" << h << "}}";
  }
}

std::string ChromeTraceWriter::host_name(int host) const {
  const int S = static_cast<int>(sc_.nodes.size());
  return host < S ? sc_.nodes[host].name : sc_.clients[host - S].name;
}

bool ChromeTraceWriter::admit() {
  if (written_ >= sc_.outputs.trace_max_events) {
    ++dropped_;
    return false;
  }
  ++written_;
  return true;
}

void ChromeTraceWriter::span(int host, double start, double end, const char* cat, const std::string& name,
                             const std::string& args) {
  if (!admit()) return;
  const int pid = host < static_cast<int>(sc_.nodes.size()) ? kServersPid : kClientsPid;
  file_.stream() << ",\n{\"ph\":\"X\",\"pid\":" << pid << ",\"tid\":" << host << ",\"ts\":" << micros(start)
                 << ",\"dur\":" << micros(end - start) << ",\"cat\":\"" << cat << "\",\"name\":"
                 << nlohmann::json(name).dump() << ",\"args\":" << args << "}";
}

void ChromeTraceWriter::instant(int host, double t, const std::string& name, const std::string& args) {
  if (!admit()) return;
  const int pid = host < static_cast<int>(sc_.nodes.size()) ? kServersPid : kClientsPid;
  file_.stream() << ",\n{\"ph\":\"i\",\"s\":\"t\",\"pid\":" << pid << ",\"tid\":" << host << ",\"ts\":" << micros(t)
                 << ",\"cat\":\"swarm\",\"name\":" << nlohmann::json(name).dump() << ",\"args\":" << args << "}";
}

void ChromeTraceWriter::connect(SimSignals& s) {
  s.on_compute.connect([this](const ComputeSpan& e) {
    // "blocks 0-15" for a step's work on a server, else what it was: "check blocks 0-15",
    // "replay blocks 0-15", "forward blocks 0-15" (fine-tuning), "embed", "stage 3".
    const std::string what = e.what;
    const std::string name = what == "stage"     ? "stage " + std::to_string(e.blocks.start)
                             : e.blocks.empty()  ? what
                             : what == "blocks"  ? "blocks " + e.blocks.str()
                                                 : what + " blocks " + e.blocks.str();
    span(e.host, e.start, e.end, "compute", name,
         "{\"session\":" + std::to_string(e.session) + ",\"step\":" + std::to_string(e.step) + "}");
  });
  s.on_transfer.connect([this](const TransferSpan& e) {
    span(e.from, e.start, e.end, "transfer", "send to " + host_name(e.to) + " (" + format_bytes(e.bytes) + ")",
         "{\"session\":" + std::to_string(e.session) + ",\"step\":" + std::to_string(e.step) +
             ",\"bytes\":" + std::to_string(static_cast<long long>(e.bytes)) + "}");
  });
  s.on_node_joined.connect([this](const NodeJoined& e) {
    if (e.pipeline_stage && e.t <= e.load_started) return;  // a stage placed at the start loads nothing
    span(e.node, e.load_started, e.t, "swarm",
         e.pipeline_stage ? "load stage " + std::to_string(e.blocks.start) : "load blocks " + e.blocks.str(), "{}");
  });
  s.on_node_state.connect(
      [this](const NodeStateChanged& e) { instant(e.node, e.t, e.up ? "node up" : "node down", "{}"); });
  s.on_chain_formed.connect([this](const ChainFormed& e) {
    std::string chain;
    for (std::size_t i = 0; i < e.servers.size(); ++i)
      chain += (i ? " > " : "") + host_name(e.servers[i]) + "[" + e.ranges[i].str() + "]";
    instant(static_cast<int>(sc_.nodes.size()) + e.session % static_cast<int>(sc_.clients.size()), e.t,
            "chain for session " + std::to_string(e.session), "{\"chain\":" + nlohmann::json(chain).dump() + "}");
  });
  s.on_kv_changed.connect([this](const KvChanged& e) {
    // A counter track per host under its process: its KV memory reserved, in GiB.
    if (!admit()) return;
    char gib[32];
    std::snprintf(gib, sizeof gib, "%.6f", e.bytes / static_cast<double>(1ull << 30));
    const int pid = e.node < static_cast<int>(sc_.nodes.size()) ? kServersPid : kClientsPid;
    file_.stream() << ",\n{\"ph\":\"C\",\"pid\":" << pid << ",\"ts\":" << micros(e.t)
                   << ",\"name\":" << nlohmann::json("KV " + host_name(e.node)).dump() << ",\"args\":{\"GiB\":" << gib << "}}";
  });
}

void ChromeTraceWriter::finish() {
  file_.stream() << "\n]}\n";
  file_.commit();
}

}  // namespace swarmsim::sim
