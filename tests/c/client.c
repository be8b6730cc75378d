/*
 * Client round trip through the C ABI against a running `vario dev-server`.
 *
 * Usage: client BASE_URL   (e.g. http://127.0.0.1:41234, as printed by the dev server, which
 * serves examples/snapshot.json at every GET path and ingests at every POST path).
 *
 * 1. A client polls BASE_URL/config and posts events to BASE_URL/ingest. Hundreds of distinct
 *    users are decided on newsfeed; every ASSIGNED decision must become exactly one
 *    event (distinct users, so nothing is de-duplicated). Decisions that log nothing (SHIPPED,
 *    OPTED_OUT) are mixed in. One decision is deferred with an exposure token and exposed later,
 *    and one outcome is tracked. After flush, stats must report exactly that many events sent.
 * 2. A client whose config URL is a closed port serves NO_CONFIG with the caller's default params,
 *    and wait_for_init times out.
 * 3. The SRM monitor (stats "srm"): a 50/50 experiment fed 52/48 distinct users is flagged, 50/50
 *    is not (the scenario of the Rust, Python and Node suites).
 * 4. An interleaved placement: the decision JSON names both rankers and the coin; the C caller
 *    merges with vario_interleave and logs each impression with vario_client_expose_interleaved;
 *    every impression of one unit reaches the sink with its teams (and, balanced, its ranks).
 *
 * On success the last lines printed are EXPECTED_EVENTS=<n>, PSEUDONYM=<hex> (the pseudonym of a
 * user that was ASSIGNED) and RAW_ID_PREFIX=<prefix of every raw user id used>: tests/c/run.sh
 * checks the dev server's JSONL output against them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "util.h"

/* newsfeed: two RUNNING experiments splitting one layer, no time window and no targeting, so every
 * user is ASSIGNED or (2 % global holdout) HOLDOUT whatever the machine's clock says. */
#define PLACEMENT "newsfeed"
#define N_USERS 300
#define ID_HASH_KEY "c-test-key"
#define USER_PREFIX "c-user-"

/* A stats counter (-1 when missing). */
static double stat_value(const char *stats_json, const char *name) {
    cJSON *s = cJSON_Parse(stats_json);
    double v = json_num(s, name, -1);
    cJSON_Delete(s);
    return v;
}

/* Decides one user on the JSON-free path; returns its reason (or -1 on failure). */
static int decide_user(const vario_client *c, const char *user, const char *placement, bool opted_out,
                       const vario_context *ctx) {
    vario_request req = {0};
    req.placement = placement;
    req.user_id = user;
    req.context = ctx;
    req.opted_out = opted_out;
    vario_decision d;
    if (!CHECK_OK(vario_client_decide(c, &req, &d))) return -1;
    int reason = (int)d.reason;
    /* A client decision holds its snapshot until released; its strings are valid meanwhile. */
    CHECK(d.holder != NULL, "%s: client decision without a holder", user);
    CHECK(d.params_json != NULL, "%s: params_json is NULL", user);
    cJSON *params = PARSE_JSON(d.params_json);
    CHECK(cJSON_IsObject(params), "%s: params_json is not an object", user);
    cJSON_Delete(params);
    if (d.reason == VARIO_REASON_ASSIGNED) {
        CHECK(d.variant != NULL && d.experiment_key != NULL, "%s: ASSIGNED without variant/experiment", user);
        CHECK(d.bucket >= 0 && d.bucket < 10000, "%s: bucket %d out of range", user, d.bucket);
        CHECK(d.config_version > 0, "%s: config_version 0 on a loaded snapshot", user);
    }
    vario_decision_release(&d);
    CHECK(d.holder == NULL && d.variant == NULL && d.experiment_key == NULL, "%s: release left pointers", user);
    return reason;
}

