#include "sim/json_diagnostics.hpp"

#include <algorithm>
#include <cctype>
#include <set>

namespace swarmsim::sim {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
      const std::size_t sub = prev[j - 1] + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_candidate(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const std::string& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string suggestion(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string best = closest_candidate(word, candidates);
  return best.empty() ? "" : " (did you mean \"" + best + "\"?)";
}

std::string quoted_list(const std::vector<std::string>& items) {
  std::string s;
  for (std::size_t i = 0; i < items.size(); ++i) s += (i ? ", \"" : "\"") + items[i] + "\"";
  return s;
}

std::string type_name(const nlohmann::json& j) {
  using json = nlohmann::json;
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "the string \"" + j.get<std::string>() + "\"";
    case json::value_t::boolean: return std::string("the boolean ") + (j.get<bool>() ? "true" : "false");
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "the number " + j.dump();
    default: return "an unsupported value";
  }
}

std::string child(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string at_index(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

std::pair<int, int> line_column(const std::string& text, std::size_t byte) {
  int line = 1, col = 1;
  for (std::size_t i = 0; i < std::min(byte, text.size()); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

std::optional<nlohmann::json> parse_json_strict(const std::string& text, std::vector<JsonProblem>& problems) {
  using json = nlohmann::json;
  struct Frame {
    bool array = false;
    std::size_t index = 0;
    std::string key;
    std::set<std::string> keys;
    std::string path;
  };
  std::vector<Frame> stack;
  const auto path_of_child = [&]() -> std::string {
    if (stack.empty()) return "";
    const Frame& f = stack.back();
    return f.array ? at_index(f.path, f.index) : child(f.path, f.key);
  };
  const auto value_done = [&]() {
    if (!stack.empty() && stack.back().array) ++stack.back().index;
  };
  json::parser_callback_t cb = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start: {
        Frame f;
        f.array = event == json::parse_event_t::array_start;
        f.path = path_of_child();
        stack.push_back(std::move(f));
        break;
      }
      case json::parse_event_t::key: {
        Frame& f = stack.back();
        f.key = parsed.get<std::string>();
        if (!f.keys.insert(f.key).second)
          problems.push_back({child(f.path, f.key), "duplicate key \"" + f.key + "\" in the same object"});
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        stack.pop_back();
        value_done();
        break;
      case json::parse_event_t::value: value_done(); break;
    }
    return true;
  };
  try {
    return json::parse(text, cb);
  } catch (const json::parse_error& e) {
    const auto [line, col] = line_column(text, e.byte > 0 ? e.byte - 1 : 0);
    // nlohmann says "[json.exception.parse_error.101] parse error at line L, column C: <detail>";
    // keep the detail, the position is reported in our own format.
    std::string what = e.what();
    if (const auto c = what.find("column"); c != std::string::npos)
      if (const auto colon = what.find(": ", c); colon != std::string::npos) what = what.substr(colon + 2);
    problems.push_back({"line " + std::to_string(line) + ", column " + std::to_string(col), "JSON syntax error: " + what});
  } catch (const json::exception& e) {
    problems.push_back({"", std::string("JSON error: ") + e.what()});
  }
  return std::nullopt;
}

}  // namespace swarmsim::sim
