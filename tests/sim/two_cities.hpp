#pragma once
// A scenario small enough to check latencies by hand: a server in Paris (access 2 ms) and a
// client in London (access 3 ms), fibre at 200,000 km/s on routes 1.5x the great circle.
namespace swarmsim::test {

inline const char* kTwoCities = R"({
  "name": "latency", "model": {"name": "Llama-3-8B"},
  "nodes": [{"name": "paris", "gpu": "L4", "location": {"lat": 48.8566, "lon": 2.3522}, "uplink": "1Gbps",
             "downlink": "1Gbps", "access_latency": "2ms", "blocks": {"start": 0, "end": 32}}],
  "clients": [{"name": "london", "device": "cpu-generic", "location": {"lat": 51.5074, "lon": -0.1278},
               "uplink": "1Gbps", "downlink": "1Gbps", "access_latency": "3ms"}],
  "network": {"fiber_speed": "200000km/s", "route_inflation": 1.5},
  "workload": {"sessions": 1, "prompt_tokens": 8, "new_tokens": 2}
})";

}  // namespace swarmsim::test
