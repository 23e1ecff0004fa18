#ifndef KGA_SERVER_SNAPSHOT_H
#define KGA_SERVER_SNAPSHOT_H

#include <stdint.h>

#include "align/aligner.h"
#include "base/error.h"

/* What the service answers from: the two graph stores and the model, opened
 * and fully validated as one kga_aligner_t, with a version number and its
 * load time. A snapshot is immutable and reference-counted: the server holds
 * one reference to the current snapshot, each request pins the snapshot it
 * started with, and a reload swaps the server's pointer, so a request never
 * sees two models and the old snapshot is closed when its last request
 * ends. ref/unref are atomic and may be called from any thread.
 *
 * The files are memory-mapped: one rewritten in place (not replaced by
 * rename) is no longer what was validated, and a truncated one faults when
 * read. A snapshot whose files changed is marked stale and not served
 * again (reload.c loads the files anew). */

typedef struct kga_snapshot kga_snapshot_t;

typedef struct {
    const char *left_store;
    const char *right_store;
    const char *model;
    int threads;     /* for the work done at open (0 = all cores) */
    float threshold; /* < 0 = the model's default */
} kga_snapshot_source_t;

/* Opens the source as snapshot number `version`, with one reference owned
 * by the caller. On failure *out is NULL and err names the file and what
 * was wrong. Runs for as long as opening the aligner takes: call it off the
 * event loop. */
int kga_snapshot_open(const kga_snapshot_source_t *src, uint64_t version,
                      kga_snapshot_t **out, kga_err_t *err);

/* Adds a reference; returns s. */
kga_snapshot_t *kga_snapshot_ref(kga_snapshot_t *s);
/* Drops a reference; the last one closes the aligner. NULL is ignored. */
void kga_snapshot_unref(kga_snapshot_t *s);

/* Whether the mapped stores and model are as they were when loaded
 * (kga_aligner_check_files): 0, or KGA_ECHANGED naming the file. Any
 * thread. */
int kga_snapshot_check_files(const kga_snapshot_t *s, kga_err_t *err);
/* Marks s as not to be served any more (its files changed on disk).
 * Returns 1 for the call that marked it, 0 when it already was. Any
 * thread. */
int kga_snapshot_mark_stale(kga_snapshot_t *s);
int kga_snapshot_stale(const kga_snapshot_t *s);

/* A fingerprint of what the source's three paths name now (device, inode,
 * size, modification time of each): equal while nothing was written or
 * renamed there. */
uint64_t kga_snapshot_source_signature(const kga_snapshot_source_t *src);

const kga_aligner_t *kga_snapshot_aligner(const kga_snapshot_t *s);
/* 1 for the first snapshot of the process, then +1 per successful load. */
uint64_t kga_snapshot_version(const kga_snapshot_t *s);
/* The model's identity (kga_aligner_model_version). */
const char *kga_snapshot_model_version(const kga_snapshot_t *s);
/* Wall-clock time the load finished (Unix seconds) and how long it took. */
double kga_snapshot_loaded_at(const kga_snapshot_t *s);
double kga_snapshot_load_seconds(const kga_snapshot_t *s);

#endif
