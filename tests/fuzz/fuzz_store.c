/* Fuzzes the graph store validator. Each input is checked twice:
 *   1. as it is, by kga_store_validate();
 *   2. when it starts with the magic, repaired so that mutations get past the
 *      cheap header checks: the length cut to a multiple of 64, the size
 *      field set to it and the checksum recomputed; then opened with
 *      kga_store_open_buffer().
 * Oracles: documented return codes only, with a message; validate and open
 * agree; and a store that opens is walked through every accessor, which do
 * no checks of their own, so a hole in the validator shows up as an ASan
 * report here (plus: every entity is found by its external id, ids and
 * counts are in range). */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "base/hash.h"
#include "store/store.h"
#include "store/store_format.h"

static const int fuzz_store_codes[] = {
    KGA_ETRUNCATED, KGA_EMAGIC,  KGA_EENDIAN, KGA_EVERSION, KGA_EFORMAT,
    KGA_ECHECKSUM,  KGA_ERANGE,  KGA_ENOMEM,  0};

static int fuzz_store_walk(const kga_store_t *s)
{
    uint32_t n = kga_store_entity_count(s);
    uint32_t types = kga_store_type_count(s);
    uint32_t rels = kga_store_relation_count(s);
    uint32_t keys = kga_store_attr_key_count(s);
    uint64_t triples = 0, attrs = 0, sum = 0;
    for (uint32_t t = 0; t < types; t++)
        sum += fuzz_touch_str(kga_store_type_name(s, t));
    for (uint32_t r = 0; r < rels; r++)
        sum += fuzz_touch_str(kga_store_relation_name(s, r));
    for (uint32_t k = 0; k < keys; k++)
        sum += fuzz_touch_str(kga_store_attr_key_name(s, k));
    for (uint32_t e = 0; e < n; e++) {
        const char *ext = kga_store_entity_ext_id(s, e);
        if (fuzz_touch_str(ext) == 0)
            return fuzz_fail("store: entity %u has an empty id", e);
        if (kga_store_lookup(s, ext) != (int64_t)e)
            return fuzz_fail("store: entity %u not found by its id", e);
        sum += fuzz_touch_str(kga_store_entity_name(s, e));
        uint32_t type = kga_store_entity_type(s, e);
        if (type != KGA_NO_TYPE && type >= types)
            return fuzz_fail("store: entity %u has type %u of %u", e, type,
                             types);
        for (int dir = KGA_DIR_OUT; dir <= KGA_DIR_IN; dir++) {
            const kga_edge_t *edges;
            uint32_t m = kga_store_edges(s, e, (kga_dir_t)dir, &edges);
            for (uint32_t j = 0; j < m; j++) {
                if (edges[j].rel >= rels || edges[j].ent >= n)
                    return fuzz_fail("store: edge out of range");
                /* 0 for no row, else a mean over non-empty lists. */
                float f = kga_store_fanout(s, type, edges[j].rel,
                                           (kga_dir_t)dir);
                if (!(f == 0.0f || (f >= 1.0f && f <= FLT_MAX)))
                    return fuzz_fail("store: fan-out %g", (double)f);
                sum += f != 0.0f;
            }
            if (dir == KGA_DIR_OUT)
                triples += m;
        }
        const kga_attr_t *a;
        uint32_t na = kga_store_attrs(s, e, &a);
        for (uint32_t j = 0; j < na; j++) {
            if (a[j].key >= keys)
                return fuzz_fail("store: attribute key out of range");
            sum += fuzz_touch_str(kga_store_attr_literal(s, &a[j]));
        }
        attrs += na;
    }
    if (triples != kga_store_triple_count(s) ||
        attrs != kga_store_attribute_count(s))
        return fuzz_fail("store: counts disagree with the lists");
    /* Ids that are not there: no entity, and the probe must end. */
    if (kga_store_lookup(s, "") != -1)
        return fuzz_fail("store: the empty id was found");
    sum += (uint64_t)kga_store_lookup(s, "http://example.org/absent");
    sum += kga_store_fanout(s, KGA_NO_TYPE, UINT32_MAX, KGA_DIR_IN) != 0.0f;
    sum += kga_store_fingerprint(s) + kga_store_version(s) +
           kga_store_byte_size(s) + fuzz_touch_str(kga_store_path(s));
    fuzz_sink = sum;
    return 0;
}

static int fuzz_store_one(const uint8_t *data, size_t size)
{
    uint8_t *buf = fuzz_copy(data, size);
    if (buf == NULL)
        return 0;
    kga_err_t err;
    int rc = kga_store_validate(buf, size, &err);
    int bad = fuzz_check_rc("store validate", rc, &err, fuzz_store_codes);
    free(buf);
    if (bad || size < KGA_STORE_HEADER_SIZE ||
        memcmp(data, KGA_STORE_MAGIC, KGA_STORE_MAGIC_LEN) != 0)
        return bad;

    size_t len = size / KGA_STORE_ALIGN * KGA_STORE_ALIGN;
    buf = fuzz_copy(data, len);
    if (buf == NULL)
        return 0;
    uint64_t file_size = len;
    uint64_t sum = kga_hash64(buf + KGA_STORE_HEADER_SIZE,
                              len - KGA_STORE_HEADER_SIZE);
    memcpy(buf + offsetof(kga_store_header_t, file_size), &file_size, 8);
    memcpy(buf + offsetof(kga_store_header_t, checksum), &sum, 8);
    int vrc = kga_store_validate(buf, len, &err);
    bad = fuzz_check_rc("store validate (repaired)", vrc, &err,
                        fuzz_store_codes);
    kga_store_t *s = NULL;
    rc = kga_store_open_buffer(buf, len, &s, &err);
    bad |= fuzz_check_rc("store open", rc, &err, fuzz_store_codes);
    if (!bad && (rc == 0) != (s != NULL))
        bad = fuzz_fail("store open: returned %d with store %p", rc,
                        (void *)s);
    if (!bad && rc != vrc)
        bad = fuzz_fail("store: validate says %d, open says %d", vrc, rc);
    if (!bad && s != NULL)
        bad = fuzz_store_walk(s);
    kga_store_close(s);
    free(buf);
    return bad;
}

KGA_FUZZ_ENTRY(fuzz_store_one)
