#pragma once
// The `profile` command's options, shared by `swarmsim profile` and the GPU-only build's
// `swarmsim-profile` (SWARMSIM_GPU_ONLY, scripts/device_check.sh).
#include <CLI/CLI.hpp>

#include "sim/cli/commands.hpp"

namespace swarmsim::cli {

/// Adds the options of ProfileArgs to `cmd`.
inline void add_profile_options(CLI::App& cmd, ProfileArgs& prof) {
  cmd.add_option("--backend", prof.backend, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  cmd.add_option("--model", prof.model, "catalog model whose block shapes are measured");
  cmd.add_option("--reduce-width", prof.reduce_width, "divide the model's widths by this (fast checks)")->check(CLI::PositiveNumber);
  cmd.add_option("--batch", prof.batches, "batch sizes")->delimiter(',')->check(CLI::PositiveNumber);
  cmd.add_option("--prompt", prof.prompts, "prompt lengths measured at prefill")->delimiter(',')->check(CLI::PositiveNumber);
  cmd.add_option("--kv", prof.kv_lens, "KV lengths measured at decode")->delimiter(',')->check(CLI::PositiveNumber);
  cmd.add_option("--budget", prof.budget_s, "seconds of repetitions per op at most")->check(CLI::PositiveNumber);
  cmd.add_option("--out", prof.out, "profile file to write (e.g. gpu/profiles/cpu.json)")->required();
}

}  // namespace swarmsim::cli