/* Part 1: the round trip. Returns the number of events that must reach the server (or -1). */
static long round_trip(const char *base) {
    char config_url[512], ingest_url[512], options[1400];
    snprintf(config_url, sizeof config_url, "%s/config", base);
    snprintf(ingest_url, sizeof ingest_url, "%s/ingest", base);
    snprintf(options, sizeof options,
             "{\"config_url\": \"%s\", \"ingest_url\": \"%s\", \"id_hash_key\": \"" ID_HASH_KEY "\","
             " \"batch_interval_ms\": 50, \"sdk_name\": \"vario-c-test\"}",
             config_url, ingest_url);
    vario_client *c = NULL;
    if (!CHECK_OK(vario_client_new(options, &c))) return -1;
    if (!CHECK_OK(vario_client_wait_for_init(c, 5000))) {
        vario_client_free(c);
        return -1;
    }
    /* Any loaded snapshot has a version >= 1; none will ever have the largest one. */
    CHECK_OK(vario_client_wait_for_version(c, 1, 100));
    double t0 = now_monotonic_ms();
    if (CHECK_STATUS(vario_client_wait_for_version(c, 9007199254740991ULL, 200), VARIO_ERR_TIMEOUT)) {
        const char *code = vario_last_error_code();
        CHECK(code && strcmp(code, "TIMEOUT") == 0, "wait_for_version code %s", last_code_text());
    }
    CHECK(now_monotonic_ms() - t0 >= 150, "wait_for_version(200 ms) returned after %.0f ms", now_monotonic_ms() - t0);

    vario_context *ctx = vario_context_new();
    CHECK_OK(vario_context_set_str(ctx, "page_type", "feed"));
    CHECK_OK(vario_context_set_str(ctx, "locale", "en-GB"));

    long assigned = 0, held_out = 0, other = 0, tokens = 0, outcomes = 0, json_decisions = 0;
    char user[64], first_assigned[64] = "";
    for (int i = 0; i < N_USERS; i++) {
        snprintf(user, sizeof user, USER_PREFIX "%d", i);
        int r = decide_user(c, user, PLACEMENT, false, ctx);
        if (r == VARIO_REASON_ASSIGNED) {
            assigned++;
            if (!first_assigned[0]) snprintf(first_assigned, sizeof first_assigned, "%s", user);
        } else if (r == VARIO_REASON_HOLDOUT) {
            held_out++; /* the snapshot's 2 % global holdout: no exposure */
        } else {
            other++;
        }
    }
    CHECK(other == 0, "%ld decisions were neither ASSIGNED nor HOLDOUT", other);
    /* ~98 % of users are assigned; a handful would mean the decisions are not what we think. */
    CHECK(assigned > N_USERS / 2, "only %ld of %d users ASSIGNED", assigned, N_USERS);

    /* Decisions that must log nothing: a shipped experiment and an opted-out visitor. */
    snprintf(user, sizeof user, USER_PREFIX "shipped");
    CHECK(decide_user(c, user, "search", false, ctx) == VARIO_REASON_SHIPPED, "search is not SHIPPED");
    snprintf(user, sizeof user, USER_PREFIX "optout");
    CHECK(decide_user(c, user, PLACEMENT, true, ctx) == VARIO_REASON_OPTED_OUT, "opt-out is not OPTED_OUT");

    /* Deferred exposure: decide_json with expose_later, then expose the token. Try a few users in
     * case the first is held out (held-out decisions carry no token). */
    for (int i = 0; i < 20 && tokens == 0; i++) {
        char req[256], *out = NULL;
        snprintf(req, sizeof req,
                 "{\"user_id\": \"" USER_PREFIX "token-%d\", \"context\": {\"placement\": \"" PLACEMENT
                 "\", \"locale\": \"en-GB\"}}",
                 i);
        if (!CHECK_OK(vario_client_decide_json(c, req, true, &out))) break;
        json_decisions++;
        cJSON *d = PARSE_JSON(out);
        const char *reason = json_str(d, "reason"), *token = json_str(d, "exposure_token");
        if (reason && strcmp(reason, "ASSIGNED") == 0) {
            CHECK(token != NULL, "ASSIGNED decide_json with expose_later has no exposure_token: %s", out);
            if (token && CHECK_OK(vario_client_expose(c, token))) tokens++;
        } else {
            CHECK(token == NULL, "a %s decision carries an exposure token", reason ? reason : "?");
        }
        cJSON_Delete(d);
        vario_string_free(out);
    }
    CHECK(tokens == 1, "no deferred exposure was logged");

    /* An outcome for an assigned user (the client attaches its recent assignments). */
    char outcome[256];
    snprintf(outcome, sizeof outcome,
             "{\"event_type\": \"click\", \"user_id\": \"%s\", \"item_id\": \"post-42\","
             " \"value\": 19.99, \"currency\": \"EUR\", \"placement\": \"" PLACEMENT "\"}",
             first_assigned);
    if (CHECK_OK(vario_client_track_json(c, outcome))) outcomes++;

    CHECK_OK(vario_client_flush(c, 5000));
    long expected = assigned + tokens + outcomes;
    char *stats = NULL;
    if (CHECK_OK(vario_client_stats_json(c, &stats))) {
        CHECK(stat_value(stats, "events_sent") == expected, "events_sent %g, expected %ld: %s",
              stat_value(stats, "events_sent"), expected, stats);
        CHECK(stat_value(stats, "exposures_enqueued") == assigned + tokens, "exposures_enqueued: %s", stats);
        CHECK(stat_value(stats, "outcomes_enqueued") == outcomes, "outcomes_enqueued: %s", stats);
        CHECK(stat_value(stats, "exposures_deduplicated") == 0, "exposures_deduplicated: %s", stats);
        CHECK(stat_value(stats, "decisions") == N_USERS + 2 + json_decisions, "decisions: %s", stats);
    }
    vario_string_free(stats);
    CHECK_OK(vario_client_close(c, 5000));
    stats = NULL;
    if (CHECK_OK(vario_client_stats_json(c, &stats)))
        CHECK(stat_value(stats, "events_sent") == expected, "events_sent changed at close: %s", stats);
    vario_string_free(stats);
    vario_client_free(c);
    vario_context_free(ctx);

    printf("client: %d users decided: %ld ASSIGNED, %ld HOLDOUT; %ld token, %ld outcome -> %ld events\n", N_USERS,
           assigned, held_out, tokens, outcomes, expected);
    char *pseudonym = NULL;
    if (first_assigned[0] && CHECK_OK(vario_pseudonymize(ID_HASH_KEY, first_assigned, &pseudonym)))
        printf("PSEUDONYM=%s\n", pseudonym);
    vario_string_free(pseudonym);
    return expected;
}

