/* The small shared modules of core/base/: the UTF-8 decoder (checked
 * exhaustively against a decoder written from the bit patterns), writing a
 * file by temporary and rename (planted symbolic links, failures, modes),
 * mapped files changed in place,
 * the string arena, the hash index, string interning, and the allocation
 * helpers. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/arena.h"
#include "base/atomic_file.h"
#include "base/error.h"
#include "base/grow.h"
#include "base/hash.h"
#include "base/hash_index.h"
#include "base/intern.h"
#include "base/mapped_file.h"
#include "base/rng.h"
#include "base/utf8.h"
#include "base/xalloc.h"
#include "testutil.h"

/* ------------------------------------------------------------------------
 * UTF-8
 * ------------------------------------------------------------------------ */

/* The definition spelt out: the lead byte's pattern gives the length, the
 * rest must be 10xxxxxx, and the value must need that length, not be a
 * surrogate and not pass U+10FFFF. Returns the length or 0. */
static size_t reference_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    static const uint32_t min_of[5] = {0, 0, 0x80, 0x800, 0x10000};
    size_t len;
    uint32_t v;
    if (n == 0)
        return 0;
    if ((s[0] & 0x80) == 0) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        len = 2, v = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3, v = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4, v = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min_of[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

static void expect_decode(const char *bytes, size_t n, size_t want_len,
                          uint32_t want_cp, size_t want_bad)
{
    uint32_t cp = 0xDEADBEEF;
    size_t bad = 99;
    size_t len =
        kga_utf8_decode((const unsigned char *)bytes, n, &cp, &bad);
    ck_assert_uint_eq(len, want_len);
    if (want_len > 0)
        ck_assert_uint_eq(cp, want_cp);
    else
        ck_assert_uint_eq(bad, want_bad);
}

START_TEST(utf8_decodes_the_boundaries)
{
    expect_decode("A", 1, 1, 'A', 0);
    expect_decode("\x7F", 1, 1, 0x7F, 0);
    expect_decode("\xC2\x80", 2, 2, 0x80, 0);
    expect_decode("\xDF\xBF", 2, 2, 0x7FF, 0);
    expect_decode("\xE0\xA0\x80", 3, 3, 0x800, 0);
    expect_decode("\xED\x9F\xBF", 3, 3, 0xD7FF, 0);
    expect_decode("\xEE\x80\x80", 3, 3, 0xE000, 0);
    expect_decode("\xEF\xBF\xBF", 3, 3, 0xFFFF, 0);
    expect_decode("\xF0\x90\x80\x80", 4, 4, 0x10000, 0);
    expect_decode("\xF4\x8F\xBF\xBF", 4, 4, 0x10FFFF, 0);
    /* Only the first sequence counts; cp may be NULL. */
    expect_decode("\xC3\xA9xyz", 5, 2, 0xE9, 0);
    ck_assert_uint_eq(
        kga_utf8_decode((const unsigned char *)"\xE2\x82\xAC", 3, NULL, NULL),
        3);
}
END_TEST

START_TEST(utf8_refuses_overlongs_surrogates_and_truncation)
{
    /* Overlong forms: the lead byte alone is the maximal subpart. */
    expect_decode("\xC0\x80", 2, 0, 0, 1);
    expect_decode("\xC1\xBF", 2, 0, 0, 1);
    expect_decode("\xE0\x80\x80", 3, 0, 0, 1);
    expect_decode("\xE0\x9F\xBF", 3, 0, 0, 1);
    expect_decode("\xF0\x80\x80\x80", 4, 0, 0, 1);
    expect_decode("\xF0\x8F\xBF\xBF", 4, 0, 0, 1);
    /* Surrogates, and past U+10FFFF. */
    expect_decode("\xED\xA0\x80", 3, 0, 0, 1);
    expect_decode("\xED\xBF\xBF", 3, 0, 0, 1);
    expect_decode("\xF4\x90\x80\x80", 4, 0, 0, 1);
    expect_decode("\xF5\x80\x80\x80", 4, 0, 0, 1);
    expect_decode("\xFF", 1, 0, 0, 1);
    /* Stray continuation bytes. */
    expect_decode("\x80", 1, 0, 0, 1);
    expect_decode("\xBF", 1, 0, 0, 1);
    /* Truncated: at the end of the input or before a non-continuation;
     * the good prefix is the maximal subpart. */
    expect_decode("\xC3", 1, 0, 0, 1);
    expect_decode("\xE2\x82", 2, 0, 0, 2);
    expect_decode("\xE2\x82" "A", 3, 0, 0, 2);
    expect_decode("\xF0\x9F\x98", 3, 0, 0, 3);
    expect_decode("\xF0\x9F\x98\xC3", 4, 0, 0, 3);
    /* The length given is honoured even when more bytes follow. */
    expect_decode("\xC3\xA9", 1, 0, 0, 1);
    expect_decode("", 0, 0, 0, 0);
}
END_TEST

/* One comparison with the reference; returns 1 when they agree. (The
 * loops below count disagreements rather than assert each of 16 million
 * cases: a passing Check assertion costs a write.) */
static int agrees(const unsigned char *s, size_t n)
{
    uint32_t cp = 0, ref_cp = 0;
    size_t want = reference_decode(s, n, &ref_cp);
    size_t got = kga_utf8_decode(s, n, &cp, NULL);
    if (got != want || (want > 0 && cp != ref_cp)) {
        fprintf(stderr, "disagree on %02x %02x %02x %02x (n %zu): %zu, "
                        "want %zu\n",
                s[0], n > 1 ? s[1] : 0, n > 2 ? s[2] : 0, n > 3 ? s[3] : 0,
                n, got, want);
        return 0;
    }
    return 1;
}

/* Every sequence of up to three bytes, and every four-byte sequence with
 * a lead from F0 to F7 and continuation bytes from a spread of values,
 * against the reference decoder. */
START_TEST(utf8_agrees_with_the_definition)
{
    unsigned char s[4] = {0};
    size_t checked = 0, wrong = 0;
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        wrong += !agrees(s, 1);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            wrong += !agrees(s, 2);
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                wrong += !agrees(s, 3);
                checked++;
            }
        }
    }
    static const unsigned char cont[] = {0x00, 0x41, 0x7F, 0x80, 0x81,
                                         0x8F, 0x90, 0x9F, 0xA0, 0xBF,
                                         0xC0, 0xFF};
    for (unsigned a = 0xF0; a <= 0xF7; a++)
        for (size_t i = 0; i < sizeof cont; i++)
            for (size_t j = 0; j < sizeof cont; j++)
                for (size_t k = 0; k < sizeof cont; k++) {
                    s[0] = (unsigned char)a, s[1] = cont[i], s[2] = cont[j];
                    s[3] = cont[k];
                    wrong += !agrees(s, 4);
                    checked++;
                }
    ck_assert_uint_eq(checked, 16777216u + 8 * 12 * 12 * 12);
    ck_assert_uint_eq(wrong, 0);
}
END_TEST

