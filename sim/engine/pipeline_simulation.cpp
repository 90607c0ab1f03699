#include "sim/engine/pipeline_simulation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Mailbox.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include "sim/engine/swarm_platform.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/pipeline_plan.hpp"
#include "sim/rng.hpp"
#include "sim/swarm/arrivals.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/units.hpp"

namespace sg4 = simgrid::s4u;

namespace swarmsim::sim {
namespace {

/// A request id travels as the message payload (SimGrid payloads are opaque pointers).
void* as_payload(int request) { return reinterpret_cast<void*>(static_cast<std::intptr_t>(request) + 1); }
int request_of(void* payload) { return static_cast<int>(reinterpret_cast<std::intptr_t>(payload) - 1); }

struct StageRun {
  double busy_s = 0;
  int requests = 0;
  double bytes_in = 0, bytes_out = 0;
  double max_queue_wait_s = 0;
};

struct PipelineRun {
  const Scenario& sc;
  PipelinePlan plan;
  int requests = 0;
  int client_host = 0;
  int outputs_expected = 0;  // stages that return graph outputs to the client
  std::vector<double> arrival, sent, done;
  std::vector<StageRun> stage;
  double bytes_moved = 0;
  std::uint64_t messages = 0;
  std::vector<std::string> event_lines;
  bool keep_events = false;

  explicit PipelineRun(const Scenario& s) : sc(s) {}

  static double now() { return sg4::Engine::get_clock(); }
  /// Time the sending or receiving end spends on one message: the RPC cost and (de)serialization.
  double endpoint_s(double bytes) const { return sc.overheads.rpc_s + bytes / sc.overheads.serialization_Bps; }

  void event(const std::string& type, int stage_index, int request) {
    if (!keep_events) return;
    char buf[160];
    std::snprintf(buf, sizeof buf, "{\"t\":%.9g,\"type\":\"%s\",\"stage\":%d,\"request\":%d}", now(), type.c_str(), stage_index,
                  request);
    event_lines.emplace_back(buf);
  }

  void send(int to_stage, int request, double bytes) {
    sg4::Mailbox* mb = sg4::Mailbox::by_name(to_stage < 0 ? "client" : "stage-" + std::to_string(to_stage));
    const double wire = bytes + sc.overheads.header_bytes;
    sg4::this_actor::sleep_for(endpoint_s(bytes));  // serialization at the sending end
    mb->put_init(as_payload(request), static_cast<std::uint64_t>(std::ceil(wire)))->detach();
    bytes_moved += wire;
    ++messages;
  }

  void stage_actor(int s) {
    const PipelineStage& st = plan.stages[s];
    sg4::Mailbox* mb = sg4::Mailbox::by_name("stage-" + std::to_string(s));
    mb->set_receiver(sg4::Actor::self());  // transfers start as soon as they are posted
    std::vector<int> got(static_cast<std::size_t>(requests), 0);
    std::vector<double> first_input(static_cast<std::size_t>(requests), -1);
    double in_bytes_per_request = st.input_bytes_from_client;
    for (const auto& other : plan.stages)
      for (const auto& [to, bytes] : other.sends)
        if (to == s) in_bytes_per_request += bytes;
    for (int processed = 0; processed < requests;) {
      const int r = request_of(mb->get<void>());
      if (first_input[r] < 0) first_input[r] = now();
      if (++got[r] < st.inputs_expected) continue;
      const double start = now();
      stage[s].max_queue_wait_s = std::max(stage[s].max_queue_wait_s, start - first_input[r]);
      event("stage_start", s, r);
      // Deserialize every input, run the stage's ops, then serialize and post each output.
      sg4::this_actor::sleep_for(st.inputs_expected * sc.overheads.rpc_s + in_bytes_per_request / sc.overheads.serialization_Bps);
      sg4::this_actor::sleep_for(st.compute_s);
      for (const auto& [to, bytes] : st.sends) {
        send(to, r, bytes);
        stage[s].bytes_out += bytes;
      }
      if (st.output_bytes_to_client > 0 || st.sends.empty()) {
        send(-1, r, st.output_bytes_to_client);
        stage[s].bytes_out += st.output_bytes_to_client;
      }
      stage[s].bytes_in += in_bytes_per_request;
      stage[s].busy_s += now() - start;
      ++stage[s].requests;
      event("stage_end", s, r);
      ++processed;
    }
  }

  void client_sender(sg4::SemaphorePtr window) {
    for (int r = 0; r < requests; ++r) {
      if (arrival[r] > now()) sg4::this_actor::sleep_until(arrival[r]);
      window->acquire();  // at most max_in_flight requests in the pipeline
      sent[r] = now();
      event("request_sent", -1, r);
      for (int s = 0; s < static_cast<int>(plan.stages.size()); ++s)
        if (plan.stages[s].input_bytes_from_client > 0 || has_source(s)) send(s, r, plan.stages[s].input_bytes_from_client);
    }
  }

