/* path.h - what a check may ask of a file path without touching the disk
 * more than it must.
 *
 * Owns: whether a missing file could be created (its directory writable
 * and searchable), for the checks of -t and of a reload, which must leave
 * no trace (audit.c's audit_file, instance.c's pid_file). */
#ifndef GATEHOUSE_PATH_H
#define GATEHOUSE_PATH_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Writes path's directory into dir (".", "/" or the part before the last
 * slash) and says whether this process may create a file there; errno is
 * faccessat's when not. */
static inline bool gh_path_creatable(const char *path, char *dir, size_t dir_size)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, dir_size, ".");
    else if (slash == path)
        snprintf(dir, dir_size, "/");
    else
        snprintf(dir, dir_size, "%.*s", (int)(slash - path), path);
    return faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0;
}

#endif
