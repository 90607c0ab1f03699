#include "sim/partition/model_graph_io.hpp"

#include "sim/json_diagnostics.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "gpu/model_catalog.hpp"
#include "sim/rng.hpp"
#include "sim/units.hpp"

namespace swarmsim::partition {

using nlohmann::json;

namespace {
std::string join_lines(const std::vector<std::string>& lines) {
  std::string s;
  for (const std::string& l : lines) s += (s.empty() ? "" : "\n") + l;
  return s;
}
}  // namespace

GraphFileError::GraphFileError(std::vector<std::string> lines)
    : std::runtime_error(join_lines(lines)), lines_(std::move(lines)) {}

namespace {

// ---------------------------------------------------------------------------------------------
// [SECTION] Helpers: suggestions, JSON type names, paths (as in sim/scenario/scenario_loader.cpp)
// ---------------------------------------------------------------------------------------------

using sim::at_index;
using sim::child;
using sim::closest_candidate;
using sim::line_column;
using sim::quoted_list;
using sim::type_name;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

/// A number as JSON: an integer when it is one (and exactly representable), else a double.
json number_json(double x) {
  if (std::nearbyint(x) == x && std::fabs(x) < 9007199254740992.0) return static_cast<std::int64_t>(x);
  return x;
}

// ---------------------------------------------------------------------------------------------
// [SECTION] Reading a graph file
// ---------------------------------------------------------------------------------------------

const std::vector<std::string> kRootKeys{"name", "description", "ops"};
const std::vector<std::string> kOpKeys{"name", "kind", "flops", "mem_bytes", "param_bytes", "out_bytes", "inputs"};

// Upper bounds far above any real op, so that a graph's sums (memory of 100,000 ops, the work of
// a block) stay finite: 1e308 bytes passed once, and its block cost overflowed to infinity.
constexpr double kMaxFlops = 1e24;  // 1 YFLOP per op
constexpr double kMaxBytes = 1e18;  // 1 EB per tensor
constexpr std::string_view kFlopsExpectation =
    "a FLOP count such as \"1.2GFLOP\" (FLOP, KFLOP, MFLOP, GFLOP, TFLOP, PFLOP) or a number in [0, 1e24]";
constexpr std::string_view kSizeExpectation = "a size such as \"36KB\" or a number of bytes in [0, 1e18]";

/// "1.2GFLOP" -> 1.2e9; nullopt with `error` set when the text is not a FLOP count.
std::optional<double> parse_flops(std::string_view text, std::string& error) {
  static constexpr std::array<std::pair<std::string_view, double>, 7> units{
      {{"FLOP", 1.0}, {"kFLOP", 1e3}, {"KFLOP", 1e3}, {"MFLOP", 1e6}, {"GFLOP", 1e9}, {"TFLOP", 1e12},
       {"PFLOP", 1e15}}};
  const std::string_view s = trim(text);
  const char* first = s.data();
  const char* last = s.data() + s.size();
  if (first != last && *first == '+') ++first;
  double number = 0.0;
  const auto [ptr, ec] = std::from_chars(first, last, number);
  if (ec != std::errc() || ptr == first || !std::isfinite(number)) {
    error = "\"" + std::string(s) + "\" does not start with a finite number";
    return std::nullopt;
  }
  const std::string_view unit = trim(std::string_view(ptr, static_cast<std::size_t>(last - ptr)));
  for (const auto& [name, factor] : units)
    if (unit == name) return number * factor;
  error = unit.empty() ? "\"" + std::string(s) + "\" has no unit"
                       : "unknown unit \"" + std::string(unit) + "\" in \"" + std::string(s) + "\"";
  return std::nullopt;
}

/// An op as read from the file, before its inputs are resolved.
struct RawOp {
  Op op;
  std::string path;                                  ///< "ops[3]"
  bool name_ok = false;
  std::optional<double> mem_bytes;                   ///< given explicitly
  std::vector<std::pair<std::string, std::string>> inputs;  ///< (name, JSON path)
};

class GraphReader {
 public:
  explicit GraphReader(std::string file) : file_(std::move(file)) {}

  void error(const std::string& path, const std::string& message) {
    lines_.push_back(file_ + ": " + (path.empty() ? "(root)" : path) + ": " + message);
  }
  std::vector<std::string>& lines() { return lines_; }

  /// Parses the text; duplicate keys and syntax errors are reported (nullopt on a syntax error).
  std::optional<json> parse(const std::string& text) {
    std::vector<sim::JsonProblem> problems;
    std::optional<json> doc = sim::parse_json_strict(text, problems);
    for (const sim::JsonProblem& p : problems) error(p.path, p.message);
    return doc;
  }

