#pragma once
// Host-to-host messages delivered into inboxes in the order they arrive, for the SimGrid engines
// of graph pipelines (pipeline_simulation.cpp) and Fisher B-trees (tree_simulation.cpp).
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

#include <simgrid/Exception.hpp>
#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include "sim/engine/swarm_platform.hpp"
#include "sim/pipeline_run.hpp"
#include "sim/swarm/latency_table.hpp"
#include "sim/swarm/swarm_events.hpp"

namespace swarmsim::sim {

/// A message on its way: its communication, and what the receiving end queues and logs.
struct Parcel {
  simgrid::s4u::CommPtr comm;
  StageMessage msg;
  int from = 0, to = 0;  ///< hosts
  double sent_at = 0, software_s = 0, bytes = 0;
};

/// Messages delivered to a stage, tree node or client and not yet taken, with a semaphore that
/// counts them, and the messages on their way to it with the carriers that wait for them.
///
/// A message is a host-to-host communication (SimGrid fails it the instant an end goes down).
/// Each one in flight has its own carrier, an actor on the receiving host that waits for it and
/// then queues it, so messages are queued in the order they arrive, whoever sent them (a
/// mailbox's receiver would take them in the order they were posted). Carriers are reused: one
/// is created only when every carrier of the inbox is busy. A stage that moves to another node
/// gets a new, empty inbox; the old one's carriers die with their host.
struct Inbox {
  std::deque<StageMessage> messages;
  simgrid::s4u::SemaphorePtr ready = simgrid::s4u::Semaphore::create(0);
  std::deque<Parcel> parcels;                                      ///< posted, not yet taken by a carrier
  simgrid::s4u::SemaphorePtr posted = simgrid::s4u::Semaphore::create(0);  ///< one unit per parcel
  int free_carriers = 0;  ///< carriers waiting for a parcel, less parcels promised to them
};

/// Where actors wait for a condition another actor makes true.
///
/// SimGrid aborts when a semaphore (or condition variable) is destroyed while an actor waits on
/// it, and at the time limit actors still wait. Each waiter therefore holds its own reference to
/// the semaphore on its stack, which SimGrid never unwinds after the limit, so the semaphore outlives
/// this run's objects.
struct Gate {
  simgrid::s4u::SemaphorePtr sem = simgrid::s4u::Semaphore::create(0);
  int waiting = 0;
  void wait() {
    const simgrid::s4u::SemaphorePtr keep = sem;
    ++waiting;
    keep->acquire();
  }
  void open() {
    for (; waiting > 0; --waiting) sem->release();
  }
};

/// A replayed bandwidth or latency change of host `node` (and `peer`, -1 for its access latency)
/// at `now`: a latency goes into the latency table (a bandwidth change is the link's SimGrid
/// profile, applied at this very time), and the change is reported to `signals`.
inline void replay_link_change(const ReplayEvent& e, int node, int peer, double now, LatencyTable& latencies, SimSignals& signals) {
  if (e.action == EventAction::SetLatency) {
    if (peer < 0) latencies.set_access(node, e.value);
    else latencies.set_pair(node, peer, e.value);
  }
  signals.on_link_changed(LinkChanged{now, node, peer, e.action, e.direction, e.value});
}

/// Posts messages into inboxes and reports each arrival as a TransferSpan.
class InboxPost {
 public:
  InboxPost(const Scenario& sc, SwarmPlatform& platform, LatencyTable& latencies, SimSignals& signals)
      : sc_(sc), platform_(platform), latencies_(latencies), signals_(signals) {}

  /// Starts the message's communication from host `from` to host `to` at once and hands it to a
  /// carrier of `in`; a message to a host that is down is lost.
  void carry(int from, int to, const std::shared_ptr<Inbox>& in, StageMessage msg, std::uint64_t size, double sent_at, double software_s) {
    if (!platform_.host(to)->is_on()) return;
    in->parcels.push_back(Parcel{simgrid::s4u::Comm::sendto_async(platform_.host(from), platform_.host(to), size), msg, from, to,
                                 sent_at, software_s, static_cast<double>(size)});
    if (in->free_carriers > 0) {
      --in->free_carriers;  // promised to this parcel
    } else {
      simgrid::s4u::Actor::create("carrier", platform_.host(to), [this, in] { carrier(in); })->daemonize();
    }
    in->posted->release();
  }

  /// Told of each message as it is queued in its inbox (optional).
  std::function<void(const StageMessage&)> on_delivered;

  /// Waits for the next message of `in`.
  static StageMessage receive(Inbox& in) {
    in.ready->acquire();
    const StageMessage msg = in.messages.front();
    in.messages.pop_front();
    return msg;
  }

 private:
  /// Takes parcels of `in` one at a time, waits until each arrives, and queues it.
  void carrier(std::shared_ptr<Inbox> in) {
    while (true) {
      const simgrid::s4u::SemaphorePtr posted = in->posted;  // see Gate
      posted->acquire();
      const Parcel p = in->parcels.front();
      in->parcels.pop_front();
      bool arrived = true;
      try {
        p.comm->wait();
      } catch (const simgrid::Exception&) {
        arrived = false;  // an end went down: the message is lost
      }
      if (arrived) {
        signals_.on_transfer(TransferSpan{p.sent_at, simgrid::s4u::Engine::get_clock(), p.from, p.to, p.msg.request, p.msg.attempt, p.bytes,
                                          latency_factor(sc_.network.model) * latencies_.one_way(p.from, p.to), p.software_s});
        in->messages.push_back(p.msg);
        if (on_delivered) on_delivered(p.msg);
        in->ready->release();
      }
      ++in->free_carriers;
    }
  }

  const Scenario& sc_;
  SwarmPlatform& platform_;
  LatencyTable& latencies_;
  SimSignals& signals_;
};

}  // namespace swarmsim::sim
