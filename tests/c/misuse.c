/*
 * Misuse of the C ABI must be reported, never crash: NULL arguments, invalid UTF-8, malformed
 * JSON, bad options, forged tokens, use after close, double close and release, freeing NULL, a
 * caught panic, and one client shared by several threads.
 *
 * Usage: misuse [SNAPSHOT_PATH]   (default examples/snapshot.json). Clients start from the
 * snapshot as a bootstrap and write events to temporary JSONL files, so no server is needed.
 * Run under valgrind by tests/c/run.sh: a double free or a use after free shows up there.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* Two RUNNING experiments splitting one layer, no time window: every user is ASSIGNED or (2 %
 * global holdout) HOLDOUT, whatever the clock says. */
#define PLACEMENT "newsfeed"
#define REQUEST "{\"user_id\": \"u-1\", \"context\": {\"placement\": \"" PLACEMENT "\"}}"
#define OUTCOME "{\"event_type\": \"click\", \"user_id\": \"u-1\"}"
#define FLAG "cart_upsell"

static const char *g_snapshot_text;

/* Non-NULL values the library must overwrite with NULL on failure. */
static char g_poison_byte;
#define POISON ((void *)&g_poison_byte)

/* Checks that a call failed with `want` and the matching stable code. */
#define EXPECT_ERR(call, want, code) expect_err_at(__FILE__, __LINE__, #call, (call), (want), (code))
static void expect_err_at(const char *file, int line, const char *what, vario_status got, vario_status want,
                          const char *code) {
    g_checks++;
    const char *have = vario_last_error_code();
    if (got != want)
        fail_at(file, line, "%s returned %d, expected %d (%s: %s)", what, (int)got, (int)want, last_code_text(),
                last_error_text());
    else if (!have || strcmp(have, code) != 0)
        fail_at(file, line, "%s: code %s, expected %s", what, last_code_text(), code);
    else if (!vario_last_error())
        fail_at(file, line, "%s: vario_last_error() is NULL after a failure", what);
}

#define EXPECT_NULL_ARG(call) EXPECT_ERR(call, VARIO_ERR_NULL_ARGUMENT, "NULL_ARGUMENT")
#define EXPECT_UTF8(call) EXPECT_ERR(call, VARIO_ERR_INVALID_UTF8, "INVALID_UTF8")
#define EXPECT_BAD_REQUEST(call) EXPECT_ERR(call, VARIO_ERR_INVALID_REQUEST, "INVALID_REQUEST")
#define EXPECT_CLOSED(call) EXPECT_ERR(call, VARIO_ERR_CLOSED, "CLOSED")

/* A decision full of garbage, to check that a failing decide clears it. */
static void poison_decision(vario_decision *d) {
    memset(d, 0x5a, sizeof *d);
    d->experiment_key = d->variant = d->params_json = POISON;
    d->holder = POISON;
}

static void expect_cleared(const vario_decision *d, const char *what) {
    CHECK(d->experiment_key == NULL && d->variant == NULL && d->holder == NULL && d->params_json != NULL &&
              d->params_json != POISON && d->bucket == -1,
          "%s: decision not cleared on failure", what);
}

static vario_client *bootstrap_client(const char *sink_path, const char *id_hash_key) {
    cJSON *o = bootstrap_options(g_snapshot_text, sink_path);
    cJSON_AddNumberToObject(o, "batch_interval_ms", 50);
    if (id_hash_key) cJSON_AddStringToObject(o, "id_hash_key", id_hash_key);
    char *options = print_and_delete(o);
    vario_client *c = NULL;
    CHECK_OK(vario_client_new(options, &c));
    free(options);
    return c;
}