  bool has_source(int s) const {
    const PipelineStage& st = plan.stages[s];
    int from_stages = 0;
    for (const auto& other : plan.stages)
      for (const auto& [to, bytes] : other.sends) from_stages += to == s;
    return st.inputs_expected > from_stages;
  }

  void client_receiver(sg4::SemaphorePtr window) {
    sg4::Mailbox* mb = sg4::Mailbox::by_name("client");
    mb->set_receiver(sg4::Actor::self());
    std::vector<int> got(static_cast<std::size_t>(requests), 0);
    for (int completed = 0; completed < requests;) {
      const int r = request_of(mb->get<void>());
      if (++got[r] < outputs_expected) continue;
      done[r] = now();
      event("request_done", -1, r);
      window->release();
      ++completed;
    }
  }

  void draw_arrivals() {
    Rng root(sc.seed);
    arrival = sim::draw_arrivals(sc.workload, root);
  }

};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size())));  // nearest rank
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

}  // namespace

RunReport run_pipeline(const Scenario& sc, const RunOptions& options) {
  const std::unique_ptr<sg4::Engine> engine = make_engine();

  PipelineRun m(sc);
  const auto plan0 = std::chrono::steady_clock::now();
  m.plan = plan_pipeline(sc);
  const double plan_wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - plan0).count();
  m.requests = sc.workload.sessions;
  m.arrival.assign(static_cast<std::size_t>(m.requests), 0);
  m.sent.assign(static_cast<std::size_t>(m.requests), -1);
  m.done.assign(static_cast<std::size_t>(m.requests), -1);
  m.stage.assign(m.plan.stages.size(), StageRun{});
  m.keep_events = !options.out_dir.empty() && sc.outputs.events;
  for (const auto& st : m.plan.stages) m.outputs_expected += (st.output_bytes_to_client > 0 || st.sends.empty()) ? 1 : 0;
  m.draw_arrivals();

  LatencyTable latencies(sc);
  SwarmPlatform platform(sc, latencies);
  const int client = static_cast<int>(sc.nodes.size());  // the first client runs the requests
  for (int s = 0; s < static_cast<int>(m.plan.stages.size()); ++s)
    sg4::Actor::create("stage-" + std::to_string(s), platform.host(m.plan.stages[s].node), [&m, s] { m.stage_actor(s); })
        ->daemonize();
  // Replayed latency changes (bandwidth changes and their profiles are the platform's).
  sg4::Actor::create("replay", platform.control_host(), [&sc, &latencies] {
    auto index = [&sc](const std::string& name) {
      for (std::size_t i = 0; i < sc.nodes.size(); ++i)
        if (sc.nodes[i].name == name) return static_cast<int>(i);
      for (std::size_t c = 0; c < sc.clients.size(); ++c)
        if (sc.clients[c].name == name) return static_cast<int>(sc.nodes.size() + c);
      return -1;
    };
    for (const ReplayEvent& e : sc.events) {
      if (e.action != EventAction::SetLatency) continue;
      sg4::this_actor::sleep_until(e.at_s);
      if (e.peer.empty()) latencies.set_access(index(e.node), e.value);
      else latencies.set_pair(index(e.node), index(e.peer), e.value);
    }
  })->daemonize();
  sg4::SemaphorePtr window = sg4::Semaphore::create(static_cast<unsigned>(sc.workload.max_in_flight));
  sg4::Actor::create("client-send", platform.host(client), [&m, window] { m.client_sender(window); });
  sg4::Actor::create("client-receive", platform.host(client), [&m, window] { m.client_receiver(window); });

  const auto wall0 = std::chrono::steady_clock::now();
  engine->run_until(sc.time_limit_s);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();

  // Results.
  std::vector<double> latency, completions;
  int completed = 0;
  double last = 0;
  for (int r = 0; r < m.requests; ++r)
    if (m.done[r] >= 0) {
      ++completed;
      latency.push_back(m.done[r] - m.sent[r]);
      completions.push_back(m.done[r]);
      last = std::max(last, m.done[r]);
    }
  std::sort(completions.begin(), completions.end());
  const double sim_time = completed == m.requests ? last : sc.time_limit_s;
  const double first_arrival = m.requests > 0 ? m.arrival[0] : 0.0;
  double steady = 0;
  if (completions.size() >= 10) {  // completions between the 10th and 90th percentile: no fill or drain
    const std::size_t a = completions.size() / 10, b = completions.size() - 1 - completions.size() / 10;
    if (completions[b] > completions[a]) steady = static_cast<double>(b - a) / (completions[b] - completions[a]);
  }
  const partition::ModelGraph& g = *sc.graph;
  nlohmann::json stages = nlohmann::json::array();
  const double span = std::max(1e-12, sim_time - first_arrival);
  for (std::size_t s = 0; s < m.plan.stages.size(); ++s) {
    const PipelineStage& st = m.plan.stages[s];
    const NodeSpec& node = sc.nodes[static_cast<std::size_t>(st.node)];
    stages.push_back({{"stage", s},
                      {"node", node.name},
                      {"device", node.device->name},
                      {"ops", st.ops},
                      {"compute_s", st.compute_s},
                      {"param_bytes", st.param_bytes},
                      {"peak_activation_bytes", st.peak_bytes},
                      {"predicted_cost_s", st.predicted_cost_s},
                      {"service_s", st.service_s},
                      {"link_in_s", st.link_in_s},
                      {"link_out_s", st.link_out_s},
                      {"busy_s", m.stage[s].busy_s},
                      {"utilization", m.stage[s].busy_s / span},
                      {"requests", m.stage[s].requests},
                      {"bytes_in", m.stage[s].bytes_in},
                      {"bytes_out", m.stage[s].bytes_out},
                      {"max_input_wait_s", m.stage[s].max_queue_wait_s}});
  }
  const auto& q = m.plan.quality;
  nlohmann::json convergence = nlohmann::json::array();
  for (const auto& gen : m.plan.partition.convergence) convergence.push_back({gen.generation, gen.best_s, gen.mean_s});
  RunReport report;
  report.metrics = {
      {"scenario", sc.name},
      {"kind", "pipeline"},
      {"seed", sc.seed},
      {"model", {{"graph", g.name()}, {"source", sc.graph_source}, {"ops", g.size()}, {"edges", g.edge_count()},
                 {"flops", g.total_flops()}, {"param_bytes", g.total_param_bytes()}}},
      {"partition",
       {{"method", partition::to_string(m.plan.partition.method)},
        {"recut_onto_nodes", m.plan.node_sliced},
        {"stages", m.plan.partition.blocks},
        {"reference_bottleneck_s", q.bottleneck_s},
        {"stages_allowed", sc.policy.partitioner.stages > 0 ? sc.policy.partitioner.stages : static_cast<int>(sc.nodes.size())},
        {"lower_bound_s", partition::bottleneck_lower_bound(
                              g, sc.policy.partitioner.stages > 0 ? sc.policy.partitioner.stages : static_cast<int>(sc.nodes.size()),
                              m.plan.reference)},
        {"load_stddev_s", q.load_stddev_s},
        {"communication_bytes", q.communication_bytes},
        {"critical_path_blocks", q.critical_path_blocks},
        {"critical_path_s", q.critical_path_s},
        {"peak_memory_bytes", q.peak_memory_bytes},
        {"brkga_convergence", convergence}}},
      {"placement",
       {{"kind", sc.policy.partitioner.placement == PlacementKind::Optimal ? "optimal" : "greedy"},
        {"predicted_bottleneck_s", m.plan.predicted_bottleneck_s},
        {"predicted_requests_per_s", m.plan.predicted_bottleneck_s > 0 ? 1.0 / m.plan.predicted_bottleneck_s : 0.0},
        {"client_link_s", m.plan.client_link_s},
        {"overlap_bottleneck_s", m.plan.overlap_bottleneck_s},
        {"overlap_bound_requests_per_s", m.plan.overlap_bottleneck_s > 0 ? 1.0 / m.plan.overlap_bottleneck_s : 0.0}}},
      {"stages", stages},
      {"requests", {{"total", m.requests}, {"completed", completed}, {"failed", m.requests - completed},
                    {"max_in_flight", sc.workload.max_in_flight}}},
      {"throughput",
       {{"requests_per_s", completed > 0 ? completed / span : 0.0},
        {"steady_requests_per_s", steady},
        {"samples_per_s", completed > 0 ? completed * static_cast<double>(sc.workload.batch_size) / span : 0.0}}},
      {"latency_s",
       {{"p50", percentile(latency, 0.50)}, {"p90", percentile(latency, 0.90)}, {"p99", percentile(latency, 0.99)},
        {"max", latency.empty() ? 0.0 : *std::max_element(latency.begin(), latency.end())}}},
      {"network", {{"bytes_moved", m.bytes_moved}, {"messages", m.messages}}},
      {"simulated_time_s", sim_time},
      {"wall_clock", {{"seconds", wall}, {"partition_seconds", plan_wall}}},
  };
  if (completed < m.requests)
    report.metrics["requests"]["failure_reason"] = "time limit reached (simulation.time_limit) before every request completed";
  report.simulated_time = sim_time;
  report.wall_seconds = wall;
  report.hops = m.messages;
  if (!options.out_dir.empty()) {
    std::filesystem::create_directories(options.out_dir);
    if (sc.outputs.metrics) write_file_atomically(options.out_dir / "metrics.json", report.metrics.dump(2) + "\n");
    if (sc.outputs.events) {
      std::string text;
      for (const auto& line : m.event_lines) text += line + "\n";
      write_file_atomically(options.out_dir / "events.jsonl", text);
    }
  }
  return report;
}

}  // namespace swarmsim::sim
