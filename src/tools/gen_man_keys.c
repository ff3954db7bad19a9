/* gen_man_keys.c - writes gatehouse.ini(5)'s scdoc source at build time.
 *
 * Owns: turning the config loader's key table (gh_config_key_doc) into the
 * man page's key reference, so the page cannot drift from the parser.
 * Copies the hand-written page (argv[1]) to stdout and replaces its one
 * line "@KEYS@" with a section per config section and an entry per key:
 * kind, range, default, required, and the listener modes it is valid in,
 * then the key's prose from the example config (argv[2],
 * config/gatehouse.ini): the comment lines above the key's line there, up
 * to a blank line, a section header or another key's line. Keys written
 * one after another share the comment above the first. The facts come from
 * the table; the example is read for the explanation only. */
#include "gatehouse/config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define LINE_MAX_BYTES 1024     /* longest line of the hand-written page */
#define INI_MAX_BYTES (256 << 10) /* the example config, whole */
#define INI_MAX_LINES 4096

/* scdoc reads * _ and \ as markup: escape them in table text. */
static void put_text(const char *s)
{
    for (; *s; s++) {
        if (*s == '*' || *s == '_' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
}

/* The example config, split into NUL-terminated lines in place. */
static char ini_text[INI_MAX_BYTES + 1];
static char *ini_line[INI_MAX_LINES];
static size_t ini_lines;

/* What an example-config line is, for finding a key's prose. */
enum ini_line_kind { INI_BLANK, INI_HEADER, INI_KEY, INI_PROSE, INI_OTHER };

static int load_ini(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t n = fread(ini_text, 1, INI_MAX_BYTES + 1, f);
    int err = ferror(f);
    fclose(f);
    if (err || n > INI_MAX_BYTES) {
        fprintf(stderr, "%s: unreadable or over %d bytes\n", path, INI_MAX_BYTES);
        return -1;
    }
    ini_text[n] = '\0';
    for (char *p = ini_text; *p && ini_lines < INI_MAX_LINES;) {
        ini_line[ini_lines++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return 0;
}

/* Commented-out sections and keys count: ";[cert:x]", ";key = v" (no
 * space after ';'; "; key = v" is prose). NAME gets a key line's name. */
static enum ini_line_kind classify(const char *line, char *name, size_t cap)
{
    const char *p = line;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '\r')
        return INI_BLANK;
    bool comment = *p == ';' || *p == '#';
    if (comment)
        p++;
    if (*p == '[')
        return INI_HEADER;
    size_t len = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
    const char *eq = p + len;
    while (*eq == ' ')
        eq++;
    if (len > 0 && len < cap && *eq == '=') {
        memcpy(name, p, len);
        name[len] = '\0';
        return INI_KEY;
    }
    return comment ? INI_PROSE : INI_OTHER;
}

static enum gh_config_section header_section(const char *line)
{
    const char *p = strchr(line, '[');
    if (strncmp(p, "[listener:", 10) == 0)
        return GH_CONFIG_LISTENER;
    if (strncmp(p, "[cert:", 6) == 0)
        return GH_CONFIG_CERT;
    return GH_CONFIG_GLOBAL;
}

/* The comment above KEY of SECTION in the example, as one paragraph. */
static void put_prose(enum gh_config_section section, const char *key)
{
    char name[64];
    size_t found = ini_lines;
    /* in its own section first; then anywhere, since the example's
     * commented-out [cert:NAME] sample sits between listener keys */
    for (int pass = 0; pass < 2 && found == ini_lines; pass++) {
        enum gh_config_section at = GH_CONFIG_GLOBAL;
        for (size_t i = 0; i < ini_lines && found == ini_lines; i++) {
            enum ini_line_kind kind = classify(ini_line[i], name, sizeof name);
            if (kind == INI_HEADER)
                at = header_section(ini_line[i]);
            else if (kind == INI_KEY && (pass == 1 || at == section) && strcmp(name, key) == 0)
                found = i;
        }
    }
    if (found == ini_lines)
        return;
    size_t first = found;
    while (first > 0 && classify(ini_line[first - 1], name, sizeof name) == INI_KEY)
        first--; /* keys written together share the comment above them */
    size_t top = first;
    while (top > 0 && classify(ini_line[top - 1], name, sizeof name) == INI_PROSE)
        top--;
    bool any = false;
    for (size_t i = top; i < first; i++) {
        const char *p = strpbrk(ini_line[i], ";#") + 1;
        p += strspn(p, " \t");
        if (*p == '\0' || strncmp(p, "----", 4) == 0)
            continue; /* a group's rule line, not prose */
        printf(any ? " " : "\n\n\t");
        /* trailing ---- of a group heading line */
        size_t len = strlen(p);
        while (len > 0 && (p[len - 1] == '-' || p[len - 1] == ' ' || p[len - 1] == '\r'))
            len--;
        char buf[LINE_MAX_BYTES];
        snprintf(buf, sizeof buf, "%.*s", (int)len, p);
        put_text(buf);
        any = true;
    }
}

static void put_section(enum gh_config_section section, const char *title, const char *intro)
{
    struct gh_config_key_doc doc;
    printf("## %s\n\n%s\n\n", title, intro);
    for (size_t i = 0; gh_config_key_doc(section, i, &doc) == 0; i++) {
        printf("*");
        put_text(doc.name);
        printf("*\n\t");
        put_text(doc.kind);
        if (doc.range[0]) {
            printf(", ");
            put_text(doc.range);
        }
        printf(".");
        if (doc.required)
            printf(" Required.");
        else if (doc.def && doc.def[0]) {
            printf(" Default: ");
            put_text(doc.def);
            printf(".");
        } else {
            printf(" Default: unset, or derived from other keys (below).");
        }
        if (doc.modes[0]) {
            printf(" Modes: ");
            put_text(doc.modes);
            printf(".");
        }
        put_prose(section, doc.name);
        printf("\n\n");
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s PAGE.scd.in EXAMPLE.ini > PAGE.scd\n", argv[0]);
        return 2;
    }
    if (load_ini(argv[2]) < 0)
        return 1;
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    char line[LINE_MAX_BYTES];
    int placed = 0;
    while (fgets(line, sizeof line, in)) {
        if (strcmp(line, "@KEYS@\n") != 0) {
            fputs(line, stdout);
            continue;
        }
        put_section(GH_CONFIG_GLOBAL, "[global]", "Once per file, before the other sections.");
        put_section(GH_CONFIG_LISTENER, "[listener:NAME]",
                    "One per listening address. \"Modes\" lists the values of *mode* a key "
                    "applies to; setting it in another mode is an error.");
        put_section(GH_CONFIG_CERT, "[cert:NAME]",
                    "Additional certificates, chosen by SNI, named by a listener's *certs*.");
        placed++;
    }
    fclose(in);
    if (placed != 1) {
        fprintf(stderr, "%s: expected one @KEYS@ line, found %d\n", argv[1], placed);
        return 1;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