/* An exposure token from `c` for the first ASSIGNED user `prefix-N` (malloc'd; NULL if none). */
static char *get_token(const vario_client *c, const char *prefix) {
    for (int i = 0; i < 50; i++) {
        char req[256], *out = NULL, *token = NULL;
        snprintf(req, sizeof req, "{\"user_id\": \"%s-%d\", \"context\": {\"placement\": \"" PLACEMENT "\"}}", prefix,
                 i);
        if (!CHECK_OK(vario_client_decide_json(c, req, true, &out))) return NULL;
        cJSON *d = PARSE_JSON(out);
        const char *t = json_str(d, "exposure_token");
        if (t) token = strdup(t);
        cJSON_Delete(d);
        vario_string_free(out);
        if (token) return token;
    }
    FAIL("no ASSIGNED decision with an exposure token in 50 users");
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */

static void null_arguments(void) {
    vario_snapshot *s = NULL;
    if (!CHECK_OK(vario_snapshot_from_json(g_snapshot_text, &s))) return;
    char *sink = temp_path("null-sink");
    vario_client *c = bootstrap_client(sink, NULL);
    vario_context *ctx = vario_context_new();
    CHECK(ctx != NULL, "vario_context_new returned NULL");
    vario_request r = {0};
    r.placement = PLACEMENT;
    r.user_id = "u-1";
    vario_decision d;
    uint32_t u32 = 0;
    char *out;
    vario_snapshot *snap_out;
    vario_client *client_out;

    /* Pure functions. */
    EXPECT_NULL_ARG(vario_bucket(NULL, "k", "s", 0, &u32));
    EXPECT_NULL_ARG(vario_bucket("u", NULL, "s", 0, &u32));
    EXPECT_NULL_ARG(vario_bucket("u", "k", NULL, 0, &u32));
    EXPECT_NULL_ARG(vario_bucket("u", "k", "s", 0, NULL));
    EXPECT_NULL_ARG(vario_digest(NULL, "k", "s", 0, &u32));
    EXPECT_NULL_ARG(vario_digest("u", NULL, "s", 0, &u32));
    EXPECT_NULL_ARG(vario_digest("u", "k", NULL, 0, &u32));
    EXPECT_NULL_ARG(vario_digest("u", "k", "s", 0, NULL));
    out = POISON;
    EXPECT_NULL_ARG(vario_pseudonymize("key", NULL, &out));
    CHECK(out == NULL, "pseudonymize: *out not cleared");
    EXPECT_NULL_ARG(vario_pseudonymize("key", "u", NULL));
    /* A NULL key is allowed (plain SHA-256), and differs from a keyed pseudonym. */
    char *plain = NULL, *keyed = NULL;
    if (CHECK_OK(vario_pseudonymize(NULL, "u", &plain)) && CHECK_OK(vario_pseudonymize("key", "u", &keyed)))
        CHECK(strlen(plain) == 64 && strlen(keyed) == 64 && strcmp(plain, keyed) != 0, "pseudonyms %s %s", plain,
              keyed);
    vario_string_free(plain);
    vario_string_free(keyed);

    /* Snapshots. */
    snap_out = POISON;
    EXPECT_NULL_ARG(vario_snapshot_from_json(NULL, &snap_out));
    CHECK(snap_out == NULL, "snapshot_from_json: *out not cleared");
    EXPECT_NULL_ARG(vario_snapshot_from_json(g_snapshot_text, NULL));
    CHECK(vario_snapshot_version(NULL) == 0, "vario_snapshot_version(NULL) is not 0");
    CHECK(vario_snapshot_version(s) == 17, "version of examples/snapshot.json is %" PRIu64, vario_snapshot_version(s));
    out = POISON;
    EXPECT_NULL_ARG(vario_snapshot_lints_json(NULL, &out));
    CHECK(out == NULL, "lints_json: *out not cleared");
    EXPECT_NULL_ARG(vario_snapshot_lints_json(s, NULL));
    vario_status (*json_fns[])(const vario_snapshot *, const char *, int64_t, char **) = {
        vario_snapshot_decide_json, vario_snapshot_exposure_json};
    for (int i = 0; i < 2; i++) {
        out = POISON;
        EXPECT_NULL_ARG(json_fns[i](NULL, REQUEST, 0, &out));
        CHECK(out == NULL, "snapshot json fn %d: *out not cleared (NULL snapshot)", i);
        out = POISON;
        EXPECT_NULL_ARG(json_fns[i](s, NULL, 0, &out));
        CHECK(out == NULL, "snapshot json fn %d: *out not cleared (NULL request)", i);
        EXPECT_NULL_ARG(json_fns[i](s, REQUEST, 0, NULL));
    }
    out = POISON;
    EXPECT_NULL_ARG(vario_snapshot_flag_json(NULL, FLAG, REQUEST, 0, &out));
    CHECK(out == NULL, "snapshot_flag_json: *out not cleared");
    out = POISON;
    EXPECT_NULL_ARG(vario_snapshot_flag_json(s, NULL, REQUEST, 0, &out));
    CHECK(out == NULL, "snapshot_flag_json: *out not cleared");
    out = POISON;
    EXPECT_NULL_ARG(vario_snapshot_flag_json(s, FLAG, NULL, 0, &out));
    CHECK(out == NULL, "snapshot_flag_json: *out not cleared");
    EXPECT_NULL_ARG(vario_snapshot_flag_json(s, FLAG, REQUEST, 0, NULL));
    poison_decision(&d);
    EXPECT_NULL_ARG(vario_snapshot_decide(NULL, &r, 0, &d));
    expect_cleared(&d, "snapshot_decide(NULL snapshot)");
    poison_decision(&d);
    EXPECT_NULL_ARG(vario_snapshot_decide(s, NULL, 0, &d));
    expect_cleared(&d, "snapshot_decide(NULL request)");
    EXPECT_NULL_ARG(vario_snapshot_decide(s, &r, 0, NULL));
    vario_request no_placement = r;
    no_placement.placement = NULL;
    poison_decision(&d);
    EXPECT_NULL_ARG(vario_snapshot_decide(s, &no_placement, 0, &d));
    expect_cleared(&d, "snapshot_decide(NULL placement)");

    /* Contexts. */
    EXPECT_NULL_ARG(vario_context_clear(NULL));
    EXPECT_NULL_ARG(vario_context_set_str(NULL, "k", "v"));
    EXPECT_NULL_ARG(vario_context_set_str(ctx, NULL, "v"));
    EXPECT_NULL_ARG(vario_context_set_str(ctx, "k", NULL));
    EXPECT_NULL_ARG(vario_context_set_f64(NULL, "k", 1.0));
    EXPECT_NULL_ARG(vario_context_set_f64(ctx, NULL, 1.0));
    EXPECT_NULL_ARG(vario_context_set_bool(NULL, "k", true));
    EXPECT_NULL_ARG(vario_context_set_bool(ctx, NULL, true));

    /* Clients. */
    client_out = POISON;
    EXPECT_NULL_ARG(vario_client_new(NULL, &client_out));
    CHECK(client_out == NULL, "client_new: *out not cleared");
    EXPECT_NULL_ARG(vario_client_new("{\"bootstrap\": \"{}\"}", NULL));
    EXPECT_NULL_ARG(vario_client_wait_for_init(NULL, 0));
    poison_decision(&d);
    EXPECT_NULL_ARG(vario_client_decide(NULL, &r, &d));
    expect_cleared(&d, "client_decide(NULL client)");
    poison_decision(&d);
    EXPECT_NULL_ARG(vario_client_decide(c, NULL, &d));
    expect_cleared(&d, "client_decide(NULL request)");
    EXPECT_NULL_ARG(vario_client_decide(c, &r, NULL));
    poison_decision(&d);
    EXPECT_NULL_ARG(vario_client_decide(c, &no_placement, &d));
    expect_cleared(&d, "client_decide(NULL placement)");
    out = POISON;
    EXPECT_NULL_ARG(vario_client_decide_json(NULL, REQUEST, false, &out));
    CHECK(out == NULL, "client_decide_json: *out not cleared");
    out = POISON;
    EXPECT_NULL_ARG(vario_client_decide_json(c, NULL, true, &out));
    CHECK(out == NULL, "client_decide_json: *out not cleared");
    EXPECT_NULL_ARG(vario_client_decide_json(c, REQUEST, false, NULL));
    EXPECT_NULL_ARG(vario_client_expose(NULL, "token"));
    EXPECT_NULL_ARG(vario_client_expose(c, NULL));
    out = POISON;
    EXPECT_NULL_ARG(vario_client_flag_json(NULL, FLAG, REQUEST, &out));
    CHECK(out == NULL, "client_flag_json: *out not cleared");
    out = POISON;
    EXPECT_NULL_ARG(vario_client_flag_json(c, NULL, REQUEST, &out));
    CHECK(out == NULL, "client_flag_json: *out not cleared");
    out = POISON;
    EXPECT_NULL_ARG(vario_client_flag_json(c, FLAG, NULL, &out));
    CHECK(out == NULL, "client_flag_json: *out not cleared");
    EXPECT_NULL_ARG(vario_client_flag_json(c, FLAG, REQUEST, NULL));
    EXPECT_NULL_ARG(vario_client_track_json(NULL, OUTCOME));
    EXPECT_NULL_ARG(vario_client_track_json(c, NULL));
    EXPECT_NULL_ARG(vario_client_update_snapshot(NULL, g_snapshot_text));
    EXPECT_NULL_ARG(vario_client_update_snapshot(c, NULL));
    EXPECT_NULL_ARG(vario_client_flush(NULL, 0));
    EXPECT_NULL_ARG(vario_client_close(NULL, 0));
    out = POISON;
    EXPECT_NULL_ARG(vario_client_stats_json(NULL, &out));
    CHECK(out == NULL, "client_stats_json: *out not cleared");
    EXPECT_NULL_ARG(vario_client_stats_json(c, NULL));
    client_out = POISON;
    EXPECT_NULL_ARG(vario_client_after_fork(NULL, &client_out));
    CHECK(client_out == NULL, "after_fork: *out not cleared");
    EXPECT_NULL_ARG(vario_client_after_fork(c, NULL));

    /* None of the above may have queued anything. */
    char *stats = NULL;
    if (CHECK_OK(vario_client_stats_json(c, &stats))) {
        cJSON *j = PARSE_JSON(stats);
        CHECK(json_num(j, "decisions", -1) == 0 && json_num(j, "exposures_enqueued", -1) == 0 &&
                  json_num(j, "outcomes_enqueued", -1) == 0,
              "failed calls changed the counters: %s", stats);
        cJSON_Delete(j);
    }
    vario_string_free(stats);
    CHECK_OK(vario_client_close(c, 2000));
    vario_client_free(c);
    vario_context_free(ctx);
    vario_snapshot_free(s);
    CHECK(count_lines(sink) == 0, "the sink got events from failed calls");
    unlink(sink);
    free(sink);
}

static void invalid_utf8(void) {
    /* 0xFF never occurs in UTF-8; C0 AF is an overlong encoding of '/'. */
    const char *bad = "\xff\xfe", *overlong = "x\xc0\xafy";
    vario_snapshot *s = NULL;
    if (!CHECK_OK(vario_snapshot_from_json(g_snapshot_text, &s))) return;
    char *sink = temp_path("utf8-sink");
    vario_client *c = bootstrap_client(sink, NULL);
    vario_context *ctx = vario_context_new();
    uint32_t u32;
    char *out;
    vario_decision d;

    EXPECT_UTF8(vario_bucket(bad, "k", "s", 0, &u32));
    EXPECT_UTF8(vario_bucket("u", overlong, "s", 0, &u32));
    EXPECT_UTF8(vario_digest("u", "k", bad, 0, &u32));
    out = POISON;
    EXPECT_UTF8(vario_pseudonymize(bad, "u", &out));
    CHECK(out == NULL, "pseudonymize: *out not cleared");
    EXPECT_UTF8(vario_pseudonymize("k", overlong, &out));
    vario_snapshot *snap_out = POISON;
    EXPECT_UTF8(vario_snapshot_from_json(bad, &snap_out));
    CHECK(snap_out == NULL, "snapshot_from_json: *out not cleared");
    out = POISON;
    EXPECT_UTF8(vario_snapshot_decide_json(s, bad, 0, &out));
    CHECK(out == NULL, "decide_json: *out not cleared");
    EXPECT_UTF8(vario_snapshot_exposure_json(s, overlong, 0, &out));
    EXPECT_UTF8(vario_snapshot_flag_json(s, bad, REQUEST, 0, &out));
    EXPECT_UTF8(vario_snapshot_flag_json(s, FLAG, bad, 0, &out));
    /* Each string of a vario_request in turn. */
    vario_request bad_requests[3] = {{.placement = bad},
                                     {.placement = PLACEMENT, .user_id = bad},
                                     {.placement = PLACEMENT, .user_id = "u-1", .session_id = overlong}};
    for (int i = 0; i < 3; i++) {
        const vario_request bad_r = bad_requests[i];
        poison_decision(&d);
        EXPECT_UTF8(vario_snapshot_decide(s, &bad_r, 0, &d));
        expect_cleared(&d, "snapshot_decide(bad UTF-8)");
        poison_decision(&d);
        EXPECT_UTF8(vario_client_decide(c, &bad_r, &d));
        expect_cleared(&d, "client_decide(bad UTF-8)");
    }
    EXPECT_UTF8(vario_context_set_str(ctx, bad, "v"));
    EXPECT_UTF8(vario_context_set_str(ctx, "k", overlong));
    EXPECT_UTF8(vario_context_set_f64(ctx, bad, 1.0));
    EXPECT_UTF8(vario_context_set_bool(ctx, overlong, false));
    vario_client *client_out = POISON;
    EXPECT_UTF8(vario_client_new(bad, &client_out));
    CHECK(client_out == NULL, "client_new: *out not cleared");
    out = POISON;
    EXPECT_UTF8(vario_client_decide_json(c, bad, false, &out));
    CHECK(out == NULL, "client decide_json: *out not cleared");
    EXPECT_UTF8(vario_client_expose(c, bad));
    EXPECT_UTF8(vario_client_flag_json(c, overlong, REQUEST, &out));
    EXPECT_UTF8(vario_client_flag_json(c, FLAG, bad, &out));
    EXPECT_UTF8(vario_client_track_json(c, bad));
    EXPECT_UTF8(vario_client_update_snapshot(c, bad));

    CHECK_OK(vario_client_close(c, 2000));
    vario_client_free(c);
    vario_context_free(ctx);
    vario_snapshot_free(s);
    CHECK(count_lines(sink) == 0, "the sink got events from failed calls");
    unlink(sink);
    free(sink);
}

static void malformed_json(void) {
    vario_snapshot *s = NULL;
    if (!CHECK_OK(vario_snapshot_from_json(g_snapshot_text, &s))) return;
    char *sink = temp_path("json-sink");
    vario_client *c = bootstrap_client(sink, NULL);
    vario_context *ctx = vario_context_new();
    char *out;
    static const char *const bad_requests[] = {
        "not json",
        "[1, 2]",
        "{\"user_id\": \"u-1\"}",                                                 /* no placement */
        "{\"user_id\": 42, \"context\": {\"placement\": \"" PLACEMENT "\"}}",     /* id not a string */
        "{\"context\": {\"placement\": \"" PLACEMENT "\"}, \"consent\": \"no\"}", /* consent not a bool */
    };
    for (size_t i = 0; i < sizeof bad_requests / sizeof *bad_requests; i++) {
        out = POISON;
        EXPECT_BAD_REQUEST(vario_snapshot_decide_json(s, bad_requests[i], 0, &out));
        CHECK(out == NULL, "decide_json(%s): *out not cleared", bad_requests[i]);
        out = POISON;
        EXPECT_BAD_REQUEST(vario_snapshot_exposure_json(s, bad_requests[i], 0, &out));
        CHECK(out == NULL, "exposure_json(%s): *out not cleared", bad_requests[i]);
        out = POISON;
        EXPECT_BAD_REQUEST(vario_client_decide_json(c, bad_requests[i], true, &out));
        CHECK(out == NULL, "client decide_json(%s): *out not cleared", bad_requests[i]);
    }
    EXPECT_BAD_REQUEST(vario_snapshot_flag_json(s, FLAG, "not json", 0, &out));
    EXPECT_BAD_REQUEST(vario_client_flag_json(c, FLAG, "{", &out));
    EXPECT_BAD_REQUEST(vario_client_track_json(c, "not json"));
    EXPECT_BAD_REQUEST(vario_client_track_json(c, "{\"user_id\": \"u-1\"}")); /* no event_type */
    EXPECT_BAD_REQUEST(vario_context_set_f64(ctx, "price", NAN));
    EXPECT_BAD_REQUEST(vario_context_set_f64(ctx, "price", INFINITY));

    /* A snapshot that is not one: the client keeps the one it has. */
    EXPECT_ERR(vario_client_update_snapshot(c, "<html>"), VARIO_ERR_INVALID_SNAPSHOT, "NOT_JSON");
    vario_snapshot *snap_out = POISON;
    EXPECT_ERR(vario_snapshot_from_json("<html>", &snap_out), VARIO_ERR_INVALID_SNAPSHOT, "NOT_JSON");
    CHECK(snap_out == NULL, "snapshot_from_json: *out not cleared");
    EXPECT_ERR(vario_snapshot_from_json("{\"schema_version\": 2, \"version\": 1}", &snap_out),
               VARIO_ERR_INVALID_SNAPSHOT, "SCHEMA_VERSION");
    EXPECT_ERR(vario_snapshot_from_json("{\"schema_version\": 1, \"version\": -1}", &snap_out),
               VARIO_ERR_INVALID_SNAPSHOT, "INVALID_SNAPSHOT");

    /* Bad options. */
    char *unknown_key, *both_sources;
    cJSON *o = bootstrap_options(g_snapshot_text, sink);
    cJSON_AddNumberToObject(o, "polll_interval_ms", 10); /* typo: unknown keys are errors */
    unknown_key = print_and_delete(o);
    o = bootstrap_options(g_snapshot_text, sink);
    cJSON_AddStringToObject(o, "config_url", "http://127.0.0.1:9/");
    both_sources = print_and_delete(o);
    const char *const bad_options[] = {
        "not json", "[]", "{}", /* no config source */
        "{\"config_url\": 3}", "{\"config_url\": \"http://127.0.0.1:9/\", \"queue_capacity\": -1}",
        unknown_key, both_sources,
    };
    for (size_t i = 0; i < sizeof bad_options / sizeof *bad_options; i++) {
        vario_client *client_out = POISON;
        EXPECT_ERR(vario_client_new(bad_options[i], &client_out), VARIO_ERR_INVALID_OPTIONS, "INVALID_OPTIONS");
        CHECK(client_out == NULL, "client_new(bad options %zu): *out not cleared", i);
    }
    free(unknown_key);
    free(both_sources);

    CHECK_OK(vario_client_close(c, 2000));
    vario_client_free(c);
    vario_context_free(ctx);
    vario_snapshot_free(s);
    CHECK(count_lines(sink) == 0, "the sink got events from failed calls");
    unlink(sink);
    free(sink);
}

/* Tokens, snapshot swaps under a live decision, close semantics. */
static void tokens_and_close(void) {
    char *sink = temp_path("close-sink");
    vario_client *c = bootstrap_client(sink, NULL);
    /* A client keyed differently: tokens of `c` are foreign to it. */
    vario_client *other = bootstrap_client(sink, "another-key");
    if (!c || !other) {
        vario_client_free(c);
        vario_client_free(other);
        free(sink);
        return;
    }
    CHECK_OK(vario_client_wait_for_init(c, 1000));
    long events = 0;

    char *token = get_token(c, "tok");
    if (token) {
        size_t n = strlen(token);
        char *tampered = strdup(token);
        tampered[n / 2] = tampered[n / 2] == 'A' ? 'B' : 'A'; /* one character of the payload */
        char *truncated = strndup(token, n - 3);
        const char *const forged[] = {"forged", "", "a.b", "vt1.AAAA.BBBB", tampered, truncated};
        for (size_t i = 0; i < sizeof forged / sizeof *forged; i++) {
            g_checks++;
            vario_status st = vario_client_expose(c, forged[i]);
            const char *code = vario_last_error_code();
            if (st != VARIO_ERR_INVALID_TOKEN || !code || !vario_last_error())
                FAIL("forged token %zu (%s): status %d, code %s", i, forged[i], st, last_code_text());
        }
        CHECK_STATUS(vario_client_expose(other, token), VARIO_ERR_INVALID_TOKEN);
        if (CHECK_OK(vario_client_expose(c, token))) events++;
        free(tampered);
        free(truncated);
    }

    /* A client decision keeps its snapshot alive: swap in a newer snapshot (and free the client)
     * while the decision is held, then read its strings. Valgrind checks the reads. */
    vario_request r = {0};
    r.placement = "search"; /* SHIPPED: a variant, no exposure */
    r.user_id = "u-held";
    vario_decision held;
    if (CHECK_OK(vario_client_decide(c, &r, &held))) {
        CHECK(held.reason == VARIO_REASON_SHIPPED && held.config_version == 17, "search: %s v%" PRIu64,
              vario_reason_name(held.reason), held.config_version);
        /* The C view of a snapshot is built once: another decision on it holds the same view. */
        vario_decision again;
        if (CHECK_OK(vario_client_decide(c, &r, &again))) {
            CHECK(again.holder == held.holder && again.variant == held.variant,
                  "a second decision on v17 got another view (holder %p, was %p)", (const void *)again.holder,
                  (const void *)held.holder);
            vario_decision_release(&again);
        }
        /* The same snapshot with version 18. */
        const char *at = strstr(g_snapshot_text, "\"version\": 17");
        CHECK(at != NULL, "examples/snapshot.json has no \"version\": 17");
        if (at) {
            size_t pre = (size_t)(at - g_snapshot_text);
            char *newer = xmalloc(strlen(g_snapshot_text) + 1);
            memcpy(newer, g_snapshot_text, pre);
            strcpy(newer + pre, "\"version\": 18");
            strcat(newer, at + strlen("\"version\": 17"));
            CHECK_OK(vario_client_update_snapshot(c, newer));
            EXPECT_ERR(vario_client_update_snapshot(c, g_snapshot_text), VARIO_ERR_INVALID_SNAPSHOT,
                       "VERSION_REGRESSION");
            free(newer);
        }
        vario_decision now;
        if (CHECK_OK(vario_client_decide(c, &r, &now))) {
            CHECK(now.config_version == 18, "after the update: v%" PRIu64, now.config_version);
            CHECK(now.holder != NULL && now.holder != held.holder, "after the update: still the v17 view");
            vario_decision_release(&now);
        }
    }

    /* Close: once OK, then CLOSED; every call but stats and free refuses. */
    CHECK_OK(vario_client_close(c, 2000));
    EXPECT_CLOSED(vario_client_close(c, 2000));
    vario_decision d;
    poison_decision(&d);
    r.placement = PLACEMENT;
    EXPECT_CLOSED(vario_client_decide(c, &r, &d));
    expect_cleared(&d, "decide after close");
    char *out = POISON;
    EXPECT_CLOSED(vario_client_decide_json(c, REQUEST, false, &out));
    CHECK(out == NULL, "decide_json after close: *out not cleared");
    EXPECT_CLOSED(vario_client_track_json(c, OUTCOME));
    if (token) EXPECT_CLOSED(vario_client_expose(c, token));
    EXPECT_CLOSED(vario_client_flush(c, 1000));
    out = POISON;
    EXPECT_CLOSED(vario_client_flag_json(c, FLAG, REQUEST, &out));
    CHECK(out == NULL, "flag_json after close: *out not cleared");
    EXPECT_CLOSED(vario_client_wait_for_init(c, 0));
    EXPECT_CLOSED(vario_client_update_snapshot(c, g_snapshot_text));
    char *stats = NULL;
    if (CHECK_OK(vario_client_stats_json(c, &stats))) {
        cJSON *j = PARSE_JSON(stats);
        CHECK(json_num(j, "events_sent", -1) == events, "events_sent after close: %s", stats);
        CHECK(json_num(j, "tokens_rejected", -1) == 6, "tokens_rejected: %s", stats);
        cJSON_Delete(j);
    }
    vario_string_free(stats);
    vario_client_free(c);
    vario_client_free(other);

    /* The held decision outlives the client and the snapshot swap. */
    CHECK(held.variant && strcmp(held.variant, "ltr") == 0, "held variant %s", held.variant ? held.variant : "NULL");
    cJSON *p = PARSE_JSON(held.params_json);
    CHECK(json_str(p, "ranker") != NULL, "held params %s", held.params_json);
    cJSON_Delete(p);
    /* Release twice: the second is a no-op. */
    vario_decision_release(&held);
    CHECK(held.holder == NULL && held.variant == NULL, "release did not clear the decision");
    vario_decision_release(&held);
    CHECK(count_lines(sink) == events, "sink has %ld lines, expected %ld", count_lines(sink), events);
    /* Options without `sdk_name`: the C surface's name. */
    CHECK(count_in_file(sink, "\"sdk\":{\"name\":\"vario-c\",") == events, "events without sdk.name vario-c");
    free(token);
    unlink(sink);
    free(sink);
}

static void free_null_and_panic(void) {
    /* Freeing NULL is a no-op for every handle type. */
    vario_snapshot_free(NULL);
    vario_client_free(NULL);
    vario_context_free(NULL);
    vario_string_free(NULL);
    vario_decision_release(NULL);

    /* Releasing a snapshot decision (no holder) twice is safe too. */
    vario_snapshot *s = NULL;
    if (CHECK_OK(vario_snapshot_from_json(g_snapshot_text, &s))) {
        vario_request r = {0};
        r.placement = PLACEMENT;
        r.user_id = "u-1";
        vario_decision d;
        if (CHECK_OK(vario_snapshot_decide(s, &r, 0, &d))) {
            CHECK(d.holder == NULL, "snapshot decision with a holder");
            vario_decision_release(&d);
            vario_decision_release(&d);
        }
        vario_snapshot_free(s);
    }

    /* A panic inside Vario is caught, reported and contained. (Rust's panic hook prints a line
     * about it on stderr: expected.) */
    fprintf(stderr, "misuse: calling vario_debug_panic (a panic message on stderr is expected)\n");
    EXPECT_ERR(vario_debug_panic(), VARIO_ERR_PANIC, "PANIC");
    const char *msg = vario_last_error();
    CHECK(msg && strstr(msg, "vario_debug_panic"), "panic message: %s", msg ? msg : "NULL");
    /* The library still works, and the thread's last error survives successful calls. */
    uint32_t b = 0;
    CHECK_OK(vario_bucket("u", "k", "s", 0, &b));
    CHECK(b < 10000, "bucket %u", b);
    CHECK(vario_last_error_code() && strcmp(vario_last_error_code(), "PANIC") == 0,
          "last error changed by a successful call: %s", last_code_text());
    CHECK(strcmp(vario_reason_name(VARIO_REASON_ASSIGNED), "ASSIGNED") == 0, "reason name");
    CHECK(vario_version() && *vario_version(), "empty version");
}

/* ------------------------------------------------------------------------------------------ */
/* One client shared by 4 threads. */

#define THREADS 4
#define PER_THREAD 250

typedef struct {
    int index;
    const vario_client *client;
    const vario_snapshot *snapshot;
    long assigned;
    int failures;
    char first_failure[256];
} worker;

static void worker_fail(worker *w, const char *what) {
    if (!w->failures++)
        snprintf(w->first_failure, sizeof w->first_failure, "thread %d: %s (%s: %s)", w->index, what,
                 last_code_text(), last_error_text());
}

static void *work(void *arg) {
    worker *w = arg;
    /* Errors are per thread: a new thread has none, whatever the others did. */
    if (vario_last_error() != NULL || vario_last_error_code() != NULL) worker_fail(w, "inherited a last error");
    vario_context *ctx = vario_context_new();
    if (vario_context_set_str(ctx, "locale", "en-GB") != VARIO_OK) worker_fail(w, "set_str");
    char user[64];
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(user, sizeof user, "t%d-u%d", w->index, i);
        if (vario_context_set_f64(ctx, "i", i) != VARIO_OK) worker_fail(w, "set_f64");
        vario_request r = {0};
        r.placement = PLACEMENT;
        r.user_id = user;
        r.context = ctx;
        vario_decision d, same;
        if (vario_client_decide(w->client, &r, &d) != VARIO_OK) {
            worker_fail(w, "client decide");
            continue;
        }
        /* The shared snapshot handle decides the same. */
        if (vario_snapshot_decide(w->snapshot, &r, 0, &same) != VARIO_OK) worker_fail(w, "snapshot decide");
        if (d.reason != same.reason || !d.variant != !same.variant ||
            (d.variant && strcmp(d.variant, same.variant) != 0) || d.bucket != same.bucket)
            worker_fail(w, "client and snapshot decisions differ");
        if (d.reason == VARIO_REASON_ASSIGNED)
            w->assigned++;
        else if (d.reason != VARIO_REASON_HOLDOUT)
            worker_fail(w, "neither ASSIGNED nor HOLDOUT");
        vario_decision_release(&d);
        /* An error on this thread does not leak into the others (checked at their start). */
        if (i == PER_THREAD / 2 && vario_client_decide(w->client, NULL, &d) != VARIO_ERR_NULL_ARGUMENT)
            worker_fail(w, "NULL request accepted");
    }
    vario_context_free(ctx);
    return NULL;
}

