/* The immutable, reference-counted snapshot the service answers from (see
 * snapshot.h): an opened aligner, its version and load time. Separate from
 * server.c so that the lifetime rule, the last unref closes the aligner,
 * lives in one small file that any thread may call. */
#include "snapshot.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "base/hash.h"

struct kga_snapshot {
    atomic_uint refs;
    atomic_int stale; /* its files changed on disk: no longer served */
    kga_aligner_t *aligner;
    uint64_t version;
    double loaded_at;
    double load_seconds;
};

static double seconds_of(const struct timespec *ts)
{
    return (double)ts->tv_sec + (double)ts->tv_nsec * 1e-9;
}

int kga_snapshot_open(const kga_snapshot_source_t *src, uint64_t version,
                      kga_snapshot_t **out, kga_err_t *err)
{
    *out = NULL;
    kga_err_clear(err);
    struct timespec t0, t1, wall;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    kga_snapshot_t *s = calloc(1, sizeof *s);
    if (s == NULL)
        return kga_err_set(err, KGA_ENOMEM, "snapshot: out of memory");
    kga_aligner_options_t opts = {.threads = src->threads,
                                  .threshold = src->threshold,
                                  .right_queries = 1};
    /* kga_aligner_open validates the stores (checksums, invariants) and
     * refuses a model trained on other stores (KGA_EMISMATCH). */
    int rc = kga_aligner_open(src->left_store, src->right_store, src->model,
                              &opts, &s->aligner, err);
    if (rc != 0) {
        free(s);
        return rc;
    }
    /* The files were mapped before they were validated: one rewritten in
     * place meanwhile is not the file that was checked. */
    rc = kga_aligner_check_files(s->aligner, err);
    if (rc != 0) {
        kga_aligner_close(s->aligner);
        free(s);
        return rc;
    }
    const char *mv = kga_aligner_model_version(s->aligner);
    if (mv == NULL || mv[0] == '\0') {
        kga_aligner_close(s->aligner);
        free(s);
        return kga_err_set(err, KGA_EFORMAT, "%s: the model has no version",
                           src->model);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_REALTIME, &wall);
    atomic_init(&s->refs, 1);
    atomic_init(&s->stale, 0);
    s->version = version;
    s->loaded_at = seconds_of(&wall);
    s->load_seconds = seconds_of(&t1) - seconds_of(&t0);
    *out = s;
    return 0;
}

kga_snapshot_t *kga_snapshot_ref(kga_snapshot_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void kga_snapshot_unref(kga_snapshot_t *s)
{
    if (s == NULL)
        return;
    /* Release so that every use happens before the close, acquire so that
     * the closing thread sees them (in the one operation rather than with
     * a separate fence, which ThreadSanitizer cannot follow). */
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    kga_aligner_close(s->aligner);
    free(s);
}

int kga_snapshot_check_files(const kga_snapshot_t *s, kga_err_t *err)
{
    return kga_aligner_check_files(s->aligner, err);
}

int kga_snapshot_mark_stale(kga_snapshot_t *s)
{
    return atomic_exchange_explicit(&s->stale, 1, memory_order_relaxed) == 0;
}

int kga_snapshot_stale(const kga_snapshot_t *s)
{
    return atomic_load_explicit(&((kga_snapshot_t *)s)->stale,
                                memory_order_relaxed);
}

/* One path's identity and state, into the signature. A missing file
 * counts as its error number. */
static void sign_path(kga_hash64_state_t *h, const char *path)
{
    struct stat st;
    int64_t v[5] = {0};
    if (stat(path, &st) == 0) {
        v[0] = (int64_t)st.st_dev;
        v[1] = (int64_t)st.st_ino;
        v[2] = (int64_t)st.st_size;
        v[3] = (int64_t)st.st_mtim.tv_sec;
        v[4] = (int64_t)st.st_mtim.tv_nsec;
    } else {
        v[0] = -(int64_t)errno;
    }
    kga_hash64_update(h, v, sizeof v);
}

uint64_t kga_snapshot_source_signature(const kga_snapshot_source_t *src)
{
    kga_hash64_state_t h;
    kga_hash64_init(&h);
    sign_path(&h, src->left_store);
    sign_path(&h, src->right_store);
    sign_path(&h, src->model);
    return kga_hash64_digest(&h);
}

const kga_aligner_t *kga_snapshot_aligner(const kga_snapshot_t *s)
{
    return s->aligner;
}

uint64_t kga_snapshot_version(const kga_snapshot_t *s)
{
    return s->version;
}

const char *kga_snapshot_model_version(const kga_snapshot_t *s)
{
    return kga_aligner_model_version(s->aligner);
}

double kga_snapshot_loaded_at(const kga_snapshot_t *s)
{
    return s->loaded_at;
}

double kga_snapshot_load_seconds(const kga_snapshot_t *s)
{
    return s->load_seconds;
}
