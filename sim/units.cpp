#include "sim/units.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <utility>

namespace swarmsim::sim {
namespace {

struct Suffix {
  std::string_view text;
  double factor;
};

// Suffix tables, longest spellings first so that "MiBps" is tried before "Bps".
constexpr std::array kDuration{Suffix{"ns", 1e-9}, Suffix{"us", 1e-6}, Suffix{"µs", 1e-6}, Suffix{"ms", 1e-3},
                               Suffix{"min", 60.0}, Suffix{"s", 1.0},  Suffix{"h", 3600.0}, Suffix{"d", 86400.0}};
constexpr std::array kSize{Suffix{"KiB", 1024.0},   Suffix{"MiB", 1048576.0}, Suffix{"GiB", 1073741824.0},
                           Suffix{"TiB", 1099511627776.0}, Suffix{"kB", 1e3}, Suffix{"KB", 1e3},
                           Suffix{"MB", 1e6},        Suffix{"GB", 1e9},       Suffix{"TB", 1e12},
                           Suffix{"B", 1.0}};
constexpr std::array kBandwidth{
    Suffix{"KiBps", 1024.0}, Suffix{"MiBps", 1048576.0}, Suffix{"GiBps", 1073741824.0},
    Suffix{"kBps", 1e3},     Suffix{"KBps", 1e3},        Suffix{"MBps", 1e6},       Suffix{"GBps", 1e9},
    Suffix{"TBps", 1e12},    Suffix{"Bps", 1.0},         Suffix{"kbps", 1e3 / 8},   Suffix{"Kbps", 1e3 / 8},
    Suffix{"Mbps", 1e6 / 8}, Suffix{"Gbps", 1e9 / 8},    Suffix{"Tbps", 1e12 / 8},  Suffix{"bps", 1.0 / 8}};
constexpr std::array kRate{Suffix{"/s", 1.0}, Suffix{"/min", 1.0 / 60}, Suffix{"/h", 1.0 / 3600}};
constexpr std::array kFlopRate{Suffix{"GFLOPS", 1e9},  Suffix{"TFLOPS", 1e12},  Suffix{"PFLOPS", 1e15},
                               Suffix{"GFLOP/s", 1e9}, Suffix{"TFLOP/s", 1e12}, Suffix{"PFLOP/s", 1e15},
                               Suffix{"FLOPS", 1.0},   Suffix{"FLOP/s", 1.0}};
constexpr std::array kWork{Suffix{"kFLOP", 1e3}, Suffix{"MFLOP", 1e6}, Suffix{"GFLOP", 1e9}, Suffix{"TFLOP", 1e12},
                           Suffix{"PFLOP", 1e15}, Suffix{"FLOP", 1.0}};
constexpr std::array kDistance{Suffix{"km", 1.0}, Suffix{"m", 1e-3}};
constexpr std::array kSpeed{Suffix{"km/s", 1.0}, Suffix{"m/s", 1e-3}};
constexpr std::array kPower{Suffix{"mW", 1e-3}, Suffix{"kW", 1e3}, Suffix{"W", 1.0}};
constexpr std::array kEnergy{Suffix{"mJ", 1e-3}, Suffix{"kJ", 1e3}, Suffix{"MJ", 1e6}, Suffix{"J", 1.0},
                             Suffix{"kWh", 3.6e6}, Suffix{"Wh", 3600.0}};
constexpr std::array kPricePerEnergy{Suffix{"/kWh", 1 / 3.6e6}, Suffix{"/MWh", 1 / 3.6e9}, Suffix{"/Wh", 1 / 3600.0},
                                     Suffix{"/kJ", 1e-3}, Suffix{"/MJ", 1e-6}, Suffix{"/J", 1.0}};

template <std::size_t N>
std::optional<double> match(std::string_view unit, const std::array<Suffix, N>& table) {
  for (const Suffix& s : table)
    if (unit == s.text) return s.factor;
  return std::nullopt;
}

std::optional<double> factor_for(std::string_view unit, Quantity q) {
  switch (q) {
    case Quantity::Duration: return match(unit, kDuration);
    case Quantity::Size: return match(unit, kSize);
    case Quantity::Bandwidth: return match(unit, kBandwidth);
    case Quantity::Rate: return match(unit, kRate);
    case Quantity::FlopRate: return match(unit, kFlopRate);
    case Quantity::Work: return match(unit, kWork);
    case Quantity::Distance: return match(unit, kDistance);
    case Quantity::Speed: return match(unit, kSpeed);
    case Quantity::Power: return match(unit, kPower);
    case Quantity::Energy: return match(unit, kEnergy);
    case Quantity::PricePerTime: return match(unit, kRate);
    case Quantity::PricePerEnergy: return match(unit, kPricePerEnergy);
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string quantity_expectation(Quantity q) {
  switch (q) {
    case Quantity::Duration: return "a duration such as \"250us\", \"5ms\", \"1.5s\", \"2min\" or \"1h\"";
    case Quantity::Size: return "a size such as \"512B\", \"8KB\", \"8KiB\" or \"24GiB\" (KB = 1000 B, KiB = 1024 B)";
    case Quantity::Bandwidth:
      return "a bandwidth such as \"100Mbps\", \"1Gbps\" (bits/s) or \"12.5MBps\", \"1GiBps\" (bytes/s)";
    case Quantity::Rate: return "a rate such as \"0.5/s\", \"30/min\" or \"120/h\"";
    case Quantity::FlopRate: return "a FLOP rate such as \"312TFLOPS\" or \"1.5TFLOP/s\"";
    case Quantity::Work: return "an amount of work such as \"20GFLOP\" or \"1.5TFLOP\"";
    case Quantity::Distance: return "a distance such as \"500m\" or \"120km\"";
    case Quantity::Speed: return "a speed such as \"200000km/s\"";
    case Quantity::Power: return "a power such as \"350W\" or \"0.7kW\"";
    case Quantity::Energy: return "an energy such as \"5J\", \"250mJ\", \"1.5kJ\" or \"2Wh\"";
    case Quantity::PricePerTime: return "a price per time such as \"1.20/h\", \"0.02/min\" or \"0.0003/s\" (in the scenario's currency)";
    case Quantity::PricePerEnergy: return "a price per energy such as \"0.30/kWh\" or \"300/MWh\" (in the scenario's currency)";
  }
  return "a quantity with a unit";
}

ParsedQuantity parse_quantity(std::string_view text, Quantity q) {
  ParsedQuantity out;
  const std::string_view s = trim(text);
  if (s.empty()) {
    out.error = "empty value; expected " + quantity_expectation(q);
    return out;
  }
  double number = 0.0;
  const char* first = s.data();
  const char* last = s.data() + s.size();
  if (*first == '+') ++first;  // from_chars rejects a leading '+'
  auto [ptr, ec] = std::from_chars(first, last, number);
  if (ec == std::errc::result_out_of_range) {
    out.error = "the number in \"" + std::string(s) + "\" is out of range; expected " + quantity_expectation(q);
    return out;
  }
  if (ec != std::errc() || ptr == first) {
    out.error = "\"" + std::string(s) + "\" does not start with a number; expected " + quantity_expectation(q);
    return out;
  }
  if (!std::isfinite(number)) {
    out.error = "\"" + std::string(s) + "\" is not a finite number; expected " + quantity_expectation(q);
    return out;
  }
  const std::string_view unit = trim(std::string_view(ptr, static_cast<std::size_t>(last - ptr)));
  if (unit.empty()) {
    out.error = "\"" + std::string(s) + "\" has no unit; expected " + quantity_expectation(q);
    return out;
  }
  const std::optional<double> factor = factor_for(unit, q);
  if (!factor) {
    out.error = "unknown unit \"" + std::string(unit) + "\" in \"" + std::string(s) + "\"; expected " +
                quantity_expectation(q);
    return out;
  }
  out.value = number * *factor;
  return out;
}

std::string format_bytes(double bytes) {
  static constexpr std::array<const char*, 5> names{"B", "KiB", "MiB", "GiB", "TiB"};
  std::size_t i = 0;
  double v = bytes;
  while (std::fabs(v) >= 1024.0 && i + 1 < names.size()) {
    v /= 1024.0;
    ++i;
  }
  char buf[64];
  if (i == 0)
    std::snprintf(buf, sizeof buf, "%.0f B", v);
  else
    std::snprintf(buf, sizeof buf, "%.2f %s", v, names[i]);
  return buf;
}

std::string format_rate(double per_s) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.4g/s", per_s);
  return buf;
}

std::string format_duration(double s) {
  char buf[64];
  const double a = std::fabs(s);
  if (a < 1e-3)
    std::snprintf(buf, sizeof buf, "%.0f us", s * 1e6);
  else if (a < 1.0)
    std::snprintf(buf, sizeof buf, "%.3g ms", s * 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.3f s", s);
  return buf;
}

namespace {
/// `value` with three significant digits and the unit of the largest decimal prefix (10^(3k),
/// k from `first_power` for `prefixes`) that keeps it at least 1: "850 mJ", "12.5 J", "3.2 kJ".
std::string with_si_prefix(double value, const char* unit, std::initializer_list<const char*> prefixes, int first_power) {
  const double a = std::fabs(value);
  int k = first_power;
  for (std::size_t i = 1; i < prefixes.size() && a >= std::pow(1e3, k + 1); ++i) ++k;
  const char* prefix = prefixes.begin()[k - first_power];
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g %s%s", value / std::pow(1e3, k), prefix, unit);
  return buf;
}
}  // namespace

std::string format_power(double watts) { return with_si_prefix(watts, "W", {"m", "", "k"}, -1); }

std::string format_energy(double joules) { return with_si_prefix(joules, "J", {"m", "", "k", "M"}, -1); }

std::string format_bandwidth(double bytes_per_second) {
  const double bits = bytes_per_second * 8.0;
  char buf[64];
  if (bits >= 1e9)
    std::snprintf(buf, sizeof buf, "%.3g Gbit/s", bits / 1e9);
  else if (bits >= 1e6)
    std::snprintf(buf, sizeof buf, "%.3g Mbit/s", bits / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.3g kbit/s", bits / 1e3);
  return buf;
}

}  // namespace swarmsim::sim
