/* The format-independent half of the import: parameters, input files with
 * lenient skipping and progress, names and types of the two graphs, the
 * links with their splits, and writing OUT_DIR. The two layouts are read by
 * import_openea.c and import_dbp15k.c through the functions declared at the
 * end of import.h.
 *
 * The two graphs are independent until the links join them, so each is read
 * (and later written) on its own thread; the links are read on the calling
 * thread once both graphs are complete. Nothing a thread does depends on
 * the other one's progress, so the result is the same as a serial run: when
 * both sides fail, the left side's error is the one reported. */
#include "import/import.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/hash.h"
#include "import/names.h"
#include "base/rng.h"
#include "store/store.h"

#define ARENA_CHUNK (1u << 20)
#define NO_TYPE UINT32_MAX
#define PROGRESS_EVERY_LINES 0x10000u
#define PROGRESS_READING "import: reading"
#define PROGRESS_WRITING "import: writing"
/* Ids quoted in messages are cut to this many bytes. */
#define MSG_ID_MAX 200
#define LAST_EXT_MAX 1024
/* The file table: slots [0, 5) for the left graph's files, [5, 10) for the
 * right graph's, the rest for the links phase; compacted into the summary
 * in this order, which therefore does not depend on thread timing. */
#define FILES_PER_SIDE 5u
#define SHARED_FILES_BASE (2u * FILES_PER_SIDE)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    char data[];
} arena_chunk_t;

/* Type names interned once, so that a type that loses to a smaller one
 * never reaches the builder (its type table must not depend on order). */
typedef struct {
    const char **names;
    uint64_t *hashes;
    size_t count, cap;
    uint32_t *slots; /* UINT32_MAX = empty */
    size_t slot_mask;
} type_table_t;

/* Everything one graph's thread touches. */
typedef struct {
    kga_graph_builder_t *b;
    uint8_t *label_rank; /* per entity: KGA_LABEL_* of its name, 0 none */
    uint32_t *type;      /* per entity: index in types or NO_TYPE */
    size_t cap;
    uint64_t type_triples;
    type_table_t types;
    arena_chunk_t *arena;
    char *scratch; /* KGA_LINE_MAX + 1 bytes: any field fits */
    kga_err_t err;
    int rc;
    unsigned next_file;
    uint64_t bytes_closed;     /* bytes of this side's closed files */
    _Atomic uint64_t bytes_seen; /* published for the progress line */
    /* The last entity looked up: files grouped by subject (most are) then
     * skip the hash lookup for every line after the first of a group. */
    uint32_t last_ent;
    size_t last_len; /* 0: none */
    char last_ext[LAST_EXT_MAX];
} side_t;

typedef struct {
    kga_import_file_t stats;
    const char *path;
    kga_import_split_t split;
    uint64_t bytes;
    int used;
} file_slot_t;

struct kga_import_ctx {
    const kga_import_params_t *p;
    kga_import_summary_t *summary;
    const kga_progress_t *progress;
    kga_err_t *err;
    int threaded; /* side errors go to side[k].err while the threads run */
    side_t side[2];
    arena_chunk_t *arena; /* links phase */
    file_slot_t files[KGA_IMPORT_MAX_FILES];
    unsigned next_shared_file;
    uint64_t bytes_shared, bytes_total;
    kga_links_t *links;    /* every link read; tag = file slot */
    uint32_t *link_ent[2]; /* builder ids of each link's ends */
    size_t link_ent_cap;
    /* Completion of the side threads, for the progress loop. */
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
};

/* ---- parameters ---- */

void kga_import_params_init(kga_import_params_t *p)
{
    memset(p, 0, sizeof *p);
    p->fold = KGA_IMPORT_DEFAULT_FOLD;
    p->seed = KGA_IMPORT_DEFAULT_SEED;
    p->valid_fraction = KGA_IMPORT_DEFAULT_VALID_FRACTION;
}

int kga_import_format_parse(const char *name, kga_import_format_t *out)
{
    if (strcmp(name, "openea") == 0)
        *out = KGA_IMPORT_OPENEA;
    else if (strcmp(name, "dbp15k") == 0 || strcmp(name, "gcn-align") == 0)
        *out = KGA_IMPORT_DBP15K;
    else
        return KGA_EINVAL;
    return 0;
}

const char *kga_import_format_name(kga_import_format_t format)
{
    switch (format) {
    case KGA_IMPORT_OPENEA:
        return "openea";
    case KGA_IMPORT_DBP15K:
        return "dbp15k";
    }
    return "unknown";
}

const kga_import_params_t *kga_import_params(const kga_import_ctx_t *ctx)
{
    return ctx->p;
}

kga_err_t *kga_import_err(kga_import_ctx_t *ctx, int side)
{
    return side >= 0 && ctx->threaded ? &ctx->side[side].err : ctx->err;
}

/* ---- arenas ---- */

const char *kga_import_strdup(kga_import_ctx_t *ctx, int side, const char *s)
{
    arena_chunk_t **head = side >= 0 ? &ctx->side[side].arena : &ctx->arena;
    size_t len = strlen(s);
    arena_chunk_t *c = *head;
    if (c == NULL || c->size - c->used < len + 1) {
        size_t size = len + 1 > ARENA_CHUNK ? len + 1 : ARENA_CHUNK;
        c = malloc(sizeof *c + size);
        if (c == NULL)
            return NULL;
        c->next = *head;
        c->used = 0;
        c->size = size;
        *head = c;
    }
    char *dst = c->data + c->used;
    memcpy(dst, s, len + 1);
    c->used += len + 1;
    return dst;
}

