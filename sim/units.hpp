#pragma once
// The one parser for quantities with units in scenario files ("100Mbps", "5ms", "24GiB").
// Every parser returns the value in SI base units (seconds, bytes, bytes/s, ...) or an error
// that says what was expected. A bare number without a unit is an error: units are explicit.
#include <optional>
#include <string>
#include <string_view>

namespace swarmsim::sim {

/// Kind of quantity a scenario value holds; selects the accepted unit suffixes.
enum class Quantity {
  Duration,   ///< seconds: "250us", "5ms", "1.5s", "2min", "1h"
  Size,       ///< bytes: "512B", "8KB", "8KiB", "24GiB" (KB = 1000 B, KiB = 1024 B)
  Bandwidth,  ///< bytes/s: "100Mbps" (bits), "12.5MBps" (bytes), "1GiBps"
  Rate,       ///< events per second: "0.5/s", "30/min", "120/h"
  FlopRate,   ///< FLOP/s: "312TFLOPS", "1.5TFLOP/s"
  Work,       ///< FLOP: "20GFLOP", "1.5TFLOP"
  Distance,   ///< kilometres: "500m", "120km"
  Speed,      ///< kilometres per second: "200000km/s"
  Power,      ///< watts: "350W", "0.7kW", "500mW"
  Energy,     ///< joules: "5J", "250mJ", "1.5kJ", "2Wh", "0.3kWh"
  /// money per second, in the scenario's currency: "1.20/h", "0.02/min", "0.0003/s"
  PricePerTime,
  /// money per joule, in the scenario's currency: "0.30/kWh", "300/MWh", "0.0003/Wh"
  PricePerEnergy,
};

/// A parsed value in SI base units of its Quantity, or the reason it could not be parsed.
struct ParsedQuantity {
  std::optional<double> value;  ///< set on success
  std::string error;            ///< set on failure: what was wrong and what was expected
};

/// Parses `text` as a quantity of kind `q`. Whitespace between number and unit is allowed.
ParsedQuantity parse_quantity(std::string_view text, Quantity q);

/// Examples of accepted spellings for `q`, used in error messages ("a duration such as \"5ms\"").
std::string quantity_expectation(Quantity q);

/// Human-readable byte count: "8.00 KiB", "1.50 GiB".
std::string format_bytes(double bytes);

/// Human-readable duration: "850 us", "12.5 ms", "3.20 s".
std::string format_duration(double seconds);

/// Human-readable power: "750 mW", "72 W", "1.2 kW".
std::string format_power(double watts);

/// Human-readable energy: "850 mJ", "12.5 J", "3.20 kJ", "1.50 MJ".
std::string format_energy(double joules);

/// Human-readable bandwidth in bits per second: "100 Mbit/s".
std::string format_bandwidth(double bytes_per_second);
/// "50/s", "0.2/s", "1.2e+04/s": events per second with four significant digits.
std::string format_rate(double per_second);

}  // namespace swarmsim::sim
