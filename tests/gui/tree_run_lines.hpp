#pragma once
// A hand-written Fisher B-tree run's events.jsonl (the lines sim/output/event_log.cpp writes),
// shared by the state tests and the screenshot test. 16 keys, four servers and a client:
//
//   t 0    planned        #0 [0,16) a100-a           t 0.5 session 0 arrives, answered at 0.6
//                          ├── #1 [0,8)   rtx-a
//                          └── #2 [8,16)  rtx-b
//   t 1    balance        #2 is informative (I 55) and busy (load 0.9)
//   t 1    split_started  #2 splits: keeps [8,12), #3 [12,16) loads on rtx-c
//   t 1.4  split          #3 serves
//   t 3    merge          #1 and #2 merge into #1 [0,12); #2 retires
//                          ├── #1 [0,12)  rtx-a
//                          └── #3 [12,16) rtx-c
//   t 4    run_end
namespace swarmsim::test {

inline const char* const kTreeRun[] = {
    R"({"t":0.0,"type":"run_start","scenario":"tree-tiny","seed":1,"model":"fisher-btree","n_blocks":16,"tree":true,)"
    R"("nodes":[{"name":"a100-a","gpu":"A100-80GB"},{"name":"rtx-a","gpu":"RTX-4090"},{"name":"rtx-b","gpu":"RTX-4090"},)"
    R"({"name":"rtx-c","gpu":"RTX-3090"}],"clients":[{"name":"client","device":"cpu-generic"}]})",
    R"({"t":0.0,"type":"node_join","node":"a100-a","blocks":{"start":0,"end":16},"load_started":0.0})",
    R"({"t":0.0,"type":"tree","what":"planned","node":-1,"created":[],"nodes":[)"
    R"({"id":0,"parent":-1,"keys":[0,16],"server":"a100-a","state":"serving","fisher":0.0,"load":0.0},)"
    R"({"id":1,"parent":0,"keys":[0,8],"server":"rtx-a","state":"serving","fisher":0.0,"load":0.0},)"
    R"({"id":2,"parent":0,"keys":[8,16],"server":"rtx-b","state":"serving","fisher":0.0,"load":0.0}]})",
    R"({"t":0.5,"type":"session_start","session":0,"client":"client"})",
    R"({"t":0.6,"type":"session_done","session":0,"tokens":1})",
    R"({"t":1.0,"type":"tree","what":"balance","node":-1,"created":[],"nodes":[)"
    R"({"id":0,"parent":-1,"keys":[0,16],"server":"a100-a","state":"serving","fisher":12.5,"load":0.4},)"
    R"({"id":1,"parent":0,"keys":[0,8],"server":"rtx-a","state":"serving","fisher":3.0,"load":0.2},)"
    R"({"id":2,"parent":0,"keys":[8,16],"server":"rtx-b","state":"serving","fisher":55.0,"load":0.9}]})",
    R"({"t":1.0,"type":"tree","what":"split_started","node":2,"created":[3],"nodes":[)"
    R"({"id":0,"parent":-1,"keys":[0,16],"server":"a100-a","state":"serving","fisher":12.5,"load":0.4},)"
    R"({"id":1,"parent":0,"keys":[0,8],"server":"rtx-a","state":"serving","fisher":3.0,"load":0.2},)"
    R"({"id":2,"parent":0,"keys":[8,12],"server":"rtx-b","state":"serving","fisher":55.0,"load":0.9},)"
    R"({"id":3,"parent":0,"keys":[12,16],"server":"rtx-c","state":"loading","fisher":0.0,"load":0.0}]})",
    R"({"t":1.4,"type":"tree","what":"split","node":2,"created":[3],"nodes":[)"
    R"({"id":0,"parent":-1,"keys":[0,16],"server":"a100-a","state":"serving","fisher":12.5,"load":0.4},)"
    R"({"id":1,"parent":0,"keys":[0,8],"server":"rtx-a","state":"serving","fisher":3.0,"load":0.2},)"
    R"({"id":2,"parent":0,"keys":[8,12],"server":"rtx-b","state":"serving","fisher":55.0,"load":0.9},)"
    R"({"id":3,"parent":0,"keys":[12,16],"server":"rtx-c","state":"serving","fisher":0.0,"load":0.0}]})",
    R"({"t":3.0,"type":"tree","what":"merge","node":1,"created":[],"nodes":[)"
    R"({"id":0,"parent":-1,"keys":[0,16],"server":"a100-a","state":"serving","fisher":10.0,"load":0.3},)"
    R"({"id":1,"parent":0,"keys":[0,12],"server":"rtx-a","state":"serving","fisher":2.0,"load":0.1},)"
    R"({"id":3,"parent":0,"keys":[12,16],"server":"rtx-c","state":"serving","fisher":20.0,"load":0.5}]})",
    R"({"t":4.0,"type":"run_end"})",
};
inline constexpr int kTreeRunLines = sizeof kTreeRun / sizeof kTreeRun[0];

}  // namespace swarmsim::test
