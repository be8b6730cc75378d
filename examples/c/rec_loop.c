/*
 * rec_loop: the inner loop of a recommendation service, deciding in-process with Vario's C ABI.
 *
 * Loads a snapshot file, builds one targeting context, decides N users for the
 * "pdp_you_may_also_like" placement on the JSON-free path (no allocation per decision), tallies
 * the variants served and prints each variant's params.
 *
 *   ./rec_loop ../snapshot.json [N]        (N defaults to 10000)
 *
 * A real service would use a vario_client (config polling and event delivery) and
 * vario_client_decide; a snapshot handle is the offline, dependency-free part of the same API.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vario.h"

#define PLACEMENT "pdp_you_may_also_like"
#define MAX_ROWS 32

/* One line of the tally: a (reason, variant) pair and the params it served. */
typedef struct {
    const char *reason;
    const char *variant; /* NULL when no variant was served (placement defaults) */
    const char *params_json;
    long count;
} row;

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)len + 1)) != NULL) {
        if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
            free(buf);
            buf = NULL;
        } else {
            buf[len] = '\0';
        }
    }
    fclose(f);
    return buf;
}

static int fail(const char *what, vario_status status) {
    const char *code = vario_last_error_code(), *msg = vario_last_error();
    fprintf(stderr, "rec_loop: %s failed (status %d, %s: %s)\n", what, (int)status, code ? code : "?",
            msg ? msg : "?");
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SNAPSHOT.json [N]\n", argv[0]);
        return 2;
    }
    long n = argc > 2 ? strtol(argv[2], NULL, 10) : 10000;
    if (n <= 0) n = 10000;
    char *json = read_file(argv[1]);
    if (!json) {
        perror(argv[1]);
        return 1;
    }

    vario_snapshot *snap = NULL;
    vario_status st = vario_snapshot_from_json(json, &snap);
    free(json); /* Vario keeps no pointer to its inputs */
    if (st != VARIO_OK) return fail("vario_snapshot_from_json", st);

    /* One context, reused for every request (a real service would set it per page view). */
    vario_context *ctx = vario_context_new();
    if ((st = vario_context_set_str(ctx, "page_type", "pdp")) != VARIO_OK ||
        (st = vario_context_set_str(ctx, "locale", "en-GB")) != VARIO_OK) {
        vario_context_free(ctx);
        vario_snapshot_free(snap);
        return fail("vario_context_set_str", st);
    }

    /* Decide at the current time: experiments have start and end times. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t now_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;

    row rows[MAX_ROWS];
    int nrows = 0;
    char user[32];
    clock_t t0 = clock();
    for (long i = 0; i < n; i++) {
        snprintf(user, sizeof user, "user-%ld", i);
        vario_request req = {0}; /* zero-initialised: consent given, no session */
        req.placement = PLACEMENT;
        req.user_id = user;
        req.context = ctx;
        vario_decision d;
        if ((st = vario_snapshot_decide(snap, &req, now_ms, &d)) != VARIO_OK) {
            vario_context_free(ctx);
            vario_snapshot_free(snap);
            return fail("vario_snapshot_decide", st);
        }
        /* The decision's strings live in the snapshot: keeping the pointers is fine while it lives. */
        const char *reason = vario_reason_name(d.reason);
        int r = 0;
        while (r < nrows && !(strcmp(rows[r].reason, reason) == 0 &&
                              (rows[r].variant == d.variant ||
                               (rows[r].variant && d.variant && strcmp(rows[r].variant, d.variant) == 0))))
            r++;
        if (r == nrows && nrows < MAX_ROWS) rows[nrows++] = (row){reason, d.variant, d.params_json, 0};
        if (r < nrows) rows[r].count++;
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;

    printf("rec_loop: %ld decisions for %s (snapshot v%" PRIu64 ", %.2f us/decision CPU)\n", n, PLACEMENT,
           vario_snapshot_version(snap), secs * 1e6 / (double)n);
    for (int r = 0; r < nrows; r++)
        printf("  %-10s %-10s %6ld (%5.1f %%)  params %s\n", rows[r].reason, rows[r].variant ? rows[r].variant : "-",
               rows[r].count, 100.0 * (double)rows[r].count / (double)n, rows[r].params_json);

    vario_context_free(ctx);
    vario_snapshot_free(snap); /* invalidates the strings printed above */
    return 0;
}
