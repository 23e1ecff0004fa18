/* Calibration and the logistic scorer: one penalised Newton solver serves
 * both (the one-value calibration is the one-feature case).
 *
 * The solver works on standardised features s = (f - mean) / scale, where
 * the Hessian is well conditioned whatever the raw units (distances around
 * 10, cosines in [0, 1]), and minimises
 *   L(theta) = sum_i softplus(z_i) - t_i z_i + l2/2 |theta|^2,
 *   z_i = w . s_i + b,  theta = (w, b),
 * whose gradient is sum_i (p_i - t_i) (s_i, 1) + l2 theta and Hessian
 * sum_i p_i (1 - p_i) (s_i, 1)(s_i, 1)^T + l2 I. With l2 > 0 it is strictly
 * convex, so Newton with a backtracking line search converges from zero. */
#include "stats/calibrate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PARAMS (KGA_LOGREG_MAX_DIM + 1)
#define ECE_MAX_BINS 1000

/* ------------------------------------------------------------------------
 * Numerics
 * ------------------------------------------------------------------------ */

static double sigmoid(double z)
{
    if (z >= 0)
        return 1.0 / (1.0 + exp(-z));
    double e = exp(z);
    return e / (1.0 + e);
}

/* log(1 + e^z) without overflow. */
static double softplus(double z)
{
    return (z > 0 ? z : 0) + log1p(exp(-fabs(z)));
}

/* Solves A x = r for a symmetric positive definite k x k matrix (row-major,
 * overwritten by its Cholesky factor). Returns -1 when A is not positive
 * definite. */
