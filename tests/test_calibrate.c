/* Calibration and the logistic scorer on synthetic data drawn from known
 * logistic models: the fits recover the parameters (or, for the scorer, the
 * direction of the weights), the calibrated outputs are well calibrated,
 * the metrics match hand-computed values and detect miscalibration, and
 * degenerate inputs fail clearly. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "stats/calibrate.h"

#include "testutil.h"

/* ------------------------------------------------------------------------
 * Synthetic data
 * ------------------------------------------------------------------------ */

typedef struct {
    uint64_t s;
} rng_t;

static uint64_t rng_next(rng_t *r)
{
    /* splitmix64 */
    return kga_rng_hash(r->s += 0x9e3779b97f4a7c15ull);
}

/* Uniform in (0, 1). */
static double rng_uniform(rng_t *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(rng_t *r)
{
    return sqrt(-2.0 * log(rng_uniform(r))) * cos(6.283185307179586 *
                                                  rng_uniform(r));
}

static double sigmoid(double z)
{
    return 1.0 / (1.0 + exp(-z));
}

#define TRUE_A (-1.5)
#define TRUE_B 4.0

/* n distances x in [0, 6) labelled by p = sigmoid(TRUE_A x + TRUE_B). */
static void logistic_data(size_t n, uint64_t seed, float *x, uint8_t *y)
{
    rng_t r = {seed};
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)(6.0 * rng_uniform(&r));
        y[i] = rng_uniform(&r) < sigmoid(TRUE_A * x[i] + TRUE_B);
    }
}

/* ------------------------------------------------------------------------
 * One-value calibration
 * ------------------------------------------------------------------------ */

