/*
 * tcoll-info: what this tcoll knows.
 *
 *   tcoll-info --algorithms        every algorithm with its summary
 *   tcoll-info --env               the TCOLL_* environment: value, default, help
 *   mpirun ... tcoll-info --topology
 *                                  what a communicator detected: nodes, ranks
 *                                  per node, each rank's place, the level
 *                                  between neighbours
 *   tcoll-info --explain --coll allreduce --bytes 1M --nodes 64 --ranks-per-node 8
 *              [--topology-xml FILE] [--tuning FILE] [--dtype float32] [--op sum]
 *                                  the candidate table and choice for a
 *                                  hypothetical job, offline: no MPI
 *                                  collective runs, at any scale
 *
 * The offline job places local rank i of every node on core i of the machine
 * described by --topology-xml (Open MPI's default --map-by core --bind-to
 * core); ranks beyond the core count are spread evenly. Without a machine
 * file every pair on a node is at the node level.
 */
#include <hwloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm.h"
#include "topology.h"
#include "tuning.h"

static int usage(const char *why) {
  if (why) fprintf(stderr, "tcoll-info: %s\n", why);
  fprintf(stderr,
          "usage: tcoll-info --algorithms | --env | --topology (under mpirun)\n"
          "       tcoll-info --explain --coll C --bytes N[K|M|G] --nodes N --ranks-per-node K\n"
          "                  [--topology-xml FILE] [--tuning FILE] [--dtype D] [--op O]\n");
  return 2;
}

static void print_algorithms(void) {
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    const tcoll_algorithm *a;
    printf("%s:\n", tcoll__coll_name((tcoll_coll)k));
    for (size_t i = 0; (a = tcoll__algorithm_at((tcoll_coll)k, i)) != NULL; i++)
      printf("  %-20s %s\n", a->name, a->summary);
  }
}

static void print_env(void) {
  for (int i = 0; i < TCOLL_ENV_COUNT; i++) {
    const char *v = getenv(tcoll__env_table[i].name);
    printf("%-26s = %-10s (default \"%s\")\n    %s\n", tcoll__env_table[i].name, v && *v ? v : "(unset)",
           tcoll__env_table[i].default_value, tcoll__env_table[i].help);
  }
}

