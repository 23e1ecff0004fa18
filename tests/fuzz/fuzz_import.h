/* The shared half of fuzz_import_openea.c, fuzz_import_dbp15k.c,
 * fuzz_import_records.c and fuzz_import_ntriples.c.
 *
 * The importers' line parsers are static and read files, so the harnesses
 * go through the public path: the input describes a source directory, which
 * is written to a scratch directory and imported with kga_import_run().
 *
 * Input format: marker lines "%% NAME" start a file; its content is every
 * byte up to the next marker line (the newline before the marker included)
 * or the end. NAME is one of fuzz_import_names (other names are ignored); a
 * file not named is absent. The marker "%% lenient" turns on lenient mode,
 * "%% entity-columns A,B" sets the records layout's entity columns and
 * "%% name-predicate KEY" adds a name predicate.
 * Example:
 *   %% rel_triples_1
 *   a<TAB>r<TAB>b
 *   %% rel_triples_2
 *   ...
 *
 * Oracles: documented return codes with a message; with lenient only the
 * layout-level ones (a missing file, a limit); and after a success the
 * written stores open (so they passed the validator), their counts are the
 * summary's, the three link files read back, resolve against the stores
 * and are one-to-one across all three, and each labelled pairs file reads
 * back, resolves and holds the summary's count of rows and matches. */
#ifndef KGA_FUZZ_IMPORT_H
#define KGA_FUZZ_IMPORT_H

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "import/import.h"
#include "store/links.h"
#include "store/store.h"

/* Files a source directory may hold: both layouts (so that each reader's
 * "looks like the other layout" hints run too) and a second fold. */
static const char *const fuzz_import_names[] = {
    "rel_triples_1",          "rel_triples_2",
    "attr_triples_1",         "attr_triples_2",
    "ent_links",              "721_5fold/1/train_links",
    "721_5fold/1/valid_links", "721_5fold/1/test_links",
    "721_5fold/2/train_links", "ent_ids_1",
    "ent_ids_2",              "rel_ids_1",
    "rel_ids_2",              "triples_1",
    "triples_2",              "sup_pairs",
    "ref_pairs",              "ref_ent_ids",
    "training_attrs_1",       "training_attrs_2",
    "tableA.csv",             "tableB.csv",
    "train.csv",              "valid.csv",
    "test.csv",               "left.nt",
    "right.nt",               "left.nt.gz",
    "right.nt.gz",            "train_links",
    "valid_links",            "test_links",
    "train_links.tsv",        "valid_links.tsv",
    "test_links.tsv",
};

/* The options an input may set with its markers. */
typedef struct {
    int lenient;
    char entity_columns[256];
    char name_predicate[256];
} fuzz_import_opts_t;

static char fuzz_import_root[4096];

