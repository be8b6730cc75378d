/*
 * Runs the shared vector suite (every .json file in contract/vectors) through the C ABI.
 *
 * The checks mirror the Rust reference runner, core/contract/vectors.rs: for every case, every field
 * of `expect` is compared by JSON value equality (numbers by value, so 1 == 1.0) against the JSON
 * the C API returns. Ops: bucket, decide (with `exposure`, `trace_reasons`, `hash`), flag, load,
 * request_error, pseudonymize, error.
 *
 * In addition, each `decide` case whose request the JSON-free path can express (no `forced`;
 * context values all strings, numbers or bools) is decided again with vario_snapshot_decide, and
 * that decision must agree with the JSON path's.
 *
 * Usage: vectors [VECTOR_DIR]   (default contract/vectors). Exit 0 when every case passed and at
 * least MIN_CASES ran; 1 otherwise, listing every mismatch.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* The suite holds 648 cases today; fewer than this means files went missing or were not read. */
#define MIN_CASES 600

/* ------------------------------------------------------------------------------------------ */
/* Mismatch list */

static char **g_errors = NULL;
static size_t g_nerrors = 0, g_caperrors = 0;

static void add_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    if (!msg) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    if (g_nerrors == g_caperrors) {
        g_caperrors = g_caperrors ? g_caperrors * 2 : 64;
        char **bigger = realloc(g_errors, g_caperrors * sizeof *bigger);
        if (!bigger) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        g_errors = bigger;
    }
    g_errors[g_nerrors++] = msg;
}

/* cJSON_PrintUnformatted of a value for messages ("(none)" for NULL); free with free(). */
static char *show(const cJSON *v) {
    char *s = v ? cJSON_PrintUnformatted(v) : NULL;
    return s ? s : strdup("(none)");
}

/* ------------------------------------------------------------------------------------------ */
/* JSON helpers */

/* JSON equality where numbers compare by value (1 == 1.0); object member order is free. */
static bool json_eq(const cJSON *a, const cJSON *b) {
    if (!a || !b) return a == b;
    if (cJSON_IsNumber(a) && cJSON_IsNumber(b)) return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a) && cJSON_IsString(b)) return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsBool(a) && cJSON_IsBool(b)) return cJSON_IsTrue(a) == cJSON_IsTrue(b);
    if (cJSON_IsNull(a) && cJSON_IsNull(b)) return true;
    if (cJSON_IsArray(a) && cJSON_IsArray(b)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return false;
        for (const cJSON *x = a->child, *y = b->child; x && y; x = x->next, y = y->next)
            if (!json_eq(x, y)) return false;
        return true;
    }
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return false;
        for (const cJSON *x = a->child; x; x = x->next) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            if (!y || !json_eq(x, y)) return false;
        }
        return true;
    }
    return false;
}

static cJSON *g_null; /* a JSON null, for fields absent from a result */

/* Compares every member of `expect` (except those in `skip`) with the same member of `got`. */
static void compare(const char *id, const char *what, const cJSON *expect, const cJSON *got,
                    const char *const *skip) {
    for (const cJSON *want = expect ? expect->child : NULL; want; want = want->next) {
        bool skipped = false;
        for (const char *const *s = skip; s && *s; s++) skipped |= strcmp(*s, want->string) == 0;
        if (skipped) continue;
        const cJSON *have = cJSON_GetObjectItemCaseSensitive(got, want->string);
        if (!have) have = g_null;
        if (!json_eq(want, have)) {
            char *w = show(want), *h = show(have);
            add_error("%s: %s.%s: expected %s, got %s", id, what, want->string, w, h);
            free(w);
            free(h);
        }
    }
}

static void hex_of(const char *s, char *out /* 2*strlen(s)+1 */) {
    static const char digits[] = "0123456789abcdef";
    size_t i = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        out[i++] = digits[*p >> 4];
        out[i++] = digits[*p & 15];
    }
    out[i] = '\0';
}

/* ------------------------------------------------------------------------------------------ */
/* Raw JSON spans.
 *
 * cJSON keeps numbers as doubles, so re-serialising a parsed request or snapshot would turn `3.0`
 * into `3` (targeting vectors such as tgt-eq_num-float check exactly that distinction). The C API
 * is therefore given the exact bytes of the vector file: this minimal scanner finds the text span
 * of a value, and each span is cross-checked against cJSON's parse of the same value. */

typedef struct {
    const char *p;
    size_t n;
} span;

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

/* The end of the JSON value starting at `p` (after whitespace), or NULL if it is malformed. */
static const char *skip_value(const char *p) {
    p = skip_ws(p);
    if (*p == '"') {
        for (p++; *p && *p != '"'; p++)
            if (*p == '\\' && !*++p) return NULL;
        return *p ? p + 1 : NULL;
    }
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        p = skip_ws(p + 1);
        if (*p == close) return p + 1;
        for (;;) {
            if (close == '}') { /* key, then ':' */
                if (*p != '"' || !(p = skip_value(p))) return NULL;
                p = skip_ws(p);
                if (*p++ != ':') return NULL;
            }
            if (!(p = skip_value(p))) return NULL;
            p = skip_ws(p);
            if (*p == ',') {
                p = skip_ws(p + 1);
                continue;
            }
            return *p == close ? p + 1 : NULL;
        }
    }
    const char *start = p; /* number, true, false, null */
    while (*p && strchr("+-.0123456789eEtrufalsn", *p)) p++;
    return p > start ? p : NULL;
}

/* The span of member `key` of the object starting at `obj`; false when absent or malformed.
 * Keys are compared byte for byte (the vector files use plain ASCII keys). */
static bool member_span(const char *obj, const char *key, span *out) {
    const char *p = skip_ws(obj);
    if (*p != '{') return false;
    p = skip_ws(p + 1);
    size_t klen = strlen(key);
    while (*p == '"') {
        const char *kend = skip_value(p);
        if (!kend) return false;
        bool match = (size_t)(kend - p - 2) == klen && memcmp(p + 1, key, klen) == 0;
        p = skip_ws(kend);
        if (*p++ != ':') return false;
        const char *vstart = skip_ws(p), *vend = skip_value(vstart);
        if (!vend) return false;
        if (match) {
            out->p = vstart;
            out->n = (size_t)(vend - vstart);
            return true;
        }
        p = skip_ws(vend);
        if (*p != ',') return false;
        p = skip_ws(p + 1);
    }
    return false;
}

