/* gen_man_keys.c - writes gatehouse.ini(5)'s scdoc source at build time.
 *
 * Owns: turning the config loader's key table (gh_config_key_doc) into the
 * man page's key reference, so the page cannot drift from the parser.
 * Copies the hand-written page (argv[1]) to stdout and replaces its one
 * line "@KEYS@" with a section per config section and an entry per key:
 * kind, range, default, required, and the listener modes it is valid in. */
#include "gatehouse/config.h"

#include <stdio.h>
#include <string.h>

#define LINE_MAX_BYTES 1024 /* longest line of the hand-written page */

/* scdoc reads * _ and \ as markup: escape them in table text. */
static void put_text(const char *s)
{
    for (; *s; s++) {
        if (*s == '*' || *s == '_' || *s == '\\')
            putchar('\\');
        putchar(*s);
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
            printf(" Default: unset (or derived from other keys: see the example gatehouse.ini).");
        }
        if (doc.modes[0]) {
            printf(" Modes: ");
            put_text(doc.modes);
            printf(".");
        }
        printf("\n\n");
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PAGE.scd.in > PAGE.scd\n", argv[0]);
        return 2;
    }
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
