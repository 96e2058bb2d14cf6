/* Statuses and the thread-local detail of the last failure. */
#include <stdarg.h>
#include <stdio.h>

#include "tcoll_internal.h"

/* Thread-local so concurrent threads using different communicators do not
 * overwrite each other's messages. */
static _Thread_local char last_error[1024];

const char *tcoll_status_string(tcoll_status s) {
  switch (s) {
#define TCOLL_X_CASE(name, text) \
  case name:                     \
    return text;
    TCOLL_STATUS_LIST(TCOLL_X_CASE)
#undef TCOLL_X_CASE
  }
  return "unknown status";
}

const char *tcoll_last_error(void) { return last_error; }

tcoll_status tcoll__error(tcoll_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  TCOLL_INFO("%s: %s", tcoll_status_string(s), last_error);
  return s;
}

tcoll_status tcoll__mpi_error(int mpi_err, const char *what) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(mpi_err, text, &len) != MPI_SUCCESS) snprintf(text, sizeof text, "code %d", mpi_err);
  return tcoll__error(TCOLL_ERR_MPI, "%s failed: %s", what, text);
}

const char *tcoll_version(void) {
#define TCOLL_STR2(x) #x
#define TCOLL_STR(x) TCOLL_STR2(x)
  return TCOLL_STR(TCOLL_VERSION_MAJOR) "." TCOLL_STR(TCOLL_VERSION_MINOR) "." TCOLL_STR(
      TCOLL_VERSION_PATCH);
}
