/*
 * fork() with a live client (a pre-fork server such as gunicorn or php-fpm does this).
 *
 * The parent starts a bootstrap client writing events to a JSONL sink file, decides a few users,
 * and forks. The child calls vario_client_after_fork for a client of its own, decides distinct
 * users, flushes, closes, frees both handles and exits; it reports its count through a pipe.
 * Meanwhile the parent keeps deciding on its client. Checks: the child exits promptly and cleanly,
 * its events (and the parent's, including those queued before the fork) are all in the shared
 * sink, the old handle drops (and counts) what the child logs through it, and each process's
 * stats agree with what it decided.
 *
 * Usage: fork [SNAPSHOT_PATH]   (default examples/snapshot.json)
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>

#include "util.h"

/* Under valgrind (tests/c/run.sh), the child turns off the leak check at its exit: see below. The
 * header comes with the valgrind package; without it the macro is a no-op. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef VALGRIND_CLO_CHANGE
#define VALGRIND_CLO_CHANGE(option) ((void)0)
#endif

#define PLACEMENT "newsfeed" /* no time window: ASSIGNED or HOLDOUT whatever the clock */
#define ID_HASH_KEY "fork-test-key"
#define CHILD_USERS 20
#define PARENT_USERS 20
#define CHILD_DEADLINE_MS 10000

/* Decides `prefix-0 .. prefix-(n-1)` on `c`; returns how many were ASSIGNED (-1 on a failure). */
static long decide_users(const vario_client *c, const char *prefix, int n) {
    long assigned = 0;
    char user[64];
    for (int i = 0; i < n; i++) {
        snprintf(user, sizeof user, "%s-%d", prefix, i);
        vario_request r = {0};
        r.placement = PLACEMENT;
        r.user_id = user;
        vario_decision d;
        if (vario_client_decide(c, &r, &d) != VARIO_OK) return -1;
        if (d.reason == VARIO_REASON_ASSIGNED) assigned++;
        vario_decision_release(&d);
    }
    return assigned;
}

static double stat_of(const vario_client *c, const char *name) {
    char *stats = NULL;
    double v = -1;
    if (vario_client_stats_json(c, &stats) == VARIO_OK) {
        cJSON *j = cJSON_Parse(stats);
        v = json_num(j, name, -1);
        cJSON_Delete(j);
    }
    vario_string_free(stats);
    return v;
}

