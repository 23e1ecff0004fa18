/* Names of synthetic entities (see synth_names.h): the canonical name the
 * left graph shows and the noisy variant of the right one (middle names,
 * articles, "Jr.", accents, typos, case). The noise is what gives the name
 * channel a realistic task; synth_world.c decides who exists and how they
 * are linked, this file only how they are written. */
#include "synth/synth_names.h"

#include <string.h>

#include "base/utf8.h"

#include "synth/synth_lists.h"

/* Share of noisy names that get a second variant on top of the first. */
#define SECOND_VARIANT_SHARE 0.3
/* When "Jr." or a leading "The" is touched: dropped in this share, else
 * moved (", Jr." / "Title, The"). */
#define DROP_NOT_MOVE_SHARE 0.6
#define ALPHABET_SIZE 26
/* Names with fewer letters keep all of them: a typo must leave a name. */
#define MIN_LETTERS_TO_DROP 4
/* A case change writes the name all in lower case in this share, else all
 * in upper case. */
#define CASE_LOWER_SHARE 0.5

typedef enum { ARTICLE_KEEP, ARTICLE_DROP, ARTICLE_SUFFIX } article_t;
typedef enum { JR_KEEP, JR_DROP, JR_COMMA } jr_t;

/* How the pieces of a name are put together. */
typedef struct {
    int drop_middle;
    char middle_initial; /* 0 for none */
    jr_t jr;
    article_t article;
    int arabic_sequel;
    int right_genre;
} style_t;

typedef enum {
    OP_DROP_MIDDLE,
    OP_ADD_MIDDLE,
    OP_JR,
    OP_ARTICLE,
    OP_NUMERAL,
    OP_ACCENTS,
    OP_TYPO,
    OP_CASE,
    OP_COUNT
} variant_op_t;

/* ---- assembling ------------------------------------------------------ */

static void put(kga_synth_name_t *n, const char *s)
{
    size_t len = strlen(s);
    if (n->len + len >= KGA_SYNTH_NAME_MAX)
        return;
    memcpy(n->s + n->len, s, len + 1);
    n->len += len;
}

static void put_word(kga_synth_name_t *n, const kga_synth_list_t *list,
                     uint32_t index)
{
    if (index < list->count)
        put(n, list->words[index]);
}

static void put_roman(kga_synth_name_t *n, unsigned value)
{
    static const struct {
        unsigned value;
        const char *digits;
    } roman[] = {{1000, "M"}, {900, "CM"}, {500, "D"}, {400, "CD"},
                 {100, "C"},  {90, "XC"},  {50, "L"},  {40, "XL"},
                 {10, "X"},   {9, "IX"},   {5, "V"},   {4, "IV"},
                 {1, "I"}};
    for (size_t i = 0; i < sizeof roman / sizeof roman[0]; i++)
        for (; value >= roman[i].value; value -= roman[i].value)
            put(n, roman[i].digits);
}

static void put_number(kga_synth_name_t *n, unsigned value)
{
    char digits[4];
    int len = 0;
    do
        digits[len++] = (char)('0' + value % 10);
    while ((value /= 10) > 0 && len < (int)sizeof digits - 1);
    char text[sizeof digits];
    for (int i = 0; i < len; i++)
        text[i] = digits[len - 1 - i];
    text[len] = '\0';
    put(n, text);
}

uint32_t kga_synth_surname_count(void)
{
    return (uint32_t)(kga_synth_last_names.count +
                      kga_synth_surname_stems.count *
                          kga_synth_surname_endings.count);
}

static void put_single_surname(kga_synth_name_t *n, uint32_t index)
{
    if (index < kga_synth_last_names.count) {
        put_word(n, &kga_synth_last_names, index);
        return;
    }
    index -= (uint32_t)kga_synth_last_names.count;
    uint32_t endings = (uint32_t)kga_synth_surname_endings.count;
    put_word(n, &kga_synth_surname_stems, index / endings);
    put_word(n, &kga_synth_surname_endings, index % endings);
}

static void put_surname(kga_synth_name_t *n, uint32_t code)
{
    uint32_t count = kga_synth_surname_count();
    if (code == KGA_SYNTH_NO_WORD)
        return;
    put_single_surname(n, code % count);
    if (code / count > 0) {
        put(n, "-");
        put_single_surname(n, code / count - 1);
    }
}

