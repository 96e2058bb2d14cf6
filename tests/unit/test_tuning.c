/*
 * Tuning files without MPI: a table of valid and invalid files (status and
 * the place named in the message), rule matching at range boundaries, the
 * writer round trip, and selection with rules (a rule overrides the model, a
 * rule whose algorithm declines falls through, the cache is invalidated).
 */
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_comm.h"
#include "tuning.h"


static tcoll_call call_of(tcoll_coll coll, size_t bytes) {
  tcoll_call call = {.coll = coll, .count = bytes, .dtype = TCOLL_UINT8, .op = TCOLL_SUM, .elem_size = 1,
                     .bytes = bytes};
  return call;
}

#define HEAD "{\"format\": \"tcoll-tuning\", \"version\": 2, "

static tcoll_tuning *parse_ok(const char *text) {
  tcoll_tuning *t = NULL;
  tcoll_status s = tcoll__tuning_parse(text, strlen(text), "t.json", true, &t);
  ck_assert_msg(s == TCOLL_OK, "%s: %s", text, tcoll_last_error());
  return t;
}

START_TEST(test_files_table) {
  static const struct {
    const char *text;
    bool ok;
    const char *place; /* expected in the message (invalid files) */
  } rows[] = {
      {HEAD "\"rules\": []}", true, NULL},
      {HEAD "\"created\": {\"host\": \"h\", \"date\": \"2026-11-26T15:00:00Z\"}, \"topology\": {\"nodes\": 2}, "
            "\"model\": {\"network\": {\"alpha\": 2e-6, \"beta\": 1e-10}, \"gamma\": {\"float\": 1e-10}}, "
            "\"rules\": [{\"collective\": \"allreduce\", \"ranks\": [1, 8], \"nodes\": [1, 1], "
            "\"ranks_per_node\": [1, 8], \"bytes\": [0, 4096], \"algorithm\": \"ring\"}]}",
       true, NULL},
      /* overlapping rules are valid: the first match wins */
      {HEAD "\"rules\": [{\"collective\": \"bcast\", \"bytes\": [0, 100], \"algorithm\": \"binomial_tree\"}, "
            "{\"collective\": \"bcast\", \"bytes\": [50, 200], \"algorithm\": \"scatter_allgather\"}]}",
       true, NULL},
      /* unknown algorithm: loads, the rule is disabled */
      {HEAD "\"rules\": [{\"collective\": \"allreduce\", \"algorithm\": \"from_the_future\"}]}", true, NULL},
      {"", false, "line 1, column 1"},
      {HEAD "\"rules\": [", false, "unexpected end of file"},
      {"{\n  \"format\": \"tcoll-tuning\",\n  \"version\": 2,\n  \"rules\": [}\n", false, "line 4, column"},
      {"[1, 2]", false, "at $"},
      {"{\"format\": \"other\", \"version\": 2}", false, "at format"},
      {"{\"format\": \"tcoll-tuning\", \"version\": 3}", false, "at version: expected 2"},
      {"{\"format\": \"tcoll-tuning\", \"version\": 1}", false, "at version: version 1 (gamma per link level)"},
      {"{\"format\": \"tcoll-tuning\"}", false, "at version"},
      {HEAD "\"rulez\": []}", false, "at $.rulez: unknown key"},
      {HEAD "\"rules\": {}}", false, "at rules: expected an array"},
      {HEAD "\"rules\": [{\"collective\": \"allreduce\", \"algorithm\": \"ring\", \"byte\": [0, 1]}]}", false,
       "at rules[0].byte: unknown key"},
      {HEAD "\"rules\": [{\"collective\": 3, \"algorithm\": \"ring\"}]}", false, "at rules[0].collective"},
      {HEAD "\"rules\": [{\"collective\": \"alltoall\", \"algorithm\": \"ring\"}]}", false,
       "unknown collective \"alltoall\""},
      {HEAD "\"rules\": [{\"collective\": \"allreduce\"}]}", false, "at rules[0].algorithm"},
      {HEAD "\"rules\": [{\"collective\": \"allreduce\", \"algorithm\": \"ring\", \"bytes\": [-1, 5]}]}", false,
       "at rules[0].bytes[0]: -1 is outside"},
      {HEAD "\"rules\": [{\"collective\": \"allreduce\", \"algorithm\": \"ring\", \"ranks\": [9, 2]}]}", false,
       "at rules[0].ranks: min is greater than max"},
      {HEAD "\"rules\": [{\"collective\": \"allreduce\", \"algorithm\": \"ring\", \"ranks\": [1]}]}", false,
       "at rules[0].ranks: expected [min, max]"},
      {HEAD "\"rules\": [{\"collective\": \"allreduce\", \"algorithm\": \"ring\", \"nodes\": [1, 2.5]}]}", false,
       "at rules[0].nodes[1]: expected an integer"},
      {HEAD "\"rules\": [{\"collective\": \"allreduce\", \"algorithm\": \"ring\", \"bytes\": [0, 1e300]}]}", false,
       "at rules[0].bytes[1]"},
      {HEAD "\"rules\": [{\"collective\": \"allreduce\", \"algorithm\": \"ring\", \"bytes\": [0, \"1M\"]}]}",
       false, "at rules[0].bytes[1]: expected a number"},
      {HEAD "\"model\": {\"numa\": {\"alpha\": 1e-6}}}", false, "at model.numa.beta: missing"},
      {HEAD "\"model\": {\"numa\": {\"alpha\": 1e-6, \"beta\": 1e-10, \"gamma\": 0}}}", false,
       "at model.numa: gamma is per dtype class since version 2"},
      {HEAD "\"model\": {\"rack\": {\"alpha\": 1e-6, \"beta\": 1e-10}}}", false,
       "at model.rack: unknown key"},
      {HEAD "\"model\": {\"l3\": {\"alpha\": -1e-6, \"beta\": 1e-10}}}", false,
       "at model.l3.alpha"},
      {HEAD "\"model\": {\"l3\": {\"alpha\": 1e400, \"beta\": 1e-10}}}", false, "at model.l3.alpha"},
      {HEAD "\"model\": {\"gamma\": {\"float\": 1e-10, \"complex\": 1e-10}}}", false,
       "at model.gamma.complex: unknown dtype class"},
      {HEAD "\"model\": {\"gamma\": {\"float\": \"fast\"}}}", false, "at model.gamma.float"},
      {HEAD "\"model\": {\"gamma\": {\"float\": 2}}}", false, "at model.gamma.float"},
      {HEAD "\"model\": {\"gamma\": [1e-10]}}", false, "at model.gamma: expected"},
      {HEAD "\"model\": {\"gamma\": {\"bfloat16\": 9e-10}}}", true, NULL},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    tcoll_tuning *t = NULL;
    tcoll_status s = tcoll__tuning_parse(rows[i].text, strlen(rows[i].text), "dir/t.json", true, &t);
    ck_assert_msg((s == TCOLL_OK) == rows[i].ok, "row %zu: status %d (%s)", i, s, tcoll_last_error());
    if (rows[i].ok) {
      ck_assert_ptr_nonnull(t);
    } else {
      ck_assert_int_eq(s, TCOLL_ERR_TUNING_FILE);
      ck_assert_ptr_null(t);
      ck_assert_msg(strstr(tcoll_last_error(), "dir/t.json") && strstr(tcoll_last_error(), rows[i].place),
                    "row %zu: \"%s\" lacks the path or \"%s\"", i, tcoll_last_error(), rows[i].place);
    }
    tcoll__tuning_free(t);
  }
}
END_TEST