/* A NUL-terminated copy of the span of member `key` of `obj`, checked to parse to the same JSON as
 * cJSON's `node`; NULL (and an error for case `id`) when the scanner and cJSON disagree. */
static char *raw_member(const char *id, const char *obj, const char *key, const cJSON *node) {
    span s;
    if (!member_span(obj, key, &s)) {
        add_error("%s: raw text of `%s` not found", id, key);
        return NULL;
    }
    char *text = xmalloc(s.n + 1);
    memcpy(text, s.p, s.n);
    text[s.n] = '\0';
    cJSON *reparsed = cJSON_Parse(text);
    bool same = reparsed && json_eq(reparsed, node);
    cJSON_Delete(reparsed);
    if (!same) {
        add_error("%s: raw text of `%s` does not match the parsed value", id, key);
        free(text);
        return NULL;
    }
    return text;
}

/* ------------------------------------------------------------------------------------------ */
/* RFC 3339 */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Reads `n` digits at `s`; -1 if any is not a digit. */
static int64_t digits(const char *s, int n) {
    int64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parses `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)` to milliseconds since the epoch. The vectors use
 * only the `.sssZ` form; offsets are accepted for completeness. Returns false for anything else. */
static bool parse_rfc3339_ms(const char *s, int64_t *out) {
    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return false;
    int64_t y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int64_t h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
        se > 59)
        return false;
    const char *p = s + 19;
    int64_t ms = 0;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3) ms = ms * 10 + (*p - '0'); /* finer fractions are truncated */
        if (n == 0) return false;
        for (; n < 3; n++) ms *= 10;
    }
    int64_t offset_min = 0;
    if (*p == 'Z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        int64_t oh = digits(p + 1, 2), om = digits(p + 4, 2);
        if (oh < 0 || om < 0) return false;
        offset_min = (*p == '+' ? 1 : -1) * (oh * 60 + om);
        p += 6;
    } else {
        return false;
    }
    if (*p) return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset_min * 60;
    *out = secs * 1000 + ms;
    return true;
}

/* ------------------------------------------------------------------------------------------ */
/* Per-case context */

typedef struct {
    const char *id;
    const cJSON *expect;       /* the case's `expect` object (may be NULL) */
    const cJSON *raw_snapshot; /* parsed snapshot JSON in use (file's or case's), or NULL */
    const vario_snapshot *snap;
    const char *snapshot_text; /* the exact text of that snapshot in the vector file, or NULL */
} case_ctx;

/* Counters for the summary line. */
static int g_decide_json_free = 0, g_decide_json_free_skipped = 0;

/* The case's `now` in ms (0 when absent, like the reference runner); false if it does not parse. */
static bool case_now(const cJSON *c, const char *id, int64_t *now) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(c, "now");
    *now = 0;
    if (!n) return true;
    if (!cJSON_IsString(n) || !parse_rfc3339_ms(n->valuestring, now)) {
        char *s = show(n);
        add_error("%s: cannot parse now %s", id, s);
        free(s);
        return false;
    }
    return true;
}

static void run_bucket(const case_ctx *k, const cJSON *c) {
    const char *unit = json_str(c, "unit_id"), *key = json_str(c, "key"), *salt = json_str(c, "salt");
    double seedd = json_num(c, "seed", 0);
    if (!unit || !key || !salt || seedd < 0 || seedd > 4294967295.0) {
        add_error("%s: malformed bucket case", k->id);
        return;
    }
    uint32_t seed = (uint32_t)seedd, digest = 0, bucket = 0;
    vario_status s1 = vario_digest(unit, key, salt, seed, &digest);
    vario_status s2 = vario_bucket(unit, key, salt, seed, &bucket);
    if (s1 != VARIO_OK || s2 != VARIO_OK) {
        add_error("%s: vario_digest/vario_bucket failed (%d/%d): %s", k->id, s1, s2, last_error_text());
        return;
    }
    /* The hashed input is "unit:key:salt" (SPEC §1). */
    size_t n = strlen(unit) + strlen(key) + strlen(salt) + 3;
    char *input = xmalloc(n), *hex = xmalloc(2 * n + 1);
    snprintf(input, n, "%s:%s:%s", unit, key, salt);
    hex_of(input, hex);
    cJSON *got = cJSON_CreateObject();
    cJSON_AddStringToObject(got, "hash_input_hex", hex);
    cJSON_AddNumberToObject(got, "digest", digest);
    cJSON_AddNumberToObject(got, "bucket", bucket);
    compare(k->id, "bucket", k->expect, got, NULL);
    cJSON_Delete(got);
    free(input);
    free(hex);
}

static void run_pseudonymize(const case_ctx *k, const cJSON *c) {
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(c, "key");
    const char *unit = json_str(c, "unit_id");
    if (!unit || !(cJSON_IsNull(key) || cJSON_IsString(key))) {
        add_error("%s: malformed pseudonymize case", k->id);
        return;
    }
    char *out = NULL;
    if (vario_pseudonymize(cJSON_IsString(key) ? key->valuestring : NULL, unit, &out) != VARIO_OK) {
        add_error("%s: vario_pseudonymize failed: %s", k->id, last_error_text());
        return;
    }
    cJSON *got = cJSON_CreateObject();
    cJSON_AddStringToObject(got, "value", out);
    compare(k->id, "pseudonymize", k->expect, got, NULL);
    cJSON_Delete(got);
    vario_string_free(out);
}

static int strcmp_ptr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted, de-duplicated "code\x1fitem" strings of a lint list (the reference compares sets). */
static size_t lint_set(const cJSON *list, char ***out) {
    size_t n = 0, cap = (size_t)cJSON_GetArraySize(list);
    char **v = xcalloc(cap, sizeof *v);
    for (const cJSON *l = list ? list->child : NULL; l; l = l->next) {
        const char *code = json_str(l, "code"), *item = json_str(l, "item");
        if (asprintf(&v[n], "%s\x1f%s", code ? code : "", item ? item : "") < 0) v[n] = NULL;
        if (v[n]) n++;
    }
    qsort(v, n, sizeof *v, strcmp_ptr);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && strcmp(v[m - 1], v[i]) == 0)
            free(v[i]);
        else
            v[m++] = v[i];
    }
    *out = v;
    return m;
}

