// Causal grouped-query attention, split over the keys (flash-decoding style), in two kernels:
//
// 1. attention_partial_kernel: one warp per (row r, query head h, key split). Lane l holds the
//    dims d = l + 32 t of the query and of its output accumulator (FP32 registers, up to 8 per lane
//    for head_dim 256). The warp walks its keys kKeysPerStep at a time: partial dot products per
//    lane, a butterfly reduction so every lane has the scores, then an online softmax update
//    (running max m, running sum l, accumulator rescaled by exp(m_old - m_new)). Loads of a key
//    row are 32 consecutive BF16 per instruction (coalesced); the kKeysPerStep keys give the warp
//    several independent loads in flight. It writes (m, l, acc[head_dim]) of its split, unnormalized.
// 2. attention_combine_kernel: one block per (r, h) merges the splits: M = max m_s,
//    out = sum_s acc_s exp(m_s - M) / sum_s l_s exp(m_s - M), rounded to BF16.
//
// Splits are chosen so that decode (few (r, h) pairs, long caches) still fills the device; prefill
// has enough (r, h) pairs and gets one split. Row r (token r % new_tokens of sequence
// r / new_tokens) sees keys 0 .. kv_len + r % new_tokens; split s covers keys
// [s * chunk, (s + 1) * chunk) of that range, possibly none (then m = -inf, l = 0, acc = 0).
#include "gpu/cuda/attention.cuh"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "gpu/cuda/cuda_check.cuh"
#include "gpu/cuda/device_primitives.cuh"