static void arena_free(arena_chunk_t *c)
{
    while (c != NULL) {
        arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

/* ---- type names ---- */

static int types_rehash(type_table_t *t, size_t nslots)
{
    uint32_t *slots = malloc(nslots * sizeof *slots);
    if (slots == NULL)
        return KGA_ENOMEM;
    memset(slots, 0xff, nslots * sizeof *slots);
    for (size_t i = 0; i < t->count; i++) {
        size_t s = t->hashes[i] & (nslots - 1);
        while (slots[s] != UINT32_MAX)
            s = (s + 1) & (nslots - 1);
        slots[s] = (uint32_t)i;
    }
    free(t->slots);
    t->slots = slots;
    t->slot_mask = nslots - 1;
    return 0;
}

static int types_intern(kga_import_ctx_t *ctx, int side, const char *name,
                        uint32_t *out)
{
    type_table_t *t = &ctx->side[side].types;
    uint64_t h = kga_hash64(name, strlen(name));
    if (t->slots != NULL)
        for (size_t s = h & t->slot_mask; t->slots[s] != UINT32_MAX;
             s = (s + 1) & t->slot_mask) {
            uint32_t i = t->slots[s];
            if (t->hashes[i] == h && strcmp(t->names[i], name) == 0) {
                *out = i;
                return 0;
            }
        }
    if (t->count >= UINT32_MAX - 1)
        return KGA_ELIMIT;
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        const char **names = realloc(t->names, cap * sizeof *names);
        if (names == NULL)
            return KGA_ENOMEM;
        t->names = names;
        uint64_t *hashes = realloc(t->hashes, cap * sizeof *hashes);
        if (hashes == NULL)
            return KGA_ENOMEM;
        t->hashes = hashes;
        t->cap = cap;
    }
    const char *copy = kga_import_strdup(ctx, side, name);
    if (copy == NULL)
        return KGA_ENOMEM;
    t->names[t->count] = copy;
    t->hashes[t->count] = h;
    t->count++;
    if (t->slots == NULL || t->count * 2 > t->slot_mask + 1) {
        int rc = types_rehash(t, t->slots ? (t->slot_mask + 1) * 2 : 256);
        if (rc != 0)
            return rc;
    } else {
        size_t s = h & t->slot_mask;
        while (t->slots[s] != UINT32_MAX)
            s = (s + 1) & t->slot_mask;
        t->slots[s] = (uint32_t)(t->count - 1);
    }
    *out = (uint32_t)(t->count - 1);
    return 0;
}

static void types_free(type_table_t *t)
{
    free(t->names);
    free(t->hashes);
    free(t->slots);
}

/* ---- input files ---- */

int kga_import_path(const kga_import_ctx_t *ctx, const char *name, char *buf,
                    size_t cap)
{
    const char *dir = ctx->p->src_dir;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    int n = snprintf(buf, cap, "%.*s/%s", (int)dl, dir, name);
    return n < 0 || (size_t)n >= cap ? KGA_ELIMIT : 0;
}

int kga_import_exists(const kga_import_ctx_t *ctx, const char *name)
{
    char path[4096];
    struct stat st;
    return kga_import_path(ctx, name, path, sizeof path) == 0 &&
           stat(path, &st) == 0;
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int kga_import_open(kga_import_ctx_t *ctx, int side, const char *name,
                    int required, const char *hint, kga_import_split_t split,
                    kga_import_src_t *src)
{
    kga_err_t *err = kga_import_err(ctx, side);
    src->reader = NULL;
    src->ctx = ctx;
    src->side = side;
    char path[4096];
    if (kga_import_path(ctx, name, path, sizeof path) != 0)
        return kga_err_set(err, KGA_ELIMIT, "%s/%s: path too long",
                           ctx->p->src_dir, name);
    unsigned slot = side >= 0 ? (unsigned)side * FILES_PER_SIDE +
                                    ctx->side[side].next_file
                              : SHARED_FILES_BASE + ctx->next_shared_file;
    unsigned limit = side >= 0 ? ((unsigned)side + 1) * FILES_PER_SIDE
                               : KGA_IMPORT_MAX_FILES;
    if (slot >= limit)
        return kga_err_set(err, KGA_ELIMIT, "%s: too many input files", path);
    int rc = kga_line_reader_open(path, &src->reader, err);
    if (rc == KGA_ENOENT && !required) {
        kga_err_clear(err);
        return 0;
    }
    if (rc == KGA_ENOENT && hint != NULL)
        return kga_err_set(err, rc, "%s: no such file (%s)", path, hint);
    if (rc != 0)
        return rc;
    const char *copy = kga_import_strdup(ctx, side, path);
    if (copy == NULL) {
        kga_line_reader_close(src->reader);
        src->reader = NULL;
        return kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
    }
    if (side >= 0)
        ctx->side[side].next_file++;
    else
        ctx->next_shared_file++;
    src->index = slot;
    file_slot_t *f = &ctx->files[slot];
    memset(f, 0, sizeof *f);
    snprintf(f->stats.name, sizeof f->stats.name, "%s", name);
    f->path = copy;
    f->split = split;
    f->used = 1;
    return 0;
}

static void report_progress(kga_import_ctx_t *ctx, uint64_t shared_in_file)
{
    uint64_t done = atomic_load_explicit(&ctx->side[0].bytes_seen,
                                         memory_order_relaxed) +
                    atomic_load_explicit(&ctx->side[1].bytes_seen,
                                         memory_order_relaxed) +
                    ctx->bytes_shared + shared_in_file;
    kga_progress_report(ctx->progress, PROGRESS_READING, done,
                        done > ctx->bytes_total ? done : ctx->bytes_total);
}

/* Makes the bytes read so far visible to the progress line: a side thread
 * publishes them, the links phase reports directly. */
static void publish_bytes(kga_import_src_t *src, uint64_t in_file)
{
    kga_import_ctx_t *ctx = src->ctx;
    if (src->side >= 0) {
        side_t *s = &ctx->side[src->side];
        atomic_store_explicit(&s->bytes_seen, s->bytes_closed + in_file,
                              memory_order_relaxed);
        if (!ctx->threaded)
            report_progress(ctx, 0);
    } else {
        report_progress(ctx, in_file);
    }
}

void kga_import_close(kga_import_src_t *src)
{
    if (src->reader == NULL)
        return;
    kga_import_ctx_t *ctx = src->ctx;
    file_slot_t *f = &ctx->files[src->index];
    f->bytes = kga_line_reader_bytes(src->reader);
    f->stats.lines = kga_line_reader_line_no(src->reader);
    if (src->side >= 0)
        ctx->side[src->side].bytes_closed += f->bytes;
    else
        ctx->bytes_shared += f->bytes;
    publish_bytes(src, 0);
    kga_line_reader_close(src->reader);
    src->reader = NULL;
}

long kga_import_next(kga_import_src_t *src, char **fields, size_t max)
{
    kga_import_ctx_t *ctx = src->ctx;
    kga_err_t *err = kga_import_err(ctx, src->side);
    for (;;) {
        char *line;
        size_t len;
        int rc = kga_line_reader_next(src->reader, &line, &len, err);
        if (rc == 0)
            return 0;
        if (rc < 0) {
            if ((rc == KGA_EPARSE || rc == KGA_ELIMIT) && ctx->p->lenient) {
                kga_err_clear(err);
                ctx->files[src->index].stats.skipped++;
                continue;
            }
            return rc;
        }
        if (kga_line_reader_line_no(src->reader) % PROGRESS_EVERY_LINES == 0)
            publish_bytes(src, kga_line_reader_bytes(src->reader));
        if (len == 0)
            continue;
        return (long)kga_split_tabs(line, len, fields, max);
    }
}

int kga_import_bad_line(kga_import_src_t *src, int code, const char *fmt, ...)
{
    kga_import_ctx_t *ctx = src->ctx;
    if (ctx->p->lenient) {
        ctx->files[src->index].stats.skipped++;
        return 0;
    }
    char msg[KGA_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return kga_err_set(kga_import_err(ctx, src->side), code, "%s:%llu: %s",
                       kga_line_reader_path(src->reader),
                       (unsigned long long)kga_line_reader_line_no(src->reader),
                       msg);
}

int kga_import_check_fields(kga_import_src_t *src, long count,
                            char **fields, size_t expected)
{
    if ((size_t)count != expected)
        return kga_import_bad_line(src, KGA_EPARSE,
                                   "expected %zu tab-separated fields, "
                                   "found %ld", expected, count);
    for (size_t i = 0; i < expected; i++) {
        if (fields[i][0] == '\0')
            return kga_import_bad_line(src, KGA_EPARSE, "field %zu is empty",
                                       i + 1);
        /* The files written from these fields start lines with them, and a
         * reader takes U+FEFF at the start of a file for a byte order
         * mark: such an id would not read back. */
        if (strncmp(fields[i], "\xEF\xBB\xBF", 3) == 0)
            return kga_import_bad_line(src, KGA_EPARSE,
                                       "field %zu begins with U+FEFF (a byte "
                                       "order mark), which only a file may",
                                       i + 1);
    }
    return 1;
}

int kga_import_each(kga_import_ctx_t *ctx, int side, const char *name,
                    int required, const char *hint, kga_import_split_t split,
                    size_t max, int check, kga_import_line_fn fn, void *arg,
                    int *found)
{
    enum { MAX_FIELDS = 8 };
    kga_import_src_t src;
    char *f[MAX_FIELDS];
    if (max > MAX_FIELDS)
        return kga_err_set(kga_import_err(ctx, side), KGA_EINVAL,
                           "import: %zu fields (limit %d)", max, MAX_FIELDS);
    int rc = kga_import_open(ctx, side, name, required, hint, split, &src);
    if (found != NULL)
        *found = src.reader != NULL;
    if (rc != 0 || src.reader == NULL)
        return rc;
    long n;
    while ((n = kga_import_next(&src, f, max)) > 0) {
        if (check) {
            rc = kga_import_check_fields(&src, n, f, max);
            if (rc < 0)
                break;
            if (rc == 0)
                continue;
        }
        rc = fn(&src, f, n, arg);
        if (rc < 0)
            break;
    }
    if (n < 0)
        rc = (int)n;
    kga_import_close(&src);
    return rc < 0 ? rc : 0;
}

/* ---- the two graphs ---- */

kga_graph_builder_t *kga_import_builder(kga_import_ctx_t *ctx, int side)
{
    return ctx->side[side].b;
}

int kga_import_builder_error(kga_import_ctx_t *ctx, int side, int code)
{
    return kga_err_set(kga_import_err(ctx, side), code,
                       "import: building graph %d: %s", side + 1,
                       kga_strerror(code));
}

static int side_reserve(side_t *s, size_t need)
{
    if (need <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < need)
        cap *= 2;
    uint8_t *rank = realloc(s->label_rank, cap);
    if (rank == NULL)
        return KGA_ENOMEM;
    s->label_rank = rank;
    uint32_t *type = realloc(s->type, cap * sizeof *type);
    if (type == NULL)
        return KGA_ENOMEM;
    s->type = type;
    memset(rank + s->cap, 0, cap - s->cap);
    memset(type + s->cap, 0xff, (cap - s->cap) * sizeof *type);
    s->cap = cap;
    return 0;
}

static int intern_entity(kga_import_ctx_t *ctx, int side, const char *ext_id,
                         uint32_t *ent)
{
    side_t *s = &ctx->side[side];
    int rc = kga_builder_entity(s->b, ext_id, ent, NULL);
    if (rc == 0)
        rc = side_reserve(s, (size_t)*ent + 1);
    return rc != 0 ? kga_import_builder_error(ctx, side, rc) : 0;
}

int kga_import_entity(kga_import_ctx_t *ctx, int side, const char *ext_id,
                      uint32_t *ent)
{
    side_t *s = &ctx->side[side];
    size_t len = strlen(ext_id);
    if (len == s->last_len && memcmp(ext_id, s->last_ext, len) == 0) {
        *ent = s->last_ent;
        return 0;
    }
    int rc = intern_entity(ctx, side, ext_id, ent);
    if (rc == 0 && len > 0 && len < LAST_EXT_MAX) {
        memcpy(s->last_ext, ext_id, len);
        s->last_len = len;
        s->last_ent = *ent;
    }
    return rc;
}

int kga_import_type(kga_import_ctx_t *ctx, int side, uint32_t ent,
                    const char *type_name)
{
    side_t *s = &ctx->side[side];
    if (type_name[0] == '\0')
        return 0;
    uint32_t cur = s->type[ent];
    if (cur != NO_TYPE && strcmp(type_name, s->types.names[cur]) >= 0)
        return 0;
    uint32_t t;
    int rc = types_intern(ctx, side, type_name, &t);
    if (rc != 0)
        return kga_import_builder_error(ctx, side, rc);
    s->type[ent] = t;
    return 0;
}

void kga_import_count_type_triple(kga_import_ctx_t *ctx, int side)
{
    ctx->side[side].type_triples++;
}

int kga_import_triple(kga_import_ctx_t *ctx, int side, const char *head,
                      const char *rel, const char *tail)
{
    side_t *s = &ctx->side[side];
    uint32_t h, t, r;
    int rc = kga_import_entity(ctx, side, head, &h);
    if (rc != 0)
        return rc;
    if (kga_names_is_type_key(rel)) {
        s->type_triples++;
        return kga_import_type(ctx, side, h, tail);
    }
    rc = intern_entity(ctx, side, tail, &t);
    if (rc != 0)
        return rc;
    rc = kga_builder_relation(s->b, rel, &r);
    if (rc == 0)
        rc = kga_builder_triple(s->b, h, r, t);
    return rc != 0 ? kga_import_builder_error(ctx, side, rc) : 0;
}

int kga_import_attribute(kga_import_ctx_t *ctx, int side, uint32_t ent,
                         const char *key, const char *literal)
{
    side_t *s = &ctx->side[side];
    int rc = kga_builder_attribute(s->b, ent, key, literal);
    if (rc != 0)
        return kga_import_builder_error(ctx, side, rc);
    int rank = kga_names_label_rank(key);
    int is_type = rank == KGA_LABEL_NONE && kga_names_is_type_key(key);
    if (rank == KGA_LABEL_NONE && !is_type)
        return 0;
    size_t len = kga_names_clean_literal(literal, strlen(literal), s->scratch);
    if (len == 0)
        return 0;
    if (is_type)
        return kga_import_type(ctx, side, ent, s->scratch);
    int cur = s->label_rank[ent];
    if (cur != 0 &&
        (rank > cur ||
         (rank == cur &&
          strcmp(s->scratch, kga_builder_entity_name(s->b, ent)) >= 0)))
        return 0;
    rc = kga_builder_set_name(s->b, ent, s->scratch);
    if (rc != 0)
        return kga_import_builder_error(ctx, side, rc);
    s->label_rank[ent] = (uint8_t)rank;
    return 0;
}

/* Names from URIs for entities without a label; types into the builder. */
static int finish_side(kga_import_ctx_t *ctx, int side,
                       kga_import_side_t *out)
{
    side_t *s = &ctx->side[side];
    uint32_t n = kga_builder_entity_count(s->b);
    uint32_t named = 0, labelled = 0;
    for (uint32_t e = 0; e < n; e++) {
        int rc = 0;
        if (s->label_rank[e] != 0) {
            labelled++;
            named++;
        } else {
            const char *ext = kga_builder_entity_ext_id(s->b, e);
            if (kga_names_from_uri(ext, s->scratch) > 0) {
                rc = kga_builder_set_name(s->b, e, s->scratch);
                named++;
            }
        }
        if (rc == 0 && s->type[e] != NO_TYPE)
            rc = kga_builder_set_type(s->b, e, s->types.names[s->type[e]]);
        if (rc != 0)
            return kga_import_builder_error(ctx, side, rc);
    }
    out->entities = n;
    out->relations = kga_builder_relation_count(s->b);
    out->types = kga_builder_type_count(s->b);
    out->attr_keys = kga_builder_attr_key_count(s->b);
    out->named = named;
    out->labelled = labelled;
    out->triples = kga_builder_triple_count(s->b);
    out->attributes = kga_builder_attribute_count(s->b);
    out->duplicate_triples = kga_builder_duplicate_triples(s->b);
    out->type_triples = s->type_triples;
    return 0;
}

/* ---- links ---- */

int kga_import_link(kga_import_src_t *src, const char *left,
                    const char *right)
{
    kga_import_ctx_t *ctx = src->ctx;
    const char *ids[2] = {left, right};
    int64_t ent[2];
    for (int side = 0; side < 2; side++) {
        ent[side] = kga_builder_find_entity(ctx->side[side].b, ids[side]);
        if (ent[side] < 0)
            return kga_import_bad_line(
                src, KGA_EUNKNOWN_ID,
                "%s id '%.*s' is not an entity of graph %d",
                side == 0 ? "left" : "right", MSG_ID_MAX, ids[side],
                side + 1);
    }
    if (ctx->files[src->index].split == KGA_SPLIT_NONE)
        return 0;
    size_t n = kga_links_count(ctx->links);
    if (n == ctx->link_ent_cap) {
        size_t cap = n ? n * 2 : 1024;
        for (int side = 0; side < 2; side++) {
            uint32_t *p = realloc(ctx->link_ent[side], cap * sizeof *p);
            if (p == NULL)
                return kga_err_set(ctx->err, KGA_ENOMEM,
                                   "import: out of memory");
            ctx->link_ent[side] = p;
        }
        ctx->link_ent_cap = cap;
    }
    int rc = kga_links_add(ctx->links, left, right,
                           kga_line_reader_line_no(src->reader), src->index);
    if (rc == KGA_EINVAL)
        return kga_import_bad_line(src, KGA_EPARSE,
                                   "a link id holds a carriage return");
    if (rc != 0)
        return kga_err_set(ctx->err, rc, "import: %s", kga_strerror(rc));
    ctx->link_ent[0][n] = (uint32_t)ent[0];
    ctx->link_ent[1][n] = (uint32_t)ent[1];
    return 0;
}

/* Canonical order of links: left, right, then file and line. */
static int cmp_links(const kga_link_t *a, const kga_link_t *b)
{
    int c = strcmp(a->left, b->left);
    if (c == 0)
        c = strcmp(a->right, b->right);
    if (c == 0)
        c = (a->tag > b->tag) - (a->tag < b->tag);
    if (c == 0)
        c = (a->line > b->line) - (a->line < b->line);
    return c;
}

static int cmp_link_ptrs(const void *pa, const void *pb)
{
    return cmp_links(*(const kga_link_t *const *)pa,
                     *(const kga_link_t *const *)pb);
}

/* Finds links that share a left or a right entity with another. Strict: the
 * first conflict is an error naming both places. Lenient: of the links of
 * one id the canonically first (by left, right, file, line) is kept, the
 * others are marked in drop[] and counted as skipped lines of their files,
 * so the choice does not depend on the order of the input. Entities are
 * found by builder id, so this is linear. */
static int check_one_to_one(kga_import_ctx_t *ctx, size_t n, uint8_t *drop)
{
    const kga_link_t *items = kga_links_items(ctx->links);
    for (int side = 0; side < 2; side++) {
        uint32_t count = kga_builder_entity_count(ctx->side[side].b);
        uint32_t *owner = malloc((count ? count : 1) * sizeof *owner);
        if (owner == NULL)
            return kga_err_set(ctx->err, KGA_ENOMEM, "import: out of memory");
        memset(owner, 0xff, (count ? count : 1) * sizeof *owner);
        for (size_t i = 0; i < n; i++) {
            if (drop[i])
                continue;
            uint32_t e = ctx->link_ent[side][i];
            if (owner[e] == UINT32_MAX) {
                owner[e] = (uint32_t)i;
                continue;
            }
            const kga_link_t *first = &items[owner[e]], *later = &items[i];
            if (cmp_links(later, first) < 0) {
                first = &items[i];
                later = &items[owner[e]];
            }
            if (!ctx->p->lenient) {
                const char *id = side == 0 ? later->left : later->right;
                free(owner);
                return kga_err_set(
                    ctx->err, KGA_EDUPLICATE,
                    "%s:%llu: %s id '%.*s' is linked twice (also at %s:%llu)",
                    ctx->files[later->tag].path,
                    (unsigned long long)later->line,
                    side == 0 ? "left" : "right", MSG_ID_MAX, id,
                    ctx->files[first->tag].path,
                    (unsigned long long)first->line);
            }
            drop[later - items] = 1;
            owner[e] = (uint32_t)(first - items);
            ctx->files[later->tag].stats.skipped++;
        }
        free(owner);
    }
    return 0;
}

/* Streams of the seed for the two seeded splits (see rng.h). */
enum { STREAM_TEST_SPLIT = 1, STREAM_VALID_SPLIT = 2 };

/* Moves round(fraction * n) links of *from, drawn with (seed, stream) from
 * the canonical order, to `to`; both keep the canonical order. */
static int carve(kga_links_t **from, kga_links_t *to, double fraction,
                 uint64_t seed, uint64_t stream)
{
    kga_links_t *src = *from;
    size_t n = kga_links_count(src);
    if (n >= UINT32_MAX)
        return KGA_ELIMIT;
    size_t take = (size_t)floor(fraction * (double)n + 0.5);
    if (take > n)
        take = n;
    kga_links_sort(src);
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    uint8_t *chosen = calloc(n ? n : 1, 1);
    kga_links_t *rest = kga_links_new(kga_links_source(src));
    int rc = order && chosen && rest ? 0 : KGA_ENOMEM;
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            order[i] = (uint32_t)i;
        kga_rng_t rng;
        kga_rng_init(&rng, seed, stream);
        kga_rng_shuffle_u32(&rng, order, n);
        for (size_t i = 0; i < take; i++)
            chosen[order[i]] = 1;
        const kga_link_t *items = kga_links_items(src);
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = kga_links_add(chosen[i] ? to : rest, items[i].left,
                               items[i].right, items[i].line, items[i].tag);
    }
    free(order);
    free(chosen);
    if (rc != 0) {
        kga_links_free(rest);
        return rc;
    }
    kga_links_free(src);
    *from = rest;
    return 0;
}

enum { OUT_TRAIN, OUT_VALID, OUT_TEST, OUT_ALL, OUT_COUNT };

/* Resolves conflicts, distributes the links over the splits in canonical
 * order and carves the seeded ones. sets[] receive train, valid, test. */
static int finish_links(kga_import_ctx_t *ctx, kga_links_t *sets[OUT_COUNT])
{
    size_t n = kga_links_count(ctx->links);
    const kga_link_t *items = kga_links_items(ctx->links);
    int rc = 0;
    const kga_link_t **v = malloc((n ? n : 1) * sizeof *v);
    uint8_t *drop = calloc(n ? n : 1, 1);
    if (v == NULL || drop == NULL) {
        rc = kga_err_set(ctx->err, KGA_ENOMEM, "import: out of memory");
        goto out;
    }
    rc = check_one_to_one(ctx, n, drop);
    if (rc != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        v[i] = &items[i];
    qsort(v, n, sizeof *v, cmp_link_ptrs);
    int have_valid = 0;
    for (unsigned f = 0; f < KGA_IMPORT_MAX_FILES; f++)
        have_valid |= ctx->files[f].used &&
                      ctx->files[f].split == KGA_SPLIT_VALID;
    for (size_t k = 0; k < n && rc == 0; k++) {
        const kga_link_t *link = v[k];
        if (drop[link - items])
            continue;
        int which = OUT_ALL;
        switch (ctx->files[link->tag].split) {
        case KGA_SPLIT_TRAIN:
            which = OUT_TRAIN;
            break;
        case KGA_SPLIT_VALID:
            which = OUT_VALID;
            break;
        case KGA_SPLIT_TEST:
            which = OUT_TEST;
            break;
        case KGA_SPLIT_NONE:
        case KGA_SPLIT_ALL:
            break;
        }
        rc = kga_links_add(sets[which], link->left, link->right, link->line,
                           link->tag);
    }
    if (rc == 0 && kga_links_count(sets[OUT_ALL]) > 0) {
        /* Training share of ALL with the seed; the rest is the test set. */
        kga_links_t *all = sets[OUT_ALL];
        rc = carve(&all, sets[OUT_TRAIN], KGA_IMPORT_DBP15K_TRAIN_FRACTION,
                   ctx->p->seed, STREAM_TEST_SPLIT);
        sets[OUT_ALL] = all;
        for (size_t i = 0; rc == 0 && i < kga_links_count(all); i++) {
            const kga_link_t *k = &kga_links_items(all)[i];
            rc = kga_links_add(sets[OUT_TEST], k->left, k->right, k->line,
                               k->tag);
        }
        ctx->summary->test_carved = 1;
    }
    if (rc == 0 && !have_valid) {
        rc = carve(&sets[OUT_TRAIN], sets[OUT_VALID], ctx->p->valid_fraction,
                   ctx->p->seed, STREAM_VALID_SPLIT);
        ctx->summary->valid_carved = 1;
    }
    if (rc != 0)
        rc = kga_err_set(ctx->err, rc, "import: links: %s", kga_strerror(rc));
    ctx->summary->train_links = kga_links_count(sets[OUT_TRAIN]);
    ctx->summary->valid_links = kga_links_count(sets[OUT_VALID]);
    ctx->summary->test_links = kga_links_count(sets[OUT_TEST]);
out:
    free(drop);
    free(v);
    return rc;
}

/* ---- running the two sides on two threads ---- */

typedef int (*side_job_fn)(kga_import_ctx_t *ctx, void *arg, int side);

typedef struct {
    kga_import_ctx_t *ctx;
    side_job_fn job;
    void *arg;
    int side;
} side_task_t;

static void *side_thread(void *p)
{
    side_task_t *t = p;
    side_t *s = &t->ctx->side[t->side];
    s->rc = t->job(t->ctx, t->arg, t->side);
    pthread_mutex_lock(&t->ctx->lock);
    t->ctx->done++;
    pthread_cond_signal(&t->ctx->done_cond);
    pthread_mutex_unlock(&t->ctx->lock);
    return NULL;
}

/* Runs job for both sides at once (serially if no thread can be made),
 * drawing the progress line meanwhile. Returns the left side's error if it
 * failed, else the right side's, copied to ctx->err. */
static int run_sides(kga_import_ctx_t *ctx, side_job_fn job, void *arg,
                     int draw_progress)
{
    side_task_t tasks[2];
    pthread_t threads[2];
    int started[2] = {0, 0};
    ctx->done = 0;
    ctx->threaded = 1;
    for (int side = 0; side < 2; side++) {
        kga_err_clear(&ctx->side[side].err);
        tasks[side] = (side_task_t){ctx, job, arg, side};
        started[side] =
            pthread_create(&threads[side], NULL, side_thread, &tasks[side]) ==
            0;
        if (!started[side])
            side_thread(&tasks[side]);
    }
    pthread_mutex_lock(&ctx->lock);
    while (ctx->done < 2) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        if (until.tv_nsec >= 1000 * 1000 * 1000) {
            until.tv_sec++;
            until.tv_nsec -= 1000 * 1000 * 1000;
        }
        pthread_cond_timedwait(&ctx->done_cond, &ctx->lock, &until);
        if (draw_progress && ctx->done < 2) {
            pthread_mutex_unlock(&ctx->lock);
            report_progress(ctx, 0);
            pthread_mutex_lock(&ctx->lock);
        }
    }
    pthread_mutex_unlock(&ctx->lock);
    for (int side = 0; side < 2; side++)
        if (started[side])
            pthread_join(threads[side], NULL);
    ctx->threaded = 0;
    for (int side = 0; side < 2; side++)
        if (ctx->side[side].rc != 0) {
            if (ctx->err != NULL)
                *ctx->err = ctx->side[side].err;
            return ctx->side[side].rc;
        }
    return 0;
}

typedef struct {
    const kga_import_reader_t *reader;
    void *state;
} read_job_t;

static int read_side_job(kga_import_ctx_t *ctx, void *arg, int side)
{
    const read_job_t *job = arg;
    return job->reader->read_side(ctx, job->state, side);
}

/* ---- output ---- */

static int make_dirs(const char *path, kga_err_t *err)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf)
        return kga_err_set(err, KGA_EINVAL, "%s: bad output directory",
                           path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return kga_err_set(err, KGA_EIO, "%s: cannot create: %s", buf,
                               strerror(errno));
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return kga_err_set(err, KGA_EIO, "%s: not a directory", path);
    return 0;
}

static int out_path(const kga_import_params_t *p, const char *name,
                    char *buf, size_t cap, kga_err_t *err)
{
    int n = snprintf(buf, cap, "%s/%s", p->out_dir, name);
    if (n < 0 || (size_t)n >= cap)
        return kga_err_set(err, KGA_ELIMIT, "%s/%s: path too long",
                           p->out_dir, name);
    return 0;
}

/* Names and types into the builder, then the store: one side's thread. */
static int write_side_job(kga_import_ctx_t *ctx, void *arg, int side)
{
    (void)arg;
    static const char *const store_names[2] = {"left.kgs", "right.kgs"};
    kga_err_t *err = kga_import_err(ctx, side);
    char path[4096];
    int rc = finish_side(ctx, side, &ctx->summary->side[side]);
    if (rc == 0)
        rc = out_path(ctx->p, store_names[side], path, sizeof path, err);
    if (rc == 0)
        rc = kga_store_write(ctx->side[side].b, path, err);
    return rc;
}

static int write_outputs(kga_import_ctx_t *ctx, kga_links_t *sets[OUT_COUNT])
{
    static const char *const link_names[3] = {
        "train_links.tsv", "valid_links.tsv", "test_links.tsv"};
    char path[4096];
    int rc = make_dirs(ctx->p->out_dir, ctx->err);
    if (rc != 0)
        return rc;
    kga_progress_report(ctx->progress, PROGRESS_WRITING, 0, 2);
    rc = run_sides(ctx, write_side_job, NULL, 0);
    kga_progress_report(ctx->progress, PROGRESS_WRITING, 2, 2);
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = out_path(ctx->p, link_names[i], path, sizeof path, ctx->err);
        if (rc == 0)
            rc = kga_links_write(path, sets[i], ctx->err);
    }
    return rc;
}

