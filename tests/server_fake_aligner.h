#ifndef KGA_TESTS_SERVER_FAKE_ALIGNER_H
#define KGA_TESTS_SERVER_FAKE_ALIGNER_H

/* A test double of core/align/aligner.h (and of the entities described
 * inline, core/align/inline_entity.h) for the server's tests, and the
 * fixture it serves (tests/server_fake_aligner.c). Linked before the
 * libraries into tests/test_server and tests/test_overload, so that its
 * kga_aligner_* and kga_inline_entity_* functions stand in for the real
 * ones there; never linked into kgalign. An entity described inline scores
 * as a stored entity with its id would; it is refused when it has no
 * attribute and no edge to an entity of the store.
 *
 * The "model" is a text file whose first line is
 *   kgalign-fake-model <16 hex digits: the model version>
 * anything else fails to open with KGA_EMAGIC, which is how the tests make a
 * reload fail. Scores: a pair whose external ids agree after their first
 * ':' ("L:e3" and "R:e3") has distance 0.1 and probability 0.9, any other
 * pair distance 0.9 and probability 0.1.
 *
 * Environment knobs, read at open:
 *   KGA_FAKE_SCORE_DELAY_MS  sleep this long in every score/match call
 *   KGA_FAKE_OPEN_DELAY_MS   sleep this long in kga_aligner_open
 *   KGA_FAKE_SCORE_GATE      a path: every score/match call first waits
 *                            until that file exists
 *   KGA_FAKE_OPEN_GATE       a path: kga_aligner_open first waits until
 *                            that file exists
 * The gates let a test hold a request or a load for as long as it needs,
 * whatever the machine's speed: it opens one by creating the file
 * (gate_open()), and closes it again by removing it. */

#include <stddef.h>

#define FAKE_MAGIC "kgalign-fake-model "
/* The version of the model make_fixture() writes. */
#define FAKE_MODEL_VERSION "0123456789abcdef"

/* Writes the fixture, two small stores ("L:e0".."L:e9" and "R:e0".."R:e9",
 * each a chain of "next" triples) and a fake model, in dir, or in a new
 * temporary directory when dir is NULL; names it in data_dir
 * (tests/server_harness.h). Fixture code: failures exit (FIXTURE_CHECK),
 * in a test or not. */
void make_fixture(const char *dir);
/* Replaces data_dir/model.kgm with content (by rename, never in place). */
void set_model(const char *content);
/* Removes what make_fixture() wrote, and the server's log. */
void remove_fixture(void);

/* A gate's path, data_dir/NAME.gate, into out (at least 300 bytes); the
 * gate starts closed (the file removed). */
void gate_init(char *out, size_t cap, const char *name);
/* Opens the gate: creates the file. */
void gate_open(const char *path);

#endif
