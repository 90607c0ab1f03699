#pragma once
// The numeric derivative the gradient tests hold their backward passes to.
#include <cstddef>
#include <vector>

namespace swarmsim::test {

/// d loss / d theta[i] by central difference with step h; theta[i] is restored.
template <class Loss>
double central_difference(std::vector<double>& theta, std::size_t i, Loss&& loss, double h = 1e-6) {
  const double keep = theta[i];
  theta[i] = keep + h;
  const double up = loss();
  theta[i] = keep - h;
  const double down = loss();
  theta[i] = keep;
  return (up - down) / (2 * h);
}

}  // namespace swarmsim::test
