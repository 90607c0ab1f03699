#pragma once
// Temporary files for tests: ctest runs each test in its own process, two at a time, so a file
// name shared by two tests must live in a folder of its own process or the tests race on it.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <unistd.h>

namespace swarmsim::test {

/// `name` inside a folder of the test's temporary directory that only this process uses
/// (created on first use); the file name itself is kept, so error messages can be matched on it.
inline std::filesystem::path temp_path(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / ("swarmsim-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

}  // namespace swarmsim::test
