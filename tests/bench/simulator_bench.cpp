// Simulator throughput in hidden-state hops per wall-second, against bare SimGrid doing the same
// number of transfer + execution pairs at the same concurrency, measured in the same run.
// Every measurement runs in a forked child (SimGrid allows one simulation per process); the
// iteration time is the child's own SimGrid run time, so process start-up is not counted.
#include <benchmark/benchmark.h>

#include <chrono>
#include <functional>
#include <cstdio>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <simgrid/s4u.hpp>

#include "sim/engine/isolated_run.hpp"
#include "sim/pricing.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/bench/swarm_generator.hpp"

namespace sg4 = simgrid::s4u;
using namespace swarmsim;

namespace {

/// Runs `measure` in a forked child (SimGrid allows one simulation per process) and returns the
/// number it computed there, or 0 when the child could not be started.
double in_child(const std::function<double()>& measure) {
  int fds[2];
  if (::pipe(fds) != 0) return 0;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    const double value = measure();
    (void)!::write(fds[1], &value, sizeof value);
    ::_exit(0);
  }
  ::close(fds[1]);
  double value = 0;
  (void)!::read(fds[0], &value, sizeof value);
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  return value;
}

/// Bare SimGrid: `actors` actors on a star of `hosts` hosts with an uplink and a downlink each,
/// each doing `hops_per_actor` (sendto + exec on the receiver) pairs. Returns hops per wall-second.
double bare_simgrid_hops_per_s(int hosts, int actors, int hops_per_actor) {
  return in_child([&] {
    std::vector<std::string> args{"bare", "--log=root.thres:critical", "--cfg=network/model:CM02",
                                  "--cfg=network/crosstraffic:0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    int argc = static_cast<int>(argv.size());
    sg4::Engine e(&argc, argv.data());
    auto* z = sg4::create_star_zone("z");
    std::vector<sg4::Host*> hs;
    for (int i = 0; i < hosts; ++i) {
      auto* h = z->create_host("h" + std::to_string(i), 1e14)->seal();
      auto* up = z->create_link("u" + std::to_string(i), 125e6)->set_latency(0.01)->seal();
      auto* dn = z->create_link("d" + std::to_string(i), 125e6)->seal();
      z->add_route(h->get_netpoint(), nullptr, nullptr, nullptr, {sg4::LinkInRoute(up)}, false);
      z->add_route(nullptr, h->get_netpoint(), nullptr, nullptr, {sg4::LinkInRoute(dn)}, false);
      hs.push_back(h);
    }
    z->seal();
    for (int a = 0; a < actors; ++a)
      sg4::Actor::create("a" + std::to_string(a), hs[static_cast<std::size_t>(a % hosts)], [&, a] {
        sg4::this_actor::sleep_for(0.05 * a / actors);  // staggered like Poisson arrivals
        for (int k = 0; k < hops_per_actor; ++k) {
          auto* from = hs[static_cast<std::size_t>((a * 7 + k * 13) % hosts)];
          auto* to = hs[static_cast<std::size_t>((a * 7 + (k + 1) * 13) % hosts)];
          sg4::Comm::sendto(from, to, 8448);
          sg4::this_actor::exec_init(1e11)->set_host(to)->wait();
        }
      });
    const auto t0 = std::chrono::steady_clock::now();
    e.run();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return static_cast<double>(actors) * hops_per_actor / wall;
  });
}

sim::RunOptions quiet() {
  sim::RunOptions o;
  o.progress = sim::RunOptions::Progress::Never;
  return o;
}

/// Sessions in flight ~ arrival rate x session duration; 64 tokens x ~0.12 s.
void swarm_hops(benchmark::State& state, sim::EngineKind engine) {
  const int nodes = static_cast<int>(state.range(0));
  const int sessions = static_cast<int>(state.range(1));
  sim::Scenario sc = bench::generated_swarm(nodes, 50, sessions, sessions / 100.0, 64);
  sc.engine = engine;
  double hops = 0, wall = 0, in_flight = 0;
  for (auto _ : state) {
    const sim::RunReport r = sim::run_isolated(sc, quiet());
    state.SetIterationTime(r.wall_seconds);
    hops += static_cast<double>(r.hops);
    wall += r.wall_seconds;
    in_flight = r.metrics["latency_s"]["session"]["mean"].get<double>() * sc.workload.rate_per_s;
  }
  state.counters["hops_per_s"] = hops / wall;
  state.counters["sessions_in_flight"] = in_flight;
}

/// The generated swarm on the SimGrid engine.
void BM_SwarmHops(benchmark::State& state) { swarm_hops(state, sim::EngineKind::SimGrid); }
BENCHMARK(BM_SwarmHops)->Args({100, 500})->Args({1000, 2000})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);

