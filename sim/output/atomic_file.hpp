#pragma once
// Output files are written to a temporary sibling and renamed into place on commit, so a reader
// never sees a half-written metrics.json or trace, even if the run is interrupted.
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace swarmsim::sim {

/// A file being written: stream() into it, then commit(). Not committed = removed on destruction.
class AtomicFile {
 public:
  /// Opens "<target>.tmp-<pid>" for writing; throws std::runtime_error naming the path on failure.
  explicit AtomicFile(std::filesystem::path target);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  std::ostream& stream() { return out_; }
  /// Flushes, closes and renames onto the target; throws std::runtime_error on any I/O error.
  void commit();
  const std::filesystem::path& target() const { return target_; }

 private:
  std::filesystem::path target_, temp_;
  std::ofstream out_;
  bool committed_ = false;
};

/// Writes `content` to `target` through an AtomicFile.
void write_file_atomically(const std::filesystem::path& target, std::string_view content);

/// Creates `dir` (and its parents) if needed and checks that a file can be written in it, so that
/// a bad output path is reported before a long run, not after it. Returns "" when the directory
/// is usable, else what is wrong ("cannot create the directory: Not a directory").
std::string output_directory_problem(const std::filesystem::path& dir);
/// output_directory_problem() of the directory that will hold the file `file`.
std::string output_file_problem(const std::filesystem::path& file);

}  // namespace swarmsim::sim
