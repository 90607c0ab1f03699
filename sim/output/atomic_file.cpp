#include "sim/output/atomic_file.hpp"

#include <stdexcept>
#include <string>
#include <system_error>

#include <unistd.h>

namespace swarmsim::sim {

AtomicFile::AtomicFile(std::filesystem::path target)
    : target_(std::move(target)), temp_(target_.string() + ".tmp-" + std::to_string(::getpid())) {
  out_.open(temp_, std::ios::binary | std::ios::trunc);
  if (!out_) throw std::runtime_error("cannot open " + temp_.string() + " for writing");
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    out_.close();
    std::error_code ec;
    std::filesystem::remove(temp_, ec);
  }
}

void AtomicFile::commit() {
  out_.flush();
  const bool good = static_cast<bool>(out_);
  out_.close();
  if (!good || out_.fail()) throw std::runtime_error("error while writing " + temp_.string());
  std::error_code ec;
  std::filesystem::rename(temp_, target_, ec);
  if (ec) throw std::runtime_error("cannot rename " + temp_.string() + " to " + target_.string() + ": " + ec.message());
  committed_ = true;
}

void write_file_atomically(const std::filesystem::path& target, std::string_view content) {
  AtomicFile f(target);
  f.stream().write(content.data(), static_cast<std::streamsize>(content.size()));
  f.commit();
}

std::string output_directory_problem(const std::filesystem::path& dir) {
  const std::filesystem::path d = dir.empty() ? std::filesystem::path(".") : dir;
  std::error_code ec;
  std::filesystem::create_directories(d, ec);
  if (ec) return "cannot create the directory: " + ec.message();
  if (!std::filesystem::is_directory(d, ec)) return "not a directory";
  const std::filesystem::path probe = d / (".swarmsim-write-probe-" + std::to_string(::getpid()));
  {
    std::ofstream out(probe, std::ios::binary | std::ios::trunc);
    if (!out) return "cannot write in the directory (permission denied?)";
  }
  std::filesystem::remove(probe, ec);
  return "";
}

std::string output_file_problem(const std::filesystem::path& file) { return output_directory_problem(file.parent_path()); }

}  // namespace swarmsim::sim
