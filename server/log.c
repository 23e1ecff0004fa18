/* The service's JSON log lines (see log.h), built in the caller's fixed
 * buffer and written with one write(2): lines from several threads never
 * interleave, and logging never allocates nor takes a lock, so that the
 * SIGBUS handler (fault.c) may log a line too. Also the random request ids,
 * which every log line of a request carries. */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/utf8.h"

static atomic_int log_threshold = KGA_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void kga_log_set_level(kga_log_level_t level)
{
    atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
}

int kga_log_enabled(kga_log_level_t level)
{
    return (int)level >=
           atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

/* Room kept for the closing "}\n" and a "..." marker. */
#define TAIL_RESERVE 8

static void put(kga_logline_t *l, const char *s, size_t n)
{
    size_t room = KGA_LOG_LINE_MAX - TAIL_RESERVE - l->len;
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void putc_(kga_logline_t *l, char c)
{
    if (l->len < KGA_LOG_LINE_MAX - TAIL_RESERVE)
        l->buf[l->len++] = c;
}

/* A JSON string; cut with "..." when the line is full, never inside a
 * character. Well-formed UTF-8 is copied as it is; a byte that is not part
 * of a well-formed sequence (a raw 0xff in a request path) is written as
 * \u00XX, its value read as a code point, so that the line stays valid JSON
 * and the byte can still be told from the text around it: a real U+00XX
 * would have been copied as UTF-8, never escaped. */
static void put_json_string(kga_logline_t *l, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    putc_(l, '"');
    size_t i = 0;
    while (i < n) {
        /* Room for the longest unit below (6 bytes) and the marker. */
        if (l->len + 8 >= KGA_LOG_LINE_MAX - TAIL_RESERVE) {
            put(l, "...", 3);
            break;
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t len = kga_utf8_decode((const unsigned char *)s + i, n - i,
                                         NULL, NULL);
            if (len != 0) {
                put(l, s + i, len);
                i += len;
                continue;
            }
        }
        if (c == '"' || c == '\\') {
            l->buf[l->len++] = '\\';
            l->buf[l->len++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            put(l, esc, sizeof esc);
        } else {
            l->buf[l->len++] = (char)c;
        }
        i++;
    }
    putc_(l, '"');
}

static void put_key(kga_logline_t *l, const char *key)
{
    putc_(l, ',');
    put_json_string(l, key, strlen(key));
    putc_(l, ':');
}

/* Writes value in exactly width decimal digits at out. */
static void put_digits(char *out, int64_t value, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

/* "2024-05-01T12:00:00.123Z" from the real-time clock, by arithmetic alone
 * (the civil date of a day count, after Howard Hinnant): no gmtime_r, which
 * takes glibc's time zone lock, no strftime or printf. So a line can be
 * logged from a signal handler (server/fault.c) as from anywhere else.
 * out holds at least 25 bytes; returns 24. */
static size_t format_time(char *out)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t days = (int64_t)ts.tv_sec / 86400;
    int64_t secs = (int64_t)ts.tv_sec % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                              /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);      /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                           /* [0, 11] */
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    int64_t year = yoe + era * 400 + (month <= 2);
    memcpy(out, "0000-00-00T00:00:00.000Z", 25);
    put_digits(out, year, 4);
    put_digits(out + 5, month, 2);
    put_digits(out + 8, day, 2);
    put_digits(out + 11, secs / 3600, 2);
    put_digits(out + 14, secs / 60 % 60, 2);
    put_digits(out + 17, secs % 60, 2);
    put_digits(out + 20, ts.tv_nsec / 1000000, 3);
    return 24;
}

void kga_logline_begin(kga_logline_t *l, kga_log_level_t level,
                       const char *event)
{
    l->len = 0;
    l->enabled = kga_log_enabled(level);
    if (!l->enabled)
        return;
    char t[32];
    size_t tn = format_time(t);
    put(l, "{\"time\":", 8);
    put_json_string(l, t, tn);
    put_key(l, "level");
    const char *name = level_names[(unsigned)level < 4 ? level : 3];
    put_json_string(l, name, strlen(name));
    put_key(l, "event");
    put_json_string(l, event, strlen(event));
}

void kga_logline_strn(kga_logline_t *l, const char *key, const char *value,
                      size_t len)
{
    if (!l->enabled)
        return;
    put_key(l, key);
    put_json_string(l, value, len);
}

void kga_logline_str(kga_logline_t *l, const char *key, const char *value)
{
    if (value == NULL)
        value = "";
    kga_logline_strn(l, key, value, strlen(value));
}

void kga_logline_int(kga_logline_t *l, const char *key, int64_t value)
{
    if (!l->enabled)
        return;
    char num[32];
    int n = snprintf(num, sizeof num, "%" PRId64, value);
    put_key(l, key);
    put(l, num, (size_t)n);
}

void kga_logline_num(kga_logline_t *l, const char *key, double value)
{
    if (!l->enabled)
        return;
    char num[40];
    int n = isfinite(value) ? snprintf(num, sizeof num, "%.3f", value)
                            : snprintf(num, sizeof num, "null");
    put_key(l, key);
    put(l, num, (size_t)n);
}

void kga_logline_end(kga_logline_t *l)
{
    if (!l->enabled)
        return;
    /* TAIL_RESERVE guarantees the room. */
    l->buf[l->len++] = '}';
    l->buf[l->len++] = '\n';
    size_t off = 0;
    while (off < l->len) {
        ssize_t w = write(STDERR_FILENO, l->buf + off, l->len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break; /* nowhere to report a failing log */
        off += (size_t)w;
    }
}

void kga_log_event(kga_log_level_t level, const char *event,
                   const char *fmt, ...)
{
    kga_logline_t l;
    kga_logline_begin(&l, level, event);
    if (!l.enabled)
        return;
    char msg[KGA_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    kga_logline_str(&l, "message", msg);
    kga_logline_end(&l);
}

/* xoshiro256**: fast, and seeded per thread from the kernel. */
typedef struct {
    uint64_t s[4];
    int seeded;
} rng_state_t;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(rng_state_t *r)
{
    uint64_t result = rotl(r->s[1] * 5, 7) * 9;
    uint64_t t = r->s[1] << 17;
    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];
    r->s[2] ^= t;
    r->s[3] = rotl(r->s[3], 45);
    return result;
}

static void rng_seed(rng_state_t *r)
{
    size_t got = 0;
    unsigned char *p = (unsigned char *)r->s;
    while (got < sizeof r->s) {
        ssize_t n = getrandom(p + got, sizeof r->s - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof r->s) {
        /* No getrandom: time and address still make ids distinct. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r->s[0] ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull;
        r->s[1] ^= (uint64_t)ts.tv_sec;
        r->s[2] ^= (uint64_t)(uintptr_t)r;
        r->s[3] ^= (uint64_t)getpid();
    }
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
    r->seeded = 1;
}

void kga_request_id_generate(char *out)
{
    static _Thread_local rng_state_t rng;
    static const char hex[] = "0123456789abcdef";
    if (!rng.seeded)
        rng_seed(&rng);
    for (int half = 0; half < 2; half++) {
        uint64_t v = rng_next(&rng);
        for (int i = 0; i < 16; i++)
            out[half * 16 + i] = hex[(v >> (60 - 4 * i)) & 15];
    }
    out[KGA_REQUEST_ID_GEN_LEN] = '\0';
}
