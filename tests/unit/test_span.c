/* test_span.c - unit tests for the span helpers (include/gatehouse/span.h).
 *
 * Pins what the parsers, the config loader and the services rely on:
 *  - ASCII case folding touches A..Z only: bytes >= 0x80 and the neighbours
 *    of the letters ('@', '[', '`', '{') stay themselves, so "\xc4" never
 *    equals "\xe4" and '[' never equals '{';
 *  - gh_ascii_ieq folds both sides, gh_ascii_ieq_lower only the first (the
 *    second is a lowercase literal), and both stop at n (bytes past n, NUL
 *    included, are not looked at: the inputs are heap copies of exactly n
 *    bytes, so AddressSanitizer sees any read past them);
 *  - a list walk gives every item, empty ones too ("" is one empty item,
 *    "a," ends with one), trims SP and HTAB around items only when asked,
 *    keeps spaces inside an item, and splits at its one separator only;
 *  - hex digits are two per byte, most significant first, in the case
 *    asked for, with no terminator written past 2 * n. */
#include "check.h"

#include "gatehouse/span.h"

#include <stdio.h>

static void test_ascii_lower_folds_letters_only(void **state)
{
    (void)state;
    for (unsigned c = 0; c < 256; c++) {
        unsigned want = (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
        row_line = (int)c;
        CHECK(gh_ascii_lower((unsigned char)c) == want, "0x%02x folds to 0x%02x, want 0x%02x", c,
              gh_ascii_lower((unsigned char)c), want);
    }
    row_line = 0;
    END_CHECKS();
}

static const struct ieq_row {
    int line;
    const char *a, *b;
    size_t n;
    bool equal;
} ieq_rows[] = {
    {__LINE__, "Host", "host", 4, true},
    {__LINE__, "HOST", "hOsT", 4, true},
    {__LINE__, "Content-Length", "content-length", 14, true},
    {__LINE__, "chunked", "chunkeD", 7, true},
    {__LINE__, "chunked", "chunkes", 7, false},
    {__LINE__, "", "", 0, true},
    {__LINE__, "ab", "xy", 0, true},     /* n = 0: nothing compared */
    {__LINE__, "abX", "abY", 2, true},   /* only the first n bytes count */
    {__LINE__, "[", "{", 1, false},      /* 0x5b and 0x7b differ by 0x20 but are no letters */
    {__LINE__, "@", "`", 1, false},
    {__LINE__, "\xc4", "\xe4", 1, false}, /* Latin-1 A-umlaut: not ASCII, not folded */
    {__LINE__, "\xc4", "\xc4", 1, true},
    {__LINE__, "a\0b", "A\0B", 3, true},  /* NUL is a byte like any other */
    {__LINE__, "a\0b", "A\0C", 3, false},
};

static void test_ascii_ieq(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(ieq_rows); i++) {
        const struct ieq_row *r = &ieq_rows[i];
        char *a = dup_exact(r->a, r->n), *b = dup_exact(r->b, r->n);
        row_line = r->line;
        CHECK(gh_ascii_ieq(a, b, r->n) == r->equal, "gh_ascii_ieq gave %d", !r->equal);
        CHECK(gh_ascii_ieq(b, a, r->n) == r->equal, "gh_ascii_ieq (swapped) gave %d", !r->equal);
        free(a);
        free(b);
    }
    row_line = 0;
    END_CHECKS();
}

static void test_ascii_ieq_lower_folds_only_the_span(void **state)
{
    (void)state;
    static const struct {
        int line;
        const char *span, *lower;
        bool equal;
    } rows[] = {
        {__LINE__, "Transfer-Encoding", "transfer-encoding", true},
        {__LINE__, "UPGRADE", "upgrade", true},
        {__LINE__, "upgrade", "upgrade", true},
        {__LINE__, "upgrade", "UPGRADE", false}, /* the word is taken as written */
        {__LINE__, "upgradE", "upgrade", true},
        {__LINE__, "upgrade", "upgradf", false},
        {__LINE__, "\xc4", "\xe4", false},
    };
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        size_t n = strlen(rows[i].span);
        char *span = dup_exact(rows[i].span, n);
        row_line = rows[i].line;
        CHECK(gh_ascii_ieq_lower(span, rows[i].lower, n) == rows[i].equal, "gave %d",
              !rows[i].equal);
        free(span);
    }
    row_line = 0;
    END_CHECKS();
}

#define ITEMS_MAX 8

/* Walks LIST and writes its items into got as "[item]" each, so a row can
 * say what it expects in one string (empty items show as "[]"). */
