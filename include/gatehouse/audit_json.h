/* audit_json.h - a strict, zero-copy parser for one audit log line: one flat
 * JSON object (RFC 8259), as config/audit-log.md defines the entries.
 *
 * Owns: deciding whether a line is exactly one JSON object whose values are
 * all scalars, and reading its fields. It does no I/O, never allocates and
 * never recurses: fields point into the caller's line, which must stay
 * unchanged while they are used.
 *
 * Strict means every byte is checked against RFC 8259 and the first byte
 * that cannot belong to a valid line is reported:
 *  - the line is the object and nothing else: no byte (not even whitespace
 *    or a newline) before its '{' or after its '}'; whitespace between
 *    tokens (SP, HTAB, CR, LF) is allowed and counted in obj->whitespace;
 *  - strings are valid UTF-8 (no overlong forms, no UTF-16 surrogates
 *    encoded in UTF-8, nothing above U+10FFFF) with no raw control
 *    character (U+0000..U+001F); escapes are \" \\ \/ \b \f \n \r \t and
 *    \uXXXX, where a high surrogate must be followed by a \u low surrogate
 *    and a low surrogate may not stand alone;
 *  - numbers follow the RFC grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
 *  - values are strings, numbers, true, false and null: an object or array
 *    as a value is an error (the audit schema is flat);
 *  - keys are unique, compared after decoding escapes ("a" and "\u0061"
 *    are the same key);
 *  - at most GH_AUDIT_JSON_MAX_FIELDS fields.
 *
 * An error is reported at the offset of the first byte that cannot start
 * or continue a valid line, so the bytes before it are a prefix of some
 * valid line. When the input ends before the object does (every proper
 * prefix of a valid line does), the error has incomplete set and its
 * offset is len: a writer that stopped mid-line looks like that. */
#ifndef GATEHOUSE_AUDIT_JSON_H
#define GATEHOUSE_AUDIT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GH_AUDIT_JSON_MAX_FIELDS 64 /* fields in one object */

enum gh_audit_json_type {
    GH_AUDIT_JSON_STRING,
    GH_AUDIT_JSON_NUMBER,
    GH_AUDIT_JSON_TRUE,
    GH_AUDIT_JSON_FALSE,
    GH_AUDIT_JSON_NULL,
};

struct gh_audit_json_span {
    const char *p;
    size_t len;
};

struct gh_audit_json_field {
    /* Between the quotes, escapes not decoded. */
    struct gh_audit_json_span key;
    /* STRING: between the quotes, escapes not decoded; any other type: the
     * token itself ("123", "-1.5e3", "true", "null"). */
    struct gh_audit_json_span value;
    enum gh_audit_json_type type;
    bool key_escaped;   /* the key holds a backslash escape */
    bool value_escaped; /* STRING: the value holds a backslash escape */
    bool integer;       /* NUMBER: no fraction and no exponent */
};

struct gh_audit_json_obj {
    struct gh_audit_json_field fields[GH_AUDIT_JSON_MAX_FIELDS]; /* in line order */
    size_t n_fields;
    size_t whitespace; /* bytes of insignificant whitespace between tokens */
};

struct gh_audit_json_error {
    size_t offset;   /* of the offending byte; len when incomplete */
    const char *msg; /* static, lowercase, no trailing period */
    bool incomplete; /* the input ended inside the object */
};

/* Parses line[0, len). Returns 0 and fills obj, or -1 and fills err (obj
 * then holds the fields parsed so far). err may be NULL. */
int gh_audit_json_parse(const char *line, size_t len, struct gh_audit_json_obj *obj,
                        struct gh_audit_json_error *err);

/* The field whose decoded key is the NUL-terminated UTF-8 string key, or
 * NULL. */
const struct gh_audit_json_field *gh_audit_json_get(const struct gh_audit_json_obj *obj,
                                                    const char *key);

/* An integer NUMBER (no fraction, no exponent) in int64_t range: returns 0
 * and sets *out; otherwise (NULL field, another type, out of range)
 * returns -1. */
int gh_audit_json_int(const struct gh_audit_json_field *f, int64_t *out);

/* Decodes the STRING value of f into buf as UTF-8 and NUL-terminates it
 * ("\u0000" decodes to a NUL byte inside the string). Sets *len (may be
 * NULL) to the decoded length without the terminator, also when it does
 * not fit. Returns 0, or -1 when f is NULL or not a string or buf cannot
 * hold len + 1 bytes (buf then holds as much as fits, NUL-terminated, if
 * cap > 0; never a partial UTF-8 sequence). */
int gh_audit_json_string(const struct gh_audit_json_field *f, char *buf, size_t cap, size_t *len);

/* Decodes the key of f the same way. */
int gh_audit_json_key(const struct gh_audit_json_field *f, char *buf, size_t cap, size_t *len);

/* True when f is a STRING whose decoded value is the NUL-terminated s. */
bool gh_audit_json_string_is(const struct gh_audit_json_field *f, const char *s);

/* Readable name of a type ("string", "number", ...). */
const char *gh_audit_json_type_name(enum gh_audit_json_type t);

#endif
