/* Finite-difference checks of every GNN operator (core/gnn/gnn_ops.h) and of
 * the whole model's loss gradient with respect to every parameter tensor.
 *
 * Each operator check draws small random inputs, forms the scalar
 * L = sum_k g_k y_k with random g, and compares the hand-written gradient of
 * L with central differences (L(x + h e_i) - L(x - h e_i)) / 2h evaluated in
 * double precision over the float operator. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gnn/gnn.h"
#include "gnn/gnn_ops.h"
#include "base/rng.h"
#include "gnn/sampler.h"

#include "testutil.h"

#define STEP 1e-3
#define ATOL 1e-3
#define RTOL 1e-2

static kga_rng_t rng;

static void fill(float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * (float)kga_rng_unit(&rng);
}

/* Values in [-hi, -lo] U [lo, hi]: away from the kinks at 0. */
static void fill_away(float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) {
        float v = lo + (hi - lo) * (float)kga_rng_unit(&rng);
        x[i] = kga_rng_chance(&rng, 0.5) ? v : -v;
    }
}

static double dotd(const float *g, const float *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * (double)y[i];
    return s;
}

/* Compares analytic[i] with the central difference of eval() in x[i] for
 * every i < n. */
typedef double (*eval_fn)(void *ctx);

static int grad_matches(double a, double num)
{
    double scale = fabs(a) > fabs(num) ? fabs(a) : fabs(num);
    return fabs(a - num) <= ATOL + RTOL * scale;
}

static void check_grad(const char *what, eval_fn eval, void *ctx, float *x,
                       size_t n, const float *analytic)
{
    for (size_t i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = (float)(keep + STEP);
        double up = eval(ctx);
        x[i] = (float)(keep - STEP);
        double down = eval(ctx);
        x[i] = keep;
        double num = (up - down) / (2.0 * STEP);
        ck_assert_msg(grad_matches(analytic[i], num),
                      "%s[%zu]: analytic %.6g, numeric %.6g", what, i,
                      (double)analytic[i], num);
    }
}

/* ------------------------------------------------------------------------
 * Linear map
 * ------------------------------------------------------------------------ */

enum { LN = 3, LIN = 4, LOUT = 5, LDY = 7 };

typedef struct {
    float X[LN * LIN], W[LOUT * LIN], G[LN * LDY], Y[LN * LDY];
} lin_t;

static double lin_eval(void *ctx)
{
    lin_t *c = ctx;
    memset(c->Y, 0, sizeof c->Y);
    kga_op_linear_fwd(c->X, LIN, LN, LIN, c->W, LOUT, c->Y, LDY, 0);
    return dotd(c->G, c->Y, LN * LDY);
}

START_TEST(linear)
{
    lin_t c;
    fill(c.X, LN * LIN, -1, 1);
    fill(c.W, LOUT * LIN, -1, 1);
    fill(c.G, LN * LDY, -1, 1);
    for (int i = 0; i < LN; i++)
        for (int j = LOUT; j < LDY; j++)
            c.G[i * LDY + j] = 0; /* outside the output columns */
    float dX[LN * LIN], dW[LOUT * LIN] = {0};
    lin_eval(&c);
    kga_op_linear_bwd(c.X, LIN, LN, LIN, c.W, LOUT, c.G, LDY, dX, LIN, 0, dW);
    check_grad("linear dX", lin_eval, &c, c.X, LN * LIN, dX);
    check_grad("linear dW", lin_eval, &c, c.W, LOUT * LIN, dW);
    /* accumulate adds to what is there */
    float Y2[LN * LDY];
    for (int i = 0; i < LN * LDY; i++)
        Y2[i] = 1.0f;
    kga_op_linear_fwd(c.X, LIN, LN, LIN, c.W, LOUT, Y2, LDY, 1);
    lin_eval(&c);
    ck_assert_float_eq_tol(Y2[LDY + 2], c.Y[LDY + 2] + 1.0f, 1e-5f);
    ck_assert_float_eq(Y2[LDY + LOUT], 1.0f);
}
END_TEST

enum { MO = 6, MI = 11 }; /* odd sizes: the blocked and the tail paths */

typedef struct {
    float W[MO * MI], x[MI], g[MO], y[MO];
} matvec_t;

