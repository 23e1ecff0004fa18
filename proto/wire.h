#ifndef KGA_WIRE_H
#define KGA_WIRE_H

#include <stdarg.h>
#include <stddef.h>

#include "align/aligner.h"
#include "align/inline_entity.h"
#include "base/error.h"

/* The wire format of the alignment service (the contract is
 * proto/openapi.yaml): decoding of the /align and /match request bodies into
 * plain structs, and encoding of every response body into a malloc'd buffer.
 *
 * Everything here is pure and thread-safe: no globals, no HTTP, no I/O; the
 * server calls it from pool threads. Two process-wide preconditions, both
 * set once before threads start: kga_wire_init() has been called (jansson's
 * hash seed), and LC_NUMERIC is "C" (the default unless someone calls
 * setlocale) so that numbers print with a '.'.
 *
 * Ownership in one sentence: a decoded request owns its strings until its
 * destroy function; an encoded body is a malloc'd buffer the caller frees
 * with free(); strings passed to the encoders are borrowed for the call. */

/* Longest accepted entity id, in bytes (UTF-8). */
#define KGA_WIRE_ID_MAX 4096
/* Range and default of "k" in /match. */
#define KGA_WIRE_K_MIN 1
#define KGA_WIRE_K_MAX 1000
#define KGA_WIRE_K_DEFAULT 10
/* Deepest nesting of arrays and objects accepted in a body (the requests
 * need 6, with entities described inline); deeper bodies are refused
 * before jansson builds anything. */
#define KGA_WIRE_DEPTH_MAX 16
/* Longest X-Request-Id accepted from a client (see kga_wire_request_id_valid). */
#define KGA_WIRE_REQUEST_ID_MAX 128
#define KGA_WIRE_MSG_MAX 512
/* Entities described inline in one request, at most: each costs a pass
 * over the other graph, where an id costs a lookup. */
#define KGA_WIRE_INLINE_MAX 64

/* Every error the service answers with: symbolic name, HTTP status, the
 * "code" string of the body. */
#define KGA_WIRE_ERROR_MAP(X)                                  \
    X(BAD_REQUEST, 400, "bad_request")                         \
    X(FORBIDDEN, 403, "forbidden")                             \
    X(NOT_FOUND, 404, "not_found")                             \
    X(UNKNOWN_ID, 404, "unknown_id")                           \
    X(METHOD_NOT_ALLOWED, 405, "method_not_allowed")           \
    X(CONFLICT, 409, "conflict")                               \
    X(PAYLOAD_TOO_LARGE, 413, "payload_too_large")             \
    X(INTERNAL, 500, "internal")                               \
    X(RELOAD_FAILED, 500, "reload_failed")                     \
    X(UNAVAILABLE, 503, "unavailable")                         \
    X(NOT_READY, 503, "not_ready")                             \
    X(DEADLINE_EXCEEDED, 504, "deadline_exceeded")

typedef enum {
#define KGA_WIRE_ERROR_ENUM(name, status, code) KGA_WIRE_##name,
    KGA_WIRE_ERROR_MAP(KGA_WIRE_ERROR_ENUM)
#undef KGA_WIRE_ERROR_ENUM
    KGA_WIRE_ERROR_COUNT_
} kga_wire_code_t;

/* A request error: the HTTP status, the static code string and a message
 * naming the field ("pairs[3].left: expected a string"). status is 0 and
 * code NULL when there is no error. */
typedef struct {
    int status;
    const char *code;
    char message[KGA_WIRE_MSG_MAX];
} kga_wire_error_t;

/* Limits that come from the configuration. */
typedef struct {
    size_t max_body_bytes; /* longer bodies: 413 payload_too_large */
    size_t max_pairs;      /* more pairs: 413 payload_too_large */
} kga_wire_limits_t;

/* One pair of a decoded /align request: NUL-terminated UTF-8 ids (JSON
 * "\u0000" is refused, so the ids contain no NUL), 1..KGA_WIRE_ID_MAX bytes.
 * A side given as an object describes its entity inline: its description
 * (align/inline_entity.h, the strings checked as ids are, the attribute
 * values as any string) is then left_inline / right_inline, and left /
 * right its "id"; NULL for a side given by id. */