/* A TCP port on 127.0.0.1 that nothing listens on: bound by us, then closed. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    socklen_t len = sizeof a;
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        FAIL("cannot bind a loopback port: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return 9; /* discard: closed on any sane test machine */
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Part 2: no reachable config service. */
static void no_config(void) {
    int port = closed_port();
    char options[512];
    snprintf(options, sizeof options,
             "{\"config_url\": \"http://127.0.0.1:%d/config\", \"ingest_url\": \"http://127.0.0.1:%d/ingest\","
             " \"request_timeout_ms\": 500, \"default_params\": {\"home\": {\"algo\": \"fallback\"}}}",
             port, port);
    vario_client *c = NULL;
    if (!CHECK_OK(vario_client_new(options, &c))) return;
    double t0 = now_monotonic_ms();
    if (CHECK_STATUS(vario_client_wait_for_init(c, 300), VARIO_ERR_TIMEOUT)) {
        const char *code = vario_last_error_code();
        CHECK(code && strcmp(code, "TIMEOUT") == 0, "wait_for_init code %s", last_code_text());
    }
    CHECK(now_monotonic_ms() - t0 < 3000, "wait_for_init(300) took %.0f ms", now_monotonic_ms() - t0);

    vario_request req = {0};
    req.placement = "home";
    req.user_id = USER_PREFIX "offline";
    vario_decision d;
    if (CHECK_OK(vario_client_decide(c, &req, &d))) {
        CHECK(d.reason == VARIO_REASON_NO_CONFIG, "reason %s, expected NO_CONFIG", vario_reason_name(d.reason));
        CHECK(strcmp(vario_reason_name(d.reason), "NO_CONFIG") == 0, "reason name %s", vario_reason_name(d.reason));
        CHECK(d.variant == NULL && d.experiment_key == NULL && d.config_version == 0, "NO_CONFIG has an experiment");
        cJSON *p = PARSE_JSON(d.params_json);
        const char *algo = json_str(p, "algo");
        CHECK(algo && strcmp(algo, "fallback") == 0, "NO_CONFIG params %s", d.params_json);
        cJSON_Delete(p);
        vario_decision_release(&d);
    }
    /* A placement without defaults gets {}. */
    req.placement = "search";
    if (CHECK_OK(vario_client_decide(c, &req, &d))) {
        CHECK(d.reason == VARIO_REASON_NO_CONFIG && strcmp(d.params_json, "{}") == 0, "search: %s %s",
              vario_reason_name(d.reason), d.params_json);
        vario_decision_release(&d);
    }
    char *out = NULL;
    if (CHECK_OK(vario_client_decide_json(c, "{\"user_id\": \"x\", \"context\": {\"placement\": \"home\"}}", false,
                                          &out))) {
        cJSON *j = PARSE_JSON(out);
        cJSON *params = cJSON_GetObjectItemCaseSensitive(j, "params");
        const char *reason = json_str(j, "reason"), *algo = json_str(params, "algo");
        CHECK(reason && strcmp(reason, "NO_CONFIG") == 0, "decide_json reason: %s", out);
        CHECK(algo && strcmp(algo, "fallback") == 0, "decide_json params: %s", out);
        cJSON_Delete(j);
    }
    vario_string_free(out);
    char *stats = NULL;
    if (CHECK_OK(vario_client_stats_json(c, &stats)))
        CHECK(stat_value(stats, "decisions_no_config") == 3, "decisions_no_config: %s", stats);
    vario_string_free(stats);
    CHECK_OK(vario_client_close(c, 2000));
    vario_client_free(c);
    printf("client: NO_CONFIG fallback and init timeout ok (config port %d closed)\n", port);
}

