/* fuzz_config.c - libFuzzer target for the configuration loader.
 *
 * Feeds the input to gh_config_load_buffer (not NUL-terminated, so ASan sees
 * any read past the end), prints the errors to /dev/null, and aborts when
 * the result breaks the loader's promises: a success with errors or without
 * a listener, a failure without an error, an error line outside the file,
 * an unterminated string, or a loaded value outside its documented range. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "gatehouse/config.h"

#include "fuzz_common.h"

static struct gh_config *cfg;
static struct gh_config_errors *errs;
static FILE *devnull;

static void require_terminated(const char *s, size_t size)
{
    REQUIRE(memchr(s, '\0', size) != NULL);
}

static void check_duration(double d, double lo, double hi, int zero_ok)
{
    REQUIRE(isfinite(d));
    REQUIRE(d >= lo && d <= hi);
    REQUIRE(zero_ok || d > 0);
}

static void check_addr(const struct gh_sockaddr *a)
{
    require_terminated(a->text, sizeof a->text);
    const struct sockaddr *sa = (const struct sockaddr *)&a->ss;
    if (sa->sa_family == AF_INET) {
        REQUIRE(a->len == sizeof(struct sockaddr_in));
        REQUIRE(((const struct sockaddr_in *)sa)->sin_port != 0);
    } else {
        REQUIRE(sa->sa_family == AF_INET6);
        REQUIRE(a->len == sizeof(struct sockaddr_in6));
        REQUIRE(((const struct sockaddr_in6 *)sa)->sin6_port != 0);
    }
}

static void check_config(void)
{
    REQUIRE(cfg->n_listeners >= 1 && cfg->n_listeners <= GH_MAX_LISTENERS);
    REQUIRE(cfg->global.workers >= 1 && cfg->global.workers <= 64);
    check_duration(cfg->global.shutdown_grace, 0, 3600, 1);
    REQUIRE(cfg->global.log_level >= GH_LOG_DEBUG && cfg->global.log_level <= GH_LOG_ERROR);
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct gh_listener_config *l = &cfg->listeners[i];
        require_terminated(l->name, sizeof l->name);
        REQUIRE(l->name[0] != '\0');
        check_addr(&l->listen);
        check_addr(&l->backend);
        REQUIRE(l->mode == GH_MODE_TCP);
        require_terminated(l->cert, sizeof l->cert);
        require_terminated(l->key, sizeof l->key);
        REQUIRE(l->cert[0] != '\0' && l->key[0] != '\0');
        REQUIRE(l->tls_min_version == 12 || l->tls_min_version == 13);
        require_terminated(l->ciphers, sizeof l->ciphers);
        require_terminated(l->ciphersuites, sizeof l->ciphersuites);
        REQUIRE(l->ciphersuites[0] != '\0');
        REQUIRE(l->n_groups >= 1 && l->n_groups <= GH_GROUPS_MAX);
        for (size_t g = 0; g < l->n_groups; g++) {
            REQUIRE(l->groups[g] <= GH_GROUP_P384);
            for (size_t h = 0; h < g; h++)
                REQUIRE(l->groups[g] != l->groups[h]);
        }
        check_duration(l->handshake_timeout, 0, 3600, 0);
        check_duration(l->connect_timeout, 0, 3600, 0);
        check_duration(l->idle_timeout, 0, 86400, 0);
        REQUIRE(l->max_connections >= 1 && l->max_connections <= 1000000);
        REQUIRE(l->buffer_size >= 4096 && l->buffer_size <= 1048576);
        REQUIRE(l->backlog >= 1 && l->backlog <= 65535);
        for (size_t j = 0; j < i; j++)
            REQUIRE(strcmp(l->name, cfg->listeners[j].name) != 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg) {
        cfg = malloc(sizeof *cfg);
        errs = malloc(sizeof *errs);
        devnull = fopen("/dev/null", "w");
        if (!cfg || !errs || !devnull)
            abort();
    }
    /* An exact-size copy: libFuzzer's buffer is exact too, but a copy also
     * makes sure the loader never writes into its input. */
    char *text = dup_exact(data, size);

    int rc = gh_config_load_buffer("fuzz.ini", text, size, cfg, errs);
    REQUIRE(memcmp(text, data, size) == 0);

    long lines = 1;
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n')
            lines++;
    require_terminated(errs->file, sizeof errs->file);
    size_t kept = errs->count < GH_MAX_ERRORS ? errs->count : GH_MAX_ERRORS;
    for (size_t i = 0; i < kept; i++) {
        const struct gh_config_error *e = &errs->items[i];
        REQUIRE(e->line >= 0 && e->line <= lines);
        require_terminated(e->key, sizeof e->key);
        require_terminated(e->message, sizeof e->message);
        REQUIRE(e->message[0] != '\0');
    }
    if (rc == 0) {
        REQUIRE(errs->count == 0);
        check_config();
    } else {
        REQUIRE(rc == -1);
        REQUIRE(errs->count >= 1);
    }
    gh_config_errors_print(errs, devnull);
    free(text);
    return 0;
}