START_TEST(utf8_valid_reports_the_first_bad_offset)
{
    size_t bad = 99;
    ck_assert(kga_utf8_valid("", 0, &bad));
    ck_assert(kga_utf8_valid("José 日本 𝄞", strlen("José 日本 𝄞"), NULL));
    /* Past the eight-byte ASCII fast path. */
    const char *s = "abcdefghijk\xC3(";
    ck_assert(!kga_utf8_valid(s, strlen(s), &bad));
    ck_assert_uint_eq(bad, 11);
    s = "abcdefgh\xE2\x82\xAC" "ijklmnop\xED\xA0\x80";
    ck_assert(!kga_utf8_valid(s, strlen(s), &bad));
    ck_assert_uint_eq(bad, 19);
    /* A sequence cut by the length is bad. */
    ck_assert(!kga_utf8_valid("ab\xE2\x82\xAC", 4, &bad));
    ck_assert_uint_eq(bad, 2);
    ck_assert(kga_utf8_valid("ab\xE2\x82\xAC", 5, NULL));
}
END_TEST

START_TEST(utf8_cut_never_splits_a_character)
{
    /* "ab" then U+20AC (3 bytes) then U+1D11E (4 bytes) then "z". */
    const char *s = "ab\xE2\x82\xAC\xF0\x9D\x84\x9E" "z";
    static const size_t want[] = {0, 1, 2, 2, 2, 5, 5, 5, 5, 9};
    for (size_t n = 0; n < sizeof want / sizeof want[0]; n++)
        ck_assert_msg(kga_utf8_cut(s, n) == want[n], "cut at %zu: %zu", n,
                      kga_utf8_cut(s, n));
    /* Never further back than the longest sequence: a run of stray
     * continuation bytes is cut as it is. */
    const char *stray = "a\x80\x80\x80\x80\x80";
    ck_assert_uint_eq(kga_utf8_cut(stray, 5), 2);
}
END_TEST