  /// True when `j` is an object; reports each key not in `allowed`.
  bool object(const json& j, const std::string& path, std::string_view kind, const std::vector<std::string>& allowed) {
    if (!j.is_object()) {
      error(path, "expected " + std::string(kind) + " object, got " + type_name(j));
      return false;
    }
    for (const auto& [key, value] : j.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      const std::string near = closest_candidate(key, allowed);
      const std::string hint = near.empty() ? "" : " (did you mean \"" + near + "\"?)";
      error(child(path, key), "unknown key \"" + key + "\"" + hint + "; keys are " + quoted_list(allowed));
    }
    return true;
  }

  /// An optional string field.
  std::optional<std::string> string(const json& obj, std::string_view key, const std::string& path) {
    const auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_string()) {
      error(child(path, key), "expected a string, got " + type_name(*it));
      return std::nullopt;
    }
    return it->get<std::string>();
  }

  /// A FLOP count: a number >= 0 or a string with a FLOP unit.
  std::optional<double> flops(const json& v, const std::string& path) {
    std::optional<double> x;
    std::string why;
    if (v.is_number()) {
      x = v.get<double>();
    } else if (v.is_string()) {
      x = parse_flops(v.get<std::string>(), why);
    }
    if (x && std::isfinite(*x) && *x >= 0 && *x <= kMaxFlops) return x;
    error(path, "expected " + std::string(kFlopsExpectation) + ", got " + (v.is_number() ? v.dump() : type_name(v)) +
                    (why.empty() ? "" : " (" + why + ")"));
    return std::nullopt;
  }

  /// A size in bytes: a number >= 0 or a string with a byte unit (sim/units.hpp).
  std::optional<double> size(const json& v, const std::string& path) {
    if (v.is_string()) {
      const sim::ParsedQuantity p = sim::parse_quantity(v.get<std::string>(), sim::Quantity::Size);
      if (!p.value) {
        error(path, p.error);
        return std::nullopt;
      }
      if (*p.value >= 0 && *p.value <= kMaxBytes) return p.value;
    } else if (v.is_number()) {
      const double x = v.get<double>();
      if (std::isfinite(x) && x >= 0 && x <= kMaxBytes) return x;
    }
    error(path, "expected " + std::string(kSizeExpectation) + ", got " +
                    (v.is_number() ? v.dump() : v.is_string() ? "\"" + v.get<std::string>() + "\"" : type_name(v)));
    return std::nullopt;
  }

  /// One entry of "ops".
  RawOp op(const json& j, const std::string& path) {
    RawOp raw;
    raw.path = path;
    raw.op.kind = "op";
    if (!object(j, path, "an op", kOpKeys)) return raw;
    if (const auto it = j.find("name"); it == j.end()) {
      error(child(path, "name"), "missing; expected the op's name, unique in the graph");
    } else if (const auto name = string(j, "name", path)) {
      if (name->empty()) {
        error(child(path, "name"), "must not be empty");
      } else {
        raw.op.name = *name;
        raw.name_ok = true;
      }
    }
    if (const auto kind = string(j, "kind", path)) raw.op.kind = *kind;
    if (const auto it = j.find("flops"); it != j.end()) raw.op.flops = flops(*it, child(path, "flops")).value_or(0.0);
    for (const auto& [key, field] : {std::pair<const char*, double Op::*>{"param_bytes", &Op::param_bytes},
                                     std::pair<const char*, double Op::*>{"out_bytes", &Op::out_bytes}})
      if (const auto it = j.find(key); it != j.end()) raw.op.*field = size(*it, child(path, key)).value_or(0.0);
    if (const auto it = j.find("mem_bytes"); it != j.end())
      raw.mem_bytes = size(*it, child(path, "mem_bytes")).value_or(0.0);  // an error is already reported
    if (const auto it = j.find("inputs"); it != j.end()) {
      const std::string ipath = child(path, "inputs");
      if (!it->is_array()) {
        error(ipath, "expected an array of op names, got " + type_name(*it));
      } else {
        for (std::size_t k = 0; k < it->size(); ++k) {
          const json& e = (*it)[k];
          if (!e.is_string())
            error(at_index(ipath, k), "expected an op name (a string), got " + type_name(e));
          else
            raw.inputs.emplace_back(e.get<std::string>(), at_index(ipath, k));
        }
      }
    }
    return raw;
  }

