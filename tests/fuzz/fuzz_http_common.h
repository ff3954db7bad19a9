/* fuzz_http_common.h - what the HTTP fuzz targets share beyond
 * fuzz_common.h (REQUIRE, which it includes): the two sets of limits every
 * input is run with, and small span helpers for checking parsed fields. */
#ifndef GATEHOUSE_FUZZ_HTTP_COMMON_H
#define GATEHOUSE_FUZZ_HTTP_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gatehouse/http1.h"

#include "fuzz_common.h"

static const struct gh_http1_limits small = {
    .max_request_line = 64,
    .max_header_bytes = 512,
    .max_headers = 8,
    .max_chunk_ext = 16,
    .max_trailer_bytes = 64,
};
static const struct gh_http1_limits deflim = {
    .max_request_line = 8192,
    .max_header_bytes = 16384,
    .max_headers = 100,
    .max_chunk_ext = 256,
    .max_trailer_bytes = 4096,
};

static __attribute__((unused)) int is_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

static __attribute__((unused)) int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static __attribute__((unused)) int span_ieq(struct gh_http1_span s, const char *w)
{
    size_t n = strlen(w);
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s.p[i]) != w[i])
            return 0;
    return 1;
}

static __attribute__((unused)) int within(struct gh_http1_span s, const char *buf, size_t len)
{
    return s.p >= buf && s.p <= buf + len && s.len <= (size_t)(buf + len - s.p);
}

/* Every comma-separated element of a Content-Length value is 1*DIGIT equal
 * to want (OWS around elements). */
static __attribute__((unused)) int cl_value_is(struct gh_http1_span v, uint64_t want)
{
    size_t i = 0;
    for (;;) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        size_t s = i;
        uint64_t x = 0;
        while (i < v.len && v.p[i] >= '0' && v.p[i] <= '9') {
            uint64_t d = (uint64_t)(v.p[i] - '0');
            if (x > (UINT64_MAX - d) / 10)
                return 0;
            x = x * 10 + d;
            i++;
        }
        if (i == s || x != want)
            return 0;
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        if (i == v.len)
            return 1;
        if (v.p[i++] != ',')
            return 0;
    }
}

#endif
