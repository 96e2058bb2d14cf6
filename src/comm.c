/* Communicator life cycle: private duplicate, node split, environment,
 * forced algorithms, scratch memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "shm.h"
#include "tcoll_internal.h"
#include "tuning.h"

#define MPI_TRY(call, what)                                   \
  do {                                                        \
    int mpi_err_ = (call);                                    \
    if (mpi_err_ != MPI_SUCCESS) {                            \
      status = tcoll__mpi_error(mpi_err_, what);              \
      goto cleanup;                                           \
    }                                                         \
  } while (0)

static tcoll_status read_log_level(void) {
  const char *v = tcoll__env_get(TCOLL_ENV_TCOLL_DEBUG);
  if (strcasecmp(v, "WARN") == 0) tcoll__log_threshold = TCOLL_LOG_WARN;
  else if (strcasecmp(v, "INFO") == 0) tcoll__log_threshold = TCOLL_LOG_INFO;
  else if (strcasecmp(v, "TRACE") == 0) tcoll__log_threshold = TCOLL_LOG_TRACE;
  else
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "TCOLL_DEBUG=\"%s\" is not WARN, INFO or TRACE", v);
  return TCOLL_OK;
}

static tcoll_status read_fallback(tcoll_comm *c) {
  const char *v = tcoll__env_get(TCOLL_ENV_TCOLL_FALLBACK);
  if (strcasecmp(v, "warn") == 0) c->fallback_is_error = false;
  else if (strcasecmp(v, "error") == 0) c->fallback_is_error = true;
  else return tcoll__error(TCOLL_ERR_INVALID_ARG, "TCOLL_FALLBACK=\"%s\" is not warn or error", v);
  return TCOLL_OK;
}

/* The TCOLL_<COLL>_ALGO variable of each collective that has one. */
static const struct {
  tcoll_coll coll;
  tcoll_env_id env;
} algo_variables[] = {
    {TCOLL_ALLREDUCE, TCOLL_ENV_TCOLL_ALLREDUCE_ALGO},
    {TCOLL_REDUCE_SCATTER, TCOLL_ENV_TCOLL_REDUCE_SCATTER_ALGO},
    {TCOLL_ALLGATHER, TCOLL_ENV_TCOLL_ALLGATHER_ALGO},
    {TCOLL_BCAST, TCOLL_ENV_TCOLL_BCAST_ALGO},
    {TCOLL_REDUCE, TCOLL_ENV_TCOLL_REDUCE_ALGO},
};

static tcoll_status read_forced_algorithms(tcoll_comm *c) {
  for (size_t i = 0; i < sizeof algo_variables / sizeof algo_variables[0]; i++) {
    const char *v = tcoll__env_get(algo_variables[i].env);
    if (strcmp(v, "auto") == 0) continue;
    const tcoll_algorithm *a = tcoll__algorithm_find(algo_variables[i].coll, v);
    if (!a) {
      char names[512];
      tcoll__algorithm_names(algo_variables[i].coll, names, sizeof names);
      return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s=\"%s\" is not a %s algorithm (known: auto, %s)",
                          tcoll__env_table[algo_variables[i].env].name, v,
                          tcoll__coll_name(algo_variables[i].coll), names);
    }
    c->forced[algo_variables[i].coll] = a;
  }
  return TCOLL_OK;
}

tcoll_status tcoll__agree(tcoll_comm *c, bool ok, tcoll_status failure, const char *what) {
  int mine = ok, all = 0;
  int err = MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, c->mpi);
  if (err != MPI_SUCCESS) return tcoll__mpi_error(err, what);
  if (all) return TCOLL_OK;
  return tcoll__error(failure, "tcoll_comm_create: %s for %d ranks: failed on %s", what, c->size,
                      ok ? "another rank" : "this rank");
}

/* From node_of_rank (identical everywhere), so are these: the largest and
 * smallest node, and this rank's slice group (tcoll_internal.h): on every
 * node, the rank whose local index (rank order within the node) is this
 * rank's. A failed allocation on one rank fails every rank (tcoll__agree). */
