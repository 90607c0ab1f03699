#include <gtest/gtest.h>

#include <cmath>

#include "gpu/dtype.hpp"
#include "gpu/llm_int8.hpp"
#include "gpu/model_catalog.hpp"
#include "gpu/transformer_block.hpp"

using namespace swarmsim::gpu;

TEST(LlmInt8, OutlierColumnsStayIn16BitsAndTheRestWithinHalfAStep) {
  const int n_out = 16, n_in = 64;
  std::vector<float> w(n_out * n_in);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = hashed_uniform(1, 2, i, -1, 1);
  for (int o = 0; o < n_out; ++o) w[o * n_in + 5] *= 50.0f;  // column 5: an outlier feature's weights
  const std::vector<int> outliers{5, 40};
  const MixedInt8Weight m = decompose_llm_int8(w, n_out, n_in, outliers);
  const std::vector<float> eff = m.effective_weights();
  for (int o = 0; o < n_out; ++o) {
    float absmax = 0;
    for (int i = 0; i < n_in; ++i)
      if (i != 5 && i != 40) absmax = std::max(absmax, std::abs(w[o * n_in + i]));
    EXPECT_FLOAT_EQ(m.row_scale[o], absmax / 127.0f);  // the outlier column does not inflate the scale
    for (int i = 0; i < n_in; ++i) {
      const float want = w[o * n_in + i], got = eff[o * n_in + i];
      if (i == 5 || i == 40)
        EXPECT_EQ(got, bf16_to_float(float_to_bf16(want)));  // 16 bits: exactly the BF16 rounding
      else
        EXPECT_LE(std::abs(got - want), m.row_scale[o] / 2 * 1.0001f);  // rounding to the nearest step
    }
  }
  // 14 x 62 int8 weights... per row: 62 x 1 + 2 x 2 + 4 bytes.
  EXPECT_DOUBLE_EQ(m.bytes(), 16.0 * (62 + 4 + 4));
}

TEST(LlmInt8, OutlierColumnsByThreshold) {
  const std::vector<float> absmax{0.5f, 7.0f, 6.0f, 12.0f};
  EXPECT_EQ(outlier_columns(absmax, 6.0f), (std::vector<int>{1, 3}));  // strictly above the threshold
}

TEST(LlmInt8, ServedWeightBytesFollowTheOutlierFraction) {
  TransformerSpec m = *find_model("Mixtral-8x7B");
  const double bf16 = m.block_weight_bytes();
  m.weight_dtype = DType::Int8;
  m.int8_outlier_fraction = 0.002;
  // 1 byte per weight, +1 for the 0.2% outlier columns, + a 4-byte scale per row of 4096 inputs.
  EXPECT_NEAR(m.block_weight_bytes() / m.block_params(), 0.998 + 0.004 + 4.0 / 4096, 1e-12);
  EXPECT_NEAR(m.block_weight_bytes() / bf16, (0.998 + 0.004 + 4.0 / 4096) / 2, 1e-12);
}
