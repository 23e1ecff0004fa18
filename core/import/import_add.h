#ifndef KGA_IMPORT_ADD_H
#define KGA_IMPORT_ADD_H

#include <stdint.h>

#include "base/error.h"

/* `kgalign add`: new entities, triples and attributes for one graph store,
 * written as its next generation (store.h, kga_store_write_next()). The
 * files have the OpenEA line format of `kgalign import`:
 *   triples     head TAB relation TAB tail
 *   attributes  entity TAB key TAB literal (the literal is the rest of the
 *               line)
 * An entity of the store named in a file keeps its id and gains the
 * triples and attributes; its name and type stay as they are, since a
 * model trained on the store knows it by them. A new entity gets its name
 * and type as the importer gives them (store/names.h: the best label, else
 * the URI; rdf:type triples and type attributes, the bytewise smallest).
 * A triple whose relation the store does not have is skipped and counted:
 * a relation is part of what a model was trained on, so a new one needs a
 * new import and training. Nothing is written unless every line was read;
 * a malformed line fails with "FILE:LINE: what". */

typedef struct {
    const char *store;      /* the store to extend; replaced by the result */
    const char *triples;    /* may be NULL when attributes is given */
    const char *attributes; /* may be NULL */
} kga_add_params_t;

typedef struct {
    uint32_t generation;            /* of the store written */
    uint32_t entities_before, entities;
    uint64_t triples_before, triples;
    uint64_t attributes_before, attributes;
    uint32_t touched;               /* entities of the store given more */
    uint64_t unknown_relations;     /* triples skipped: relation not in it */
    uint64_t duplicates;            /* triples it had already */
    uint64_t lines;                 /* lines read, both files */
    double seconds;
} kga_add_summary_t;

/* Reads the files and writes the store's next generation over p->store
 * (a temporary file beside it, renamed into place). *summary (may be NULL)
 * is filled on success. Returns 0 or a KGA_E* code with err naming the
 * file and line (KGA_EPARSE), the store (KGA_ENOENT, KGA_EFORMAT...),
 * KGA_EIO or KGA_ENOMEM. */
int kga_add_run(const kga_add_params_t *p, kga_add_summary_t *summary,
                kga_err_t *err);

#endif