  ModelGraph graph(const json& doc, const std::string& default_name) {
    if (!object(doc, "", "a graph", kRootKeys)) throw GraphFileError(std::move(lines_));
    const std::string name = string(doc, "name", "").value_or(default_name);
    (void)string(doc, "description", "");
    const auto ops_it = doc.find("ops");
    if (ops_it == doc.end()) {
      error("ops", "missing; expected a non-empty array of ops");
      throw GraphFileError(std::move(lines_));
    }
    if (!ops_it->is_array() || ops_it->empty()) {
      error("ops", "expected a non-empty array of ops, got " +
                       (ops_it->is_array() ? std::string("an empty array") : type_name(*ops_it)));
      throw GraphFileError(std::move(lines_));
    }

    std::vector<RawOp> raw;
    for (std::size_t i = 0; i < ops_it->size(); ++i) raw.push_back(op((*ops_it)[i], at_index("ops", i)));

    // Names: unique; resolved after all ops are read, so inputs may refer to later ops.
    std::map<std::string, int> id_of;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (!raw[i].name_ok) continue;
      const auto [it, inserted] = id_of.emplace(raw[i].op.name, static_cast<int>(i));
      if (!inserted)
        error(child(raw[i].path, "name"), "duplicate name \"" + raw[i].op.name + "\" (also at " +
                                              child(raw[static_cast<std::size_t>(it->second)].path, "name") + ")");
      else
        names.push_back(raw[i].op.name);
    }

    std::vector<Op> ops;
    std::vector<std::pair<int, int>> edges;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      RawOp& r = raw[i];
      const int v = static_cast<int>(i);
      std::map<int, std::string> seen;  // input id -> the path where it was listed first
      double in_bytes = 0.0;
      for (const auto& [input, path] : r.inputs) {
        const auto it = id_of.find(input);
        if (it == id_of.end()) {
          const std::string near = closest_candidate(input, names);
          error(path, "unknown op \"" + input + "\"" + (near.empty() ? "" : "; did you mean \"" + near + "\"?"));
          continue;
        }
        const int u = it->second;
        if (u == v) {
          error(path, "\"" + input + "\" is this op itself; an op cannot consume its own output");
          continue;
        }
        if (const auto [s, inserted] = seen.emplace(u, path); !inserted) {
          error(path, "\"" + input + "\" is listed twice (also at " + s->second + ")");
          continue;
        }
        edges.emplace_back(u, v);
        in_bytes += raw[static_cast<std::size_t>(u)].op.out_bytes;
      }
      r.op.mem_bytes = r.mem_bytes ? *r.mem_bytes : r.op.param_bytes + r.op.out_bytes + in_bytes;
      ops.push_back(r.op);
    }
    if (!lines_.empty()) throw GraphFileError(std::move(lines_));
    try {
      return ModelGraph(name, std::move(ops), edges);
    } catch (const GraphError& e) {
      error("ops", e.what());  // a cycle: everything else was checked above
      throw GraphFileError(std::move(lines_));
    }
  }

 private:
  std::string file_;
  std::vector<std::string> lines_;
};

}  // namespace

ModelGraph load_model_graph_text(const std::string& text, const std::string& file) {
  GraphReader reader(file);
  const std::optional<json> doc = reader.parse(text);
  if (!doc || !reader.lines().empty()) throw GraphFileError(std::move(reader.lines()));
  return reader.graph(*doc, std::filesystem::path(file).stem().string());
}

ModelGraph load_model_graph_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw GraphFileError({path + ": cannot open the file for reading"});
  std::ostringstream ss;
  ss << in.rdbuf();
  return load_model_graph_text(ss.str(), path);
}

json to_json(const ModelGraph& g) {
  json ops = json::array();
  for (int v = 0; v < g.size(); ++v) {
    const Op& op = g.op(v);
    json inputs = json::array();
    for (int u : g.preds(v)) inputs.push_back(g.op(u).name);
    json j = json::object();
    j["name"] = op.name;
    j["kind"] = op.kind;
    j["flops"] = number_json(op.flops);
    j["mem_bytes"] = number_json(op.mem_bytes);
    j["param_bytes"] = number_json(op.param_bytes);
    j["out_bytes"] = number_json(op.out_bytes);
    j["inputs"] = std::move(inputs);
    ops.push_back(std::move(j));
  }
  return json{{"name", g.name()}, {"ops", std::move(ops)}};
}

// ---------------------------------------------------------------------------------------------
// [SECTION] Generators
// ---------------------------------------------------------------------------------------------

namespace {

/// Collects ops and edges; sizes are given in elements and stored in bytes.
class GraphBuilder {
 public:
  explicit GraphBuilder(double bytes_per_element) : bpe_(bytes_per_element) {}

