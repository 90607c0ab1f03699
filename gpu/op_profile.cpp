#include "gpu/op_profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace swarmsim::gpu {

using nlohmann::json;

namespace {

const char* class_name(OpClass c) {
  switch (c) {
    case OpClass::Gemm: return "gemm";
    case OpClass::Attention: return "attention";
    case OpClass::Vector: return "vector";
  }
  return "?";
}

OpClass parse_class(const std::string& s, const std::string& where) {
  if (s == "gemm") return OpClass::Gemm;
  if (s == "attention") return OpClass::Attention;
  if (s == "vector") return OpClass::Vector;
  throw std::runtime_error(where + ": unknown op class \"" + s + "\"; expected \"gemm\", \"attention\" or \"vector\"");
}

/// Reads the fields of one JSON object of a profile; every error is "SOURCE: PATH.KEY: message".
class FieldReader {
 public:
  FieldReader(const json& obj, std::string source, std::string path) : obj_(obj), source_(std::move(source)), path_(std::move(path)) {
    if (!obj_.is_object()) fail(path_.empty() ? "(root)" : path_, "expected an object, got " + obj_.dump(-1).substr(0, 40));
  }
  [[noreturn]] void fail(const std::string& at, const std::string& message) const {
    throw std::runtime_error(source_ + ": " + at + ": " + message);
  }
  std::string key_path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  const json& at(const char* key) const {
    if (!obj_.contains(key)) fail(key_path(key), "missing");
    return obj_.at(key);
  }
  std::string text(const char* key) const {
    const json& v = at(key);
    if (!v.is_string()) fail(key_path(key), "expected a string, got " + v.dump());
    return v.get<std::string>();
  }
  /// A number >= `min` (> `min` when `strict`).
  double number(const char* key, double min, bool strict = false) const {
    const json& v = at(key);
    if (!v.is_number()) fail(key_path(key), "expected a number, got " + v.dump());
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < min || (strict && x == min))
      fail(key_path(key), "expected a number " + std::string(strict ? "> " : ">= ") +
                              (min == std::floor(min) ? std::to_string(static_cast<long long>(min)) : json(min).dump()) +
                              ", got " + v.dump());
    return x;
  }
  /// An integer in [min, 2^31).
  int integer(const char* key, int min) const {
    const json& v = at(key);
    if (!v.is_number_integer() || v.get<double>() < min || v.get<double>() > std::numeric_limits<int>::max())
      fail(key_path(key), "expected an integer >= " + std::to_string(min) + ", got " + v.dump());
    return v.get<int>();
  }
  const std::string& path() const { return path_; }

 private:
  const json& obj_;
  std::string source_;
  std::string path_;
};

}  // namespace

double OpProfile::fraction_of_peak(const ProfileEntry& e) const {
  if (e.median_s <= 0) return 0.0;
  return compute_bound(e) ? e.flops / (e.median_s * device.peak_flops) : e.bytes / (e.median_s * device.memory_bandwidth);
}

json OpProfile::to_json() const {
  json entries_json = json::array();
  for (const ProfileEntry& e : entries)
    entries_json.push_back({{"op", e.op},
                            {"class", class_name(e.cls)},
                            {"batch", e.work.batch},
                            {"new_tokens", e.work.new_tokens},
                            {"kv_len", e.work.kv_len},
                            {"flops", e.flops},
                            {"bytes", e.bytes},
                            {"median_s", e.median_s},
                            {"spread", e.spread},
                            {"runs", e.runs},
                            {"bound", compute_bound(e) ? "compute" : "memory"},
                            {"fraction_of_peak", fraction_of_peak(e)}});
  return json{{"format", "swarmsim-profile/1"},
              {"backend", backend},
              {"device",
               {{"name", device.name},
                {"kind", device.kind == DeviceKind::Gpu ? "gpu" : "cpu"},
                {"peak_flops", device.peak_flops},
                {"memory_bandwidth", device.memory_bandwidth},
                {"peaks_source", device.peaks_source}}},
              {"model", model},
              {"storage", storage},
              {"command", command},
              {"entries", entries_json}};
}

OpProfile OpProfile::from_json(const json& j, const std::string& source) {
  OpProfile p;
  const FieldReader root(j, source, "");
  if (root.text("format") != "swarmsim-profile/1") root.fail("format", "expected \"swarmsim-profile/1\"");
  p.backend = root.text("backend");
  const FieldReader d(root.at("device"), source, "device");
  p.device.name = d.text("name");
  const std::string kind = d.text("kind");
  if (kind != "gpu" && kind != "cpu") d.fail("device.kind", "expected \"gpu\" or \"cpu\", got \"" + kind + "\"");
  p.device.kind = kind == "gpu" ? DeviceKind::Gpu : DeviceKind::Cpu;
  p.device.peak_flops = d.number("peak_flops", 0.0, true);
  p.device.memory_bandwidth = d.number("memory_bandwidth", 0.0, true);
  p.device.peaks_source = d.text("peaks_source");
  p.model = root.text("model");
  p.storage = root.text("storage");
  p.command = root.text("command");
  const json& entries = root.at("entries");
  if (!entries.is_array()) root.fail("entries", "expected an array");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const FieldReader e(entries[i], source, "entries[" + std::to_string(i) + "]");
    ProfileEntry x;
    x.op = e.text("op");
    x.cls = parse_class(e.text("class"), source + ": " + e.key_path("class"));
    x.work = {e.integer("batch", 1), e.integer("new_tokens", 1), e.integer("kv_len", 0)};
    x.flops = e.number("flops", 0.0);
    x.bytes = e.number("bytes", 0.0, true);   // every op reads its inputs
    x.median_s = e.number("median_s", 0.0, true);
    x.spread = e.number("spread", 0.0);
    x.runs = e.integer("runs", 1);
    p.entries.push_back(x);
  }
  return p;
}