static tcoll_status node_tables(tcoll_comm *c) {
  const int p = c->size, nn = c->num_nodes;
  int *ranks_seen = calloc((size_t)nn, sizeof(int)); /* per node, so far */
  c->slice_group = malloc(sizeof(int) * (size_t)nn);
  tcoll_status status =
      tcoll__agree(c, ranks_seen && c->slice_group, TCOLL_ERR_NO_MEMORY, "node tables");
  if (status != TCOLL_OK) {
    free(ranks_seen);
    return status;
  }
  for (int r = 0; r < p; r++) {
    const int i = c->node_of_rank[r];
    if (ranks_seen[i]++ == c->local_rank) c->slice_group[i] = r;
  }
  c->max_local_size = 0;
  c->min_local_size = p;
  for (int i = 0; i < nn; i++) {
    if (ranks_seen[i] > c->max_local_size) c->max_local_size = ranks_seen[i];
    if (ranks_seen[i] < c->min_local_size) c->min_local_size = ranks_seen[i];
  }
  free(ranks_seen);
  /* an extra rank of a larger node owns no slice */
  if (c->local_rank >= c->min_local_size) {
    free(c->slice_group);
    c->slice_group = NULL;
  }
  return TCOLL_OK;
}

/* Which node each rank is on, numbered by each node's lowest rank, so the
 * numbering is identical everywhere and does not depend on hostnames. */
static tcoll_status split_nodes(tcoll_comm *c) {
  tcoll_status status = TCOLL_OK;
  MPI_Comm node_comm = MPI_COMM_NULL;
  int *leader_of_rank = NULL;
  size_t ranks_per_node = 0;
  status = tcoll__env_get_bytes(TCOLL_ENV_TCOLL_RANKS_PER_NODE, 0, (size_t)1 << 30, &ranks_per_node);
  if (status != TCOLL_OK) return status;
  c->node_of_rank = malloc(sizeof(int) * (size_t)c->size);
  leader_of_rank = malloc(sizeof(int) * (size_t)c->size);
  /* a rank without memory must not leave the others in the collectives below */
  if ((status = tcoll__agree(c, c->node_of_rank && leader_of_rank, TCOLL_ERR_NO_MEMORY, "node table")) !=
      TCOLL_OK)
    goto cleanup;
  int leader;
  if (ranks_per_node > 0) {
    leader = c->rank - c->rank % (int)ranks_per_node;
  } else {
    MPI_TRY(MPI_Comm_split_type(c->mpi, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &node_comm),
            "MPI_Comm_split_type");
    /* The lowest rank of the node: ranks were keyed by rank, so local rank 0. */
    leader = c->rank;
    MPI_TRY(MPI_Bcast(&leader, 1, MPI_INT, 0, node_comm), "MPI_Bcast(node leader)");
  }
  MPI_TRY(MPI_Allgather(&leader, 1, MPI_INT, leader_of_rank, 1, MPI_INT, c->mpi),
          "MPI_Allgather(node leaders)");
  /* A leader is the lowest rank of its node, so it is met before its
   * members and its node number is known when they need it. */
  c->num_nodes = 0;
  for (int r = 0; r < c->size; r++)
    c->node_of_rank[r] = (leader_of_rank[r] == r) ? c->num_nodes++ : c->node_of_rank[leader_of_rank[r]];
  c->node = c->node_of_rank[c->rank];
  c->local_size = 0;
  c->local_rank = 0;
  for (int r = 0; r < c->size; r++) {
    if (c->node_of_rank[r] != c->node) continue;
    if (r < c->rank) c->local_rank++;
    c->local_size++;
  }
  status = node_tables(c);
cleanup:
  if (node_comm != MPI_COMM_NULL) MPI_Comm_free(&node_comm);
  free(leader_of_rank);
  return status;
}

/* c->ranks_per_cpu. Ranks on one machine are those that see the same
 * kernel boot id, which the emulated hosts of scripts/cluster (network and
 * UTS namespaces) share while MPI_COMM_TYPE_SHARED and hostnames tell them
 * apart. Without a boot id a rank counts alone. */
static tcoll_status machine_load(tcoll_comm *c) {
  tcoll_status status = TCOLL_OK;
  MPI_Comm machine = MPI_COMM_NULL;
  char id[64] = "";
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (f) {
    if (!fgets(id, sizeof id, f)) id[0] = '\0';
    fclose(f);
  }
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = id; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  const int color = id[0] ? (int)(h & 0x3fffffff) : 0x40000000 + c->rank;
  MPI_TRY(MPI_Comm_split(c->mpi, color, c->rank, &machine), "MPI_Comm_split(machine)");
  int ranks = 1;
  MPI_TRY(MPI_Comm_size(machine, &ranks), "MPI_Comm_size(machine)");
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  double load = (double)ranks / (double)(cpus > 0 ? cpus : 1);
  MPI_TRY(MPI_Allreduce(MPI_IN_PLACE, &load, 1, MPI_DOUBLE, MPI_MAX, c->mpi), "MPI_Allreduce(machine load)");
  c->ranks_per_cpu = load;
cleanup:
  if (machine != MPI_COMM_NULL) MPI_Comm_free(&machine);
  return status;
}

