#pragma once
// Model graphs from JSON files (format: docs/model-graph-format.md) and from built-in generators
// of well-known networks. Loading reports every problem with the file, the JSON path and what
// was expected, like scenario files do.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "sim/partition/model_graph.hpp"

namespace swarmsim::partition {

/// Thrown when a graph file cannot be loaded; what() lists "file: path: message" lines.
class GraphFileError : public std::runtime_error {
 public:
  explicit GraphFileError(std::vector<std::string> lines);
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::vector<std::string> lines_;
};

/// Reads and validates a model graph JSON file. Throws GraphFileError.
ModelGraph load_model_graph_file(const std::string& path);
/// Validates model graph JSON text; `file` is used in messages only. Throws GraphFileError.
ModelGraph load_model_graph_text(const std::string& text, const std::string& file);
/// The graph as a JSON document in the same format (round-trips through load_model_graph_text).
nlohmann::json to_json(const ModelGraph& g);

/// Options of the built-in generators.
struct GeneratorOptions {
  int batch = 1;            ///< samples per request
  int seq_len = 128;        ///< tokens per sample (BERT, Llama chain)
  int image_size = 224;     ///< input resolution in pixels (ResNet-50); latent size is image/8 (U-Net)
  double bytes_per_element = 2.0;  ///< activation and parameter storage (2 = FP16/BF16)
  std::string llm = "Llama-3-8B";  ///< catalog model of the Llama block chain
  int layers = 0;           ///< Llama chain: blocks (0 = all of the model); random: layers
  int width = 4;            ///< random DAG: ops per layer at most
  std::uint64_t seed = 1;   ///< random DAG
};

/// Names of the generators: "resnet50", "bert-base", "unet-sd", "llama-chain", "random-dag".
const std::vector<std::string>& generator_names();
/// Builds a generated graph; throws std::invalid_argument for an unknown name.
ModelGraph generate_model_graph(const std::string& generator, const GeneratorOptions& options = {});

/// A random layered DAG: `n` ops in layers of up to `width`, each op with 1..3 inputs from the
/// previous two layers; work, parameters and outputs drawn from wide ranges. For tests.
ModelGraph random_layered_dag(int n, int width, std::uint64_t seed);

}  // namespace swarmsim::partition
