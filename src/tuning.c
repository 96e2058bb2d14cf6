/*
 * Tuning files: JSON (cJSON) holding the model parameters per link level and
 * rules {collective, ranks, nodes, ranks_per_node, bytes} -> algorithm. The
 * format is specified in docs/tuning.md; this file is its only reader and
 * writer.
 *
 * The parser is strict about structure (unknown keys, wrong types, bad
 * ranges are errors naming the JSON path: a typo must not silently turn a
 * rule into "match everything") and lenient about algorithm names (a file
 * written by a newer tcoll still loads; the rule is disabled with a warning).
 */
#include "tuning.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse context: the source name for messages and the first error. */
typedef struct {
  const char *source;
  tcoll_status status;
  bool warn; /* one rank warns, not all of them */
} parser;

static bool fail(parser *p, const char *path, const char *fmt, const char *detail) {
  if (p->status == TCOLL_OK) {
    char what[256];
    snprintf(what, sizeof what, fmt, detail);
    p->status = tcoll__error(TCOLL_ERR_TUNING_FILE, "tuning file %s: at %s: %s", p->source, path, what);
  }
  return false;
}

/* Rejects members other than `allowed` (NULL-terminated). */
static bool only_keys(parser *p, const cJSON *obj, const char *path, const char *const *allowed) {
  const cJSON *m;
  cJSON_ArrayForEach(m, obj) {
    bool ok = false;
    for (size_t i = 0; allowed[i]; i++) ok = ok || strcmp(m->string, allowed[i]) == 0;
    if (!ok) {
      char where[128];
      snprintf(where, sizeof where, "%s.%s", path, m->string);
      return fail(p, where, "unknown key \"%s\"", m->string);
    }
  }
  return true;
}

static bool number(parser *p, const cJSON *v, const char *path, double min, double max, double *out) {
  if (!cJSON_IsNumber(v)) return fail(p, path, "%s", "expected a number");
  if (!isfinite(v->valuedouble) || v->valuedouble < min || v->valuedouble > max) {
    char range[96];
    snprintf(range, sizeof range, "%.17g is outside [%g, %g]", v->valuedouble, min, max);
    return fail(p, path, "%s", range);
  }
  *out = v->valuedouble;
  return true;
}

/* [min, max] of non-negative integers, min <= max; absent: any. */
static bool range(parser *p, const cJSON *rule, const char *key, const char *rpath, tcoll_range *out) {
  char path[128];
  snprintf(path, sizeof path, "%s.%s", rpath, key);
  out->min = 0, out->max = TCOLL_RANGE_ANY;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(rule, key);
  if (!v) return true;
  if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 2)
    return fail(p, path, "%s", "expected [min, max] (two integers, inclusive)");
  double b[2];
  for (int i = 0; i < 2; i++) {
    char ipath[160];
    snprintf(ipath, sizeof ipath, "%s[%d]", path, i);
    if (!number(p, cJSON_GetArrayItem(v, i), ipath, 0, TCOLL_RANGE_ANY, &b[i])) return false;
    if (b[i] != floor(b[i])) return fail(p, ipath, "%s", "expected an integer");
  }
  if (b[0] > b[1]) return fail(p, path, "%s", "min is greater than max");
  out->min = b[0], out->max = b[1];
  return true;
}

/* model.gamma: seconds per reduced byte per dtype class; classes not
 * listed keep the defaults. */
static bool parse_gamma(parser *p, const cJSON *g, tcoll_tuning *t) {
  if (!cJSON_IsObject(g))
    return fail(p, "model.gamma", "%s", "expected {\"integer\", \"float\", \"float16\", \"bfloat16\"} (seconds per byte reduced)");
  const cJSON *v;
  cJSON_ArrayForEach(v, g) {
    char path[128];
    snprintf(path, sizeof path, "model.gamma.%s", v->string);
    int k = -1;
    for (int i = 0; i < TCOLL_NUM_GAMMA_CLASSES; i++)
      if (strcmp(v->string, tcoll__gamma_class_name((tcoll_gamma_class)i)) == 0) k = i;
    if (k < 0) return fail(p, path, "unknown dtype class \"%s\" (integer, float, float16, bfloat16)", v->string);
    /* one second per byte is not a machine, it is a typo */
    if (!number(p, v, path, 0, 1, &t->model.gamma[k])) return false;
    t->gamma_listed[k] = true;
  }
  return true;
}

