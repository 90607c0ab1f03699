// swarmsim-profile: `swarmsim profile` alone, for the GPU-only build (SWARMSIM_GPU_ONLY) that a
// machine without SimGrid can compile: the device machine of scripts/device_check.sh.
#include <CLI/CLI.hpp>

#include "sim/cli/profile_options.hpp"

int main(int argc, char** argv) {
  CLI::App app{"swarmsim-profile: measure each op of a block on this machine and write an op profile (JSON)"};
  swarmsim::cli::ProfileArgs prof;
  swarmsim::cli::add_profile_options(app, prof);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return swarmsim::cli::profile(prof);
}
