#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "gpu/backend.hpp"
#include "gpu/device_catalog.hpp"
#include "gpu/op_profiler.hpp"
#include "sim/cli/commands.hpp"
#include "sim/output/atomic_file.hpp"
#include "sim/units.hpp"

namespace swarmsim::cli {

int profile(const ProfileArgs& args) {
  const gpu::TransformerSpec* model = gpu::find_model(args.model);
  if (!model) {
    std::string names;
    for (const auto& n : gpu::model_names()) names += (names.empty() ? "" : ", ") + n;
    std::fprintf(stderr, "swarmsim profile: --model: unknown model \"%s\"; known models are %s\n", args.model.c_str(),
                 names.c_str());
    return 2;
  }
  std::unique_ptr<gpu::Backend> be;
  try {
    be = gpu::make_backend(args.backend);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim profile: --backend %s: %s\n", args.backend.c_str(), e.what());
    return 2;
  }
  if (const std::string problem = sim::output_file_problem(args.out); !problem.empty()) {
    std::fprintf(stderr, "swarmsim profile: --out %s: %s\n", args.out.c_str(), problem.c_str());
    return 2;
  }
  const gpu::TransformerSpec m = gpu::reduced_width(*model, args.reduce_width);

  gpu::ProfiledDevice device;
  if (args.backend == "cpu") {
    std::fprintf(stderr, "[profile] measuring this CPU's peaks...\n");
    device = gpu::measure_cpu_peaks();
    device.name = be->device_name();
  } else {
    // GPU peaks come from the datasheet of the matching catalog device.
    device.name = be->device_name();
    device.kind = gpu::DeviceKind::Gpu;
    const gpu::DeviceSpec* spec = nullptr;
    for (const auto& d : gpu::device_catalog())
      if (d.kind == gpu::DeviceKind::Gpu && device.name.find(d.name.substr(0, d.name.find('-'))) != std::string::npos)
        spec = &d;
    if (!spec) {
      std::fprintf(stderr, "swarmsim profile: GPU \"%s\" matches no catalog device; add it to gpu/device_catalog.cpp\n",
                   device.name.c_str());
      return 1;
    }
    device.peak_flops = spec->peak_flops;
    device.memory_bandwidth = spec->memory_bandwidth;
    device.peaks_source = "datasheet of catalog device " + spec->name + ": " + spec->source;
  }
  std::fprintf(stderr, "[profile] %s: peak %.1f GFLOP/s, %.1f GB/s (%s)\n", device.name.c_str(), device.peak_flops / 1e9,
               device.memory_bandwidth / 1e9, device.peaks_source.c_str());

  gpu::ProfileShapes shapes{args.batches, args.prompts, args.kv_lens};
  gpu::MeasureOptions opts;
  opts.budget_s = args.budget_s;
  gpu::OpProfile p;
  gpu::OpProfile peaks;  // for the progress lines: the measured device's peaks
  peaks.device = device;
  try {
    p = gpu::profile_model(*be, device, m, shapes, opts, [&](const gpu::ProfileEntry& e) {
      std::fprintf(stderr, "[profile] %-14s batch %3d tokens %5d kv %5d: %10s  %5.1f%% of peak (%s-bound, %d runs, spread %.1f%%)\n",
                   e.op.c_str(), e.work.batch, e.work.new_tokens, e.work.kv_len, sim::format_duration(e.median_s).c_str(),
                   100.0 * peaks.fraction_of_peak(e), peaks.compute_bound(e) ? "compute" : "memory", e.runs, 100.0 * e.spread);
    });
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim profile: %s\n", e.what());
    return 1;
  }
  p.device = device;
  std::string cmd = "swarmsim profile --backend " + args.backend + " --model " + args.model;
  if (args.reduce_width > 1) cmd += " --reduce-width " + std::to_string(args.reduce_width);
  const auto list = [](const std::vector<int>& v) {
    std::string s;
    for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
    return s;
  };
  cmd += " --batch " + list(args.batches) + " --prompt " + list(args.prompts) + " --kv " + list(args.kv_lens);
  p.command = cmd;
  try {
    sim::write_file_atomically(args.out, p.to_json().dump(2) + "\n");  // its directory was made before measuring
  } catch (const std::exception& e) {
    std::fprintf(stderr, "swarmsim profile: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %zu ops measured on %s\n", args.out.c_str(), p.entries.size(), device.name.c_str());
  return 0;
}

}  // namespace swarmsim::cli
