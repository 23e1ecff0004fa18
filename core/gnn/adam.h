#ifndef KGA_ADAM_H
#define KGA_ADAM_H

#include <stddef.h>
#include <stdint.h>

/* Adam (Kingma and Ba) with decoupled weight decay (AdamW, Loshchilov and
 * Hutter). The state here is the step counter and the hyper-parameters; the
 * moment buffers belong to the caller, one pair per parameter tensor, so
 * that embedding tables can be updated lazily row by row (only the rows a
 * batch touched, as TensorFlow's LazyAdam does: an untouched row keeps its
 * moments and gets no decay for that step). Nothing allocates, nothing
 * fails. */

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
    uint64_t step;
    float lr_t;  /* lr * sqrt(1 - beta2^t) / (1 - beta1^t) for this step */
    float eps_t; /* eps * sqrt(1 - beta2^t), so that the bias-corrected form
                  * mhat / (sqrt(vhat) + eps) is computed exactly */
} kga_adam_t;

void kga_adam_init(kga_adam_t *a, float lr, float beta1, float beta2,
                   float eps, float weight_decay);

/* Starts the next step (t = 1, 2, ...): call once before the updates of a
 * step. */
void kga_adam_begin_step(kga_adam_t *a);

/* Updates n parameters p with gradient g and moments m, v (zero at start):
 * m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
 * p -= lr (mhat / (sqrt(vhat) + eps) + weight_decay p). Separate ranges of
 * one step may be updated from different threads. */
void kga_adam_update(const kga_adam_t *a, float *p, float *m, float *v,
                     const float *g, size_t n);

#endif