static void name_person(const kga_synth_entity_t *e, const style_t *st,
                        kga_synth_name_t *n)
{
    put_word(n, &kga_synth_first_names, e->word[0]);
    if (e->word[1] != KGA_SYNTH_NO_WORD && !st->drop_middle) {
        put(n, " ");
        put_word(n, &kga_synth_first_names, e->word[1]);
    } else if (e->word[1] == KGA_SYNTH_NO_WORD && st->middle_initial != 0) {
        char initial[4] = {' ', st->middle_initial, '.', '\0'};
        put(n, initial);
    }
    put(n, " ");
    put_surname(n, e->word[2]);
    if (e->flags & KGA_SYNTH_FLAG_JR)
        put(n, st->jr == JR_KEEP ? " Jr." : st->jr == JR_COMMA ? ", Jr." : "");
}

static int title_has_article(const kga_synth_entity_t *e)
{
    return (e->kind == KGA_SYNTH_FILM &&
            (e->pattern == KGA_SYNTH_TITLE_THE_ADJ_NOUN ||
             e->pattern == KGA_SYNTH_TITLE_THE_NOUN)) ||
           (e->kind == KGA_SYNTH_CHARACTER &&
            e->pattern == KGA_SYNTH_CHAR_THE_NOUN);
}

/* The title without article and sequel number. */
static void title_core(const kga_synth_entity_t *e, kga_synth_name_t *n)
{
    const kga_synth_title_form_t *f = &kga_synth_title_forms[e->pattern];
    for (int i = 0; i < 3 && f->list[i] != NULL; i++) {
        if (i > 0)
            put(n, f->between[i - 1]);
        put_word(n, f->list[i], e->word[i]);
    }
}

static void name_film(const kga_synth_entity_t *e, const style_t *st,
                      kga_synth_name_t *n)
{
    int article = title_has_article(e);
    if (article && st->article == ARTICLE_KEEP)
        put(n, "The ");
    title_core(e, n);
    if (e->sequel != 0) {
        put(n, " ");
        if (st->arabic_sequel)
            put_number(n, e->sequel);
        else
            put_roman(n, e->sequel);
    }
    if (article && st->article == ARTICLE_SUFFIX)
        put(n, ", The");
}

static void name_character(const kga_synth_entity_t *e, const style_t *st,
                           kga_synth_name_t *n)
{
    switch (e->pattern) {
    case KGA_SYNTH_CHAR_FULL_NAME:
        put_word(n, &kga_synth_first_names, e->word[0]);
        put(n, " ");
        put_surname(n, e->word[1]);
        break;
    case KGA_SYNTH_CHAR_HONORIFIC:
        put_word(n, &kga_synth_honorifics, e->word[0]);
        put(n, " ");
        put_surname(n, e->word[1]);
        break;
    case KGA_SYNTH_CHAR_FIRST_NAME:
        put_word(n, &kga_synth_first_names, e->word[0]);
        break;
    default:
        if (st->article == ARTICLE_KEEP)
            put(n, "The ");
        put_word(n, &kga_synth_nouns, e->word[0]);
        if (st->article == ARTICLE_SUFFIX)
            put(n, ", The");
        break;
    }
}

static void ascii_lower(kga_synth_name_t *n)
{
    for (size_t i = 0; i < n->len; i++)
        if (n->s[i] >= 'A' && n->s[i] <= 'Z')
            n->s[i] = (char)(n->s[i] - 'A' + 'a');
}

static void ascii_upper(kga_synth_name_t *n)
{
    for (size_t i = 0; i < n->len; i++)
        if (n->s[i] >= 'a' && n->s[i] <= 'z')
            n->s[i] = (char)(n->s[i] - 'a' + 'A');
}

/* The right graph files genres the way Wikidata does: "comedy film". */
static void name_genre(const kga_synth_entity_t *e, const style_t *st,
                       kga_synth_name_t *n)
{
    put_word(n, &kga_synth_genres, e->word[0]);
    if (!st->right_genre)
        return;
    ascii_lower(n);
    if (strstr(n->s, "film") == NULL)
        put(n, " film");
}

static void name_build(const kga_synth_entity_t *e, const style_t *st,
                       kga_synth_name_t *n)
{
    n->len = 0;
    n->s[0] = '\0';
    switch (e->kind) {
    case KGA_SYNTH_PERSON:
        name_person(e, st, n);
        break;
    case KGA_SYNTH_FILM:
        name_film(e, st, n);
        break;
    case KGA_SYNTH_CHARACTER:
        name_character(e, st, n);
        break;
    default:
        name_genre(e, st, n);
        break;
    }
    /* The catalogue's disambiguator goes last, after "Jr." or a moved
     * article: "Anna Berg (II)", "Red Ship II (III)". */
    if (e->qualifier > 0) {
        put(n, " (");
        put_roman(n, e->qualifier + 1u);
        put(n, ")");
    }
}

