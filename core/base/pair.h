#ifndef KGA_PAIR_H
#define KGA_PAIR_H

#include <stdint.h>

/* A left and a right internal entity id: a link, a seed (a pair known or
 * believed to match), or a candidate pair to score. The one pair type of
 * the model code. */
typedef struct {
    uint32_t left, right;
} kga_pair_t;

#endif