static int cholesky_solve(double *a, int k, const double *r, double *x)
{
    for (int j = 0; j < k; j++) {
        double d = a[j * k + j];
        for (int m = 0; m < j; m++)
            d -= a[j * k + m] * a[j * k + m];
        if (!(d > 0))
            return -1;
        d = sqrt(d);
        a[j * k + j] = d;
        for (int i = j + 1; i < k; i++) {
            double s = a[i * k + j];
            for (int m = 0; m < j; m++)
                s -= a[i * k + m] * a[j * k + m];
            a[i * k + j] = s / d;
        }
    }
    for (int i = 0; i < k; i++) { /* L y = r */
        double s = r[i];
        for (int m = 0; m < i; m++)
            s -= a[i * k + m] * x[m];
        x[i] = s / a[i * k + i];
    }
    for (int i = k - 1; i >= 0; i--) { /* L^T x = y */
        double s = x[i];
        for (int m = i + 1; m < k; m++)
            s -= a[m * k + i] * x[m];
        x[i] = s / a[i * k + i];
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * The shared solver
 * ------------------------------------------------------------------------ */

typedef struct {
    const float *f; /* n x dim, raw */
    const uint8_t *y;
    size_t n;
    uint32_t dim;
    double mean[KGA_LOGREG_MAX_DIM], scale[KGA_LOGREG_MAX_DIM];
    double t_pos, t_neg; /* targets for labels 1 and 0 */
    double l2;
    int max_iter;
    double tol;
    const char *what; /* "calibration" or "logistic regression" */
} problem_t;

static double row_logit(const problem_t *pb, size_t i, const double *theta,
                        double *s)
{
    const float *row = pb->f + i * pb->dim;
    double z = theta[pb->dim];
    for (uint32_t j = 0; j < pb->dim; j++) {
        s[j] = ((double)row[j] - pb->mean[j]) / pb->scale[j];
        z += theta[j] * s[j];
    }
    return z;
}

static double objective(const problem_t *pb, const double *theta)
{
    double s[KGA_LOGREG_MAX_DIM], sum = 0, reg = 0;
    for (size_t i = 0; i < pb->n; i++) {
        double z = row_logit(pb, i, theta, s);
        double t = pb->y[i] ? pb->t_pos : pb->t_neg;
        sum += softplus(z) - t * z;
    }
    for (uint32_t j = 0; j <= pb->dim; j++)
        reg += theta[j] * theta[j];
    return sum + 0.5 * pb->l2 * reg;
}

/* Gradient g and Hessian h (k x k, k = dim + 1) at theta. */
static void derivatives(const problem_t *pb, const double *theta, double *g,
                        double *h)
{
    int k = (int)pb->dim + 1;
    double s[MAX_PARAMS];
    memset(g, 0, (size_t)k * sizeof *g);
    memset(h, 0, (size_t)(k * k) * sizeof *h);
    for (size_t i = 0; i < pb->n; i++) {
        double z = row_logit(pb, i, theta, s);
        s[k - 1] = 1.0;
        double p = sigmoid(z);
        double r = p - (pb->y[i] ? pb->t_pos : pb->t_neg);
        double wt = p * (1.0 - p);
        for (int a = 0; a < k; a++) {
            g[a] += r * s[a];
            double ws = wt * s[a];
            for (int b = 0; b <= a; b++)
                h[a * k + b] += ws * s[b];
        }
    }
    for (int a = 0; a < k; a++) {
        g[a] += pb->l2 * theta[a];
        h[a * k + a] += pb->l2;
        for (int b = 0; b < a; b++)
            h[b * k + a] = h[a * k + b];
    }
}

/* Newton's method with backtracking; theta starts at the caller's guess. */
static int newton(const problem_t *pb, double *theta, kga_err_t *err)
{
    int k = (int)pb->dim + 1;
    double g[MAX_PARAMS], h[MAX_PARAMS * MAX_PARAMS], delta[MAX_PARAMS];
    double trial[MAX_PARAMS];
    double obj = objective(pb, theta);
    for (int it = 0; it < pb->max_iter; it++) {
        derivatives(pb, theta, g, h);
        /* A whisper of damping keeps the factorisation alive when l2 = 0
         * and a feature is constant; it does not move the optimum. */
        double max_diag = 0;
        for (int a = 0; a < k; a++)
            max_diag = fmax(max_diag, h[a * k + a]);
        for (int a = 0; a < k; a++)
            h[a * k + a] += 1e-12 * (1.0 + max_diag);
        double neg_g[MAX_PARAMS];
        for (int a = 0; a < k; a++)
            neg_g[a] = -g[a];
        if (cholesky_solve(h, k, neg_g, delta) != 0)
            return kga_err_set(err, KGA_ENUMERIC,
                               "%s: Hessian not positive definite at "
                               "iteration %d",
                               pb->what, it);
        double decrement = 0, max_step = 0;
        for (int a = 0; a < k; a++) {
            decrement -= g[a] * delta[a];
            max_step = fmax(max_step, fabs(delta[a]));
        }
        if (max_step < pb->tol || decrement < 1e-14 * (1.0 + fabs(obj)))
            return 0;
        double step = 1.0, next = obj;
        int accepted = 0;
        for (int halvings = 0; halvings < 60; halvings++, step *= 0.5) {
            for (int a = 0; a < k; a++)
                trial[a] = theta[a] + step * delta[a];
            next = objective(pb, trial);
            if (next <= obj - 1e-4 * step * decrement) {
                accepted = 1;
                break;
            }
        }
        if (!accepted) {
            /* No decrease left to find: at the optimum up to rounding. */
            if (decrement < 1e-8 * (1.0 + fabs(obj)))
                return 0;
            return kga_err_set(err, KGA_ENUMERIC,
                               "%s: line search failed at iteration %d",
                               pb->what, it);
        }
        memcpy(theta, trial, (size_t)k * sizeof *theta);
        obj = next;
        if (step * max_step < pb->tol)
            return 0;
    }
    return kga_err_set(err, KGA_ENUMERIC,
                       "%s: no convergence in %d Newton iterations (are the "
                       "classes separable and l2 = 0?)",
                       pb->what, pb->max_iter);
}

/* Checks the data, counts the classes and computes the standardisation. */
static int prepare(problem_t *pb, size_t *n_pos, kga_err_t *err)
{
    if (pb->n == 0)
        return kga_err_set(err, KGA_EINVAL, "%s: no labelled pairs",
                           pb->what);
    size_t pos = 0;
    for (size_t i = 0; i < pb->n; i++) {
        if (pb->y[i] > 1)
            return kga_err_set(err, KGA_EINVAL,
                               "%s: label %zu is %u, not 0 or 1", pb->what, i,
                               pb->y[i]);
        pos += pb->y[i];
    }
    if (pos == 0 || pos == pb->n)
        return kga_err_set(err, KGA_EINVAL,
                           "%s: all %zu pairs are labelled %d; both classes "
                           "are needed",
                           pb->what, pb->n, pos ? 1 : 0);
    for (uint32_t j = 0; j < pb->dim; j++) {
        double sum = 0;
        for (size_t i = 0; i < pb->n; i++) {
            float v = pb->f[i * pb->dim + j];
            if (!isfinite(v))
                return kga_err_set(err, KGA_EINVAL,
                                   "%s: value %u of row %zu is %s", pb->what,
                                   j, i, isnan(v) ? "NaN" : "infinite");
            sum += v;
        }
        double mean = sum / (double)pb->n, var = 0;
        for (size_t i = 0; i < pb->n; i++) {
            double d = pb->f[i * pb->dim + j] - mean;
            var += d * d;
        }
        double sd = sqrt(var / (double)pb->n);
        pb->mean[j] = mean;
        /* A constant column stays 0 after centring; its weight stays 0. */
        pb->scale[j] = sd > 1e-12 * fmax(1.0, fabs(mean)) ? sd : 1.0;
    }
    *n_pos = pos;
    return 0;
}

static int fit(problem_t *pb, int platt_targets, double *theta,
               kga_err_t *err)
{
    kga_err_clear(err);
    size_t pos = 0;
    int rc = prepare(pb, &pos, err);
    if (rc != 0)
        return rc;
    size_t neg = pb->n - pos;
    pb->t_pos = platt_targets ? ((double)pos + 1) / ((double)pos + 2) : 1.0;
    pb->t_neg = platt_targets ? 1.0 / ((double)neg + 2) : 0.0;
    memset(theta, 0, MAX_PARAMS * sizeof *theta);
    theta[pb->dim] = log(((double)pos + 0.5) / ((double)neg + 0.5));
    return newton(pb, theta, err);
}

/* ------------------------------------------------------------------------
 * One-value calibration
 * ------------------------------------------------------------------------ */

void kga_calib_options_init(kga_calib_options_t *o)
{
    o->l2 = 1e-3;
    o->platt_targets = 0;
    o->max_iter = 100;
    o->tol = 1e-10;
}

int kga_calib_fit(const float *x, const uint8_t *y, size_t n,
                  const kga_calib_options_t *options, kga_calib_t *out,
                  kga_err_t *err)
{
    kga_calib_options_t defaults;
    if (options == NULL) {
        kga_calib_options_init(&defaults);
        options = &defaults;
    }
    problem_t pb = {.f = x, .y = y, .n = n, .dim = 1, .l2 = options->l2,
                    .max_iter = options->max_iter, .tol = options->tol,
                    .what = "calibration"};
    if (!(options->l2 >= 0) || options->max_iter < 1)
        return kga_err_set(err, KGA_EINVAL,
                           "calibration: bad options (l2 %g, max_iter %d)",
                           options->l2, options->max_iter);
    double theta[MAX_PARAMS];
    int rc = fit(&pb, options->platt_targets, theta, err);
    if (rc != 0)
        return rc;
    out->a = theta[0] / pb.scale[0];
    out->b = theta[1] - theta[0] * pb.mean[0] / pb.scale[0];
    return 0;
}

double kga_calib_prob(const kga_calib_t *c, double x)
{
    return sigmoid(c->a * x + c->b);
}

void kga_calib_apply(const kga_calib_t *c, const float *x, size_t n,
                     float *p)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)kga_calib_prob(c, x[i]);
}

