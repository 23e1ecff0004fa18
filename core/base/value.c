/* Numbers, dates and durations read from attribute text (value.h). Apart
 * from the name features because the importer needs them too (to tell a
 * text column from a column of prices or dates), and a layer below both.
 * Hand-written scanners rather than sscanf: the formats are few, and a
 * scanner says exactly what it accepted, with no locale in the way. */
#include "base/value.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* s without surrounding white space: [*b, *e). 0 when empty or too long. */
static int trimmed(const char *s, const char **b, const char **e)
{
    size_t len = strnlen(s, KGA_VALUE_MAX_BYTES + 1);
    if (len > KGA_VALUE_MAX_BYTES)
        return 0;
    const char *p = s, *q = s + len;
    while (p < q && is_space(*p))
        p++;
    while (q > p && is_space(q[-1]))
        q--;
    *b = p;
    *e = q;
    return p < q;
}

/* ---- numbers ---- */

/* The end of a number starting at p (sign included), or p when none:
 * digits in comma groups of three or plain, a fraction, an exponent. */
static const char *scan_number(const char *p, const char *e)
{
    const char *q = p;
    if (q < e && (*q == '-' || *q == '+'))
        q++;
    const char *int_start = q;
    while (q < e && is_digit(*q))
        q++;
    size_t lead = (size_t)(q - int_start);
    /* Thousands groups: only after one to three leading digits. */
    if (lead >= 1 && lead <= 3)
        while (e - q >= 4 && q[0] == ',' && is_digit(q[1]) &&
               is_digit(q[2]) && is_digit(q[3]) &&
               (e - q == 4 || !is_digit(q[4])))
            q += 4;
    int digits = q > int_start;
    if (q < e && *q == '.' && e - q >= 2 && is_digit(q[1])) {
        q++;
        while (q < e && is_digit(*q))
            q++;
        digits = 1;
    }
    if (!digits)
        return p;
    if (q < e && (*q == 'e' || *q == 'E')) {
        const char *x = q + 1;
        if (x < e && (*x == '-' || *x == '+'))
            x++;
        if (x < e && is_digit(*x)) {
            while (x < e && is_digit(*x))
                x++;
            /* "12 kg" must not read "e" of a unit: an exponent is followed
             * by no letter. */
            if (x == e || !is_alpha(*x))
                q = x;
        }
    }
    return q;
}

/* Letters and symbols (not spaces) in [p, e); -1 when a digit is there. */
static long unit_chars(const char *p, const char *e)
{
    long n = 0;
    for (; p < e; p++) {
        if (is_digit(*p))
            return -1;
        if (!is_space(*p))
            n++;
    }
    return n;
}

