/* Running an import: parameters, the string arenas, the two graphs read
 * and written on two threads, the links phase between, and writing
 * OUT_DIR. The input files are import_files.c, the graphs import_graph.c,
 * the links import_links.c (what they share is import_internal.h); the
 * layouts are read by import_openea.c, import_dbp15k.c, import_records.c
 * and import_ntriples.c through the functions declared at the end of
 * import.h.
 *
 * The two graphs are independent until the links join them, so each is read
 * (and later written) on its own thread; the links are read on the calling
 * thread once both graphs are complete. Nothing a thread does depends on
 * the other one's progress, so the result is the same as a serial run: when
 * both sides fail, the left side's error is the one reported. */
#include "import/import_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "store/store.h"

#define PROGRESS_WRITING "import: writing the graph stores"

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
    else if (strcmp(name, "records") == 0)
        *out = KGA_IMPORT_RECORDS;
    else if (strcmp(name, "ntriples") == 0)
        *out = KGA_IMPORT_NTRIPLES;
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
    case KGA_IMPORT_RECORDS:
        return "records";
    case KGA_IMPORT_NTRIPLES:
        return "ntriples";
    }
    return "unknown";
}

const kga_import_params_t *kga_import_params(const kga_import_ctx_t *ctx)
{
    return ctx->p;
}

kga_import_summary_t *kga_import_summary(kga_import_ctx_t *ctx)
{
    return ctx->summary;
}

int kga_import_add_name_predicate(kga_import_ctx_t *ctx, const char *key)
{
    if (ctx->n_name_predicates > KGA_IMPORT_MAX_NAME_PREDICATES)
        return kga_err_set(ctx->err, KGA_ELIMIT,
                           "import: more than %u name predicates",
                           KGA_IMPORT_MAX_NAME_PREDICATES);
    const char *copy = kga_import_strdup(ctx, -1, key);
    if (copy == NULL)
        return kga_err_set(ctx->err, KGA_ENOMEM, "import: out of memory");
    ctx->name_predicates[ctx->n_name_predicates++] = copy;
    return 0;
}

kga_err_t *kga_import_err(kga_import_ctx_t *ctx, int side)
{
    return side >= 0 && ctx->threaded ? &ctx->side[side].err : ctx->err;
}

/* ---- arenas ---- */

const char *kga_import_strdup(kga_import_ctx_t *ctx, int side, const char *s)
{
    return kga_arena_strdup(side >= 0 ? &ctx->side[side].arena : &ctx->arena,
                            s);
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
            kga_import_report_progress(ctx, 0);
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
    int rc = kga_import_finish_side(ctx, side, &ctx->summary->side[side]);
    if (rc == 0)
        rc = out_path(ctx->p, store_names[side], path, sizeof path, err);
    if (rc == 0)
        rc = kga_store_write(ctx->side[side].b, path, err);
    return rc;
}

static int write_outputs(kga_import_ctx_t *ctx, kga_links_t *sets[OUT_COUNT],
                         kga_links_t *rows[3])
{
    static const char *const link_names[3] = {
        "train_links.tsv", "valid_links.tsv", "test_links.tsv"};
    static const char *const pair_names[3] = {
        "train_pairs.tsv", "valid_pairs.tsv", "test_pairs.tsv"};
    char path[4096];
    int rc = make_dirs(ctx->p->out_dir, ctx->err);
    if (rc != 0)
        return rc;
    kga_progress_report(ctx->progress, PROGRESS_WRITING, "stores", 0, 2);
    rc = run_sides(ctx, write_side_job, NULL, 0);
    kga_progress_report(ctx->progress, PROGRESS_WRITING, "stores", 2, 2);
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = out_path(ctx->p, link_names[i], path, sizeof path, ctx->err);
        if (rc == 0)
            rc = kga_links_write(path, sets[i], ctx->err);
    }
    /* A split without labelled pairs must not keep the pairs file of an
     * earlier import into the same directory: evaluation would read it. */
    for (int i = 0; i < 3 && rc == 0; i++) {
        rc = out_path(ctx->p, pair_names[i], path, sizeof path, ctx->err);
        if (rc == 0 && kga_links_count(rows[i]) > 0)
            rc = kga_links_write_labelled(path, rows[i], ctx->err);
        else if (rc == 0 && unlink(path) != 0 && errno != ENOENT)
            rc = kga_err_set(ctx->err, KGA_EIO, "%s: cannot remove: %s",
                             path, strerror(errno));
    }
    return rc;
}

/* ---- the import ---- */

