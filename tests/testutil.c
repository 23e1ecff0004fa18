/* The helpers every test program shares (tests/testutil.h): one copy here,
 * linked into each program, instead of a copy in each file. Apart from the
 * tests because none of it tests anything: it runs suites, handles files
 * and data sets, checks what every test checks the same way, and turns
 * tables of damage into damaged images. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------------------
 * Running a suite
 * ------------------------------------------------------------------------ */

/* How much longer than the plain build a sanitizer build may take for the
 * same test: AddressSanitizer and UBSan run code two to four times slower,
 * ThreadSanitizer five to fifteen. The timeouts are there to catch a hang,
 * so the margin is generous. */
#ifdef KGA_SANITIZER_BUILD
#define TIMEOUT_MULTIPLIER                                                  \
    (strcmp(KGA_SANITIZER_BUILD, "thread") == 0 ? "10" : "5")
#else
#define TIMEOUT_MULTIPLIER NULL
#endif

char kga_test_tmp_dir[64];

int kga_test_run(Suite *(*make_suite)(void))
{
    const char *multiplier = TIMEOUT_MULTIPLIER;
    if (multiplier != NULL)
        setenv("CK_TIMEOUT_MULTIPLIER", multiplier, 0);
    Suite *s = make_suite();
    if (s == NULL)
        return EXIT_FAILURE;
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

TCase *kga_test_tcase(Suite *s, const char *name, double timeout_s)
{
    TCase *tc = tcase_create(name);
    /* A timeout guards against a hang; it must not test the machine's
     * speed. Check's default of 4 s failed test_builder's 50,000-entity
     * case at a load average of 14 on two cores. */
    tcase_set_timeout(tc, timeout_s > 0 ? timeout_s : KGA_TEST_TIMEOUT_S);
    suite_add_tcase(s, tc);
    return tc;
}

int kga_test_run_in_tmp_dir(const char *name, Suite *(*make_suite)(void))
{
    snprintf(kga_test_tmp_dir, sizeof kga_test_tmp_dir,
             "/tmp/kga_test_%s.XXXXXX", name);
    if (mkdtemp(kga_test_tmp_dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    int rc = kga_test_run(make_suite);
    kga_test_remove_tree(kga_test_tmp_dir);
    return rc;
}

void kga_test_tmp_path(char *out, size_t size, const char *name)
{
    int n = snprintf(out, size, "%s/%s", kga_test_tmp_dir, name);
    ck_assert_msg(n >= 0 && (size_t)n < size, "path too long: %s/%s",
                  kga_test_tmp_dir, name);
}

char *kga_test_tmp(const char *name)
{
    static char buf[64][4096];
    static int next;
    char *p = buf[next++ % 64];
    int n = snprintf(p, sizeof buf[0], "%s/%s", kga_test_tmp_dir, name);
    ck_assert(n > 0 && (size_t)n < sizeof buf[0]);
    return p;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int kga_test_remove_tree(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------
 * Files and commands
 * ------------------------------------------------------------------------ */

char *kga_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 2) {
            char *p = realloc(buf, cap * 2);
            if (p == NULL) {
                free(buf);
                buf = NULL;
            } else {
                buf = p;
                cap *= 2;
            }
        }
    }
    if (buf != NULL && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf == NULL)
        return NULL;
    buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

char *kga_test_read_file(const char *path, size_t *len)
{
    char *buf = kga_test_slurp(path, len);
    ck_assert_msg(buf != NULL, "cannot read %s", path);
    return buf;
}

void kga_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_msg(fclose(f) == 0, "cannot write %s", path);
}

void kga_test_write_text(const char *dir, const char *name, const char *text)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < sizeof path);
    struct stat st;
    for (char *p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        ck_assert_msg(stat(path, &st) == 0 || mkdir(path, 0777) == 0,
                      "cannot make %s: %s", path, strerror(errno));
        *p = '/';
    }
    kga_test_write_file(path, text, strlen(text));
}

int kga_test_count_entries(const char *dir, const char *fragment)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "%s: %s", dir, strerror(errno));
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
             (fragment == NULL || strstr(e->d_name, fragment) != NULL);
    closedir(d);
    return n;
}

const char *kga_test_kgalign(void)
{
    const char *path = getenv("KGALIGN");
    return path != NULL ? path : "./kgalign";
}