/* TCOLL_ADAPTIVE and TCOLL_ADAPTIVE_MIN_BYTES, agreed by all ranks
 * (collective): ranks that timed different calls would not all reach a
 * look's agreement, and hang. A bad or differing value fails
 * every rank. */
static tcoll_status read_adaptive(tcoll_comm *c) {
  tcoll_status status = TCOLL_OK;
  const char *adaptive = tcoll__env_get(TCOLL_ENV_TCOLL_ADAPTIVE);
  if (strcmp(adaptive, "0") != 0 && strcmp(adaptive, "1") != 0)
    status = tcoll__error(TCOLL_ERR_INVALID_ARG, "TCOLL_ADAPTIVE=\"%s\" is not 0 or 1", adaptive);
  c->adaptive = adaptive[0] == '1';
  if (status == TCOLL_OK)
    status = tcoll__env_get_bytes(TCOLL_ENV_TCOLL_ADAPTIVE_MIN_BYTES, 0, SIZE_MAX, &c->adaptive_min_bytes);
  /* max of each value and of its complement: a field agrees iff max == ~max(~x) */
  uint64_t v[6] = {status != TCOLL_OK, c->adaptive, c->adaptive_min_bytes, 0, ~(uint64_t)c->adaptive,
                   ~(uint64_t)c->adaptive_min_bytes};
  const int err = MPI_Allreduce(MPI_IN_PLACE, v, 6, MPI_UINT64_T, MPI_MAX, c->mpi);
  if (status != TCOLL_OK) return status;
  if (err != MPI_SUCCESS) return tcoll__mpi_error(err, "MPI_Allreduce(TCOLL_ADAPTIVE settings)");
  if (v[0]) return tcoll__error(TCOLL_ERR_INVALID_ARG, "TCOLL_ADAPTIVE or TCOLL_ADAPTIVE_MIN_BYTES is invalid on "
                                                      "another rank");
  if (v[1] != ~v[4] || v[2] != ~v[5])
    return tcoll__error(TCOLL_ERR_INVALID_ARG,
                        "TCOLL_ADAPTIVE or TCOLL_ADAPTIVE_MIN_BYTES differs between ranks (this rank: %d, %zu)",
                        (int)c->adaptive, c->adaptive_min_bytes);
  return TCOLL_OK;
}