static double matvec_eval(void *ctx)
{
    matvec_t *c = ctx;
    kga_op_matvec_fwd(c->W, MO, MI, c->x, c->y);
    return dotd(c->g, c->y, MO);
}

START_TEST(matvec)
{
    matvec_t c;
    fill(c.W, MO * MI, -1, 1);
    fill(c.x, MI, -1, 1);
    fill(c.g, MO, -1, 1);
    float dW[MO * MI] = {0}, dx[MI] = {0};
    kga_op_matvec_bwd(c.W, MO, MI, c.x, c.g, dx, dW);
    check_grad("matvec dW", matvec_eval, &c, c.W, MO * MI, dW);
    check_grad("matvec dx", matvec_eval, &c, c.x, MI, dx);
    /* agrees with the batched linear map */
    float y2[MO];
    matvec_eval(&c);
    kga_op_linear_fwd(c.x, MI, 1, MI, c.W, MO, y2, MO, 0);
    for (int o = 0; o < MO; o++)
        ck_assert_float_eq_tol(c.y[o], y2[o], 1e-5f);
}
END_TEST

/* ------------------------------------------------------------------------
 * Basis decomposition
 * ------------------------------------------------------------------------ */

enum { NB = 3, BD = 4, BM = 3 };

/* z = sum_k w_k Y_k over the rows of Y, with the gradients of w and Y: the
 * basis transform (coefficients of either sign) and the attention's
 * weighted sum (weights in [0, 1]) have this form and one signature, so
 * one check serves both. */
typedef void (*rows_fwd_fn)(const float *w, const float *Y, uint32_t m,
                            uint32_t d, float *z);
typedef void (*rows_bwd_fn)(const float *w, const float *Y, uint32_t m,
                            uint32_t d, const float *dz, float *dw,
                            float *dY);

typedef struct {
    rows_fwd_fn fwd;
    float w[NB], Y[NB * BD], g[BD], z[BD];
} rows_t;

static double rows_eval(void *ctx)
{
    rows_t *c = ctx;
    c->fwd(c->w, c->Y, NB, BD, c->z);
    return dotd(c->g, c->z, BD);
}

/* dw_name and dY_name name the two gradients in a failure; the weights are
 * drawn from [w_lo, 1]. */
static void check_weighted_rows(const char *dw_name, const char *dY_name,
                                rows_fwd_fn fwd, rows_bwd_fn bwd, float w_lo)
{
    rows_t c = {.fwd = fwd};
    fill(c.w, NB, w_lo, 1);
    fill(c.Y, NB * BD, -1, 1);
    fill(c.g, BD, -1, 1);
    float dw[NB] = {0}, dY[NB * BD] = {0};
    bwd(c.w, c.Y, NB, BD, c.g, dw, dY);
    check_grad(dw_name, rows_eval, &c, c.w, NB, dw);
    check_grad(dY_name, rows_eval, &c, c.Y, NB * BD, dY);
}

START_TEST(basis_transform)
{
    check_weighted_rows("basis dc", "basis dY", kga_op_basis_fwd,
                        kga_op_basis_bwd, -1);
}
END_TEST

typedef struct {
    float h[BM][BD], c[BM][NB], g[NB * BD], M[NB * BD];
    uint32_t m;
} bmean_t;

static double bmean_eval(void *ctx)
{
    bmean_t *b = ctx;
    const float *hp[BM], *cp[BM];
    for (int k = 0; k < BM; k++) {
        hp[k] = b->h[k];
        cp[k] = b->c[k];
    }
    kga_op_basis_mean_fwd(hp, cp, b->m, NB, BD, b->M);
    return dotd(b->g, b->M, NB * BD);
}