/* ------------------------------------------------------------------------
 * Atomic file
 * ------------------------------------------------------------------------ */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_plain(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Entries of kga_test_tmp_dir whose name holds ".tmp.". */
static int count_temporaries(void)
{
    return kga_test_count_entries(kga_test_tmp_dir, ".tmp.");
}

START_TEST(atomic_file_replaces_the_target)
{
    char path[256];
    kga_test_tmp_path(path, sizeof path, "replace.txt");
    write_plain(path, "old contents\n");
    kga_atomic_file_t f;
    kga_err_t err;
    ck_assert_int_eq(kga_atomic_file_open(&f, path, 0, &err), 0);
    ck_assert_ptr_eq(f.stream, NULL);
    ck_assert(strncmp(f.tmp, path, strlen(path)) == 0);
    ck_assert_int_eq(kga_atomic_file_write(&f, "new ", 4, &err), 0);
    /* Until the commit the target is the old file. */
    ck_assert_str_eq(read_file(path), "old contents\n");
    ck_assert_int_eq(count_temporaries(), 1);
    ck_assert_int_eq(kga_atomic_file_write(&f, "contents", 8, &err), 0);
    ck_assert_int_eq(kga_atomic_file_commit(&f, &err), 0);
    ck_assert_str_eq(read_file(path), "new contents");
    ck_assert_int_eq(count_temporaries(), 0);
    ck_assert_ptr_null(f.tmp);
    kga_atomic_file_abort(&f); /* after commit: nothing to do */

    /* Through the stream, skipping the syncs. */
    ck_assert_int_eq(kga_atomic_file_open(&f, path,
                                          KGA_ATOMIC_STREAM |
                                              KGA_ATOMIC_NO_SYNC,
                                          &err),
                     0);
    ck_assert_ptr_nonnull(f.stream);
    fprintf(f.stream, "%d lines\n", 3);
    ck_assert_int_eq(kga_atomic_file_commit(&f, &err), 0);
    ck_assert_str_eq(read_file(path), "3 lines\n");
    ck_assert_int_eq(count_temporaries(), 0);
    unlink(path);
}
END_TEST

START_TEST(atomic_file_mode_follows_the_umask)
{
    char path[256];
    kga_test_tmp_path(path, sizeof path, "mode.txt");
    static const mode_t masks[] = {022, 077, 0};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        mode_t old = umask(masks[i]);
        kga_atomic_file_t f;
        kga_err_t err;
        ck_assert_int_eq(kga_atomic_file_open(&f, path, KGA_ATOMIC_STREAM,
                                              &err),
                         0);
        fputs("x", f.stream);
        ck_assert_int_eq(kga_atomic_file_commit(&f, &err), 0);
        umask(old);
        struct stat st;
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 07777, 0644 & ~masks[i]);
    }
    unlink(path);
}
END_TEST