/* ---- the import ---- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int check_params(const kga_import_params_t *p, kga_err_t *err)
{
    if (p->format != KGA_IMPORT_OPENEA && p->format != KGA_IMPORT_DBP15K)
        return kga_err_set(err, KGA_EINVAL,
                           "import: format must be openea or dbp15k");
    if (p->src_dir == NULL || p->src_dir[0] == '\0' || p->out_dir == NULL ||
        p->out_dir[0] == '\0')
        return kga_err_set(err, KGA_EINVAL,
                           "import: source and output directories needed");
    if (p->fold < 1)
        return kga_err_set(err, KGA_EINVAL, "import: fold must be 1 or more");
    if (!(p->valid_fraction >= 0.0 && p->valid_fraction < 1.0))
        return kga_err_set(err, KGA_EINVAL,
                           "import: valid fraction must be in [0, 1), not %g",
                           p->valid_fraction);
    struct stat st;
    if (stat(p->src_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return kga_err_set(err, KGA_ENOENT, "%s: no such directory",
                           p->src_dir);
    return 0;
}

/* Total size of the files of both layouts under SRC, for the progress line;
 * an estimate is enough (the fold files are left out). */
static uint64_t estimate_input(kga_import_ctx_t *ctx)
{
    static const char *const names[] = {
        "rel_triples_1", "rel_triples_2", "attr_triples_1", "attr_triples_2",
        "ent_links", "ent_ids_1", "ent_ids_2", "rel_ids_1", "rel_ids_2",
        "triples_1", "triples_2", "sup_pairs", "ref_pairs", "ref_ent_ids",
        "training_attrs_1", "training_attrs_2"};
    char path[4096];
    uint64_t total = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (kga_import_path(ctx, names[i], path, sizeof path) == 0)
            total += file_size(path);
    return total;
}