static void shared_by_threads(void) {
    char *sink = temp_path("threads-sink");
    vario_client *c = bootstrap_client(sink, NULL);
    vario_snapshot *s = NULL;
    if (!c || !CHECK_OK(vario_snapshot_from_json(g_snapshot_text, &s))) return;
    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.index = i, .client = c, .snapshot = s};
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0, "pthread_create");
    }
    long assigned = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].failures == 0, "%d failures, first: %s", w[i].failures, w[i].first_failure);
        assigned += w[i].assigned;
    }
    CHECK(assigned > THREADS * PER_THREAD / 2, "only %ld of %d decisions ASSIGNED", assigned, THREADS * PER_THREAD);
    CHECK_OK(vario_client_flush(c, 5000));
    char *stats = NULL;
    if (CHECK_OK(vario_client_stats_json(c, &stats))) {
        cJSON *j = PARSE_JSON(stats);
        CHECK(json_num(j, "decisions", -1) == THREADS * PER_THREAD, "decisions: %s", stats);
        CHECK(json_num(j, "exposures_enqueued", -1) == assigned, "exposures_enqueued (want %ld): %s", assigned,
              stats);
        CHECK(json_num(j, "events_sent", -1) == assigned, "events_sent (want %ld): %s", assigned, stats);
        cJSON_Delete(j);
    }
    vario_string_free(stats);
    CHECK_OK(vario_client_close(c, 5000));
    vario_client_free(c);
    vario_snapshot_free(s);
    CHECK(count_lines(sink) == assigned, "sink has %ld lines, expected %ld", count_lines(sink), assigned);
    printf("misuse: %d threads x %d decisions on one client: %ld exposures delivered\n", THREADS, PER_THREAD,
           assigned);
    unlink(sink);
    free(sink);
}