static int print_topology(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  tcoll_comm *c = NULL;
  int rc = 0;
  /* Each rank's host name, so that the node split can be compared with where
   * mpirun put the ranks (emulated hosts: scripts/cluster). */
  char host[MPI_MAX_PROCESSOR_NAME] = "";
  int len = 0, size = 1, rank = 0;
  MPI_Get_processor_name(host, &len);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  char *hosts = rank == 0 ? calloc((size_t)size, MPI_MAX_PROCESSOR_NAME) : NULL;
  MPI_Gather(host, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, hosts, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (tcoll_comm_create(MPI_COMM_WORLD, &c) != TCOLL_OK) {
    fprintf(stderr, "tcoll-info: tcoll_comm_create: %s\n", tcoll_last_error());
    rc = 1;
  } else if (c->rank == 0) {
    printf("%d ranks on %d node(s), largest node %d ranks; %d rank(s) unbound\n", c->size, c->num_nodes,
           c->max_local_size, c->unbound_ranks);
    printf("%6s %6s %-16s %6s %8s %6s %6s  level to next rank\n", "rank", "node", "host", "bound", "package",
           "numa", "l3");
    for (int r = 0; r < c->size; r++)
      printf("%6d %6d %-16s %6s %8d %6d %6d  %s\n", r, c->node_of_rank[r],
             hosts ? hosts + (size_t)r * MPI_MAX_PROCESSOR_NAME : "?", c->place[r].bound ? "yes" : "no",
             c->place[r].package, c->place[r].numa, c->place[r].l3,
             c->size > 1 ? tcoll__level_name(tcoll__level_between(c, r, (r + 1) % c->size)) : "-");
    printf("(-1: unknown, charged at the node level)\n");
  }
  free(hosts);
  tcoll_comm_destroy(c);
  MPI_Finalize();
  return rc;
}

/* The hypothetical job's communicator: no MPI, nothing but the tables. */
typedef struct {
  tcoll_comm c;
  int *node_of_rank;
  tcoll_place *place;
  /* Stands for the shared segment the job's nodes would have (the ranks of
   * a node share memory), so that the shm algorithms are candidates; the
   * offline job never runs a collective. */
  tcoll_shm segment;
} offline_job;

static int build_job(offline_job *job, long nodes, long rpn, const char *xml) {
  memset(job, 0, sizeof *job);
  tcoll_comm *c = &job->c;
  c->mpi = MPI_COMM_NULL;
  c->size = (int)(nodes * rpn);
  c->num_nodes = (int)nodes;
  c->local_size = c->max_local_size = (int)rpn;
  c->model = tcoll__default_cost_model;
  c->segment_bytes = 1 << 20;
  if (tcoll__env_get_bytes(TCOLL_ENV_TCOLL_SEGMENT_BYTES, 64, TCOLL_MAX_MESSAGE_BYTES, &c->segment_bytes) !=
      TCOLL_OK) {
    fprintf(stderr, "tcoll-info: %s\n", tcoll_last_error());
    return 1;
  }
  /* what the job's calls would do: TCOLL_ADAPTIVE's candidates are listed */
  c->adaptive = strcmp(tcoll__env_get(TCOLL_ENV_TCOLL_ADAPTIVE), "0") != 0;
  if (tcoll__env_get_bytes(TCOLL_ENV_TCOLL_ADAPTIVE_MIN_BYTES, 0, SIZE_MAX, &c->adaptive_min_bytes) != TCOLL_OK) {
    fprintf(stderr, "tcoll-info: %s\n", tcoll_last_error());
    return 1;
  }
  c->shm_chunk_bytes = 512 << 10;
  if (tcoll__env_get_bytes(TCOLL_ENV_TCOLL_SHM_CHUNK_BYTES, 64, (size_t)1 << 30, &c->shm_chunk_bytes) != TCOLL_OK) {
    fprintf(stderr, "tcoll-info: %s\n", tcoll_last_error());
    return 1;
  }
  job->segment.size = (int)rpn;
  job->segment.chunk_bytes = c->shm_chunk_bytes;
  /* Single copy between the ranks of a node is assumed, as Open MPI's own
   * shared-memory transport assumes it: a real job probes it at set-up and
   * cma declines there, with the reason, when ptrace rules or a seccomp
   * profile refuse it. */
  job->segment.single_copy = true;
  c->shm = &job->segment;
  c->min_local_size = (int)rpn;
  /* several nodes: each would have its own segment (hierarchical) */
  if (nodes > 1) c->node_shm = &job->segment;
  job->node_of_rank = malloc(sizeof(int) * (size_t)c->size);
  if (!job->node_of_rank) return 1;
  for (int r = 0; r < c->size; r++) job->node_of_rank[r] = r / (int)rpn;
  c->node_of_rank = job->node_of_rank;
  if (!xml) return 0;
  hwloc_topology_t t;
  if (hwloc_topology_init(&t) != 0 || hwloc_topology_set_xml(t, xml) != 0 || hwloc_topology_load(t) != 0) {
    fprintf(stderr, "tcoll-info: cannot load hwloc XML %s\n", xml);
    return 1;
  }
  int cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
  job->place = malloc(sizeof(tcoll_place) * (size_t)c->size);
  if (cores <= 0 || !job->place) {
    fprintf(stderr, "tcoll-info: %s has no cores\n", xml);
    hwloc_topology_destroy(t);
    return 1;
  }
  for (int r = 0; r < c->size; r++) {
    long i = r % rpn;
    int core = (int)(rpn <= cores ? i : i * cores / rpn);
    tcoll__place_of_cpuset(t, hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, (unsigned)core)->cpuset, &job->place[r]);
  }
  c->place = job->place;
  printf("machine %s: %d packages, %d NUMA nodes, %d L3, %d cores; local rank i on core i\n", xml,
         hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE), hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE),
         hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_L3CACHE), cores);
  hwloc_topology_destroy(t);
  return 0;
}

static int lookup(const char *what, const char *name, int n, const char *(*name_of)(int), int *out) {
  for (int i = 0; i < n; i++)
    if (strcmp(name, name_of(i)) == 0) {
      *out = i;
      return 0;
    }
  fprintf(stderr, "tcoll-info: unknown %s \"%s\"\n", what, name);
  return 1;
}
static const char *coll_name(int i) { return tcoll__coll_name((tcoll_coll)i); }
static const char *dtype_name(int i) { return tcoll__dtype_name((tcoll_dtype)i); }
static const char *op_name(int i) { return tcoll__op_name((tcoll_op)i); }

