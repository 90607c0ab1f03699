#pragma once
// Text helpers of the command-line specs `compare` and `tune` read (policy specs, variants):
// quoting for messages, trimming, and the labels tables may show. Pure.
#include <algorithm>
#include <string>
#include <string_view>

namespace swarmsim::experiment {

/// `s` in double quotes, for messages.
inline std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

/// `s` without leading and trailing spaces and tabs.
inline std::string_view trim_blanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

/// Whether `label` can name a policy or a variant: letters, digits, '_', '-', '.' or '+', not empty.
inline bool valid_label(std::string_view label) {
  return !label.empty() && std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
           c == '+';
  });
}

}  // namespace swarmsim::experiment