START_TEST(atomic_file_never_follows_a_planted_link)
{
    char path[256], victim[256], planted[512];
    kga_test_tmp_path(path, sizeof path, "target.txt");
    kga_test_tmp_path(victim, sizeof victim, "victim.txt");
    write_plain(victim, "precious\n");
    /* The next temporary name is the one after this file's. */
    kga_atomic_file_t f;
    kga_err_t err;
    ck_assert_int_eq(kga_atomic_file_open(&f, path, 0, &err), 0);
    long pid;
    unsigned serial;
    char tail[64];
    ck_assert_int_eq(sscanf(f.tmp + strlen(path), ".tmp.%ld.%u%63s", &pid,
                            &serial, tail),
                     2);
    ck_assert_int_eq(pid, (long)getpid());
    kga_atomic_file_abort(&f);
    ck_assert_int_eq(count_temporaries(), 0);
    snprintf(planted, sizeof planted, "%s.tmp.%ld.%u", path, pid,
             serial + 1);
    ck_assert_int_eq(symlink(victim, planted), 0);

    ck_assert_int_eq(kga_atomic_file_open(&f, path, KGA_ATOMIC_STREAM, &err),
                     0);
    ck_assert_str_ne(f.tmp, planted);
    fputs("written\n", f.stream);
    ck_assert_int_eq(kga_atomic_file_commit(&f, &err), 0);
    ck_assert_str_eq(read_file(path), "written\n");
    /* The victim is untouched and the link is still there (not ours to
     * remove). */
    ck_assert_str_eq(read_file(victim), "precious\n");
    struct stat st;
    ck_assert_int_eq(lstat(planted, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    unlink(planted);
    unlink(victim);
    unlink(path);
}
END_TEST

START_TEST(atomic_file_failures_leave_no_temporary)
{
    char path[256];
    kga_atomic_file_t f;
    kga_err_t err;

    /* The rename fails: the target is a directory. */
    kga_test_tmp_path(path, sizeof path, "a-directory");
    ck_assert_int_eq(mkdir(path, 0755), 0);
    ck_assert_int_eq(kga_atomic_file_open(&f, path, KGA_ATOMIC_STREAM, &err),
                     0);
    fputs("data\n", f.stream);
    ck_assert_int_eq(kga_atomic_file_commit(&f, &err), KGA_EIO);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    ck_assert_int_eq(count_temporaries(), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    rmdir(path);

    /* Aborted: neither the temporary nor the target exists. */
    kga_test_tmp_path(path, sizeof path, "aborted.txt");
    ck_assert_int_eq(kga_atomic_file_open(&f, path, 0, &err), 0);
    ck_assert_int_eq(kga_atomic_file_write(&f, "partial", 7, &err), 0);
    kga_atomic_file_abort(&f);
    kga_atomic_file_abort(&f); /* twice is harmless */
    ck_assert_int_eq(count_temporaries(), 0);
    ck_assert_int_ne(access(path, F_OK), 0);

    /* A missing directory: KGA_ENOENT naming the path, nothing created. */
    kga_test_tmp_path(path, sizeof path, "no/such/dir/x.txt");
    ck_assert_int_eq(kga_atomic_file_open(&f, path, 0, &err), KGA_ENOENT);
    ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
    ck_assert_ptr_null(f.tmp);
    kga_atomic_file_abort(&f);
    ck_assert_int_eq(kga_atomic_file_open(&f, "", 0, &err), KGA_EINVAL);

    /* A zeroed, never opened file may be aborted. */
    kga_atomic_file_t zero;
    memset(&zero, 0, sizeof zero);
    kga_atomic_file_abort(&zero);
    kga_atomic_file_abort(NULL);
    ck_assert_int_eq(kga_atomic_file_commit(&zero, &err), KGA_EINVAL);
}
END_TEST

/* ------------------------------------------------------------------------
 * Arena
 * ------------------------------------------------------------------------ */

START_TEST(arena_keeps_every_string)
{
    enum { N = 5000 };
    kga_arena_t a;
    kga_arena_init(&a, 256);
    static char *copies[N];
    char buf[32];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "string-%d", i);
        total += strlen(buf) + 1;
        copies[i] = kga_arena_strdup(&a, buf);
        ck_assert_ptr_nonnull(copies[i]);
        ck_assert_ptr_ne(copies[i], buf);
    }
    /* Nothing moved or was overwritten as chunks were added. */
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "string-%d", i);
        ck_assert_str_eq(copies[i], buf);
    }
    /* Whole chunks: at most one string's room is lost in each. */
    ck_assert_uint_ge(kga_arena_bytes(&a), total);
    ck_assert_uint_le(kga_arena_bytes(&a), total + total / 256 * 13 + 256);
    /* strndup copies exactly len bytes and terminates them. */
    char *part = kga_arena_strndup(&a, "abcdef", 3);
    ck_assert_str_eq(part, "abc");
    ck_assert_str_eq(kga_arena_strdup(&a, ""), "");
    kga_arena_destroy(&a);
    ck_assert_uint_eq(kga_arena_bytes(&a), 0);
    /* Usable again after destroy. */
    ck_assert_str_eq(kga_arena_strdup(&a, "again"), "again");
    kga_arena_destroy(&a);
}
END_TEST

START_TEST(arena_gives_a_long_string_its_own_chunk)
{
    kga_arena_t a;
    kga_arena_init(&a, 64);
    ck_assert_uint_eq(kga_arena_bytes(&a), 0);
    char *first = kga_arena_strdup(&a, "abc");
    ck_assert_uint_eq(kga_arena_bytes(&a), 64);
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *long_copy = kga_arena_strdup(&a, big);
    ck_assert_str_eq(long_copy, big);
    ck_assert_uint_eq(kga_arena_bytes(&a), 64 + 200);
    /* The first chunk goes on filling: no new chunk for a short string. */
    char *next = kga_arena_strdup(&a, "de");
    ck_assert_uint_eq(kga_arena_bytes(&a), 64 + 200);
    ck_assert_ptr_eq(next, first + 4);
    ck_assert_str_eq(first, "abc");
    kga_arena_destroy(&a);
    /* The default chunk size. */
    kga_arena_init(&a, 0);
    kga_arena_strdup(&a, "x");
    ck_assert_uint_eq(kga_arena_bytes(&a), KGA_ARENA_DEFAULT_CHUNK);
    kga_arena_destroy(&a);
}
END_TEST

