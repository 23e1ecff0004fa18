/* The HTML page of `kgalign eval --report` (see report.h): inline CSS and
 * SVG, no external assets, written to a temporary file and renamed into
 * place. Apart from cmd_eval.c, which gathers the numbers, so that the
 * page's markup is in one place and the command stays short. */
#include "report.h"

#include <math.h>
#include <stdio.h>

#include "base/atomic_file.h"
#include "report_internal.h"

double kga_report_px(double fx)
{
    return PLOT_X0 + fx * (PLOT_X1 - PLOT_X0);
}

double kga_report_py(double fy)
{
    return PLOT_Y1 - fy * (PLOT_Y1 - PLOT_Y0);
}

#define px kga_report_px
#define py kga_report_py
#define put_escaped kga_report_escape
#define svg_open kga_report_svg_open
#define nice_ceiling kga_report_nice_ceiling

void kga_report_escape(FILE *f, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static void row_text(FILE *f, const char *label, const char *value)
{
    fputs("<tr><th>", f);
    put_escaped(f, label);
    fputs("</th><td>", f);
    put_escaped(f, value);
    fputs("</td></tr>\n", f);
}

static void row_fraction(FILE *f, const char *label, double v)
{
    fprintf(f, "<tr><th>%s</th><td>%.4f</td></tr>\n", label, v);
}

static void row_count(FILE *f, const char *label, uint64_t v)
{
    fprintf(f, "<tr><th>%s</th><td>%llu</td></tr>\n", label,
            (unsigned long long)v);
}

static void row_threshold(FILE *f, const char *label, float t)
{
    if (isinf(t) && t > 0)
        fprintf(f, "<tr><th>%s</th><td>none</td></tr>\n", label);
    else
        fprintf(f, "<tr><th>%s</th><td>%.6g</td></tr>\n", label, (double)t);
}

static void write_head(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
          "<meta charset=\"utf-8\">\n<title>",
          f);
    put_escaped(f, title);
    fputs("</title>\n<style>\n"
          "body{font-family:sans-serif;color:#222;max-width:980px;"
          "margin:2em auto;padding:0 1em}\n"
          "table{border-collapse:collapse;margin:1em 0}\n"
          "th,td{border:1px solid #ccc;padding:.3em .7em}\n"
          "td{text-align:right;font-variant-numeric:tabular-nums}\n"
          "th{text-align:left;background:#f4f4f4}\n"
          "svg{display:block;margin:1em 0}\n"
          ".meta{color:#555}\n"
          "</style>\n</head>\n<body>\n<h1>",
          f);
    put_escaped(f, title);
    fputs("</h1>\n", f);
}

static void write_meta(FILE *f, const kga_report_input_t *in)
{
    fputs("<p class=\"meta\">", f);
    if (in->dataset != NULL) {
        fputs("Dataset: <b>", f);
        put_escaped(f, in->dataset);
        fputs("</b> &middot; ", f);
    }
    if (in->model != NULL) {
        fputs("Model: <b>", f);
        put_escaped(f, in->model);
        fputs("</b> &middot; ", f);
    }
    fputs("Ranking direction: ", f);
    put_escaped(f, in->direction != NULL ? in->direction : "left to right");
    fputs(". Ties count against the true match.</p>\n", f);
}

static void write_summary(FILE *f, const kga_report_input_t *in)
{
    /* The open-world report has its own tables: no empty heading. */
    if (in->ranking == NULL && in->pairs == NULL && in->n_notes == 0 &&
        in->model_version == NULL)
        return;
    fputs("<h2>Headline metrics</h2>\n<table>\n", f);
    const kga_ranking_result_t *r = in->ranking;
    if (r != NULL) {
        row_fraction(f, "Hits@1", r->hits_at_1);
        row_fraction(f, "Hits@5", r->hits_at_5);
        row_fraction(f, "Hits@10", r->hits_at_10);
        row_fraction(f, "MRR", r->mrr);
        double cr = in->has_candidate_recall ? in->candidate_recall
                    : r->queries > 0
                        ? 1.0 - (double)r->misses / (double)r->queries
                        : 0.0;
        row_fraction(f, "Candidate recall", cr);
        row_count(f, "Queries", r->queries);
        row_count(f, "Misses (true match not ranked)", r->misses);
    }
    const kga_pairs_result_t *p = in->pairs;
    if (p != NULL) {
        row_fraction(f, "PRAUC", p->prauc);
        row_fraction(f, "Best F1", p->best_f1);
        row_fraction(f, "Precision at best F1", p->best_precision);
        row_fraction(f, "Recall at best F1", p->best_recall);
        row_threshold(f, "Threshold of best F1", p->best_threshold);
        row_fraction(f, "Recall at precision 0.95", p->recall_at_p95);
        row_threshold(f, "Threshold of recall at P 0.95", p->p95_threshold);
        row_count(f, "Pairs", p->n);
        row_count(f, "True pairs", p->n_pos);
        row_count(f, "False pairs", p->n_neg);
        row_count(f, "Pairs without a score (NaN)", p->n_nan);
    }
    for (size_t i = 0; i < in->n_notes; i++)
        row_text(f, in->notes[i].label != NULL ? in->notes[i].label : "",
                 in->notes[i].value != NULL ? in->notes[i].value : "");
    if (in->model_version != NULL) {
        char seconds[32];
        snprintf(seconds, sizeof seconds, "%.3f s", in->eval_seconds);
        row_text(f, "model version", in->model_version);
        row_text(f, "evaluation time", seconds);
    }
    fputs("</table>\n", f);
}