std::vector<OpProfile> load_profiles(const std::filesystem::path& dir) {
  std::vector<OpProfile> out;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) return out;
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(dir))
    if (f.path().extension() == ".json") files.push_back(f.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    json j;
    try {
      j = json::parse(ss.str());
    } catch (const json::parse_error& e) {
      throw std::runtime_error(f.string() + ": not valid JSON: " + e.what());
    }
    out.push_back(OpProfile::from_json(j, f.string()));
  }
  return out;
}

std::filesystem::path default_profile_dir() {
  if (const char* env = std::getenv("SWARMSIM_PROFILE_DIR")) return env;
  return std::filesystem::path(SWARMSIM_SOURCE_PROFILE_DIR);
}

ProfileCostModel::ProfileCostModel(std::vector<OpProfile> profiles, RooflineEfficiency fallback)
    : profiles_(std::move(profiles)), roofline_(fallback) {}

const OpProfile* ProfileCostModel::profile_for(const DeviceSpec& device) const {
  const OpProfile* best = nullptr;
  double best_gap = std::numeric_limits<double>::infinity();
  for (const OpProfile& p : profiles_) {
    if (p.device.kind != device.kind || p.entries.empty()) continue;
    const double gap = std::abs(std::log(p.device.ridge_point() / device.ridge_point()));
    if (gap < best_gap) {
      best_gap = gap;
      best = &p;
    }
  }
  return best;
}

double ProfileCostModel::op_seconds(const DeviceSpec& device, const OpCost& op) const {
  const OpProfile* p = profile_for(device);
  if (!p) return roofline_.op_seconds(device, op);
  // The measured entry closest to this op: same name (else same class), nearest in FLOPs (or bytes
  // for ops without FLOPs).
  const ProfileEntry* best = nullptr;
  double best_gap = std::numeric_limits<double>::infinity();
  for (int pass = 0; pass < 2 && !best; ++pass)
    for (const ProfileEntry& e : p->entries) {
      if (pass == 0 ? e.op != op.name : e.cls != op.cls) continue;
      const double a = op.flops > 0 ? op.flops : op.bytes, b = op.flops > 0 ? e.flops : e.bytes;
      const double gap = (a > 0 && b > 0) ? std::abs(std::log(a / b)) : 0.0;
      if (gap < best_gap) {
        best_gap = gap;
        best = &e;
      }
    }
  if (!best) return roofline_.op_seconds(device, op);
  const RooflineEfficiency& def = roofline_.efficiency();
  double e_compute = op.cls == OpClass::Gemm ? def.gemm_compute : def.vector_compute;
  double e_memory = def.memory;
  // The measured efficiency of the resource that bound the op; launch overheads are inside it.
  if (p->compute_bound(*best))
    e_compute = std::clamp(best->flops / (best->median_s * p->device.peak_flops), 1e-6, 1.0);
  else
    e_memory = std::clamp(best->bytes / (best->median_s * p->device.memory_bandwidth), 1e-6, 1.0);
  return std::max(op.flops / (device.peak_flops * e_compute), op.bytes / (device.memory_bandwidth * e_memory));
}

double ProfileCostModel::ops_seconds(const DeviceSpec& device, const OpList& ops) const {
  double s = 0.0;
  for (const OpCost& op : ops) s += op_seconds(device, op);
  return s;
}

double ProfileCostModel::blocks_seconds(const DeviceSpec& device, const TransformerSpec& model, const BlockWork& work,
                                        int n_blocks) const {
  return n_blocks * ops_seconds(device, block_ops(model, work));
}

double ProfileCostModel::embed_seconds(const DeviceSpec& device, const TransformerSpec& model, int batch,
                                       int tokens) const {
  return ops_seconds(device, embed_ops(model, batch, tokens));
}

double ProfileCostModel::head_seconds(const DeviceSpec& device, const TransformerSpec& model, int batch) const {
  return ops_seconds(device, head_ops(model, batch));
}

std::string ProfileCostModel::pricing() const {
  std::string cpu, gpu;
  for (const OpProfile& p : profiles_) {
    std::string& which = p.device.kind == DeviceKind::Cpu ? cpu : gpu;
    which += (which.empty() ? "" : ", ") + p.backend + ": " + p.device.name;
  }
  if (cpu.empty() && gpu.empty()) return "roofline";
  const auto part = [](const std::string& list, const char* kind) {
    return list.empty() ? std::string("roofline for ") + kind + " devices"
                        : std::string("profile for ") + kind + " devices (" + list + ")";
  };
  return part(gpu, "GPU") + ", " + part(cpu, "CPU");
}

}  // namespace swarmsim::gpu
