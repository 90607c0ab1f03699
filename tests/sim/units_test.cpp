#include <gtest/gtest.h>

#include "sim/units.hpp"

using swarmsim::sim::parse_quantity;
using swarmsim::sim::Quantity;

namespace {
double value(const char* text, Quantity q) {
  auto p = parse_quantity(text, q);
  EXPECT_TRUE(p.value.has_value()) << text << ": " << p.error;
  return p.value.value_or(-1);
}
std::string error(const char* text, Quantity q) {
  auto p = parse_quantity(text, q);
  EXPECT_FALSE(p.value.has_value()) << text << " parsed as " << p.value.value_or(0);
  return p.error;
}
}  // namespace

TEST(Units, DurationsInSeconds) {
  EXPECT_DOUBLE_EQ(value("5ms", Quantity::Duration), 0.005);
  EXPECT_DOUBLE_EQ(value("1.5s", Quantity::Duration), 1.5);
  EXPECT_DOUBLE_EQ(value("250us", Quantity::Duration), 250e-6);
  EXPECT_DOUBLE_EQ(value("2min", Quantity::Duration), 120.0);
  EXPECT_DOUBLE_EQ(value("1h", Quantity::Duration), 3600.0);
  EXPECT_DOUBLE_EQ(value(" 3 ms ", Quantity::Duration), 0.003);
  EXPECT_DOUBLE_EQ(value("0s", Quantity::Duration), 0.0);
}

TEST(Units, BandwidthBitsAndBytes) {
  // "b" is bits, "B" bytes: 100 Mbit/s = 12.5 MB/s.
  EXPECT_DOUBLE_EQ(value("100Mbps", Quantity::Bandwidth), 12.5e6);
  EXPECT_DOUBLE_EQ(value("1Gbps", Quantity::Bandwidth), 125e6);
  EXPECT_DOUBLE_EQ(value("12.5MBps", Quantity::Bandwidth), 12.5e6);
  EXPECT_DOUBLE_EQ(value("1GiBps", Quantity::Bandwidth), 1073741824.0);
  EXPECT_DOUBLE_EQ(value("8kbps", Quantity::Bandwidth), 1000.0);
}