/* The used file slots into the summary, in slot order. */
static void fill_file_stats(kga_import_ctx_t *ctx)
{
    kga_import_summary_t *s = ctx->summary;
    s->file_count = 0;
    s->skipped_lines = 0;
    s->bytes_read = 0;
    for (unsigned i = 0; i < KGA_IMPORT_MAX_FILES; i++) {
        if (!ctx->files[i].used)
            continue;
        s->files[s->file_count++] = ctx->files[i].stats;
        s->skipped_lines += ctx->files[i].stats.skipped;
        s->bytes_read += ctx->files[i].bytes;
    }
}

static int ctx_init(kga_import_ctx_t *ctx)
{
    int ok = pthread_mutex_init(&ctx->lock, NULL) == 0;
    ok &= pthread_cond_init(&ctx->done_cond, NULL) == 0;
    for (int side = 0; side < 2; side++) {
        ctx->side[side].b = kga_builder_new();
        ctx->side[side].scratch = malloc(KGA_LINE_MAX + 1);
        ok &= ctx->side[side].b != NULL && ctx->side[side].scratch != NULL;
    }
    ctx->links = kga_links_new("import");
    return ok && ctx->links != NULL ? 0 : KGA_ENOMEM;
}

static void ctx_free(kga_import_ctx_t *ctx)
{
    for (int side = 0; side < 2; side++) {
        side_t *s = &ctx->side[side];
        kga_builder_free(s->b);
        free(s->label_rank);
        free(s->type);
        free(s->scratch);
        types_free(&s->types);
        arena_free(s->arena);
    }
    arena_free(ctx->arena);
    kga_links_free(ctx->links);
    free(ctx->link_ent[0]);
    free(ctx->link_ent[1]);
    pthread_mutex_destroy(&ctx->lock);
    pthread_cond_destroy(&ctx->done_cond);
}

