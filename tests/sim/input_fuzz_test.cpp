// The other files a user hands swarmsim get the scenario fuzz test's treatment
// (scenario_fuzz_test.cpp): op profiles (gpu/profiles/*.json, or SWARMSIM_PROFILE_DIR), measurement
// files for `swarmsim calibrate` and tuned-policy files for `swarmsim compare --policies @FILE`.
// Each shipped file, mutated at random, either loads, and then works, or fails with a message that
// names the file; nothing else escapes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <typeinfo>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "gpu/block_ops.hpp"
#include "gpu/device_catalog.hpp"
#include "gpu/model_catalog.hpp"
#include "gpu/op_profile.hpp"
#include "sim/calibration/calibration.hpp"
#include "sim/experiment/policy_spec.hpp"
#include "sim/rng.hpp"
#include "sim/scenario/scenario_loader.hpp"
#include "tests/json_mutation.hpp"

using nlohmann::json;
using swarmsim::testing::mutate_json_once_or_twice;
namespace fs = std::filesystem;

namespace {

json read_json(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str());
}

fs::path scratch_file(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("input-fuzz-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

void write_text(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::binary) << text; }

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

// A profile that loads prices every op of a Llama block, at decode and prefill, and of the
// client's head, on every catalog device of its kind, in a finite time no shorter than the op takes
// at the device's peak; one that does not names the file and the path. The committed profile is cut
// to its first six entries so that mutations reach its header too.
TEST(InputFuzz, MutatedOpProfilesLoadAndPriceOrNameTheFile) {
  namespace gpu = swarmsim::gpu;
  json original = read_json(fs::path(SWARMSIM_SOURCE_DIR) / "gpu/profiles/cpu.json");
  original["entries"].erase(original["entries"].begin() + 6, original["entries"].end());
  const gpu::TransformerSpec& llama = *gpu::find_model("Llama-3-8B");
  swarmsim::sim::Rng rng = swarmsim::testing::fuzz_rng(31);
  int loaded = 0, rejected = 0;
  const int n = swarmsim::testing::fuzz_mutants(600);
  for (int k = 0; k < n; ++k) {
    json doc = original;
    const std::string where = mutate_json_once_or_twice(doc, rng);
    try {
      const gpu::OpProfile p = gpu::OpProfile::from_json(doc, "fuzz-profile.json");
      ++loaded;
      const gpu::ProfileCostModel model({p});
      for (const gpu::DeviceSpec& d : gpu::device_catalog()) {
        if (d.kind != p.device.kind) continue;
        std::vector<gpu::OpList> lists{gpu::block_ops(llama, {1, 1, 63}), gpu::block_ops(llama, {8, 64, 0}), gpu::head_ops(llama, 8)};
        for (const gpu::OpList& ops : lists)
          for (const gpu::OpCost& op : ops) {
            const double s = model.op_seconds(d, op), at_peak = std::max(op.flops / d.peak_flops, op.bytes / d.memory_bandwidth);
            ASSERT_TRUE(std::isfinite(s) && s >= at_peak * (1 - 1e-12))
                << where << ": " << op.name << " on " << d.name << " priced at " << s << " s, at peak " << at_peak << " s";
          }
      }
    } catch (const std::runtime_error& e) {
      ++rejected;
      EXPECT_TRUE(starts_with(e.what(), "fuzz-profile.json: ")) << where << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << where << ": threw " << typeid(e).name() << ": " << e.what();
    }
  }
  std::printf("%d profile mutants loaded, %d rejected\n", loaded, rejected);
  if (n >= 600) {
    EXPECT_GT(loaded, 100);
    EXPECT_GT(rejected, 200);
  }
}

// A measurement file that loads gives every measurement its overrides; one that does not names
// the file on every line.
TEST(InputFuzz, MutatedMeasurementFilesLoadOrNameTheFile) {
  namespace cal = swarmsim::calibration;
  const fs::path shipped = fs::path(SWARMSIM_SOURCE_DIR) / "traces/measured/seed002-table2.json";
  json original = read_json(shipped);
  for (json& m : original["measurements"])  // the mutants live elsewhere: make scenario paths absolute
    m["scenario"] = (shipped.parent_path() / m["scenario"].get<std::string>()).lexically_normal().string();
  const fs::path file = scratch_file("measurements.json");
  swarmsim::sim::Rng rng = swarmsim::testing::fuzz_rng(37);
  int loaded = 0, rejected = 0;
  const int n = swarmsim::testing::fuzz_mutants(600);
  for (int k = 0; k < n; ++k) {
    json doc = original;
    const std::string where = mutate_json_once_or_twice(doc, rng);
    write_text(file, doc.dump());
    try {
      const cal::CalibrationSpec spec = cal::load_calibration_spec(file.string());
      ++loaded;
      ASSERT_FALSE(spec.parameters.empty()) << where;
      ASSERT_FALSE(spec.measurements.empty()) << where;
      for (const cal::Parameter& par : spec.parameters) {
        EXPECT_LT(par.min, par.max) << where;
        EXPECT_TRUE(par.start >= par.min && par.start <= par.max) << where;
      }
      for (std::size_t m = 0; m < spec.measurements.size(); ++m) {
        EXPECT_GT(spec.measurements[m].value, 0) << where;
        const std::vector<double> start(spec.parameters.size(), spec.parameters[0].start);
        EXPECT_FALSE(cal::run_overrides(spec, m).empty()) << where;
      }
    } catch (const cal::CalibrationSpecError& e) {
      ++rejected;
      std::istringstream lines(e.what());
      for (std::string line; std::getline(lines, line);)
        EXPECT_TRUE(starts_with(line, file.string() + ": ")) << where << ": " << line;
    } catch (const std::exception& e) {
      ADD_FAILURE() << where << ": threw " << typeid(e).name() << ": " << e.what();
    }
  }
  std::printf("%d measurement-file mutants loaded, %d rejected\n", loaded, rejected);
  if (n >= 600) {
    EXPECT_GT(loaded, 50);
    EXPECT_GT(rejected, 200);
  }
}

namespace {

/// One random edit of a policy spec "NAME:key=value,...": a value or key replaced by an odd
/// token, a piece deleted or duplicated, or a separator inserted.
std::string mutate_spec(std::string spec, swarmsim::sim::Rng& rng) {
  static const char* values[] = {"", "abc", "-1", "0", "1e308", "-1e308", "nan", "inf", "5ms", "eq18", "random", "{}",
                                 "[1]", "true", "1e-300", "\"x\"", "2147483648", "100Mbps", "@x.json"};
  static const char* keys[] = {"gamma", "beta", "alpha", "router", "policy.gamma", "", "x.y", "faults", "faults.retries",
                               "dht.enabled", "rebalance", "policy.", "scheduler.kind", "topology.enabled", "..", "a[0]"};
  std::vector<std::string> pieces;
  std::size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  std::string rest = colon == std::string::npos ? "" : spec.substr(colon + 1);
  for (std::size_t at = 0; at <= rest.size();) {
    const std::size_t comma = rest.find(',', at);
    pieces.push_back(rest.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  std::size_t i = rng.below(pieces.size());
  const std::size_t eq = pieces[i].find('=');
  switch (rng.below(6)) {
    case 0: pieces[i] = pieces[i].substr(0, eq == std::string::npos ? pieces[i].size() : eq) + "=" + values[rng.below(std::size(values))]; break;
    case 1: pieces[i] = std::string(keys[rng.below(std::size(keys))]) + (eq == std::string::npos ? "" : pieces[i].substr(eq)); break;
    case 2: pieces.erase(pieces.begin() + static_cast<long>(i)); break;
    case 3: pieces.push_back(pieces[i]); break;
    case 4: pieces[i].insert(rng.below(pieces[i].size() + 1), 1, ":,=@ "[rng.below(5)]); break;
    default: pieces[i] += "=" + std::string(values[rng.below(std::size(values))]); break;
  }
  std::string out = rng.uniform() < 0.1 ? std::string(keys[rng.below(std::size(keys))]) : name;
  for (std::size_t k = 0; k < pieces.size(); ++k) out += (k == 0 ? ":" : ",") + pieces[k];
  return out;
}

}  // namespace

// A tuned-policy file (the output of swarmsim tune --out) that parses gives overrides a scenario
// either takes or refuses with diagnostics; one that does not parse names the file. Half the
// mutants change the file's JSON, half the policy spec inside it.
TEST(InputFuzz, MutatedTunedPolicyFilesParseOrNameTheFile) {
  namespace exp = swarmsim::experiment;
  const json shipped = read_json(fs::path(SWARMSIM_SOURCE_DIR) / "policies/tuned-eq18.json");
  const json original = {{"kind", shipped["kind"]}, {"policy", shipped["policy"]}, {"theta", shipped["theta"]}};
  const std::string churn = std::string(SWARMSIM_SOURCE_DIR) + "/scenarios/routing/churn.json";
  const fs::path file = scratch_file("tuned.json");
  swarmsim::sim::Rng rng = swarmsim::testing::fuzz_rng(41);
  int parsed = 0, rejected = 0, refused_by_scenario = 0;
  const int n = swarmsim::testing::fuzz_mutants(600);
  for (int k = 0; k < n; ++k) {
    json doc = original;
    std::string where;
    if (rng.uniform() < 0.5) {
      where = mutate_json_once_or_twice(doc, rng);
    } else {
      doc["policy"] = mutate_spec(doc["policy"].get<std::string>(), rng);
      where = "policy = " + doc["policy"].dump();
    }
    write_text(file, doc.dump());
    try {
      const exp::PolicyVariant v = exp::parse_policy_spec("@" + file.string());
      ++parsed;
      EXPECT_EQ(v.label, "tuned") << where;
      try {
        swarmsim::sim::load_scenario_file(churn, v.overrides);
      } catch (const swarmsim::sim::ScenarioError& e) {
        ++refused_by_scenario;
        EXPECT_FALSE(e.diagnostics().empty()) << where;
      }
    } catch (const exp::PolicySpecError& e) {
      ++rejected;
      EXPECT_TRUE(starts_with(e.what(), file.string() + ": ")) << where << ": " << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << where << ": threw " << typeid(e).name() << ": " << e.what();
    }
  }
  std::printf("%d policy-file mutants parsed (%d refused by the scenario), %d rejected\n", parsed, refused_by_scenario,
              rejected);
  if (n >= 600) {
    EXPECT_GT(parsed, 100);
    EXPECT_GT(refused_by_scenario, 20);
    EXPECT_GT(rejected, 100);
  }
}
