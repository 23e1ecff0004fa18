/* The Latin form of a name by ICU (see translit.h). The one file that
 * talks to ICU, so that the rest of the name channel stays free of it and
 * of its UTF-16 strings. */
#include "features/translit.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/uchar.h>
#include <unicode/utf16.h>
#include <unicode/utrans.h>
#include <unicode/ustring.h>

#include "base/arena.h"
#include "base/utf8.h"

/* Names per pool task: ICU spends tens of microseconds on a name. */
#define NAME_GRAIN 256

struct kga_translit {
    UTransliterator *icu;
    UChar *in, *work;   /* the name in UTF-16; ICU's in-place buffer */
    int32_t in_cap, work_cap;
    char *out;          /* the result in UTF-8 */
    size_t out_cap;
};

int kga_translit_new(kga_translit_t **out, kga_err_t *err)
{
    *out = NULL;
    kga_translit_t *t = calloc(1, sizeof *t);
    if (t == NULL)
        return kga_err_set(err, KGA_ENOMEM, "transliteration: out of memory");
    UChar id[64];
    u_uastrcpy(id, KGA_TRANSLIT_ID);
    UParseError pe;
    UErrorCode st = U_ZERO_ERROR;
    t->icu = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, &pe, &st);
    if (U_FAILURE(st) || t->icu == NULL) {
        free(t);
        return kga_err_set(err, KGA_EUNSUPPORTED,
                           "transliteration: ICU cannot open \"%s\": %s",
                           KGA_TRANSLIT_ID, u_errorName(st));
    }
    *out = t;
    return 0;
}

void kga_translit_free(kga_translit_t *t)
{
    if (t == NULL)
        return;
    utrans_close(t->icu);
    free(t->out);
    free(t->work);
    free(t->in);
    free(t);
}

static int grow_uchars(UChar **buf, int32_t *cap, int32_t need)
{
    if (need <= *cap)
        return 0;
    UChar *b = realloc(*buf, (size_t)need * sizeof *b);
    if (b == NULL)
        return KGA_ENOMEM;
    *buf = b;
    *cap = need;
    return 0;
}

static int grow_bytes(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    char *b = realloc(*buf, need);
    if (b == NULL)
        return KGA_ENOMEM;
    *buf = b;
    *cap = need;
    return 0;
}

/* Copies the n bytes at s into t->out as the result. */
static const char *result_copy(kga_translit_t *t, const char *s, size_t n,
                               size_t *len)
{
    if (grow_bytes(&t->out, &t->out_cap, n + 1) != 0)
        return NULL;
    memcpy(t->out, s, n);
    t->out[n] = '\0';
    if (len != NULL)
        *len = n;
    return t->out;
}

/* Punctuation and white space outside ASCII become a space, in place;
 * returns the new length (a supplementary character shrinks to one unit). */
static int32_t blank_punctuation(UChar *u, int32_t n)
{
    int32_t r = 0, w = 0;
    while (r < n) {
        int32_t start = r;
        UChar32 c;
        U16_NEXT(u, r, n, c);
        if (c >= 0x80 && (u_ispunct(c) || u_isUWhiteSpace(c))) {
            u[w++] = 0x20;
        } else {
            while (start < r)
                u[w++] = u[start++];
        }
    }
    return w;
}

const char *kga_translit_name(kga_translit_t *t, const char *name,
                              size_t *len)
{
    if (name == NULL)
        name = "";
    size_t n = strlen(name);
    if (n > KGA_TRANSLIT_MAX_BYTES)
        n = kga_utf8_cut(name, KGA_TRANSLIT_MAX_BYTES);
    size_t ascii = 0;
    while (ascii < n && (unsigned char)name[ascii] < 0x80)
        ascii++;
    if (ascii == n)
        return result_copy(t, name, n, len);

    /* UTF-16 of at most KGA_TRANSLIT_MAX_BYTES bytes: one unit per byte at
     * most, so one conversion always fits. */
    UErrorCode st = U_ZERO_ERROR;
    int32_t ulen = 0;
    if (grow_uchars(&t->in, &t->in_cap, (int32_t)n + 1) != 0)
        return NULL;
    u_strFromUTF8WithSub(t->in, t->in_cap, &ulen, name, (int32_t)n, 0xFFFD,
                         NULL, &st);
    if (U_FAILURE(st))
        return result_copy(t, name, n, len);

    /* ICU works in place and says how long the result wanted to be when
     * it did not fit: then once more, from the name, with that room. */
    int32_t cap = 4 * ulen + 16, tlen = 0;
    for (int attempt = 0;; attempt++) {
        if (grow_uchars(&t->work, &t->work_cap, cap) != 0)
            return NULL;
        memcpy(t->work, t->in, (size_t)ulen * sizeof *t->work);
        tlen = ulen;
        int32_t limit = ulen;
        st = U_ZERO_ERROR;
        utrans_transUChars(t->icu, t->work, &tlen, t->work_cap, 0, &limit,
                           &st);
        if (U_FAILURE(st) && st != U_BUFFER_OVERFLOW_ERROR)
            return result_copy(t, name, n, len); /* ICU failed: the name */
        if (!U_FAILURE(st) && tlen <= t->work_cap)
            break;
        if (attempt == 1)
            return result_copy(t, name, n, len);
        cap = tlen + 16;
    }
    tlen = blank_punctuation(t->work, tlen);

    int32_t olen = 0;
    st = U_ZERO_ERROR;
    u_strToUTF8(t->out, (int32_t)(t->out_cap < INT32_MAX ? t->out_cap : 0),
                &olen, t->work, tlen, &st);
    if (st == U_BUFFER_OVERFLOW_ERROR || (size_t)olen + 1 > t->out_cap) {
        if (grow_bytes(&t->out, &t->out_cap, (size_t)olen + 1) != 0)
            return NULL;
        st = U_ZERO_ERROR;
        u_strToUTF8(t->out, (int32_t)t->out_cap, &olen, t->work, tlen, &st);
    }
    if (U_FAILURE(st))
        return result_copy(t, name, n, len);
    t->out[olen] = '\0';
    if (len != NULL)
        *len = (size_t)olen;
    return t->out;
}