static void write_groups(FILE *f, const kga_report_input_t *in)
{
    if (in->n_groups == 0)
        return;
    fputs("<h2>Per entity type</h2>\n<table>\n<tr><th>Type</th>"
          "<th>Queries</th><th>Misses</th><th>Hits@1</th><th>Hits@5</th>"
          "<th>Hits@10</th><th>MRR</th></tr>\n",
          f);
    for (size_t i = 0; i < in->n_groups; i++) {
        const kga_report_group_t *g = &in->groups[i];
        fputs("<tr><th>", f);
        put_escaped(f, g->name != NULL ? g->name : "(unnamed)");
        fprintf(f,
                "</th><td>%llu</td><td>%llu</td><td>%.4f</td><td>%.4f</td>"
                "<td>%.4f</td><td>%.4f</td></tr>\n",
                (unsigned long long)g->ranking.queries,
                (unsigned long long)g->ranking.misses, g->ranking.hits_at_1,
                g->ranking.hits_at_5, g->ranking.hits_at_10, g->ranking.mrr);
    }
    fputs("</table>\n", f);
}

/* Opens an SVG with the frame, grid lines and tick labels of both axes.
 * Tick i of n on each axis is labelled with the printf of its value. */
void kga_report_svg_open(FILE *f, const char *label, const char *x_name,
                     const char *y_name, double x_lo, double x_hi, int x_ticks,
                     double y_hi, int y_ticks)
{
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
            "aria-label=\"%s\" font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n",
            SVG_W, SVG_H, SVG_W, SVG_H, label, SVG_W, SVG_H);
    for (int i = 0; i <= x_ticks; i++) {
        double fx = (double)i / x_ticks;
        double v = x_lo + fx * (x_hi - x_lo);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                "stroke=\"#e5e5e5\"/>\n"
                "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                "stroke=\"#333\"/>\n"
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.3g</text>\n",
                px(fx), PLOT_Y0, px(fx), PLOT_Y1, px(fx), PLOT_Y1, px(fx),
                PLOT_Y1 + 5, px(fx), PLOT_Y1 + 18, v);
    }
    for (int i = 0; i <= y_ticks; i++) {
        double fy = (double)i / y_ticks;
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                "stroke=\"#e5e5e5\"/>\n"
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                "stroke=\"#333\"/>\n"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.3g</text>\n",
                PLOT_X0, py(fy), PLOT_X1, py(fy), PLOT_X0 - 5, py(fy), PLOT_X0,
                py(fy), PLOT_X0 - 8, py(fy) + 4, fy * y_hi);
    }
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#333\"/>\n"
            "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n"
            "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 16 %.1f)\">%s</text>\n",
            PLOT_X0, PLOT_Y0, PLOT_X1 - PLOT_X0, PLOT_Y1 - PLOT_Y0,
            px(0.5), SVG_H - 12, x_name, py(0.5), py(0.5), y_name);
}

static void write_pr_curve(FILE *f, const kga_pairs_result_t *p)
{
    fputs("<h2>Precision-recall curve</h2>\n", f);
    svg_open(f, "precision-recall curve", "Recall", "Precision", 0.0, 1.0, 5,
             1.0, 5);
    double target = (double)KGA_RECALL_PRECISION_NUM / KGA_RECALL_PRECISION_DEN;
    fprintf(f,
            "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#888\" "
            "stroke-dasharray=\"4 3\"/>\n"
            "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#666\">"
            "precision %.2f</text>\n",
            PLOT_X0, py(target), PLOT_X1, py(target), PLOT_X1 - 4,
            py(target) + 14, target);
    if (p->n_curve == 0) {
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                "no true pairs: no curve</text>\n",
                px(0.5), py(0.5));
    } else {
        /* Steps: the precision of each point holds over the recall
         * interval that ends at it, which is the area PRAUC sums. */
        fprintf(f, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                   "d=\"M%.1f %.1f",
                COLOR_TRUE, px(0.0), py(p->curve[0].precision));
        for (size_t i = 0; i < p->n_curve; i++) {
            if (i > 0)
                fprintf(f, " L%.1f %.1f", px(p->curve[i - 1].recall),
                        py(p->curve[i].precision));
            fprintf(f, " L%.1f %.1f", px(p->curve[i].recall),
                    py(p->curve[i].precision));
        }
        fputs("\"/>\n", f);
        double label_x = fmax(px(p->best_recall) - 90, PLOT_X0 + 4);
        if (p->best_f1 > 0)
            fprintf(f,
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\">"
                    "<title>best F1 %.4f</title></circle>\n"
                    "<text x=\"%.1f\" y=\"%.1f\">best F1 %.4f</text>\n",
                    px(p->best_recall), py(p->best_precision), COLOR_FALSE,
                    p->best_f1, label_x, py(p->best_precision) + 18,
                    p->best_f1);
        fprintf(f,
                "<text x=\"%d\" y=\"%d\">PRAUC %.4f</text>\n",
                PLOT_X0 + 8, PLOT_Y1 - 8, p->prauc);
    }
    fputs("</svg>\n", f);
}

