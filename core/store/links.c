/* Link sets (see links.h): reading, canonical writing, the one-to-one
 * check and resolution against two stores. The ids live in a string arena
 * of the set; a file is written whole or not at all (base/atomic_file.h). */
#include "store/links.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/atomic_file.h"
#include "base/grow.h"
#include "base/line_reader.h"

#define LINKS_ARENA_CHUNK (256u << 10)

struct kga_links {
    kga_link_t *items;
    size_t count, cap;
    kga_arena_t strings; /* the ids of the links */
    char *source;
};

kga_links_t *kga_links_new(const char *source)
{
    kga_links_t *l = calloc(1, sizeof *l);
    if (l == NULL)
        return NULL;
    l->source = strdup(source != NULL ? source : "");
    if (l->source == NULL) {
        free(l);
        return NULL;
    }
    kga_arena_init(&l->strings, LINKS_ARENA_CHUNK);
    return l;
}

void kga_links_free(kga_links_t *l)
{
    if (l == NULL)
        return;
    kga_arena_destroy(&l->strings);
    free(l->items);
    free(l->source);
    free(l);
}

static int valid_id(const char *s)
{
    return s[0] != '\0' && strpbrk(s, "\t\r\n") == NULL;
}

int kga_links_add(kga_links_t *l, const char *left, const char *right,
                  uint64_t line, uint32_t tag)
{
    if (!valid_id(left) || !valid_id(right))
        return KGA_EINVAL;
    int grown = kga_grow(&l->items, &l->cap, l->count + 1, 256,
                         sizeof *l->items);
    if (grown != 0)
        return grown;
    const char *lc = kga_arena_strdup(&l->strings, left);
    const char *rc = lc ? kga_arena_strdup(&l->strings, right) : NULL;
    if (rc == NULL)
        return KGA_ENOMEM;
    l->items[l->count++] = (kga_link_t){lc, rc, line, tag};
    return 0;
}

size_t kga_links_count(const kga_links_t *l)
{
    return l->count;
}

const kga_link_t *kga_links_items(const kga_links_t *l)
{
    return l->items;
}

const char *kga_links_source(const kga_links_t *l)
{
    return l->source;
}

int kga_link_compare(const kga_link_t *a, const kga_link_t *b)
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

static int link_cmp(const void *a, const void *b)
{
    return kga_link_compare(a, b);
}

static int is_sorted(const kga_links_t *l)
{
    for (size_t i = 1; i < l->count; i++)
        if (kga_link_compare(&l->items[i - 1], &l->items[i]) > 0)
            return 0;
    return 1;
}

void kga_links_sort(kga_links_t *l)
{
    if (!is_sorted(l))
        qsort(l->items, l->count, sizeof *l->items, link_cmp);
}

static int ptr_cmp_left(const void *pa, const void *pb)
{
    const kga_link_t *a = *(const kga_link_t *const *)pa;
    const kga_link_t *b = *(const kga_link_t *const *)pb;
    return kga_link_compare(a, b);
}

static int ptr_cmp_right(const void *pa, const void *pb)
{
    const kga_link_t *a = *(const kga_link_t *const *)pa;
    const kga_link_t *b = *(const kga_link_t *const *)pb;
    int c = strcmp(a->right, b->right);
    return c != 0 ? c : kga_link_compare(a, b);
}

/* An array of pointers to the links in canonical order; NULL on ENOMEM. */
static const kga_link_t **sorted_view(const kga_links_t *l,
                                      int (*cmp)(const void *, const void *))
{
    const kga_link_t **v = malloc((l->count ? l->count : 1) * sizeof *v);
    if (v == NULL)
        return NULL;
    int sorted = 1;
    for (size_t i = 0; i < l->count; i++) {
        v[i] = &l->items[i];
        if (i > 0 && sorted && cmp(&v[i - 1], &v[i]) > 0)
            sorted = 0;
    }
    if (!sorted)
        qsort(v, l->count, sizeof *v, cmp);
    return v;
}

int kga_links_check_one_to_one(const kga_links_t *l, kga_err_t *err)
{
    for (int side = 0; side < 2; side++) {
        const kga_link_t **v =
            sorted_view(l, side == 0 ? ptr_cmp_left : ptr_cmp_right);
        if (v == NULL)
            return kga_err_set(err, KGA_ENOMEM, "%s: out of memory",
                               l->source);
        for (size_t i = 1; i < l->count; i++) {
            const char *a = side == 0 ? v[i - 1]->left : v[i - 1]->right;
            const char *b = side == 0 ? v[i]->left : v[i]->right;
            if (strcmp(a, b) != 0)
                continue;
            int rc = kga_err_set(
                err, KGA_EDUPLICATE,
                "%s:%llu: %s id '%s' is linked twice (also at line %llu)",
                l->source, (unsigned long long)v[i]->line,
                side == 0 ? "left" : "right", b,
                (unsigned long long)v[i - 1]->line);
            free(v);
            return rc;
        }
        free(v);
    }
    return 0;
}

