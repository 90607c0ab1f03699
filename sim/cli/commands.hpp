#pragma once
// The subcommands of the `swarmsim` program. Each returns the process exit code:
// 0 success, 1 the run failed, 2 bad input (scenario, flags).
#include <string>
#include <vector>

namespace swarmsim::cli {

struct ValidateArgs {
  std::vector<std::string> files;
  std::vector<std::string> overrides;  ///< "path=value"
};
int validate(const ValidateArgs& args);

struct RunArgs {
  std::string file;
  std::string out_dir;                 ///< default runs/<scenario name>
  std::vector<std::string> overrides;
  std::string progress = "auto";       ///< auto | always | never
  int verbosity = 0;
  bool json = false;                   ///< print metrics.json to stdout instead of the summary
  bool no_outputs = false;             ///< write no files
  std::vector<std::string> metrics;    ///< print these metrics.json paths, one value per line
};
int run(const RunArgs& args);

}  // namespace swarmsim::cli