/* A decision made before the first snapshot (NO_CONFIG) serves the caller's default params; its
 * strings, like every client decision's, stay valid until vario_decision_release, even after the
 * client is freed (valgrind checks the read). */
static void no_config_outlives_client(void) {
    vario_client *c = NULL;
    vario_status st = vario_client_new("{\"config_url\":\"http://127.0.0.1:9/\",\"ingest_url\":\"http://127.0.0.1:9/\","
                                       "\"request_timeout_ms\":200,"
                                       "\"default_params\":{\"home\":{\"algo\":\"fallback\"}}}",
                                       &c);
    CHECK(st == VARIO_OK && c != NULL, "client_new for NO_CONFIG: %d", st);
    if (!c) return;
    vario_request r = {0};
    r.placement = "home";
    r.user_id = "u-1";
    vario_decision d;
    st = vario_client_decide(c, &r, &d);
    CHECK(st == VARIO_OK && d.reason == VARIO_REASON_NO_CONFIG, "NO_CONFIG decide: %d %d", st, d.reason);
    CHECK(d.holder != NULL, "a NO_CONFIG decision holds a reference");
    r.placement = "cart";
    vario_decision other;
    st = vario_client_decide(c, &r, &other);
    CHECK(st == VARIO_OK && strcmp(other.params_json, "{}") == 0, "no defaults for cart: %s", other.params_json);
    vario_client_free(c);
    CHECK(strcmp(d.params_json, "{\"algo\":\"fallback\"}") == 0, "params after free: %s", d.params_json);
    vario_decision_release(&d);
    vario_decision_release(&other);
    expect_cleared(&d, "released NO_CONFIG decision");
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "examples/snapshot.json";
    char *text = read_file(path, NULL);
    if (!text) {
        fprintf(stderr, "misuse: cannot read %s\n", path);
        return 2;
    }
    g_snapshot_text = text;
    null_arguments();
    invalid_utf8();
    malformed_json();
    tokens_and_close();
    free_null_and_panic();
    shared_by_threads();
    no_config_outlives_client();
    free(text);
    if (g_failures) {
        fprintf(stderr, "misuse: %d of %d checks failed\n", g_failures, g_checks);
        return 1;
    }
    printf("misuse: all %d checks passed\n", g_checks);
    return 0;
}