/// The same swarm on the flow engine (same sharing models, no SimGrid): compare with BM_SwarmHops
/// and BM_BareSimGridHops of the same run.
void BM_SwarmHopsFlow(benchmark::State& state) { swarm_hops(state, sim::EngineKind::Flow); }
BENCHMARK(BM_SwarmHopsFlow)->Args({100, 500})->Args({1000, 2000})->Args({10000, 5000})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);

/// The baseline: bare SimGrid with the same hosts and about the sessions in flight that BM_SwarmHops
/// reports (about 80 and 720), each actor doing the hops of one 64-token session.
void BM_BareSimGridHops(benchmark::State& state) {
  const int hosts = static_cast<int>(state.range(0));
  const int actors = static_cast<int>(state.range(1));
  const int per_actor = 64 * 6;  // 64 tokens x ~6 hops per step, as in BM_SwarmHops
  double rate = 0;
  for (auto _ : state) {
    rate = bare_simgrid_hops_per_s(hosts, actors, per_actor);
    state.SetIterationTime(static_cast<double>(actors) * per_actor / rate);
  }
  state.counters["hops_per_s"] = rate;
}
BENCHMARK(BM_BareSimGridHops)->Args({100, 80})->Args({1000, 720})->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);

/// Peak resident memory (bytes) of a fresh process that runs `sc`, from its own getrusage.
double peak_rss_bytes(const sim::Scenario& sc) {
  return in_child([&] {
    sim::SwarmSimulation s(sc, sim::make_cost_model(sc));
    s.run(quiet());
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) * 1024.0;
  });
}

/// Memory against sessions in flight: N sessions arrive at once on a 1,000-node swarm and stay in
/// flight together (64 tokens each); the counter is the peak RSS above a one-session run, per
/// session. Linear growth shows as the same bytes per session at every N.
void memory_per_session(benchmark::State& state, sim::EngineKind engine) {
  const int n = static_cast<int>(state.range(0));
  sim::Scenario one = bench::generated_swarm(1000, 50, 1, 1.0, 64);
  one.workload.arrival = sim::ArrivalProcess::AllAtStart;
  one.engine = engine;
  sim::Scenario many = one;
  many.workload.sessions = n;
  double per_session = 0;
  for (auto _ : state) {
    const double base = peak_rss_bytes(one), peak = peak_rss_bytes(many);
    per_session = (peak - base) / (n - 1);
    state.SetIterationTime(1.0);
  }
  state.counters["bytes_per_session"] = per_session;
}
void BM_MemoryPerSessionInFlight(benchmark::State& state) { memory_per_session(state, sim::EngineKind::SimGrid); }
BENCHMARK(BM_MemoryPerSessionInFlight)->Arg(250)->Arg(1000)->Arg(4000)->UseManualTime()->Iterations(1);
void BM_MemoryPerSessionInFlightFlow(benchmark::State& state) { memory_per_session(state, sim::EngineKind::Flow); }
BENCHMARK(BM_MemoryPerSessionInFlightFlow)->Arg(250)->Arg(1000)->Arg(4000)->UseManualTime()->Iterations(1);

/// Times each iteration's run of `sc` (the simulation's own wall time) and reports hops per wall-second.
void time_runs(benchmark::State& state, const sim::Scenario& sc) {
  double hops = 0, wall = 0;
  for (auto _ : state) {
    const sim::RunReport r = sim::run_isolated(sc, quiet());
    state.SetIterationTime(r.wall_seconds);
    hops += static_cast<double>(r.hops);
    wall += r.wall_seconds;
  }
  state.counters["hops_per_s"] = hops / wall;
}