static void free_strings(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

/* Dummy target for poisoning out-pointers: a failing call must reset them to NULL. */
static char g_poison;

static void run_load(const case_ctx *k, const cJSON *c) {
    const char *text = json_str(c, "snapshot_text");
    if (!text) {
        add_error("%s: load case without snapshot_text", k->id);
        return;
    }
    const cJSON *want_err = cJSON_GetObjectItemCaseSensitive(k->expect, "error");
    const cJSON *want_lints = cJSON_GetObjectItemCaseSensitive(k->expect, "lints");
    vario_snapshot *s = (vario_snapshot *)(void *)&g_poison;
    vario_status st = vario_snapshot_from_json(text, &s);
    if (st != VARIO_OK) {
        const char *code = vario_last_error_code();
        if (s != NULL) add_error("%s: *out not NULL after a failed load", k->id);
        if (st != VARIO_ERR_INVALID_SNAPSHOT)
            add_error("%s: load returned status %d, expected VARIO_ERR_INVALID_SNAPSHOT", k->id, st);
        if (!want_err)
            add_error("%s: unexpected rejection %s (%s)", k->id, last_code_text(), last_error_text());
        else if (!cJSON_IsString(want_err) || !code || strcmp(code, want_err->valuestring) != 0) {
            char *w = show(want_err);
            add_error("%s: expected error %s, got %s (%s)", k->id, w, last_code_text(), last_error_text());
            free(w);
        }
        return;
    }
    if (want_err) {
        char *w = show(want_err);
        add_error("%s: expected rejection %s, snapshot loaded", k->id, w);
        free(w);
    } else if (want_lints) {
        char *json = NULL;
        if (vario_snapshot_lints_json(s, &json) != VARIO_OK) {
            add_error("%s: vario_snapshot_lints_json failed: %s", k->id, last_error_text());
        } else {
            cJSON *got = cJSON_Parse(json);
            if (!cJSON_IsArray(got)) add_error("%s: lints are not a JSON array: %s", k->id, json);
            char **w = NULL, **g = NULL;
            size_t nw = lint_set(want_lints, &w), ng = lint_set(got, &g);
            bool same = nw == ng;
            for (size_t i = 0; same && i < nw; i++) same = strcmp(w[i], g[i]) == 0;
            if (!same) {
                char *ws = show(want_lints);
                add_error("%s: lints: expected %s, got %s", k->id, ws, json);
                free(ws);
            }
            free_strings(w, nw);
            free_strings(g, ng);
            cJSON_Delete(got);
        }
        vario_string_free(json);
    }
    vario_snapshot_free(s);
}

static void run_request_error(const case_ctx *k, const cJSON *c, const char *case_raw) {
    char *req = raw_member(k->id, case_raw, "request", cJSON_GetObjectItemCaseSensitive(c, "request"));
    if (!req) return;
    char *out = &g_poison;
    vario_status st = vario_snapshot_decide_json(k->snap, req, 0, &out);
    const char *code = vario_last_error_code();
    const char *want = json_str(k->expect, "error");
    if (st == VARIO_OK) {
        add_error("%s: request accepted, expected an error", k->id);
        vario_string_free(out);
    } else if (st != VARIO_ERR_INVALID_REQUEST) {
        add_error("%s: status %d (%s), expected VARIO_ERR_INVALID_REQUEST", k->id, st, last_code_text());
    } else {
        if (out != NULL) add_error("%s: *out not NULL after a refused request", k->id);
        if (!want || !code || strcmp(want, code) != 0)
            add_error("%s: expected error %s, got code %s", k->id, want ? want : "(none)", last_code_text());
    }
    free(req);
}

static void run_flag(const case_ctx *k, const cJSON *c, const char *case_raw) {
    const char *flag = json_str(c, "flag");
    int64_t now;
    if (!flag) {
        add_error("%s: flag case without `flag`", k->id);
        return;
    }
    if (!case_now(c, k->id, &now)) return;
    char *req = raw_member(k->id, case_raw, "request", cJSON_GetObjectItemCaseSensitive(c, "request"));
    if (!req) return;
    char *out = NULL;
    if (vario_snapshot_flag_json(k->snap, flag, req, now, &out) != VARIO_OK) {
        add_error("%s: request refused: %s", k->id, last_error_text());
    } else {
        cJSON *got = cJSON_Parse(out);
        if (!got) add_error("%s: flag result is not JSON: %s", k->id, out);
        compare(k->id, "flag", k->expect, got, NULL);
        cJSON_Delete(got);
    }
    vario_string_free(out);
    free(req);
}

/* Key and salt of experiment `key` in raw snapshot JSON (salt defaults to the key). */
static const char *salt_of(const cJSON *snap, const char *key) {
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(snap, "experiments")) {
        const char *k = json_str(e, "key");
        if (k && strcmp(k, key) == 0) {
            const char *salt = json_str(e, "salt");
            return salt ? salt : key;
        }
    }
    return NULL;
}

/* `expect.hash`: the enrolling experiment's hash input, digest and bucket. The unit id is the
 * part of the decision's hash_key ("{experiment_key}:{unit_id}") after the key. */
