/* reload.c - loading a configuration to replace the running one; see
 * reload.h. */
#include "gatehouse/reload.h"

#include <stdlib.h>
#include <string.h>

#include "gatehouse/audit.h"
#include "gatehouse/instance.h"
#include "gatehouse/log.h"
#include "gatehouse/tls.h"

static bool same_address(const struct gh_sockaddr *a, const struct gh_sockaddr *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* Everything a running process keeps from its start: sockets, buffer
 * pools, worker processes and the audit writer. */
static void check_compatible(const struct gh_config *cur, const struct gh_config *next,
                             struct gh_config_errors *errs)
{
    const struct gh_global_config *a = &cur->global, *b = &next->global;

    if (a->workers != b->workers)
        gh_config_key_error(errs, &b->key_lines, "workers", "changed from %d to %d: needs a restart",
                            a->workers, b->workers);
    if (strcmp(a->audit_file, b->audit_file) != 0 ||
        strcmp(a->audit_key_file, b->audit_key_file) != 0 || a->audit_fsync != b->audit_fsync ||
        a->audit_fsync_interval != b->audit_fsync_interval ||
        a->audit_flush_interval != b->audit_flush_interval ||
        a->audit_buffer_size != b->audit_buffer_size || a->audit_max_field != b->audit_max_field)
        gh_config_key_error(errs, &b->key_lines, "audit_file",
                            "the audit settings changed: they need a restart");
    if (strcmp(a->pid_file, b->pid_file) != 0)
        gh_config_key_error(errs, &b->key_lines, "pid_file",
                            "changed: the running instance holds the old one; needs a restart");
    if (strcmp(a->ticket_key_file, b->ticket_key_file) != 0 ||
        a->ticket_rotation != b->ticket_rotation)
        gh_config_key_error(errs, &b->key_lines, "ticket_key_file",
                            "the session ticket settings changed: they need a restart");
    if (cur->n_listeners != next->n_listeners) {
        /* the first listener added; a removed one has no line left to name */
        int line = next->n_listeners > cur->n_listeners ? next->listeners[cur->n_listeners].line : 0;
        gh_config_error_add(errs, line, "listener",
                            "%zu listeners instead of %zu: adding or removing one needs a restart",
                            next->n_listeners, cur->n_listeners);
        return;
    }
    for (size_t i = 0; i < cur->n_listeners; i++) {
        const struct gh_listener_config *x = &cur->listeners[i], *y = &next->listeners[i];
        if (strcmp(x->name, y->name) != 0)
            gh_config_error_add(errs, y->line, "listener",
                                "[listener:%s] where [listener:%s] was: renaming or reordering "
                                "listeners needs a restart",
                                y->name, x->name);
        else if (!same_address(&x->listen, &y->listen))
            gh_config_error_add(errs, y->line, "listen",
                                "[listener:%s] moved from %s to %s: needs a restart", y->name,
                                x->listen.text, y->listen.text);
        else if (x->mode != y->mode)
            gh_config_error_add(errs, y->line, "mode",
                                "[listener:%s] changed its mode: needs a restart", y->name);
        else if (x->buffer_size != y->buffer_size && y->mode == GH_MODE_HTTP &&
                 !x->client_ca[0] != !y->client_ca[0] &&
                 !gh_config_key_line(&y->key_lines, "buffer_size"))
            /* the default buffer_size has 2k more room with client_ca (the
             * client certificate headers): the operator set client_ca, not
             * buffer_size, so name that */
            gh_config_error_add(errs,
                                y->client_ca[0] ? gh_config_key_line(&y->key_lines, "client_ca")
                                                : y->line,
                                "client_ca",
                                "[listener:%s] %s client_ca, which changes the default "
                                "buffer_size by 2k (%u to %u): needs a restart (or set "
                                "buffer_size to %u from the start)",
                                y->name, y->client_ca[0] ? "turned on" : "turned off",
                                x->buffer_size, y->buffer_size,
                                x->buffer_size > y->buffer_size ? x->buffer_size
                                                                : y->buffer_size);
        else if (x->buffer_size != y->buffer_size)
            gh_config_error_add(errs, y->line, "buffer_size",
                                "[listener:%s] changed buffer_size: needs a restart", y->name);
        else if (x->backlog != y->backlog)
            gh_config_error_add(errs, y->line, "backlog",
                                "[listener:%s] changed backlog: needs a restart", y->name);
    }
}

int gh_reload_prepare(const struct gh_config *cur, struct gh_config **out,
                      struct gh_tls_context **tls, struct gh_config_errors *errs)
{
    struct gh_config *next = calloc(1, sizeof *next);

    for (size_t i = 0; i < GH_MAX_LISTENERS; i++)
        tls[i] = NULL;
    *out = NULL;
    if (!next) {
        memset(errs, 0, sizeof *errs);
        gh_config_error_add(errs, 0, "", "out of memory");
        return -1;
    }
    if (gh_config_load(cur->path, next, errs) < 0)
        goto fail;
    check_compatible(cur, next, errs);
    if (errs->count)
        goto fail;
    for (size_t i = 0; i < next->n_listeners; i++)
        if (next->listeners[i].mode != GH_MODE_REDIRECT)
            tls[i] = gh_tls_context_new(next, &next->listeners[i], errs);
    (void)gh_audit_check(next, errs); /* a key file that went missing */
    if (errs->count)
        goto fail;
    *out = next;
    gh_instance_reload_result(true, NULL); /* nothing after this can refuse it */
    return 0;
fail:
    /* for gatehouse -s reload; a no-op in a supervisor's worker */
    gh_instance_reload_result(false, errs);
    gh_reload_discard(next, tls);
    return -1;
}

void gh_reload_discard(struct gh_config *cfg, struct gh_tls_context **tls)
{
    for (size_t i = 0; i < GH_MAX_LISTENERS; i++) {
        gh_tls_context_free(tls[i]);
        tls[i] = NULL;
    }
    free(cfg);
}

void gh_reload_log_errors(const struct gh_config_errors *errs)
{
    size_t shown = errs->count < GH_MAX_ERRORS ? errs->count : GH_MAX_ERRORS;
    for (size_t i = 0; i < shown; i++) {
        const struct gh_config_error *e = &errs->items[i];
        char text[GH_PATH_MAX + GH_ERROR_TEXT_MAX + 96];
        char quoted[sizeof text + 64];
        snprintf(text, sizeof text, "%s:%d: %s: %s", errs->file, e->line, e->key[0] ? e->key : "-",
                 e->message);
        gh_log(GH_LOG_ERROR, "reload_failed", " error=%s", gh_log_quote(text, quoted, sizeof quoted));
    }
}
