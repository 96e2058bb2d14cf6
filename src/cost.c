/*
 * Built-in cost model defaults (Hockney α-β plus γ per reduced byte), per
 * link level.
 *
 * l3 (two ranks sharing an L3: every pair on the reference machine, a 2-core
 * EPYC VM with Open MPI 4.1 shared memory): fitted to tcoll-bench at 2 ranks
 * (docs/benchmarks.md):
 *  - α = 0.4 µs: recursive doubling's 8 B allreduce (one message each way);
 *  - β, γ (float) from the 16 MiB times of the ring (2α + nβ + nγ/2 = 6.8 ms) and
 *    of recursive doubling (α + nβ + nγ = 9.7 ms): γ = 3.5e-10 s/B (2.9 GB/s
 *    of reduction from DRAM), β = 2.3e-10 s/B (4.3 GB/s through Open MPI's
 *    transport, about a third of a raw copy: it copies twice and pays a
 *    rendezvous per large message). Mid-size messages run from cache and are
 *    faster than this line predicts.
 * numa, package, node: not measurable on that VM. Assumed: each step outwards
 *    adds ~0.1-0.2 µs (a remote cache-line transfer per handshake) and loses
 *    bandwidth, down to half the l3 rate across sockets.
 * network: a TCP link between hosts, 7 µs and 1.58 GB/s measured across an
 *    unshaped veth (MACHINE-FACTS); real clusters differ.
 * γ per dtype class (not per level: the reduction is local work). float and
 *    integer: the fitted 3.5e-10 above; a 64 MiB kernel microbenchmark (one
 *    core, operands from DRAM) runs integers and floats at the same 8-10
 *    GB/s. float16 and bfloat16: their conversions cost 1.4-2.2e-10 s/B more
 *    than float32's arithmetic in cache (3.6-5.4 GB/s against 20 GB/s per
 *    core), so 3.5e-10 + 1.7e-10.
 * Tuning files (docs/tuning.md) replace any of these with a machine's own.
 */
#include "tcoll_internal.h"

const tcoll_cost_model tcoll__default_cost_model = {
    .level = {
        /* l3: fitted to tcoll-bench (every pair on the reference VM shares its
         * L3); the outer levels keep the assumed steps outwards from it */
        [TCOLL_LEVEL_L3] = {.alpha = 0.4e-6, .beta = 2.3e-10},
        [TCOLL_LEVEL_NUMA] = {.alpha = 0.5e-6, .beta = 2.9e-10},
        [TCOLL_LEVEL_PACKAGE] = {.alpha = 0.6e-6, .beta = 3.3e-10},
        [TCOLL_LEVEL_NODE] = {.alpha = 0.8e-6, .beta = 4.6e-10},
        [TCOLL_LEVEL_NETWORK] = {.alpha = 7e-6, .beta = 1.0 / 1.58e9},
    },
    .gamma = {
        [TCOLL_GAMMA_INTEGER] = 3.5e-10,
        [TCOLL_GAMMA_FLOAT] = 3.5e-10,
        [TCOLL_GAMMA_FLOAT16] = 5.2e-10,
        [TCOLL_GAMMA_BFLOAT16] = 5.2e-10,
    }};

tcoll_gamma_class tcoll__gamma_class(tcoll_dtype dtype) {
  switch (dtype) {
  case TCOLL_FLOAT16: return TCOLL_GAMMA_FLOAT16;
  case TCOLL_BFLOAT16: return TCOLL_GAMMA_BFLOAT16;
  case TCOLL_FLOAT32:
  case TCOLL_FLOAT64: return TCOLL_GAMMA_FLOAT;
  default: return TCOLL_GAMMA_INTEGER;
  }
}

const char *tcoll__gamma_class_name(tcoll_gamma_class k) {
  static const char *const names[] = {
#define TCOLL_X_GAMMA_NAME(suffix, key) key,
      TCOLL_GAMMA_CLASS_LIST(TCOLL_X_GAMMA_NAME)
#undef TCOLL_X_GAMMA_NAME
  };
  return (unsigned)k < TCOLL_NUM_GAMMA_CLASSES ? names[k] : "?";
}