/* The aggregate-first form equals the mean of the transformed rows. */
START_TEST(basis_mean_aggregation)
{
    bmean_t b;
    b.m = BM;
    fill(&b.h[0][0], BM * BD, -1, 1);
    fill(&b.c[0][0], BM * NB, -1, 1);
    fill(b.g, NB * BD, -1, 1);
    float dh[BM][BD] = {{0}}, dc[BM][NB] = {{0}};
    bmean_eval(&b);
    for (int k = 0; k < BM; k++)
        kga_op_basis_mean_bwd(b.h[k], b.c[k], BM, NB, BD, b.g, dh[k], dc[k]);
    check_grad("basis_mean dh", bmean_eval, &b, &b.h[0][0], BM * BD,
               &dh[0][0]);
    check_grad("basis_mean dc", bmean_eval, &b, &b.c[0][0], BM * NB,
               &dc[0][0]);

    /* sum_b V_b M_b == mean_k (sum_b c_k[b] V_b) h_k for random V. */
    enum { OUT = 2 };
    float V[NB][OUT][BD];
    fill(&V[0][0][0], NB * OUT * BD, -1, 1);
    bmean_eval(&b);
    for (int o = 0; o < OUT; o++) {
        double agg = 0.0, direct = 0.0;
        for (int bb = 0; bb < NB; bb++)
            agg += dotd(V[bb][o], b.M + bb * BD, BD);
        for (int k = 0; k < BM; k++)
            for (int bb = 0; bb < NB; bb++)
                direct += b.c[k][bb] * dotd(V[bb][o], b.h[k], BD) / BM;
        ck_assert_double_eq_tol(agg, direct, 1e-5);
    }

    /* No neighbours: zero output, no gradient. */
    b.m = 0;
    bmean_eval(&b);
    for (int i = 0; i < NB * BD; i++)
        ck_assert_float_eq(b.M[i], 0.0f);
    float z[BD] = {0}, zc[NB] = {0};
    kga_op_basis_mean_bwd(b.h[0], b.c[0], 0, NB, BD, b.g, z, zc);
    for (int i = 0; i < BD; i++)
        ck_assert_float_eq(z[i], 0.0f);
}
END_TEST

/* ------------------------------------------------------------------------
 * Level-0 parts
 * ------------------------------------------------------------------------ */

enum { NBK = 6, ND = 3, NK = 4 };

typedef struct {
    float E[NBK * ND], g[ND], out[ND];
    uint32_t buckets[NK];
    float w[NK];
    const float *wp;
} name_t;

static double name_eval(void *ctx)
{
    name_t *c = ctx;
    kga_op_name_fwd(c->E, c->buckets, c->wp, NK, ND, c->out);
    return dotd(c->g, c->out, ND);
}

START_TEST(name_average)
{
    name_t c = {.buckets = {1, 4, 1, 5}, .w = {0.5f, 2.0f, 1.0f, 0.25f}};
    fill(c.E, NBK * ND, -1, 1);
    fill(c.g, ND, -1, 1);
    for (int weighted = 0; weighted < 2; weighted++) {
        c.wp = weighted ? c.w : NULL;
        float dE[NBK * ND] = {0};
        kga_op_name_bwd(c.buckets, c.wp, NK, ND, c.g, dE);
        check_grad("name dE", name_eval, &c, c.E, NBK * ND, dE);
        for (int i = 0; i < ND; i++) /* bucket 0 and 2 unused */
            ck_assert_float_eq(dE[i], 0.0f);
    }
    /* Unweighted mean of rows 1, 4, 1, 5. */
    c.wp = NULL;
    name_eval(&c);
    for (int i = 0; i < ND; i++)
        ck_assert_float_eq_tol(c.out[i],
                               (2 * c.E[ND + i] + c.E[4 * ND + i] +
                                c.E[5 * ND + i]) / 4,
                               1e-6f);
    /* No buckets: zero vector. */
    kga_op_name_fwd(c.E, c.buckets, NULL, 0, ND, c.out);
    for (int i = 0; i < ND; i++)
        ck_assert_float_eq(c.out[i], 0.0f);
}
END_TEST

typedef struct {
    float a[2], b[3], g[5], out[5];
} cat_t;

static double cat_eval(void *ctx)
{
    cat_t *c = ctx;
    const float *parts[2] = {c->a, c->b};
    const uint32_t dims[2] = {2, 3};
    kga_op_concat_fwd(parts, dims, 2, c->out);
    return dotd(c->g, c->out, 5);
}

