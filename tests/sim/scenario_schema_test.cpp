// docs/scenario.schema.json agrees with the loader: the same keys for every object, closed
// objects, the same required keys, the catalog names; and every shipped scenario loads.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gpu/device_catalog.hpp"
#include "gpu/model_catalog.hpp"
#include "sim/scenario/scenario_loader.hpp"

namespace {

namespace fs = std::filesystem;
namespace sim = swarmsim::sim;
using nlohmann::json;

const fs::path kSourceDir = SWARMSIM_SOURCE_DIR;
const fs::path kSchemaPath = kSourceDir / "docs" / "scenario.schema.json";
const fs::path kTwoNodePath = kSourceDir / "scenarios" / "sanity" / "two_node.json";

json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  return json::parse(in);
}

const json& schema() {
  static const json doc = read_json(kSchemaPath);
  return doc;
}

/// The schema's $defs object (empty when it has none).
const json& schema_defs() {
  static const json none = json::object();
  const auto it = schema().find("$defs");
  return it != schema().end() && it->is_object() ? *it : none;
}

/// The schema of the object kind `kind`: the root for "scenario", else $defs[kind]; null when absent.
const json* object_schema(const std::string& kind) {
  if (kind == "scenario") return &schema();
  const json& defs = schema_defs();
  const auto it = defs.find(kind);
  return it == defs.end() ? nullptr : &*it;
}

std::set<std::string> property_names(const json& object) {
  std::set<std::string> names;
  if (const auto it = object.find("properties"); it != object.end() && it->is_object())
    for (const auto& [key, value] : it->items()) names.insert(key);
  return names;
}

std::vector<std::string> required_keys(const json& object) {
  return object.value("required", std::vector<std::string>{});
}

std::string joined(const std::set<std::string>& names) {
  if (names.empty()) return "(none)";
  std::string s;
  for (const std::string& n : names) s += (s.empty() ? "\"" : ", \"") + n + "\"";
  return s;
}

std::set<std::string> minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::set<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

/// Loading `doc` must fail with a diagnostic at exactly `path`.
void expect_rejected_at(const json& doc, const std::string& path) {
  try {
    sim::load_scenario_json(doc, "test");
    ADD_FAILURE() << "the loader accepted a scenario without " << path << ", which the schema requires";
  } catch (const sim::ScenarioError& e) {
    const auto& diags = e.diagnostics();
    const bool found =
        std::any_of(diags.begin(), diags.end(), [&](const sim::Diagnostic& d) { return d.path == path; });
    EXPECT_TRUE(found) << "no diagnostic at " << path << "; the loader said:\n" << e.what();
  }
}

TEST(ScenarioSchema, ListsExactlyTheLoaderKeysOfEveryObject) {
  for (const auto& [kind, keys] : sim::scenario_object_keys()) {
    SCOPED_TRACE(kind);
    const json* object = object_schema(kind);
    ASSERT_NE(object, nullptr) << "the schema has no $defs entry \"" << kind << "\"";
    const std::set<std::string> loader(keys.begin(), keys.end());
    const std::set<std::string> documented = property_names(*object);
    EXPECT_EQ(documented, loader) << "object \"" << kind << "\": accepted by the loader but missing from the schema: "
                                  << joined(minus(loader, documented)) << "; in the schema but rejected by the loader: "
                                  << joined(minus(documented, loader));
  }
}

TEST(ScenarioSchema, DefinesOnlyTheLoaderObjectKinds) {
  for (const auto& [kind, def] : schema_defs().items())
    EXPECT_TRUE(sim::scenario_object_keys().count(kind)) << "$defs entry \"" << kind << "\" is no loader object kind";
}

TEST(ScenarioSchema, EveryObjectRejectsUnknownKeys) {
  EXPECT_EQ(schema().value("additionalProperties", json()), json(false)) << "root object";
  const json& defs = schema_defs();
  ASSERT_FALSE(defs.empty());
  for (const auto& [kind, def] : defs.items()) {
    if (def.value("type", "") != "object") continue;
    EXPECT_EQ(def.value("additionalProperties", json()), json(false)) << "$defs entry \"" << kind << "\"";
  }
}

TEST(ScenarioSchema, DeviceAndModelEnumsAreTheCatalogNames) {
  const json& defs = schema_defs();
  const auto enum_of = [&](const char* kind, const char* key) {
    return defs.at(kind).at("properties").at(key).value("enum", std::vector<std::string>{});
  };
  EXPECT_EQ(enum_of("node", "gpu"), swarmsim::gpu::device_names());
  EXPECT_EQ(enum_of("client", "device"), swarmsim::gpu::device_names());
  EXPECT_EQ(enum_of("model", "name"), swarmsim::gpu::model_names());
}

TEST(ScenarioSchema, EveryShippedScenarioLoads) {
  int found = 0;
  for (const fs::directory_entry& entry : fs::recursive_directory_iterator(kSourceDir / "scenarios")) {
    if (!entry.is_regular_file() || entry.path().extension() != ".json") continue;
    ++found;
    try {
      sim::load_scenario_file(entry.path().string());
    } catch (const sim::ScenarioError& e) {
      ADD_FAILURE() << entry.path() << " does not load:\n" << e.what();
    }
  }
  EXPECT_GT(found, 0) << "no scenario found under " << (kSourceDir / "scenarios");
}

TEST(ScenarioSchema, RequiredKeysAreRequiredByTheLoader) {
  const json base = read_json(kTwoNodePath);
  ASSERT_NO_THROW(sim::load_scenario_json(base, "test")) << "two_node.json must load as shipped";

  const std::vector<std::string> root_required = required_keys(schema());
  EXPECT_FALSE(root_required.empty()) << "the schema's root lists no required keys";
  for (const std::string& key : root_required) {
    SCOPED_TRACE("root key " + key);
    json doc = base;
    ASSERT_TRUE(doc.contains(key)) << "two_node.json lacks required key " << key;
    doc.erase(key);
    expect_rejected_at(doc, key);
  }

  const json* node = object_schema("node");
  ASSERT_NE(node, nullptr);
  const std::vector<std::string> node_required = required_keys(*node);
  EXPECT_FALSE(node_required.empty()) << "the schema's node lists no required keys";
  for (const std::string& key : node_required) {
    SCOPED_TRACE("node key " + key);
    json doc = base;
    ASSERT_TRUE(doc["nodes"][0].contains(key)) << "two_node.json's nodes[0] lacks required key " << key;
    doc["nodes"][0].erase(key);
    expect_rejected_at(doc, "nodes[0]." + key);
  }
}

}  // namespace