static void walk(const char *list, char sep, enum gh_list_spaces spaces, char *got, size_t cap)
{
    struct gh_list_walk w = gh_list_start(list, sep, spaces);
    const char *item;
    size_t len, o = 0, items = 0;
    got[0] = '\0';
    while (gh_list_next(&w, &item, &len)) {
        int n = snprintf(got + o, cap - o, "[%.*s]", (int)len, item);
        assert_true(n > 0 && (size_t)n < cap - o);
        o += (size_t)n;
        assert_true(++items <= ITEMS_MAX);
        /* every item lies inside the list */
        assert_true(item >= list && item + len <= list + strlen(list));
    }
    /* once done, the walk stays done */
    assert_false(gh_list_next(&w, &item, &len));
}

static void test_list_walk(void **state)
{
    (void)state;
    static const struct {
        int line;
        const char *list;
        char sep;
        enum gh_list_spaces spaces;
        const char *want;
    } rows[] = {
        {__LINE__, "a,b,c", ',', GH_LIST_TRIM_SPACES, "[a][b][c]"},
        {__LINE__, "a", ',', GH_LIST_TRIM_SPACES, "[a]"},
        {__LINE__, "", ',', GH_LIST_TRIM_SPACES, "[]"},
        {__LINE__, ",", ',', GH_LIST_TRIM_SPACES, "[][]"},
        {__LINE__, "a,", ',', GH_LIST_TRIM_SPACES, "[a][]"},
        {__LINE__, ",a", ',', GH_LIST_TRIM_SPACES, "[][a]"},
        {__LINE__, "a,,b", ',', GH_LIST_TRIM_SPACES, "[a][][b]"},
        {__LINE__, " a ,\tb\t, c", ',', GH_LIST_TRIM_SPACES, "[a][b][c]"},
        {__LINE__, " , ", ',', GH_LIST_TRIM_SPACES, "[][]"},
        {__LINE__, "Billing Service, Ops", ',', GH_LIST_TRIM_SPACES, "[Billing Service][Ops]"},
        {__LINE__, " a , b ", ',', GH_LIST_KEEP_SPACES, "[ a ][ b ]"},
        {__LINE__, "TLS13-AES128-GCM-SHA256:TLS13-CHACHA20-POLY1305-SHA256", ':',
         GH_LIST_KEEP_SPACES, "[TLS13-AES128-GCM-SHA256][TLS13-CHACHA20-POLY1305-SHA256]"},
        {__LINE__, "X25519:P-256", ':', GH_LIST_KEEP_SPACES, "[X25519][P-256]"},
        {__LINE__, "a,b:c", ':', GH_LIST_KEEP_SPACES, "[a,b][c]"}, /* one separator only */
        {__LINE__, "a\n,b", ',', GH_LIST_TRIM_SPACES, "[a\n][b]"},  /* only SP and HTAB trim */
    };
    char got[256];
    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        row_line = rows[i].line;
        walk(rows[i].list, rows[i].sep, rows[i].spaces, got, sizeof got);
        CHECK(strcmp(got, rows[i].want) == 0, "'%s' gave %s, want %s", rows[i].list, got,
              rows[i].want);
    }
    row_line = 0;
    END_CHECKS();
}

static void test_hex(void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xff};
    char out[2 * sizeof bytes + 1];
    char pair[3] = "..";

    memset(out, '#', sizeof out);
    gh_hex_encode(out, bytes, sizeof bytes, GH_HEX_LOWER);
    CHECK(memcmp(out, "00017f80abcdefff", 16) == 0, "lower: %.16s", out);
    CHECK(out[16] == '#', "wrote past 2 * n: 0x%02x", (unsigned char)out[16]);

    memset(out, '#', sizeof out);
    gh_hex_encode(out, bytes, sizeof bytes, GH_HEX_UPPER);
    CHECK(memcmp(out, "00017F80ABCDEFFF", 16) == 0, "upper: %.16s", out);
    CHECK(out[16] == '#', "wrote past 2 * n: 0x%02x", (unsigned char)out[16]);

    memset(out, '#', sizeof out);
    gh_hex_encode(out, bytes, 0, GH_HEX_LOWER);
    CHECK(out[0] == '#', "n = 0 wrote 0x%02x", (unsigned char)out[0]);

    for (unsigned b = 0; b < 256; b++) {
        char want[3];
        row_line = (int)b;
        snprintf(want, sizeof want, "%02x", b);
        gh_hex_byte(pair, (uint8_t)b, GH_HEX_LOWER);
        CHECK(memcmp(pair, want, 2) == 0 && pair[2] == '\0', "0x%02x lower: %s", b, pair);
        snprintf(want, sizeof want, "%02X", b);
        gh_hex_byte(pair, (uint8_t)b, GH_HEX_UPPER);
        CHECK(memcmp(pair, want, 2) == 0 && pair[2] == '\0', "0x%02x upper: %s", b, pair);
    }
    row_line = 0;
    END_CHECKS();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_lower_folds_letters_only),
        cmocka_unit_test(test_ascii_ieq),
        cmocka_unit_test(test_ascii_ieq_lower_folds_only_the_span),
        cmocka_unit_test(test_list_walk),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