  /// Adds an op that reads its parameters, its inputs and writes its output once; returns its id.
  int add(std::string name, std::string kind, double flops, double param_elements, double out_elements,
          const std::vector<int>& inputs) {
    const int id = static_cast<int>(ops_.size());
    Op op{std::move(name), std::move(kind), flops, 0.0, param_elements * bpe_, out_elements * bpe_};
    op.mem_bytes = op.param_bytes + op.out_bytes;
    for (int u : inputs) {
      edges_.emplace_back(u, id);
      op.mem_bytes += ops_[static_cast<std::size_t>(u)].out_bytes;
    }
    ops_.push_back(std::move(op));
    return id;
  }
  /// Overrides the memory traffic of op `id` (elements of its parameters and output it touches),
  /// for ops that do not read all they hold; the inputs it reads are added.
  void set_mem_elements(int id, double elements) {
    double bytes = elements * bpe_;
    for (const auto& [u, v] : edges_)
      if (v == id) bytes += ops_[static_cast<std::size_t>(u)].out_bytes;
    ops_[static_cast<std::size_t>(id)].mem_bytes = bytes;
  }
  /// Adds a graph input of `bytes` whatever the element size (token ids are int32).
  int add_input_bytes(std::string name, double bytes) {
    const int id = add(std::move(name), "input", 0.0, 0.0, 0.0, {});
    ops_[static_cast<std::size_t>(id)].out_bytes = bytes;
    ops_[static_cast<std::size_t>(id)].mem_bytes = bytes;
    return id;
  }

  ModelGraph build(std::string name) { return ModelGraph(std::move(name), std::move(ops_), edges_); }