/* Part 3: the SRM monitor. */
#define SRM_SNAPSHOT                                                                                         \
    "{\"schema_version\": 1, \"version\": 1, \"placements\": {\"home\": {\"default_params\": {}}},"          \
    " \"experiments\": [{\"id\": \"e-home\", \"key\": \"home_algo\", \"status\": \"RUNNING\","              \
    " \"placements\": [\"home\"], \"variants\": [{\"key\": \"control\"}, {\"key\": \"treatment\"}],"         \
    " \"allocation\": {\"weights\": {\"control\": 50, \"treatment\": 50}}}]}"
#define SRM_PER_VARIANT 5200

static void srm_monitor(void) {
    static char ids[2][SRM_PER_VARIANT][24];
    int have[2] = {0, 0};
    vario_snapshot *snap = NULL;
    if (!CHECK_OK(vario_snapshot_from_json(SRM_SNAPSHOT, &snap))) return;
    for (int i = 0; have[0] < SRM_PER_VARIANT || have[1] < SRM_PER_VARIANT; i++) {
        char id[24];
        snprintf(id, sizeof id, "srm-%d", i);
        vario_request req = {0};
        req.placement = "home";
        req.user_id = id;
        vario_decision d;
        if (!CHECK_OK(vario_snapshot_decide(snap, &req, 0, &d))) break;
        int arm = d.variant == NULL ? -1 : strcmp(d.variant, "control") == 0 ? 0 : 1;
        if (arm >= 0 && have[arm] < SRM_PER_VARIANT) snprintf(ids[arm][have[arm]++], sizeof ids[0][0], "%s", id);
    }
    vario_snapshot_free(snap);

    const struct {
        const char *name;
        int control, treatment;
        bool mismatch;
    } cases[] = {{"skewed", 5200, 4800, true}, {"even", 5000, 5000, false}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char dir[] = "/tmp/vario-c-srm-XXXXXX";
        if (!mkdtemp(dir)) {
            CHECK(false, "mkdtemp failed");
            return;
        }
        /* The snapshot goes into the options as a JSON string: its quotes escaped. */
        char escaped[1200], *o = escaped;
        for (const char *p = SRM_SNAPSHOT; *p && o < escaped + sizeof escaped - 2; p++) {
            if (*p == '"') *o++ = '\\';
            *o++ = *p;
        }
        *o = '\0';
        char full[1600];
        snprintf(full, sizeof full, "{\"bootstrap\": \"%s\", \"sink_path\": \"%s/events.jsonl\", \"id_hash_key\": \"k\"}",
                 escaped, dir);
        vario_client *c = NULL;
        if (!CHECK_OK(vario_client_new(full, &c))) return;
        for (int arm = 0; arm < 2; arm++) {
            int n = arm == 0 ? cases[k].control : cases[k].treatment;
            for (int i = 0; i < n; i++)
                for (int twice = 0; twice < 2; twice++) /* a unit counts once */
                    decide_user(c, ids[arm][i], "home", false, NULL);
        }
        CHECK_OK(vario_client_flush(c, 10000));
        char *stats = NULL;
        if (CHECK_OK(vario_client_stats_json(c, &stats))) {
            cJSON *s = PARSE_JSON(stats);
            cJSON *srm = cJSON_GetObjectItemCaseSensitive(s, "srm");
            CHECK(cJSON_IsArray(srm) && cJSON_GetArraySize(srm) == 1, "%s: srm %s", cases[k].name, stats);
            cJSON *e = cJSON_GetArrayItem(srm, 0);
            cJSON *units = cJSON_GetObjectItemCaseSensitive(e, "units");
            cJSON *expected = cJSON_GetObjectItemCaseSensitive(e, "expected");
            const char *key = json_str(e, "experiment_key");
            CHECK(key && strcmp(key, "home_algo") == 0, "%s: experiment %s", cases[k].name, key ? key : "(null)");
            CHECK(json_num(units, "control", -1) == cases[k].control && json_num(units, "treatment", -1) == cases[k].treatment,
                  "%s: units %s", cases[k].name, stats);
            CHECK(json_num(expected, "control", -1) == 0.5 && json_num(expected, "treatment", -1) == 0.5,
                  "%s: expected %s", cases[k].name, stats);
            cJSON *flag = cJSON_GetObjectItemCaseSensitive(e, "srm_mismatch");
            double p = json_num(e, "p_value", -1);
            CHECK(cJSON_IsBool(flag) && cJSON_IsTrue(flag) == cases[k].mismatch, "%s: srm_mismatch (p = %g)", cases[k].name, p);
            CHECK(cases[k].mismatch ? (p >= 0 && p < 1e-3) : p > 0.5, "%s: p = %g", cases[k].name, p);
            cJSON_Delete(s);
        }
        vario_string_free(stats);
        CHECK_OK(vario_client_close(c, 5000));
        vario_client_free(c);
        char events[200];
        snprintf(events, sizeof events, "%s/events.jsonl", dir);
        remove(events);
        rmdir(dir);
    }
    printf("client: SRM monitor flags 5200/4800 and not 5000/5000\n");
}

