/* A data directory as `kgalign import` writes it (see dataset.h): the two
 * stores and the links of the splits asked for, resolved to internal ids.
 * Training, evaluation and the benchmarks open data this one way, and
 * training cannot read the test links, since it never asks for them. */
#include "store/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/links.h"

static const char *const split_files[KGA_SPLIT_COUNT] = {
    "train_links.tsv", "valid_links.tsv", "test_links.tsv"};
static const char *const split_names[KGA_SPLIT_COUNT] = {"train", "valid",
                                                         "test"};
static const char *const pair_files[KGA_SPLIT_COUNT] = {
    "train_pairs.tsv", "valid_pairs.tsv", "test_pairs.tsv"};

const char *kga_split_pairs_file(kga_split_t s)
{
    return pair_files[s];
}

const char *kga_split_file(kga_split_t s)
{
    return split_files[s];
}

const char *kga_split_name(kga_split_t s)
{
    return split_names[s];
}

int kga_split_parse(const char *name, kga_split_t *out)
{
    for (int s = 0; s < KGA_SPLIT_COUNT; s++)
        if (strcmp(name, split_names[s]) == 0) {
            *out = (kga_split_t)s;
            return 0;
        }
    return KGA_EINVAL;
}

void kga_pairs_destroy(kga_pairs_t *p)
{
    free(p->left);
    free(p->right);
    memset(p, 0, sizeof *p);
}

/* The links of path (labelled rows when `labelled`) resolved against the
 * stores into *out; their rows go to *rows for the caller to free (the
 * labels are their tags). On failure both are left empty. */
static int read_resolved(const char *path, int labelled,
                         const kga_store_t *left, const kga_store_t *right,
                         kga_pairs_t *out, kga_links_t **rows, kga_err_t *err)
{
    memset(out, 0, sizeof *out);
    *rows = NULL;
    int rc = labelled ? kga_links_read_labelled(path, rows, err)
                      : kga_links_read(path, rows, err);
    if (rc != 0)
        return rc;
    size_t n = kga_links_count(*rows);
    out->left = malloc((n ? n : 1) * sizeof *out->left);
    out->right = malloc((n ? n : 1) * sizeof *out->right);
    if (out->left == NULL || out->right == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    rc = kga_links_resolve(*rows, left, right, out->left, out->right, err);
    if (rc != 0)
        goto fail;
    out->count = n;
    return 0;
fail:
    kga_links_free(*rows);
    *rows = NULL;
    kga_pairs_destroy(out);
    return rc;
}

int kga_pairs_read(const char *path, const kga_store_t *left,
                   const kga_store_t *right, kga_pairs_t *out,
                   kga_err_t *err)
{
    kga_links_t *rows;
    int rc = read_resolved(path, 0, left, right, out, &rows, err);
    kga_links_free(rows);
    return rc;
}

void kga_labelled_destroy(kga_labelled_t *p)
{
    free(p->left);
    free(p->right);
    free(p->label);
    memset(p, 0, sizeof *p);
}

int kga_labelled_read(const char *path, const kga_store_t *left,
                      const kga_store_t *right, kga_labelled_t *out,
                      kga_err_t *err)
{
    memset(out, 0, sizeof *out);
    kga_pairs_t pairs;
    kga_links_t *rows;
    int rc = read_resolved(path, 1, left, right, &pairs, &rows, err);
    if (rc != 0)
        return rc;
    uint8_t *label = malloc(pairs.count ? pairs.count : 1);
    if (label == NULL) {
        rc = kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
        kga_pairs_destroy(&pairs);
    } else {
        for (size_t i = 0; i < pairs.count; i++)
            label[i] = (uint8_t)kga_links_items(rows)[i].tag;
        *out = (kga_labelled_t){pairs.count, pairs.left, pairs.right, label};
    }
    kga_links_free(rows);
    return rc;
}

const char *kga_dataset_store_file(int side)
{
    return side == 0 ? "left.kgs" : "right.kgs";
}

static int open_store(kga_dataset_t *ds, int side, kga_err_t *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ds->dir,
             kga_dataset_store_file(side));
    return kga_store_open(path, &ds->store[side], err);
}

int kga_dataset_open(kga_dataset_t *ds, const char *dir, unsigned splits,
                     kga_err_t *err)
{
    memset(ds, 0, sizeof *ds);
    if (strlen(dir) > 3000)
        return kga_err_set(err, KGA_EINVAL, "%.64s...: path too long", dir);
    ds->dir = strdup(dir);
    if (ds->dir == NULL)
        return kga_err_set(err, KGA_ENOMEM, "out of memory");
    int rc;
    for (int side = 0; side < 2; side++)
        if ((rc = open_store(ds, side, err)) != 0)
            goto fail;
    for (int s = 0; s < KGA_SPLIT_COUNT; s++) {
        if (!(splits & KGA_SPLIT_BIT(s)))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, split_files[s]);
        rc = kga_pairs_read(path, ds->store[0], ds->store[1], &ds->split[s],
                            err);
        if (rc != 0)
            goto fail;
        ds->loaded |= KGA_SPLIT_BIT(s);
        snprintf(path, sizeof path, "%s/%s", dir, pair_files[s]);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        rc = kga_labelled_read(path, ds->store[0], ds->store[1],
                               &ds->labelled[s], err);
        if (rc != 0)
            goto fail;
        ds->labelled_loaded |= KGA_SPLIT_BIT(s);
    }
    return 0;
fail:
    kga_dataset_close(ds);
    return rc;
}

void kga_dataset_close(kga_dataset_t *ds)
{
    for (int s = 0; s < KGA_SPLIT_COUNT; s++) {
        kga_pairs_destroy(&ds->split[s]);
        kga_labelled_destroy(&ds->labelled[s]);
    }
    for (int side = 0; side < 2; side++)
        kga_store_close(ds->store[side]);
    free(ds->dir);
    memset(ds, 0, sizeof *ds);
}