 private:
  double bpe_;
  std::vector<Op> ops_;
  std::vector<std::pair<int, int>> edges_;
};

void require(bool ok, const std::string& generator, const std::string& what) {
  if (!ok) throw std::invalid_argument(generator + ": " + what);
}

/// Spatial size after a stride-2 conv or pool with "same" padding (kernel 1, 3 or 7).
int halve(int side) { return (side - 1) / 2 + 1; }

// ResNet-50 v1.5 (torchvision resnet50: the stride of a downsampling block is on its 3x3 conv).
// Each conv op includes its BatchNorm (gamma and beta counted as parameters, 2 FLOPs per output)
// and ReLU (1 FLOP per output) where the network has one. 25.56M parameters, 4.1 GMACs at 224.
ModelGraph resnet50(const GeneratorOptions& o) {
  require(o.image_size >= 32, "resnet50", "image_size must be >= 32, got " + std::to_string(o.image_size));
  GraphBuilder b(o.bytes_per_element);
  const double batch = o.batch;
  const auto conv = [&](const std::string& name, int in, int cin, int cout, int k, int stride, int& side,
                        bool relu) {
    if (stride == 2) side = halve(side);
    const double outputs = batch * cout * side * side;
    const double flops = 2.0 * k * k * cin * outputs + (relu ? 3.0 : 2.0) * outputs;
    return b.add(name, "conv", flops, static_cast<double>(k) * k * cin * cout + 2.0 * cout, outputs, {in});
  };
  int side = o.image_size;
  int x = b.add("input", "input", 0.0, 0.0, batch * 3 * side * side, {});
  x = conv("conv1", x, 3, 64, 7, 2, side, true);
  side = halve(side);
  x = b.add("maxpool", "pool", 9.0 * batch * 64 * side * side, 0.0, batch * 64 * side * side, {x});
  int channels = 64;
  const std::array<int, 4> blocks{3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    const int width = 64 << stage, out = 4 * width;
    for (int i = 0; i < blocks[static_cast<std::size_t>(stage)]; ++i) {
      const std::string prefix = "layer" + std::to_string(stage + 1) + "." + std::to_string(i) + ".";
      const int stride = (i == 0 && stage > 0) ? 2 : 1;
      int s = side;
      const int c1 = conv(prefix + "conv1", x, channels, width, 1, 1, s, true);
      const int c2 = conv(prefix + "conv2", c1, width, width, 3, stride, s, true);
      const int c3 = conv(prefix + "conv3", c2, width, out, 1, 1, s, false);
      int shortcut = x;
      if (i == 0) {
        int ds = side;
        shortcut = conv(prefix + "downsample", x, channels, out, 1, stride, ds, false);
      }
      const double outputs = batch * out * s * s;
      x = b.add(prefix + "add", "add", 2.0 * outputs, 0.0, outputs, {c3, shortcut});  // add + ReLU
      side = s;
      channels = out;
    }
  }
  x = b.add("avgpool", "pool", batch * channels * (side * side + 1.0), 0.0, batch * channels, {x});
  b.add("fc", "matmul", batch * (2.0 * channels * 1000 + 1000), channels * 1000.0 + 1000.0, batch * 1000, {x});
  return b.build("resnet50");
}

// BERT-base (uncased): 12 layers, hidden 768, 12 heads, FFN 3072, vocabulary 30522, 512 positions.
// 109.5M parameters. Elementwise costs per element: LayerNorm 8 FLOPs, GELU 8, softmax 5.
ModelGraph bert_base(const GeneratorOptions& o) {
  constexpr double kHidden = 768, kFfn = 3072, kHeads = 12, kVocab = 30522, kPositions = 512;
  require(o.seq_len <= kPositions, "bert-base", "seq_len must be <= 512, got " + std::to_string(o.seq_len));
  GraphBuilder b(o.bytes_per_element);
  const double batch = o.batch, seq = o.seq_len, tokens = batch * seq, h = kHidden;
  // The client sends token ids (int32); word + position + token-type embeddings, summed, then LayerNorm.
  const int ids = b.add_input_bytes("token_ids", tokens * 4.0);
  int x = b.add("embeddings", "embedding", tokens * h * (2.0 + 8.0), (kVocab + kPositions + 2.0) * h + 2.0 * h,
                tokens * h, {ids});
  b.set_mem_elements(x, 3.0 * tokens * h + 2.0 * h + tokens * h);  // a gather reads one row per token
  for (int l = 0; l < 12; ++l) {
    const std::string p = "layer" + std::to_string(l) + ".";
    const int qkv =
        b.add(p + "qkv", "matmul", tokens * (2.0 * h * 3 * h + 3 * h), h * 3 * h + 3 * h, tokens * 3 * h, {x});
    const double attention_flops = batch * (4.0 * seq * seq * h + 5.0 * kHeads * seq * seq);  // QK^T, softmax, AV
    const int att = b.add(p + "attention", "attention", attention_flops, 0.0, tokens * h, {qkv});
    const int proj = b.add(p + "attn_out", "matmul", tokens * (2.0 * h * h + h), h * h + h, tokens * h, {att});
    const int n1 = b.add(p + "attn_norm", "add_layernorm", tokens * h * 9.0, 2.0 * h, tokens * h, {proj, x});
    const int f1 = b.add(p + "ffn1", "matmul", tokens * (2.0 * h * kFfn + kFfn + 8.0 * kFfn), h * kFfn + kFfn,
                         tokens * kFfn, {n1});
    const int f2 = b.add(p + "ffn2", "matmul", tokens * (2.0 * kFfn * h + h), kFfn * h + h, tokens * h, {f1});
    x = b.add(p + "ffn_norm", "add_layernorm", tokens * h * 9.0, 2.0 * h, tokens * h, {f2, n1});
  }
  // Dense + tanh on the [CLS] token of each sample.
  b.add("pooler", "matmul", batch * (2.0 * h * h + 2.0 * h), h * h + h, batch * h, {x});
  return b.build("bert-base");
}

// Stable Diffusion 1.5 U-Net (diffusers UNet2DConditionModel, runwayml/stable-diffusion-v1-5):
// latent 4 x (image/8)^2, channels (320, 640, 1280, 1280), 2 ResNet blocks per encoder level and
// 3 per decoder level, a cross-attention transformer (8 heads, context 77 x 768) after each ResNet
// block of the three outer levels, a mid block (ResNet, transformer, ResNet), stride-2 conv
// downsamplers and nearest-neighbour + conv upsamplers. Every encoder output (conv_in, each
// ResNet/transformer pair, each downsampler) is concatenated into the matching decoder ResNet
// block: that is the skip edge. SD's native latent is 64 x 64 (image_size 512); other sizes work,
// an odd side is upsampled back to the encoder's size as diffusers does.
// Simplifications: one op per ResNet block (GroupNorm, SiLU, both convs, time projection,
// shortcut) and one per transformer block (GroupNorm, proj_in, self- and cross-attention, GEGLU
// feed-forward, proj_out); the timestep embedding is an op that feeds every ResNet block, the text
// context (from the text encoder, not modelled) an input that feeds every transformer; the
// sinusoidal timestep projection is folded into time_embed. Elementwise costs per element:
// GroupNorm/LayerNorm 5 FLOPs, SiLU 2, softmax 5. 859.5M parameters, as the real model.
ModelGraph unet_sd(const GeneratorOptions& o) {
  require(o.image_size >= 8, "unet-sd",
          "image_size must be >= 8 (latent = image / 8), got " + std::to_string(o.image_size));
  constexpr double kTemb = 1280, kContextLen = 77, kContextDim = 768, kHeads = 8;
  const std::array<int, 4> chans{320, 640, 1280, 1280};
  GraphBuilder b(o.bytes_per_element);
  const double batch = o.batch;
  int side = o.image_size / 8;

  const int latent = b.add("latent", "input", 0.0, 0.0, batch * 4 * side * side, {});
  const int timestep = b.add("timestep", "input", 0.0, 0.0, batch, {});
  const int context = b.add("context", "input", 0.0, 0.0, batch * kContextLen * kContextDim, {});
  // Sinusoidal projection to 320, then Linear-SiLU-Linear to 1280.
  const double temb_flops = batch * (4.0 * 320 + 2.0 * 320 * kTemb + 2.0 * kTemb + 2.0 * kTemb * kTemb);
  const int temb = b.add("time_embed", "matmul", temb_flops, 320 * kTemb + kTemb + kTemb * kTemb + kTemb,
                         batch * kTemb, {timestep});

  const auto conv3 = [&](const std::string& name, std::string kind, int in, double cin, double cout, int out_side,
                         double pre_elementwise) {
    const double n = static_cast<double>(out_side) * out_side;
    return b.add(name, std::move(kind), batch * (2.0 * 9 * cin * cout * n + cout * n + pre_elementwise),
                 9 * cin * cout + cout, batch * cout * n, {in});
  };
  const auto resnet = [&](const std::string& name, std::vector<int> inputs, double cin, double cout, int s) {
    const double n = static_cast<double>(s) * s;
    double params = 2 * cin + 9 * cin * cout + cout + kTemb * cout + cout + 2 * cout + 9 * cout * cout + cout;
    double flops = 7 * cin * n + 2 * 9 * cin * cout * n + 2 * kTemb * cout + cout * n + 7 * cout * n +
                   2 * 9 * cout * cout * n + cout * n;
    if (cin != cout) {  // 1x1 conv shortcut
      params += cin * cout + cout;
      flops += 2 * cin * cout * n;
    }
    inputs.push_back(temb);
    return b.add(name, "resnet", batch * flops, params, batch * cout * n, inputs);
  };
  const auto transformer = [&](const std::string& name, int in, double c, int s) {
    const double n = static_cast<double>(s) * s, d = kContextDim, m = kContextLen;
    const double params = 2 * c + (c * c + c)                        // GroupNorm, proj_in
                          + 2 * c + (4 * c * c + c)                  // LayerNorm, self-attention q, k, v, out
                          + 2 * c + (2 * c * c + 2 * d * c + c)      // LayerNorm, cross-attention q, k, v, out
                          + 2 * c + (c * 8 * c + 8 * c) + (4 * c * c + c)  // LayerNorm, GEGLU, out
                          + (c * c + c);                             // proj_out
    const double self_attn = 5 * c * n + 2 * 4 * c * c * n + 4 * n * n * c + 5 * kHeads * n * n + c * n;
    const double cross_attn =
        5 * c * n + 2 * 2 * c * c * n + 2 * 2 * d * c * m + 4 * n * m * c + 5 * kHeads * n * m + c * n;
    const double ff = 5 * c * n + 2 * c * 8 * c * n + 9 * 4 * c * n + 2 * 4 * c * c * n + c * n;
    const double flops = 5 * c * n + 2 * c * c * n + self_attn + cross_attn + ff + 2 * c * c * n + c * n;
    return b.add(name, "transformer", batch * flops, params, batch * c * n, {in, context});
  };

  struct Skip {
    int op;
    double channels;
    int side;
  };
  std::vector<Skip> skips;  // every encoder output, consumed in reverse by the decoder
  int x = conv3("conv_in", "conv", latent, 4, chans[0], side, 0.0);
  double ch = chans[0];
  skips.push_back({x, ch, side});
  for (int level = 0; level < 4; ++level) {
    const double cout = chans[static_cast<std::size_t>(level)];
    for (int j = 0; j < 2; ++j) {
      const std::string p = "down" + std::to_string(level) + ".";
      x = resnet(p + "res" + std::to_string(j), {x}, ch, cout, side);
      ch = cout;
      if (level < 3) x = transformer(p + "attn" + std::to_string(j), x, ch, side);
      skips.push_back({x, ch, side});
    }
    if (level < 3) {
      side = halve(side);
      x = conv3("down" + std::to_string(level) + ".downsample", "conv", x, ch, ch, side, 0.0);
      skips.push_back({x, ch, side});
    }
  }
  x = resnet("mid.res0", {x}, ch, ch, side);
  x = transformer("mid.attn", x, ch, side);
  x = resnet("mid.res1", {x}, ch, ch, side);
  for (int level = 0; level < 4; ++level) {
    const double cout = chans[static_cast<std::size_t>(3 - level)];
    for (int j = 0; j < 3; ++j) {
      const std::string p = "up" + std::to_string(level) + ".";
      const Skip skip = skips.back();
      skips.pop_back();
      x = resnet(p + "res" + std::to_string(j), {x, skip.op}, ch + skip.channels, cout, side);  // concat
      ch = cout;
      if (level > 0) x = transformer(p + "attn" + std::to_string(j), x, ch, side);
    }
    if (level < 3) {
      // Nearest-neighbour to the size of the next skip (2x, or the encoder's odd size, as diffusers does).
      side = skips.back().side;
      x = conv3("up" + std::to_string(level) + ".upsample", "conv", x, ch, ch, side, 0.0);
    }
  }
  // GroupNorm + SiLU + conv 3x3 to the 4 latent channels.
  conv3("conv_out", "conv", x, ch, 4, side, 7.0 * ch * side * side);
  return b.build("unet-sd");
}

// A decoder-only transformer from the model catalog, as a chain of blocks of 8 ops each; the
// parameters of each block's ops sum to TransformerSpec::block_params(). Attention counts the full
// S x S score matrix (no causal skipping). Elementwise costs per element: RMSNorm 4 FLOPs
// (LayerNorm 8), RoPE 3 on q and k, SiLU-gate 5 (GELU 8), softmax 5.
ModelGraph llama_chain(const GeneratorOptions& o) {
  const gpu::TransformerSpec* spec = gpu::find_model(o.llm);
  if (!spec)
    throw std::invalid_argument("llama-chain: unknown model \"" + o.llm + "\"; known models are " +
                                quoted_list(gpu::model_names()));
  const gpu::TransformerSpec& m = *spec;
  const int layers = o.layers > 0 ? o.layers : m.n_layers;
  require(layers <= m.n_layers, "llama-chain",
          "layers must be <= the " + std::to_string(m.n_layers) + " blocks of " + m.name + ", got " +
              std::to_string(layers));
  GraphBuilder b(o.bytes_per_element);
  const double batch = o.batch, seq = o.seq_len, tokens = batch * seq, h = m.hidden, q = m.q_dim(), kv = m.kv_dim();
  const double norm_params = m.layer_norm ? 2.0 * h : h, norm_flops = tokens * h * (m.layer_norm ? 8.0 : 4.0);
  const double bias = m.linear_bias ? 1.0 : 0.0;

  const int ids = b.add_input_bytes("token_ids", tokens * 4.0);  // what the client sends: int32 token ids
  int x = b.add("embed", "embedding", 0.0, m.embedding_params(), tokens * h, {ids});
  b.set_mem_elements(x, 2.0 * tokens * h);  // a gather reads one row per token
  for (int l = 0; l < layers; ++l) {
    const std::string p = "block" + std::to_string(l) + ".";
    const int n1 = b.add(p + "attn_norm", "norm", norm_flops, norm_params, tokens * h, {x});
    const double qkv_params = h * (q + 2 * kv) + bias * (q + 2 * kv);
    const double rope = m.rope_theta > 0 ? 3.0 * tokens * (q + kv) : 0.0;
    const int qkv = b.add(p + "qkv", "matmul", 2.0 * tokens * h * (q + 2 * kv) + bias * tokens * (q + 2 * kv) + rope,
                          qkv_params, tokens * (q + 2 * kv), {n1});
    const int att = b.add(p + "attention", "attention", batch * (4.0 * seq * seq * q + 5.0 * m.n_heads * seq * seq),
                          0.0, tokens * q, {qkv});
    const int proj = b.add(p + "o_proj", "matmul", 2.0 * tokens * q * h + bias * tokens * h, q * h + bias * h,
                           tokens * h, {att});
    const int r1 = b.add(p + "attn_residual", "add", tokens * h, 0.0, tokens * h, {proj, x});
    const int n2 = b.add(p + "mlp_norm", "norm", norm_flops, norm_params, tokens * h, {r1});
    const bool gated = m.mlp == gpu::MlpKind::GatedSilu;
    const double per_expert = (gated ? 3.0 : 2.0) * h * m.ffn + bias * (m.ffn + h);
    double mlp_flops = tokens * m.experts_per_token * (2.0 * per_expert + (gated ? 5.0 : 8.0) * m.ffn);
    if (m.n_experts > 1)  // router logits, mixing the experts' outputs
      mlp_flops += tokens * (2.0 * h * m.n_experts + 2.0 * h * m.experts_per_token);
    const int mlp = b.add(p + "mlp", "mlp", mlp_flops, m.mlp_params(), tokens * h, {n2});
    x = b.add(p + "mlp_residual", "add", tokens * h, 0.0, tokens * h, {mlp, r1});
  }
  x = b.add("final_norm", "norm", norm_flops, norm_params, tokens * h, {x});
  b.add("lm_head", "matmul", 2.0 * tokens * h * m.vocab, m.lm_head_params(), tokens * m.vocab, {x});
  return b.build("llama-chain:" + m.name);
}

}  // namespace