static void check_hash(const case_ctx *k, const cJSON *want, const cJSON *dec) {
    const char *ek = json_str(dec, "experiment_key"), *hk = json_str(dec, "hash_key");
    size_t ekl = ek ? strlen(ek) : 0;
    const char *salt = ek ? salt_of(k->raw_snapshot, ek) : NULL;
    if (!ek || !hk || !salt || strncmp(hk, ek, ekl) != 0 || hk[ekl] != ':') {
        add_error("%s: expected a hash, but the decision has no experiment/unit", k->id);
        return;
    }
    const char *unit = hk + ekl + 1;
    const cJSON *hashing = cJSON_GetObjectItemCaseSensitive(k->raw_snapshot, "hashing");
    uint32_t seed = (uint32_t)json_num(hashing, "seed", 0), digest = 0;
    if (vario_digest(unit, ek, salt, seed, &digest) != VARIO_OK) {
        add_error("%s: vario_digest failed: %s", k->id, last_error_text());
        return;
    }
    size_t n = strlen(unit) + ekl + strlen(salt) + 3;
    char *input = xmalloc(n), *hex = xmalloc(2 * n + 1);
    snprintf(input, n, "%s:%s:%s", unit, ek, salt);
    hex_of(input, hex);
    const cJSON *bucket = cJSON_GetObjectItemCaseSensitive(dec, "bucket");
    cJSON *got = cJSON_CreateObject();
    cJSON_AddStringToObject(got, "input_hex", hex);
    cJSON_AddNumberToObject(got, "digest", digest);
    cJSON_AddItemToObject(got, "bucket", bucket ? cJSON_Duplicate(bucket, true) : cJSON_CreateNull());
    compare(k->id, "hash", want, got, NULL);
    cJSON_Delete(got);
    free(input);
    free(hex);
}

/* Compares a string field of the JSON-free decision with the JSON decision's (NULL == null). */
static void agree_str(const char *id, const char *field, const char *have, const cJSON *dec) {
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(dec, field);
    bool ok = have ? (cJSON_IsString(want) && strcmp(have, want->valuestring) == 0) : cJSON_IsNull(want);
    if (!ok) {
        char *w = show(want);
        add_error("%s: JSON-free %s is %s, JSON path has %s", id, field, have ? have : "NULL", w);
        free(w);
    }
}

/* Compares a numeric field; `none` is the C value meaning JSON null (-1, -1.0, 0). */
static void agree_num(const char *id, const char *field, double have, double none, const cJSON *dec) {
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(dec, field);
    bool ok = cJSON_IsNumber(want) ? want->valuedouble == have : (cJSON_IsNull(want) && have == none);
    if (!ok) {
        char *w = show(want);
        add_error("%s: JSON-free %s is %g, JSON path has %s", id, field, have, w);
        free(w);
    }
}

/* Decides the case again on the JSON-free path (vario_snapshot_decide) when its request can be
 * expressed there, and checks that it agrees with the JSON path's decision `dec`. The context is
 * reused from case to case (cleared each time), as a host would. */
static void check_json_free(const case_ctx *k, const cJSON *request, int64_t now, const cJSON *dec,
                            vario_context *ctx) {
    const cJSON *forced = cJSON_GetObjectItemCaseSensitive(request, "forced");
    const cJSON *context = cJSON_GetObjectItemCaseSensitive(request, "context");
    const cJSON *consent = cJSON_GetObjectItemCaseSensitive(request, "consent");
    const cJSON *user = cJSON_GetObjectItemCaseSensitive(request, "user_id");
    const cJSON *session = cJSON_GetObjectItemCaseSensitive(request, "session_id");
    const char *placement = json_str(context, "placement");
    const cJSON *v;
    bool expressible = placement && (!forced || cJSON_IsNull(forced));
    cJSON_ArrayForEach(v, context) {
        expressible &= cJSON_IsString(v) || cJSON_IsNumber(v) || cJSON_IsBool(v);
    }
    if (!expressible) {
        g_decide_json_free_skipped++;
        return;
    }
    g_decide_json_free++;

    if (vario_context_clear(ctx) != VARIO_OK) add_error("%s: vario_context_clear failed", k->id);
    int attributes = 0;
    cJSON_ArrayForEach(v, context) {
        /* placement travels in vario_request.placement; the engine falls back to it for the
         * `placement` targeting attribute, so it is deliberately not repeated in the context. */
        if (strcmp(v->string, "placement") == 0) continue;
        vario_status st = cJSON_IsString(v)   ? vario_context_set_str(ctx, v->string, v->valuestring)
                          : cJSON_IsNumber(v) ? vario_context_set_f64(ctx, v->string, v->valuedouble)
                                              : vario_context_set_bool(ctx, v->string, cJSON_IsTrue(v));
        if (st != VARIO_OK) add_error("%s: setting context `%s` failed: %s", k->id, v->string, last_error_text());
        attributes++;
    }
    vario_request req = {0};
    req.placement = placement;
    req.user_id = cJSON_IsString(user) ? user->valuestring : NULL;
    req.session_id = cJSON_IsString(session) ? session->valuestring : NULL;
    req.context = attributes ? ctx : NULL; /* also exercises the NULL-context path */
    req.opted_out = cJSON_IsFalse(consent);
    vario_decision d;
    if (vario_snapshot_decide(k->snap, &req, now, &d) != VARIO_OK) {
        add_error("%s: vario_snapshot_decide failed: %s", k->id, last_error_text());
        return;
    }
    static const char *const units[] = {NULL, "user", "session"};
    agree_str(k->id, "reason", vario_reason_name(d.reason), dec);
    agree_str(k->id, "variant", d.variant, dec);
    agree_str(k->id, "experiment_key", d.experiment_key, dec);
    agree_str(k->id, "unit_type", d.unit_type <= VARIO_UNIT_SESSION ? units[d.unit_type] : "?", dec);
    agree_num(k->id, "bucket", d.bucket, -1, dec);
    agree_num(k->id, "config_version", (double)d.config_version, -1, dec);
    agree_num(k->id, "allocation_share", d.allocation_share, -1.0, dec);
    agree_num(k->id, "iteration", (double)d.iteration, 0, dec);
    if (d.holder != NULL) add_error("%s: a snapshot decision has a holder", k->id);
    cJSON *params = d.params_json ? cJSON_Parse(d.params_json) : NULL;
    const cJSON *want = cJSON_GetObjectItemCaseSensitive(dec, "params");
    if (!params || !json_eq(params, want)) {
        char *w = show(want);
        add_error("%s: JSON-free params_json %s, JSON path has %s", k->id, d.params_json ? d.params_json : "NULL",
                  w);
        free(w);
    }
    cJSON_Delete(params);
}

