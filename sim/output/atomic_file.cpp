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

}  // namespace swarmsim::sim
