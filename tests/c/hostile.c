/*
 * Hostile input at every C entry point that takes JSON or a string (issue 14): JSON nested 10,000
 * and 1,000,000 deep (arrays and objects, closed and unclosed), huge strings, invalid UTF-8,
 * embedded NULs (escaped `\u0000` and a raw NUL that cuts the text short), lone surrogate escapes,
 * out-of-range numbers, non-object documents and NULL pointers. Each call returns a clear status
 * with a stable code (or succeeds, where the value is legal JSON no rule rejects), never crashes;
 * the library decides normally afterwards. Everything runs twice: on the main thread and on a
 * thread with a 512 KiB stack (a deep value that recursed would overflow it first).
 *
 * Usage: hostile [SNAPSHOT_PATH]   (default examples/snapshot.json). No server: clients start from
 * the snapshot as a bootstrap and write events to a temporary JSONL file. tests/c/run.sh runs it
 * against the shared and static libraries, under valgrind, and compiled with
 * -fsanitize=address,undefined.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define NOW_MS INT64_C(1793491200000)
#define HUGE_LEN ((size_t)16 << 20) /* a 16 MiB string */

static const char *g_snapshot_text;
static vario_snapshot *g_snap;
static vario_client *g_client;
static char *g_sink;

/* ---- hostile values (JSON text of one value, or not JSON at all) -------------------------- */

enum expect {
    MUST_FAIL,  /* the entry point's own status */
    MAY_PASS,   /* legal JSON: success, or a failure with a code */
    BAD_UTF8,   /* VARIO_ERR_INVALID_UTF8 */
};

typedef struct {
    const char *name;
    char *text;
    enum expect expect;
} hostile;

static char *repeat(const char *open, size_t n, const char *middle, const char *close) {
    size_t lo = strlen(open), lm = strlen(middle), lc = strlen(close);
    char *s = xmalloc(n * (lo + lc) + lm + 1), *p = s;
    for (size_t i = 0; i < n; i++, p += lo) memcpy(p, open, lo);
    memcpy(p, middle, lm);
    p += lm;
    for (size_t i = 0; i < n; i++, p += lc) memcpy(p, close, lc);
    *p = '\0';
    return s;
}

static char *huge_string(void) {
    char *s = xmalloc(HUGE_LEN + 3);
    s[0] = '"';
    memset(s + 1, 'a', HUGE_LEN);
    s[HUGE_LEN + 1] = '"';
    s[HUGE_LEN + 2] = '\0';
    return s;
}