static void run_decide(const case_ctx *k, const cJSON *c, const char *case_raw, vario_context *ctx) {
    int64_t now;
    if (!k->snap) {
        add_error("%s: no snapshot", k->id);
        return;
    }
    if (!case_now(c, k->id, &now)) return;
    const cJSON *request = cJSON_GetObjectItemCaseSensitive(c, "request");
    char *req = raw_member(k->id, case_raw, "request", request);
    if (!req) return;
    char *out = NULL, *xout = NULL;
    cJSON *dec = NULL, *exposure = NULL;
    if (vario_snapshot_decide_json(k->snap, req, now, &out) != VARIO_OK) {
        add_error("%s: request refused: %s", k->id, last_error_text());
        goto done;
    }
    if (!(dec = cJSON_Parse(out))) {
        add_error("%s: decision is not JSON: %s", k->id, out);
        goto done;
    }
    static const char *const skip[] = {"exposure", "trace_reasons", "hash", NULL};
    compare(k->id, "decision", k->expect, dec, skip);

    const cJSON *want = cJSON_GetObjectItemCaseSensitive(k->expect, "exposure");
    if (want) {
        if (vario_snapshot_exposure_json(k->snap, req, now, &xout) != VARIO_OK) {
            add_error("%s: vario_snapshot_exposure_json failed: %s", k->id, last_error_text());
        } else if (!(exposure = cJSON_Parse(xout))) {
            add_error("%s: exposure is not JSON: %s", k->id, xout);
        } else if (cJSON_IsNull(want) && !cJSON_IsNull(exposure)) {
            add_error("%s: expected no exposure, got %s", k->id, xout);
        } else if (cJSON_IsObject(want) && cJSON_IsObject(exposure)) {
            compare(k->id, "exposure", want, exposure, NULL);
        } else if (cJSON_IsObject(want)) {
            char *w = show(want);
            add_error("%s: expected exposure %s, got %s", k->id, w, xout);
            free(w);
        } else if (!cJSON_IsNull(want)) {
            add_error("%s: bad exposure expectation", k->id);
        }
    }

    want = cJSON_GetObjectItemCaseSensitive(k->expect, "trace_reasons");
    if (want) {
        /* [[experiment_key, reason], …] from the decision's trace (empty without one). */
        cJSON *got = cJSON_CreateArray();
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(dec, "trace")) {
            cJSON *pair = cJSON_CreateArray();
            const cJSON *ek = cJSON_GetObjectItemCaseSensitive(t, "experiment_key");
            const cJSON *reason = cJSON_GetObjectItemCaseSensitive(t, "reason");
            cJSON_AddItemToArray(pair, ek ? cJSON_Duplicate(ek, true) : cJSON_CreateNull());
            cJSON_AddItemToArray(pair, reason ? cJSON_Duplicate(reason, true) : cJSON_CreateNull());
            cJSON_AddItemToArray(got, pair);
        }
        if (!json_eq(want, got)) {
            char *w = show(want), *g = show(got);
            add_error("%s: trace_reasons: expected %s, got %s", k->id, w, g);
            free(w);
            free(g);
        }
        cJSON_Delete(got);
    }

    want = cJSON_GetObjectItemCaseSensitive(k->expect, "hash");
    if (cJSON_IsObject(want)) check_hash(k, want, dec);

    check_json_free(k, request, now, dec, ctx);

done:
    cJSON_Delete(exposure);
    cJSON_Delete(dec);
    vario_string_free(xout);
    vario_string_free(out);
    free(req);
}

/* ------------------------------------------------------------------------------------------ */

/* Loads snapshot text; NULL (with an error for `id`) when it is rejected. */
/* A JSON array of strings as a C array (NULL on a malformed case). */
static const char **string_array(const cJSON *list, size_t *n) {
    *n = (size_t)cJSON_GetArraySize(list);
    const char **v = xmalloc((*n ? *n : 1) * sizeof *v);
    size_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, list) {
        if (!cJSON_IsString(x)) {
            free(v);
            return NULL;
        }
        v[i++] = x->valuestring;
    }
    return v;
}

/* Method names as the C API's values; an unknown name is passed as an out-of-range value. */
static uint32_t method_value(const char *name) {
    if (name && strcmp(name, "team_draft") == 0) return VARIO_INTERLEAVE_TEAM_DRAFT;
    if (name && strcmp(name, "balanced") == 0) return VARIO_INTERLEAVE_BALANCED;
    return 99;
}

static const char *const WINNER_NAMES[] = {"a", "b", "tie", "none"};

/* `interleave` (merge, then credit the clicks when given) and `credit` (on the given teams) cases:
 * the result as the JSON the vectors expect, or the error code. */
