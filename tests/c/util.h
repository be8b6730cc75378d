/*
 * Small helpers shared by the C tests of the Vario ABI (the .c files in tests/c).
 *
 * Every helper is `static` so each test stays one translation unit.
 */
#ifndef VARIO_TEST_UTIL_H
#define VARIO_TEST_UTIL_H

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vario.h"

/* Not every test uses every helper: keep -Wunused quiet for these. */
#define UTIL_FN static __attribute__((unused))

/* Checks run and failed so far (per process). */
static int g_checks __attribute__((unused)) = 0;
static int g_failures __attribute__((unused)) = 0;

/* Records a failed check (message on stderr, with the caller's line). */
UTIL_FN void fail_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
UTIL_FN void fail_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    g_failures++;
}

#define FAIL(...) fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond, ...)                \
    do {                                \
        g_checks++;                     \
        if (!(cond)) FAIL(__VA_ARGS__); \
    } while (0)

/* malloc/calloc that exit on failure (tests do not recover from out-of-memory). */
UTIL_FN void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

UTIL_FN void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* The calling thread's last error, never NULL (for messages). */
UTIL_FN const char *last_error_text(void) {
    const char *m = vario_last_error();
    return m ? m : "(no error message)";
}

UTIL_FN const char *last_code_text(void) {
    const char *c = vario_last_error_code();
    return c ? c : "(no code)";
}

/* Checks that `call` returned `want`; evaluates to 1 when it did. */
#define CHECK_STATUS(call, want) check_status_at(__FILE__, __LINE__, #call, (call), (want))
UTIL_FN int check_status_at(const char *file, int line, const char *what, vario_status got, vario_status want) {
    g_checks++;
    if (got == want) return 1;
    fail_at(file, line, "%s returned %d, expected %d (last error %s: %s)", what, (int)got, (int)want,
            last_code_text(), last_error_text());
    return 0;
}

#define CHECK_OK(call) CHECK_STATUS(call, VARIO_OK)

/* Reads a whole file into a NUL-terminated heap buffer (free with free()); NULL on error. */
UTIL_FN char *read_file(const char *path, size_t *len_out) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    for (;;) {
        if (len + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

/* Number of '\n'-terminated lines in a file (0 if it does not exist). */
UTIL_FN long count_lines(const char *path) {
    char *text = read_file(path, NULL);
    if (!text) return 0;
    long n = 0;
    for (const char *p = text; *p; p++) n += (*p == '\n');
    free(text);
    return n;
}

/* Occurrences of `needle` in a file (0 if it does not exist). */
UTIL_FN long count_in_file(const char *path, const char *needle) {
    char *text = read_file(path, NULL);
    if (!text) return 0;
    long n = 0;
    size_t nl = strlen(needle);
    for (const char *p = strstr(text, needle); p; p = strstr(p + nl, needle)) n++;
    free(text);
    return n;
}

/* A fresh, empty temporary file path (malloc'd; the file exists, empty). */
UTIL_FN char *temp_path(const char *tag) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    size_t n = strlen(dir) + strlen(tag) + 32;
    char *path = malloc(n);
    if (!path) return NULL;
    snprintf(path, n, "%s/vario-c-%s-XXXXXX", dir, tag);
    int fd = mkstemp(path);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

/* Monotonic clock in milliseconds. */
UTIL_FN double now_monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* Parses JSON returned by Vario; records a failure and returns NULL when it does not parse. */
#define PARSE_JSON(text) parse_json_at(__FILE__, __LINE__, (text))
UTIL_FN cJSON *parse_json_at(const char *file, int line, const char *text) {
    if (!text) {
        fail_at(file, line, "expected JSON text, got NULL");
        return NULL;
    }
    cJSON *v = cJSON_Parse(text);
    if (!v) fail_at(file, line, "not JSON: %.200s", text);
    return v;
}

/* A number member of a JSON object, or `dflt` when absent or not a number. */
UTIL_FN double json_num(const cJSON *obj, const char *key, double dflt) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* A string member of a JSON object, or NULL when absent or not a string. */
UTIL_FN const char *json_str(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Client options with a bootstrap snapshot and a local JSONL sink (no server needed). cJSON
 * escapes the snapshot text into a JSON string. Add keys, then print with print_and_delete(). */
UTIL_FN cJSON *bootstrap_options(const char *snapshot_text, const char *sink_path) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "bootstrap", snapshot_text);
    if (sink_path) cJSON_AddStringToObject(o, "sink_path", sink_path);
    return o;
}

/* Unformatted JSON text of `v` (free with free()); deletes `v`. */
UTIL_FN char *print_and_delete(cJSON *v) {
    char *text = cJSON_PrintUnformatted(v);
    cJSON_Delete(v);
    if (!text) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return text;
}

#endif /* VARIO_TEST_UTIL_H */
