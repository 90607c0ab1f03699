#include "sim/engine/swarm_dht.hpp"

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Mailbox.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include "sim/swarm/session_plan.hpp"

namespace sg4 = simgrid::s4u;

namespace swarmsim::sim {

namespace {
double now() { return sg4::Engine::get_clock(); }
sg4::Mailbox* mailbox_of(const Scenario& sc, int h) { return sg4::Mailbox::by_name("dht-" + host_name(sc, h)); }
}  // namespace

SwarmDht::SwarmDht(const Scenario& sc, const SwarmPlatform& platform)
    : sc_(sc),
      platform_(platform),
      directory_(
          sc,
          // A message: its bytes cross the simulated network, then a mailbox hands it to the
          // receiving host's DHT actor.
          [this](int from, int to, std::unique_ptr<DhtEnvelope> env, double bytes) {
            sg4::Mailbox* mb = mailbox_of(sc_, to);
            sg4::CommPtr c = sg4::Comm::sendto_async(platform_.host(from), platform_.host(to), static_cast<std::uint64_t>(bytes));
            DhtEnvelope* raw = env.release();
            sg4::Actor::create("dht-msg", platform_.control_host(), [c, mb, raw] {
              try {
                c->wait();
              } catch (const std::exception&) {
                delete raw;  // a host went down on the way
                return;
              }
              mb->put_init(raw, 0)->detach();
            })->daemonize();
          },
          // A timer: a tiny actor that sleeps.
          [this](double delay, std::function<void(double)> fn) {
            sg4::Actor::create("dht-timeout", platform_.control_host(), [delay, fn] {
              sg4::this_actor::sleep_for(delay);
              fn(now());
            })->daemonize();
          },
          [this](int h) { return platform_.host(h)->is_on(); }) {}

SwarmDht::~SwarmDht() = default;

void SwarmDht::dht_actor(int h) {
  // A (re)start: a fresh node; it joins through the first other host that is up.
  directory_.start_node(h, now());
  sg4::Mailbox* mb = mailbox_of(sc_, h);
  mb->set_receiver(sg4::Actor::self());
  while (true) {
    std::unique_ptr<DhtEnvelope> env(mb->get<DhtEnvelope>());  // blocks: read the clock after it
    directory_.receive(h, std::move(env), now());
  }
}

void SwarmDht::republish_actor(int h) {
  while (true) {
    const double next = directory_.next_republish_s(h, now());
    if (next > now()) sg4::this_actor::sleep_until(next);
    directory_.republish_due(h, now());
  }
}

void SwarmDht::start() {
  const int H = static_cast<int>(sc_.nodes.size() + sc_.clients.size());
  for (int i = 0; i < H; ++i) {
    sg4::ActorPtr a = sg4::Actor::create("dht-" + host_name(sc_, i), platform_.host(i), [this, i] { dht_actor(i); });
    a->daemonize();
    a->set_auto_restart(true);
    sg4::ActorPtr r = sg4::Actor::create("dht-republish-" + host_name(sc_, i), platform_.host(i), [this, i] { republish_actor(i); });
    r->daemonize();
    r->set_auto_restart(true);
  }
}

void SwarmDht::announce(int server, BlockRange blocks, double throughput) { directory_.announce(server, blocks, throughput, now()); }

void SwarmDht::withdraw(int server, BlockRange blocks) { directory_.withdraw(server, blocks); }

std::vector<DhtServerRecord> SwarmDht::servers_for(int h, BlockRange blocks, bool refresh) {
  if (const auto* cache = directory_.cached(h, refresh, now())) return *cache;
  auto done = sg4::Semaphore::create(0);
  const std::shared_ptr<BlockLookup> lookup = directory_.find_servers(h, blocks, now(), [done] { done->release(); });
  if (!lookup) return {};
  while (lookup->remaining > 0) {
    done->acquire_timeout(sc_.policy.dht.rpc_timeout_s);
    if (!directory_.still_current(h, *lookup)) return {};
  }
  return directory_.finish_lookup(h, *lookup, now());
}

}  // namespace swarmsim::sim
