/*
 * Built-in cost model defaults (Hockney α-β plus γ per reduced byte).
 *
 * Node level: fitted to tcoll-bench at 2 ranks on the reference machine (a
 * 2-core EPYC VM, Open MPI 4.1 shared memory, docs/benchmarks.md):
 *  - α = 0.4 µs: recursive doubling's 8 B allreduce (one message each way);
 *  - β, γ from the 16 MiB times of the ring (2α + nβ + nγ/2 = 6.8 ms) and
 *    of recursive doubling (α + nβ + nγ = 9.7 ms): γ = 3.5e-10 s/B (2.9 GB/s
 *    of reduction from DRAM), β = 2.3e-10 s/B (4.3 GB/s through Open MPI's
 *    transport, about a third of a raw copy: it copies twice and pays a
 *    rendezvous per large message).
 *   Mid-size messages run from cache and are faster than this line predicts;
 *   tuning files (tcoll-tune) replace these numbers with a machine's own.
 * Network level: a TCP link between hosts, 7 µs and 1.58 GB/s measured
 * across an unshaped veth (MACHINE-FACTS); real clusters differ.
 */
#include "tcoll_internal.h"

const tcoll_cost_model tcoll__default_cost_model = {
    .level = {
        [TCOLL_LEVEL_NODE] = {.alpha = 0.4e-6, .beta = 2.3e-10, .gamma = 3.5e-10},
        [TCOLL_LEVEL_NETWORK] = {.alpha = 7e-6, .beta = 1.0 / 1.58e9, .gamma = 3.5e-10},
    }};