START_TEST(concat)
{
    cat_t c;
    fill(c.a, 2, -1, 1);
    fill(c.b, 3, -1, 1);
    fill(c.g, 5, -1, 1);
    float da[2] = {0}, db[3] = {0};
    float *dp[2] = {da, db};
    const uint32_t dims[2] = {2, 3};
    kga_op_concat_bwd(c.g, dims, 2, dp);
    check_grad("concat da", cat_eval, &c, c.a, 2, da);
    check_grad("concat db", cat_eval, &c, c.b, 3, db);
    cat_eval(&c);
    ck_assert_float_eq(c.out[2], c.b[0]);
}
END_TEST

/* ------------------------------------------------------------------------
 * Element-wise and normalising operators
 * ------------------------------------------------------------------------ */

enum { EN = 8 };

typedef struct {
    float x[EN], g[EN], y[EN];
    int op; /* 0 relu, 1 leaky, 2 softmax */
} elem_t;

#define SLOPE 0.2f

static double elem_eval(void *ctx)
{
    elem_t *c = ctx;
    if (c->op == 0)
        kga_op_relu_fwd(c->x, EN, c->y);
    else if (c->op == 1)
        kga_op_leaky_fwd(c->x, EN, SLOPE, c->y);
    else
        kga_op_softmax_fwd(c->x, EN, c->y);
    return dotd(c->g, c->y, EN);
}

START_TEST(relu_leaky_softmax)
{
    static const char *const names[3] = {"relu", "leaky", "softmax"};
    for (int op = 0; op < 3; op++) {
        elem_t c = {.op = op};
        fill_away(c.x, EN, 0.05f, 2.0f);
        fill(c.g, EN, -1, 1);
        elem_eval(&c);
        float dx[EN];
        if (op == 0)
            kga_op_relu_bwd(c.y, c.g, EN, dx);
        else if (op == 1)
            kga_op_leaky_bwd(c.x, c.g, EN, SLOPE, dx);
        else
            kga_op_softmax_bwd(c.y, c.g, EN, dx);
        check_grad(names[op], elem_eval, &c, c.x, EN, dx);
    }
    /* softmax of large logits stays finite and sums to 1 */
    float x[3] = {1000.0f, 999.0f, -1000.0f}, y[3];
    kga_op_softmax_fwd(x, 3, y);
    ck_assert(isfinite(y[0]) && isfinite(y[2]));
    ck_assert_float_eq_tol(y[0] + y[1] + y[2], 1.0f, 1e-6f);
}
END_TEST

/* ------------------------------------------------------------------------
 * Attention
 * ------------------------------------------------------------------------ */

enum { AD = 4 };

typedef struct {
    float a[2 * AD], s[AD], z[AD];
} logit_t;

static double logit_eval(void *ctx)
{
    logit_t *c = ctx;
    return kga_op_attn_logit_fwd(c->a, c->s, c->z, AD);
}

START_TEST(attention_logit)
{
    logit_t c;
    fill(c.a, 2 * AD, -1, 1);
    fill(c.s, AD, -1, 1);
    fill(c.z, AD, -1, 1);
    float da[2 * AD] = {0}, ds[AD] = {0}, dz[AD] = {0};
    kga_op_attn_logit_bwd(c.a, c.s, c.z, AD, 1.0f, da, ds, dz);
    check_grad("logit da", logit_eval, &c, c.a, 2 * AD, da);
    check_grad("logit ds", logit_eval, &c, c.s, AD, ds);
    check_grad("logit dz", logit_eval, &c, c.z, AD, dz);
}
END_TEST

enum { CM = 3, CN = 2, CD = 4 };

typedef struct {
    float Zl[CM * CD], Zr[CN * CD], gl[CM], gr[CN];
    float D[CM * CN], A[CM * CN], al[CM], ar[CN];
} cross_t;

static double cross_eval(void *ctx)
{
    cross_t *c = ctx;
    kga_op_cross_fwd(c->Zl, CM, c->Zr, CN, CD, c->D, c->A, c->al, c->ar);
    return dotd(c->gl, c->al, CM) + dotd(c->gr, c->ar, CN);
}

static void cross_check(cross_t *c)
{
    cross_eval(c);
    float dZl[CM * CD] = {0}, dZr[CN * CD] = {0};
    kga_op_cross_bwd(c->Zl, CM, c->Zr, CN, CD, c->D, c->A, c->al, c->ar,
                     c->gl, c->gr, dZl, dZr);
    check_grad("cross dZl", cross_eval, c, c->Zl, CM * CD, dZl);
    check_grad("cross dZr", cross_eval, c, c->Zr, CN * CD, dZr);
}

