/*
 * Built-in cost model defaults (Hockney α-β plus γ per reduced byte), per
 * link level.
 *
 * Where the numbers come from (Open MPI 4.1 point-to-point on a 2-core EPYC
 * VM, ../shared/MACHINE-FACTS.md and our own ping-pong):
 *  - l3: two ranks sharing an L3 (every pair on that VM): shared-memory
 *    transport, ~0.5 µs per message once MPI's matching and progress are
 *    counted (the raw transport is 0.13 µs), ~10 GB/s for a copy through
 *    the shared segment (measured 11.9 GB/s);
 *  - numa, package, node: not measurable on that VM. Assumed: each step
 *    outwards adds ~0.1-0.2 µs (a remote cache line transfer per handshake)
 *    and loses bandwidth, down to ~5 GB/s across sockets, the usual
 *    single-stream copy rate over UPI/Infinity Fabric. A tuning file
 *    measured on the real machine replaces them;
 *  - network: a TCP link between hosts, 7 µs and 1.58 GB/s measured across an
 *    unshaped veth; real clusters differ, which is what tuning files are for;
 *  - γ: a streaming two-input reduction runs at roughly the copy bandwidth of
 *    one core, ~10 GB/s, so 1e-10 s per reduced byte. The reduction is local,
 *    so the model uses the l3 row's γ.
 * Only ratios matter for the choice; tcoll-tune replaces all of them.
 */
#include "tcoll_internal.h"

const tcoll_cost_model tcoll__default_cost_model = {
    .level = {
        [TCOLL_LEVEL_L3] = {.alpha = 0.5e-6, .beta = 1.0 / 10e9, .gamma = 1.0 / 10e9},
        [TCOLL_LEVEL_NUMA] = {.alpha = 0.6e-6, .beta = 1.0 / 8e9, .gamma = 1.0 / 10e9},
        [TCOLL_LEVEL_PACKAGE] = {.alpha = 0.7e-6, .beta = 1.0 / 7e9, .gamma = 1.0 / 10e9},
        [TCOLL_LEVEL_NODE] = {.alpha = 0.9e-6, .beta = 1.0 / 5e9, .gamma = 1.0 / 10e9},
        [TCOLL_LEVEL_NETWORK] = {.alpha = 7e-6, .beta = 1.0 / 1.58e9, .gamma = 1.0 / 10e9},
    }};