int kga_import_run(const kga_import_params_t *p,
                   kga_import_summary_t *summary,
                   const kga_progress_t *progress, kga_err_t *err)
{
    double start = now_seconds();
    kga_import_summary_t local;
    if (summary == NULL)
        summary = &local;
    memset(summary, 0, sizeof *summary);
    kga_err_clear(err);
    int rc = check_params(p, err);
    if (rc != 0)
        return rc;

    const kga_import_reader_t *reader = p->format == KGA_IMPORT_OPENEA
                                            ? &kga_import_openea_reader
                                            : &kga_import_dbp15k_reader;
    kga_import_ctx_t *ctx = calloc(1, sizeof *ctx);
    void *state = calloc(1, reader->state_size ? reader->state_size : 1);
    kga_links_t *sets[OUT_COUNT] = {NULL};
    int sets_ok = 1;
    for (int i = 0; i < OUT_COUNT; i++) {
        sets[i] = kga_links_new("import");
        sets_ok &= sets[i] != NULL;
    }
    if (ctx == NULL || state == NULL || !sets_ok) {
        rc = kga_err_set(err, KGA_ENOMEM, "import: out of memory");
        goto out;
    }
    ctx->p = p;
    ctx->summary = summary;
    ctx->progress = progress;
    ctx->err = err;
    rc = ctx_init(ctx);
    if (rc != 0) {
        kga_err_set(err, rc, "import: out of memory");
        goto out;
    }
    ctx->bytes_total = estimate_input(ctx);

    rc = reader->check(ctx, state);
    if (rc == 0) {
        read_job_t job = {reader, state};
        rc = run_sides(ctx, read_side_job, &job, 1);
    }
    if (rc == 0)
        rc = reader->read_links(ctx, state);
    if (rc == 0)
        rc = finish_links(ctx, sets);
    if (rc == 0)
        rc = write_outputs(ctx, sets);
    fill_file_stats(ctx);
out:
    for (int i = 0; i < OUT_COUNT; i++)
        kga_links_free(sets[i]);
    if (reader->release != NULL && state != NULL)
        reader->release(state);
    free(state);
    if (ctx != NULL) {
        ctx_free(ctx);
        free(ctx);
    }
    summary->seconds = now_seconds() - start;
    return rc;
}