int kga_test_real_data(const char *dataset, char *path, size_t cap)
{
    const char *root = getenv("KGA_DATA_DIR");
    if (root == NULL || root[0] == '\0')
        root = "../shared/data";
    snprintf(path, cap, "%s/%s", root, dataset);
    const char *skip = getenv("KGA_SKIP_REAL_DATA");
    if (skip != NULL && skip[0] != '\0' && strcmp(skip, "0") != 0) {
        printf("KGA_SKIP_REAL_DATA is set, skipping the real-data test on "
               "%s\n", path);
        return 0;
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 1;
    printf("%s not found, skipping the real-data test (set KGA_DATA_DIR)\n",
           path);
    return 0;
}

int kga_test_system(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd) {
        fprintf(stderr, "command too long: %.100s...\n", cmd);
        return -1;
    }
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The temporary names of path planted by kga_test_plant_links(): k < n is
 * PATH.tmp.PID.k, k == n the older PATH.tmp.PID. */
static void planted_name(char *out, size_t cap, const char *path, unsigned k,
                         unsigned n)
{
    int len = k < n ? snprintf(out, cap, "%s.tmp.%ld.%u", path,
                               (long)getpid(), k)
                    : snprintf(out, cap, "%s.tmp.%ld", path, (long)getpid());
    ck_assert(len > 0 && (size_t)len < cap);
}

void kga_test_plant_links(const char *path, const char *victim, unsigned n)
{
    char name[4200];
    for (unsigned k = 0; k <= n; k++) {
        planted_name(name, sizeof name, path, k, n);
        ck_assert_msg(symlink(victim, name) == 0, "symlink %s: %s", name,
                      strerror(errno));
    }
}

void kga_test_check_planted_links(const char *path, const char *victim,
                                  const char *content, unsigned n)
{
    char name[4200];
    for (unsigned k = 0; k <= n; k++) {
        planted_name(name, sizeof name, path, k, n);
        struct stat st;
        ck_assert_msg(lstat(name, &st) == 0 && S_ISLNK(st.st_mode),
                      "%s is no longer the planted link", name);
        unlink(name);
    }
    char *now = kga_test_read_file(victim, NULL);
    ck_assert_msg(strcmp(now, content) == 0,
                  "%s was written through a planted link", victim);
    free(now);
}

int kga_test_synth_import(const char *dir, const char *synth_args,
                          const char *src, const char *data)
{
    const char *kgalign = kga_test_kgalign();
    int rc = kga_test_system("%s synth %s %s/%s > /dev/null", kgalign,
                             synth_args, dir, src);
    if (rc == 0)
        rc = kga_test_system("%s import --format openea %s/%s %s/%s "
                             "> /dev/null",
                             kgalign, dir, src, dir, data);
    return rc;
}

/* ------------------------------------------------------------------------
 * Imports and graph stores
 * ------------------------------------------------------------------------ */

kga_import_params_t kga_test_import_params(kga_import_format_t format,
                                           const char *src, const char *out)
{
    kga_import_params_t p;
    kga_import_params_init(&p);
    p.format = format;
    p.src_dir = src;
    p.out_dir = out;
    return p;
}

int kga_test_import(kga_import_format_t format, const char *src,
                    const char *out, int lenient, const char *entity_columns,
                    kga_import_summary_t *summary, kga_err_t *err)
{
    kga_import_params_t p = kga_test_import_params(format, src, out);
    p.lenient = lenient;
    p.entity_columns = entity_columns;
    return kga_import_run(&p, summary, NULL, err);
}

kga_graph_builder_t *kga_test_chain(const char *prefix, uint32_t n)
{
    kga_graph_builder_t *b = kga_graph_builder_new();
    uint32_t next;
    ck_assert_int_eq(kga_graph_builder_relation(b, "next", &next), 0);
    char id[64];
    for (uint32_t i = 0; i < n; i++) {
        uint32_t e;
        snprintf(id, sizeof id, "%s%u", prefix, i);
        ck_assert_int_eq(kga_graph_builder_entity(b, id, &e, NULL), 0);
        ck_assert_uint_eq(e, i);
        if (i > 0)
            ck_assert_int_eq(kga_graph_builder_triple(b, i - 1, next, i), 0);
    }
    return b;
}

kga_store_t *kga_test_open_store(const char *dir, const char *name)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    ck_assert(n > 0 && (size_t)n < sizeof path);
    kga_store_t *s = NULL;
    kga_err_t err;
    int rc = kga_store_open(path, &s, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    return s;
}

void kga_test_stores_write(kga_test_stores_t *st, const char *name,
                           kga_graph_builder_t *const b[2])
{
    int n = snprintf(st->dir, sizeof st->dir, "/tmp/kga_test_%s.XXXXXX", name);
    ck_assert(n > 0 && (size_t)n < sizeof st->dir);
    ck_assert_msg(mkdtemp(st->dir) != NULL, "mkdtemp %s: %s", st->dir,
                  strerror(errno));
    for (int s = 0; s < 2; s++) {
        snprintf(st->path[s], sizeof st->path[s], "%s/%s.kgs", st->dir,
                 s ? "right" : "left");
        kga_err_t err;
        ck_assert_msg(kga_store_write(b[s], st->path[s], &err) == 0, "%s",
                      err.msg);
        ck_assert_msg(kga_store_open(st->path[s], &st->s[s], &err) == 0, "%s",
                      err.msg);
    }
}

void kga_test_stores_close(kga_test_stores_t *st)
{
    for (int s = 0; s < 2; s++)
        kga_store_close(st->s[s]);
    kga_test_remove_tree(st->dir);
}

int kga_test_has_edge(const kga_store_t *s, uint32_t ent, kga_dir_t dir,
                      uint32_t rel, uint32_t nbr)
{
    const kga_edge_t *e;
    uint32_t n = kga_store_edges(s, ent, dir, &e);
    for (uint32_t i = 0; i < n; i++)
        if (e[i].rel == rel && e[i].ent == nbr)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------------
 * JSON
 * ------------------------------------------------------------------------ */

double kga_test_num(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    ck_assert_msg(json_is_number(v), "no number at '%s'", key);
    return json_number_value(v);
}

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

void kga_test_expect_contains(const char *text, const char *const *needles)
{
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; needles[i] != NULL; i++)
        ck_assert_msg(strstr(text, needles[i]) != NULL,
                      "'%s' missing from (%zu bytes):\n%.400s", needles[i],
                      strlen(text), text);
}

void kga_test_expect_error(int rc, const kga_err_t *err, int code,
                           const char *where)
{
    ck_assert_msg(rc == code, "expected %s, got %s (%s)", kga_err_name(code),
                  kga_err_name(rc), err->msg);
    ck_assert_int_eq(err->code, code);
    if (where != NULL)
        ck_assert_msg(strstr(err->msg, where) != NULL,
                      "message '%s' does not name '%s'", err->msg, where);
}

/* ------------------------------------------------------------------------
 * File images
 * ------------------------------------------------------------------------ */

kga_test_image_t kga_test_image_read(const char *path)
{
    size_t len;
    char *text = kga_test_read_file(path, &len);
    ck_assert_uint_gt(len, 0);
    /* Exactly len bytes: no terminator for ASan to miss an overread in. */
    kga_test_image_t img = {malloc(len), len};
    ck_assert_ptr_nonnull(img.data);
    memcpy(img.data, text, len);
    free(text);
    return img;
}

kga_test_image_t kga_test_image_copy(kga_test_image_t img)
{
    kga_test_image_t c = {malloc(img.len ? img.len : 1), img.len};
    ck_assert_ptr_nonnull(c.data);
    memcpy(c.data, img.data, img.len);
    return c;
}

static void check_span(kga_test_image_t img, uint64_t pos, uint64_t n)
{
    ck_assert_msg(pos <= img.len && n <= img.len - pos,
                  "bytes %llu..%llu are past the image's %zu",
                  (unsigned long long)pos, (unsigned long long)(pos + n),
                  img.len);
}

uint32_t kga_test_get32(kga_test_image_t img, uint64_t pos)
{
    uint32_t v;
    check_span(img, pos, sizeof v);
    memcpy(&v, img.data + pos, sizeof v);
    return v;
}

uint64_t kga_test_get64(kga_test_image_t img, uint64_t pos)
{
    uint64_t v;
    check_span(img, pos, sizeof v);
    memcpy(&v, img.data + pos, sizeof v);
    return v;
}

void kga_test_put32(kga_test_image_t img, uint64_t pos, uint32_t v)
{
    check_span(img, pos, sizeof v);
    memcpy(img.data + pos, &v, sizeof v);
}

void kga_test_put64(kga_test_image_t img, uint64_t pos, uint64_t v)
{
    check_span(img, pos, sizeof v);
    memcpy(img.data + pos, &v, sizeof v);
}

static uint64_t get_field(kga_test_image_t img, uint64_t pos, unsigned width)
{
    switch (width) {
    case 1:
        check_span(img, pos, 1);
        return img.data[pos];
    case 4:
        return kga_test_get32(img, pos);
    case 8:
        return kga_test_get64(img, pos);
    }
    ck_abort_msg("a field of %u bytes", width);
    return 0;
}

static void put_field(kga_test_image_t img, uint64_t pos, unsigned width,
                      uint64_t v)
{
    switch (width) {
    case 1:
        check_span(img, pos, 1);
        img.data[pos] = (uint8_t)v;
        return;
    case 4:
        kga_test_put32(img, pos, (uint32_t)v);
        return;
    case 8:
        kga_test_put64(img, pos, v);
        return;
    }
    ck_abort_msg("a field of %u bytes", width);
}

static void apply_edit(kga_test_image_t *img, const kga_test_edit_t *e,
                       uint64_t to, uint64_t from)
{
    switch (e->op) {
    case KGA_TEST_END:
        return;
    case KGA_TEST_SET:
        put_field(*img, to, e->width, e->value);
        return;
    case KGA_TEST_ADD:
        put_field(*img, to, e->width,
                  get_field(*img, to, e->width) + e->value);
        return;
    case KGA_TEST_COPY:
        check_span(*img, from, e->width);
        check_span(*img, to, e->width);
        memmove(img->data + to, img->data + from, e->width);
        if (e->value != 0)
            put_field(*img, to, e->width,
                      get_field(*img, to, e->width) + e->value);
        return;
    case KGA_TEST_SWAP: {
        check_span(*img, from, e->width);
        check_span(*img, to, e->width);
        ck_assert_msg(to + e->width <= from || from + e->width <= to,
                      "swapping overlapping bytes");
        for (unsigned i = 0; i < e->width; i++) {
            uint8_t t = img->data[to + i];
            img->data[to + i] = img->data[from + i];
            img->data[from + i] = t;
        }
        return;
    }
    case KGA_TEST_BYTES:
        check_span(*img, to, e->width);
        memcpy(img->data + to, e->bytes, e->width);
        return;
    case KGA_TEST_CALL:
        e->call(img);
        return;
    case KGA_TEST_GROW: {
        uint8_t *p = realloc(img->data, img->len + e->value);
        ck_assert_ptr_nonnull(p);
        memset(p + img->len, 0, e->value);
        img->data = p;
        img->len += e->value;
        return;
    }
    }
    ck_abort_msg("unknown edit %d", (int)e->op);
}

static uint64_t locate(const kga_test_format_t *format,
                       kga_test_image_t img, kga_test_place_t place)
{
    if (place.base == KGA_TEST_AT_FILE)
        return place.at;
    return format->locate(img, place);
}

uint64_t kga_test_damage_apply(kga_test_image_t *img,
                               const kga_test_damage_t *d,
                               const kga_test_format_t *format)
{
    uint64_t first = 0;
    for (size_t i = 0; i < KGA_TEST_MAX_EDITS; i++) {
        const kga_test_edit_t *e = &d->edits[i];
        if (e->op == KGA_TEST_END)
            break;
        int placed = e->op != KGA_TEST_GROW && e->op != KGA_TEST_CALL;
        int sourced = e->op == KGA_TEST_COPY || e->op == KGA_TEST_SWAP;
        uint64_t to = placed ? locate(format, *img, e->to) : 0;
        uint64_t from = sourced ? locate(format, *img, e->from) : 0;
        if (i == 0)
            first = to;
        apply_edit(img, e, to, from);
    }
    return first;
}

void kga_test_damage_check(const kga_test_damage_t *d,
                           const kga_test_format_t *format)
{
    kga_test_image_t img = format->image();
    uint64_t pos = kga_test_damage_apply(&img, d, format);
    if (d->fix_checksum)
        format->fix_checksum(img);
    kga_err_t err;
    int rc = format->validate(img.data, img.len, &err);
    free(img.data);

    char where[256];
    const char *at = d->where != NULL ? strchr(d->where, '@') : NULL;
    if (at != NULL)
        snprintf(where, sizeof where, "%.*s%llu%s", (int)(at - d->where),
                 d->where, (unsigned long long)pos, at + 1);
    ck_assert_msg(rc == d->code, "%s: expected %s, got %s (%s)", d->what,
                  kga_err_name(d->code), kga_err_name(rc), err.msg);
    ck_assert_msg(err.code == d->code, "%s: err holds %s", d->what,
                  kga_err_name(err.code));
    if (d->where != NULL)
        ck_assert_msg(strstr(err.msg, at != NULL ? where : d->where) != NULL,
                      "%s: message '%s' does not name '%s'", d->what,
                      err.msg, at != NULL ? where : d->where);
}

void kga_test_flips_check(kga_test_image_t img,
                          const kga_test_format_t *format, uint64_t from,
                          uint64_t to, const uint8_t *masks, size_t n_masks,
                          int code, int also_code, const char *where)
{
    ck_assert_uint_le(to, img.len);
    for (uint64_t pos = from; pos < to; pos++) {
        for (size_t m = 0; m < n_masks; m++) {
            kga_test_image_t c = kga_test_image_copy(img);
            c.data[pos] ^= masks[m];
            kga_err_t err;
            int rc = format->validate(c.data, c.len, &err);
            ck_assert_msg(rc == KGA_ECHECKSUM && err.code == rc &&
                              strstr(err.msg, "checksum") != NULL,
                          "byte %llu mask %02x: %s (%s)",
                          (unsigned long long)pos, masks[m],
                          kga_err_name(rc), err.msg);
            format->fix_checksum(c);
            rc = format->validate(c.data, c.len, &err);
            ck_assert_msg(rc == code || (also_code != 0 && rc == also_code),
                          "byte %llu mask %02x with fixed checksum: %s (%s)",
                          (unsigned long long)pos, masks[m],
                          kga_err_name(rc), err.msg);
            ck_assert_int_eq(err.code, rc);
            if (where != NULL)
                ck_assert_msg(strstr(err.msg, where) != NULL,
                              "byte %llu: message '%s' does not name '%s'",
                              (unsigned long long)pos, err.msg, where);
            free(c.data);
        }
    }
}

void kga_test_truncated_check(kga_test_image_t img,
                              int (*validate)(const void *buf, size_t len,
                                              kga_err_t *err),
                              uint64_t cut)
{
    if (cut >= img.len)
        return;
    uint8_t *prefix = malloc(cut > 0 ? cut : 1);
    ck_assert_ptr_nonnull(prefix);
    memcpy(prefix, img.data, cut);
    kga_err_t err;
    int rc = validate(prefix, cut, &err);
    free(prefix);
    ck_assert_msg(rc == KGA_ETRUNCATED, "cut at %llu: %s (%s)",
                  (unsigned long long)cut, kga_err_name(rc), err.msg);
}

void kga_test_header_flips_check(kga_test_image_t img,
                                 const kga_test_format_t *format,
                                 size_t header_size, const uint8_t *masks,
                                 size_t n_masks, int (*code_at)(size_t pos))
{
    ck_assert_uint_le(header_size, img.len);
    for (size_t pos = 0; pos < header_size; pos++) {
        for (size_t m = 0; m < n_masks; m++) {
            kga_test_image_t c = kga_test_image_copy(img);
            c.data[pos] ^= masks[m];
            kga_err_t err;
            int rc = format->validate(c.data, c.len, &err);
            int want = code_at(pos);
            if (want == 0)
                ck_assert_msg(rc == KGA_ETRUNCATED || rc == KGA_EFORMAT,
                              "byte %zu mask %02x: %s (%s)", pos, masks[m],
                              kga_err_name(rc), err.msg);
            else
                ck_assert_msg(rc == want,
                              "byte %zu mask %02x: expected %s, got %s (%s)",
                              pos, masks[m], kga_err_name(want),
                              kga_err_name(rc), err.msg);
            free(c.data);
        }
    }
}