typedef struct {
    const char *left, *right;
    const kga_inline_desc_t *left_inline, *right_inline;
} kga_wire_pair_t;

typedef struct {
    kga_wire_pair_t *pairs; /* n_pairs >= 1 entries */
    size_t n_pairs;
    size_t n_inline; /* sides described inline, <= KGA_WIRE_INLINE_MAX */
    int batch;   /* 1 for {"pairs": [...]}, 0 for {"left", "right"} */
    int explain; /* "explain": true */
    void *mem_;  /* the single allocation behind pairs and the ids */
} kga_align_request_t;

typedef struct {
    kga_side_t side; /* the side of the query entity ("left" or "right") */
    const char *id;  /* 1..KGA_WIRE_ID_MAX bytes, NUL-terminated */
    /* The query described inline, or NULL when it is given by id. */
    const kga_inline_desc_t *inline_desc;
    size_t k;        /* KGA_WIRE_K_MIN..KGA_WIRE_K_MAX */
    int explain;     /* "explain": true */
    void *mem_;
} kga_match_request_t;

/* Response meta data. request_id is required; model_version may be NULL in
 * error and status bodies (no snapshot yet), where it is then left out. */
typedef struct {
    const char *request_id;
    const char *model_version;
} kga_wire_meta_t;

/* One piece of evidence (kga_evidence_t), resolved to external ids, names
 * and relation names. For KGA_EVIDENCE_NAMES, weight is the name cosine,
 * left_name and right_name are the names of the pair itself, and the
 * neighbour and relation fields are not read. Otherwise the two neighbours,
 * their names, the relations and directions that reach them, and the
 * probability that they match. A name that is NULL or "" (the store has
 * none) is left out of the JSON. */
typedef struct {
    kga_evidence_kind_t kind;
    const char *left_neighbour, *right_neighbour;
    const char *left_name, *right_name;
    const char *left_relation, *right_relation;
    kga_dir_t left_dir, right_dir;
    float weight;
} kga_wire_evidence_t;

/* Bits of kga_align_result_t.unknown. */
#define KGA_WIRE_UNKNOWN_LEFT 1u
#define KGA_WIRE_UNKNOWN_RIGHT 2u

/* What a request's entities described inline met (inline_entity.h): set
 * (described != 0) when the pair or the query had one, the counts summed
 * over its inline sides. Encoded as "unknown_neighbours" and
 * "unknown_relations". */
typedef struct {
    int described;
    uint32_t unknown_neighbours, unknown_relations;
} kga_wire_inline_t;

/* The outcome for one pair. When unknown != 0 the result is encoded as
 * {"left", "right", "error": {"code": "unknown_id", "message": ...}} and
 * score and evidence are ignored. */
typedef struct {
    const char *left, *right;
    unsigned unknown;
    kga_pair_score_t score;
    const kga_wire_evidence_t *evidence; /* n_evidence entries, best first */
    size_t n_evidence;
    kga_wire_inline_t inl;
} kga_align_result_t;

/* One /match candidate: external id on the other side, its score, and
 * (when asked for) the evidence for the pair it forms with the query. */
typedef struct {
    const char *id;
    kga_pair_score_t score;
    const kga_wire_evidence_t *evidence; /* n_evidence entries, best first */
    size_t n_evidence;
} kga_match_candidate_t;

/* ------------------------------------------------------------------------
 * Process set-up and errors
 * ------------------------------------------------------------------------ */

/* Seeds jansson's hash function; call once before any thread decodes. */
void kga_wire_init(void);

/* HTTP status and code string of a kga_wire_code_t (500 / "internal" for an
 * out-of-range value). */
int kga_wire_code_status(kga_wire_code_t code);
const char *kga_wire_code_name(kga_wire_code_t code);

/* Fills *e with code's status and code string and a printf-style message.
 * Returns code's HTTP status. */