/// Sessions that all arrive at once on a 1,000-node swarm with 20 clients: each client's access
/// link carries N / 20 sessions' messages, which ties most flows into one max-min group that every
/// flow start or end re-shares. Compare hops/s across N in the same run: equal rates would mean a
/// cost per hop that does not grow with the sessions on a link.
void BM_SessionsAtOnceFlow(benchmark::State& state) {
  sim::Scenario sc = bench::generated_swarm(1000, 20, static_cast<int>(state.range(0)), 1.0, 64);
  sc.workload.arrival = sim::ArrivalProcess::AllAtStart;
  sc.engine = sim::EngineKind::Flow;
  time_runs(state, sc);
}
BENCHMARK(BM_SessionsAtOnceFlow)->Arg(500)->Arg(2000)->Arg(4000)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);

/// The largest shipped scenario, at batch 64 and sequence 1024 to make it long enough to time.
void BM_ShippedTable2(benchmark::State& state) {
  const sim::Scenario sc = sim::load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) +
                                                       "/scenarios/table2/mixtral-8x7b-1gbps-rtt5ms.json",
                                                   {{"workload.sessions", "200"},
                                                    {"workload.arrival", R"({"process": "poisson", "rate": "2/s"})"}});
  time_runs(state, sc);
}
BENCHMARK(BM_ShippedTable2)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

/// A graph-model pipeline with a failover (scenarios/pipeline/unet-sd-failover.json) and
/// range(0) requests: messages (hops) per wall-second, planning excluded.
void pipeline_messages(benchmark::State& state, sim::EngineKind engine) {
  sim::Scenario sc = sim::load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/pipeline/unet-sd-failover.json",
                                             {{"workload.sessions", std::to_string(state.range(0))}});
  sc.engine = engine;
  time_runs(state, sc);
}
void BM_PipelineRun(benchmark::State& state) { pipeline_messages(state, sim::EngineKind::SimGrid); }
BENCHMARK(BM_PipelineRun)->Arg(20000)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);
void BM_PipelineRunFlow(benchmark::State& state) { pipeline_messages(state, sim::EngineKind::Flow); }
BENCHMARK(BM_PipelineRunFlow)->Arg(20000)->Arg(200000)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);

/// A Fisher B-tree (scenarios/tree/fisher-btree-skewed.json: splits, a root overflow) with
/// range(0) requests: messages (hops) per wall-second, the heads' arithmetic included.
void tree_messages(benchmark::State& state, sim::EngineKind engine) {
  sim::Scenario sc = sim::load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/tree/fisher-btree-skewed.json",
                                             {{"workload.sessions", std::to_string(state.range(0))}});
  sc.engine = engine;
  time_runs(state, sc);
}
void BM_TreeRun(benchmark::State& state) { tree_messages(state, sim::EngineKind::SimGrid); }
BENCHMARK(BM_TreeRun)->Arg(20000)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);
void BM_TreeRunFlow(benchmark::State& state) { tree_messages(state, sim::EngineKind::Flow); }
BENCHMARK(BM_TreeRunFlow)->Arg(20000)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);

/// Erasure-coded inference (scenarios/coded/coin-stragglers.json: two models, the coded one,
/// stragglers) with range(0) requests: messages per wall-second, the outputs' decoding included
/// (the ensemble's training at start is not timed: time_runs times the run).
void coded_messages(benchmark::State& state, sim::EngineKind engine) {
  sim::Scenario sc = sim::load_scenario_file(std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/coded/coin-stragglers.json",
                                             {{"workload.sessions", std::to_string(state.range(0))}});
  sc.engine = engine;
  time_runs(state, sc);
}
void BM_CodedRun(benchmark::State& state) { coded_messages(state, sim::EngineKind::SimGrid); }
BENCHMARK(BM_CodedRun)->Arg(20000)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);
void BM_CodedRunFlow(benchmark::State& state) { coded_messages(state, sim::EngineKind::Flow); }
BENCHMARK(BM_CodedRunFlow)->Arg(20000)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(2);

}  // namespace
