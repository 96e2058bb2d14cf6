/*
 * The one runner of the unit test programs: run a Check suite in fork mode
 * (a crashing test fails alone) and turn its verdict into the exit status.
 */
#ifndef TCOLL_TEST_CHECK_RUN_H
#define TCOLL_TEST_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int check_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