START_TEST(cross_attention)
{
    cross_t c;
    fill(c.Zl, CM * CD, -1, 1);
    fill(c.Zr, CN * CD, -1, 1);
    fill(c.gl, CM, -1, 1);
    fill(c.gr, CN, -1, 1);
    cross_check(&c);
    /* alpha is a distribution on each side; the closest pair weighs most */
    double sl = 0, sr = 0;
    for (int k = 0; k < CM; k++)
        sl += c.al[k];
    for (int l = 0; l < CN; l++)
        sr += c.ar[l];
    ck_assert_double_eq_tol(sl, 1.0, 1e-6);
    ck_assert_double_eq_tol(sr, 1.0, 1e-6);
    /* identical messages (distance 0, the norm's kink) */
    memcpy(c.Zl + CD, c.Zr, CD * sizeof(float));
    cross_check(&c);
    ck_assert(c.al[1] > c.al[0] && c.al[1] > c.al[2]);
    /* far apart: nothing underflows to NaN */
    for (int i = 0; i < CM * CD; i++)
        c.Zl[i] = 500.0f + (float)i;
    cross_eval(&c);
    for (int k = 0; k < CM; k++)
        ck_assert(isfinite(c.al[k]));
}
END_TEST

enum { RM = 5 };

typedef struct {
    float al[RM], be[RM], g[RM], w[RM];
} renorm_t;

static double renorm_eval(void *ctx)
{
    renorm_t *c = ctx;
    kga_op_renorm_fwd(c->al, c->be, RM, c->w);
    return dotd(c->g, c->w, RM);
}

START_TEST(alpha_beta_renormalisation)
{
    renorm_t c;
    fill(c.al, RM, 0.05f, 1);
    fill(c.be, RM, 0.05f, 1);
    fill(c.g, RM, -1, 1);
    renorm_eval(&c);
    double s = 0;
    for (int k = 0; k < RM; k++)
        s += c.w[k];
    ck_assert_double_eq_tol(s, 1.0, 1e-6);
    float dal[RM] = {0}, dbe[RM] = {0};
    kga_op_renorm_bwd(c.al, c.be, c.w, RM, c.g, dal, dbe);
    check_grad("renorm dalpha", renorm_eval, &c, c.al, RM, dal);
    check_grad("renorm dbeta", renorm_eval, &c, c.be, RM, dbe);
    /* all-zero products: zero weights, not NaN */
    float z[RM] = {0};
    kga_op_renorm_fwd(z, c.be, RM, c.w);
    for (int k = 0; k < RM; k++)
        ck_assert_float_eq(c.w[k], 0.0f);
}
END_TEST

START_TEST(weighted_sum)
{
    check_weighted_rows("wsum dw", "wsum dZ", kga_op_wsum_fwd,
                        kga_op_wsum_bwd, 0);
}
END_TEST

/* ------------------------------------------------------------------------
 * Distance and loss
 * ------------------------------------------------------------------------ */

enum { LD = 6 };

typedef struct {
    float x[LD], y[LD];
} l2_t;

static double l2_eval(void *ctx)
{
    l2_t *c = ctx;
    return kga_op_l2_fwd(c->x, c->y, LD);
}

static void l2_check(l2_t *c)
{
    float d = kga_op_l2_fwd(c->x, c->y, LD);
    float dx[LD] = {0}, dy[LD] = {0};
    kga_op_l2_bwd(c->x, c->y, LD, d, 1.0f, dx, dy);
    check_grad("l2 dx", l2_eval, c, c->x, LD, dx);
    check_grad("l2 dy", l2_eval, c, c->y, LD, dy);
}

START_TEST(l2_distance)
{
    l2_t c;
    fill(c.x, LD, -1, 1);
    fill(c.y, LD, -1, 1);
    l2_check(&c);
    /* zero difference: distance 0, gradient 0 (what central differences
     * give), never NaN */
    memcpy(c.y, c.x, sizeof c.x);
    ck_assert_float_eq(kga_op_l2_fwd(c.x, c.y, LD), 0.0f);
    l2_check(&c);
    float dx[LD] = {0};
    kga_op_l2_bwd(c.x, c.y, LD, 0.0f, 1.0f, dx, NULL);
    for (int i = 0; i < LD; i++)
        ck_assert(dx[i] == 0.0f);
}
END_TEST