static char *copy_str(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

#define N_VALUES 12
static hostile g_values[N_VALUES];

static void make_values(void) {
    int i = 0;
    g_values[i++] = (hostile){"deep array 10k", repeat("[", 10000, "", "]"), MUST_FAIL};
    g_values[i++] = (hostile){"deep array 1M", repeat("[", 1000000, "", "]"), MUST_FAIL};
    g_values[i++] = (hostile){"deep array 1M unclosed", repeat("[", 1000000, "", ""), MUST_FAIL};
    g_values[i++] = (hostile){"deep object 10k", repeat("{\"a\":", 10000, "1", "}"), MUST_FAIL};
    g_values[i++] = (hostile){"deep object 1M", repeat("{\"a\":", 1000000, "1", "}"), MUST_FAIL};
    g_values[i++] = (hostile){"huge string", huge_string(), MAY_PASS};
    g_values[i++] = (hostile){"escaped NUL", copy_str("\"a\\u0000b\""), MAY_PASS};
    /* A raw NUL ends the C string: what Vario sees is an unterminated string literal. */
    g_values[i++] = (hostile){"raw NUL", copy_str("\"a\0b\""), MUST_FAIL};
    g_values[i++] = (hostile){"lone surrogate escape", copy_str("\"a\\ud800b\""), MUST_FAIL};
    g_values[i++] = (hostile){"number 1e400", copy_str("1e400"), MUST_FAIL};
    g_values[i++] = (hostile){"invalid UTF-8", copy_str("\"a\xff\xfe b\""), BAD_UTF8};
    g_values[i++] = (hostile){"UTF-8 surrogate", copy_str("\"a\xed\xa0\x80 b\""), BAD_UTF8};
}

/* ---- entry points ---------------------------------------------------------------------------- */

/* `template` with its one `@` replaced by `value` (malloc'd). */
static char *fill(const char *template, const char *value) {
    const char *at = strchr(template, '@');
    size_t pre = (size_t)(at - template), lv = strlen(value), post = strlen(at + 1);
    char *s = xmalloc(pre + lv + post + 1);
    memcpy(s, template, pre);
    memcpy(s + pre, value, lv);
    memcpy(s + pre + lv, at + 1, post + 1);
    return s;
}

typedef vario_status (*call_fn)(const char *arg);

static vario_status snapshot_from_json(const char *a) {
    vario_snapshot *s = (vario_snapshot *)&g_snap; /* poison: must become NULL on failure */
    vario_status st = vario_snapshot_from_json(a, &s);
    if (st == VARIO_OK) vario_snapshot_free(s);
    else CHECK(s == NULL, "vario_snapshot_from_json: *out not NULL on failure");
    return st;
}

/* The calls writing a string to `*out`: it is NULL on failure and freed on success. */
#define OUT_CALL(name, expr)                                                    \
    static vario_status name(const char *a) {                                   \
        char *out = (char *)&g_sink;                                            \
        vario_status st = (expr);                                               \
        if (st == VARIO_OK) vario_string_free(out);                             \
        else CHECK(out == NULL, "%s: *out not NULL on failure", #name);         \
        return st;                                                              \
    }
OUT_CALL(snapshot_decide_json, vario_snapshot_decide_json(g_snap, a, NOW_MS, &out))
OUT_CALL(snapshot_exposure_json, vario_snapshot_exposure_json(g_snap, a, NOW_MS, &out))
OUT_CALL(snapshot_flag_json, vario_snapshot_flag_json(g_snap, "cart_upsell", a, NOW_MS, &out))
OUT_CALL(snapshot_flag_key, vario_snapshot_flag_json(g_snap, a, "{\"user_id\":\"u-1\"}", NOW_MS, &out))
OUT_CALL(client_decide_json, vario_client_decide_json(g_client, a, false, &out))
OUT_CALL(client_decide_later, vario_client_decide_json(g_client, a, true, &out))
OUT_CALL(client_flag_json, vario_client_flag_json(g_client, "cart_upsell", a, &out))
OUT_CALL(pseudonymize_id, vario_pseudonymize("k", a, &out))
OUT_CALL(pseudonymize_key, vario_pseudonymize(a, "u-1", &out))

static vario_status client_track_json(const char *a) { return vario_client_track_json(g_client, a); }
static vario_status client_update_snapshot(const char *a) { return vario_client_update_snapshot(g_client, a); }
static vario_status client_expose(const char *a) { return vario_client_expose(g_client, a); }

static vario_status client_new(const char *a) {
    vario_client *c = (vario_client *)&g_client;
    vario_status st = vario_client_new(a, &c);
    if (st == VARIO_OK) vario_client_free(c);
    else CHECK(c == NULL, "vario_client_new: *out not NULL on failure");
    return st;
}

static vario_status bucket_id(const char *a) {
    uint32_t b = 0;
    return vario_bucket(a, "exp", "salt", 0, &b);
}

/* The JSON-free path: the string as a context value (set, then decided on) and as the placement. */
static vario_status context_value(const char *a) {
    vario_context *ctx = vario_context_new();
    vario_status st = vario_context_set_str(ctx, "locale", a);
    if (st == VARIO_OK) {
        vario_request r = {.placement = "home", .user_id = "u-1", .context = ctx};
        vario_decision d;
        st = vario_snapshot_decide(g_snap, &r, NOW_MS, &d);
    }
    vario_context_free(ctx);
    return st;
}

static vario_status context_key(const char *a) {
    vario_context *ctx = vario_context_new();
    vario_status st = vario_context_set_str(ctx, a, "en-GB");
    vario_context_free(ctx);
    return st;
}

static vario_status decide_placement(const char *a) {
    vario_request r = {.placement = a, .user_id = "u-1"};
    vario_decision d;
    return vario_snapshot_decide(g_snap, &r, NOW_MS, &d);
}

static vario_status decide_user(const char *a) {
    vario_request r = {.placement = "newsfeed", .user_id = a};
    vario_decision d;
    return vario_snapshot_decide(g_snap, &r, NOW_MS, &d);
}

typedef struct {
    const char *name;
    call_fn call;
    /* Where the hostile value goes: `@` in a template (NULL: the whole argument is the value). */
    const char *template;
    /* The status of a bad argument at this entry point. */
    vario_status bad;
    /* The argument is JSON text (non-object documents apply). */
    bool json;
} entry;

#define REQ_CTX "{\"user_id\":\"u-1\",\"context\":{\"placement\":\"home\",\"locale\":@,\"page_type\":\"home\"}}"
#define REQ_FORCED "{\"user_id\":\"u-1\",\"context\":{\"placement\":\"home\"},\"forced\":{\"x\":@}}"
#define REQ_USER "{\"user_id\":@,\"context\":{\"placement\":\"newsfeed\"}}"
#define SNAPSHOT_DOC "{\"schema_version\":1,\"version\":900,\"placements\":{\"p\":{\"default_params\":{\"x\":@}}}}"

static char *g_options_template;

static entry *entries(size_t *n) {
    static entry e[64];
    size_t i = 0;
    const vario_status R = VARIO_ERR_INVALID_REQUEST, S = VARIO_ERR_INVALID_SNAPSHOT;
    e[i++] = (entry){"snapshot_from_json", snapshot_from_json, NULL, S, true};
    e[i++] = (entry){"snapshot_from_json default_params", snapshot_from_json, SNAPSHOT_DOC, S, true};
    e[i++] = (entry){"client_update_snapshot", client_update_snapshot, NULL, S, true};
    e[i++] = (entry){"client_update_snapshot default_params", client_update_snapshot, SNAPSHOT_DOC, S, true};
    call_fn requests[] = {snapshot_decide_json, snapshot_exposure_json, snapshot_flag_json, client_decide_json,
                          client_decide_later, client_flag_json};
    const char *names[] = {"snapshot_decide_json", "snapshot_exposure_json", "snapshot_flag_json",
                           "client_decide_json", "client_decide_json(later)", "client_flag_json"};
    const char *templates[] = {NULL, REQ_CTX, REQ_FORCED, REQ_USER};
    const char *where[] = {"", " context", " forced", " user_id"};
    static char labels[64][64];
    for (size_t r = 0; r < 6; r++)
        for (size_t t = 0; t < 4; t++) {
            snprintf(labels[i], sizeof labels[i], "%s%s", names[r], where[t]);
            e[i] = (entry){labels[i], requests[r], templates[t], R, true};
            i++;
        }
    e[i++] = (entry){"client_track_json", client_track_json, NULL, R, true};
    e[i++] = (entry){"client_track_json properties", client_track_json,
                     "{\"event_type\":\"click\",\"user_id\":\"u-1\",\"properties\":{\"p\":@}}", R, true};
    e[i++] = (entry){"client_new", client_new, NULL, VARIO_ERR_INVALID_OPTIONS, true};
    e[i++] = (entry){"client_new default_params", client_new, g_options_template, VARIO_ERR_INVALID_OPTIONS, true};
    e[i++] = (entry){"client_expose", client_expose, NULL, VARIO_ERR_INVALID_TOKEN, false};
    e[i++] = (entry){"snapshot_flag_json key", snapshot_flag_key, NULL, R, false};
    e[i++] = (entry){"pseudonymize unit_id", pseudonymize_id, NULL, R, false};
    e[i++] = (entry){"pseudonymize key", pseudonymize_key, NULL, R, false};
    e[i++] = (entry){"bucket unit_id", bucket_id, NULL, R, false};
    e[i++] = (entry){"context_set_str value + decide", context_value, NULL, R, false};
    e[i++] = (entry){"context_set_str key", context_key, NULL, R, false};
    e[i++] = (entry){"snapshot_decide placement", decide_placement, NULL, R, false};
    e[i++] = (entry){"snapshot_decide user_id", decide_user, NULL, R, false};
    if (i > sizeof e / sizeof *e) abort(); /* the table above outgrew its array */
    *n = i;
    return e;
}

/* ---- checks ---------------------------------------------------------------------------------- */

/* After a failure: a code and a message, and the status the code's class has. */
static void check_failure(const char *what, const char *value, vario_status got, vario_status want,
                          enum expect expect) {
    const char *code = vario_last_error_code();
    CHECK(code != NULL && vario_last_error() != NULL, "%s / %s: status %d without a code or message", what, value,
          (int)got);
    if (!code) return;
    if (expect == BAD_UTF8) {
        CHECK(got == VARIO_ERR_INVALID_UTF8 && strcmp(code, "INVALID_UTF8") == 0,
              "%s / %s: status %d (%s: %s), expected INVALID_UTF8", what, value, (int)got, code, last_error_text());
    } else {
        CHECK(got == want, "%s / %s: status %d (%s: %.200s), expected %d", what, value, (int)got, code,
              last_error_text(), (int)want);
    }
    CHECK(strcmp(code, "PANIC") != 0 && strcmp(code, "INTERNAL") != 0, "%s / %s: %s", what, value, code);
}

static void run_one(const entry *e, const char *value_name, const char *arg, enum expect expect) {
    vario_status st = e->call(arg);
    if (st == VARIO_OK) {
        CHECK(expect == MAY_PASS, "%s / %s: accepted", e->name, value_name);
        return;
    }
    check_failure(e->name, value_name, st, e->bad, expect);
}

static void run_all(void) {
    size_t n = 0;
    entry *es = entries(&n);
    for (size_t i = 0; i < n; i++) {
        const entry *e = &es[i];
        for (size_t v = 0; v < N_VALUES; v++) {
            const hostile *h = &g_values[v];
            char *arg = e->template ? fill(e->template, h->text) : h->text;
            enum expect expect = h->expect;
            /* A string taken as is (not JSON): a deep bracket run is just an odd string. */
            if (!e->json && expect == MUST_FAIL) expect = MAY_PASS;
            /* An exposure token is never any of these (a token is base64url). */
            if (e->call == client_expose && expect == MAY_PASS) expect = MUST_FAIL;
            run_one(e, h->name, arg, expect);
            if (e->template) free(arg);
        }
        /* NULL where the argument is required (the key of pseudonymize may be NULL: plain SHA-256;
         * a request's user id may be NULL: no user). */
        if (e->template == NULL && e->call != pseudonymize_key && e->call != decide_user) {
            vario_status st = e->call(NULL);
            CHECK(st == VARIO_ERR_NULL_ARGUMENT, "%s / NULL: status %d", e->name, (int)st);
        }
        /* Documents that are JSON but not an object, and text that is not JSON. */
        if (e->json && e->template == NULL) {
            const char *docs[] = {"[]", "1", "\"s\"", "null", "true", "", "   ", "{", "{\"a\":1}}", "[1,2"};
            for (size_t d = 0; d < sizeof docs / sizeof *docs; d++) run_one(e, docs[d], docs[d], MUST_FAIL);
        }
    }
}

/* The library still decides normally. */
static void still_alive(void) {
    char *out = NULL;
    CHECK_OK(vario_snapshot_decide_json(g_snap, "{\"user_id\":\"u-1\",\"context\":{\"placement\":\"newsfeed\"}}",
                                        NOW_MS, &out));
    CHECK(out && strstr(out, "\"reason\":\"ASSIGNED\"") != NULL, "after the hostile calls: %s", out ? out : "NULL");
    vario_string_free(out);
    CHECK_OK(vario_client_decide_json(g_client, "{\"user_id\":\"u-1\",\"context\":{\"placement\":\"newsfeed\"}}",
                                      false, &out));
    vario_string_free(out);
}

static void *thread_main(void *arg) {
    (void)arg;
    run_all();
    still_alive();
    return NULL;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "examples/snapshot.json";
    char *text = read_file(path, NULL);
    if (!text) {
        fprintf(stderr, "hostile: cannot read %s\n", path);
        return 2;
    }
    g_snapshot_text = text;
    g_sink = temp_path("hostile");
    if (!g_sink) return 2;
    CHECK_OK(vario_snapshot_from_json(text, &g_snap));
    cJSON *o = bootstrap_options(text, g_sink);
    char *options = print_and_delete(o);
    CHECK_OK(vario_client_new(options, &g_client));
    /* The same options with a hostile `default_params` value: `{...,"default_params":{"p":@}}`. */
    size_t lo = strlen(options);
    g_options_template = xmalloc(lo + 32);
    memcpy(g_options_template, options, lo - 1);
    strcpy(g_options_template + lo - 1, ",\"default_params\":{\"p\":@}}");
    free(options);
    if (!g_snap || !g_client) return 1;
    make_values();

    run_all();
    still_alive();
    int main_failures = g_failures;

    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 512 * 1024);
    CHECK(pthread_create(&t, &attr, thread_main, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    pthread_attr_destroy(&attr);

    /* The accepted outcomes carry 16 MiB strings: a bound for their delivery that a slow run
     * (valgrind, a loaded machine) meets too; how fast is not what this test is about. */
    CHECK_OK(vario_client_close(g_client, 120000));
    vario_client_free(g_client);
    vario_snapshot_free(g_snap);
    for (size_t v = 0; v < N_VALUES; v++) free(g_values[v].text);
    free(g_options_template);
    unlink(g_sink);
    free(g_sink);
    free(text);
    if (g_failures) {
        fprintf(stderr, "hostile: %d of %d checks failed (%d on the main thread)\n", g_failures, g_checks,
                main_failures);
        return 1;
    }
    printf("hostile: all %d checks passed (main thread and a 512 KiB-stack thread)\n", g_checks);
    return 0;
}