static int fuzz_import_rm(const char *path, const struct stat *st, int flag,
                          struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void fuzz_import_rmtree(const char *path)
{
    nftw(path, fuzz_import_rm, 16, FTW_DEPTH | FTW_PHYS);
}

static void fuzz_import_cleanup(void)
{
    if (fuzz_import_root[0] != '\0')
        fuzz_import_rmtree(fuzz_import_root);
}

/* A scratch directory for this process, removed at exit: under
 * $KGA_FUZZ_TMP, else /dev/shm (no disk writes for the fsyncs of the
 * import), else $TMPDIR or /tmp. NULL when none can be made. */
static const char *fuzz_import_workspace(void)
{
    if (fuzz_import_root[0] != '\0')
        return fuzz_import_root;
    const char *parent = getenv("KGA_FUZZ_TMP");
    if (parent == NULL || parent[0] == '\0')
        parent = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (parent == NULL || parent[0] == '\0')
        parent = "/tmp";
    snprintf(fuzz_import_root, sizeof fuzz_import_root,
             "%s/kga-fuzz-import.XXXXXX", parent);
    if (mkdtemp(fuzz_import_root) == NULL) {
        fuzz_import_root[0] = '\0';
        return NULL;
    }
    atexit(fuzz_import_cleanup);
    return fuzz_import_root;
}

/* Writes the n bytes at p to dir/name, making the directories in name. */
static int fuzz_import_write(const char *dir, const char *name,
                             const uint8_t *p, size_t n)
{
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        mkdir(path, 0777);
        *s = '/';
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return close(fd);
}

/* The first marker line at or after p, which starts a line; end if none. */
static const uint8_t *fuzz_import_next_mark(const uint8_t *p,
                                            const uint8_t *end)
{
    while (p < end) {
        if (end - p >= 3 && memcmp(p, "%% ", 3) == 0)
            return p;
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return end;
}

/* The marker "%% WORD VALUE" with WORD = word: VALUE into out (cap). */
static int fuzz_import_option(const uint8_t *name, size_t len,
                              const char *word, char *out, size_t cap)
{
    size_t wl = strlen(word);
    if (len <= wl + 1 || memcmp(name, word, wl) != 0 || name[wl] != ' ')
        return 0;
    size_t n = len - wl - 1 < cap - 1 ? len - wl - 1 : cap - 1;
    memcpy(out, name + wl + 1, n);
    out[n] = '\0';
    return 1;
}

/* Writes the files of the input into src; sets the options. */
static int fuzz_import_layout(const char *src, const uint8_t *data,
                              size_t size, fuzz_import_opts_t *opts)
{
    const uint8_t *end = data + size;
    const uint8_t *m = fuzz_import_next_mark(data, end);
    memset(opts, 0, sizeof *opts);
    while (m < end) {
        const uint8_t *name = m + 3;
        const uint8_t *nl = memchr(name, '\n', (size_t)(end - name));
        size_t name_len = (size_t)((nl != NULL ? nl : end) - name);
        const uint8_t *body = nl != NULL ? nl + 1 : end;
        const uint8_t *next = fuzz_import_next_mark(body, end);
        if (name_len == 7 && memcmp(name, "lenient", 7) == 0)
            opts->lenient = 1;
        fuzz_import_option(name, name_len, "entity-columns",
                           opts->entity_columns, sizeof opts->entity_columns);
        fuzz_import_option(name, name_len, "name-predicate",
                           opts->name_predicate, sizeof opts->name_predicate);
        for (size_t i = 0;
             i < sizeof fuzz_import_names / sizeof fuzz_import_names[0]; i++)
            if (strlen(fuzz_import_names[i]) == name_len &&
                memcmp(fuzz_import_names[i], name, name_len) == 0 &&
                fuzz_import_write(src, fuzz_import_names[i], body,
                                  (size_t)(next - body)) != 0)
                return -1;
        m = next;
    }
    return 0;
}

/* The outputs of a successful import, checked against each other. */
static int fuzz_import_check_outputs(const char *out,
                                     const kga_import_summary_t *sum)
{
    static const char *const stores[2] = {"left.kgs", "right.kgs"};
    static const char *const links[3] = {"train_links.tsv", "valid_links.tsv",
                                         "test_links.tsv"};
    const uint64_t counts[3] = {sum->train_links, sum->valid_links,
                                sum->test_links};
    char path[8192];
    kga_err_t err;
    kga_store_t *st[2] = {NULL, NULL};
    kga_links_t *all = kga_links_new("all");
    int bad = all == NULL;
    for (int k = 0; k < 2 && !bad; k++) {
        snprintf(path, sizeof path, "%s/%s", out, stores[k]);
        if (kga_store_open(path, &st[k], &err) != 0)
            bad = fuzz_fail("import wrote a store that does not open: %s",
                            err.msg);
        else if (kga_store_entity_count(st[k]) != sum->side[k].entities ||
                 kga_store_triple_count(st[k]) != sum->side[k].triples ||
                 kga_store_attribute_count(st[k]) != sum->side[k].attributes)
            bad = fuzz_fail("import: %s counts differ from the summary",
                            stores[k]);
    }
    for (int k = 0; k < 3 && !bad; k++) {
        snprintf(path, sizeof path, "%s/%s", out, links[k]);
        kga_links_t *l = NULL;
        if (kga_links_read(path, &l, &err) != 0) {
            bad = fuzz_fail("import wrote unreadable links: %s", err.msg);
            break;
        }
        size_t n = kga_links_count(l);
        uint32_t *ids = malloc((2 * n + 1) * sizeof *ids);
        if (n != counts[k])
            bad = fuzz_fail("import: %s has %zu links, summary says %llu",
                            links[k], n, (unsigned long long)counts[k]);
        else if (ids != NULL &&
                 kga_links_resolve(l, st[0], st[1], ids, ids + n, &err) != 0)
            bad = fuzz_fail("import: links do not resolve: %s", err.msg);
        for (size_t i = 0; !bad && i < n; i++) {
            const kga_link_t *x = &kga_links_items(l)[i];
            if (kga_links_add(all, x->left, x->right, x->line, (uint32_t)k))
                bad = 1; /* out of memory */
        }
        free(ids);
        kga_links_free(l);
    }
    if (!bad && kga_links_check_one_to_one(all, &err) != 0)
        bad = fuzz_fail("import: splits are not one-to-one: %s", err.msg);
    static const char *const pairs[3] = {"train_pairs.tsv", "valid_pairs.tsv",
                                         "test_pairs.tsv"};
    for (int k = 0; k < 3 && !bad; k++) {
        snprintf(path, sizeof path, "%s/%s", out, pairs[k]);
        if (access(path, F_OK) != 0) {
            if (sum->pairs[k] != 0)
                bad = fuzz_fail("import: %s missing, summary says %llu rows",
                                pairs[k], (unsigned long long)sum->pairs[k]);
            continue;
        }
        kga_links_t *l = NULL;
        if (kga_links_read_labelled(path, &l, &err) != 0) {
            bad = fuzz_fail("import wrote unreadable pairs: %s", err.msg);
            break;
        }
        size_t n = kga_links_count(l);
        uint64_t matches = 0;
        for (size_t i = 0; i < n; i++)
            matches += kga_links_items(l)[i].tag;
        uint32_t *ids = malloc((2 * n + 1) * sizeof *ids);
        if (n != sum->pairs[k] || matches != sum->pair_matches[k])
            bad = fuzz_fail("import: %s has %zu rows, %llu matches; summary "
                            "says %llu, %llu",
                            pairs[k], n, (unsigned long long)matches,
                            (unsigned long long)sum->pairs[k],
                            (unsigned long long)sum->pair_matches[k]);
        else if (ids != NULL &&
                 kga_links_resolve(l, st[0], st[1], ids, ids + n, &err) != 0)
            bad = fuzz_fail("import: pairs do not resolve: %s", err.msg);
        free(ids);
        kga_links_free(l);
    }
    kga_links_free(all);
    kga_store_close(st[0]);
    kga_store_close(st[1]);
    return bad;
}

static int fuzz_import_one(kga_import_format_t format, const uint8_t *data,
                           size_t size)
{
    static const int strict_codes[] = {KGA_ENOENT,     KGA_EPARSE,
                                       KGA_EUNKNOWN_ID, KGA_EDUPLICATE,
                                       KGA_ELIMIT,     KGA_ENOMEM,
                                       KGA_EFORMAT,    KGA_EINVAL, 0};
    static const int lenient_codes[] = {KGA_ENOENT, KGA_ELIMIT, KGA_ENOMEM,
                                        KGA_EFORMAT, 0};
    /* The records layout's headers and options are checked before any
     * line, lenient or not. */
    static const int lenient_records_codes[] = {KGA_ENOENT,  KGA_ELIMIT,
                                                KGA_ENOMEM,  KGA_EFORMAT,
                                                KGA_EPARSE,  KGA_EINVAL, 0};
    const char *root = fuzz_import_workspace();
    if (root == NULL)
        return fuzz_fail("import: no scratch directory");
    char src[4200], out[4200];
    snprintf(src, sizeof src, "%s/src", root);
    snprintf(out, sizeof out, "%s/out", root);
    fuzz_import_rmtree(src);
    fuzz_import_rmtree(out);
    if (mkdir(src, 0777) != 0)
        return fuzz_fail("import: cannot make %s", src);
    fuzz_import_opts_t opts;
    if (fuzz_import_layout(src, data, size, &opts) != 0)
        return fuzz_fail("import: cannot write the source files");
    int lenient = opts.lenient;

    kga_import_params_t p;
    kga_import_params_init(&p);
    p.format = format;
    p.src_dir = src;
    p.out_dir = out;
    p.lenient = lenient;
    if (format == KGA_IMPORT_RECORDS && opts.entity_columns[0] != '\0')
        p.entity_columns = opts.entity_columns;
    if (opts.name_predicate[0] != '\0')
        p.name_predicates[p.n_name_predicates++] = opts.name_predicate;
    kga_import_summary_t sum;
    kga_err_t err;
    int rc = kga_import_run(&p, &sum, NULL, &err);
    int bad = fuzz_check_rc(lenient ? "import (lenient)" : "import", rc, &err,
                            !lenient ? strict_codes
                            : format == KGA_IMPORT_RECORDS
                                ? lenient_records_codes
                                : lenient_codes);
    if (!bad && rc == 0)
        bad = fuzz_import_check_outputs(out, &sum);
    fuzz_import_rmtree(src);
    fuzz_import_rmtree(out);
    return bad;
}

#endif