typedef struct {
    float p, n, margin;
} hinge_t;

static double hinge_eval(void *ctx)
{
    hinge_t *h = ctx;
    return kga_op_hinge_fwd(h->p, h->n, h->margin);
}

START_TEST(hinge)
{
    hinge_t cases[3] = {{1.0f, 1.5f, 1.0f},  /* active */
                        {0.2f, 2.0f, 1.0f},  /* inactive */
                        {3.0f, 0.5f, 0.5f}}; /* active, large */
    for (int i = 0; i < 3; i++) {
        hinge_t *h = &cases[i];
        float dp = 0, dn = 0;
        kga_op_hinge_bwd(h->p, h->n, h->margin, 1.0f, &dp, &dn);
        check_grad("hinge dpos", hinge_eval, h, &h->p, 1, &dp);
        check_grad("hinge dneg", hinge_eval, h, &h->n, 1, &dn);
    }
    ck_assert_float_eq(kga_op_hinge_fwd(0.2f, 2.0f, 1.0f), 0.0f);
    ck_assert_float_eq_tol(kga_op_hinge_fwd(1.0f, 1.5f, 1.0f), 0.5f, 1e-6f);
}
END_TEST

/* ------------------------------------------------------------------------
 * The whole model
 * ------------------------------------------------------------------------ */

enum {
    GL = 12,   /* left entities */
    GR = 10,   /* right entities */
    GREL = 3,  /* model relations */
    GFIX = 4,  /* fixed feature width */
    GB = 16,   /* name buckets */
    GEDGE = 30 /* triples per side */
};

typedef struct {
    kga_neighbours_t *nbrs[2];
    float fixed[2][GL * GFIX];
    uint64_t off[2][GL + 1];
    uint32_t bucket[2][GL * 3];
    float weight[2][GL * 3];
    kga_gnn_data_t data;
} tiny_t;

/* Two small random graphs with every model part present. */
static void tiny_make(tiny_t *t, uint64_t seed)
{
    kga_rng_t r;
    kga_rng_init(&r, seed, 7);
    for (int s = 0; s < 2; s++) {
        uint32_t n = s == 0 ? GL : GR;
        kga_neighbour_edge_t e[2 * GEDGE];
        size_t m = 0;
        for (int k = 0; k < GEDGE; k++) {
            uint32_t h = kga_rng_below(&r, n), tl = kga_rng_below(&r, n);
            uint32_t rel = kga_rng_below(&r, GREL);
            float w = 0.2f + (float)kga_rng_unit(&r);
            kga_neighbour_edge_t a = {h, tl, rel, w}, b = {tl, h, rel, w};
            e[m++] = a;
            e[m++] = b;
        }
        ck_assert_int_eq(
            kga_neighbours_from_edges(n, GREL, e, m, NULL, &t->nbrs[s]), 0);
        kga_rng_t fr;
        kga_rng_init(&fr, seed, 100 + (uint64_t)s);
        for (uint32_t i = 0; i < n * GFIX; i++)
            t->fixed[s][i] = (float)(2 * kga_rng_unit(&fr) - 1);
        t->off[s][0] = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t c = i % 4 == 3 ? 0 : 1 + i % 3; /* some without names */
            for (uint32_t k = 0; k < c; k++) {
                t->bucket[s][t->off[s][i] + k] = kga_rng_below(&fr, GB);
                t->weight[s][t->off[s][i] + k] =
                    0.5f + (float)kga_rng_unit(&fr);
            }
            t->off[s][i + 1] = t->off[s][i] + c;
        }
        kga_gnn_side_t sd = {t->nbrs[s], t->fixed[s], t->off[s],
                             t->bucket[s], t->weight[s]};
        t->data.side[s] = sd;
    }
}

static void tiny_free(tiny_t *t)
{
    kga_neighbours_free(t->nbrs[0]);
    kga_neighbours_free(t->nbrs[1]);
}