void kga_synth_name_canonical(const kga_synth_entity_t *e,
                              kga_synth_name_t *out)
{
    static const style_t canonical = {0, 0, JR_KEEP, ARTICLE_KEEP, 0, 0};
    name_build(e, &canonical, out);
}

/* ---- string noise ------------------------------------------------------ */

static const struct {
    const char *from, *to;
} accent_map[] = {
    {"á", "a"}, {"à", "a"}, {"â", "a"}, {"ä", "a"}, {"ã", "a"}, {"å", "a"},
    {"ą", "a"}, {"Á", "A"}, {"À", "A"}, {"Â", "A"}, {"Ä", "A"}, {"Ã", "A"},
    {"Å", "A"}, {"æ", "ae"}, {"Æ", "AE"}, {"ç", "c"}, {"ć", "c"},
    {"č", "c"}, {"Ç", "C"}, {"Ć", "C"}, {"Č", "C"}, {"ð", "d"}, {"đ", "d"},
    {"é", "e"}, {"è", "e"}, {"ê", "e"}, {"ë", "e"}, {"ę", "e"}, {"ě", "e"},
    {"É", "E"}, {"È", "E"}, {"Ê", "E"}, {"Ë", "E"}, {"ğ", "g"}, {"í", "i"},
    {"ì", "i"}, {"î", "i"}, {"ï", "i"}, {"ı", "i"}, {"Í", "I"}, {"Ì", "I"},
    {"Î", "I"}, {"Ï", "I"}, {"İ", "I"}, {"ł", "l"}, {"Ł", "L"}, {"ñ", "n"},
    {"ń", "n"}, {"ň", "n"}, {"Ñ", "N"}, {"ó", "o"}, {"ò", "o"}, {"ô", "o"},
    {"ö", "o"}, {"õ", "o"}, {"ø", "o"}, {"ő", "o"}, {"Ó", "O"}, {"Ò", "O"},
    {"Ô", "O"}, {"Ö", "O"}, {"Õ", "O"}, {"Ø", "O"}, {"œ", "oe"},
    {"ř", "r"}, {"ś", "s"}, {"š", "s"}, {"ş", "s"}, {"Ś", "S"}, {"Š", "S"},
    {"Ş", "S"}, {"ß", "ss"}, {"þ", "th"}, {"ú", "u"}, {"ù", "u"},
    {"û", "u"}, {"ü", "u"}, {"ů", "u"}, {"Ú", "U"}, {"Ù", "U"}, {"Û", "U"},
    {"Ü", "U"}, {"ý", "y"}, {"ÿ", "y"}, {"Ý", "Y"}, {"ź", "z"}, {"ż", "z"},
    {"ž", "z"}, {"Ź", "Z"}, {"Ż", "Z"}, {"Ž", "Z"},
};

size_t kga_synth_strip_accents(const char *in, size_t len, char *out,
                               size_t cap)
{
    size_t o = 0, i = 0;
    while (i < len) {
        const char *piece = in + i;
        /* A character is copied whole; a byte of no well-formed sequence
         * alone. */
        size_t piece_len = kga_utf8_decode((const unsigned char *)in + i,
                                           len - i, NULL, NULL);
        if (piece_len == 0)
            piece_len = 1;
        size_t step = piece_len;
        if ((unsigned char)in[i] >= 0x80) {
            for (size_t k = 0; k < sizeof accent_map / sizeof accent_map[0];
                 k++) {
                size_t from_len = strlen(accent_map[k].from);
                if (from_len <= len - i &&
                    memcmp(in + i, accent_map[k].from, from_len) == 0) {
                    piece = accent_map[k].to;
                    piece_len = strlen(piece);
                    step = from_len;
                    break;
                }
            }
        }
        if (o + piece_len + 1 > cap)
            break;
        memcpy(out + o, piece, piece_len);
        o += piece_len;
        i += step;
    }
    if (cap > 0)
        out[o] = '\0';
    return o;
}

static int is_ascii_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char replacement_letter(kga_rng_t *r, char old)
{
    int upper = old >= 'A' && old <= 'Z';
    char base = upper ? 'A' : 'a';
    /* Any letter but the old one, in the old one's case. */
    char c = (char)(base + kga_rng_below(r, ALPHABET_SIZE - 1));
    if (c >= old)
        c++;
    return c;
}

/* One typing error on an ASCII letter (multi-byte characters are left
 * alone, so the name stays valid UTF-8). */