static bool parse_model(parser *p, const cJSON *model, tcoll_tuning *t) {
  if (!cJSON_IsObject(model)) return fail(p, "model", "%s", "expected an object of levels and \"gamma\"");
  t->has_model = true;
  t->model = tcoll__default_cost_model;
  const cJSON *lv;
  cJSON_ArrayForEach(lv, model) {
    if (strcmp(lv->string, "gamma") == 0) {
      if (!parse_gamma(p, lv, t)) return false;
      continue;
    }
    char path[128];
    snprintf(path, sizeof path, "model.%s", lv->string);
    int level = -1;
    for (int l = 0; l < TCOLL_NUM_LEVELS; l++)
      if (strcmp(lv->string, tcoll__level_name((tcoll_level)l)) == 0) level = l;
    if (level < 0)
      return fail(p, path, "unknown key \"%s\" (levels l3, numa, package, node, network; gamma)", lv->string);
    static const char *const keys[] = {"alpha", "beta", NULL};
    if (!cJSON_IsObject(lv)) return fail(p, path, "%s", "expected {alpha, beta}");
    if (cJSON_GetObjectItemCaseSensitive(lv, "gamma"))
      return fail(p, path, "%s",
                  "gamma is per dtype class since version 2: move it to model.gamma "
                  "({\"float\": ..., ...}, docs/tuning.md)");
    if (!only_keys(p, lv, path, keys)) return false;
    double *dst[2] = {&t->model.level[level].alpha, &t->model.level[level].beta};
    for (int k = 0; k < 2; k++) {
      char kpath[160];
      snprintf(kpath, sizeof kpath, "%s.%s", path, keys[k]);
      const cJSON *v = cJSON_GetObjectItemCaseSensitive(lv, keys[k]);
      if (!v) return fail(p, kpath, "%s", "missing (seconds, >= 0)");
      /* one second per message or per byte is not a machine, it is a typo */
      if (!number(p, v, kpath, 0, 1, dst[k])) return false;
    }
    t->level_listed[level] = true;
  }
  return true;
}

static bool parse_rule(parser *p, const cJSON *r, size_t index, tcoll_rule *out) {
  char path[64];
  snprintf(path, sizeof path, "rules[%zu]", index);
  static const char *const keys[] = {"collective", "ranks", "nodes", "ranks_per_node", "bytes", "algorithm", NULL};
  if (!cJSON_IsObject(r)) return fail(p, path, "%s", "expected an object");
  if (!only_keys(p, r, path, keys)) return false;
  char kpath[96];
  const cJSON *coll = cJSON_GetObjectItemCaseSensitive(r, "collective");
  snprintf(kpath, sizeof kpath, "%s.collective", path);
  if (!cJSON_IsString(coll)) return fail(p, kpath, "%s", "expected a collective name (e.g. \"allreduce\")");
  int found = -1;
  for (int k = 0; k < TCOLL_NUM_COLLS; k++)
    if (strcmp(coll->valuestring, tcoll__coll_name((tcoll_coll)k)) == 0) found = k;
  if (found < 0) return fail(p, kpath, "unknown collective \"%s\"", coll->valuestring);
  out->coll = (tcoll_coll)found;
  const cJSON *alg = cJSON_GetObjectItemCaseSensitive(r, "algorithm");
  snprintf(kpath, sizeof kpath, "%s.algorithm", path);
  if (!cJSON_IsString(alg)) return fail(p, kpath, "%s", "expected an algorithm name");
  if (strlen(alg->valuestring) >= sizeof out->algorithm) return fail(p, kpath, "%s", "name too long");
  strcpy(out->algorithm, alg->valuestring);
  out->alg = tcoll__algorithm_find(out->coll, out->algorithm);
  if (!out->alg && p->warn)
    TCOLL_WARN("tuning file %s: %s: %s has no algorithm \"%s\" (made by another tcoll version?); "
               "rule disabled",
               p->source, path, tcoll__coll_name(out->coll), out->algorithm);
  return range(p, r, "ranks", path, &out->ranks) && range(p, r, "nodes", path, &out->nodes) &&
         range(p, r, "ranks_per_node", path, &out->ranks_per_node) && range(p, r, "bytes", path, &out->bytes);
}

