#include "gpu/model_catalog.hpp"

#include "gpu/catalog_name.hpp"

#include <algorithm>


namespace swarmsim::gpu {

double TransformerSpec::attention_params() const {
  const double h = hidden;
  double p = h * q_dim() + 2.0 * h * kv_dim() + static_cast<double>(q_dim()) * h;  // Wq, Wk, Wv, Wo
  if (linear_bias) p += q_dim() + 2.0 * kv_dim() + h;
  return p;
}

double TransformerSpec::mlp_params() const {
  const double h = hidden, f = ffn;
  double per_expert = (mlp == MlpKind::GatedSilu ? 3.0 : 2.0) * h * f;  // gate+up+down, or up+down
  if (linear_bias) per_expert += f + h;
  double p = per_expert * n_experts;
  if (n_experts > 1) p += h * n_experts;  // router
  return p;
}

double TransformerSpec::block_params() const {
  const double norms = (layer_norm ? 2.0 : 1.0) * 2.0 * hidden;  // two norms per block (weight [+bias])
  return attention_params() + mlp_params() + norms;
}

double TransformerSpec::total_params() const {
  double p = n_layers * block_params() + embedding_params() + hidden;  // + final norm
  if (!tied_embeddings) p += lm_head_params();
  return p;
}

namespace {

std::vector<TransformerSpec> make_catalog() {
  std::vector<TransformerSpec> c;
  {
    // Meta Llama 3 8B: config.json of meta-llama/Meta-Llama-3-8B (Hugging Face), 8.03B parameters.
    TransformerSpec m;
    m.name = "Llama-3-8B";
    m.n_layers = 32; m.hidden = 4096; m.n_heads = 32; m.n_kv_heads = 8; m.head_dim = 128;
    m.ffn = 14336; m.vocab = 128256; m.weight_dtype = DType::BF16; m.rope_theta = 500000.0;
    m.source = "meta-llama/Meta-Llama-3-8B config.json";
    c.push_back(m);
  }
  {
    // Meta Llama 2 70B: config.json of meta-llama/Llama-2-70b-hf, 69B parameters, GQA with 8 KV heads.
    TransformerSpec m;
    m.name = "Llama-2-70B";
    m.n_layers = 80; m.hidden = 8192; m.n_heads = 64; m.n_kv_heads = 8; m.head_dim = 128;
    m.ffn = 28672; m.vocab = 32000; m.weight_dtype = DType::F16;
    m.activation_dtype = DType::F16;
    m.source = "meta-llama/Llama-2-70b-hf config.json";
    c.push_back(m);
  }
  {
    // Mixtral 8x7B: config.json of mistralai/Mixtral-8x7B-v0.1, 46.7B parameters, 8 experts, top-2.
    TransformerSpec m;
    m.name = "Mixtral-8x7B";
    m.n_layers = 32; m.hidden = 4096; m.n_heads = 32; m.n_kv_heads = 8; m.head_dim = 128;
    m.ffn = 14336; m.vocab = 32000; m.n_experts = 8; m.experts_per_token = 2;
    m.weight_dtype = DType::BF16; m.rope_theta = 1e6;
    m.source = "mistralai/Mixtral-8x7B-v0.1 config.json";
    c.push_back(m);
  }
  {
    // BLOOM 176B: config.json of bigscience/bloom, 176B parameters, MHA with 112 heads, GELU MLP
    // of width 4*hidden, LayerNorm and biases, ALiBi positions, tied embeddings.
    TransformerSpec m;
    m.name = "BLOOM-176B";
    m.n_layers = 70; m.hidden = 14336; m.n_heads = 112; m.n_kv_heads = 112; m.head_dim = 128;
    m.ffn = 4 * 14336; m.vocab = 250880; m.mlp = MlpKind::Gelu; m.layer_norm = true;
    m.linear_bias = true; m.tied_embeddings = true; m.weight_dtype = DType::BF16; m.rope_theta = 0.0;
    m.source = "bigscience/bloom config.json";
    c.push_back(m);
  }
  return c;
}

}  // namespace

TransformerSpec reduced_width(const TransformerSpec& m, int divisor) {
  TransformerSpec r = m;
  if (divisor <= 1) return r;
  r.name = m.name + "/" + std::to_string(divisor);
  r.n_kv_heads = std::max(1, m.n_kv_heads / divisor);
  const int group = m.n_heads / m.n_kv_heads;  // keep the GQA ratio
  r.n_heads = std::max(r.n_kv_heads * std::min(group, std::max(1, m.n_heads / divisor)), r.n_kv_heads);
  r.hidden = r.n_heads * r.head_dim;
  r.ffn = std::max(1, m.ffn / divisor);
  r.vocab = std::max(2, m.vocab / divisor);
  return r;
}

const std::vector<TransformerSpec>& model_catalog() {
  static const std::vector<TransformerSpec> catalog = make_catalog();
  return catalog;
}

const TransformerSpec* find_model(std::string_view name) {
  const std::string key = catalog_key(name);
  for (const TransformerSpec& m : model_catalog())
    if (catalog_key(m.name) == key) return &m;
  return nullptr;
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const TransformerSpec& m : model_catalog()) names.push_back(m.name);
  return names;
}

}  // namespace swarmsim::gpu