ModelGraph random_layered_dag(int n, int width, std::uint64_t seed) {
  require(n >= 1, "random-dag", "n must be >= 1, got " + std::to_string(n));
  require(width >= 1, "random-dag", "width must be >= 1, got " + std::to_string(width));
  sim::Rng rng(seed);
  const auto log_uniform = [&](double lo, double hi) {
    return std::round(std::exp(rng.uniform(std::log(lo), std::log(hi))));
  };
  std::vector<Op> ops;
  std::vector<std::pair<int, int>> edges;
  std::vector<int> prev, prev2;  // ids of the previous two layers
  while (static_cast<int>(ops.size()) < n) {
    const int first = static_cast<int>(ops.size());
    const int count = std::min(1 + static_cast<int>(rng.below(static_cast<std::uint64_t>(width))), n - first);
    std::vector<int> layer;
    for (int v = first; v < first + count; ++v) {
      Op op;
      op.name = "r" + std::to_string(v);
      op.kind = "random";
      op.flops = log_uniform(1e6, 1e9);
      op.param_bytes = std::round(rng.uniform(0.0, 1e8));
      op.out_bytes = log_uniform(1e3, 1e7);
      op.mem_bytes = op.param_bytes + op.out_bytes;
      if (!prev.empty()) {
        // One input from the previous layer, up to two more from the previous two layers.
        std::vector<int> chosen{prev[static_cast<std::size_t>(rng.below(prev.size()))]};
        std::vector<int> pool;
        for (int u : prev) pool.push_back(u);
        for (int u : prev2) pool.push_back(u);
        const int extra = static_cast<int>(rng.below(3));
        for (int k = 0; k < extra; ++k) {
          const int u = pool[static_cast<std::size_t>(rng.below(pool.size()))];
          if (std::find(chosen.begin(), chosen.end(), u) == chosen.end()) chosen.push_back(u);
        }
        std::sort(chosen.begin(), chosen.end());
        for (int u : chosen) {
          edges.emplace_back(u, v);
          op.mem_bytes += ops[static_cast<std::size_t>(u)].out_bytes;
        }
      }
      ops.push_back(std::move(op));
      layer.push_back(v);
    }
    prev2 = std::move(prev);
    prev = std::move(layer);
  }
  return ModelGraph("random-dag-" + std::to_string(seed), std::move(ops), edges);
}