/* Copies a provenance object as compact JSON text (free-form by design). */
static bool provenance(parser *p, const cJSON *v, const char *key, char *dst, size_t dstlen) {
  dst[0] = '\0';
  if (!v) return true;
  if (!cJSON_IsObject(v)) return fail(p, key, "%s", "expected an object");
  char *s = cJSON_PrintUnformatted(v);
  if (!s) return fail(p, key, "%s", "out of memory");
  snprintf(dst, dstlen, "%s", s);
  cJSON_free(s);
  return true;
}

/* Line and column (1-based) of byte offset `at` in text. */
static void line_column(const char *text, size_t at, int *line, int *col) {
  *line = 1, *col = 1;
  for (size_t i = 0; i < at; i++) {
    if (text[i] == '\n') (*line)++, *col = 1;
    else (*col)++;
  }
}

tcoll_status tcoll__tuning_parse(const char *text, size_t len, const char *source, bool warn,
                                 tcoll_tuning **out) {
  *out = NULL;
  parser p = {.source = source, .status = TCOLL_OK, .warn = warn};
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  if (!root) {
    int line, col;
    size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : len;
    line_column(text, at, &line, &col);
    /* cJSON stops at the last character it accepted: at the end of the
     * (trimmed) text that means the text ended too early */
    size_t trimmed = len;
    while (trimmed > 0 && strchr(" \t\r\n", text[trimmed - 1])) trimmed--;
    return tcoll__error(TCOLL_ERR_TUNING_FILE, "tuning file %s: line %d, column %d: %s", source, line, col,
                        at + 1 >= trimmed ? "unexpected end of file (truncated?)" : "invalid JSON");
  }
  tcoll_tuning *t = calloc(1, sizeof *t);
  if (!t) {
    cJSON_Delete(root);
    return tcoll__error(TCOLL_ERR_NO_MEMORY, "tuning file %s", source);
  }
  snprintf(t->source, sizeof t->source, "%s", source);
  static const char *const keys[] = {"format", "version", "created", "topology", "model", "rules", NULL};
  const cJSON *v;
  if (!cJSON_IsObject(root)) {
    fail(&p, "$", "%s", "expected a JSON object");
    goto done;
  }
  if (!only_keys(&p, root, "$", keys)) goto done;
  v = cJSON_GetObjectItemCaseSensitive(root, "format");
  if (!cJSON_IsString(v) || strcmp(v->valuestring, TCOLL_TUNING_FORMAT) != 0) {
    fail(&p, "format", "%s", "expected \"" TCOLL_TUNING_FORMAT "\"");
    goto done;
  }
  v = cJSON_GetObjectItemCaseSensitive(root, "version");
  if (cJSON_IsNumber(v) && v->valuedouble == 1) {
    fail(&p, "version", "%s",
         "version 1 (gamma per link level) is no longer read: re-run tcoll-tune, or set version 2 and "
         "move gamma to model.gamma per dtype class (docs/tuning.md)");
    goto done;
  }
  if (!cJSON_IsNumber(v) || v->valuedouble != TCOLL_TUNING_VERSION) {
    fail(&p, "version", "%s", "expected 2 (the only version this tcoll reads)");
    goto done;
  }
  if (!provenance(&p, cJSON_GetObjectItemCaseSensitive(root, "created"), "created", t->created, sizeof t->created) ||
      !provenance(&p, cJSON_GetObjectItemCaseSensitive(root, "topology"), "topology", t->topology,
                  sizeof t->topology))
    goto done;
  v = cJSON_GetObjectItemCaseSensitive(root, "model");
  if (v && !parse_model(&p, v, t)) goto done;
  v = cJSON_GetObjectItemCaseSensitive(root, "rules");
  if (v) {
    if (!cJSON_IsArray(v)) {
      fail(&p, "rules", "%s", "expected an array");
      goto done;
    }
    size_t n = (size_t)cJSON_GetArraySize(v);
    t->rules = calloc(n ? n : 1, sizeof *t->rules);
    if (!t->rules) {
      p.status = tcoll__error(TCOLL_ERR_NO_MEMORY, "tuning file %s: %zu rules", source, n);
      goto done;
    }
    const cJSON *r;
    cJSON_ArrayForEach(r, v) {
      if (!parse_rule(&p, r, t->num_rules, &t->rules[t->num_rules])) goto done;
      t->num_rules++;
    }
  }
done:
  cJSON_Delete(root);
  if (p.status != TCOLL_OK) {
    tcoll__tuning_free(t);
    return p.status;
  }
  *out = t;
  return TCOLL_OK;
}

void tcoll__tuning_free(tcoll_tuning *t) {
  if (!t) return;
  free(t->rules);
  free(t);
}