int kga_value_number(const char *s, double *out)
{
    const char *b, *e;
    if (!trimmed(s, &b, &e))
        return 0;
    const char *start = b;
    while (start < e && !is_digit(*start) &&
           !(*start == '.' && start + 1 < e && is_digit(start[1])))
        start++;
    if (start == e)
        return 0;
    if (start > b && (start[-1] == '-' || start[-1] == '+'))
        start--;
    const char *end = scan_number(start, e);
    if (end == start)
        return 0;
    long before = unit_chars(b, start), after = unit_chars(end, e);
    if (before < 0 || after < 0 ||
        before + after > (long)KGA_VALUE_UNIT_MAX)
        return 0;
    char buf[KGA_VALUE_MAX_BYTES + 1];
    size_t n = 0;
    for (const char *p = start; p < end; p++)
        if (*p != ',')
            buf[n++] = *p;
    buf[n] = '\0';
    char *stop;
    double v = strtod(buf, &stop);
    if (*stop != '\0' || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

/* ---- dates ---- */

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int valid_ymd(long y, long m, long d)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1)
        return 0;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

/* A month name or its abbreviation (a prefix of three letters or more, so
 * "Sept" and "Sep" are September): 1..12, else 0. */
static int month_of(const char *w, size_t len)
{
    static const char *const names[12] = {
        "january", "february", "march",     "april",   "may",      "june",
        "july",    "august",   "september", "october", "november", "december"};
    if (len < 3)
        return 0;
    for (int m = 0; m < 12; m++) {
        size_t n = strlen(names[m]);
        if (len > n)
            continue;
        size_t i = 0;
        while (i < len && lower(w[i]) == names[m][i])
            i++;
        if (i == len)
            return m + 1;
    }
    return 0;
}

/* A date token: a run of digits or a run of letters. */
typedef struct {
    const char *p;
    size_t len;
    int digits;
} token_t;

#define MAX_TOKENS 4

/* Splits [b, e) into at most MAX_TOKENS tokens separated by spaces, '-',
 * '/', ',' and '.'; an ordinal suffix after a number ("18th") is dropped.
 * Returns the count, or -1 for any other character or too many tokens. */
static int date_tokens(const char *b, const char *e, token_t *t)
{
    int n = 0;
    const char *p = b;
    while (p < e) {
        if (is_space(*p) || *p == '-' || *p == '/' || *p == ',' || *p == '.') {
            p++;
            continue;
        }
        int digits = is_digit(*p);
        if (!digits && !is_alpha(*p))
            return -1;
        const char *q = p;
        while (q < e && (digits ? is_digit(*q) : is_alpha(*q)))
            q++;
        size_t len = (size_t)(q - p);
        if (!digits && n > 0 && t[n - 1].digits && len == 2 &&
            q - p == 2 && p == t[n - 1].p + t[n - 1].len) {
            char a = lower(p[0]), c = lower(p[1]);
            if ((a == 's' && c == 't') || (a == 'n' && c == 'd') ||
                (a == 'r' && c == 'd') || (a == 't' && c == 'h')) {
                p = q;
                continue;
            }
        }
        if (n == MAX_TOKENS)
            return -1;
        t[n++] = (token_t){p, len, digits};
        p = q;
    }
    return n;
}

static long token_number(const token_t *t)
{
    long v = 0;
    for (size_t i = 0; i < t->len; i++)
        v = v * 10 + (t->p[i] - '0');
    return v;
}

/* A year token: four digits, or two (1950 to 2049). -1 otherwise. */
static long token_year(const token_t *t)
{
    if (!t->digits || (t->len != 2 && t->len != 4))
        return -1;
    long y = token_number(t);
    if (t->len == 2)
        y += y < 50 ? 2000 : 1900;
    return y;
}

static long token_day(const token_t *t)
{
    return t->digits && t->len <= 2 ? token_number(t) : -1;
}

/* 2015-05-18 or 2015/05/18, then nothing, a 'T' and a time, or a space and
 * a time of digits and colons. */
static int iso_date(const char *b, const char *e, long *y, long *m, long *d)
{
    const char *p = b;
    if (e - p < 8 || !is_digit(p[0]) || !is_digit(p[1]) || !is_digit(p[2]) ||
        !is_digit(p[3]) || (p[4] != '-' && p[4] != '/'))
        return 0;
    char sep = p[4];
    *y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 +
         (p[3] - '0');
    p += 5;
    long v[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        int nd = 0;
        while (p < e && is_digit(*p) && nd < 2) {
            v[k] = v[k] * 10 + (*p++ - '0');
            nd++;
        }
        if (nd == 0)
            return 0;
        if (k == 0 && (p == e || *p++ != sep))
            return 0;
    }
    *m = v[0];
    *d = v[1];
    if (p == e || *p == 'T')
        return 1;
    if (*p != ' ')
        return 0;
    for (p++; p < e; p++)
        if (!is_digit(*p) && *p != ':' && *p != '.')
            return 0;
    return 1;
}

int kga_value_date(const char *s, int64_t *days)
{
    const char *b, *e;
    if (!trimmed(s, &b, &e))
        return 0;
    long y = -1, m = 0, d = 0;
    if (!iso_date(b, e, &y, &m, &d)) {
        token_t t[MAX_TOKENS];
        int n = date_tokens(b, e, t);
        if (n != 3)
            return 0;
        if (t[0].digits && !t[1].digits && t[2].digits) {
            d = token_day(&t[0]); /* 18-May-15, 18 May 2015 */
            m = month_of(t[1].p, t[1].len);
            y = token_year(&t[2]);
        } else if (!t[0].digits && t[1].digits && t[2].digits) {
            m = month_of(t[0].p, t[0].len); /* May 18 , 2015 */
            d = token_day(&t[1]);
            y = token_year(&t[2]);
        } else {
            return 0;
        }
    }
    if (!valid_ymd(y, m, d))
        return 0;
    *days = days_from_civil(y, (int)m, (int)d);
    return 1;
}

/* ---- durations ---- */

/* "M:SS" or "H:MM:SS". */
static int clock_duration(const char *b, const char *e, double *out)
{
    long part[3];
    int n = 0;
    const char *p = b;
    for (;;) {
        const char *q = p;
        long v = 0;
        while (q < e && is_digit(*q) && q - p < 6)
            v = v * 10 + (*q++ - '0');
        if (q == p || (n > 0 && q - p != 2) || (n > 0 && v >= 60))
            return 0;
        if (n == 3)
            return 0;
        part[n++] = v;
        if (q == e)
            break;
        if (*q != ':')
            return 0;
        p = q + 1;
    }
    if (n == 2)
        *out = (double)(part[0] * 60 + part[1]);
    else if (n == 3)
        *out = (double)(part[0] * 3600 + part[1] * 60 + part[2]);
    else
        return 0;
    return 1;
}

/* ISO 8601 "P[nD][T[nH][nM][nS]]" with at least one part. */
static int iso_duration(const char *b, const char *e, double *out)
{
    const char *p = b;
    if (p == e || (*p != 'P' && *p != 'p'))
        return 0;
    p++;
    int in_time = 0, parts = 0;
    double total = 0;
    /* The units allowed next, in order: D, then (after T) H, M, S. */
    static const char units[] = "DHMS";
    int next = 0;
    while (p < e) {
        if ((*p == 'T' || *p == 't') && !in_time) {
            in_time = 1;
            next = next < 1 ? 1 : next;
            p++;
            continue;
        }
        const char *q = p;
        while (q < e && (is_digit(*q) || *q == '.'))
            q++;
        if (q == p || q == e || q - p > 20)
            return 0;
        char num[24];
        memcpy(num, p, (size_t)(q - p));
        num[q - p] = '\0';
        char *stop;
        double v = strtod(num, &stop);
        if (*stop != '\0')
            return 0;
        char u = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
        const char *at = strchr(units + next, u);
        if (u == '\0' || at == NULL || (u == 'D') == in_time)
            return 0;
        next = (int)(at - units) + 1;
        static const double scale[4] = {86400, 3600, 60, 1};
        total += v * scale[at - units];
        parts++;
        p = q + 1;
    }
    if (parts == 0)
        return 0;
    *out = total;
    return 1;
}

int kga_value_duration(const char *s, double *seconds)
{
    const char *b, *e;
    if (!trimmed(s, &b, &e))
        return 0;
    return clock_duration(b, e, seconds) || iso_duration(b, e, seconds);
}

kga_value_kind_t kga_value_kind(const char *s, double *value)
{
    int64_t days;
    double v;
    if (kga_value_date(s, &days)) {
        *value = (double)days;
        return KGA_VALUE_DATE;
    }
    if (kga_value_duration(s, &v)) {
        *value = v;
        return KGA_VALUE_DURATION;
    }
    if (kga_value_number(s, &v)) {
        *value = v;
        return KGA_VALUE_NUMBER;
    }
    return KGA_VALUE_TEXT;
}

const char *kga_value_kind_name(kga_value_kind_t kind)
{
    switch (kind) {
    case KGA_VALUE_DATE:
        return "date";
    case KGA_VALUE_DURATION:
        return "duration";
    case KGA_VALUE_NUMBER:
        return "number";
    case KGA_VALUE_TEXT:
        break;
    }
    return "text";
}