/* ------------------------------------------------------------------------
 * Hash index
 * ------------------------------------------------------------------------ */

typedef struct {
    char **names;
    uint64_t (*hash)(const char *);
} names_t;

static uint64_t good_hash(const char *s)
{
    return kga_hash64(s, strlen(s));
}

/* Every key in one probe run with one tag: only eq tells them apart. */
static uint64_t constant_hash(const char *s)
{
    (void)s;
    return 0x1234567890abcdefull;
}

/* Same tag, home slots spread: the low bits differ. */
static uint64_t tag_only_hash(const char *s)
{
    return 0xabcdef0000000000ull | (good_hash(s) & 0xffffffffffull);
}

static int names_eq(const void *ctx, uint64_t ref, const void *key)
{
    const names_t *n = ctx;
    return strcmp(n->names[ref], key) == 0;
}

static uint64_t names_hash_of(const void *ctx, uint64_t ref)
{
    const names_t *n = ctx;
    return n->hash(n->names[ref]);
}

/* Adds count keys hashed by hash, then finds each of them and misses as
 * many absent ones. Disagreements are counted, not asserted one by one (a
 * passing Check assertion costs a write). */
static void check_index(uint64_t (*hash)(const char *), size_t count)
{
    names_t n = {calloc(count, sizeof(char *)), hash};
    kga_hash_index_t t;
    kga_hash_index_init(&t);
    char buf[32];
    size_t wrong = 0;
    ck_assert_int_eq(kga_hash_index_find(&t, hash("k0"), "k0", names_eq, &n),
                     -1);
    for (size_t i = 0; i < count; i++) {
        snprintf(buf, sizeof buf, "k%zu", i);
        n.names[i] = strdup(buf);
        wrong += kga_hash_index_find(&t, hash(buf), buf, names_eq, &n) != -1;
        wrong += kga_hash_index_add(&t, hash(buf), i, names_hash_of, &n) != 0;
        wrong += t.count * 2 > t.mask + 1; /* at most half full, always */
    }
    ck_assert_uint_eq(wrong, 0);
    ck_assert_uint_eq(t.count, count);
    for (size_t i = 0; i < count; i++) {
        snprintf(buf, sizeof buf, "k%zu", i);
        wrong += kga_hash_index_find(&t, hash(buf), buf, names_eq, &n) !=
                 (int64_t)i;
        snprintf(buf, sizeof buf, "absent%zu", i);
        wrong += kga_hash_index_find(&t, hash(buf), buf, names_eq, &n) != -1;
    }
    ck_assert_uint_eq(wrong, 0);
    kga_hash_index_destroy(&t);
    ck_assert_ptr_null(t.slots);
    ck_assert_uint_eq(t.count, 0);
    for (size_t i = 0; i < count; i++)
        free(n.names[i]);
    free(n.names);
}

START_TEST(hash_index_finds_what_was_added)
{
    check_index(good_hash, 100000); /* grows from 1024 slots often */
    check_index(tag_only_hash, 20000);
    check_index(constant_hash, 600);
}
END_TEST

START_TEST(hash_index_reserve_and_limits)
{
    names_t n = {NULL, good_hash};
    kga_hash_index_t t;
    memset(&t, 0, sizeof t); /* a zeroed index is empty too */
    ck_assert_int_eq(kga_hash_index_find(&t, 1, "x", names_eq, &n), -1);
    ck_assert_int_eq(kga_hash_index_reserve(&t, 5000, names_hash_of, &n), 0);
    ck_assert_uint_eq(t.mask + 1, 16384);
    uint64_t *slots = t.slots;
    /* Reserving less keeps the table. */
    ck_assert_int_eq(kga_hash_index_reserve(&t, 10, names_hash_of, &n), 0);
    ck_assert_ptr_eq(t.slots, slots);
    /* The largest reference is accepted, the next one is not. */
    char only[] = "only";
    char *names[1] = {only};
    n.names = names;
    ck_assert_int_eq(kga_hash_index_add(&t, good_hash("big"),
                                        KGA_HASH_INDEX_REF_MAX + 1,
                                        names_hash_of, &n),
                     KGA_ELIMIT);
    ck_assert_uint_eq(t.count, 0);
    ck_assert_int_eq(kga_hash_index_add(&t, good_hash("only"), 0,
                                        names_hash_of, &n),
                     0);
    ck_assert_int_eq(
        kga_hash_index_find(&t, good_hash("only"), "only", names_eq, &n), 0);
    kga_hash_index_destroy(&t);

    kga_hash_index_init(&t);
    ck_assert_int_eq(kga_hash_index_reserve(&t, 0, names_hash_of, &n), 0);
    ck_assert_uint_eq(t.mask + 1, KGA_HASH_INDEX_MIN_SLOTS);
    kga_hash_index_destroy(&t);
}
END_TEST

