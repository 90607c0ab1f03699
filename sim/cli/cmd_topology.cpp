// swarmsim topology SCENARIO [--at T] [--out DIR]: the swarm's persistent homology at time T
// (seed 002, section 2.7): prints the PH features and each node's PH0 stability, and writes the
// diagrams as JSON and the persistence diagram as a PNG (docs/topology.md).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "sim/cli/commands.hpp"
#include "sim/topology_schemes.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/units.hpp"
#include "topology/diagram_plot.hpp"
#include "topology/persistence.hpp"
#include "topology/ph_features.hpp"
#include "topology/stability.hpp"

namespace swarmsim::cli {
namespace {

using namespace swarmsim::topology;

/// "30s", "2min", or a bare number of seconds; nullopt (and a message) when not a time >= 0.
std::optional<double> parse_time(const std::string& text, std::string& error) {
  char* end = nullptr;
  const double bare = std::strtod(text.c_str(), &end);
  std::optional<double> v;
  if (!text.empty() && end == text.c_str() + text.size())
    v = bare;
  else {
    const sim::ParsedQuantity q = sim::parse_quantity(text, sim::Quantity::Duration);
    if (!q.value) {
      error = q.error;
      return std::nullopt;
    }
    v = q.value;
  }
  if (!std::isfinite(*v) || *v < 0.0) {
    error = "expected a time >= 0, got \"" + text + "\"";
    return std::nullopt;
  }
  return v;
}

/// The swarm of a scenario as it stands at `at_s`: the server nodes (clients are not part of the
/// swarm), up when they have joined and no replayed node_down is in force; pair latency from the
/// LatencyTable (geography or RTT matrix, with replayed latency changes up to at_s); pair
/// bandwidth min(uplink_i, downlink_j, uplink_j, downlink_i) with replayed bandwidth changes.
nlohmann::json diagram_json(const PersistenceDiagram& d) {
  nlohmann::json out = nlohmann::json::array();
  for (const PersistencePair& p : d) out.push_back({p.birth, p.essential() ? nlohmann::json(nullptr) : nlohmann::json(p.death)});
  return out;
}

}  // namespace

int topology(const TopologyArgs& args) {
  std::string error;
  const std::optional<double> at_s = parse_time(args.at, error);
  if (!at_s) {
    std::fprintf(stderr, "swarmsim topology: --at %s: %s\n", args.at.c_str(), error.c_str());
    return 2;
  }
  sim::Scenario sc;
  try {
    sc = sim::load_scenario_file(args.file);
  } catch (const sim::ScenarioError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }

  const std::filesystem::path out = args.out_dir.empty() ? std::filesystem::path("runs") / sc.name : std::filesystem::path(args.out_dir);
  if (const std::string problem = sim::output_directory_problem(out); !problem.empty()) {
    std::fprintf(stderr, "swarmsim topology: %s %s: %s\n", args.out_dir.empty() ? "output directory" : "--out", out.string().c_str(),
                 problem.c_str());
    return 2;
  }
  try {
    const SwarmSnapshot snapshot = sim::scenario_snapshot(sc, *at_s);
    SwarmGraphParams graph_params;
    graph_params.nearest_neighbours = args.neighbours;
    const SwarmGraph graph = build_swarm_graph(snapshot, graph_params);
    FiltrationParams filtration;
    filtration.collapse_edges = boost::num_edges(graph) > 5000;  // same diagrams, fewer edges
    const PersistenceResult ph = compute_persistence(graph, filtration);

    // The window ends a little past the last finite event, so every class shows in the features.
    double top = 0.0;
    for (const PersistenceDiagram* d : {&ph.h0, &ph.h1})
      for (const PersistencePair& p : *d) top = std::max({top, p.birth, p.essential() ? 0.0 : p.death});
    FeatureParams fp;
    fp.scale_max_s = top > 0.0 ? 1.05 * top : 1.0;
    const FeatureVector features = diagram_features(ph, fp);
    const std::vector<std::string> names = feature_names(fp);
    StabilityParams stability_params;
    stability_params.scale_s = fp.scale_max_s;
    const std::vector<double> stability = snapshot_stability(graph, static_cast<int>(snapshot.nodes.size()), stability_params);

    int up = 0;
    for (const SnapshotNode& node : snapshot.nodes) up += node.up ? 1 : 0;
    const auto essential = [](const PersistenceDiagram& d) { return std::count_if(d.begin(), d.end(), [](auto& p) { return p.essential(); }); };
    std::printf("topology of \"%s\" at t = %s: %d of %zu nodes up, %zu edges, %zu simplices\n", sc.name.c_str(),
                sim::format_duration(*at_s).c_str(), up, snapshot.nodes.size(), ph.edges_in, ph.simplices);
    std::printf("edge weight: one-way latency + %.0f B / bandwidth, x (%.3g FLOP/s / sqrt(F_u F_v))^%.2g (s)\n",
                graph_params.message_bytes, graph_params.reference_flops, graph_params.compute_exponent);
    std::printf("PH0: %zu pairs (%ld essential); PH1: %zu pairs (%ld essential); window 0 .. %.6g s, %d grid points\n",
                ph.h0.size(), static_cast<long>(essential(ph.h0)), ph.h1.size(), static_cast<long>(essential(ph.h1)),
                fp.scale_max_s, fp.grid_points);
    std::printf("\n%-24s %s\n", "feature", "value");
    for (std::size_t i = 0; i < names.size(); ++i) std::printf("%-24s %.9g\n", names[i].c_str(), features[i]);
    std::printf("\n%-24s %s\n", "node", "stability (PH0, this snapshot)");
    for (std::size_t i = 0; i < snapshot.nodes.size(); ++i)
      std::printf("%-24s %.6f%s\n", snapshot.nodes[i].name.c_str(), stability[i], snapshot.nodes[i].up ? "" : " (down)");

    nlohmann::json doc = {
        {"scenario", sc.name},
        {"time_s", *at_s},
        {"weight", {{"formula", "(latency + message_bytes / bandwidth) * (reference_flops / sqrt(flops_u * flops_v))^compute_exponent"},
                    {"message_bytes", graph_params.message_bytes},
                    {"reference_flops", graph_params.reference_flops},
                    {"compute_exponent", graph_params.compute_exponent},
                    {"nearest_neighbours", graph_params.nearest_neighbours}}},
        {"filtration", {{"complex", "flag (Vietoris-Rips), dimension 2"},
                        {"coefficient_field", filtration.coefficient_field},
                        {"edges", ph.edges_in},
                        {"edges_after_collapse", ph.edges_kept},
                        {"simplices", ph.simplices}}},
        {"diagrams", {{"h0", diagram_json(ph.h0)}, {"h1", diagram_json(ph.h1)}, {"death_null_means", "essential (never dies)"}}},
        {"features", {{"scale_max_s", fp.scale_max_s}, {"grid_s", feature_grid(fp)}, {"names", names}, {"values", features}}},
    };
    nlohmann::json nodes = nlohmann::json::array();
    for (std::size_t i = 0; i < snapshot.nodes.size(); ++i) {
      const SnapshotNode& node = snapshot.nodes[i];
      nodes.push_back({{"name", node.name}, {"up", node.up}, {"flops", node.flops}, {"lat", node.location.lat_deg},
                       {"lon", node.location.lon_deg}, {"stability", stability[i]}});
    }
    doc["nodes"] = nodes;
    const std::vector<unsigned char> png = persistence_diagram_png(ph.h0, ph.h1, {480, fp.scale_max_s});
    sim::write_file_atomically(out / "topology.json", doc.dump(2) + "\n");
    sim::write_file_atomically(out / "topology.png", std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
    std::printf("\nwrote %s and %s\n", (out / "topology.json").c_str(), (out / "topology.png").c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim topology: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace swarmsim::cli