/* Reads path: `fields` (2 or 3) tab-separated fields a line, the third a
 * label 0 or 1 into the tag. */
static int read_file(const char *path, size_t fields, kga_links_t **out,
                     kga_err_t *err)
{
    *out = NULL;
    kga_line_reader_t *r = NULL;
    kga_links_t *l = kga_links_new(path);
    if (l == NULL)
        return kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
    int rc = kga_line_reader_open(path, &r, err);
    if (rc != 0)
        goto fail;
    char *line;
    size_t len;
    while ((rc = kga_line_reader_next(r, &line, &len, err)) == 1) {
        if (len == 0)
            continue;
        char *f[3];
        size_t n = kga_split_tabs(line, len, f, 3);
        unsigned long long line_no = kga_line_reader_line_no(r);
        if (n != fields) {
            rc = kga_err_set(err, KGA_EPARSE,
                             "%s:%llu: expected %zu tab-separated fields, "
                             "found %zu", path, line_no, fields, n);
            goto fail;
        }
        for (size_t i = 0; i < fields; i++)
            if (f[i][0] == '\0') {
                rc = kga_err_set(err, KGA_EPARSE, "%s:%llu: empty field %zu",
                                 path, line_no, i + 1);
                goto fail;
            }
        uint32_t label = 0;
        if (fields == 3) {
            if ((f[2][0] != '0' && f[2][0] != '1') || f[2][1] != '\0') {
                rc = kga_err_set(err, KGA_EPARSE,
                                 "%s:%llu: field 3: label '%.40s' is not 0 "
                                 "or 1", path, line_no, f[2]);
                goto fail;
            }
            label = (uint32_t)(f[2][0] - '0');
        }
        rc = kga_links_add(l, f[0], f[1], line_no, label);
        if (rc != 0) {
            kga_err_set(err, rc, "%s:%llu: %s", path, line_no,
                        kga_strerror(rc));
            goto fail;
        }
    }
    if (rc < 0)
        goto fail;
    if (fields == 2 && (rc = kga_links_check_one_to_one(l, err)) != 0)
        goto fail;
    kga_line_reader_close(r);
    *out = l;
    return 0;
fail:
    kga_line_reader_close(r);
    kga_links_free(l);
    return rc;
}

int kga_links_read(const char *path, kga_links_t **out, kga_err_t *err)
{
    return read_file(path, 2, out, err);
}

int kga_links_read_labelled(const char *path, kga_links_t **out,
                            kga_err_t *err)
{
    return read_file(path, 3, out, err);
}

static int write_file(const char *path, const kga_links_t *l, int labels,
                      kga_err_t *err)
{
    const kga_link_t **v = sorted_view(l, ptr_cmp_left);
    if (v == NULL)
        return kga_err_set(err, KGA_ENOMEM, "%s: out of memory", path);
    kga_atomic_file_t file;
    int rc = kga_atomic_file_open(&file, path, KGA_ATOMIC_STREAM, err);
    if (rc == 0) {
        /* A failed print shows in the stream's error flag at commit. */
        FILE *f = file.stream;
        for (size_t i = 0; i < l->count; i++) {
            if (fputs(v[i]->left, f) == EOF || putc('\t', f) == EOF ||
                fputs(v[i]->right, f) == EOF)
                break;
            if (labels && fprintf(f, "\t%u", v[i]->tag != 0) < 0)
                break;
            if (putc('\n', f) == EOF)
                break;
        }
        rc = kga_atomic_file_commit(&file, err);
    }
    free(v);
    return rc;
}

int kga_links_write(const char *path, const kga_links_t *l, kga_err_t *err)
{
    return write_file(path, l, 0, err);
}

int kga_links_write_labelled(const char *path, const kga_links_t *l,
                             kga_err_t *err)
{
    return write_file(path, l, 1, err);
}

int kga_links_resolve(const kga_links_t *l, const kga_store_t *left,
                      const kga_store_t *right, uint32_t *left_ids,
                      uint32_t *right_ids, kga_err_t *err)
{
    for (size_t i = 0; i < l->count; i++) {
        const kga_link_t *k = &l->items[i];
        int64_t a = kga_store_lookup(left, k->left);
        int64_t b = kga_store_lookup(right, k->right);
        if (a < 0 || b < 0)
            return kga_err_set(err, KGA_EUNKNOWN_ID,
                               "%s:%llu: %s id '%s' is not in %s", l->source,
                               (unsigned long long)k->line,
                               a < 0 ? "left" : "right",
                               a < 0 ? k->left : k->right,
                               kga_store_path(a < 0 ? left : right));
        left_ids[i] = (uint32_t)a;
        right_ids[i] = (uint32_t)b;
    }
    return 0;
}