static bool in(const tcoll_range *r, double v) { return v >= r->min && v <= r->max; }

bool tcoll__rule_matches(const tcoll_rule *r, const tcoll_comm *c, const tcoll_call *call) {
  /* ranks per node: the largest node's, identical on every rank even when
   * nodes are uneven */
  return r->coll == call->coll && in(&r->ranks, c->size) && in(&r->nodes, c->num_nodes) &&
         in(&r->ranks_per_node, c->max_local_size) && in(&r->bytes, (double)call->bytes);
}

int tcoll__tuning_lookup(const tcoll_tuning *t, const tcoll_comm *c, const tcoll_call *call) {
  if (!t) return -1;
  for (size_t i = 0; i < t->num_rules; i++) {
    char why[192];
    if (t->rules[i].alg && tcoll__rule_matches(&t->rules[i], c, call) &&
        t->rules[i].alg->check(c, call, why, sizeof why))
      return (int)i;
  }
  return -1;
}

/* A number printed so that it parses back to the same double: cJSON's own
 * printer keeps 15 significant digits when it judges them close enough, which
 * turned 2^53 into 9007199254740990 (found by tests/fuzz). */
static cJSON *exact_number(double v) {
  char text[32];
  snprintf(text, sizeof text, "%.17g", v);
  return cJSON_CreateRaw(text);
}

static cJSON *range_json(const tcoll_range *r) {
  cJSON *a = cJSON_CreateArray();
  if (a) {
    cJSON_AddItemToArray(a, exact_number(r->min));
    cJSON_AddItemToArray(a, exact_number(r->max));
  }
  return a;
}

char *tcoll__tuning_write(const tcoll_tuning *t) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
  cJSON_AddStringToObject(root, "format", TCOLL_TUNING_FORMAT);
  cJSON_AddNumberToObject(root, "version", TCOLL_TUNING_VERSION);
  const char *prov_key[2] = {"created", "topology"};
  const char *prov[2] = {t->created, t->topology};
  for (int i = 0; i < 2; i++)
    if (prov[i][0]) {
      cJSON *o = cJSON_Parse(prov[i]);
      if (o) cJSON_AddItemToObject(root, prov_key[i], o);
    }
  if (t->has_model) {
    cJSON *m = cJSON_AddObjectToObject(root, "model");
    for (int l = 0; m && l < TCOLL_NUM_LEVELS; l++) {
      if (!t->level_listed[l]) continue;
      cJSON *lv = cJSON_AddObjectToObject(m, tcoll__level_name((tcoll_level)l));
      if (!lv) continue;
      cJSON_AddItemToObject(lv, "alpha", exact_number(t->model.level[l].alpha));
      cJSON_AddItemToObject(lv, "beta", exact_number(t->model.level[l].beta));
    }
    bool any_gamma = false;
    for (int k = 0; k < TCOLL_NUM_GAMMA_CLASSES; k++) any_gamma = any_gamma || t->gamma_listed[k];
    cJSON *g = m && any_gamma ? cJSON_AddObjectToObject(m, "gamma") : NULL;
    for (int k = 0; g && k < TCOLL_NUM_GAMMA_CLASSES; k++)
      if (t->gamma_listed[k])
        cJSON_AddItemToObject(g, tcoll__gamma_class_name((tcoll_gamma_class)k), exact_number(t->model.gamma[k]));
  }
  cJSON *rules = cJSON_AddArrayToObject(root, "rules");
  for (size_t i = 0; rules && i < t->num_rules; i++) {
    const tcoll_rule *r = &t->rules[i];
    cJSON *o = cJSON_CreateObject();
    if (!o) break;
    cJSON_AddStringToObject(o, "collective", tcoll__coll_name(r->coll));
    const char *names[4] = {"ranks", "nodes", "ranks_per_node", "bytes"};
    const tcoll_range *ranges[4] = {&r->ranks, &r->nodes, &r->ranks_per_node, &r->bytes};
    for (int k = 0; k < 4; k++)
      if (ranges[k]->min != 0 || ranges[k]->max != TCOLL_RANGE_ANY)
        cJSON_AddItemToObject(o, names[k], range_json(ranges[k]));
    cJSON_AddStringToObject(o, "algorithm", r->algorithm);
    cJSON_AddItemToArray(rules, o);
  }
  char *s = cJSON_Print(root);
  cJSON_Delete(root);
  return s;
}
