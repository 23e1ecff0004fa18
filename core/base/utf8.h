#ifndef KGA_UTF8_H
#define KGA_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* The one UTF-8 decoder of kgalign. Well-formed means what Unicode's table
 * 3-7 (and RFC 3629) says: no overlong forms, no surrogates (U+D800 to
 * U+DFFF), nothing above U+10FFFF, no truncated sequence. The line reader,
 * the import's %XX decoding, the name features, the synthetic names and the
 * JSON encoders all decide with these two functions, so that a byte string
 * one of them accepts is never refused by another; the names' and the
 * messages' quotes cut long strings with the third.
 *
 * Nothing here allocates; nothing can fail other than by saying "not
 * well-formed". */

/* Decodes the code point at the start of the n bytes at s. Returns its
 * length, 1 to 4, and stores the code point in *cp (cp may be NULL). When
 * the bytes do not start a well-formed sequence (or n is 0) it returns 0
 * and stores in *bad (may be NULL) the length of the sequence's maximal
 * subpart: the 1 to 3 bytes that one U+FFFD replaces under Unicode's
 * "substitution of maximal subparts" (0 when n is 0). */
size_t kga_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp,
                       size_t *bad);

/* Where to cut a string that is longer than n bytes without splitting a
 * character: n, or less when s[n] continues a sequence begun before it
 * (then the cut moves back to that sequence's lead byte, over at most the
 * 3 continuation bytes a sequence has). s must have a byte at offset n. */
size_t kga_utf8_cut(const char *s, size_t n);

/* 1 when all len bytes at s are well-formed UTF-8; otherwise 0, and
 * *bad_offset (may be NULL) gets the offset of the first sequence that is
 * not. */
int kga_utf8_valid(const char *s, size_t len, size_t *bad_offset);

/* Writes code point cp (at most U+10FFFF, not a surrogate: the caller
 * checks) as UTF-8 to out, which has room for 4 bytes. Returns the length,
 * 1 to 4. For escapes that spell code points (N-Triples' \uXXXX). */
size_t kga_utf8_encode(uint32_t cp, char *out);

#endif