/* ---- many names on a pool ---------------------------------------------- */

struct kga_translit_table {
    const char **forms;
    int workers;
    kga_translit_t **t; /* one per worker */
    kga_arena_t *arena; /* one per worker */
    int *failed;        /* one per worker: out of memory */
    const char *const *names;
};

static void table_chunk(void *ctx, size_t begin, size_t end, int worker)
{
    kga_translit_table_t *tb = ctx;
    for (size_t i = begin; i < end && !tb->failed[worker]; i++) {
        if (tb->names[i] == NULL) {
            tb->forms[i] = NULL;
            continue;
        }
        size_t len;
        const char *f = kga_translit_name(tb->t[worker], tb->names[i], &len);
        tb->forms[i] = f != NULL
                           ? kga_arena_strndup(&tb->arena[worker], f, len)
                           : NULL;
        if (tb->forms[i] == NULL)
            tb->failed[worker] = 1;
    }
}

int kga_translit_table_new(const char *const *names, size_t n,
                           kga_pool_t *pool, kga_translit_table_t **out,
                           kga_err_t *err)
{
    *out = NULL;
    int rc = KGA_ENOMEM;
    kga_translit_table_t *tb = calloc(1, sizeof *tb);
    if (tb == NULL)
        return kga_err_set(err, rc, "transliteration: out of memory");
    tb->workers = pool != NULL ? kga_pool_threads(pool) : 1;
    tb->names = names;
    tb->forms = calloc(n ? n : 1, sizeof *tb->forms);
    tb->t = calloc((size_t)tb->workers, sizeof *tb->t);
    tb->arena = calloc((size_t)tb->workers, sizeof *tb->arena);
    tb->failed = calloc((size_t)tb->workers, sizeof *tb->failed);
    if (!tb->forms || !tb->t || !tb->arena || !tb->failed) {
        kga_translit_table_free(tb);
        return kga_err_set(err, rc, "transliteration: out of memory");
    }
    for (int w = 0; w < tb->workers; w++) {
        kga_arena_init(&tb->arena[w], 0);
        if ((rc = kga_translit_new(&tb->t[w], err)) != 0) {
            kga_translit_table_free(tb);
            return rc;
        }
    }
    kga_pool_run(pool, n, NAME_GRAIN, table_chunk, tb);
    for (int w = 0; w < tb->workers; w++)
        if (tb->failed[w]) {
            kga_translit_table_free(tb);
            return kga_err_set(err, KGA_ENOMEM,
                               "transliteration: out of memory (%zu names)",
                               n);
        }
    /* The transliterators are done: only the strings stay. */
    for (int w = 0; w < tb->workers; w++) {
        kga_translit_free(tb->t[w]);
        tb->t[w] = NULL;
    }
    tb->names = NULL;
    *out = tb;
    return 0;
}

const char *const *kga_translit_table_forms(const kga_translit_table_t *t)
{
    return t->forms;
}

void kga_translit_table_free(kga_translit_table_t *t)
{
    if (t == NULL)
        return;
    for (int w = 0; w < t->workers; w++) {
        if (t->t != NULL)
            kga_translit_free(t->t[w]);
        if (t->arena != NULL)
            kga_arena_destroy(&t->arena[w]);
    }
    free(t->failed);
    free(t->arena);
    free(t->t);
    free(t->forms);
    free(t);
}