tcoll_status tcoll_comm_create(MPI_Comm comm, tcoll_comm **out) {
  tcoll_status status = TCOLL_OK;
  tcoll_comm *c = NULL;
  if (!out) return tcoll__error(TCOLL_ERR_INVALID_ARG, "tcoll_comm_create: out is NULL");
  *out = NULL;
  if (comm == MPI_COMM_NULL)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "tcoll_comm_create: comm is MPI_COMM_NULL");
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "tcoll_comm_create: MPI is not initialized");
  c = calloc(1, sizeof *c);
  if (!c) return tcoll__error(TCOLL_ERR_NO_MEMORY, "tcoll_comm_create: communicator");
  c->mpi = MPI_COMM_NULL;
  MPI_TRY(MPI_Comm_dup(comm, &c->mpi), "MPI_Comm_dup");
  MPI_TRY(MPI_Comm_set_errhandler(c->mpi, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  MPI_TRY(MPI_Comm_rank(c->mpi, &c->rank), "MPI_Comm_rank");
  MPI_TRY(MPI_Comm_size(c->mpi, &c->size), "MPI_Comm_size");
  c->model = tcoll__default_cost_model;
  /* Environment errors are detected identically on every rank (same
   * variables under mpirun), so every rank fails together, before the
   * collective node split. */
  if ((status = read_log_level()) != TCOLL_OK) goto cleanup;
  if ((status = read_fallback(c)) != TCOLL_OK) goto cleanup;
  if ((status = read_forced_algorithms(c)) != TCOLL_OK) goto cleanup;
  if ((status = tcoll__env_get_bytes(TCOLL_ENV_TCOLL_SEGMENT_BYTES, 64, TCOLL_MAX_MESSAGE_BYTES,
                                     &c->segment_bytes)) != TCOLL_OK)
    goto cleanup;
  if ((status = tcoll__env_get_bytes(TCOLL_ENV_TCOLL_SCRATCH_KEEP_BYTES, 0, SIZE_MAX,
                                     &c->scratch_keep_bytes)) != TCOLL_OK)
    goto cleanup;
  if ((status = tcoll__env_get_bytes(TCOLL_ENV_TCOLL_SHM_CHUNK_BYTES, 64, (size_t)1 << 30,
                                     &c->shm_chunk_bytes)) != TCOLL_OK)
    goto cleanup;
  if ((status = split_nodes(c)) != TCOLL_OK) goto cleanup;
  if ((status = machine_load(c)) != TCOLL_OK) goto cleanup;
  if ((status = tcoll__shm_setup(c)) != TCOLL_OK) goto cleanup;
  if ((status = tcoll__topology_detect(c)) != TCOLL_OK) goto cleanup;
  const char *check = tcoll__env_get(TCOLL_ENV_TCOLL_CHECK_ARGS);
  if (strcmp(check, "0") != 0 && strcmp(check, "1") != 0) {
    status = tcoll__error(TCOLL_ERR_INVALID_ARG, "TCOLL_CHECK_ARGS=\"%s\" is not 0 or 1", check);
    goto cleanup;
  }
  c->check_args = check[0] == '1';
  if ((status = read_adaptive(c)) != TCOLL_OK) goto cleanup;
  if ((status = tcoll__adapt_setup(c)) != TCOLL_OK) goto cleanup;
  const char *tuning = tcoll__env_get(TCOLL_ENV_TCOLL_TUNING_FILE);
  if (tuning[0] && (status = tcoll_comm_load_tuning(c, tuning)) != TCOLL_OK) goto cleanup;
  *out = c;
  return TCOLL_OK;
cleanup:
  tcoll_comm_destroy(c);
  return status;
}

tcoll_status tcoll_comm_destroy(tcoll_comm *c) {
  tcoll_status status = TCOLL_OK;
  if (!c) return TCOLL_OK;
  tcoll__shm_free(c); /* collective on the node, before the communicator goes */
  if (c->mpi != MPI_COMM_NULL) {
    int err = MPI_Comm_free(&c->mpi);
    if (err != MPI_SUCCESS) status = tcoll__mpi_error(err, "MPI_Comm_free");
  }
  free(c->node_of_rank);
  free(c->slice_group);
  free(c->place);
  tcoll__tuning_free(c->tuning);
  tcoll__adapt_free(c);
  for (int i = 0; i < 2; i++) free(c->scratch[i]);
  free(c);
  return status;
}

int tcoll_comm_rank(const tcoll_comm *c) { return c ? c->rank : -1; }
int tcoll_comm_size(const tcoll_comm *c) { return c ? c->size : -1; }

static tcoll_status scratch_slot(tcoll_comm *c, tcoll_scratch_slot slot, size_t bytes, void **out) {
  if (bytes > c->scratch_bytes[slot]) {
    /* free + malloc, not realloc: the old contents are never needed */
    free(c->scratch[slot]);
    c->scratch[slot] = malloc(bytes);
    c->scratch_bytes[slot] = c->scratch[slot] ? bytes : 0;
    if (!c->scratch[slot]) {
      *out = NULL;
      return tcoll__error(TCOLL_ERR_NO_MEMORY, "scratch buffer of %zu bytes", bytes);
    }
  }
  *out = c->scratch[slot];
  return TCOLL_OK;
}

tcoll_status tcoll__scratch(tcoll_comm *c, size_t bytes, void **out) {
  return scratch_slot(c, TCOLL_SCRATCH_TMP, bytes, out);
}

tcoll_status tcoll__scratch_acc(tcoll_comm *c, size_t bytes, void **out) {
  return scratch_slot(c, TCOLL_SCRATCH_ACC, bytes, out);
}

void tcoll__scratch_trim(tcoll_comm *c) {
  for (int i = 0; i < 2; i++)
    if (c->scratch_bytes[i] > c->scratch_keep_bytes) {
      free(c->scratch[i]);
      c->scratch[i] = NULL;
      c->scratch_bytes[i] = 0;
    }
}

tcoll_status tcoll_comm_set_algorithm(tcoll_comm *c, tcoll_coll coll, const char *name) {
  if (!c) return tcoll__error(TCOLL_ERR_INVALID_ARG, "tcoll_comm_set_algorithm: comm is NULL");
  if ((unsigned)coll >= TCOLL_NUM_COLLS)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "tcoll_comm_set_algorithm: unknown collective %d",
                        (int)coll);
  if (!name || strcmp(name, "auto") == 0) {
    c->forced[coll] = NULL;
    return TCOLL_OK;
  }
  const tcoll_algorithm *a = tcoll__algorithm_find(coll, name);
  if (!a) {
    char names[512];
    tcoll__algorithm_names(coll, names, sizeof names);
    return tcoll__error(TCOLL_ERR_INVALID_ARG,
                        "tcoll_comm_set_algorithm: \"%s\" is not a %s algorithm (known: auto%s%s)",
                        name, tcoll__coll_name(coll), names[0] ? ", " : "", names);
  }
  c->forced[coll] = a;
  return TCOLL_OK;
}