/* ------------------------------------------------------------------------
 * Interning
 * ------------------------------------------------------------------------ */

START_TEST(intern_gives_dense_stable_ids)
{
    enum { N = 3000 };
    kga_arena_t a;
    kga_arena_init(&a, 128);
    kga_intern_t t, other;
    kga_intern_init(&t);
    memset(&other, 0, sizeof other); /* a zeroed table is empty too */
    char buf[32];
    uint32_t id;
    int created = -1;
    size_t wrong = 0;
    ck_assert_int_eq(kga_intern_find(&t, "s0", 2), -1);
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "s%d", i);
        wrong += kga_intern_add(&t, &a, buf, strlen(buf), &id, &created) != 0;
        wrong += id != (uint32_t)i || created != 1;
    }
    ck_assert_uint_eq(wrong, 0);
    ck_assert_uint_eq(kga_intern_count(&t), N);
    /* Added again: the same id, nothing new. */
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "s%d", i);
        wrong += kga_intern_add(&t, &a, buf, strlen(buf), &id, &created) != 0;
        wrong += id != (uint32_t)i || created != 0;
        wrong += kga_intern_find(&t, buf, strlen(buf)) != i;
        wrong += strcmp(kga_intern_str(&t, (uint32_t)i), buf) != 0;
    }
    ck_assert_uint_eq(wrong, 0);
    ck_assert_uint_eq(kga_intern_count(&t), N);
    /* Counted bytes: a prefix of a stored string is another string. */
    ck_assert_int_eq(kga_intern_find(&t, "s12xyz", 3), 12);
    ck_assert_int_eq(kga_intern_find(&t, "s1", 1), -1);
    ck_assert_int_eq(kga_intern_add(&t, &a, "s1", 1, &id, NULL), 0);
    ck_assert_uint_eq(id, N);
    ck_assert_str_eq(kga_intern_str(&t, id), "s");
    /* Two tables on one arena keep their own ids. */
    ck_assert_int_eq(kga_intern_add(&other, &a, "s5", 2, &id, &created), 0);
    ck_assert_uint_eq(id, 0);
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(kga_intern_find(&t, "s5", 2), 5);
    kga_intern_destroy(&t);
    ck_assert_uint_eq(kga_intern_count(&t), 0);
    ck_assert_int_eq(kga_intern_find(&t, "s5", 2), -1);
    /* Usable again after destroy. */
    ck_assert_int_eq(kga_intern_add(&t, &a, "again", 5, &id, NULL), 0);
    ck_assert_uint_eq(id, 0);
    kga_intern_destroy(&t);
    kga_intern_destroy(&other);
    kga_arena_destroy(&a);
}
END_TEST

/* ------------------------------------------------------------------------
 * Allocation helpers
 * ------------------------------------------------------------------------ */

/* ---- growable arrays ---- */

START_TEST(grow_doubles_from_the_first_capacity)
{
    ck_assert_uint_eq(kga_grow_capacity(0, 1, 16, 4), 16);
    ck_assert_uint_eq(kga_grow_capacity(0, 17, 16, 4), 32);
    ck_assert_uint_eq(kga_grow_capacity(16, 17, 64, 4), 32);
    ck_assert_uint_eq(kga_grow_capacity(32, 20, 64, 4), 32);
    ck_assert_uint_eq(kga_grow_capacity(3, 100, 64, 4), 192);

    uint32_t *a = NULL;
    size_t cap = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        ck_assert_int_eq(kga_grow(&a, &cap, i + 1, 8, sizeof *a), 0);
        ck_assert_uint_ge(cap, i + 1);
        a[i] = i;
    }
    ck_assert_uint_eq(cap, 1024);
    for (uint32_t i = 0; i < 1000; i++)
        ck_assert_uint_eq(a[i], i);
    /* Room enough already: nothing moves. */
    uint32_t *before = a;
    ck_assert_int_eq(kga_grow(&a, &cap, 1000, 8, sizeof *a), 0);
    ck_assert_ptr_eq(a, before);
    ck_assert_uint_eq(cap, 1024);
    free(a);
}
END_TEST

