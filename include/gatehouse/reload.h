/* reload.h - SIGHUP: a new configuration for new connections.
 *
 * The configuration file is read again and every listener's certificate,
 * key and TLS settings are loaded into fresh TLS contexts. If anything is
 * wrong the old configuration keeps serving and every error is reported as
 * FILE:LINE: key: message. What a running process cannot change (listen
 * addresses, the set of listeners, modes, buffer sizes, workers, the audit
 * settings) is refused with the key that changed; those need a restart.
 *
 * Owns: the compatibility rules and building a new generation. Swapping it
 * in belongs to the worker (worker.c), which keeps each old generation alive
 * while connections accepted under it are open. */
#ifndef GATEHOUSE_RELOAD_H
#define GATEHOUSE_RELOAD_H

#include "gatehouse/config.h"

struct gh_tls_context;

/* Loads cur->path anew into *out (allocated; free with gh_reload_discard)
 * and its TLS contexts into tls[] (one per listener, NULL for redirect
 * listeners). Returns 0, or -1 with the reasons in errs. */
int gh_reload_prepare(const struct gh_config *cur, struct gh_config **out,
                      struct gh_tls_context **tls, struct gh_config_errors *errs);

/* Frees what gh_reload_prepare made (either may be NULL / all NULL). */
void gh_reload_discard(struct gh_config *cfg, struct gh_tls_context **tls);

/* Logs every error, one reload_failed line each. */
void gh_reload_log_errors(const struct gh_config_errors *errs);

#endif