static void run_interleave(const case_ctx *k, const cJSON *c, bool merge) {
    size_t na, nb;
    const char **a = string_array(cJSON_GetObjectItemCaseSensitive(c, "a"), &na);
    const char **b = string_array(cJSON_GetObjectItemCaseSensitive(c, "b"), &nb);
    uint32_t method = method_value(json_str(c, "method"));
    const cJSON *clicks_j = cJSON_GetObjectItemCaseSensitive(c, "clicks");
    size_t nclicks = clicks_j ? (size_t)cJSON_GetArraySize(clicks_j) : 0, n = 0, i = 0;
    size_t *clicks = xmalloc((nclicks ? nclicks : 1) * sizeof *clicks);
    const cJSON *x;
    cJSON_ArrayForEach(x, clicks_j) clicks[i++] = (size_t)x->valuedouble;
    uint32_t *index = xmalloc((na + nb + 1) * sizeof *index);
    uint8_t *teams = xmalloc(na + nb + 8);
    cJSON *got = cJSON_CreateObject();
    vario_status st = VARIO_OK;
    if (!a || !b) {
        add_error("%s: malformed interleave case", k->id);
        goto done;
    }
    if (merge) {
        const cJSON *len = cJSON_GetObjectItemCaseSensitive(c, "length");
        st = vario_interleave(method, a, na, b, nb, json_str(c, "unit_id"), json_str(c, "key"), json_str(c, "salt"),
                              json_str(c, "query"), (uint32_t)json_num(c, "seed", 0),
                              len ? (int64_t)len->valuedouble : -1, index, teams, na + nb, &n);
        if (st == VARIO_OK) {
            cJSON *items = cJSON_AddArrayToObject(got, "items"), *tj = cJSON_AddArrayToObject(got, "teams");
            for (i = 0; i < n; i++) {
                cJSON_AddItemToArray(items, cJSON_CreateString(teams[i] == VARIO_TEAM_A ? a[index[i]] : b[index[i]]));
                cJSON_AddItemToArray(tj, cJSON_CreateString(teams[i] == VARIO_TEAM_A ? "a" : "b"));
            }
        }
    } else {
        const cJSON *t;
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(c, "teams")) {
            const char *name = cJSON_IsString(t) ? t->valuestring : "";
            teams[n++] = strcmp(name, "a") == 0 ? VARIO_TEAM_A : strcmp(name, "b") == 0 ? VARIO_TEAM_B : 7;
            if (n == na + nb + 8) break;
        }
    }
    if (st == VARIO_OK && (!merge || clicks_j)) {
        uint32_t ca = 0, cb = 0;
        st = vario_credit(method, a, na, b, nb, teams, n, clicks, nclicks, &ca, &cb);
        if (st == VARIO_OK) {
            cJSON *credit = cJSON_AddObjectToObject(got, "credit");
            cJSON_AddNumberToObject(credit, "a", ca);
            cJSON_AddNumberToObject(credit, "b", cb);
            cJSON_AddStringToObject(got, "winner", WINNER_NAMES[vario_winner(ca, cb)]);
        }
    }
    if (st != VARIO_OK) {
        cJSON_Delete(got);
        got = cJSON_CreateObject();
        cJSON_AddStringToObject(got, "code", vario_last_error_code());
    }
    compare(k->id, merge ? "interleave" : "credit", k->expect, got, NULL);
    if (!cJSON_GetObjectItemCaseSensitive(k->expect, "code") != !cJSON_GetObjectItemCaseSensitive(got, "code")) {
        char *s = show(got);
        add_error("%s: expected %s, got %s", k->id, cJSON_GetObjectItemCaseSensitive(k->expect, "code") ? "an error" : "a result", s);
        free(s);
    }
done:
    cJSON_Delete(got);
    free(a);
    free(b);
    free(clicks);
    free(index);
    free(teams);
}

static vario_snapshot *load_snapshot(const char *id, const char *text) {
    vario_snapshot *s = NULL;
    if (!text) return NULL;
    if (vario_snapshot_from_json(text, &s) != VARIO_OK)
        add_error("%s: snapshot rejected: %s (%s)", id, last_code_text(), last_error_text());
    return s;
}

/* `error` cases (contract/vectors/errors.json): each input refused with its stable code, and with
 * the status of the code's class (contract/errors.md). Client calls use a client bootstrapped with
 * the file's snapshot (its exact text), writing events to a scratch file. */

/* The vario_status of every error code: the table of contract/errors.md. */
static const struct {
    const char *code;
    vario_status status;
} CODE_STATUS[] = {
    {"NULL_ARGUMENT", VARIO_ERR_NULL_ARGUMENT},
    {"INVALID_UTF8", VARIO_ERR_INVALID_UTF8},
    {"INVALID_REQUEST", VARIO_ERR_INVALID_REQUEST},
    {"NOT_JSON", VARIO_ERR_INVALID_SNAPSHOT},
    {"SCHEMA_VERSION", VARIO_ERR_INVALID_SNAPSHOT},
    {"INVALID_SNAPSHOT", VARIO_ERR_INVALID_SNAPSHOT},
    {"VERSION_REGRESSION", VARIO_ERR_INVALID_SNAPSHOT},
    {"INVALID_OPTIONS", VARIO_ERR_INVALID_OPTIONS},
    {"TIMEOUT", VARIO_ERR_TIMEOUT},
    {"CLOSED", VARIO_ERR_CLOSED},
    {"TOKEN_MALFORMED", VARIO_ERR_INVALID_TOKEN},
    {"TOKEN_VERSION", VARIO_ERR_INVALID_TOKEN},
    {"TOKEN_PAYLOAD", VARIO_ERR_INVALID_TOKEN},
    {"TOKEN_UNSIGNED", VARIO_ERR_INVALID_TOKEN},
    {"TOKEN_SIGNATURE", VARIO_ERR_INVALID_TOKEN},
    {"TOKEN_KEY_UNAVAILABLE", VARIO_ERR_INVALID_TOKEN},
    {"QUEUE_FULL", VARIO_ERR_QUEUE_FULL},
    {"INTERNAL", VARIO_ERR_INTERNAL},
    {"PANIC", VARIO_ERR_PANIC},
    {"SNAPSHOT_SIGNATURE", VARIO_ERR_INVALID_SNAPSHOT},
};

/* Checks a call that must have been refused with code `want`, right after it returned (before any
 * other call can replace the thread's last error): the status, the code and a message. */
static void check_refused(const char *id, const char *what, vario_status st, const char *want) {
    if (st == VARIO_OK) {
        add_error("%s: %s: expected %s, the call succeeded", id, what, want);
        return;
    }
    const char *code = vario_last_error_code();
    if (!code || strcmp(code, want) != 0)
        add_error("%s: %s: expected %s, got %s (%s)", id, what, want, last_code_text(), last_error_text());
    if (!vario_last_error()) add_error("%s: %s: no vario_last_error() message", id, what);
    size_t i = 0, n = sizeof CODE_STATUS / sizeof CODE_STATUS[0];
    while (i < n && strcmp(CODE_STATUS[i].code, want) != 0) i++;
    if (i == n)
        add_error("%s: expected code %s is not in the code table", id, want);
    else if (st != CODE_STATUS[i].status)
        add_error("%s: %s: status %d, expected %d for %s", id, what, (int)st, (int)CODE_STATUS[i].status, want);
}

/* A client over the base options (the snapshot in use as `bootstrap`, `sink` as `sink_path`) with
 * `extra` laid over them; the status of vario_client_new, *out the handle or NULL. */