static int check_params(const kga_import_params_t *p, kga_err_t *err)
{
    if (p->format != KGA_IMPORT_OPENEA && p->format != KGA_IMPORT_DBP15K &&
        p->format != KGA_IMPORT_RECORDS && p->format != KGA_IMPORT_NTRIPLES)
        return kga_err_set(err, KGA_EINVAL,
                           "import: format must be openea, dbp15k, records "
                           "or ntriples");
    if (p->n_name_predicates > KGA_IMPORT_MAX_NAME_PREDICATES)
        return kga_err_set(err, KGA_EINVAL,
                           "import: at most %u name predicates",
                           KGA_IMPORT_MAX_NAME_PREDICATES);
    for (unsigned i = 0; i < p->n_name_predicates; i++)
        if (p->name_predicates[i] == NULL || p->name_predicates[i][0] == '\0')
            return kga_err_set(err, KGA_EINVAL,
                               "import: an empty name predicate");
    if ((p->name_column != NULL || p->entity_columns != NULL) &&
        p->format != KGA_IMPORT_RECORDS)
        return kga_err_set(err, KGA_EINVAL,
                           "import: name and entity columns are for the "
                           "records format (--name-predicate names the "
                           "name attribute of the others)");
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

static int ctx_init(kga_import_ctx_t *ctx)
{
    int ok = pthread_mutex_init(&ctx->lock, NULL) == 0;
    ok &= pthread_cond_init(&ctx->done_cond, NULL) == 0;
    kga_arena_init(&ctx->arena, 0);
    for (int side = 0; side < 2; side++) {
        kga_arena_init(&ctx->side[side].arena, 0);
        ctx->side[side].b = kga_graph_builder_new();
        ctx->side[side].scratch = malloc(KGA_LINE_MAX + 1);
        ok &= ctx->side[side].b != NULL && ctx->side[side].scratch != NULL;
    }
    ctx->links = kga_links_new("import");
    ctx->rows = kga_links_new("import");
    return ok && ctx->links != NULL && ctx->rows != NULL ? 0 : KGA_ENOMEM;
}

static void ctx_free(kga_import_ctx_t *ctx)
{
    for (int side = 0; side < 2; side++) {
        side_t *s = &ctx->side[side];
        kga_graph_builder_free(s->b);
        free(s->label_rank);
        free(s->type);
        free(s->name_key);
        free(s->scratch);
        kga_intern_destroy(&s->types);
        kga_intern_destroy(&s->name_keys);
        kga_arena_destroy(&s->arena);
    }
    kga_arena_destroy(&ctx->arena);
    kga_links_free(ctx->links);
    kga_links_free(ctx->rows);
    free(ctx->link_ent[0]);
    free(ctx->link_ent[1]);
    pthread_mutex_destroy(&ctx->lock);
    pthread_cond_destroy(&ctx->done_cond);
}

int kga_import_run(const kga_import_params_t *p,
                   kga_import_summary_t *summary,
                   const kga_progress_t *progress, kga_err_t *err)
{
    double start = kga_clock_seconds();
    kga_import_summary_t local;
    if (summary == NULL)
        summary = &local;
    memset(summary, 0, sizeof *summary);
    kga_err_clear(err);
    int rc = check_params(p, err);
    if (rc != 0)
        return rc;

    const kga_import_reader_t *reader =
        p->format == KGA_IMPORT_OPENEA    ? &kga_import_openea_reader
        : p->format == KGA_IMPORT_DBP15K  ? &kga_import_dbp15k_reader
        : p->format == KGA_IMPORT_RECORDS ? &kga_import_records_reader
                                          : &kga_import_ntriples_reader;
    kga_import_ctx_t *ctx = calloc(1, sizeof *ctx);
    void *state = calloc(1, reader->state_size ? reader->state_size : 1);
    kga_links_t *sets[OUT_COUNT] = {NULL}, *rows[3] = {NULL};
    int sets_ok = 1;
    for (int i = 0; i < OUT_COUNT; i++) {
        sets[i] = kga_links_new("import");
        sets_ok &= sets[i] != NULL;
    }
    for (int i = 0; i < 3; i++) {
        rows[i] = kga_links_new("import");
        sets_ok &= rows[i] != NULL;
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
    ctx->bytes_total = kga_import_estimate_input(ctx);
    for (unsigned i = 0; i < p->n_name_predicates; i++)
        ctx->name_predicates[ctx->n_name_predicates++] =
            p->name_predicates[i];

    rc = reader->check(ctx, state);
    if (rc == 0) {
        read_job_t job = {reader, state};
        rc = run_sides(ctx, read_side_job, &job, 1);
    }
    if (rc == 0)
        rc = reader->read_links(ctx, state);
    if (rc == 0)
        rc = kga_import_finish_links(ctx, sets, rows);
    if (rc == 0)
        rc = write_outputs(ctx, sets, rows);
    kga_import_fill_file_stats(ctx);
out:
    for (int i = 0; i < OUT_COUNT; i++)
        kga_links_free(sets[i]);
    for (int i = 0; i < 3; i++)
        kga_links_free(rows[i]);
    if (reader->release != NULL && state != NULL)
        reader->release(state);
    free(state);
    if (ctx != NULL) {
        ctx_free(ctx);
        free(ctx);
    }
    summary->seconds = kga_clock_seconds() - start;
    return rc;
}
