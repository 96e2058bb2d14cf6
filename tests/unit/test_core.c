/*
 * Unit tests of the core without MPI: the block partition, the fold plan,
 * each algorithm's cost() at known values, argument validation, the
 * registry, the byte-count parser and selection on a fabricated
 * communicator (no MPI call is made on these paths).
 */
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patterns.h"
#include "shm.h"
#include "tcoll_internal.h"

/* A communicator as tcoll_comm_create would leave it, without MPI. */
/* Every level gets `link`; γ is the default's unless a test sets it. */
static tcoll_comm fake_comm(int size, int num_nodes, tcoll_link_model link) {
  tcoll_comm c;
  memset(&c, 0, sizeof c);
  c.mpi = MPI_COMM_NULL;
  c.size = size;
  c.num_nodes = num_nodes;
  c.local_size = size / num_nodes;
  for (int l = 0; l < TCOLL_NUM_LEVELS; l++) c.model.level[l] = link;
  for (int k = 0; k < TCOLL_NUM_GAMMA_CLASSES; k++) c.model.gamma[k] = tcoll__default_cost_model.gamma[k];
  c.segment_bytes = 1 << 20;
  c.scratch_keep_bytes = 1 << 20;
  return c;
}

static tcoll_call float_call(size_t count) {
  tcoll_call call = {.coll = TCOLL_ALLREDUCE, .count = count, .dtype = TCOLL_FLOAT32, .op = TCOLL_SUM,
                     .elem_size = 4, .bytes = count * 4};
  return call;
}

START_TEST(test_block_partition) {
  const size_t counts[] = {0, 1, 2, 3, 7, 8, 9, 100, 1021, 65537};
  const int parts[] = {1, 2, 3, 4, 5, 7, 8, 16};
  for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++)
    for (size_t pi = 0; pi < sizeof parts / sizeof parts[0]; pi++) {
      size_t n = counts[ci], expect_off = 0, min = (size_t)-1, max = 0;
      int p = parts[pi];
      for (int i = 0; i < p; i++) {
        ck_assert_uint_eq(tcoll__block_offset(n, p, i), expect_off);
        size_t b = tcoll__block_count(n, p, i);
        expect_off += b;
        min = b < min ? b : min;
        max = b > max ? b : max;
      }
      ck_assert_uint_eq(expect_off, n); /* blocks tile the vector */
      ck_assert_uint_le(max - min, 1);  /* balanced */
    }
}
END_TEST

START_TEST(test_fold_plan) {
  for (int p = 1; p <= 33; p++) {
    int seen[64] = {0}, members = 0;
    for (int r = 0; r < p; r++) {
      tcoll_fold f = tcoll__fold_plan(r, p);
      ck_assert_int_eq(f.p2 + f.extra, p);
      ck_assert_int_eq(f.p2 & (f.p2 - 1), 0);
      if (f.vrank < 0) {
        /* folded-out ranks are even and paired with the next rank */
        ck_assert_int_eq(r % 2, 0);
        ck_assert_int_lt(r + 1, p);
        continue;
      }
      members++;
      ck_assert_int_lt(f.vrank, f.p2);
      ck_assert_int_eq(seen[f.vrank]++, 0);
      ck_assert_int_eq(tcoll__fold_real_rank(&f, f.vrank), r);
    }
    ck_assert_int_eq(members, tcoll__pow2_floor(p));
  }
}
END_TEST

/* The halving schedule's partitions: the p2 members' ranges tile the vector;
 * by rank, member v's range is exactly the blocks of the ranks it stands for
 * (a folded pair's two blocks), so reduce_scatter never splits a block. */
START_TEST(test_group_blocks) {
  for (int p = 1; p <= 33; p++)
    for (size_t per = 0; per <= 3; per++) {
      tcoll_fold f = tcoll__fold_plan(0, p);
      tcoll_call call = float_call(per * (size_t)p);
      tcoll_group_blocks by_rank = {.base_parts = p, .by_rank = true};
      tcoll_group_blocks even = {.base_parts = f.p2, .by_rank = false};
      size_t off_r = 0, off_e = 0;
      for (int v = 0; v < f.p2; v++) {
        ck_assert_uint_eq(tcoll__group_block_offset(&call, &f, by_rank, v), off_r);
        ck_assert_uint_eq(tcoll__group_block_offset(&call, &f, even, v), off_e);
        size_t ranks = v < f.extra ? 2 : 1;
        ck_assert_uint_eq(tcoll__group_block_count(&call, &f, by_rank, v), ranks * per);
        ck_assert_uint_eq(tcoll__group_block_offset(&call, &f, by_rank, v),
                          (size_t)tcoll__fold_first_rank(&f, v) * per);
        off_r += tcoll__group_block_count(&call, &f, by_rank, v);
        off_e += tcoll__group_block_count(&call, &f, even, v);
      }
      ck_assert_uint_eq(off_r, call.count);
      ck_assert_uint_eq(off_e, call.count);
    }
}
END_TEST