typedef struct {
    kga_gnn_work_t *w;
    kga_gnn_t *m;
    tiny_t *t;
    kga_gnn_batch_t b;
} model_ctx_t;

static double model_eval(void *ctx)
{
    model_ctx_t *c = ctx;
    double loss;
    ck_assert_int_eq(
        kga_gnn_batch_run(c->w, c->m, &c->t->data, &c->b, NULL, &loss, NULL),
        0);
    return loss;
}

/* Checks every element of every tensor against central differences of the
 * batch loss. A difference quotient that changes with the step has crossed a
 * kink (a ReLU switching) and is skipped; at most 1 in 20 may be. */
static void model_gradcheck(int cross, int self, int threads)
{
    tiny_t t;
    tiny_make(&t, 42);
    kga_gnn_config_t cfg = kga_gnn_config_default();
    cfg.dim_proj = 3;
    cfg.dim_name = 3;
    cfg.dim_entity = 3;
    cfg.dim_hidden = 4;
    cfg.bases = 2;
    cfg.samples = 3;
    cfg.margin = 5.0f; /* hinge terms active (inactive ones are kinks) */
    cfg.cross_attention = cross;
    cfg.self_attention = self;
    cfg.seed = 5;
    kga_gnn_shape_t shape = {{GL, GR}, GREL, GFIX, GB, {0, 0}};
    kga_pair_t anchors[2] = {{0, 0}, {3, 5}};
    kga_gnn_t *m;
    ck_assert_int_eq(kga_gnn_new(&cfg, &shape, anchors, 2, &m), 0);
    kga_pool_t *pool = NULL;
    if (threads > 1)
        ck_assert_int_eq(kga_pool_new(threads, &pool), 0);
    kga_gnn_work_t *w;
    ck_assert_int_eq(kga_gnn_work_new(m, pool, &w), 0);
    kga_gnn_grad_t *g;
    ck_assert_int_eq(kga_gnn_grad_new(m, &g), 0);
    /* 3 groups of a positive and 3 negatives; entity 11 (left) may be
     * isolated, the pairs reuse entities across groups. */
    kga_pair_t pairs[12] = {
        {0, 0}, {0, 1}, {0, 2}, {4, 0},  {3, 5}, {3, 6}, {3, 7},
        {1, 5}, {6, 8}, {6, 9}, {11, 8}, {7, 1},
    };
    model_ctx_t c = {w, m, &t, {pairs, 3, 3, {11, 12}}};
    double loss;
    ck_assert_int_eq(kga_gnn_batch_run(w, m, &t.data, &c.b, g, &loss, NULL),
                     0);
    ck_assert(loss > 0.0 && isfinite(loss));
    size_t skipped = 0, checked = 0;
    for (size_t i = 0; i < kga_gnn_tensor_count(m); i++) {
        kga_gnn_tensor_t pt, gt;
        kga_gnn_tensor(m, i, &pt);
        kga_gnn_grad_tensor(g, i, &gt);
        if (pt.type != KGA_TENSOR_F32)
            continue;
        float *p = pt.data;
        const float *a = gt.data;
        double biggest = 0.0;
        for (size_t k = 0; k < pt.count; k++) {
            float keep = p[k];
            double num[2];
            for (int s = 0; s < 2; s++) {
                double h = s == 0 ? 1e-3 : 5e-4;
                p[k] = (float)(keep + h);
                double up = model_eval(&c);
                p[k] = (float)(keep - h);
                double down = model_eval(&c);
                /* over the float step actually taken */
                num[s] = (up - down) / ((double)(float)(keep + h) -
                                        (double)(float)(keep - h));
            }
            p[k] = keep;
            if (fabs(num[0] - num[1]) > 2e-3 + 2e-2 * fabs(num[1])) {
                skipped++;
                continue;
            }
            checked++;
            double scale = fabs(a[k]) > fabs(num[1]) ? fabs(a[k]) : fabs(num[1]);
            ck_assert_msg(fabs(a[k] - num[1]) <= 2e-3 + 2e-2 * scale,
                          "%s[%zu] (cross %d self %d): analytic %.6g, "
                          "numeric %.6g",
                          pt.name, k, cross, self, (double)a[k], num[1]);
            if (fabs(a[k]) > biggest)
                biggest = fabs(a[k]);
        }
        /* every tensor takes part in the loss (attention only with self
         * attention) */
        if (strcmp(pt.name, "layer2.attention") != 0 || self)
            ck_assert_msg(biggest > 1e-4, "%s has no gradient", pt.name);
    }
    ck_assert_msg(skipped * 20 <= checked, "%zu of %zu skipped", skipped,
                  checked + skipped);
    kga_gnn_grad_free(g);
    kga_gnn_work_free(w);
    kga_pool_free(pool);
    kga_gnn_free(m);
    tiny_free(&t);
}