START_TEST(grow_refuses_sizes_past_size_max)
{
    ck_assert_uint_eq(kga_grow_capacity(0, SIZE_MAX / 8 + 1, 16, 8), 0);
    /* Doubling past the limit is refused even when need itself fits. */
    ck_assert_uint_eq(kga_grow_capacity(SIZE_MAX / 16 + 1, SIZE_MAX / 16 + 2,
                                        16, 16), 0);
    uint64_t *a = NULL;
    size_t cap = 0;
    ck_assert_int_eq(kga_grow(&a, &cap, SIZE_MAX / 4, 16, sizeof *a),
                     KGA_ELIMIT);
    ck_assert_ptr_null(a);
    ck_assert_uint_eq(cap, 0);
    ck_assert_int_eq(kga_grow_resize(&a, SIZE_MAX / 4, sizeof *a), KGA_ELIMIT);
    ck_assert_ptr_null(a);
    /* An exact resize, for parallel arrays. */
    ck_assert_int_eq(kga_grow_resize(&a, 3, sizeof *a), 0);
    a[2] = 7;
    ck_assert_int_eq(kga_grow_resize(&a, 5, sizeof *a), 0);
    ck_assert_uint_eq(a[2], 7);
    free(a);
}
END_TEST

START_TEST(xalloc_helpers)
{
    char *s = kga_xasprintf("%s/%s-%d", "dir", "name", 42);
    ck_assert_str_eq(s, "dir/name-42");
    free(s);
    s = kga_xstrdup("copy");
    ck_assert_str_eq(s, "copy");
    free(s);
    int *v = kga_xcalloc(16, sizeof *v);
    for (int i = 0; i < 16; i++)
        ck_assert_int_eq(v[i], 0);
    v = kga_xreallocarray(v, 1000, sizeof *v);
    v[999] = 7;
    ck_assert_int_eq(v[0], 0);
    free(v);
    free(kga_xmalloc(0)); /* a valid, freeable pointer */
}
END_TEST

/* Runs in a child when Check forks; without fork the whole program would
 * stop, so the test is left out then (CK_FORK=no under valgrind). */
START_TEST(xalloc_aborts_on_overflow)
{
    kga_xreallocarray(NULL, SIZE_MAX / 2, 4);
}
END_TEST

/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * Mapped files
 * ------------------------------------------------------------------------ */

