/* Encoding of response bodies. The /align path writes ~100k results a
 * second, so this is a hand-written appender rather than a jansson tree:
 * strings are copied in runs of safe bytes, escaped where JSON requires it,
 * and repaired where they are not UTF-8; floats print as "%.9g" would,
 * which round-trips any float, by kga_wire_format_float() (snprintf was a
 * tenth of a batch's cost). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_buf.h"
#include "wire.h"

/* Every string of a response: any bytes, escaped and repaired. */
static void put_str(kga_json_buf_t *b, const char *s)
{
    kga_json_string(b, s, KGA_JSON_ESCAPE_SHORT);
}

/* d * 10^k rounded to the nearest integer, ties to even, exactly: the
 * product's rounding error comes back from an fma, and 10^k (k <= 22) is
 * exact in a double. */
static uint64_t scale_round(double d, int k)
{
    static const double pow10[23] = {
        1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    double hi = d * pow10[k], lo = fma(d, pow10[k], -hi);
    double fl = floor(hi);
    /* hi < 2^31: hi - fl and the half are exact; the sign of the sum with
     * lo is right even where the sum rounds. */
    double t = (hi - fl - 0.5) + lo;
    uint64_t n = (uint64_t)fl;
    return n + (t > 0.0 || (t == 0.0 && (n & 1u)));
}

int kga_wire_format_float(char *out, float f)
{
    double d = f;
    if (!isfinite(d) || d == 0.0 || fabs(d) >= 1e9 || fabs(d) < 1e-14)
        return snprintf(out, 32, "%.9g", d);
    char *p = out;
    if (d < 0.0) {
        *p++ = '-';
        d = -d;
    }
    /* Nine significant digits n = round(d * 10^(8 - e)), e the decimal
     * exponent of the rounded value (log10 may be one off either way). */
    int e = (int)floor(log10(d));
    uint64_t n = 0;
    int tries = 0;
    for (;; tries++) {
        if (tries == 3 || 8 - e < 0 || 8 - e > 22)
            return snprintf(out, 32, "%.9g", f);
        n = scale_round(d, 8 - e);
        if (n >= 1000000000u)
            e++;
        else if (n < 100000000u)
            e--;
        else
            break;
    }
    char dig[9];
    for (int i = 8; i >= 0; i--, n /= 10)
        dig[i] = (char)('0' + n % 10);
    int nd = 9; /* %g drops trailing zeros */
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    if (e >= -4 && e < 9) {
        if (e < 0) {
            *p++ = '0';
            *p++ = '.';
            for (int z = -1; z > e; z--)
                *p++ = '0';
            memcpy(p, dig, (size_t)nd);
            p += nd;
        } else {
            memcpy(p, dig, (size_t)e + 1);
            p += e + 1;
            if (nd > e + 1) {
                *p++ = '.';
                memcpy(p, dig + e + 1, (size_t)(nd - e - 1));
                p += nd - e - 1;
            }
        }
    } else {
        *p++ = dig[0];
        if (nd > 1) {
            *p++ = '.';
            memcpy(p, dig + 1, (size_t)nd - 1);
            p += nd - 1;
        }
        *p++ = 'e';
        *p++ = e < 0 ? '-' : '+';
        int ae = e < 0 ? -e : e;
        *p++ = (char)('0' + ae / 10);
        *p++ = (char)('0' + ae % 10);
    }
    *p = '\0';
    return (int)(p - out);
}

static void put_float(kga_json_buf_t *b, float f)
{
    if (!isfinite(f)) {
        KGA_JSON_LIT(b, "null");
        return;
    }
    char tmp[32];
    int n = kga_wire_format_float(tmp, f);
    kga_json_put(b, tmp, (size_t)n);
}

static void put_bool(kga_json_buf_t *b, int v)
{
    if (v)
        KGA_JSON_LIT(b, "true");
    else
        KGA_JSON_LIT(b, "false");
}

/* "request_id":..,"model_version":.. (the latter only when known). */
static void put_meta(kga_json_buf_t *b, const kga_wire_meta_t *meta)
{
    KGA_JSON_LIT(b, "\"request_id\":");
    put_str(b, meta != NULL ? meta->request_id : "");
    if (meta != NULL && meta->model_version != NULL) {
        KGA_JSON_LIT(b, ",\"model_version\":");
        put_str(b, meta->model_version);
    }
}

static void put_score(kga_json_buf_t *b, const kga_pair_score_t *s)
{
    KGA_JSON_LIT(b, "\"distance\":");
    put_float(b, s->distance);
    KGA_JSON_LIT(b, ",\"probability\":");
    put_float(b, s->probability);
    KGA_JSON_LIT(b, ",\"match\":");
    put_bool(b, s->match);
}

static const char *dir_name(kga_dir_t d)
{
    return d == KGA_DIR_IN ? "in" : "out";
}

static int has_text(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* "link" of a neighbour pair, and how its summary says it. */
static const char *link_name(kga_evidence_kind_t k)
{
    return k == KGA_EVIDENCE_KNOWN_LINK    ? "known"
           : k == KGA_EVIDENCE_PSEUDO_SEED ? "pseudo_seed"
                                           : "mutual_best";
}

static const char *link_phrase(kga_evidence_kind_t k)
{
    return k == KGA_EVIDENCE_KNOWN_LINK    ? "known link"
           : k == KGA_EVIDENCE_PSEUDO_SEED ? "pseudo-seed"
                                           : "mutual best match";
}

/* The last segment of a relation URI: "label" of
 * "http://dbpedia.org/property/label"; the whole name when it ends in a
 * separator. */
static const char *relation_tail(const char *rel)
{
    const char *all = rel != NULL ? rel : "", *t = all;
    const char *c = all;
    for (; *c != '\0'; c++)
        if (*c == '/' || *c == '#')
            t = c + 1;
    return *t != '\0' ? t : all;
}

/* One side of a neighbour pair's summary, as seen from the entity:
 * -label-> "Mercury Records" (the entity is the head of the triple) or
 * <-artist- "Eminem" (the tail). The neighbour's name, else its id. */
static void put_summary_side(kga_json_buf_t *b, const char *relation,
                             kga_dir_t dir, const char *name, const char *id)
{
    kga_json_string_part(b, dir == KGA_DIR_IN ? "<-" : "-",
                         KGA_JSON_ESCAPE_SHORT);
    kga_json_string_part(b, relation_tail(relation), KGA_JSON_ESCAPE_SHORT);
    kga_json_string_part(b, dir == KGA_DIR_IN ? "- \"" : "-> \"",
                         KGA_JSON_ESCAPE_SHORT);
    kga_json_string_part(b, has_text(name) ? name : id,
                         KGA_JSON_ESCAPE_SHORT);
    kga_json_string_part(b, "\"", KGA_JSON_ESCAPE_SHORT);
}

/* A name item: {"kind": "names", "similarity", "left_name"?,
 * "right_name"?, "summary": "names: 0.93 similar"}. */
static void put_name_evidence(kga_json_buf_t *b, const kga_wire_evidence_t *e)
{
    KGA_JSON_LIT(b, "{\"kind\":\"names\",\"similarity\":");
    put_float(b, e->weight);
    if (has_text(e->left_name)) {
        KGA_JSON_LIT(b, ",\"left_name\":");
        put_str(b, e->left_name);
    }
    if (has_text(e->right_name)) {
        KGA_JSON_LIT(b, ",\"right_name\":");
        put_str(b, e->right_name);
    }
    char line[64];
    snprintf(line, sizeof line, "names: %.2f similar",
             isfinite(e->weight) ? e->weight : 0.0f);
    KGA_JSON_LIT(b, ",\"summary\":");
    put_str(b, line);
    kga_json_char(b, '}');
}

static void put_neighbour_side(kga_json_buf_t *b, const char *side,
                               const char *neighbour, const char *name,
                               const char *relation, kga_dir_t dir)
{
    kga_json_printf(b, ",\"%s_neighbour\":", side);
    put_str(b, neighbour);
    if (has_text(name)) {
        kga_json_printf(b, ",\"%s_name\":", side);
        put_str(b, name);
    }
    kga_json_printf(b, ",\"%s_relation\":", side);
    put_str(b, relation);
    kga_json_printf(b, ",\"%s_direction\":", side);
    put_str(b, dir_name(dir));
}

/* A neighbour pair: {"kind": "neighbours", "link", "weight", the left
 * neighbour, its name, relation and direction, the same on the right,
 * "summary"}. */
static void put_evidence(kga_json_buf_t *b, const kga_wire_evidence_t *e)
{
    if (e->kind == KGA_EVIDENCE_NAMES) {
        put_name_evidence(b, e);
        return;
    }
    KGA_JSON_LIT(b, "{\"kind\":\"neighbours\",\"link\":");
    put_str(b, link_name(e->kind));
    KGA_JSON_LIT(b, ",\"weight\":");
    put_float(b, e->weight);
    put_neighbour_side(b, "left", e->left_neighbour, e->left_name,
                       e->left_relation, e->left_dir);
    put_neighbour_side(b, "right", e->right_neighbour, e->right_name,
                       e->right_relation, e->right_dir);
    char head[64];
    snprintf(head, sizeof head, "%s (%.2f): ", link_phrase(e->kind),
             isfinite(e->weight) ? e->weight : 0.0f);
    KGA_JSON_LIT(b, ",\"summary\":\"");
    kga_json_string_part(b, head, KGA_JSON_ESCAPE_SHORT);
    put_summary_side(b, e->left_relation, e->left_dir, e->left_name,
                     e->left_neighbour);
    kga_json_string_part(b, " = ", KGA_JSON_ESCAPE_SHORT);
    put_summary_side(b, e->right_relation, e->right_dir, e->right_name,
                     e->right_neighbour);
    KGA_JSON_LIT(b, "\"}");
}

/* ,"explanation":[...] */
static void put_explanation(kga_json_buf_t *b, const kga_wire_evidence_t *ev,
                            size_t n)
{
    KGA_JSON_LIT(b, ",\"explanation\":[");
    for (size_t j = 0; j < n; j++) {
        if (j > 0)
            kga_json_char(b, ',');
        put_evidence(b, &ev[j]);
    }
    kga_json_char(b, ']');
}

static void put_error(kga_json_buf_t *b, const char *code,
                      const char *message)
{
    KGA_JSON_LIT(b, "{\"code\":");
    put_str(b, code);
    KGA_JSON_LIT(b, ",\"message\":");
    put_str(b, message);
    kga_json_char(b, '}');
}

/* ,"unknown_neighbours":N,"unknown_relations":M for an entity described
 * inline; nothing otherwise. */
static void put_inline(kga_json_buf_t *b, const kga_wire_inline_t *inl)
{
    if (inl == NULL || !inl->described)
        return;
    kga_json_printf(b, ",\"unknown_neighbours\":%u,\"unknown_relations\":%u",
                    (unsigned)inl->unknown_neighbours,
                    (unsigned)inl->unknown_relations);
}

static void put_result(kga_json_buf_t *b, const kga_align_result_t *r,
                       int explain)
{
    KGA_JSON_LIT(b, "{\"left\":");
    put_str(b, r->left);
    KGA_JSON_LIT(b, ",\"right\":");
    put_str(b, r->right);
    if (r->unknown != 0) {
        char msg[KGA_WIRE_MSG_MAX];
        kga_wire_unknown_id_message(msg, sizeof msg, r->unknown, r->left,
                                    r->right);
        KGA_JSON_LIT(b, ",\"error\":");
        put_error(b, kga_wire_code_name(KGA_WIRE_UNKNOWN_ID), msg);
        kga_json_char(b, '}');
        return;
    }
    kga_json_char(b, ',');
    put_score(b, &r->score);
    put_inline(b, &r->inl);
    if (explain)
        put_explanation(b, r->evidence, r->n_evidence);
    kga_json_char(b, '}');
}

int kga_align_response_format(const kga_wire_meta_t *meta,
                              const kga_align_result_t *results, size_t n,
                              int explain, char **out, size_t *out_len)
{
    kga_json_buf_t b;
    /* A scored result with short ids is ~120 bytes; growth handles more. */
    kga_json_buf_init(&b, 128 + (n < 65536 ? n : 65536) * 160);
    kga_json_char(&b, '{');
    put_meta(&b, meta);
    KGA_JSON_LIT(&b, ",\"results\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            kga_json_char(&b, ',');
        put_result(&b, &results[i], explain);
    }
    KGA_JSON_LIT(&b, "]}");
    return kga_json_buf_finish(&b, out, out_len);
}

int kga_match_response_format(const kga_wire_meta_t *meta, kga_side_t side,
                              const char *query_id,
                              const kga_wire_inline_t *inl,
                              const kga_match_candidate_t *candidates,
                              size_t n, int explain, char **out,
                              size_t *out_len)
{
    kga_json_buf_t b;
    kga_json_buf_init(&b, 192 + (n < 65536 ? n : 65536) * 120);
    kga_json_char(&b, '{');
    put_meta(&b, meta);
    KGA_JSON_LIT(&b, ",\"query\":{\"side\":");
    put_str(&b, side == KGA_SIDE_RIGHT ? "right" : "left");
    KGA_JSON_LIT(&b, ",\"id\":");
    put_str(&b, query_id);
    put_inline(&b, inl);
    KGA_JSON_LIT(&b, "},\"candidates\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            kga_json_char(&b, ',');
        KGA_JSON_LIT(&b, "{\"id\":");
        put_str(&b, candidates[i].id);
        kga_json_char(&b, ',');
        put_score(&b, &candidates[i].score);
        if (explain)
            put_explanation(&b, candidates[i].evidence,
                            candidates[i].n_evidence);
        kga_json_char(&b, '}');
    }
    KGA_JSON_LIT(&b, "]}");
    return kga_json_buf_finish(&b, out, out_len);
}

int kga_error_response_format(const kga_wire_meta_t *meta, const char *code,
                              const char *message, char **out,
                              size_t *out_len)
{
    kga_json_buf_t b;
    kga_json_buf_init(&b, 256);
    KGA_JSON_LIT(&b, "{\"error\":");
    put_error(&b, code, message);
    kga_json_char(&b, ',');
    put_meta(&b, meta);
    kga_json_char(&b, '}');
    return kga_json_buf_finish(&b, out, out_len);
}

int kga_wire_error_format(const kga_wire_meta_t *meta,
                          const kga_wire_error_t *e, char **out,
                          size_t *out_len)
{
    const char *code = e->code != NULL ? e->code : "internal";
    return kga_error_response_format(meta, code, e->message, out, out_len);
}

int kga_status_response_format(const kga_wire_meta_t *meta,
                               const char *status, char **out,
                               size_t *out_len)
{
    kga_json_buf_t b;
    kga_json_buf_init(&b, 128);
    KGA_JSON_LIT(&b, "{\"status\":");
    put_str(&b, status);
    kga_json_char(&b, ',');
    put_meta(&b, meta);
    kga_json_char(&b, '}');
    return kga_json_buf_finish(&b, out, out_len);
}