START_TEST(calibration_recovers_known_parameters)
{
    enum { N = 50000 };
    float *x = malloc(N * sizeof *x);
    uint8_t *y = malloc(N);
    logistic_data(N, 1, x, y);
    kga_calib_t c = {0, 0};
    kga_err_t err;
    int rc = kga_calib_fit(x, y, N, NULL, &c, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    /* Standard errors here are about 0.02 (a) and 0.05 (b). */
    ck_assert_msg(fabs(c.a - TRUE_A) < 0.08, "a = %g", c.a);
    ck_assert_msg(fabs(c.b - TRUE_B) < 0.25, "b = %g", c.b);
    ck_assert(fabs(kga_calib_prob(&c, 2.0) - sigmoid(TRUE_A * 2 + TRUE_B)) <
              0.02);

    /* Platt's targets shrink slightly towards 1/2 but land as close. */
    kga_calib_options_t o;
    kga_calib_options_init(&o);
    o.platt_targets = 1;
    kga_calib_t cp;
    ck_assert_int_eq(kga_calib_fit(x, y, N, &o, &cp, &err), 0);
    ck_assert_msg(fabs(cp.a - TRUE_A) < 0.08, "a = %g", cp.a);
    ck_assert_msg(fabs(cp.b - TRUE_B) < 0.25, "b = %g", cp.b);

    /* A score (higher = more alike) gives a positive slope. */
    for (size_t i = 0; i < N; i++)
        x[i] = -x[i];
    kga_calib_t cs;
    ck_assert_int_eq(kga_calib_fit(x, y, N, NULL, &cs, &err), 0);
    ck_assert(fabs(cs.a + c.a) < 1e-6 && fabs(cs.b - c.b) < 1e-6);
    free(x);
    free(y);
}
END_TEST

/* The fitted probabilities are calibrated on fresh data from the same
 * model; the metrics tell them apart from overconfident ones. */
START_TEST(calibrated_outputs_have_small_ece)
{
    enum { N = 40000 };
    float *x = malloc(N * sizeof *x), *p = malloc(N * sizeof *p);
    float *q = malloc(N * sizeof *q);
    uint8_t *y = malloc(N);
    logistic_data(N, 2, x, y);
    kga_calib_t c;
    ck_assert_int_eq(kga_calib_fit(x, y, N, NULL, &c, NULL), 0);
    logistic_data(N, 3, x, y); /* held-out */
    kga_calib_apply(&c, x, N, p);
    kga_calib_t over = {3 * TRUE_A, 3 * TRUE_B};
    kga_calib_apply(&over, x, N, q);

    double ece = kga_calib_ece(p, y, N, 10);
    double ece_over = kga_calib_ece(q, y, N, 10);
    ck_assert_msg(ece < 0.015, "ECE %g", ece);
    ck_assert_msg(ece_over > 0.04, "overconfident ECE %g", ece_over);
    double ll = kga_calib_log_loss(p, y, N);
    double ll_over = kga_calib_log_loss(q, y, N);
    ck_assert_msg(ll < ll_over - 0.05, "log loss %g vs %g", ll, ll_over);

    /* Within noise of the true model's log loss. */
    kga_calib_t truth = {TRUE_A, TRUE_B};
    kga_calib_apply(&truth, x, N, q);
    ck_assert_msg(fabs(ll - kga_calib_log_loss(q, y, N)) < 0.005,
                  "log loss %g vs true %g", ll, kga_calib_log_loss(q, y, N));
    free(x);
    free(p);
    free(q);
    free(y);
}
END_TEST

START_TEST(metrics_match_hand_computation)
{
    const float p[4] = {0.05f, 0.15f, 0.95f, 1.0f};
    const uint8_t y[4] = {0, 1, 1, 1};
    /* Bins: {0.05} -> |0.05 - 0|, {0.15} -> |0.15 - 1|, {0.95, 1} -> |1.95 -
     * 2|, each weighted by its share of the 4 values. */
    double want = (0.05 + 0.85 + 0.05) / 4;
    ck_assert_msg(fabs(kga_calib_ece(p, y, 4, 10) - want) < 1e-6, "%g",
                  kga_calib_ece(p, y, 4, 10));
    /* One bin: |mean p - mean y|. */
    ck_assert(fabs(kga_calib_ece(p, y, 4, 1) - fabs(2.15 - 3) / 4) < 1e-6);
    double ll = -(log(0.95) + log(0.15) + log(0.95) + log(1 - 1e-15)) / 4;
    ck_assert_msg(fabs(kga_calib_log_loss(p, y, 4) - ll) < 1e-6, "%g",
                  kga_calib_log_loss(p, y, 4));
    /* A confident mistake costs log(1e15), not infinity. */
    const float wrong[1] = {0.0f};
    const uint8_t one[1] = {1};
    ck_assert(fabs(kga_calib_log_loss(wrong, one, 1) - log(1e15)) < 1e-6);

    ck_assert(isnan(kga_calib_ece(p, y, 0, 10)));
    ck_assert(isnan(kga_calib_ece(p, y, 4, 0)));
    ck_assert(isnan(kga_calib_ece(p, y, 4, 1001)));
    ck_assert(isnan(kga_calib_log_loss(p, y, 0)));
    const float bad[2] = {0.5f, 1.5f}, nan_p[2] = {0.5f, NAN};
    ck_assert(isnan(kga_calib_ece(bad, y, 2, 10)));
    ck_assert(isnan(kga_calib_log_loss(nan_p, y, 2)));
}
END_TEST

START_TEST(calibration_degenerate_inputs)
{
    float x[6] = {1, 2, 3, 4, 5, 6};
    uint8_t ones[6] = {1, 1, 1, 1, 1, 1};
    kga_calib_t c = {42, 43};
    kga_err_t err;

    ck_assert_int_eq(kga_calib_fit(x, ones, 0, NULL, &c, &err), KGA_EINVAL);
    ck_assert_msg(strstr(err.msg, "no labelled pairs"), "%s", err.msg);

    ck_assert_int_eq(kga_calib_fit(x, ones, 6, NULL, &c, &err), KGA_EINVAL);
    ck_assert_msg(strstr(err.msg, "all 6 pairs are labelled 1; both classes"),
                  "%s", err.msg);

    uint8_t mixed[6] = {1, 0, 1, 0, 1, 0};
    float nan_x[6] = {1, 2, NAN, 4, 5, 6};
    ck_assert_int_eq(kga_calib_fit(nan_x, mixed, 6, NULL, &c, &err),
                     KGA_EINVAL);
    ck_assert_msg(strstr(err.msg, "row 2 is NaN"), "%s", err.msg);
    float inf_x[6] = {1, 2, 3, INFINITY, 5, 6};
    ck_assert_int_eq(kga_calib_fit(inf_x, mixed, 6, NULL, &c, &err),
                     KGA_EINVAL);
    uint8_t two[6] = {1, 0, 2, 0, 1, 0};
    ck_assert_int_eq(kga_calib_fit(x, two, 6, NULL, &c, &err), KGA_EINVAL);
    ck_assert_msg(strstr(err.msg, "label 2 is 2"), "%s", err.msg);
    ck_assert(c.a == 42 && c.b == 43); /* untouched on failure */

    kga_calib_options_t o;
    kga_calib_options_init(&o);
    o.l2 = -1;
    ck_assert_int_eq(kga_calib_fit(x, mixed, 6, &o, &c, &err), KGA_EINVAL);
}
END_TEST

/* A constant x carries no information: the answer is the base rate. */
START_TEST(calibration_constant_x_gives_base_rate)
{
    enum { N = 1000 };
    float x[N];
    uint8_t y[N];
    for (size_t i = 0; i < N; i++) {
        x[i] = 2.5f;
        y[i] = i % 4 == 0; /* 25% positive */
    }
    kga_calib_t c;
    kga_err_t err;
    ck_assert_int_eq(kga_calib_fit(x, y, N, NULL, &c, &err), 0);
    ck_assert(fabs(c.a) < 1e-12);
    ck_assert_msg(fabs(kga_calib_prob(&c, 2.5) - 0.25) < 1e-3, "%g",
                  kga_calib_prob(&c, 2.5));
    ck_assert(fabs(kga_calib_prob(&c, 100.0) - 0.25) < 1e-3);
}
END_TEST

/* Separable data: the prior keeps the fit finite; without it Newton does
 * not converge and says so. */
START_TEST(calibration_separable_data)
{
    enum { N = 200 };
    float x[N];
    uint8_t y[N];
    for (size_t i = 0; i < N; i++) {
        x[i] = (float)i / 10.0f;
        y[i] = x[i] < 10.0f;
    }
    kga_calib_t c;
    kga_err_t err;
    ck_assert_int_eq(kga_calib_fit(x, y, N, NULL, &c, &err), 0);
    ck_assert(isfinite(c.a) && isfinite(c.b));
    ck_assert(c.a < 0);
    ck_assert(kga_calib_prob(&c, 9.0) > 0.99);
    ck_assert(kga_calib_prob(&c, 11.0) < 0.01);
    ck_assert(fabs(-c.b / c.a - 9.95) < 0.1); /* the boundary */

    kga_calib_options_t o;
    kga_calib_options_init(&o);
    o.l2 = 0;
    ck_assert_int_eq(kga_calib_fit(x, y, N, &o, &c, &err), KGA_ENUMERIC);
    ck_assert_msg(strstr(err.msg, "no convergence") ||
                      strstr(err.msg, "line search"),
                  "%s", err.msg);
}
END_TEST

START_TEST(calibration_pack_round_trip)
{
    kga_calib_t c = {-1.25, 3.5}, d;
    float f[2];
    kga_calib_pack(&c, f);
    ck_assert_int_eq(kga_calib_unpack(f, &d, NULL), 0);
    ck_assert(d.a == -1.25 && d.b == 3.5);
    f[1] = NAN;
    kga_err_t err;
    ck_assert_int_eq(kga_calib_unpack(f, &d, &err), KGA_EINVAL);
    ck_assert(d.a == -1.25);
}
END_TEST

/* ------------------------------------------------------------------------
 * Multi-feature logistic regression
 * ------------------------------------------------------------------------ */

#define DIM 5

/* Features of very different units: a distance around 8 (sd 2), a cosine
 * in [0, 1), a tiny-scale similarity (sd 0.01), a useless noise feature and
 * a constant. The logit is `sharp` times a fixed combination. */
static const double feat_sd[DIM] = {2.0, 0.2887, 0.01, 1.0, 0.0};
static const double true_w_std[DIM] = {-1.5, 1.0, 0.7, 0.0, 0.0};

static void scorer_data(size_t n, uint64_t seed, double sharp, float *f,
                        uint8_t *y)
{
    rng_t r = {seed};
    for (size_t i = 0; i < n; i++) {
        float *row = f + i * DIM;
        row[0] = (float)(8.0 + 2.0 * rng_normal(&r));
        row[1] = (float)rng_uniform(&r);
        row[2] = (float)(0.5 + 0.01 * rng_normal(&r));
        row[3] = (float)rng_normal(&r);
        row[4] = 7.0f;
        double z = 0.3; /* intercept on the standardised scale */
        z += true_w_std[0] * (row[0] - 8.0) / feat_sd[0];
        z += true_w_std[1] * (row[1] - 0.5) / feat_sd[1];
        z += true_w_std[2] * (row[2] - 0.5) / feat_sd[2];
        y[i] = rng_uniform(&r) < sigmoid(sharp * z);
    }
}

/* n examples of scorer_data(): features (n x DIM) and labels, in heap
 * buffers that sample_free() frees. */
typedef struct {
    float *f;
    uint8_t *y;
} sample_t;

static sample_t scorer_sample(size_t n, uint64_t seed, double sharp)
{
    sample_t d = {malloc(n * DIM * sizeof *d.f), malloc(n)};
    ck_assert(d.f != NULL && d.y != NULL);
    scorer_data(n, seed, sharp, d.f, d.y);
    return d;
}

static void sample_free(sample_t *d)
{
    free(d->f);
    free(d->y);
}

/* Cosine between the fitted and true weights, both on the standardised
 * scale (the fitted raw weights times the true feature deviations). */
static double direction_cosine(const kga_logreg_t *m)
{
    double w_raw[DIM], b_raw, dot = 0, nw = 0, nt = 0;
    kga_logreg_raw_weights(m, w_raw, &b_raw);
    for (int j = 0; j < DIM; j++) {
        double w = w_raw[j] * feat_sd[j];
        dot += w * true_w_std[j];
        nw += w * w;
        nt += true_w_std[j] * true_w_std[j];
    }
    return dot / sqrt(nw * nt);
}

static double accuracy(const kga_logreg_t *m, const float *f,
                       const uint8_t *y, size_t n)
{
    size_t right = 0;
    for (size_t i = 0; i < n; i++)
        right += (kga_logreg_prob(m, f + i * DIM) >= 0.5) == (y[i] == 1);
    return (double)right / (double)n;
}

START_TEST(logreg_recovers_weights)
{
    enum { N = 30000 };
    sample_t d = scorer_sample(N, 11, 1.0);
    kga_logreg_t m;
    kga_err_t err;
    int rc = kga_logreg_fit(d.f, d.y, N, DIM, NULL, &m, &err);
    ck_assert_msg(rc == 0, "%s", err.msg);
    ck_assert_uint_eq(m.dim, DIM);
    /* Not just the direction: each weight within a few standard errors. */
    double w_raw[DIM], b_raw;
    kga_logreg_raw_weights(&m, w_raw, &b_raw);
    for (int j = 0; j < 3; j++) {
        double want = true_w_std[j] / feat_sd[j];
        ck_assert_msg(fabs(w_raw[j] - want) < 0.08 * fabs(want),
                      "w[%d] = %g, want %g", j, w_raw[j], want);
    }
    ck_assert_msg(fabs(w_raw[3]) < 0.05, "noise weight %g", w_raw[3]);
    ck_assert(m.w[4] == 0.0); /* constant feature */
    ck_assert_msg(direction_cosine(&m) > 0.995, "cosine %g",
                  direction_cosine(&m));
    /* Standardisation inside the model: logit(raw f) is w_raw . f + b_raw. */
    double z = b_raw;
    for (int j = 0; j < DIM; j++)
        z += w_raw[j] * d.f[j];
    ck_assert(fabs(z - kga_logreg_logit(&m, d.f)) < 1e-6);
    sample_free(&d);
}
END_TEST

/* Nearly separable: the logit is 20 times sharper. */
START_TEST(logreg_separable_direction)
{
    enum { N = 20000 };
    sample_t d = scorer_sample(N, 12, 20.0);
    kga_logreg_t m;
    kga_err_t err;
    ck_assert_int_eq(kga_logreg_fit(d.f, d.y, N, DIM, NULL, &m, &err), 0);
    for (int j = 0; j < DIM; j++)
        ck_assert(isfinite(m.w[j]));
    ck_assert_msg(direction_cosine(&m) > 0.98, "cosine %g",
                  direction_cosine(&m));
    scorer_data(N, 13, 20.0, d.f, d.y);
    ck_assert_msg(accuracy(&m, d.f, d.y, N) > 0.97, "accuracy %g",
                  accuracy(&m, d.f, d.y, N));

    /* A single feature whose sign is reversed in the data is found
     * reversed: the fit follows the data, not a prior direction. */
    for (size_t i = 0; i < N; i++)
        d.f[i * DIM] = 16.0f - d.f[i * DIM];
    ck_assert_int_eq(kga_logreg_fit(d.f, d.y, N, DIM, NULL, &m, &err), 0);
    double w_raw[DIM], b_raw;
    kga_logreg_raw_weights(&m, w_raw, &b_raw);
    ck_assert(w_raw[0] > 0);
    sample_free(&d);
}
END_TEST

START_TEST(logreg_pack_round_trip)
{
    enum { N = 5000 };
    sample_t d = scorer_sample(N, 14, 1.0);
    kga_logreg_t m, back;
    ck_assert_int_eq(kga_logreg_fit(d.f, d.y, N, DIM, NULL, &m, NULL), 0);
    size_t count = kga_logreg_float_count(DIM);
    ck_assert_uint_eq(count, 3 * DIM + 1);
    float packed[3 * DIM + 1];
    kga_logreg_pack(&m, packed);
    kga_err_t err;
    ck_assert_int_eq(kga_logreg_unpack(packed, count, &back, &err), 0);
    ck_assert_uint_eq(back.dim, DIM);
    for (size_t i = 0; i < 100; i++)
        ck_assert(fabs(kga_logreg_prob(&m, d.f + i * DIM) -
                       kga_logreg_prob(&back, d.f + i * DIM)) < 1e-5);

    ck_assert_int_eq(kga_logreg_unpack(packed, count - 1, &back, &err),
                     KGA_EINVAL);
    ck_assert_int_eq(kga_logreg_unpack(packed, 1, &back, &err), KGA_EINVAL);
    float big[3 * (KGA_LOGREG_MAX_DIM + 1) + 1] = {0};
    ck_assert_int_eq(kga_logreg_unpack(big, sizeof big / sizeof big[0], &back,
                                       &err),
                     KGA_EINVAL);
    float bad[3 * DIM + 1];
    memcpy(bad, packed, sizeof bad);
    bad[1 + DIM] = 0; /* scale of feature 0 */
    ck_assert_int_eq(kga_logreg_unpack(bad, count, &back, &err), KGA_EINVAL);
    ck_assert_msg(strstr(err.msg, "scale of feature 0"), "%s", err.msg);
    memcpy(bad, packed, sizeof bad);
    bad[3] = INFINITY;
    ck_assert_int_eq(kga_logreg_unpack(bad, count, &back, &err), KGA_EINVAL);
    sample_free(&d);
}
END_TEST

START_TEST(logreg_degenerate_inputs)
{
    float f[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t y[4] = {1, 0, 1, 0}, ones[4] = {1, 1, 1, 1};
    kga_logreg_t m;
    kga_err_t err;
    ck_assert_int_eq(kga_logreg_fit(f, y, 4, 0, NULL, &m, &err), KGA_EINVAL);
    ck_assert_int_eq(kga_logreg_fit(f, y, 4, KGA_LOGREG_MAX_DIM + 1, NULL, &m,
                                    &err),
                     KGA_EINVAL);
    ck_assert_int_eq(kga_logreg_fit(f, y, 0, 2, NULL, &m, &err), KGA_EINVAL);
    ck_assert_int_eq(kga_logreg_fit(f, ones, 4, 2, NULL, &m, &err),
                     KGA_EINVAL);
    ck_assert_msg(strstr(err.msg, "both classes"), "%s", err.msg);
    f[5] = NAN;
    ck_assert_int_eq(kga_logreg_fit(f, y, 4, 2, NULL, &m, &err), KGA_EINVAL);
    ck_assert_msg(strstr(err.msg, "value 1 of row 2 is NaN"), "%s", err.msg);
}
END_TEST

/* The one-value calibration is the one-feature logistic regression. */
START_TEST(calibration_agrees_with_logreg)
{
    enum { N = 3000 };
    float x[N];
    uint8_t y[N];
    logistic_data(N, 21, x, y);
    kga_calib_t c;
    kga_logreg_t m;
    ck_assert_int_eq(kga_calib_fit(x, y, N, NULL, &c, NULL), 0);
    ck_assert_int_eq(kga_logreg_fit(x, y, N, 1, NULL, &m, NULL), 0);
    for (int k = 0; k < 6; k++) {
        float v = (float)k;
        ck_assert(fabs(kga_calib_prob(&c, v) - kga_logreg_prob(&m, &v)) <
                  1e-9);
    }
}
END_TEST

static Suite *calibrate_suite(void)
{
    Suite *s = suite_create("calibrate");
    TCase *cal = kga_test_tcase(s, "calibration", 60);
    tcase_add_test(cal, calibration_recovers_known_parameters);
    tcase_add_test(cal, calibrated_outputs_have_small_ece);
    tcase_add_test(cal, metrics_match_hand_computation);
    tcase_add_test(cal, calibration_degenerate_inputs);
    tcase_add_test(cal, calibration_constant_x_gives_base_rate);
    tcase_add_test(cal, calibration_separable_data);
    tcase_add_test(cal, calibration_pack_round_trip);
    tcase_add_test(cal, calibration_agrees_with_logreg);

    TCase *lr = kga_test_tcase(s, "logistic regression", 60);
    tcase_add_test(lr, logreg_recovers_weights);
    tcase_add_test(lr, logreg_separable_direction);
    tcase_add_test(lr, logreg_pack_round_trip);
    tcase_add_test(lr, logreg_degenerate_inputs);
    return s;
}

int main(void)
{
    return kga_test_run(calibrate_suite);
}