void kga_calib_pack(const kga_calib_t *c, float out[2])
{
    out[0] = (float)c->a;
    out[1] = (float)c->b;
}

int kga_calib_unpack(const float in[2], kga_calib_t *c, kga_err_t *err)
{
    if (!isfinite(in[0]) || !isfinite(in[1]))
        return kga_err_set(err, KGA_EINVAL,
                           "calibration: parameters (%g, %g) are not finite",
                           (double)in[0], (double)in[1]);
    c->a = in[0];
    c->b = in[1];
    return 0;
}

/* ------------------------------------------------------------------------
 * Evaluation
 * ------------------------------------------------------------------------ */

double kga_calib_ece(const float *p, const uint8_t *y, size_t n, int bins)
{
    if (n == 0 || bins < 1 || bins > ECE_MAX_BINS)
        return NAN;
    double sum_p[ECE_MAX_BINS] = {0}, sum_y[ECE_MAX_BINS] = {0};
    size_t count[ECE_MAX_BINS] = {0};
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] >= 0.0f && p[i] <= 1.0f))
            return NAN;
        int b = (int)(p[i] * (float)bins);
        if (b >= bins)
            b = bins - 1;
        sum_p[b] += p[i];
        sum_y[b] += y[i] ? 1.0 : 0.0;
        count[b]++;
    }
    double ece = 0;
    for (int b = 0; b < bins; b++)
        if (count[b] > 0)
            ece += fabs(sum_p[b] - sum_y[b]) / (double)n;
    return ece;
}