static void typo(kga_synth_name_t *n, kga_rng_t *r)
{
    size_t letters = 0;
    for (size_t i = 0; i < n->len; i++)
        letters += is_ascii_letter(n->s[i]);
    if (letters == 0)
        return;
    size_t pick = kga_rng_below64(r, letters), at = 0;
    for (size_t seen = 0; at < n->len; at++)
        if (is_ascii_letter(n->s[at]) && seen++ == pick)
            break;
    enum { SWAP, DROP, REPLACE, KINDS } kind = kga_rng_below(r, KINDS);
    char *s = n->s;
    if (kind == SWAP && at + 1 < n->len && is_ascii_letter(s[at + 1]) &&
        s[at] != s[at + 1]) {
        char t = s[at];
        s[at] = s[at + 1];
        s[at + 1] = t;
    } else if (kind == DROP && letters >= MIN_LETTERS_TO_DROP) {
        memmove(s + at, s + at + 1, n->len - at); /* moves the NUL too */
        n->len--;
    } else {
        s[at] = replacement_letter(r, s[at]);
    }
}

static int has_non_ascii(const kga_synth_name_t *n)
{
    for (size_t i = 0; i < n->len; i++)
        if ((unsigned char)n->s[i] >= 0x80)
            return 1;
    return 0;
}

/* ---- variants -------------------------------------------------------- */

static int op_applies(variant_op_t op, const kga_synth_entity_t *e,
                      const kga_synth_name_t *canonical)
{
    int person = e->kind == KGA_SYNTH_PERSON;
    switch (op) {
    case OP_DROP_MIDDLE:
        return person && e->word[1] != KGA_SYNTH_NO_WORD;
    case OP_ADD_MIDDLE:
        return person && e->word[1] == KGA_SYNTH_NO_WORD;
    case OP_JR:
        return person && (e->flags & KGA_SYNTH_FLAG_JR);
    case OP_ARTICLE:
        return title_has_article(e);
    case OP_NUMERAL:
        return e->kind == KGA_SYNTH_FILM && e->sequel != 0;
    case OP_ACCENTS:
        return has_non_ascii(canonical);
    default:
        return 1;
    }
}

static variant_op_t pick_op(const kga_synth_entity_t *e,
                            const kga_synth_name_t *canonical,
                            unsigned taken, kga_rng_t *r)
{
    variant_op_t ops[OP_COUNT];
    uint32_t n = 0;
    for (int op = 0; op < OP_COUNT; op++)
        if (!(taken & (1u << op)) && op_applies((variant_op_t)op, e, canonical))
            ops[n++] = (variant_op_t)op;
    /* Typo and case always apply, so n > 0 unless both are taken. */
    return n > 0 ? ops[kga_rng_below(r, n)] : OP_COUNT;
}

static void style_apply(style_t *st, variant_op_t op, kga_rng_t *r)
{
    switch (op) {
    case OP_DROP_MIDDLE:
        st->drop_middle = 1;
        break;
    case OP_ADD_MIDDLE:
        st->middle_initial = (char)('A' + kga_rng_below(r, ALPHABET_SIZE));
        break;
    case OP_JR:
        st->jr = kga_rng_chance(r, DROP_NOT_MOVE_SHARE) ? JR_DROP : JR_COMMA;
        break;
    case OP_ARTICLE:
        st->article = kga_rng_chance(r, DROP_NOT_MOVE_SHARE) ? ARTICLE_DROP
                                                            : ARTICLE_SUFFIX;
        break;
    case OP_NUMERAL:
        st->arabic_sequel = 1;
        break;
    default:
        break;
    }
}

int kga_synth_name_variant(const kga_synth_entity_t *e, kga_rng_t *r,
                           double noise, kga_synth_name_t *out)
{
    style_t st = {0, 0, JR_KEEP, ARTICLE_KEEP, 0, 1};
    if (e->kind == KGA_SYNTH_GENRE || !kga_rng_chance(r, noise)) {
        name_build(e, &st, out);
        return e->kind == KGA_SYNTH_GENRE;
    }
    kga_synth_name_canonical(e, out);
    unsigned taken = 0;
    int rounds = kga_rng_chance(r, SECOND_VARIANT_SHARE) ? 2 : 1;
    for (int i = 0; i < rounds; i++) {
        variant_op_t op = pick_op(e, out, taken, r);
        if (op == OP_COUNT)
            break;
        taken |= 1u << op;
        style_apply(&st, op, r);
    }
    name_build(e, &st, out);
    if (taken & (1u << OP_ACCENTS)) {
        kga_synth_name_t plain;
        plain.len = kga_synth_strip_accents(out->s, out->len, plain.s,
                                            sizeof plain.s);
        *out = plain;
    }
    if (taken & (1u << OP_TYPO))
        typo(out, r);
    if (taken & (1u << OP_CASE)) {
        if (kga_rng_chance(r, CASE_LOWER_SHARE))
            ascii_lower(out);
        else
            ascii_upper(out);
    }
    return 1;
}
