/* Adam with decoupled weight decay. */
#include "gnn/adam.h"

#include <math.h>

void kga_adam_init(kga_adam_t *a, float lr, float beta1, float beta2,
                   float eps, float weight_decay)
{
    a->lr = lr;
    a->beta1 = beta1;
    a->beta2 = beta2;
    a->eps = eps;
    a->weight_decay = weight_decay;
    a->step = 0;
    a->lr_t = 0.0f;
    a->eps_t = eps;
}

void kga_adam_begin_step(kga_adam_t *a)
{
    a->step++;
    double t = (double)a->step;
    double c1 = 1.0 - pow((double)a->beta1, t);
    double c2 = sqrt(1.0 - pow((double)a->beta2, t));
    a->lr_t = (float)((double)a->lr * c2 / c1);
    a->eps_t = (float)((double)a->eps * c2);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define ADAM_AVX2 1

/* The scalar loop below, eight at a time, operation for operation (no
 * fused multiply-add), so both give the same bits. The compiler does not
 * vectorise the scalar loop itself: sqrtf may set errno. */
__attribute__((target("avx2"))) static size_t
adam_avx2(const kga_adam_t *a, float *p, float *m, float *v, const float *g,
          size_t n)
{
    const __m256 b1 = _mm256_set1_ps(a->beta1);
    const __m256 c1 = _mm256_set1_ps(1.0f - a->beta1);
    const __m256 b2 = _mm256_set1_ps(a->beta2);
    const __m256 c2 = _mm256_set1_ps(1.0f - a->beta2);
    const __m256 lr = _mm256_set1_ps(a->lr_t);
    const __m256 eps = _mm256_set1_ps(a->eps_t);
    const __m256 decay = _mm256_set1_ps(a->lr * a->weight_decay);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gv = _mm256_loadu_ps(g + i);
        __m256 mv = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)),
                                  _mm256_mul_ps(c1, gv));
        __m256 vv = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)),
                                  _mm256_mul_ps(_mm256_mul_ps(c2, gv), gv));
        _mm256_storeu_ps(m + i, mv);
        _mm256_storeu_ps(v + i, vv);
        __m256 pv = _mm256_loadu_ps(p + i);
        __m256 step = _mm256_div_ps(_mm256_mul_ps(lr, mv),
                                    _mm256_add_ps(_mm256_sqrt_ps(vv), eps));
        step = _mm256_add_ps(step, _mm256_mul_ps(decay, pv));
        _mm256_storeu_ps(p + i, _mm256_sub_ps(pv, step));
    }
    return i;
}
#endif

/* mhat / (sqrt(vhat) + eps) = (m / c1) / (sqrt(v) / c2 + eps)
 *                           = (c2 / c1) m / (sqrt(v) + eps c2). */
void kga_adam_update(const kga_adam_t *a, float *p, float *m, float *v,
                     const float *g, size_t n)
{
    float b1 = a->beta1, b2 = a->beta2;
    float decay = a->lr * a->weight_decay;
    size_t start = 0;
#ifdef ADAM_AVX2
    if (__builtin_cpu_supports("avx2"))
        start = adam_avx2(a, p, m, v, g, n);
#endif
    for (size_t i = start; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] = p[i] - (a->lr_t * m[i] / (sqrtf(v[i]) + a->eps_t) +
                       decay * p[i]);
    }
}