const std::vector<std::string>& generator_names() {
  static const std::vector<std::string> names{"resnet50", "bert-base", "unet-sd", "llama-chain", "random-dag"};
  return names;
}

ModelGraph generate_model_graph(const std::string& generator, const GeneratorOptions& options) {
  const auto& o = options;
  require(o.batch >= 1, generator, "batch must be >= 1, got " + std::to_string(o.batch));
  require(o.seq_len >= 1, generator, "seq_len must be >= 1, got " + std::to_string(o.seq_len));
  require(std::isfinite(o.bytes_per_element) && o.bytes_per_element > 0, generator, "bytes_per_element must be > 0");
  require(o.layers >= 0, generator, "layers must be >= 0, got " + std::to_string(o.layers));
  if (generator == "resnet50") return resnet50(o);
  if (generator == "bert-base") return bert_base(o);
  if (generator == "unet-sd") return unet_sd(o);
  if (generator == "llama-chain") return llama_chain(o);
  if (generator == "random-dag") return random_layered_dag(o.layers > 0 ? o.layers : 50, o.width, o.seed);
  const std::string near = closest_candidate(generator, generator_names());
  throw std::invalid_argument("unknown model graph generator \"" + generator + "\"" +
                              (near.empty() ? "" : " (did you mean \"" + near + "\"?)") + "; known generators are " +
                              quoted_list(generator_names()));
}

}  // namespace swarmsim::partition
