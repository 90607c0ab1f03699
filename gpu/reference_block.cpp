#include "gpu/reference_block.hpp"

#include <cmath>
#include <stdexcept>

namespace swarmsim::gpu {
namespace {

std::vector<double> to_double(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

double silu(double z) { return z / (1.0 + std::exp(-z)); }
double silu_grad(double z) {
  const double s = 1.0 / (1.0 + std::exp(-z));
  return s * (1.0 + z * (1.0 - s));
}

/// out [rows x n_out] = x [rows x n_in] W^T, W [n_out x n_in]; x's rows `stride` apart from `offset`.
void times_transposed(std::vector<double>& out, const double* x, std::size_t stride, const std::vector<double>& w, int rows, int n_in,
                      int n_out) {
  out.assign(static_cast<std::size_t>(rows) * n_out, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < n_out; ++o) {
      double s = 0.0;
      for (int i = 0; i < n_in; ++i) s += x[static_cast<std::size_t>(r) * stride + i] * w[static_cast<std::size_t>(o) * n_in + i];
      out[static_cast<std::size_t>(r) * n_out + o] = s;
    }
}

/// dx [rows x n_in] = dy [rows x n_out] W: the input gradient of a frozen linear layer.
void times_weights(std::vector<double>& dx, const std::vector<double>& dy, const std::vector<double>& w, int rows, int n_in, int n_out,
                   std::uint64_t& madds) {
  dx.assign(static_cast<std::size_t>(rows) * n_in, 0.0);
  for (int r = 0; r < rows; ++r)
    for (int o = 0; o < n_out; ++o) {
      const double g = dy[static_cast<std::size_t>(r) * n_out + o];
      for (int i = 0; i < n_in; ++i) dx[static_cast<std::size_t>(r) * n_in + i] += g * w[static_cast<std::size_t>(o) * n_in + i];
    }
  madds += static_cast<std::uint64_t>(rows) * n_in * n_out;
}

/// RMSNorm of each row: out = x / rms(x) * g; inv[r] = 1 / rms of row r.
void rmsnorm(std::vector<double>& out, std::vector<double>& inv, const std::vector<double>& x, const std::vector<double>& g, int rows,
             int dim, double eps) {
  out.resize(x.size());
  inv.resize(static_cast<std::size_t>(rows));
  for (int r = 0; r < rows; ++r) {
    const double* xr = &x[static_cast<std::size_t>(r) * dim];
    double ss = 0.0;
    for (int i = 0; i < dim; ++i) ss += xr[i] * xr[i];
    const double v = 1.0 / std::sqrt(ss / dim + eps);
    inv[static_cast<std::size_t>(r)] = v;
    for (int i = 0; i < dim; ++i) out[static_cast<std::size_t>(r) * dim + i] = xr[i] * v * g[static_cast<std::size_t>(i)];
  }
}

/// Adds to dx the gradient of RMSNorm's input from dh: inv (g dh) - x inv^3 sum(g dh x) / dim.
void add_rmsnorm_grad(std::vector<double>& dx, const std::vector<double>& dh, const std::vector<double>& x, const std::vector<double>& inv,
                      const std::vector<double>& g, int rows, int dim) {
  for (int r = 0; r < rows; ++r) {
    const std::size_t o = static_cast<std::size_t>(r) * dim;
    const double v = inv[static_cast<std::size_t>(r)];
    double dot = 0.0;
    for (int i = 0; i < dim; ++i) dot += g[static_cast<std::size_t>(i)] * dh[o + i] * x[o + i];
    for (int i = 0; i < dim; ++i) dx[o + i] += v * g[static_cast<std::size_t>(i)] * dh[o + i] - x[o + i] * v * v * v * dot / dim;
  }
}

/// Llama's half-split rotary embedding of `heads` heads of width hd in the columns [offset, ...) of
/// each row (row r at position r % tokens); `sign` -1 rotates back (the transpose: the gradient).
void rope(std::vector<double>& m, std::size_t stride, std::size_t offset, int heads, int hd, int rows, int tokens, double theta, double sign) {
  const int half = hd / 2;
  for (int r = 0; r < rows; ++r) {
    const int pos = r % tokens;
    for (int h = 0; h < heads; ++h) {
      double* v = &m[static_cast<std::size_t>(r) * stride + offset + static_cast<std::size_t>(h) * hd];
      for (int i = 0; i < half; ++i) {
        const double a = pos * std::pow(theta, -2.0 * i / hd);
        const double c = std::cos(a), s = sign * std::sin(a);
        const double x0 = v[i], x1 = v[i + half];
        v[i] = x0 * c - x1 * s;
        v[i + half] = x0 * s + x1 * c;
      }
    }
  }
}

}  // namespace

struct ReferenceBlock::Activations {
  std::vector<double> h1, inv1, qkv, p, o, attn, x2, h2, inv2, gu, act, mlp;
};

ReferenceBlock::ReferenceBlock(const TransformerSpec& model, const BlockWeightsHost& w)
    : m_(model),
      attn_norm_(to_double(w.attn_norm)),
      mlp_norm_(to_double(w.mlp_norm)),
      w_qkv_(to_double(w.w_qkv)),
      w_o_(to_double(w.w_o)),
      w_gate_up_(to_double(w.w_gate_up)),
      w_down_(to_double(w.w_down)) {
  if (m_.n_experts != 1 || m_.mlp != MlpKind::GatedSilu || m_.layer_norm || m_.n_heads % m_.n_kv_heads != 0)
    throw std::invalid_argument(m_.name + ": the reference block is a Llama-style dense block");
}

ReferenceBlock::Activations ReferenceBlock::run(const std::vector<double>& x, int batch, int tokens, const BlockAdapters* ad) const {
  const int H = m_.hidden, Q = m_.q_dim(), KV = m_.kv_dim(), F = m_.ffn, hd = m_.head_dim, nh = m_.n_heads;
  const int R = batch * tokens, W = Q + 2 * KV, group = m_.n_heads / m_.n_kv_heads;
  if (x.size() != static_cast<std::size_t>(R) * H) throw std::invalid_argument("ReferenceBlock: x has the wrong size");
  Activations a;
  rmsnorm(a.h1, a.inv1, x, attn_norm_, R, H, m_.norm_eps);
  times_transposed(a.qkv, a.h1.data(), static_cast<std::size_t>(H), w_qkv_, R, H, W);
  if (ad && ad->qkv) ad->qkv->add_forward(a.h1.data(), R, a.qkv.data());
  rope(a.qkv, static_cast<std::size_t>(W), 0, nh, hd, R, tokens, m_.rope_theta, 1.0);
  rope(a.qkv, static_cast<std::size_t>(W), static_cast<std::size_t>(Q), m_.n_kv_heads, hd, R, tokens, m_.rope_theta, 1.0);
  // Causal attention: query head h reads key/value head h / group; p[b][h][t][s] for s <= t.
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  a.p.assign(static_cast<std::size_t>(batch) * nh * tokens * tokens, 0.0);
  a.o.assign(static_cast<std::size_t>(R) * Q, 0.0);
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < nh; ++h) {
      const std::size_t qo = static_cast<std::size_t>(h) * hd, ko = Q + static_cast<std::size_t>(h / group) * hd, vo = ko + KV;
      for (int t = 0; t < tokens; ++t) {
        const double* q = &a.qkv[static_cast<std::size_t>(b * tokens + t) * W + qo];
        double* p = &a.p[((static_cast<std::size_t>(b) * nh + h) * tokens + t) * tokens];
        double top = -1e300;
        for (int s = 0; s <= t; ++s) {
          const double* k = &a.qkv[static_cast<std::size_t>(b * tokens + s) * W + ko];
          double dot = 0.0;
          for (int i = 0; i < hd; ++i) dot += q[i] * k[i];
          p[s] = dot * scale;
          top = std::max(top, p[s]);
        }
        double sum = 0.0;
        for (int s = 0; s <= t; ++s) sum += (p[s] = std::exp(p[s] - top));
        for (int s = 0; s <= t; ++s) p[s] /= sum;
        double* o = &a.o[static_cast<std::size_t>(b * tokens + t) * Q + qo];
        for (int s = 0; s <= t; ++s) {
          const double* v = &a.qkv[static_cast<std::size_t>(b * tokens + s) * W + vo];
          for (int i = 0; i < hd; ++i) o[i] += p[s] * v[i];
        }
      }
    }
  times_transposed(a.attn, a.o.data(), static_cast<std::size_t>(Q), w_o_, R, Q, H);
  if (ad && ad->o) ad->o->add_forward(a.o.data(), R, a.attn.data());
  a.x2.resize(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) a.x2[i] = x[i] + a.attn[i];
  rmsnorm(a.h2, a.inv2, a.x2, mlp_norm_, R, H, m_.norm_eps);
  times_transposed(a.gu, a.h2.data(), static_cast<std::size_t>(H), w_gate_up_, R, H, 2 * F);
  if (ad && ad->gate_up) ad->gate_up->add_forward(a.h2.data(), R, a.gu.data());
  a.act.resize(static_cast<std::size_t>(R) * F);
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < F; ++j) {
      const std::size_t g = static_cast<std::size_t>(r) * 2 * F + j;
      a.act[static_cast<std::size_t>(r) * F + j] = silu(a.gu[g]) * a.gu[g + F];
    }
  times_transposed(a.mlp, a.act.data(), static_cast<std::size_t>(F), w_down_, R, F, H);
  if (ad && ad->down) ad->down->add_forward(a.act.data(), R, a.mlp.data());
  return a;
}