static uint64_t sum_bins(const uint64_t *bins)
{
    uint64_t s = 0;
    for (int b = 0; b < KGA_HIST_BINS; b++)
        s += bins[b];
    return s;
}

/* A round axis maximum at or above v: 1, 2 or 5 times a power of ten. */
double kga_report_nice_ceiling(double v)
{
    if (v <= 0)
        return 1.0;
    double e = pow(10.0, floor(log10(v)));
    for (int k = 0; k < 3; k++) {
        static const double step[3] = {1.0, 2.0, 5.0};
        if (step[k] * e >= v * (1 - 1e-12))
            return step[k] * e;
    }
    return 10.0 * e;
}

static void write_histograms(FILE *f, const kga_pairs_result_t *p)
{
    uint64_t n_pos = sum_bins(p->hist_pos), n_neg = sum_bins(p->hist_neg);
    /* Each class as fractions of its own count: false pairs usually
     * outnumber true ones by orders of magnitude. */
    double top = 0;
    for (int b = 0; b < KGA_HIST_BINS; b++) {
        if (n_pos > 0)
            top = fmax(top, (double)p->hist_pos[b] / (double)n_pos);
        if (n_neg > 0)
            top = fmax(top, (double)p->hist_neg[b] / (double)n_neg);
    }
    top = nice_ceiling(top);

    fputs("<h2>Score histograms</h2>\n", f);
    svg_open(f, "score histograms of true and false pairs", "Score",
             "Fraction of pairs of the class", p->hist_lo, p->hist_hi, 5, top,
             5);
    double bw = (double)(PLOT_X1 - PLOT_X0) / KGA_HIST_BINS;
    for (int b = 0; b < KGA_HIST_BINS; b++) {
        double x = PLOT_X0 + b * bw;
        double fp = n_pos > 0 ? (double)p->hist_pos[b] / (double)n_pos : 0;
        double fn = n_neg > 0 ? (double)p->hist_neg[b] / (double)n_neg : 0;
        if (p->hist_pos[b] > 0)
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"%s\"><title>true: %llu</title>"
                    "</rect>\n",
                    x, py(fp / top), bw / 2, PLOT_Y1 - py(fp / top),
                    COLOR_TRUE, (unsigned long long)p->hist_pos[b]);
        if (p->hist_neg[b] > 0)
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"%s\"><title>false: %llu</title>"
                    "</rect>\n",
                    x + bw / 2, py(fn / top), bw / 2, PLOT_Y1 - py(fn / top),
                    COLOR_FALSE, (unsigned long long)p->hist_neg[b]);
    }
    int lx = PLOT_X1 - 170, ly = PLOT_Y0 + 10;
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"162\" height=\"44\" fill=\"#fff\" "
            "stroke=\"#ccc\"/>\n"
            "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n"
            "<text x=\"%d\" y=\"%d\">true pairs (%llu)</text>\n"
            "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n"
            "<text x=\"%d\" y=\"%d\">false pairs (%llu)</text>\n",
            lx, ly, lx + 8, ly + 7, COLOR_TRUE, lx + 26, ly + 17,
            (unsigned long long)n_pos, lx + 8, ly + 25, COLOR_FALSE, lx + 26,
            ly + 35, (unsigned long long)n_neg);
    fputs("</svg>\n", f);
}

static void write_page(FILE *f, const kga_report_input_t *in)
{
    write_head(f, in->title != NULL ? in->title : "kgalign evaluation");
    write_meta(f, in);
    write_summary(f, in);
    write_groups(f, in);
    if (in->pairs != NULL) {
        write_pr_curve(f, in->pairs);
        write_histograms(f, in->pairs);
    }
    if (in->open_world != NULL)
        kga_report_write_open_world(f, in->open_world);
    fputs("</body>\n</html>\n", f);
}

int kga_report_write_html(const char *path, const kga_report_input_t *in,
                          kga_err_t *err)
{
    if (path == NULL || in == NULL)
        return kga_err_set(err, KGA_EINVAL, "report: no path or no input");
    kga_atomic_file_t file;
    int rc = kga_atomic_file_open(&file, path, KGA_ATOMIC_STREAM, err);
    if (rc != 0)
        return rc;
    /* A failed print shows in the stream's error flag at commit. */
    write_page(file.stream, in);
    return kga_atomic_file_commit(&file, err);
}