/* Part 4: an interleaved placement, decided, merged and logged through the C ABI. */
#define IL_SNAPSHOT                                                                                          \
    "{\"schema_version\": 1, \"version\": 1, \"hashing\": {\"seed\": 5}, \"placements\": {\"search\": "     \
    "{\"default_params\": {\"ranker\": \"bm25\"}}}, \"experiments\": [{\"id\": \"e-s\", \"key\": \"search_il\","\
    " \"status\": \"RUNNING\", \"placements\": [\"search\"], \"variants\": [{\"key\": \"bm25\"},"          \
    " {\"key\": \"ltr\", \"params\": {\"ranker\": \"ltr\"}}], \"allocation\": {\"weights\": {\"bm25\": 50,"  \
    " \"ltr\": 50}}, \"interleaving\": {\"method\": \"balanced\", \"rankers\": {\"a\": \"ltr\", \"b\": \"bm25\"}}}]}"

static void interleaved(void) {
    char dir[] = "/tmp/vario-c-il-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(false, "mkdtemp failed");
        return;
    }
    char escaped[1200], *o = escaped;
    for (const char *p = IL_SNAPSHOT; *p && o < escaped + sizeof escaped - 2; p++) {
        if (*p == '"') *o++ = '\\';
        *o++ = *p;
    }
    *o = '\0';
    char full[1600];
    snprintf(full, sizeof full, "{\"bootstrap\": \"%s\", \"sink_path\": \"%s/events.jsonl\", \"id_hash_key\": \"k\"}",
             escaped, dir);
    vario_client *c = NULL;
    if (!CHECK_OK(vario_client_new(full, &c))) return;
    const char *a[] = {"p1", "p2", "p3", "p4"}, *b[] = {"p3", "p5", "p1", "p6"};
    const char *queries[] = {"shoes", "boots", "shoes"};
    uint8_t shown[3][8];
    size_t shown_len[3] = {0, 0, 0};
    char shown_id[3][64] = {"", "", ""};
    for (int q = 0; q < 3; q++) {
        char *json = NULL;
        if (!CHECK_OK(vario_client_decide_json(c, "{\"user_id\": \"ann\", \"context\": {\"placement\": \"search\"}}", true, &json)))
            break;
        cJSON *d = PARSE_JSON(json);
        cJSON *il = cJSON_GetObjectItemCaseSensitive(d, "interleaving");
        const char *method = json_str(il, "method"), *key = json_str(il, "key"), *salt = json_str(il, "salt");
        const char *token = json_str(d, "exposure_token");
        cJSON *ra = cJSON_GetObjectItemCaseSensitive(il, "a");
        CHECK(method && strcmp(method, "balanced") == 0 && key && strcmp(key, "search_il") == 0 && salt &&
                  json_num(il, "seed", -1) == 5 && token,
              "interleaved decision: %s", json);
        const char *va = ra ? json_str(ra, "variant") : NULL;
        CHECK(va && strcmp(va, "ltr") == 0, "ranker a: %s", json);
        uint32_t idx[8];
        size_t len = 0;
        if (token && key && salt &&
            CHECK_OK(vario_interleave(VARIO_INTERLEAVE_BALANCED, a, 4, b, 4, "ann", key, salt, queries[q], 5, -1, idx,
                                      shown[q], 8, &len))) {
            shown_len[q] = len;
            char *eid = NULL;
            if (CHECK_OK(vario_token_event_id(token, &eid))) snprintf(shown_id[q], sizeof shown_id[q], "%s", eid);
            vario_string_free(eid);
            CHECK_OK(vario_client_expose_interleaved(c, token, VARIO_INTERLEAVE_BALANCED, a, 4, b, 4, shown[q], len));
            /* Teams that cannot come from these rankings are refused. */
            uint8_t bad[8] = {0, 0, 0, 0, 0};
            CHECK_STATUS(vario_client_expose_interleaved(c, token, VARIO_INTERLEAVE_BALANCED, a, 4, b, 4, bad, 5),
                         VARIO_ERR_INVALID_REQUEST);
        }
        cJSON_Delete(d);
        vario_string_free(json);
    }
    CHECK_OK(vario_client_close(c, 5000));
    vario_client_free(c);
    char path[200];
    snprintf(path, sizeof path, "%s/events.jsonl", dir);
    FILE *f = fopen(path, "r");
    int seen = 0;
    char line[8192];
    while (f && fgets(line, sizeof line, f)) {
        cJSON *e = PARSE_JSON(line);
        cJSON *il = cJSON_GetObjectItemCaseSensitive(e, "interleaving");
        cJSON *teams = cJSON_GetObjectItemCaseSensitive(il, "teams");
        cJSON *ranks = cJSON_GetObjectItemCaseSensitive(il, "ranks");
        if (seen < 3 && cJSON_IsArray(teams)) {
            bool same = (size_t)cJSON_GetArraySize(teams) == shown_len[seen];
            for (size_t i = 0; same && i < shown_len[seen]; i++) {
                const char *t = cJSON_GetArrayItem(teams, (int)i)->valuestring;
                same = t && strcmp(t, shown[seen][i] == VARIO_TEAM_A ? "a" : "b") == 0;
            }
            const char *eid = json_str(e, "event_id");
            CHECK(same && cJSON_IsObject(ranks), "impression %d: %s", seen, line);
            CHECK(eid && strcmp(eid, shown_id[seen]) == 0, "impression %d logged under its token's id: %s", seen, line);
            seen++;
        }
        cJSON_Delete(e);
    }
    if (f) fclose(f);
    CHECK(seen == 3, "three impressions of one unit are three events (got %d)", seen);
    remove(path);
    rmdir(dir);
    printf("client: interleaved impressions logged with their teams\n");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    /* Accept the URL with or without a trailing slash. */
    char base[400];
    snprintf(base, sizeof base, "%s", argv[1]);
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') base[--n] = '\0';

    long expected = round_trip(base);
    no_config();
    srm_monitor();
    interleaved();
    if (g_failures) {
        fprintf(stderr, "client: %d checks failed\n", g_failures);
        return 1;
    }
    printf("EXPECTED_EVENTS=%ld\nRAW_ID_PREFIX=" USER_PREFIX "\n", expected);
    return 0;
}