static vario_status error_client(const case_ctx *k, const cJSON *extra, const char *sink, vario_client **out) {
    cJSON *opts = cJSON_CreateObject();
    cJSON_AddStringToObject(opts, "bootstrap", k->snapshot_text ? k->snapshot_text : "");
    cJSON_AddStringToObject(opts, "sink_path", sink);
    const cJSON *item;
    cJSON_ArrayForEach(item, extra) {
        cJSON_DeleteItemFromObjectCaseSensitive(opts, item->string);
        cJSON_AddItemToObject(opts, item->string, cJSON_Duplicate(item, 1));
    }
    char *text = print_and_delete(opts);
    *out = (vario_client *)(void *)&g_poison;
    vario_status st = vario_client_new(text, out);
    free(text);
    return st;
}

/* The calls of `after_close` cases, refused on a closed client. */
static void run_after_close(const case_ctx *k, vario_client *cl, const char *method, const char *want) {
    static const char REQUEST[] = "{\"user_id\":\"u-1\",\"context\":{\"placement\":\"pdp_ymal\"}}";
    if (strcmp(method, "decide") == 0) {
        char *out = (char *)&g_poison;
        check_refused(k->id, "vario_client_decide_json", vario_client_decide_json(cl, REQUEST, false, &out), want);
        if (out != NULL) add_error("%s: *out not NULL after a refused decide", k->id);
        /* The JSON-free decide too. */
        vario_request req = {0};
        req.placement = "pdp_ymal";
        req.user_id = "u-1";
        vario_decision d;
        memset(&d, 0xa5, sizeof d); /* poisoned: a refused decide must still clear it */
        check_refused(k->id, "vario_client_decide", vario_client_decide(cl, &req, &d), want);
        if (d.holder != NULL || d.experiment_key != NULL || d.variant != NULL || d.params_json == NULL)
            add_error("%s: a refused decide left stale pointers in the decision", k->id);
    } else if (strcmp(method, "track") == 0) {
        check_refused(k->id, "vario_client_track_json",
                      vario_client_track_json(cl, "{\"event_type\":\"click\",\"user_id\":\"u-1\"}"), want);
    } else if (strcmp(method, "flush") == 0) {
        check_refused(k->id, "vario_client_flush", vario_client_flush(cl, 1000), want);
    } else {
        add_error("%s: unknown method %s", k->id, method);
    }
}

static void run_error(const case_ctx *k, const cJSON *c, const char *case_raw) {
    const char *call = json_str(c, "call"), *want = json_str(k->expect, "code");
    if (!call || !want) {
        add_error("%s: an error case needs `call` and `expect.code`", k->id);
        return;
    }
    if (strcmp(call, "snapshot") == 0) {
        const char *text = json_str(c, "snapshot_text");
        if (!text) {
            add_error("%s: a snapshot case needs `snapshot_text`", k->id);
            return;
        }
        vario_snapshot *s = (vario_snapshot *)(void *)&g_poison;
        check_refused(k->id, "vario_snapshot_from_json", vario_snapshot_from_json(text, &s), want);
        if (s != NULL) add_error("%s: *out not NULL after a refused snapshot", k->id);
        if (s != NULL && s != (vario_snapshot *)(void *)&g_poison) vario_snapshot_free(s);
        return;
    }
    if (strcmp(call, "request") == 0) {
        if (!k->snap) {
            add_error("%s: no snapshot", k->id);
            return;
        }
        char *req = raw_member(k->id, case_raw, "request", cJSON_GetObjectItemCaseSensitive(c, "request"));
        if (!req) return;
        char *out = (char *)&g_poison;
        check_refused(k->id, "vario_snapshot_decide_json", vario_snapshot_decide_json(k->snap, req, 0, &out), want);
        if (out != NULL) add_error("%s: *out not NULL after a refused request", k->id);
        if (out != NULL && out != &g_poison) vario_string_free(out);
        free(req);
        return;
    }
    if (!k->snapshot_text) {
        add_error("%s: no snapshot for the client", k->id);
        return;
    }
    char *sink = temp_path("error-vectors");
    if (!sink) {
        add_error("%s: cannot create a scratch sink file", k->id);
        return;
    }
    vario_client *cl = NULL;
    if (strcmp(call, "options") == 0) {
        vario_status st = error_client(k, cJSON_GetObjectItemCaseSensitive(c, "options"), sink, &cl);
        check_refused(k->id, "vario_client_new", st, want);
        if (st != VARIO_OK && cl != NULL) add_error("%s: *out not NULL after refused options", k->id);
        if (st != VARIO_OK) cl = NULL;
    } else {
        cJSON *extra = cJSON_CreateObject();
        const char *key = json_str(c, "id_hash_key");
        if (key) cJSON_AddStringToObject(extra, "id_hash_key", key);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "allow_unsigned_tokens")))
            cJSON_AddBoolToObject(extra, "allow_unsigned_tokens", 1);
        vario_status st = error_client(k, extra, sink, &cl);
        cJSON_Delete(extra);
        if (st != VARIO_OK) {
            add_error("%s: cannot build the client: %s (%s)", k->id, last_code_text(), last_error_text());
            cl = NULL;
        } else if (strcmp(call, "token") == 0) {
            const char *token = json_str(c, "token");
            if (!token)
                add_error("%s: a token case needs `token`", k->id);
            else
                check_refused(k->id, "vario_client_expose", vario_client_expose(cl, token), want);
        } else if (strcmp(call, "update") == 0) {
            const char *text = json_str(c, "snapshot_text");
            if (!text)
                add_error("%s: an update case needs `snapshot_text`", k->id);
            else
                check_refused(k->id, "vario_client_update_snapshot", vario_client_update_snapshot(cl, text), want);
        } else if (strcmp(call, "after_close") == 0) {
            const char *method = json_str(c, "method");
            if (vario_client_close(cl, 1000) != VARIO_OK)
                add_error("%s: vario_client_close failed: %s (%s)", k->id, last_code_text(), last_error_text());
            if (!method)
                add_error("%s: an after_close case needs `method`", k->id);
            else
                run_after_close(k, cl, method, want);
        } else {
            add_error("%s: unknown call %s", k->id, call);
        }
    }
    /* vario_client_free closes a client still open (after_close cases closed theirs already). */
    vario_client_free(cl);
    unlink(sink);
    free(sink);
}

static const char *const OPS[] = {"bucket",       "decide", "flag",       "load",   "request_error",
                                  "pseudonymize", "error",  "interleave", "credit", NULL};
