#include "sim/engine/pipeline_simulation.hpp"

#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Mailbox.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include "sim/engine/swarm_platform.hpp"
#include "sim/pipeline_run.hpp"
#include "sim/swarm/latency_table.hpp"

namespace sg4 = simgrid::s4u;

namespace swarmsim::sim {
namespace {

/// A request id travels as the message payload (SimGrid payloads are opaque pointers).
void* as_payload(int request) { return reinterpret_cast<void*>(static_cast<std::intptr_t>(request) + 1); }
int request_of(void* payload) { return static_cast<int>(reinterpret_cast<std::intptr_t>(payload) - 1); }

/// The pipeline's actors: one per stage, and the client's sender and receiver.
struct PipelineActors {
  PipelineRun& m;
  const Scenario& sc;

  static double now() { return sg4::Engine::get_clock(); }

  void send(int to_stage, int request, double bytes) {
    sg4::Mailbox* mb = sg4::Mailbox::by_name(to_stage < 0 ? "client" : "stage-" + std::to_string(to_stage));
    const double wire = bytes + sc.overheads.header_bytes;
    sg4::this_actor::sleep_for(m.endpoint_s(bytes));  // serialization at the sending end
    mb->put_init(as_payload(request), static_cast<std::uint64_t>(std::ceil(wire)))->detach();
    m.bytes_moved += wire;
    ++m.messages;
  }

  void stage_actor(int s) {
    const PipelineStage& st = m.plan.stages[static_cast<std::size_t>(s)];
    sg4::Mailbox* mb = sg4::Mailbox::by_name("stage-" + std::to_string(s));
    mb->set_receiver(sg4::Actor::self());  // transfers start as soon as they are posted
    std::vector<int> got(static_cast<std::size_t>(m.requests), 0);
    std::vector<double> first_input(static_cast<std::size_t>(m.requests), -1);
    const double in_bytes = m.in_bytes_per_request(s);
    StageRun& tally = m.stage[static_cast<std::size_t>(s)];
    for (int processed = 0; processed < m.requests;) {
      const int r = request_of(mb->get<void>());
      if (first_input[r] < 0) first_input[r] = now();
      if (++got[r] < st.inputs_expected) continue;
      const double start = now();
      tally.max_queue_wait_s = std::max(tally.max_queue_wait_s, start - first_input[r]);
      m.event(now(), "stage_start", s, r);
      // Deserialize every input, run the stage's ops, then serialize and post each output.
      sg4::this_actor::sleep_for(st.inputs_expected * sc.overheads.rpc_s + in_bytes / sc.overheads.serialization_Bps);
      sg4::this_actor::sleep_for(st.compute_s);
      for (const auto& [to, bytes] : st.sends) {
        send(to, r, bytes);
        tally.bytes_out += bytes;
      }
      if (m.returns_to_client(s)) {
        send(-1, r, st.output_bytes_to_client);
        tally.bytes_out += st.output_bytes_to_client;
      }
      tally.bytes_in += in_bytes;
      tally.busy_s += now() - start;
      ++tally.requests;
      m.event(now(), "stage_end", s, r);
      ++processed;
    }
  }

  void client_sender(sg4::SemaphorePtr window) {
    for (int r = 0; r < m.requests; ++r) {
      if (m.arrival[r] > now()) sg4::this_actor::sleep_until(m.arrival[r]);
      window->acquire();  // at most max_in_flight requests in the pipeline
      m.sent[r] = now();
      m.event(now(), "request_sent", -1, r);
      for (int s = 0; s < static_cast<int>(m.plan.stages.size()); ++s)
        if (m.plan.stages[static_cast<std::size_t>(s)].input_bytes_from_client > 0 || m.has_source(s))
          send(s, r, m.plan.stages[static_cast<std::size_t>(s)].input_bytes_from_client);
    }
  }

  void client_receiver(sg4::SemaphorePtr window) {
    sg4::Mailbox* mb = sg4::Mailbox::by_name("client");
    mb->set_receiver(sg4::Actor::self());
    std::vector<int> got(static_cast<std::size_t>(m.requests), 0);
    for (int completed = 0; completed < m.requests;) {
      const int r = request_of(mb->get<void>());
      if (++got[r] < m.outputs_expected) continue;
      m.done[r] = now();
      m.event(now(), "request_done", -1, r);
      window->release();
      ++completed;
    }
  }
};

}  // namespace

RunReport run_pipeline(const Scenario& sc, const RunOptions& options) {
  const std::unique_ptr<sg4::Engine> engine = make_engine();
  PipelineRun m(sc, options);
  PipelineActors actors{m, sc};

  LatencyTable latencies(sc);
  SwarmPlatform platform(sc, latencies);
  const int client = static_cast<int>(sc.nodes.size());  // the first client runs the requests
  for (int s = 0; s < static_cast<int>(m.plan.stages.size()); ++s)
    sg4::Actor::create("stage-" + std::to_string(s), platform.host(m.plan.stages[static_cast<std::size_t>(s)].node),
                       [&actors, s] { actors.stage_actor(s); })
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
  sg4::Actor::create("client-send", platform.host(client), [&actors, window] { actors.client_sender(window); });
  sg4::Actor::create("client-receive", platform.host(client), [&actors, window] { actors.client_receiver(window); });

  const auto wall0 = std::chrono::steady_clock::now();
  engine->run_until(sc.time_limit_s);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  return pipeline_report(m, wall, options);
}

}  // namespace swarmsim::sim