double kga_calib_log_loss(const float *p, const uint8_t *y, size_t n)
{
    if (n == 0)
        return NAN;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] >= 0.0f && p[i] <= 1.0f))
            return NAN;
        double q = fmin(fmax((double)p[i], 1e-15), 1.0 - 1e-15);
        sum -= y[i] ? log(q) : log1p(-q);
    }
    return sum / (double)n;
}

/* ------------------------------------------------------------------------
 * Multi-feature logistic regression
 * ------------------------------------------------------------------------ */

void kga_logreg_options_init(kga_logreg_options_t *o)
{
    o->l2 = 1e-3;
    o->max_iter = 100;
    o->tol = 1e-10;
}

int kga_logreg_fit(const float *f, const uint8_t *y, size_t n, uint32_t dim,
                   const kga_logreg_options_t *options, kga_logreg_t *out,
                   kga_err_t *err)
{
    kga_logreg_options_t defaults;
    if (options == NULL) {
        kga_logreg_options_init(&defaults);
        options = &defaults;
    }
    if (dim == 0 || dim > KGA_LOGREG_MAX_DIM)
        return kga_err_set(err, KGA_EINVAL,
                           "logistic regression: %u features (1 to %u "
                           "allowed)",
                           dim, KGA_LOGREG_MAX_DIM);
    if (!(options->l2 >= 0) || options->max_iter < 1)
        return kga_err_set(err, KGA_EINVAL,
                           "logistic regression: bad options (l2 %g, "
                           "max_iter %d)",
                           options->l2, options->max_iter);
    problem_t pb = {.f = f, .y = y, .n = n, .dim = dim, .l2 = options->l2,
                    .max_iter = options->max_iter, .tol = options->tol,
                    .what = "logistic regression"};
    double theta[MAX_PARAMS];
    int rc = fit(&pb, 0, theta, err);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof *out);
    out->dim = dim;
    for (uint32_t j = 0; j < dim; j++) {
        out->mean[j] = pb.mean[j];
        out->scale[j] = pb.scale[j];
        out->w[j] = theta[j];
    }
    out->b = theta[dim];
    return 0;
}

double kga_logreg_logit(const kga_logreg_t *m, const float *f)
{
    double z = m->b;
    for (uint32_t j = 0; j < m->dim; j++)
        z += m->w[j] * (((double)f[j] - m->mean[j]) / m->scale[j]);
    return z;
}

double kga_logreg_prob(const kga_logreg_t *m, const float *f)
{
    return sigmoid(kga_logreg_logit(m, f));
}

void kga_logreg_raw_weights(const kga_logreg_t *m, double *w_raw,
                            double *b_raw)
{
    double b = m->b;
    for (uint32_t j = 0; j < m->dim; j++) {
        w_raw[j] = m->w[j] / m->scale[j];
        b -= w_raw[j] * m->mean[j];
    }
    *b_raw = b;
}

size_t kga_logreg_float_count(uint32_t dim)
{
    return 3 * (size_t)dim + 1;
}

void kga_logreg_pack(const kga_logreg_t *m, float *out)
{
    uint32_t d = m->dim;
    out[0] = (float)m->b;
    for (uint32_t j = 0; j < d; j++) {
        out[1 + j] = (float)m->mean[j];
        out[1 + d + j] = (float)m->scale[j];
        out[1 + 2 * d + j] = (float)m->w[j];
    }
}

int kga_logreg_unpack(const float *in, size_t count, kga_logreg_t *m,
                      kga_err_t *err)
{
    if (count < 4 || (count - 1) % 3 != 0 ||
        (count - 1) / 3 > KGA_LOGREG_MAX_DIM)
        return kga_err_set(err, KGA_EINVAL,
                           "logistic regression: %zu floats is not 3 * dim "
                           "+ 1 for 1 <= dim <= %u",
                           count, KGA_LOGREG_MAX_DIM);
    for (size_t i = 0; i < count; i++)
        if (!isfinite(in[i]))
            return kga_err_set(err, KGA_EINVAL,
                               "logistic regression: parameter %zu is not "
                               "finite",
                               i);
    uint32_t d = (uint32_t)((count - 1) / 3);
    kga_logreg_t r;
    memset(&r, 0, sizeof r);
    r.dim = d;
    r.b = in[0];
    for (uint32_t j = 0; j < d; j++) {
        r.mean[j] = in[1 + j];
        r.scale[j] = in[1 + d + j];
        r.w[j] = in[1 + 2 * d + j];
        if (!(r.scale[j] > 0))
            return kga_err_set(err, KGA_EINVAL,
                               "logistic regression: scale of feature %u is "
                               "%g, not positive",
                               j, r.scale[j]);
    }
    *m = r;
    return 0;
}