const char *tcoll_last_algorithm(const tcoll_comm *c, tcoll_coll coll) {
  if (!c || (unsigned)coll >= TCOLL_NUM_COLLS || !c->last[coll]) return NULL;
  return c->last[coll]->name;
}

/* Rank 0's view of the file: its length, or -errno when it cannot be read. */
static char *read_file(const char *path, long long *len) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  *len = -EIO;
  if (!f) {
    *len = -(long long)errno;
    return NULL;
  }
  /* Tuning files are small; a bound keeps a wrong path (a device, a huge
   * log) from exhausting memory. */
  const long long max = 16LL << 20;
  text = malloc((size_t)max + 1);
  if (text) {
    size_t n = fread(text, 1, (size_t)max + 1, f);
    if (ferror(f)) *len = -EIO;
    else if (n > (size_t)max) *len = -EFBIG;
    else *len = (long long)n;
  } else {
    *len = -ENOMEM;
  }
  fclose(f);
  if (*len < 0) {
    free(text);
    return NULL;
  }
  return text;
}

tcoll_status tcoll_comm_load_tuning(tcoll_comm *c, const char *path) {
  if (!c) return tcoll__error(TCOLL_ERR_INVALID_ARG, "tcoll_comm_load_tuning: comm is NULL");
  if (!path) return tcoll__error(TCOLL_ERR_INVALID_ARG, "tcoll_comm_load_tuning: path is NULL");
  long long len = 0;
  char *text = c->rank == 0 ? read_file(path, &len) : NULL;
  /* Rank 0's outcome goes to every rank, so all of them fail or load together. */
  int err = MPI_Bcast(&len, 1, MPI_LONG_LONG, 0, c->mpi);
  if (err != MPI_SUCCESS) {
    free(text);
    return tcoll__mpi_error(err, "MPI_Bcast(tuning file length)");
  }
  if (len < 0)
    return tcoll__error(TCOLL_ERR_TUNING_FILE, "tuning file %s: cannot read it (on rank 0): %s", path,
                        strerror((int)-len));
  /* In pieces, so that a rank that cannot allocate still receives the same
   * messages (into a bounce buffer) rather than leave the others waiting or
   * break the broadcast's matching. */
  if (c->rank != 0) text = malloc((size_t)len + 1);
  static _Thread_local char bounce[65536];
  tcoll_status status = TCOLL_OK;
  for (long long off = 0; off < len && status == TCOLL_OK; off += (long long)sizeof bounce) {
    int n = (int)(len - off < (long long)sizeof bounce ? len - off : (long long)sizeof bounce);
    err = MPI_Bcast(text ? text + off : bounce, n, MPI_CHAR, 0, c->mpi);
    if (err != MPI_SUCCESS) status = tcoll__mpi_error(err, "MPI_Bcast(tuning file)");
  }
  if (status == TCOLL_OK && !text)
    status = tcoll__error(TCOLL_ERR_NO_MEMORY, "tuning file %s: %lld bytes", path, len);
  tcoll_tuning *t = NULL;
  if (status == TCOLL_OK) status = tcoll__tuning_parse(text, (size_t)len, path, c->rank == 0, &t);
  free(text);
  /* Install only if every rank parsed it: ranks with different tables would
   * choose different algorithms for the same call. */
  int ok = status == TCOLL_OK, all_ok = 0;
  err = MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, c->mpi);
  if (status == TCOLL_OK && err != MPI_SUCCESS) status = tcoll__mpi_error(err, "MPI_Allreduce(tuning file)");
  if (status == TCOLL_OK && !all_ok)
    status = tcoll__error(TCOLL_ERR_TUNING_FILE,
                          "tuning file %s: not loaded, another rank could not receive or parse it", path);
  if (status != TCOLL_OK) {
    tcoll__tuning_free(t);
    return status; /* the previous table stays, on every rank */
  }
  tcoll__tuning_free(c->tuning);
  c->tuning = t;
  c->model = t->has_model ? t->model : tcoll__default_cost_model;
  tcoll__select_invalidate(c);
  TCOLL_INFO("loaded tuning file %s: %zu rules%s", path, t->num_rules, t->has_model ? ", model parameters" : "");
  return TCOLL_OK;
}
