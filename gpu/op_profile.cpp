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

template <class T>
T field(const json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key))
    throw std::runtime_error(where + "." + key + ": missing");
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw std::runtime_error(where + "." + key + ": wrong type (" + j.at(key).dump() + ")");
  }
}

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
  if (field<std::string>(j, "format", source) != "swarmsim-profile/1")
    throw std::runtime_error(source + ".format: expected \"swarmsim-profile/1\"");
  p.backend = field<std::string>(j, "backend", source);
  const std::string dsrc = source + ".device";
  const json& d = j.at("device");
  p.device.name = field<std::string>(d, "name", dsrc);
  const std::string kind = field<std::string>(d, "kind", dsrc);
  if (kind != "gpu" && kind != "cpu") throw std::runtime_error(dsrc + ".kind: expected \"gpu\" or \"cpu\"");
  p.device.kind = kind == "gpu" ? DeviceKind::Gpu : DeviceKind::Cpu;
  p.device.peak_flops = field<double>(d, "peak_flops", dsrc);
  p.device.memory_bandwidth = field<double>(d, "memory_bandwidth", dsrc);
  p.device.peaks_source = field<std::string>(d, "peaks_source", dsrc);
  if (!(p.device.peak_flops > 0) || !(p.device.memory_bandwidth > 0))
    throw std::runtime_error(dsrc + ": peak_flops and memory_bandwidth must be positive");
  p.model = field<std::string>(j, "model", source);
  p.storage = field<std::string>(j, "storage", source);
  p.command = field<std::string>(j, "command", source);
  if (!j.contains("entries") || !j.at("entries").is_array()) throw std::runtime_error(source + ".entries: expected an array");
  for (std::size_t i = 0; i < j.at("entries").size(); ++i) {
    const json& e = j.at("entries")[i];
    const std::string w = source + ".entries[" + std::to_string(i) + "]";
    ProfileEntry x;
    x.op = field<std::string>(e, "op", w);
    x.cls = parse_class(field<std::string>(e, "class", w), w + ".class");
    x.work = {field<int>(e, "batch", w), field<int>(e, "new_tokens", w), field<int>(e, "kv_len", w)};
    x.flops = field<double>(e, "flops", w);
    x.bytes = field<double>(e, "bytes", w);
    x.median_s = field<double>(e, "median_s", w);
    x.spread = field<double>(e, "spread", w);
    x.runs = field<int>(e, "runs", w);
    if (!(x.median_s > 0)) throw std::runtime_error(w + ".median_s: must be positive");
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

double ProfileCostModel::list_seconds(const DeviceSpec& device, const OpList& ops) const {
  double s = 0.0;
  for (const OpCost& op : ops) s += op_seconds(device, op);
  return s;
}

double ProfileCostModel::blocks_seconds(const DeviceSpec& device, const TransformerSpec& model, const BlockWork& work,
                                        int n_blocks) const {
  return n_blocks * list_seconds(device, block_ops(model, work));
}

double ProfileCostModel::embed_seconds(const DeviceSpec& device, const TransformerSpec& model, int batch,
                                       int tokens) const {
  return list_seconds(device, embed_ops(model, batch, tokens));
}

double ProfileCostModel::head_seconds(const DeviceSpec& device, const TransformerSpec& model, int batch) const {
  return list_seconds(device, head_ops(model, batch));
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