static int g_op_counts[9];

static int ends_with_json(const struct dirent *e) {
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".json") == 0;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "contract/vectors";
    struct dirent **names = NULL;
    int nfiles = scandir(dir, &names, ends_with_json, alphasort);
    if (nfiles < 0) {
        fprintf(stderr, "vectors: cannot read %s: %s\n", dir, strerror(errno));
        return 1;
    }
    g_null = cJSON_CreateNull();
    vario_context *ctx = vario_context_new();
    /* request_error cases need a snapshot to decide against; any valid one does. */
    vario_snapshot *fallback = load_snapshot("fallback", "{\"schema_version\": 1, \"version\": 1}");
    char **ids = NULL;
    size_t total = 0, idcap = 0;

    for (int f = 0; f < nfiles; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]->d_name);
        char *text = read_file(path, NULL);
        cJSON *doc = text ? cJSON_Parse(text) : NULL;
        if (!doc) {
            add_error("%s: unreadable or not JSON", path);
            free(text);
            continue;
        }
        const char *format = json_str(doc, "format"), *algo = json_str(doc, "algorithm");
        if (!format || strcmp(format, "vario-vectors/1") != 0) add_error("%s: format is not vario-vectors/1", path);
        if (!algo || strcmp(algo, "xxh32-colon-mod10000") != 0) add_error("%s: unknown algorithm", path);

        const cJSON *file_raw = cJSON_GetObjectItemCaseSensitive(doc, "snapshot");
        vario_snapshot *file_snap = NULL;
        char *file_snap_text = NULL;
        if (file_raw && !cJSON_IsNull(file_raw)) {
            file_snap_text = raw_member(path, text, "snapshot", file_raw);
            file_snap = load_snapshot(path, file_snap_text);
        }

        /* Walk the cases with cJSON and, in step, their raw text (for requests and snapshots). */
        span cases_span;
        const cJSON *cases = cJSON_GetObjectItemCaseSensitive(doc, "cases");
        if (!cJSON_IsArray(cases) || !member_span(text, "cases", &cases_span)) {
            add_error("%s: no cases", path);
            cases = NULL;
        }
        const char *raw = cases ? skip_ws(cases_span.p + 1) : NULL;
        const cJSON *c;
        cJSON_ArrayForEach(c, cases) {
            const char *case_raw = raw, *case_end = skip_value(raw);
            if (!case_end) {
                add_error("%s: cannot scan the raw cases", path);
                break;
            }
            raw = skip_ws(case_end);
            if (*raw == ',') raw = skip_ws(raw + 1);

            const char *id = json_str(c, "id"), *op = json_str(c, "op");
            if (!id) id = "?";
            if (!op) op = "?";
            total++;
            if (total > idcap) {
                idcap = idcap ? idcap * 2 : 1024;
                char **bigger = realloc(ids, idcap * sizeof *ids);
                if (!bigger) {
                    fprintf(stderr, "out of memory\n");
                    return 2;
                }
                ids = bigger;
            }
            ids[total - 1] = strdup(id);

            case_ctx k = {id, cJSON_GetObjectItemCaseSensitive(c, "expect"), file_raw, file_snap, file_snap_text};
            const cJSON *own_raw = cJSON_GetObjectItemCaseSensitive(c, "snapshot");
            vario_snapshot *own = NULL;
            char *own_text = NULL;
            if (own_raw && !cJSON_IsNull(own_raw)) {
                own_text = raw_member(id, case_raw, "snapshot", own_raw);
                own = load_snapshot(id, own_text);
                if (!own) {
                    free(own_text);
                    continue;
                }
                k.raw_snapshot = own_raw;
                k.snap = own;
                k.snapshot_text = own_text;
            }
            int op_index = 0;
            while (OPS[op_index] && strcmp(OPS[op_index], op) != 0) op_index++;
            if (OPS[op_index]) g_op_counts[op_index]++;
            switch (op_index) {
            case 0: run_bucket(&k, c); break;
            case 1: run_decide(&k, c, case_raw, ctx); break;
            case 2:
                if (k.snap)
                    run_flag(&k, c, case_raw);
                else
                    add_error("%s: no snapshot", id);
                break;
            case 3: run_load(&k, c); break;
            case 4:
                if (!k.snap) k.snap = fallback;
                run_request_error(&k, c, case_raw);
                break;
            case 5: run_pseudonymize(&k, c); break;
            case 6: run_error(&k, c, case_raw); break;
            case 7:
            case 8: run_interleave(&k, c, op_index == 7); break;
            default: add_error("%s: unknown op %s", id, op);
            }
            vario_snapshot_free(own);
            free(own_text);
        }
        vario_snapshot_free(file_snap);
        free(file_snap_text);
        cJSON_Delete(doc);
        free(text);
    }

    /* Case ids are unique across all files. */
    qsort(ids, total, sizeof *ids, strcmp_ptr);
    for (size_t i = 1; i < total; i++)
        if (strcmp(ids[i - 1], ids[i]) == 0) add_error("%s: duplicate id", ids[i]);

    printf("vectors: %zu cases in %d files (", total, nfiles);
    for (int i = 0; OPS[i]; i++) printf("%s%s %d", i ? ", " : "", OPS[i], g_op_counts[i]);
    printf(")\nvectors: %d decide cases re-checked on the JSON-free path (%d not expressible there)\n",
           g_decide_json_free, g_decide_json_free_skipped);
    int rc = 0;
    if (total < MIN_CASES) {
        printf("vectors: FAIL: only %zu cases ran (expected at least %d)\n", total, MIN_CASES);
        rc = 1;
    }
    if (g_nerrors) {
        printf("vectors: FAIL: %zu mismatches:\n", g_nerrors);
        for (size_t i = 0; i < g_nerrors; i++) printf("  %s\n", g_errors[i]);
        rc = 1;
    }
    if (rc == 0) printf("vectors: all %zu cases passed\n", total);

    free_strings(g_errors, g_nerrors);
    free_strings(ids, total);
    for (int f = 0; f < nfiles; f++) free(names[f]);
    free(names);
    vario_snapshot_free(fallback);
    vario_context_free(ctx);
    cJSON_Delete(g_null);
    return rc;
}