/* Ranges are inclusive at both ends; each dimension is checked. */
START_TEST(test_rule_boundaries) {
  tcoll_tuning *t = parse_ok(HEAD "\"rules\": [{\"collective\": \"allreduce\", \"ranks\": [4, 8], \"nodes\": "
                                  "[2, 2], \"ranks_per_node\": [2, 4], \"bytes\": [1024, 2048], "
                                  "\"algorithm\": \"ring\"}]}");
  const tcoll_rule *r = &t->rules[0];
  static const struct {
    int p, nodes;
    size_t bytes;
    bool match;
  } rows[] = {
      {4, 2, 1024, true},  {8, 2, 2048, true}, {4, 2, 1023, false}, {4, 2, 2049, false},
      {3, 2, 1024, false}, {9, 2, 1024, false}, {4, 1, 1024, false}, {6, 3, 1024, false},
      {8, 2, 1500, true},  /* rpn 4 */
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    tcoll_comm c = fake_comm(rows[i].p, rows[i].nodes);
    tcoll_call call = call_of(TCOLL_ALLREDUCE, rows[i].bytes);
    ck_assert_msg(tcoll__rule_matches(r, &c, &call) == rows[i].match, "row %zu", i);
  }
  /* ranks_per_node is the largest node's: 5 ranks on 2 nodes -> 3, outside [2, 4]? no: inside */
  tcoll_comm c = fake_comm(8, 2);
  c.max_local_size = 5; /* uneven: 5 + 3 */
  tcoll_call call = call_of(TCOLL_ALLREDUCE, 1024);
  ck_assert(!tcoll__rule_matches(r, &c, &call));
  call.coll = TCOLL_BCAST;
  c.max_local_size = 4;
  ck_assert(!tcoll__rule_matches(r, &c, &call)); /* other collective */
  tcoll__tuning_free(t);
}
END_TEST