static int read_whole(const char *path, char **text, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return 1;
  *text = malloc(16 << 20);
  *len = *text ? fread(*text, 1, 16 << 20, f) : 0;
  fclose(f);
  return *text ? 0 : 1;
}

static int explain(const char *coll, const char *bytes, long nodes, long rpn, const char *xml, const char *tuning,
                   const char *dtype, const char *op) {
  int k, d, o;
  size_t nbytes;
  if (!coll || !bytes || nodes < 1 || rpn < 1)
    return usage("--explain needs --coll, --bytes, --nodes >= 1 and --ranks-per-node >= 1");
  if (nodes * rpn > (1L << 24)) return usage("more than 2^24 ranks");
  if (lookup("collective", coll, TCOLL_NUM_COLLS, coll_name, &k) || lookup("dtype", dtype, TCOLL_NUM_DTYPES, dtype_name, &d) ||
      lookup("op", op, TCOLL_NUM_OPS, op_name, &o))
    return 2;
  if (tcoll__parse_bytes(bytes, &nbytes) != TCOLL_OK) return usage("--bytes: expected N with optional K, M or G");
  offline_job job;
  int rc = build_job(&job, nodes, rpn, xml);
  if (rc == 0 && tuning) {
    char *text = NULL;
    size_t len = 0;
    if (read_whole(tuning, &text, &len) != 0) {
      fprintf(stderr, "tcoll-info: cannot read %s\n", tuning);
      rc = 1;
    } else if (tcoll__tuning_parse(text, len, tuning, true, &job.c.tuning) != TCOLL_OK) {
      fprintf(stderr, "tcoll-info: %s\n", tcoll_last_error());
      rc = 1;
    } else if (job.c.tuning->has_model) {
      job.c.model = job.c.tuning->model;
    }
    free(text);
  }
  if (rc == 0) {
    size_t esize = tcoll__dtype_size((tcoll_dtype)d);
    tcoll_call call = {.coll = (tcoll_coll)k, .count = nbytes / esize, .dtype = (tcoll_dtype)d, .op = (tcoll_op)o,
                       .elem_size = esize};
    call.bytes = call.count * esize;
    char buf[8192];
    tcoll__explain(&job.c, &call, buf, sizeof buf);
    printf("levels crossed: ring hop %s, farthest %s\n", tcoll__level_name(tcoll__level_at_distance(&job.c, 1)),
           tcoll__level_name(tcoll__span_level(&job.c)));
    fputs(buf, stdout);
  }
  tcoll__tuning_free(job.c.tuning);
  free(job.node_of_rank);
  free(job.place);
  return rc;
}

int main(int argc, char **argv) {
  const char *mode = NULL, *coll = NULL, *bytes = NULL, *xml = NULL, *tuning = NULL, *dtype = "float32",
             *op = "sum";
  long nodes = 1, rpn = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--algorithms") || !strcmp(a, "--env") || !strcmp(a, "--topology") || !strcmp(a, "--explain"))
      mode = a;
    else if (!next) return usage("an option is missing its value");
    else if (!strcmp(a, "--coll")) coll = argv[++i];
    else if (!strcmp(a, "--bytes")) bytes = argv[++i];
    else if (!strcmp(a, "--nodes")) nodes = strtol(argv[++i], NULL, 10);
    else if (!strcmp(a, "--ranks-per-node")) rpn = strtol(argv[++i], NULL, 10);
    else if (!strcmp(a, "--topology-xml")) xml = argv[++i];
    else if (!strcmp(a, "--tuning")) tuning = argv[++i];
    else if (!strcmp(a, "--dtype")) dtype = argv[++i];
    else if (!strcmp(a, "--op")) op = argv[++i];
    else return usage("unknown option");
  }
  if (!mode) return usage(NULL);
  if (!strcmp(mode, "--algorithms")) print_algorithms();
  else if (!strcmp(mode, "--env")) print_env();
  else if (!strcmp(mode, "--topology")) return print_topology(argc, argv);
  else return explain(coll, bytes, nodes, rpn, xml, tuning, dtype, op);
  return 0;
}