/* cost() of `name` of `coll` with the model (alpha, beta, gamma); `bytes`
 * is the call's count in bytes (recvcount / sendcount for reduce_scatter /
 * allgather). */
static double cost_of(tcoll_coll coll, const char *name, int p, size_t bytes, double alpha, double beta,
                      double gamma) {
  tcoll_link_model link = {alpha, beta};
  tcoll_comm c = fake_comm(p, 1, link);
  c.model.gamma[TCOLL_GAMMA_FLOAT] = gamma;
  tcoll_call call = float_call(bytes / 4);
  call.coll = coll;
  const tcoll_algorithm *a = tcoll__algorithm_find(coll, name);
  ck_assert_ptr_nonnull(a);
  return a->cost(&c, &call);
}

/* Known values, counted by hand from each algorithm's schedule: separately
 * the number of message latencies (α = 1), bytes on the critical path
 * (β = 1) and bytes reduced (γ = 1), at n = 1024 bytes. */
START_TEST(test_costs_known_values) {
  static const struct {
    tcoll_coll coll;
    const char *name;
    int p;
    double messages, bytes, reduced;
  } rows[] = {
      /* ring: (p-1) rs + (p-1) ag messages; 2(p-1)/p n moved; (p-1)/p n reduced */
      {TCOLL_ALLREDUCE, "ring", 4, 6, 1536, 768},
      {TCOLL_ALLREDUCE, "ring", 2, 2, 1024, 512},
      {TCOLL_ALLREDUCE, "ring", 5, 8, 2 * 4 * 1024 / 5.0, 4 * 1024 / 5.0},
      /* recursive doubling: log2 p rounds of n; fold adds 2 messages and n reduced */
      {TCOLL_ALLREDUCE, "recursive_doubling", 4, 2, 2048, 2048},
      {TCOLL_ALLREDUCE, "recursive_doubling", 6, 4, 4096, 3072},
      {TCOLL_ALLREDUCE, "recursive_doubling", 1, 0, 0, 0},
      /* rabenseifner: 2 log2 p rounds; 2(p-1)/p n moved; (p-1)/p n reduced */
      {TCOLL_ALLREDUCE, "rabenseifner", 4, 4, 1536, 768},
      {TCOLL_ALLREDUCE, "rabenseifner", 8, 6, 1792, 896},
      {TCOLL_ALLREDUCE, "rabenseifner", 6, 6, 1536 + 2048, 768 + 1024},
      /* binomial tree: ceil(log2 p) rounds up and down, n each */
      {TCOLL_ALLREDUCE, "binomial_tree", 4, 4, 4096, 2048},
      {TCOLL_ALLREDUCE, "binomial_tree", 5, 6, 6144, 3072},
      /* reduce_scatter, n = recvcount bytes, N = p n: ring and pairwise send
       * and reduce p-1 blocks in p-1 steps */
      {TCOLL_REDUCE_SCATTER, "ring", 4, 3, 3072, 3072},
      {TCOLL_REDUCE_SCATTER, "ring", 5, 4, 4096, 4096},
      {TCOLL_REDUCE_SCATTER, "pairwise", 4, 3, 3072, 3072},
      /* halving: log2 p steps, (p-1)/p N moved and reduced; p = 6: N = 6144,
       * p2 = 4 moves 4608, fold in N (reduced) and fold out n */
      {TCOLL_REDUCE_SCATTER, "recursive_halving", 4, 2, 3072, 3072},
      {TCOLL_REDUCE_SCATTER, "recursive_halving", 6, 4, 4608 + 6144 + 1024, 4608 + 6144},
      /* allgather, n = sendcount bytes: (p-1) n moved in p-1 or log p steps */
      {TCOLL_ALLGATHER, "ring", 4, 3, 3072, 0},
      {TCOLL_ALLGATHER, "recursive_doubling", 8, 3, 7168, 0},
      {TCOLL_ALLGATHER, "bruck", 5, 3, 4096, 0},
      /* bcast: log p rounds of n; van de Geijn: log p + p-1 messages,
       * 2 (p-1)/p n */
      {TCOLL_BCAST, "binomial_tree", 5, 3, 3072, 0},
      {TCOLL_BCAST, "scatter_allgather", 4, 5, 1536, 0},
      {TCOLL_BCAST, "scatter_allgather", 5, 7, 2 * 4 * 1024 / 5.0, 0},
      /* reduce: log p rounds of n reduced; rabenseifner: halving + gather,
       * fold and hand-over for p = 6 */
      {TCOLL_REDUCE, "binomial_tree", 5, 3, 3072, 3072},
      {TCOLL_REDUCE, "rabenseifner", 4, 4, 1536, 768},
      {TCOLL_REDUCE, "rabenseifner", 6, 6, 1536 + 2048, 768 + 1024},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const double unit[3][3] = {{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
    const double expect[3] = {rows[i].messages, rows[i].bytes, rows[i].reduced};
    static const char *const what[3] = {"messages", "bytes", "reduced"};
    for (int m = 0; m < 3; m++) {
      double got = cost_of(rows[i].coll, rows[i].name, rows[i].p, 1024, unit[m][0], unit[m][1], unit[m][2]);
      ck_assert_msg(fabs(got - expect[m]) < 1e-9, "%s %s p=%d %s: %g, expected %g",
                    tcoll__coll_name(rows[i].coll), rows[i].name, rows[i].p, what[m], got, expect[m]);
    }
  }
  /* the ring pays one latency per segment in its reduce-scatter: 4 MiB over
   * 4 ranks in 256 KiB segments = 4 segments per block */
  tcoll_link_model link = {1, 0};
  tcoll_comm c = fake_comm(4, 1, link);
  for (int k = 0; k < TCOLL_NUM_GAMMA_CLASSES; k++) c.model.gamma[k] = 0;
  c.segment_bytes = 256 << 10;
  tcoll_call call = float_call(1 << 20);
  ck_assert_double_eq_tol(tcoll__allreduce_ring.cost(&c, &call), 3 * 4 + 3, 1e-9);
}
END_TEST

/* With the built-in model: small messages go to few-round algorithms, large
 * ones to bandwidth-optimal ones. */
START_TEST(test_default_model_choice) {
  tcoll_comm c = fake_comm(8, 1, tcoll__default_cost_model.level[TCOLL_LEVEL_NODE]);
  c.model = tcoll__default_cost_model;
  const tcoll_algorithm *a = NULL;
  tcoll_choice_source src = TCOLL_SOURCE_FORCED;
  tcoll_call small = float_call(2), large = float_call(16 << 20);
  ck_assert_int_eq(tcoll__select(&c, &small, &a, &src), TCOLL_OK);
  ck_assert_str_eq(a->name, "recursive_doubling");
  ck_assert_int_eq(src, TCOLL_SOURCE_COST_MODEL);
  ck_assert_int_eq(tcoll__select(&c, &large, &a, &src), TCOLL_OK);
  ck_assert_msg(strcmp(a->name, "rabenseifner") == 0 || strcmp(a->name, "ring") == 0, "%s", a->name);
  /* forcing wins */
  c.forced[TCOLL_ALLREDUCE] = &tcoll__allreduce_binomial_tree;
  ck_assert_int_eq(tcoll__select(&c, &large, &a, &src), TCOLL_OK);
  ck_assert_ptr_eq(a, &tcoll__allreduce_binomial_tree);
  ck_assert_int_eq(src, TCOLL_SOURCE_FORCED);
}
END_TEST

/* γ follows the dtype's class: the same bytes of bfloat16 cost the ring
 * exactly (γ_bf16 - γ_float) per reduced byte more than float32, and
 * float64 and int32 cost what their classes say. */
START_TEST(test_gamma_per_dtype_class) {
  tcoll_link_model link = {1e-6, 1e-9};
  tcoll_comm c = fake_comm(4, 1, link);
  c.model.gamma[TCOLL_GAMMA_INTEGER] = 1e-10;
  c.model.gamma[TCOLL_GAMMA_FLOAT] = 2e-10;
  c.model.gamma[TCOLL_GAMMA_FLOAT16] = 4e-10;
  c.model.gamma[TCOLL_GAMMA_BFLOAT16] = 8e-10;
  const tcoll_algorithm *ring = tcoll__algorithm_find(TCOLL_ALLREDUCE, "ring");
  const double bytes = 1 << 20, reduced = bytes * 3 / 4; /* (p-1)/p n */
  tcoll_call f32 = float_call((size_t)bytes / 4);
  const double base = ring->cost(&c, &f32);
  static const struct {
    tcoll_dtype dtype;
    size_t elem;
    double gamma;
  } rows[] = {{TCOLL_FLOAT64, 8, 2e-10}, {TCOLL_INT32, 4, 1e-10}, {TCOLL_UINT8, 1, 1e-10},
              {TCOLL_FLOAT16, 2, 4e-10}, {TCOLL_BFLOAT16, 2, 8e-10}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    tcoll_call call = f32;
    call.dtype = rows[i].dtype, call.elem_size = rows[i].elem, call.count = (size_t)bytes / rows[i].elem;
    ck_assert_double_eq_tol(ring->cost(&c, &call) - base, (rows[i].gamma - 2e-10) * reduced, 1e-15);
  }
}
END_TEST

START_TEST(test_validation_without_mpi) {
  tcoll_link_model link = {1e-6, 1e-9};
  tcoll_comm c = fake_comm(4, 1, link);
  float a[4] = {0}, b[4] = {0};
  ck_assert_int_eq(tcoll_allreduce(NULL, a, b, 4, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(tcoll_last_error(), "comm is NULL"));
  ck_assert_int_eq(tcoll_allreduce(&c, NULL, b, 4, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(tcoll_last_error(), "sendbuf is NULL"));
  ck_assert_int_eq(tcoll_allreduce(&c, a, NULL, 4, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(tcoll_last_error(), "recvbuf is NULL"));
  ck_assert_int_eq(tcoll_allreduce(&c, a, b, 4, (tcoll_dtype)10, TCOLL_SUM), TCOLL_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(tcoll_last_error(), "dtype 10"));
  ck_assert_int_eq(tcoll_allreduce(&c, a, b, 4, TCOLL_FLOAT32, (tcoll_op)5), TCOLL_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(tcoll_last_error(), "op 5"));
  for (int dt = TCOLL_INT8; dt <= TCOLL_UINT64; dt++)
    ck_assert_int_eq(tcoll_allreduce(&c, a, b, 1, (tcoll_dtype)dt, TCOLL_AVG), TCOLL_ERR_INVALID_ARG);
  ck_assert_int_eq(tcoll_allreduce(&c, a, b, SIZE_MAX / 8 + 1, TCOLL_FLOAT64, TCOLL_SUM), TCOLL_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(tcoll_last_error(), "overflows"));
  /* the largest count that does not overflow is accepted by validation
   * (it would then fail to find memory, but that is not checked here) */
  ck_assert_int_eq(tcoll_allreduce(&c, b, b + 1, 2, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG);
  ck_assert_ptr_nonnull(strstr(tcoll_last_error(), "overlap"));
  /* adjacent but disjoint buffers are fine as far as validation goes: with
   * count 0 nothing runs, so this exercises validation only */
  ck_assert_int_eq(tcoll_allreduce(&c, b, b + 2, 0, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_OK);
}
END_TEST

/* shm needs a shared segment; with one, the default model prefers it at
 * both ends of the size range on one node (measured 1.8-3.6x MPI there),
 * also when single copy works: cma, which moves fewer bytes but pays the
 * kernel's page mapping for each, measured 1.2-1.5x slower than shm. */
START_TEST(test_shm_selection) {
  tcoll_comm c = fake_comm(2, 1, tcoll__default_cost_model.level[TCOLL_LEVEL_NODE]);
  c.model = tcoll__default_cost_model;
  c.shm_chunk_bytes = 1 << 20;
  snprintf(c.shm_unavailable, sizeof c.shm_unavailable, "ranks span 2 nodes");
  tcoll_call small = float_call(2), large = float_call(16 << 20);
  char why[192] = "";
  ck_assert(!tcoll__allreduce_shm.check(&c, &small, why, sizeof why));
  ck_assert_str_eq(why, "no shared segment: ranks span 2 nodes");
  const tcoll_algorithm *a = NULL;
  tcoll_choice_source src;
  ck_assert_int_eq(tcoll__select(&c, &small, &a, &src), TCOLL_OK);
  ck_assert_str_ne(a->name, "shm");
  ck_assert_str_ne(a->name, "cma");
  /* a segment without single copy: check() and cost() read only its verdict */
  tcoll_shm segment = {0};
  snprintf(segment.single_copy_unavailable, sizeof segment.single_copy_unavailable, "refused");
  tcoll_comm with_segment = fake_comm(2, 1, tcoll__default_cost_model.level[TCOLL_LEVEL_NODE]);
  with_segment.model = tcoll__default_cost_model;
  with_segment.shm_chunk_bytes = 1 << 20;
  with_segment.shm = &segment;
  ck_assert(tcoll__allreduce_shm.check(&with_segment, &small, why, sizeof why));
  ck_assert(!tcoll__allreduce_cma.check(&with_segment, &small, why, sizeof why));
  ck_assert_str_eq(why, "no single copy: refused");
  ck_assert_int_eq(tcoll__select(&with_segment, &small, &a, &src), TCOLL_OK);
  ck_assert_str_eq(a->name, "shm");
  ck_assert_int_eq(tcoll__select(&with_segment, &large, &a, &src), TCOLL_OK);
  ck_assert_str_eq(a->name, "shm");
  segment.single_copy = true;
  ck_assert(tcoll__allreduce_cma.check(&with_segment, &small, why, sizeof why));
  ck_assert_int_eq(tcoll__select(&with_segment, &small, &a, &src), TCOLL_OK);
  ck_assert_str_eq(a->name, "shm");
  ck_assert_int_eq(tcoll__select(&with_segment, &large, &a, &src), TCOLL_OK);
  ck_assert_str_eq(a->name, "shm");
  ck_assert(tcoll__allreduce_cma.cost(&with_segment, &large) > 1.1 * tcoll__allreduce_shm.cost(&with_segment, &large));
  /* chunks cost one round of three waits each: 64 MiB (16 Mi floats) in
   * 1 MiB chunks is 64 rounds, in 512 KiB chunks 128 */
  tcoll_comm counted = with_segment;
  memset(&counted.model, 0, sizeof counted.model);
  double with_1m = tcoll__allreduce_shm.cost(&counted, &large);
  counted.shm_chunk_bytes = 1 << 19;
  double with_512k = tcoll__allreduce_shm.cost(&counted, &large);
  const double extra = with_512k - with_1m;
  ck_assert_double_eq_tol(extra, 64 * 3 * 0.1e-6, 1e-12);
}
END_TEST

/* hierarchical: declines without node segments, saying why; on one node it
 * costs exactly shm's large path (so shm, registered first, wins the tie);
 * across nodes its inter-node term is counted by hand below. */
START_TEST(test_hierarchical_cost) {
  tcoll_comm one = fake_comm(4, 1, tcoll__default_cost_model.level[TCOLL_LEVEL_NODE]);
  one.model = tcoll__default_cost_model;
  one.shm_chunk_bytes = 1 << 19;
  tcoll_shm segment = {0}; /* no single copy: cma declines */
  one.shm = &segment;
  tcoll_call large = float_call(4 << 20);
  const tcoll_algorithm *h = tcoll__algorithm_find(TCOLL_ALLREDUCE, "hierarchical");
  ck_assert_ptr_nonnull(h);
  char why[192] = "";
  ck_assert(h->check(&one, &large, why, sizeof why));
  ck_assert_double_eq(h->cost(&one, &large), tcoll__allreduce_shm.cost(&one, &large));
  const tcoll_algorithm *a = NULL;
  tcoll_choice_source src;
  ck_assert_int_eq(tcoll__select(&one, &large, &a, &src), TCOLL_OK);
  ck_assert_str_eq(a->name, "shm");

  /* 4 nodes x 2 ranks, one chunk */
  tcoll_comm c = fake_comm(8, 4, (tcoll_link_model){0, 0});
  for (int k = 0; k < TCOLL_NUM_GAMMA_CLASSES; k++) c.model.gamma[k] = 0;
  c.shm_chunk_bytes = 1 << 20;
  c.min_local_size = c.max_local_size = 2;
  snprintf(c.node_shm_unavailable, sizeof c.node_shm_unavailable, "the ranks of a node do not share memory");
  tcoll_call call = float_call(256); /* 1024 bytes, slices of 512 */
  ck_assert(!h->check(&c, &call, why, sizeof why));
  ck_assert_str_eq(why, "no node segments: the ranks of a node do not share memory");
  c.node_shm = (tcoll_shm *)&c;
  ck_assert(h->check(&c, &call, why, sizeof why));
  const double intra = tcoll__cost_shm_sliced(&c, &call, 2, 2);
  /* α = 1: ring 2(N-1) = 6 messages, doubling log2 4 = 2: doubling */
  c.model.level[TCOLL_LEVEL_NETWORK] = (tcoll_link_model){1, 0};
  ck_assert_double_eq_tol(h->cost(&c, &call) - intra, 2, 1e-9);
  /* β = 1: the 2 owners of a node share its link. Ring 2 (3/4) 512 x 2 =
   * 1536 bytes, doubling 2 x 512 x 2 = 2048: ring */
  c.model.level[TCOLL_LEVEL_NETWORK] = (tcoll_link_model){0, 1};
  ck_assert_double_eq_tol(h->cost(&c, &call) - intra, 1536, 1e-9);
  /* 3 nodes, α = 1: ring 4, doubling 1 round + the fold's 2: 3 */
  c.num_nodes = 3;
  c.size = 6;
  c.model.level[TCOLL_LEVEL_NETWORK] = (tcoll_link_model){1, 0};
  ck_assert_double_eq_tol(h->cost(&c, &call) - intra, 3, 1e-9);
}
END_TEST

/* Across emulated hosts with 1 Gbit/s links, 2 ranks per host on this
 * 2-core machine (docs/h9-results.md, no tuning file): from 8 B to 4 KiB
 * recursive_doubling or binomial_tree were the fastest tcoll algorithms
 * (hierarchical 1.2-1.8x slower at 4 x 2), from 256 KiB to 16 MiB the
 * pipelined hierarchical (up to 96% of the link bound, ring 51-64%). The
 * built-in model with the machine's crowding (ranks_per_cpu: 4 ranks on 2
 * CPUs at 2 x 2, 8 at 4 x 2) must choose so; without crowding (a real
 * cluster, a core per rank) hierarchical keeps the large sizes too. */
static tcoll_comm cross_node_comm(int nodes, int per_node, double ranks_per_cpu) {
  static int node_of_rank[64];
  tcoll_comm c;
  memset(&c, 0, sizeof c);
  c.mpi = MPI_COMM_NULL;
  c.size = nodes * per_node;
  c.num_nodes = nodes;
  c.local_size = c.min_local_size = c.max_local_size = per_node;
  for (int r = 0; r < c.size; r++) node_of_rank[r] = r / per_node;
  c.node_of_rank = node_of_rank;
  c.model = tcoll__default_cost_model;
  c.segment_bytes = 1 << 20;
  c.scratch_keep_bytes = 1 << 20;
  c.shm_chunk_bytes = 512 << 10;
  c.node_shm = (tcoll_shm *)&c; /* check() and cost() never touch it */
  c.ranks_per_cpu = ranks_per_cpu;
  return c;
}

START_TEST(test_cross_node_selection) {
  const struct {
    int nodes;
    double ranks_per_cpu;
  } shapes[] = {{2, 2}, {4, 4}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    tcoll_comm c = cross_node_comm(shapes[s].nodes, 2, shapes[s].ranks_per_cpu);
    for (size_t bytes = 8; bytes <= (16u << 20); bytes *= 2) {
      tcoll_call call = float_call(bytes / 4 ? bytes / 4 : 1);
      const tcoll_algorithm *a = NULL;
      tcoll_choice_source src;
      ck_assert_int_eq(tcoll__select(&c, &call, &a, &src), TCOLL_OK);
      if (getenv("TCOLL_TEST_SHOW")) printf("%d nodes, %zu B: %s\n", shapes[s].nodes, call.bytes, a->name);
      if (call.bytes <= 4096)
        ck_assert_msg(!strcmp(a->name, "recursive_doubling") || !strcmp(a->name, "binomial_tree"),
                      "%d x 2, %zu B: chose %s", shapes[s].nodes, call.bytes, a->name);
      /* 4 x 2, 32 KiB: recursive_doubling took 1.7x hierarchical's time */
      if (call.bytes >= (256u << 10) || (shapes[s].nodes == 4 && call.bytes == (32u << 10)))
        ck_assert_msg(!strcmp(a->name, "hierarchical"), "%d x 2, %zu B: chose %s", shapes[s].nodes, call.bytes,
                      a->name);
    }
    /* a core per rank: the waits are short, hierarchical wins from 256 KiB all the more */
    c.ranks_per_cpu = 1;
    tcoll_call large = float_call(1 << 20);
    const tcoll_algorithm *a = NULL;
    tcoll_choice_source src;
    ck_assert_int_eq(tcoll__select(&c, &large, &a, &src), TCOLL_OK);
    ck_assert_str_eq(a->name, "hierarchical");
  }
}
END_TEST

/* bcast and reduce shm: the same decline without a segment; with one, at
 * the reference VM's l3 model (2 ranks), bcast shm wins every size and
 * reduce shm every size but the smallest, where binomial_tree's one eager
 * message beats the root's handshake (measured, reduce_shm.c). */
START_TEST(test_rooted_shm_selection) {
  const tcoll_link_model l3 = tcoll__default_cost_model.level[TCOLL_LEVEL_L3];
  tcoll_comm none = fake_comm(4, 2, l3);
  none.shm_chunk_bytes = 1 << 19;
  tcoll_comm one = fake_comm(2, 1, l3);
  one.shm_chunk_bytes = 1 << 19;
  snprintf(one.shm_unavailable, sizeof one.shm_unavailable, "MPI_Win_allocate_shared failed");
  const tcoll_algorithm *const algs[] = {&tcoll__bcast_shm, &tcoll__reduce_shm};
  char why[192] = "";
  for (size_t i = 0; i < 2; i++) {
    tcoll_call call = float_call(2);
    call.coll = algs[i]->coll;
    ck_assert_str_eq(algs[i]->name, "shm");
    ck_assert(!algs[i]->check(&none, &call, why, sizeof why));
    ck_assert_str_eq(why, "ranks span 2 nodes");
    ck_assert(!algs[i]->check(&one, &call, why, sizeof why));
    ck_assert_str_eq(why, "no shared segment: MPI_Win_allocate_shared failed");
  }
  tcoll_comm seg = one;
  seg.shm = (tcoll_shm *)&seg; /* check() and cost() never touch it */
  struct {
    tcoll_coll coll;
    size_t count;
    const char *expect;
  } cases[] = {
      {TCOLL_BCAST, 2, "shm"},         {TCOLL_BCAST, 2048, "shm"},     {TCOLL_BCAST, 4 << 20, "shm"},
      {TCOLL_REDUCE, 2, "binomial_tree"}, {TCOLL_REDUCE, 128, "shm"}, {TCOLL_REDUCE, 4 << 20, "shm"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tcoll_call call = float_call(cases[i].count);
    call.coll = cases[i].coll;
    const tcoll_algorithm *a = NULL;
    tcoll_choice_source src;
    ck_assert_int_eq(tcoll__select(&seg, &call, &a, &src), TCOLL_OK);
    ck_assert_msg(strcmp(a->name, cases[i].expect) == 0, "%s of %zu floats: chose %s, expected %s",
                  tcoll__coll_name(cases[i].coll), cases[i].count, a->name, cases[i].expect);
  }
  /* 64 MiB in 256 KiB chunks instead of 512 KiB: 128 more chunks, one
   * wait each for bcast, three for reduce */
  tcoll_comm counted = seg;
  memset(&counted.model, 0, sizeof counted.model);
  tcoll_call big = float_call(16 << 20);
  big.coll = TCOLL_BCAST;
  const double b1 = tcoll__bcast_shm.cost(&counted, &big);
  big.coll = TCOLL_REDUCE;
  const double r1 = tcoll__reduce_shm.cost(&counted, &big);
  counted.shm_chunk_bytes = 1 << 18;
  big.coll = TCOLL_BCAST;
  /* bcast's pipeline fill shrinks with the chunk: 2 x 256 KiB less at 20 GB/s */
  const double b2 = tcoll__bcast_shm.cost(&counted, &big);
  ck_assert_double_eq_tol(b2 - b1, 128 * 0.1e-6 - 2.0 * (1 << 18) / 20e9, 1e-12);
  big.coll = TCOLL_REDUCE;
  const double r2 = tcoll__reduce_shm.cost(&counted, &big);
  ck_assert_double_eq_tol(r2 - r1, 128 * 3 * 0.1e-6, 1e-12);
}
END_TEST

START_TEST(test_registry) {
  /* the names of DESIGN.md, in registry order */
  static const char *const expected[TCOLL_NUM_COLLS][8] = {
      [TCOLL_ALLREDUCE] = {"ring", "recursive_doubling", "rabenseifner", "binomial_tree", "shm", "cma", "hierarchical"},
      [TCOLL_REDUCE_SCATTER] = {"ring", "recursive_halving", "pairwise"},
      [TCOLL_ALLGATHER] = {"ring", "recursive_doubling", "bruck"},
      [TCOLL_BCAST] = {"binomial_tree", "scatter_allgather", "shm"},
      [TCOLL_REDUCE] = {"binomial_tree", "rabenseifner", "shm"},
  };
  for (int coll = 0; coll < TCOLL_NUM_COLLS; coll++) {
    size_t n = tcoll_algorithm_count((tcoll_coll)coll), want = 0;
    while (want < 8 && expected[coll][want]) want++;
    ck_assert_uint_eq(n, want);
    for (size_t i = 0; i < n; i++) {
      const char *name = tcoll_algorithm_name((tcoll_coll)coll, i);
      ck_assert_str_eq(name, expected[coll][i]);
      for (const char *q = name; *q; q++) ck_assert(((*q >= 'a' && *q <= 'z') || *q == '_'));
      const tcoll_algorithm *a = tcoll__algorithm_find((tcoll_coll)coll, name);
      ck_assert_ptr_nonnull(a);
      ck_assert_int_eq(a->coll, coll);
      ck_assert_ptr_nonnull(a->check);
      ck_assert_ptr_nonnull(a->cost);
      ck_assert_ptr_nonnull(a->run);
      ck_assert(strlen(a->summary) > 10);
    }
    ck_assert_ptr_null(tcoll_algorithm_name((tcoll_coll)coll, n));
  }
  ck_assert_uint_eq(tcoll_algorithm_count((tcoll_coll)99), 0);
  ck_assert_ptr_null(tcoll_algorithm_name((tcoll_coll)99, 0));
  ck_assert_ptr_null(tcoll__algorithm_find(TCOLL_ALLREDUCE, "Ring"));
}
END_TEST

/* check() is pure and declines with a reason; the root never changes a
 * check or a cost (ranks would pick different algorithms otherwise). */
START_TEST(test_checks_and_root) {
  tcoll_link_model link = {1e-6, 1e-9};
  char why[192] = "";
  for (int p = 1; p <= 9; p++) {
    tcoll_comm c = fake_comm(p, 1, link);
    tcoll_call call = float_call(1000);
    call.coll = TCOLL_ALLGATHER;
    bool ok = tcoll__allgather_recursive_doubling.check(&c, &call, why, sizeof why);
    ck_assert_int_eq(ok, (p & (p - 1)) == 0);
    if (!ok) ck_assert_ptr_nonnull(strstr(why, "power-of-two"));
    for (int coll = 0; coll < TCOLL_NUM_COLLS; coll++) {
      const tcoll_algorithm *a;
      for (size_t i = 0; (a = tcoll__algorithm_at((tcoll_coll)coll, i)) != NULL; i++) {
        tcoll_call r0 = float_call(1000), r1 = float_call(1000);
        r0.coll = r1.coll = (tcoll_coll)coll;
        r1.root = p - 1;
        ck_assert_int_eq(a->check(&c, &r0, why, sizeof why), a->check(&c, &r1, why, sizeof why));
        if (a->check(&c, &r0, why, sizeof why)) ck_assert(a->cost(&c, &r0) == a->cost(&c, &r1));
      }
    }
  }
}
END_TEST

START_TEST(test_parse_bytes) {
  static const struct {
    const char *text;
    int ok;
    size_t value;
  } rows[] = {
      {"0", 1, 0},          {"64", 1, 64},        {"4K", 1, 4096},    {"4k", 1, 4096},
      {"1M", 1, 1 << 20},   {"2G", 1, (size_t)2 << 30}, {"1KiB", 1, 1024}, {"3MB", 1, 3 << 20},
      {"", 0, 0},           {"abc", 0, 0},        {"12x", 0, 0},      {"-1", 0, 0},
      {"1.5M", 0, 0},       {"K", 0, 0},          {"99999999999999999999", 0, 0},
      {"18014398509481984G", 0, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    size_t v = 12345;
    tcoll_status s = tcoll__parse_bytes(rows[i].text, &v);
    ck_assert_msg((s == TCOLL_OK) == rows[i].ok, "\"%s\": status %d", rows[i].text, s);
    if (rows[i].ok) ck_assert_uint_eq(v, rows[i].value);
  }
}
END_TEST

START_TEST(test_explain_text) {
  tcoll_comm c = fake_comm(6, 2, tcoll__default_cost_model.level[TCOLL_LEVEL_NETWORK]);
  tcoll_call call = float_call(1000);
  char text[4096];
  tcoll__explain(&c, &call, text, sizeof text);
  ck_assert_ptr_nonnull(strstr(text, "allreduce of 1000 x float32 (4000 bytes), op sum, 6 ranks on 2 node(s)"));
  for (size_t i = 0; i < tcoll_algorithm_count(TCOLL_ALLREDUCE); i++)
    ck_assert_ptr_nonnull(strstr(text, tcoll_algorithm_name(TCOLL_ALLREDUCE, i)));
  ck_assert_ptr_nonnull(strstr(text, "<- cheapest"));
  ck_assert_ptr_nonnull(strstr(text, "(cost model: cheapest predicted)"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("core");
  TCase *tc = tcase_create("core");
  tcase_add_test(tc, test_block_partition);
  tcase_add_test(tc, test_fold_plan);
  tcase_add_test(tc, test_group_blocks);
  tcase_add_test(tc, test_costs_known_values);
  tcase_add_test(tc, test_default_model_choice);
  tcase_add_test(tc, test_gamma_per_dtype_class);
  tcase_add_test(tc, test_validation_without_mpi);
  tcase_add_test(tc, test_registry);
  tcase_add_test(tc, test_shm_selection);
  tcase_add_test(tc, test_hierarchical_cost);
  tcase_add_test(tc, test_cross_node_selection);
  tcase_add_test(tc, test_rooted_shm_selection);
  tcase_add_test(tc, test_checks_and_root);
  tcase_add_test(tc, test_parse_bytes);
  tcase_add_test(tc, test_explain_text);
  suite_add_tcase(s, tc);
  return check_run(s);
}