START_TEST(test_writer_round_trip) {
  const char *text = HEAD "\"created\": {\"host\": \"h\"}, "
                          "\"model\": {\"network\": {\"alpha\": 2.0000000000000003e-06, \"beta\": 1e-10}, "
                          "\"gamma\": {\"integer\": 1e-11, \"bfloat16\": 3.0000000000000004e-11}}, "
                          "\"rules\": [{\"collective\": \"reduce_scatter\", \"ranks\": [2, 64], \"bytes\": "
                          "[1, 9007199254740992], \"algorithm\": \"pairwise\"}, {\"collective\": \"bcast\", "
                          "\"algorithm\": \"no_such\"}]}";
  tcoll_tuning *a = parse_ok(text);
  char *written = tcoll__tuning_write(a);
  ck_assert_ptr_nonnull(written);
  tcoll_tuning *b = parse_ok(written);
  ck_assert_uint_eq(b->num_rules, 2);
  ck_assert(b->has_model);
  ck_assert(memcmp(&a->model, &b->model, sizeof a->model) == 0);
  /* classes the file names are replaced, the others keep the defaults */
  ck_assert_double_eq(a->model.gamma[TCOLL_GAMMA_BFLOAT16], 3.0000000000000004e-11);
  ck_assert_double_eq(a->model.gamma[TCOLL_GAMMA_INTEGER], 1e-11);
  ck_assert_double_eq(a->model.gamma[TCOLL_GAMMA_FLOAT], tcoll__default_cost_model.gamma[TCOLL_GAMMA_FLOAT]);
  ck_assert_double_eq(a->model.level[TCOLL_LEVEL_L3].alpha, tcoll__default_cost_model.level[TCOLL_LEVEL_L3].alpha);
  for (size_t i = 0; i < 2; i++) {
    ck_assert(memcmp(&a->rules[i], &b->rules[i], sizeof a->rules[i]) == 0);
  }
  ck_assert_str_eq(b->rules[1].algorithm, "no_such");
  ck_assert_ptr_null(b->rules[1].alg);
  ck_assert_str_eq(b->created, "{\"host\":\"h\"}");
  /* only what the file listed is written back: defaults are not measurements */
  ck_assert_ptr_null(strstr(written, "\"l3\""));
  ck_assert_ptr_null(strstr(written, "\"float\""));
  ck_assert_ptr_nonnull(strstr(written, "\"network\""));
  ck_assert(b->level_listed[TCOLL_LEVEL_NETWORK] && !b->level_listed[TCOLL_LEVEL_L3]);
  ck_assert(b->gamma_listed[TCOLL_GAMMA_BFLOAT16] && !b->gamma_listed[TCOLL_GAMMA_FLOAT]);
  free(written);
  tcoll__tuning_free(a);
  tcoll__tuning_free(b);
}
END_TEST

