#ifndef KGA_LINKS_H
#define KGA_LINKS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "store/store.h"

/* Alignment links between two graphs: pairs (left external id, right
 * external id). On disk a links file is UTF-8 text, one link per line,
 * "LEFT<TAB>RIGHT\n", written sorted by the bytes of LEFT then RIGHT so that
 * the file does not depend on how it was produced. The import writes
 * OUT_DIR/{train,valid,test}_links.tsv; training and evaluation read them
 * back and resolve them against the two stores.
 *
 * A kga_links_t owns copies of its strings. Functions return 0 or a negative
 * KGA_E* code; readers and resolvers fill err with "PATH:LINE: what". */

typedef struct {
    const char *left, *right; /* owned by the set */
    uint64_t line;            /* line in the source file; 0 when none */
    uint32_t tag;             /* caller's mark (e.g. which file); 0 default */
} kga_link_t;

typedef struct kga_links kga_links_t;

/* An empty set; NULL on out of memory. `source` (copied, may be NULL) names
 * where the links come from, for messages. */
kga_links_t *kga_links_new(const char *source);
void kga_links_free(kga_links_t *l);

/* Appends a link (strings copied). KGA_EINVAL when an id is empty or holds a
 * tab, CR or LF (it could not be written back); KGA_ENOMEM. */
int kga_links_add(kga_links_t *l, const char *left, const char *right,
                  uint64_t line, uint32_t tag);

size_t kga_links_count(const kga_links_t *l);
/* The links in their current order; valid until the set changes. */
const kga_link_t *kga_links_items(const kga_links_t *l);
/* The source given to kga_links_new() or the path read ("" when none). */
const char *kga_links_source(const kga_links_t *l);

/* The canonical order of links: LEFT bytes, then RIGHT, then tag, then
 * line. Negative, 0 or positive, as strcmp. */
int kga_link_compare(const kga_link_t *a, const kga_link_t *b);

/* Sorts into the canonical order. */
void kga_links_sort(kga_links_t *l);

/* Checks that no left id and no right id occurs twice. KGA_EDUPLICATE with
 * a message naming both lines of the first conflict in canonical order. */
int kga_links_check_one_to_one(const kga_links_t *l, kga_err_t *err);

/* Reads a links file: two non-empty tab-separated fields per line, blank
 * lines ignored, links 1:1. *out is NULL on failure. KGA_ENOENT, KGA_EIO,
 * KGA_EPARSE, KGA_ELIMIT (line too long), KGA_EDUPLICATE, KGA_ENOMEM. */
int kga_links_read(const char *path, kga_links_t **out, kga_err_t *err);

/* Writes the links in canonical order (the set itself is not reordered) to
 * a temporary file next to path, fsyncs it and renames it into place. */
int kga_links_write(const char *path, const kga_links_t *l, kga_err_t *err);

/* Labelled pairs: the same sets with the label (0 or 1) as the tag. On
 * disk "LEFT<TAB>RIGHT<TAB>LABEL\n", sorted canonically, repeats kept: a
 * labelled pair file is the candidate pairs a blocker produced with their
 * labels (the import writes OUT_DIR/{train,valid,test}_pairs.tsv). */
int kga_links_write_labelled(const char *path, const kga_links_t *l,
                             kga_err_t *err);

/* Reads a labelled pair file: three non-empty tab-separated fields per
 * line, the third 0 or 1 (the tag), blank lines ignored, no 1:1 rule.
 * Errors as kga_links_read, naming the line and the field. */
int kga_links_read_labelled(const char *path, kga_links_t **out,
                            kga_err_t *err);

/* Resolves every link against the stores: left_ids[i] / right_ids[i] (the
 * caller's arrays of kga_links_count() entries) get the internal ids of
 * link i. KGA_EUNKNOWN_ID naming the source, line and id when an id is not
 * in its store. */
int kga_links_resolve(const kga_links_t *l, const kga_store_t *left,
                      const kga_store_t *right, uint32_t *left_ids,
                      uint32_t *right_ids, kga_err_t *err);

#endif
