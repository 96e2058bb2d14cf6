/* Logging: one line per event, "tcoll[rank] file:line message", to stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tcoll_internal.h"

int tcoll__log_threshold = TCOLL_LOG_WARN;

static int world_rank(void) {
  int initialized = 0, finalized = 0, rank = -1;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

void tcoll__log(tcoll_log_level level, const char *file, int line, const char *fmt, ...) {
  static const char *const level_names[] = {"WARN", "INFO", "TRACE"};
  const char *base = strrchr(file, '/');
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* One fprintf so lines from different ranks do not interleave mid-line. */
  fprintf(stderr, "tcoll[%d] %s %s:%d %s\n", world_rank(), level_names[level], base ? base + 1 : file,
          line, msg);
}
