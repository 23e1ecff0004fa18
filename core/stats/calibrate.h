#ifndef KGA_CALIBRATE_H
#define KGA_CALIBRATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Probability calibration and the final pair scorer.
 *
 * kga_calib_*: Platt scaling, p = sigmoid(a * x + b) for one raw value x (a
 * model distance, or a score), fitted by maximum likelihood on labelled
 * pairs so that a probability of 0.9 means about 90% of such pairs match.
 *
 * kga_logreg_*: logistic regression p = sigmoid(w . f + b) over a small
 * dense feature vector (GNN distance, name cosine, structural similarity,
 * ...), for the scorer fitted on validation pairs. Features are
 * standardised inside: the model keeps each feature's mean and scale next
 * to the weights, so callers pass raw features.
 *
 * Both fit with Newton's method (IRLS) and a backtracking line search on the
 * penalised negative log-likelihood, in standardised coordinates, with a
 * small L2 prior on every parameter (the intercept included) that keeps the
 * fit finite on separable data. Labels are bytes 0 or 1. Nothing here
 * allocates or keeps a pointer to the caller's arrays; a fit costs about
 * n * (dim + 1)^2 operations per Newton iteration (typically 5 to 10). */

/* Enough for the attribute features (KGA_ATTR_MAX_FEATURES). */
#define KGA_LOGREG_MAX_DIM 64u

/* ------------------------------------------------------------------------
 * One-value calibration
 * ------------------------------------------------------------------------ */

typedef struct {
    double a, b; /* p = sigmoid(a * x + b) */
} kga_calib_t;

typedef struct {
    double l2;         /* prior strength in standardised units (1e-3) */
    int platt_targets; /* Platt's smoothed targets instead of 0/1 (0) */
    int max_iter;      /* Newton iterations (100) */
    double tol;        /* stop when the largest step is below this (1e-10) */
} kga_calib_options_t;

/* The defaults in parentheses above. */
void kga_calib_options_init(kga_calib_options_t *o);

/* Fits *out on x[0..n) with labels y[0..n) (options NULL = defaults).
 * Returns 0, or KGA_EINVAL (n == 0, a NaN or infinite x, a label other than
 * 0 or 1, or only one class present: calibration needs both) or
 * KGA_ENUMERIC (no convergence, possible only with l2 = 0), with a message;
 * *out is untouched on failure. A constant x is not an error: the fit is
 * then a = 0 and b = the (slightly shrunk) log-odds of the positive rate,
 * which is the calibrated answer when x carries no information. */
int kga_calib_fit(const float *x, const uint8_t *y, size_t n,
                  const kga_calib_options_t *options, kga_calib_t *out,
                  kga_err_t *err);

/* sigmoid(a * x + b), computed without overflow. */
double kga_calib_prob(const kga_calib_t *c, double x);

/* p[i] = kga_calib_prob(c, x[i]) for i < n. */
void kga_calib_apply(const kga_calib_t *c, const float *x, size_t n,
                     float *p);

/* As two floats {a, b} for a model file, and back (KGA_EINVAL when either
 * is not finite). */
void kga_calib_pack(const kga_calib_t *c, float out[2]);
int kga_calib_unpack(const float in[2], kga_calib_t *c, kga_err_t *err);

/* ------------------------------------------------------------------------
 * Evaluation of probabilities p[i] against labels y[i]
 * ------------------------------------------------------------------------ */

/* Expected calibration error over `bins` equal-width bins of [0, 1] (use
 * 10): sum over bins of (bin size / n) * |mean p - fraction positive|. p = 1
 * falls in the last bin. NaN when n == 0, bins is not in 1..1000, or some
 * p is outside [0, 1] or NaN. */
double kga_calib_ece(const float *p, const uint8_t *y, size_t n, int bins);

/* Mean negative log-likelihood, with p clamped to [1e-15, 1 - 1e-15]. NaN
 * when n == 0 or some p is outside [0, 1] or NaN. */
double kga_calib_log_loss(const float *p, const uint8_t *y, size_t n);

/* ------------------------------------------------------------------------
 * Multi-feature logistic regression
 * ------------------------------------------------------------------------ */

typedef struct {
    uint32_t dim;
    double mean[KGA_LOGREG_MAX_DIM];  /* feature means on the training set */
    double scale[KGA_LOGREG_MAX_DIM]; /* standard deviations (1 if 0) */
    double w[KGA_LOGREG_MAX_DIM];     /* weights on standardised features */
    double b;                         /* intercept, standardised */
} kga_logreg_t;

typedef struct {
    double l2;    /* prior strength in standardised units (1e-3) */
    int max_iter; /* Newton iterations (100) */
    double tol;   /* stop when the largest step is below this (1e-10) */
} kga_logreg_options_t;

void kga_logreg_options_init(kga_logreg_options_t *o);

/* Fits *out on n rows of dim features (f[i * dim + j], raw units) with
 * labels y (options NULL = defaults). Returns 0, KGA_EINVAL (n == 0, dim 0
 * or above KGA_LOGREG_MAX_DIM, a NaN or infinite feature, a label other
 * than 0 or 1, only one class) or KGA_ENUMERIC (no convergence), with a
 * message; *out untouched on failure. A constant feature gets weight 0. */
int kga_logreg_fit(const float *f, const uint8_t *y, size_t n, uint32_t dim,
                   const kga_logreg_options_t *options, kga_logreg_t *out,
                   kga_err_t *err);

/* w . standardise(f) + b, and its sigmoid, for one raw feature vector. */
double kga_logreg_logit(const kga_logreg_t *m, const float *f);
double kga_logreg_prob(const kga_logreg_t *m, const float *f);

/* The same model in raw feature units: logit = w_raw . f + *b_raw. */
void kga_logreg_raw_weights(const kga_logreg_t *m, double *w_raw,
                            double *b_raw);

/* Serialised as 3 * dim + 1 floats: {b, mean[dim], scale[dim], w[dim]}
 * (store it as an f32 tensor). Unpack derives dim from count and returns
 * KGA_EINVAL (count not 3 * dim + 1 with 1 <= dim <= KGA_LOGREG_MAX_DIM, a
 * value not finite, a scale not positive) with a message. */
size_t kga_logreg_float_count(uint32_t dim);
void kga_logreg_pack(const kga_logreg_t *m, float *out);
int kga_logreg_unpack(const float *in, size_t count, kga_logreg_t *m,
                      kga_err_t *err);

#endif