namespace swarmsim::gpu::cuda {
namespace {

constexpr int kKeysPerStep = 4;      // keys a warp scores at once (independent loads in flight)
constexpr int kMinKeysPerSplit = 32;  // below this a split is not worth its merge
constexpr int kMaxSplits = 256;       // the combine kernel keeps one weight per split in shared memory
constexpr int kResidentWarpsPerSm = 32;  // one-warp blocks: at most 32 resident blocks per SM (sm_90)

struct SplitPlan {
  int n_splits = 1;
  int chunk = 1;  // keys per split
};

SplitPlan plan_splits(const AttentionShape& s, int n_sms) {
  const int max_keys = s.kv_len + s.new_tokens;
  const long long pairs = static_cast<long long>(s.rows()) * s.n_heads;
  const long long target_warps = static_cast<long long>(std::max(n_sms, 1)) * kResidentWarpsPerSm;
  const long long wanted = (target_warps + pairs - 1) / std::max(pairs, 1LL);
  const long long by_length = (max_keys + kMinKeysPerSplit - 1) / kMinKeysPerSplit;
  const long long n = std::clamp(wanted, 1LL, std::max(1LL, std::min<long long>(by_length, kMaxSplits)));
  SplitPlan plan;
  plan.chunk = static_cast<int>((max_keys + n - 1) / n);
  plan.n_splits = (max_keys + plan.chunk - 1) / plan.chunk;  // no split is empty for every row
  return plan;
}

struct AttentionArgs {
  const bf16* q;
  const bf16* k;
  const bf16* v;
  float* part_acc;  // [rows * n_heads * n_splits x head_dim]
  float* part_m;    // [rows * n_heads * n_splits]
  float* part_l;    // [rows * n_heads * n_splits]
  std::size_t q_stride, q_offset;
  int new_tokens, kv_len, max_len;
  int n_heads, group, head_dim, kv_dim;
  int n_splits, chunk;
  float scale;
};

template <int kDims>  // dims per lane: head_dim <= 32 * kDims
__global__ void __launch_bounds__(32) attention_partial_kernel(const AttentionArgs a) {
  const int pair = blockIdx.x, split = blockIdx.y, lane = threadIdx.x;
  const int r = pair / a.n_heads, h = pair % a.n_heads;
  const int b = r / a.new_tokens;
  const int n_keys = a.kv_len + r % a.new_tokens + 1;  // causal: up to this token's own position
  const int j_begin = split * a.chunk;
  const int j_end = min(n_keys, j_begin + a.chunk);
  const int kv_head = h / a.group;
  const int hd = a.head_dim;

  const bf16* qv = a.q + static_cast<std::size_t>(r) * a.q_stride + a.q_offset + static_cast<std::size_t>(h) * hd;
  const std::size_t cache_base = static_cast<std::size_t>(b) * a.max_len * a.kv_dim + static_cast<std::size_t>(kv_head) * hd;
  const bf16* kb = a.k + cache_base;
  const bf16* vb = a.v + cache_base;

  float qr[kDims], acc[kDims];
#pragma unroll
  for (int t = 0; t < kDims; ++t) {
    const int d = lane + 32 * t;
    qr[t] = d < hd ? to_float(qv[d]) : 0.0f;
    acc[t] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;

  for (int j0 = j_begin; j0 < j_end; j0 += kKeysPerStep) {  // j0 is warp-uniform: no divergence
    float s[kKeysPerStep];
#pragma unroll
    for (int u = 0; u < kKeysPerStep; ++u) {
      float part = 0.0f;
      if (j0 + u < j_end) {
        const bf16* kj = kb + static_cast<std::size_t>(j0 + u) * a.kv_dim;
#pragma unroll
        for (int t = 0; t < kDims; ++t) {
          const int d = lane + 32 * t;
          if (d < hd) part += qr[t] * to_float(kj[d]);
        }
      }
      s[u] = part;
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1)
#pragma unroll
      for (int u = 0; u < kKeysPerStep; ++u) s[u] += __shfl_xor_sync(kFullWarp, s[u], off);

    float m_new = m;
#pragma unroll
    for (int u = 0; u < kKeysPerStep; ++u) {
      s[u] = j0 + u < j_end ? s[u] * a.scale : -INFINITY;
      m_new = fmaxf(m_new, s[u]);
    }
    // Key j0 is always valid, so m_new is finite; on the first step m = -inf and corr = 0.
    const float corr = expf(m - m_new);
    float p[kKeysPerStep], p_sum = 0.0f;
#pragma unroll
    for (int u = 0; u < kKeysPerStep; ++u) {
      p[u] = expf(s[u] - m_new);  // 0 for the keys past j_end
      p_sum += p[u];
    }
    l = l * corr + p_sum;
#pragma unroll
    for (int t = 0; t < kDims; ++t) acc[t] *= corr;
#pragma unroll
    for (int u = 0; u < kKeysPerStep; ++u) {
      if (j0 + u < j_end) {
        const bf16* vj = vb + static_cast<std::size_t>(j0 + u) * a.kv_dim;
#pragma unroll
        for (int t = 0; t < kDims; ++t) {
          const int d = lane + 32 * t;
          if (d < hd) acc[t] += p[u] * to_float(vj[d]);
        }
      }
    }
    m = m_new;
  }

  const std::size_t slot = static_cast<std::size_t>(pair) * a.n_splits + split;
  float* acc_out = a.part_acc + slot * hd;
#pragma unroll
  for (int t = 0; t < kDims; ++t) {
    const int d = lane + 32 * t;
    if (d < hd) acc_out[d] = acc[t];
  }
  if (lane == 0) {
    a.part_m[slot] = m;
    a.part_l[slot] = l;
  }
}

__global__ void attention_combine_kernel(bf16* out, const float* part_acc, const float* part_m, const float* part_l,
                                         int n_splits, int n_heads, int head_dim) {
  __shared__ float weight[kMaxSplits];
  __shared__ float inv_total;
  const int pair = blockIdx.x;
  const int r = pair / n_heads, h = pair % n_heads;
  const std::size_t base = static_cast<std::size_t>(pair) * n_splits;
  if (threadIdx.x < 32) {  // warp 0: the merge weights exp(m_s - M) and 1 / sum_s l_s exp(m_s - M)
    float mx = -INFINITY;
    for (int s = threadIdx.x; s < n_splits; s += 32) mx = fmaxf(mx, part_m[base + s]);
    mx = warp_max(mx);  // finite: split 0 holds at least key 0
    float total = 0.0f;
    for (int s = threadIdx.x; s < n_splits; s += 32) {
      const float ms = part_m[base + s];
      const float w = ms == -INFINITY ? 0.0f : expf(ms - mx);  // an empty split weighs nothing
      weight[s] = w;
      total += part_l[base + s] * w;
    }
    total = warp_sum(total);
    if (threadIdx.x == 0) inv_total = 1.0f / total;
  }
  __syncthreads();
  bf16* o = out + static_cast<std::size_t>(r) * n_heads * head_dim + static_cast<std::size_t>(h) * head_dim;
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float acc = 0.0f;
    for (int s = 0; s < n_splits; ++s) acc += part_acc[(base + s) * head_dim + d] * weight[s];
    o[d] = to_bf16(acc * inv_total);
  }
}

}  // namespace

std::size_t attention_workspace_floats(const AttentionShape& s, int n_sms) {
  const SplitPlan plan = plan_splits(s, n_sms);
  return static_cast<std::size_t>(s.rows()) * s.n_heads * plan.n_splits * (s.head_dim + 2);
}

void attention(bf16* out, const bf16* q, Columns q_cols, const bf16* k_cache, const bf16* v_cache, const AttentionShape& s,
               float* workspace, int n_sms, cudaStream_t stream) {
  if (s.head_dim < 1 || s.head_dim > kAttentionMaxHeadDim)
    throw std::invalid_argument("cuda attention: head_dim " + std::to_string(s.head_dim) + " outside 1.." +
                                std::to_string(kAttentionMaxHeadDim));
  if (s.n_kv_heads < 1 || s.n_heads % s.n_kv_heads != 0)
    throw std::invalid_argument("cuda attention: n_heads must be a multiple of n_kv_heads");
  const long long pairs = static_cast<long long>(s.rows()) * s.n_heads;
  if (pairs == 0) return;
  if (pairs > 0x7fffffffLL) throw std::invalid_argument("cuda attention: too many (row, head) pairs for one grid");

  const SplitPlan plan = plan_splits(s, n_sms);
  const std::size_t slots = static_cast<std::size_t>(pairs) * plan.n_splits;
  AttentionArgs a{};
  a.q = q;
  a.k = k_cache;
  a.v = v_cache;
  a.part_acc = workspace;
  a.part_m = workspace + slots * s.head_dim;
  a.part_l = a.part_m + slots;
  a.q_stride = q_cols.stride;
  a.q_offset = q_cols.offset;
  a.new_tokens = s.new_tokens;
  a.kv_len = s.kv_len;
  a.max_len = s.max_len;
  a.n_heads = s.n_heads;
  a.group = s.n_heads / s.n_kv_heads;
  a.head_dim = s.head_dim;
  a.kv_dim = s.kv_dim();
  a.n_splits = plan.n_splits;
  a.chunk = plan.chunk;
  a.scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));

  const dim3 grid(static_cast<unsigned>(pairs), static_cast<unsigned>(plan.n_splits));
  if (s.head_dim <= 64)
    attention_partial_kernel<2><<<grid, 32, 0, stream>>>(a);
  else if (s.head_dim <= 128)
    attention_partial_kernel<4><<<grid, 32, 0, stream>>>(a);
  else
    attention_partial_kernel<8><<<grid, 32, 0, stream>>>(a);
  CUDA_CHECK_LAUNCH();

  const int threads = std::min(256, (s.head_dim + 31) / 32 * 32);
  attention_combine_kernel<<<static_cast<unsigned>(pairs), threads, 0, stream>>>(out, a.part_acc, a.part_m, a.part_l,
                                                                                 plan.n_splits, s.n_heads, s.head_dim);
  CUDA_CHECK_LAUNCH();
}

}  // namespace swarmsim::gpu::cuda