std::vector<double> ReferenceBlock::forward(const std::vector<double>& x, int batch, int tokens, const BlockAdapters* ad) const {
  const Activations a = run(x, batch, tokens, ad);
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = a.x2[i] + a.mlp[i];
  if (ad && ad->bottleneck) {  // seed 002, eq. 5: h' = LayerNorm(h + W2 phi(W1 h)) after the block
    std::vector<double> out(y.size());
    BottleneckAdapter bn = *ad->bottleneck;  // forward() counts its multiply-adds: a scratch copy keeps this const
    bn.forward(y, batch * tokens, out);
    return out;
  }
  return y;
}

std::vector<double> ReferenceBlock::backward(const std::vector<double>& x, const std::vector<double>& dy_out, int batch, int tokens,
                                             BlockAdapters* ad) {
  const int H = m_.hidden, Q = m_.q_dim(), KV = m_.kv_dim(), F = m_.ffn, hd = m_.head_dim, nh = m_.n_heads;
  const int R = batch * tokens, W = Q + 2 * KV, group = m_.n_heads / m_.n_kv_heads;
  if (dy_out.size() != x.size()) throw std::invalid_argument("ReferenceBlock: dy has the wrong size");
  weight_madds_ = attention_madds_ = 0;
  const Activations a = run(x, batch, tokens, ad);  // the recomputed forward
  std::vector<double> dy = dy_out;
  if (ad && ad->bottleneck) {  // back through eq. 5's adapter first, from the block's own output
    std::vector<double> y(x.size());
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = a.x2[i] + a.mlp[i];
    ad->bottleneck->backward(y, dy_out, R, dy);
  }
  // MLP: y = x2 + down(silu(g) * u).
  std::vector<double> dact, dgu(static_cast<std::size_t>(R) * 2 * F), dh2, dx2 = dy;
  times_weights(dact, dy, w_down_, R, F, H, weight_madds_);
  if (ad && ad->down) ad->down->backward(a.act.data(), dy.data(), R, dact.data());
  for (int r = 0; r < R; ++r)
    for (int j = 0; j < F; ++j) {
      const std::size_t g = static_cast<std::size_t>(r) * 2 * F + j;
      const double d = dact[static_cast<std::size_t>(r) * F + j];
      dgu[g] = d * a.gu[g + F] * silu_grad(a.gu[g]);
      dgu[g + F] = d * silu(a.gu[g]);
    }
  times_weights(dh2, dgu, w_gate_up_, R, H, 2 * F, weight_madds_);
  if (ad && ad->gate_up) ad->gate_up->backward(a.h2.data(), dgu.data(), R, dh2.data());
  add_rmsnorm_grad(dx2, dh2, a.x2, a.inv2, mlp_norm_, R, H);
  // Attention: x2 = x + o_proj(attention(rope(q), rope(k), v)).
  std::vector<double> dout, dqkv(static_cast<std::size_t>(R) * W, 0.0);
  times_weights(dout, dx2, w_o_, R, Q, H, weight_madds_);
  if (ad && ad->o) ad->o->backward(a.o.data(), dx2.data(), R, dout.data());
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  std::vector<double> dp(static_cast<std::size_t>(tokens));
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < nh; ++h) {
      const std::size_t qo = static_cast<std::size_t>(h) * hd, ko = Q + static_cast<std::size_t>(h / group) * hd, vo = ko + KV;
      for (int t = 0; t < tokens; ++t) {
        const std::size_t row = static_cast<std::size_t>(b * tokens + t);
        const double* p = &a.p[((static_cast<std::size_t>(b) * nh + h) * tokens + t) * tokens];
        const double* g = &dout[row * Q + qo];
        double pdp = 0.0;
        for (int s = 0; s <= t; ++s) {  // dP = dO V^T, dV += P^T dO
          const std::size_t src = static_cast<std::size_t>(b * tokens + s) * W;
          double d = 0.0;
          for (int i = 0; i < hd; ++i) {
            d += g[i] * a.qkv[src + vo + i];
            dqkv[src + vo + i] += p[s] * g[i];
          }
          dp[static_cast<std::size_t>(s)] = d;
          pdp += p[s] * d;
        }
        for (int s = 0; s <= t; ++s) {  // dS = P (dP - sum P dP); dQ += dS K, dK += dS Q (scaled)
          const double ds = p[s] * (dp[static_cast<std::size_t>(s)] - pdp) * scale;
          const std::size_t src = static_cast<std::size_t>(b * tokens + s) * W;
          for (int i = 0; i < hd; ++i) {
            dqkv[row * W + qo + i] += ds * a.qkv[src + ko + i];
            dqkv[src + ko + i] += ds * a.qkv[row * W + qo + i];
          }
        }
        // Products over the (t, s) pairs: the recomputed scores (in run), dP, dV, dQ and dK.
        attention_madds_ += 5ull * static_cast<std::uint64_t>(t + 1) * hd;
      }
    }
  rope(dqkv, static_cast<std::size_t>(W), 0, nh, hd, R, tokens, m_.rope_theta, -1.0);
  rope(dqkv, static_cast<std::size_t>(W), static_cast<std::size_t>(Q), m_.n_kv_heads, hd, R, tokens, m_.rope_theta, -1.0);
  std::vector<double> dh1, dx = dx2;
  times_weights(dh1, dqkv, w_qkv_, R, H, W, weight_madds_);
  if (ad && ad->qkv) ad->qkv->backward(a.h1.data(), dqkv.data(), R, dh1.data());
  add_rmsnorm_grad(dx, dh1, x, a.inv1, attn_norm_, R, H);
  return dx;
}

}  // namespace swarmsim::gpu