static void write_bytes(const char *path, char fill, size_t n)
{
    char buf[8192];
    memset(buf, fill, sizeof buf);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* A file replaced by rename leaves the mapped inode as it was; one
 * rewritten in place (same size, or truncated) is told apart, naming the
 * file; the mapping is listed for a fault handler while it lives. */
START_TEST(mapped_file_notices_a_change_in_place)
{
    char path[300], next[300];
    kga_test_tmp_path(path, sizeof path, "mapped.bin");
    kga_test_tmp_path(next, sizeof next, "mapped.bin.new");
    write_bytes(path, 'a', 8192);
    kga_mapped_file_t f;
    kga_err_t err;
    ck_assert_int_eq(kga_mapped_file_open(&f, path, "test file", &err), 0);
    ck_assert_int_eq(kga_mapped_file_check(&f, &err), 0);
    const char *data = f.data;
    ck_assert_str_eq(kga_mapped_file_owner(data + 100), path);
    ck_assert_str_eq(kga_mapped_file_owner(data + 8191), path);
    ck_assert_ptr_null(kga_mapped_file_owner(data + 8192));
    ck_assert_ptr_null(kga_mapped_file_owner(&f));

    /* Replaced by rename: the mapping is the old file, unchanged. */
    write_bytes(next, 'b', 4096);
    ck_assert_int_eq(rename(next, path), 0);
    ck_assert_int_eq(kga_mapped_file_check(&f, &err), 0);
    ck_assert_int_eq(data[0], 'a');
    kga_mapped_file_close(&f);
    ck_assert_ptr_null(kga_mapped_file_owner(data + 100));

    /* Rewritten in place, same size: the modification time tells. */
    ck_assert_int_eq(kga_mapped_file_open(&f, path, "test file", &err), 0);
    struct timespec times[2] = {{0, UTIME_OMIT}, {1, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    int rc = kga_mapped_file_check(&f, &err);
    ck_assert_int_eq(rc, KGA_ECHANGED);
    ck_assert_ptr_nonnull(strstr(err.msg, path));
    ck_assert_ptr_nonnull(strstr(err.msg, "modified again"));
    kga_mapped_file_close(&f);

    /* Truncated in place: the sizes are named. */
    ck_assert_int_eq(kga_mapped_file_open(&f, path, "test file", &err), 0);
    ck_assert_int_eq(truncate(path, 10), 0);
    rc = kga_mapped_file_check(&f, &err);
    ck_assert_int_eq(rc, KGA_ECHANGED);
    ck_assert_ptr_nonnull(strstr(err.msg, "4096 bytes, 10 now"));
    kga_mapped_file_close(&f);
    kga_mapped_file_close(&f); /* twice is allowed */

    /* A zeroed struct (fd 0) is empty: nothing is closed. */
    kga_mapped_file_t zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_int_eq(kga_mapped_file_check(&zero, &err), 0);
    kga_mapped_file_close(&zero);
    ck_assert_int_ne(fcntl(0, F_GETFD), -1);
    unlink(path);
}
END_TEST

/* Normal values: mean 0 and variance scale^2 within sampling error, the
 * same for the same stream, and an odd count filled to the end. */
START_TEST(rng_gaussians_are_normal_and_reproducible)
{
    enum { N = 20001 };
    static float a[N], b[N];
    kga_rng_t r;
    kga_rng_init(&r, 11, 3);
    a[N - 1] = NAN;
    kga_rng_gaussians(&r, a, N, 2.0);
    kga_rng_init(&r, 11, 3);
    kga_rng_gaussians(&r, b, N, 2.0);
    ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    ck_assert(isfinite(a[N - 1]));
    double m = 0.0, v = 0.0;
    uint32_t beyond = 0;
    for (int k = 0; k < N; k++) {
        m += a[k];
        v += (double)a[k] * a[k];
        beyond += fabs(a[k]) > 2.0 * 1.96;
    }
    m /= N;
    v = v / N - m * m;
    ck_assert_double_lt(fabs(m), 0.05);
    ck_assert_double_lt(fabs(v - 4.0), 0.2);
    /* About 5% beyond 1.96 standard deviations. */
    ck_assert_uint_gt(beyond, N / 25);
    ck_assert_uint_lt(beyond, N / 16);
}
END_TEST

static Suite *make_suite(void)
{
    Suite *s = suite_create("base");
    TCase *utf8 = kga_test_tcase(s, "utf8", 120);
    tcase_add_test(utf8, utf8_decodes_the_boundaries);
    tcase_add_test(utf8, utf8_refuses_overlongs_surrogates_and_truncation);
    tcase_add_test(utf8, utf8_agrees_with_the_definition);
    tcase_add_test(utf8, utf8_valid_reports_the_first_bad_offset);
    tcase_add_test(utf8, utf8_cut_never_splits_a_character);
    TCase *atomic = kga_test_tcase(s, "atomic file", 0);
    tcase_add_test(atomic, atomic_file_replaces_the_target);
    tcase_add_test(atomic, atomic_file_mode_follows_the_umask);
    tcase_add_test(atomic, atomic_file_never_follows_a_planted_link);
    tcase_add_test(atomic, atomic_file_failures_leave_no_temporary);
    TCase *mapped = kga_test_tcase(s, "mapped file", 0);
    tcase_add_test(mapped, mapped_file_notices_a_change_in_place);
    TCase *arena = kga_test_tcase(s, "arena", 0);
    tcase_add_test(arena, arena_keeps_every_string);
    tcase_add_test(arena, arena_gives_a_long_string_its_own_chunk);
    TCase *index = kga_test_tcase(s, "hash index", 60);
    tcase_add_test(index, hash_index_finds_what_was_added);
    tcase_add_test(index, hash_index_reserve_and_limits);
    TCase *intern = kga_test_tcase(s, "intern", 0);
    tcase_add_test(intern, intern_gives_dense_stable_ids);
    TCase *grow = kga_test_tcase(s, "grow", 0);
    tcase_add_test(grow, grow_doubles_from_the_first_capacity);
    tcase_add_test(grow, grow_refuses_sizes_past_size_max);
    TCase *rng = kga_test_tcase(s, "rng", 0);
    tcase_add_test(rng, rng_gaussians_are_normal_and_reproducible);
    TCase *xalloc = kga_test_tcase(s, "xalloc", 0);
    tcase_add_test(xalloc, xalloc_helpers);
    const char *fork_env = getenv("CK_FORK");
    if (fork_env == NULL || strcmp(fork_env, "no") != 0)
        tcase_add_test_raise_signal(xalloc, xalloc_aborts_on_overflow,
                                    SIGABRT);
    return s;
}

int main(void)
{
    return kga_test_run_in_tmp_dir("base", make_suite);
}
