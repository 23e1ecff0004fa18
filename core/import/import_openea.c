/* The OpenEA layout (Sun et al., VLDB 2020):
 *   rel_triples_{1,2}   head TAB relation TAB tail
 *   attr_triples_{1,2}  entity TAB key TAB literal        (optional)
 *   ent_links           left TAB right: all gold links   (optional)
 *   721_5fold/K/{train,valid,test}_links                  (valid optional)
 * Entities are the ids of the triples, attribute triples and ent_links. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/import.h"

#define LAYOUT_HINT                                                        \
    "the openea layout needs rel_triples_1, rel_triples_2 and "           \
    "721_5fold/K/{train,test}_links"

static int add_triple(kga_import_src_t *src, char **f, long n, void *arg)
{
    (void)n, (void)arg;
    return kga_import_triple(src->ctx, src->side, f[0], f[1], f[2]);
}

static int add_attribute(kga_import_src_t *src, char **f, long n, void *arg)
{
    (void)arg;
    /* The literal is the rest of the line, tabs included. */
    for (long i = 3; i < n; i++)
        f[2][strlen(f[2])] = '\t';
    int rc = kga_import_check_fields(src, n < 3 ? n : 3, f, 3);
    if (rc <= 0)
        return rc;
    uint32_t ent;
    rc = kga_import_entity(src->ctx, src->side, f[0], &ent);
    return rc != 0 ? rc
                   : kga_import_attribute(src->ctx, src->side, ent, f[1], f[2]);
}

/* ent_links lists every gold link; its ids are entities of their graphs
 * even when they occur in no triple. The split comes from the fold. */
static int add_linked_entities(kga_import_src_t *src, char **f, long n,
                               void *arg)
{
    (void)n, (void)arg;
    uint32_t ent;
    int rc = kga_import_entity(src->ctx, 0, f[0], &ent);
    return rc != 0 ? rc : kga_import_entity(src->ctx, 1, f[1], &ent);
}

static int add_link(kga_import_src_t *src, char **f, long n, void *arg)
{
    (void)n, (void)arg;
    return kga_import_link(src, f[0], f[1]);
}

static int read_side_file(kga_import_ctx_t *ctx, int side, const char *stem,
                          int required, int check, kga_import_line_fn fn)
{
    char name[32];
    snprintf(name, sizeof name, "%s_%d", stem, side + 1);
    return kga_import_each(ctx, side, name, required,
                           required ? LAYOUT_HINT : NULL, KGA_IMPORT_SPLIT_NONE,
                           3, check, fn, NULL, NULL);
}

/* The fold directories present under SRC/721_5fold, as " 1 2 3". */
static void list_folds(kga_import_ctx_t *ctx, char *buf, size_t cap)
{
    char path[4096];
    buf[0] = '\0';
    if (kga_import_path(ctx, "721_5fold", path, sizeof path) != 0)
        return;
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    unsigned seen[64];
    size_t count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && count < 64) {
        char *end;
        unsigned long k = strtoul(e->d_name, &end, 10);
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9' && *end == '\0' &&
            k < 1000000)
            seen[count++] = (unsigned)k;
    }
    closedir(d);
    /* Sorted, so the message does not depend on the directory order. */
    for (size_t i = 1; i < count; i++)
        for (size_t j = i; j > 0 && seen[j - 1] > seen[j]; j--) {
            unsigned t = seen[j];
            seen[j] = seen[j - 1];
            seen[j - 1] = t;
        }
    size_t used = 0;
    for (size_t i = 0; i < count && used + 12 < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, " %u", seen[i]);
}

/* Fails early, before reading the large files, when the layout is wrong. */
static int check_layout(kga_import_ctx_t *ctx, const char *fold_dir)
{
    const kga_import_params_t *p = kga_import_params(ctx);
    kga_err_t *err = kga_import_err(ctx, -1);
    char path[4096];
    static const char *const required[] = {"rel_triples_1", "rel_triples_2"};
    for (size_t i = 0; i < 2; i++) {
        if (kga_import_exists(ctx, required[i]))
            continue;
        kga_import_path(ctx, required[i], path, sizeof path);
        if (kga_import_exists(ctx, "ent_ids_1"))
            return kga_err_set(err, KGA_ENOENT,
                               "%s: no such file (%s has ent_ids_1: it looks "
                               "like the dbp15k layout, try --format dbp15k)",
                               path, p->src_dir);
        return kga_err_set(err, KGA_ENOENT, "%s: no such file (%s)", path,
                           LAYOUT_HINT);
    }
    if (kga_import_exists(ctx, fold_dir))
        return 0;
    kga_import_path(ctx, fold_dir, path, sizeof path);
    char folds[256];
    list_folds(ctx, folds, sizeof folds);
    if (folds[0] != '\0')
        return kga_err_set(err, KGA_ENOENT,
                           "%s: no such directory: fold %u is not there "
                           "(folds present:%s)", path, p->fold, folds);
    if (kga_import_exists(ctx, "ent_links"))
        return kga_err_set(err, KGA_ENOENT,
                           "%s: no such directory: ent_links holds the gold "
                           "links but no train/valid/test split, which the "
                           "openea layout keeps in "
                           "721_5fold/K/{train,valid,test}_links",
                           path);
    return kga_err_set(err, KGA_ENOENT,
                       "%s: no such directory (the openea layout keeps the "
                       "links in 721_5fold/K/{train,valid,test}_links)",
                       path);
}

static void fold_dir(const kga_import_ctx_t *ctx, char *buf, size_t cap)
{
    snprintf(buf, cap, "721_5fold/%u", kga_import_params(ctx)->fold);
}

static int openea_check(kga_import_ctx_t *ctx, void *state)
{
    (void)state;
    char dir[64];
    fold_dir(ctx, dir, sizeof dir);
    return check_layout(ctx, dir);
}

static int openea_read_side(kga_import_ctx_t *ctx, void *state, int side)
{
    (void)state;
    int rc = read_side_file(ctx, side, "rel_triples", 1, 1, add_triple);
    return rc != 0 ? rc
                   : read_side_file(ctx, side, "attr_triples", 0, 0,
                                    add_attribute);
}

static int openea_read_links(kga_import_ctx_t *ctx, void *state)
{
    (void)state;
    static const struct {
        const char *file;
        int required;
        kga_import_split_t split;
    } splits[] = {{"train_links", 1, KGA_IMPORT_SPLIT_TRAIN},
                  {"valid_links", 0, KGA_IMPORT_SPLIT_VALID},
                  {"test_links", 1, KGA_IMPORT_SPLIT_TEST}};
    char dir[64], name[128];
    fold_dir(ctx, dir, sizeof dir);
    int rc =
        kga_import_each(ctx, -1, "ent_links", 0, NULL, KGA_IMPORT_SPLIT_NONE, 2,
                        1, add_linked_entities, NULL, NULL);
    for (size_t i = 0; i < 3 && rc == 0; i++) {
        snprintf(name, sizeof name, "%s/%s", dir, splits[i].file);
        rc = kga_import_each(ctx, -1, name, splits[i].required, LAYOUT_HINT,
                             splits[i].split, 2, 1, add_link, NULL, NULL);
    }
    return rc;
}

const kga_import_reader_t kga_import_openea_reader = {
    .state_size = 0,
    .check = openea_check,
    .read_side = openea_read_side,
    .read_links = openea_read_links,
    .release = NULL,
};
