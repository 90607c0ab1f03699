#pragma once
// A Llama-3-style block small enough to differentiate numerically, for the reference-block tests.
#include "gpu/model_catalog.hpp"

namespace swarmsim::test {

/// Width 16, four query heads sharing two key/value heads of width 4, an MLP of width 24, one block.
inline gpu::TransformerSpec tiny_llama() {
  gpu::TransformerSpec m = *gpu::find_model("Llama-3-8B");
  m.name = "tiny-llama";
  m.n_layers = 1;
  m.hidden = 16;
  m.n_heads = 4;
  m.n_kv_heads = 2;
  m.head_dim = 4;
  m.ffn = 24;
  m.vocab = 32;
  return m;
}

}  // namespace swarmsim::test