START_TEST(test_selection_with_rules) {
  tcoll_comm c = fake_comm(6, 1);
  const tcoll_algorithm *a = NULL;
  tcoll_choice_source src;
  tcoll_call small = call_of(TCOLL_ALLGATHER, 8);
  ck_assert_int_eq(tcoll__select(&c, &small, &a, &src), TCOLL_OK);
  ck_assert_int_eq(src, TCOLL_SOURCE_COST_MODEL);
  const tcoll_algorithm *model_choice = a;
  /* rule 0 names an algorithm that declines at p = 6 (recursive doubling
   * needs a power of two), rule 1 is disabled, rule 2 applies */
  c.tuning = parse_ok(HEAD "\"rules\": [{\"collective\": \"allgather\", \"algorithm\": \"recursive_doubling\"}, "
                           "{\"collective\": \"allgather\", \"algorithm\": \"unknown_one\"}, "
                           "{\"collective\": \"allgather\", \"bytes\": [0, 8], \"algorithm\": \"ring\"}]}");
  ck_assert_str_ne(model_choice->name, "ring"); /* else the test proves nothing */
  /* the cached model choice would hide the new table: loading invalidates */
  ck_assert_int_eq(tcoll__select(&c, &small, &a, &src), TCOLL_OK);
  ck_assert_ptr_eq(a, model_choice);
  tcoll__select_invalidate(&c);
  ck_assert_int_eq(tcoll__select(&c, &small, &a, &src), TCOLL_OK);
  ck_assert_str_eq(a->name, "ring");
  ck_assert_int_eq(src, TCOLL_SOURCE_RULE);
  ck_assert_int_eq(tcoll__select(&c, &small, &a, &src), TCOLL_OK); /* cached: same source */
  ck_assert_int_eq(src, TCOLL_SOURCE_RULE);
  char text[4096];
  tcoll__explain(&c, &small, text, sizeof text);
  ck_assert_msg(strstr(text, "choice: ring (rule 2 of t.json)") != NULL, "%s", text);
  ck_assert_msg(strstr(text, "rule 0 (recursive_doubling) matches but declines: needs a power-of-two") != NULL,
                "%s", text);
  ck_assert_msg(strstr(text, "rule 1 (unknown_one) matches but is disabled") != NULL, "%s", text);
  /* outside the rule's bytes: the model again */
  tcoll_call big = call_of(TCOLL_ALLGATHER, 9);
  ck_assert_int_eq(tcoll__select(&c, &big, &a, &src), TCOLL_OK);
  ck_assert_int_eq(src, TCOLL_SOURCE_COST_MODEL);
  /* forced beats rules */
  c.forced[TCOLL_ALLGATHER] = &tcoll__allgather_bruck;
  ck_assert_int_eq(tcoll__select(&c, &small, &a, &src), TCOLL_OK);
  ck_assert_str_eq(a->name, "bruck");
  ck_assert_int_eq(src, TCOLL_SOURCE_FORCED);
  tcoll__tuning_free(c.tuning);
}
END_TEST

/* The built-in model's choices at the extremes, on 2 nodes x 4 ranks. */
START_TEST(test_model_properties) {
  tcoll_comm c = fake_comm(8, 2);
  const tcoll_algorithm *a = NULL;
  tcoll_choice_source src;
  tcoll_call small = call_of(TCOLL_ALLREDUCE, 8), big = call_of(TCOLL_ALLREDUCE, 64 << 20);
  ck_assert_int_eq(tcoll__select(&c, &small, &a, &src), TCOLL_OK);
  ck_assert_msg(strcmp(a->name, "recursive_doubling") == 0 || strcmp(a->name, "binomial_tree") == 0, "%s",
                a->name);
  ck_assert_int_eq(tcoll__select(&c, &big, &a, &src), TCOLL_OK);
  ck_assert_msg(strcmp(a->name, "rabenseifner") == 0 || strcmp(a->name, "ring") == 0, "%s", a->name);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tuning");
  TCase *tc = tcase_create("tuning");
  tcase_add_test(tc, test_files_table);
  tcase_add_test(tc, test_rule_boundaries);
  tcase_add_test(tc, test_writer_round_trip);
  tcase_add_test(tc, test_selection_with_rules);
  tcase_add_test(tc, test_model_properties);
  suite_add_tcase(s, tc);
  return check_run(s);
}
