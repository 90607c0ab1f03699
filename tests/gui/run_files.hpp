#pragma once
// A run directory for the GUI's replay tests: a fresh temporary folder holding an events.jsonl.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

namespace swarmsim::test {

/// A fresh folder `name`-<pid> under the test's temporary directory whose events.jsonl is `text`.
inline std::filesystem::path write_run(const std::string& name, const std::string& text) {
  const std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "events.jsonl", std::ios::binary) << text;
  return dir;
}

}  // namespace swarmsim::test
