/* Writes a small model file with every kind of section, for the fuzz_model
 * seed corpus (tests/fuzz/make-seeds.sh): tensors of 0 to 4 dimensions, an
 * empty one, u32 and u64 arrays, text, and two settings sections. Not a
 * harness: run.sh does not build it.
 *
 *   seed_model OUT.kgm */
#include <stdio.h>

#include "model/model_file.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seed_model OUT.kgm\n");
        return 2;
    }
    kga_model_writer_t *w;
    kga_err_t err;
    if (kga_model_writer_new(argv[1], &w, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    static const float f[24] = {1, -2, 0.5f, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                                12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                23};
    static const uint32_t u32s[3] = {0, 7, 4294967295u};
    static const uint64_t u64s[2] = {42, 18446744073709551615ull};
    kga_model_writer_add_tensor(w, "scalar", f, 0, NULL);
    kga_model_writer_add_tensor(w, "vec", f, 1, (const uint64_t[]){5});
    kga_model_writer_add_tensor(w, "mat", f, 2, (const uint64_t[]){2, 3});
    kga_model_writer_add_tensor(w, "t4", f, 4,
                                (const uint64_t[]){1, 2, 3, 4});
    kga_model_writer_add_tensor(w, "empty", f, 2, (const uint64_t[]){0, 8});
    kga_model_writer_add_u32s(w, "ids", u32s, 3);
    kga_model_writer_add_u64s(w, "stores", u64s, 2);
    kga_model_writer_add_text(w, "readme", "model for fuzzing: Zürich 東京");
    kga_model_kv_t *kv = kga_model_kv_new();
    kga_model_kv_set_int(kv, "a.int", -12);
    kga_model_kv_set_u64(kv, "a.u64", 18446744073709551615ull);
    kga_model_kv_set_double(kv, "a.double", 0.1);
    kga_model_kv_set_str(kv, "a.str", "x=y é");
    kga_model_writer_add_kv(w, "settings", kv);
    kga_model_kv_free(kv);
    kv = kga_model_kv_new();
    kga_model_kv_set_str(kv, "b:path/x-y_z", "");
    kga_model_writer_add_kv(w, "settings2", kv);
    kga_model_kv_free(kv);
    int rc = kga_model_writer_commit(w, &err);
    if (rc != 0)
        fprintf(stderr, "%s\n", err.msg);
    kga_model_writer_free(w);
    return rc != 0;
}