int kga_wire_error_set(kga_wire_error_t *e, kga_wire_code_t code,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int kga_wire_error_vset(kga_wire_error_t *e, kga_wire_code_t code,
                        const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* The message of an unknown id, for a batch result and for /match:
 * "left id 'X' is not in the left graph" (X cut to 64 bytes). unknown holds
 * KGA_WIRE_UNKNOWN_* bits. Writes at most cap bytes, NUL included. */
void kga_wire_unknown_id_message(char *buf, size_t cap, unsigned unknown,
                                 const char *left, const char *right);

/* Sets *e to 404 unknown_id for a /match query entity. Returns 404. */
int kga_wire_error_unknown_id(kga_wire_error_t *e, kga_side_t side,
                              const char *id);

/* Whether a client's X-Request-Id may be echoed: 1..KGA_WIRE_REQUEST_ID_MAX
 * bytes of printable ASCII other than '"' and '\\'. Otherwise the server
 * generates one. */
int kga_wire_request_id_valid(const char *id, size_t len);

/* ------------------------------------------------------------------------
 * Decoding. Each returns 0, or the HTTP status (400 or 413) with *err
 * filled and *req left empty (destroy is still safe); KGA_ENOMEM as a
 * negative return on out of memory. Bodies longer than
 * limits->max_body_bytes give 413. Unknown fields are refused with 400
 * naming them (a misspelt "explain" must not be silently ignored).
 * ------------------------------------------------------------------------ */

int kga_align_request_parse(kga_align_request_t *req, const char *body,
                            size_t len, const kga_wire_limits_t *limits,
                            kga_wire_error_t *err);
void kga_align_request_destroy(kga_align_request_t *req);

int kga_match_request_parse(kga_match_request_t *req, const char *body,
                            size_t len, const kga_wire_limits_t *limits,
                            kga_wire_error_t *err);
void kga_match_request_destroy(kga_match_request_t *req);

/* ------------------------------------------------------------------------
 * Encoding. Each writes a complete JSON body (no trailing newline) into a
 * malloc'd buffer *out of *out_len bytes, followed by a NUL not counted in
 * *out_len, that the caller frees with free(). Returns 0 or
 * KGA_ENOMEM (then *out is NULL). Any bytes are accepted in strings: control
 * characters are escaped and invalid UTF-8 becomes U+FFFD, so the output is
 * always valid JSON. Floats print with 9 significant digits, which read back
 * as a float give the same float. Non-finite numbers are written as null.
 * ------------------------------------------------------------------------ */

/* {"request_id", "model_version", "results": [...]}; each scored result
 * carries "explanation": [...] when explain is non-zero. */
int kga_align_response_format(const kga_wire_meta_t *meta,
                              const kga_align_result_t *results, size_t n,
                              int explain, char **out, size_t *out_len);

/* {"request_id", "model_version", "query": {"side", "id"} and, for a query
 * described inline (inl->described), "unknown_neighbours" and
 * "unknown_relations"; "candidates": [...]}; each candidate carries
 * "explanation": [...] when explain is non-zero. inl may be NULL. */
int kga_match_response_format(const kga_wire_meta_t *meta, kga_side_t side,
                              const char *query_id,
                              const kga_wire_inline_t *inl,
                              const kga_match_candidate_t *candidates,
                              size_t n, int explain, char **out,
                              size_t *out_len);

/* Writes f as snprintf's "%.9g" does, character for character (at most
 * 31 bytes and a NUL into out), and returns the length. */
int kga_wire_format_float(char *out, float f);

/* {"error": {"code", "message"}, "request_id", "model_version"?}. */
int kga_error_response_format(const kga_wire_meta_t *meta, const char *code,
                              const char *message, char **out,
                              size_t *out_len);

/* The same from a decode error. */
int kga_wire_error_format(const kga_wire_meta_t *meta,
                          const kga_wire_error_t *e, char **out,
                          size_t *out_len);

/* {"status": status, "request_id", "model_version"?}: /healthz ("ok"),
 * /readyz ("ready"), /admin/reload ("reloaded"). */
int kga_status_response_format(const kga_wire_meta_t *meta,
                               const char *status, char **out,
                               size_t *out_len);

#endif