START_TEST(model_gradient)
{
    model_gradcheck(1, 1, 1);
}
END_TEST

START_TEST(model_gradient_threads)
{
    model_gradcheck(1, 1, 2);
}
END_TEST

START_TEST(model_gradient_ablations)
{
    model_gradcheck(0, 1, 1);
    model_gradcheck(1, 0, 1);
}
END_TEST

/* The gradient with the pool equals the gradient without, bit for bit. */
START_TEST(model_gradient_thread_independent)
{
    tiny_t t;
    tiny_make(&t, 9);
    kga_gnn_config_t cfg = kga_gnn_config_default();
    cfg.dim_hidden = 8;
    cfg.samples = 4;
    kga_gnn_shape_t shape = {{GL, GR}, GREL, GFIX, GB, {0, 0}};
    kga_gnn_t *m;
    ck_assert_int_eq(kga_gnn_new(&cfg, &shape, NULL, 0, &m), 0);
    kga_pair_t pairs[6] = {{0, 0}, {0, 1}, {2, 3}, {5, 5}, {5, 2}, {8, 8}};
    kga_gnn_batch_t b = {pairs, 2, 2, {1, 2}};
    kga_gnn_grad_t *g[2];
    for (int k = 0; k < 2; k++) {
        kga_pool_t *pool = NULL;
        if (k == 1)
            ck_assert_int_eq(kga_pool_new(3, &pool), 0);
        kga_gnn_work_t *w;
        ck_assert_int_eq(kga_gnn_work_new(m, pool, &w), 0);
        ck_assert_int_eq(kga_gnn_grad_new(m, &g[k]), 0);
        double loss;
        ck_assert_int_eq(kga_gnn_batch_run(w, m, &t.data, &b, g[k], &loss,
                                           NULL),
                         0);
        kga_gnn_work_free(w);
        kga_pool_free(pool);
    }
    for (size_t i = 0; i < kga_gnn_tensor_count(m); i++) {
        kga_gnn_tensor_t a, c;
        kga_gnn_grad_tensor(g[0], i, &a);
        kga_gnn_grad_tensor(g[1], i, &c);
        if (a.data != NULL)
            ck_assert_msg(memcmp(a.data, c.data, a.count * 4) == 0, "%s",
                          a.name);
    }
    kga_gnn_grad_free(g[0]);
    kga_gnn_grad_free(g[1]);
    kga_gnn_free(m);
    tiny_free(&t);
}
END_TEST

static Suite *gnn_ops_suite(void)
{
    Suite *s = suite_create("gnn_ops");
    TCase *ops = kga_test_tcase(s, "operators", 0);
    tcase_add_test(ops, linear);
    tcase_add_test(ops, matvec);
    tcase_add_test(ops, basis_transform);
    tcase_add_test(ops, basis_mean_aggregation);
    tcase_add_test(ops, name_average);
    tcase_add_test(ops, concat);
    tcase_add_test(ops, relu_leaky_softmax);
    tcase_add_test(ops, attention_logit);
    tcase_add_test(ops, cross_attention);
    tcase_add_test(ops, alpha_beta_renormalisation);
    tcase_add_test(ops, weighted_sum);
    tcase_add_test(ops, l2_distance);
    tcase_add_test(ops, hinge);
    TCase *model = kga_test_tcase(s, "model", 60);
    tcase_add_test(model, model_gradient);
    tcase_add_test(model, model_gradient_threads);
    tcase_add_test(model, model_gradient_ablations);
    tcase_add_test(model, model_gradient_thread_independent);
    return s;
}

int main(void)
{
    kga_rng_init(&rng, 2024, 1);
    return kga_test_run(gnn_ops_suite);
}