TEST(Units, SizesDecimalAndBinary) {
  EXPECT_DOUBLE_EQ(value("24GiB", Quantity::Size), 24.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(value("8KB", Quantity::Size), 8000.0);
  EXPECT_DOUBLE_EQ(value("8KiB", Quantity::Size), 8192.0);
  EXPECT_DOUBLE_EQ(value("512B", Quantity::Size), 512.0);
}

TEST(Units, RatesSpeedsAndDistances) {
  EXPECT_DOUBLE_EQ(value("30/min", Quantity::Rate), 0.5);
  EXPECT_DOUBLE_EQ(value("200000km/s", Quantity::Speed), 200000.0);
  EXPECT_DOUBLE_EQ(value("500m", Quantity::Distance), 0.5);
  EXPECT_DOUBLE_EQ(value("312TFLOPS", Quantity::FlopRate), 312e12);
  EXPECT_DOUBLE_EQ(value("20GFLOP", Quantity::Work), 20e9);
  EXPECT_DOUBLE_EQ(value("1.5TFLOP", Quantity::Work), 1.5e12);
  EXPECT_FALSE(parse_quantity("20GFLOPS", Quantity::Work).value.has_value());  // a rate is not an amount
}

TEST(Units, PowersInWattsAndEnergiesPrinted) {
  EXPECT_DOUBLE_EQ(value("350W", Quantity::Power), 350.0);
  EXPECT_DOUBLE_EQ(value("0.7kW", Quantity::Power), 700.0);
  EXPECT_DOUBLE_EQ(value("500mW", Quantity::Power), 0.5);
  EXPECT_FALSE(parse_quantity("350Wh", Quantity::Power).value.has_value());  // an energy is not a power
  EXPECT_NE(error("350", Quantity::Power).find("\"350W\""), std::string::npos);
  EXPECT_DOUBLE_EQ(value("1.5kJ", Quantity::Energy), 1500.0);
  EXPECT_DOUBLE_EQ(value("2Wh", Quantity::Energy), 7200.0);
  EXPECT_DOUBLE_EQ(value("0.5kWh", Quantity::Energy), 1.8e6);
  EXPECT_FALSE(parse_quantity("5W", Quantity::Energy).value.has_value());  // a power is not an energy
  EXPECT_EQ(swarmsim::sim::format_energy(0.25), "250 mJ");
  EXPECT_EQ(swarmsim::sim::format_energy(12.5), "12.5 J");
  EXPECT_EQ(swarmsim::sim::format_energy(3200.0), "3.2 kJ");
  EXPECT_EQ(swarmsim::sim::format_energy(1.5e6), "1.5 MJ");
  EXPECT_EQ(swarmsim::sim::format_energy(4.2e9), "4.2e+03 MJ");  // the largest prefix
  EXPECT_EQ(swarmsim::sim::format_power(0.75), "750 mW");
  EXPECT_EQ(swarmsim::sim::format_power(72.0), "72 W");
  EXPECT_EQ(swarmsim::sim::format_power(1200.0), "1.2 kW");
  EXPECT_EQ(swarmsim::sim::format_rate(50.0), "50/s");
  EXPECT_EQ(swarmsim::sim::format_rate(0.2), "0.2/s");
  EXPECT_EQ(swarmsim::sim::format_rate(199.5833), "199.6/s");
}

TEST(Units, PricesPerTimeAndPerEnergyAreInTheScenariosCurrency) {
  EXPECT_DOUBLE_EQ(value("1.20/h", Quantity::PricePerTime), 1.2 / 3600);
  EXPECT_DOUBLE_EQ(value("0.06/min", Quantity::PricePerTime), 0.001);
  EXPECT_DOUBLE_EQ(value("0.30/kWh", Quantity::PricePerEnergy), 0.3 / 3.6e6);
  EXPECT_DOUBLE_EQ(value("90/MWh", Quantity::PricePerEnergy), 90 / 3.6e9);
  EXPECT_DOUBLE_EQ(value("2/kJ", Quantity::PricePerEnergy), 2e-3);
  EXPECT_FALSE(parse_quantity("0.30/kWh", Quantity::PricePerTime).value.has_value());  // not interchangeable
  EXPECT_FALSE(parse_quantity("1.20/h", Quantity::PricePerEnergy).value.has_value());
  EXPECT_NE(error("1.20", Quantity::PricePerTime).find("\"1.20/h\""), std::string::npos);
  EXPECT_NE(error("0.3kWh", Quantity::PricePerEnergy).find("\"0.30/kWh\""), std::string::npos);
}

TEST(Units, NegativeNumbersParseAndAreLeftToTheCallerToReject) {
  EXPECT_DOUBLE_EQ(value("-5Mbps", Quantity::Bandwidth), -5e6 / 8);
}

TEST(Units, ErrorsSayWhatWasExpected) {
  EXPECT_NE(error("100", Quantity::Bandwidth).find("has no unit"), std::string::npos);
  EXPECT_NE(error("100Mbits", Quantity::Bandwidth).find("unknown unit \"Mbits\""), std::string::npos);
  EXPECT_NE(error("fast", Quantity::Duration).find("does not start with a number"), std::string::npos);
  EXPECT_NE(error("", Quantity::Size).find("empty value"), std::string::npos);
  // A duration unit is not a bandwidth unit, and the message lists examples of the right kind.
  const std::string e = error("5ms", Quantity::Bandwidth);
  EXPECT_NE(e.find("100Mbps"), std::string::npos) << e;
}

TEST(Units, Formatting) {
  EXPECT_EQ(swarmsim::sim::format_bytes(8192), "8.00 KiB");
  EXPECT_EQ(swarmsim::sim::format_bytes(100), "100 B");
  EXPECT_EQ(swarmsim::sim::format_duration(0.0125), "12.5 ms");
  EXPECT_EQ(swarmsim::sim::format_bandwidth(12.5e6), "100 Mbit/s");
}