/* The child's side. Returns its exit status: 0 when every step worked. Messages go to stderr. */
static int child(vario_client *old, int report_fd) {
    vario_client *mine = NULL;
    if (vario_client_after_fork(old, &mine) != VARIO_OK) {
        fprintf(stderr, "child: after_fork failed: %s\n", last_error_text());
        return 10;
    }
    long assigned = decide_users(mine, "child", CHILD_USERS);
    /* The inherited handle still decides, but its events belong to the parent's queue, which no
     * thread of this process drains: they are dropped and counted. */
    long dropped = decide_users(old, "child-old", 5);
    if (assigned <= 0 || dropped < 0) {
        fprintf(stderr, "child: decisions failed (%ld assigned): %s\n", assigned, last_error_text());
        return 11;
    }
    if (vario_client_flush(mine, 5000) != VARIO_OK || stat_of(mine, "events_sent") != assigned) {
        fprintf(stderr, "child: flush: %s; events_sent %g, expected %ld\n", last_error_text(),
                stat_of(mine, "events_sent"), assigned);
        return 12;
    }
    if (stat_of(old, "dropped_after_fork") != dropped) {
        fprintf(stderr, "child: old handle dropped_after_fork %g, expected %ld\n", stat_of(old, "dropped_after_fork"),
                dropped);
        return 13;
    }
    if (vario_client_close(mine, 5000) != VARIO_OK) {
        fprintf(stderr, "child: close: %s\n", last_error_text());
        return 14;
    }
    vario_client_free(mine);
    vario_client_free(old); /* returns at once in the child: the parent's threads are not here */
    if (write(report_fd, &assigned, sizeof assigned) != (ssize_t)sizeof assigned) return 15;
    close(report_fd);
    return 0;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "examples/snapshot.json";
    char *text = read_file(path, NULL);
    char *sink = temp_path("fork-sink");
    if (!text || !sink) {
        fprintf(stderr, "fork: cannot read %s or create a temporary file\n", path);
        return 2;
    }
    cJSON *o = bootstrap_options(text, sink);
    cJSON_AddNumberToObject(o, "batch_interval_ms", 50);
    cJSON_AddStringToObject(o, "id_hash_key", ID_HASH_KEY);
    char *options = print_and_delete(o);
    vario_client *c = NULL;
    if (!CHECK_OK(vario_client_new(options, &c))) return 1;
    CHECK_OK(vario_client_wait_for_init(c, 1000));

    /* Queued before the fork: the parent delivers these. */
    long parent_assigned = decide_users(c, "parent-pre", 10);
    CHECK(parent_assigned > 0, "no parent decision ASSIGNED before the fork");

    int fds[2];
    if (pipe(fds) != 0) {
        perror("pipe");
        return 2;
    }
    fflush(stdout); /* the child must not print the parent's buffered output again */
    fflush(stderr);
    double t0 = now_monotonic_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 2;
    }
    if (pid == 0) {
        close(fds[0]);
        int rc = child(c, fds[1]);
        free(options);
        free(text);
        free(sink);
        /* The parent's client state inherited by the child (its event queue, ~15 MB of
         * copy-on-write pages never touched here) is owned by the parent's background threads,
         * which do not exist in the child: vario_client_free(old) must not free what they own,
         * so a leak check of the child would report it all as lost. Memory errors in the child
         * are still checked; leaks are checked in the parent (and in misuse/client). */
        VALGRIND_CLO_CHANGE("--leak-check=no");
        exit(rc);
    }
    close(fds[1]);

    /* The parent keeps working while the child runs. */
    long more = decide_users(c, "parent-post", PARENT_USERS);
    CHECK(more >= 0, "parent decisions after the fork failed: %s", last_error_text());
    parent_assigned += more;

    /* Wait for the child, up to the deadline. */
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid, &status, WNOHANG)) == 0 && now_monotonic_ms() - t0 < CHILD_DEADLINE_MS)
        usleep(10 * 1000);
    double child_ms = now_monotonic_ms() - t0;
    if (done == 0) {
        FAIL("the child did not exit within %d ms", CHILD_DEADLINE_MS);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    } else {
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exit status %d (signal %d)",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    long child_assigned = -1;
    CHECK(read(fds[0], &child_assigned, sizeof child_assigned) == (ssize_t)sizeof child_assigned,
          "no report from the child");
    close(fds[0]);

    CHECK_OK(vario_client_flush(c, 5000));
    CHECK(stat_of(c, "events_sent") == parent_assigned, "parent events_sent %g, expected %ld",
          stat_of(c, "events_sent"), parent_assigned);
    CHECK(stat_of(c, "dropped_after_fork") == 0, "the parent dropped events as forked");
    CHECK_OK(vario_client_close(c, 5000));
    vario_client_free(c);

    /* Both processes appended to the same sink. */
    long lines = count_lines(sink);
    CHECK(lines == parent_assigned + child_assigned, "sink has %ld lines, expected %ld (parent) + %ld (child)", lines,
          parent_assigned, child_assigned);
    /* Every child decision that was ASSIGNED is there, under its pseudonym. */
    long child_found = 0;
    for (int i = 0; i < CHILD_USERS; i++) {
        char user[64], *pseudonym = NULL;
        snprintf(user, sizeof user, "child-%d", i);
        if (CHECK_OK(vario_pseudonymize(ID_HASH_KEY, user, &pseudonym))) child_found += count_in_file(sink, pseudonym);
        vario_string_free(pseudonym);
    }
    CHECK(child_found == child_assigned, "found %ld child events in the sink, expected %ld", child_found,
          child_assigned);
    CHECK(count_in_file(sink, "child-") == 0, "a raw user id reached the sink");

    printf("fork: parent %ld events, child %ld events (child exited after %.0f ms); sink has %ld lines\n",
           parent_assigned, child_assigned, child_ms, lines);
    unlink(sink);
    free(sink);
    free(options);
    free(text);
    if (g_failures) {
        fprintf(stderr, "fork: %d of %d checks failed\n", g_failures, g_checks);
        return 1;
    }
    printf("fork: all %d checks passed\n", g_checks);
    return 0;
}
