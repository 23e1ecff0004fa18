/* The open-world section of the evaluation report (report.h): the
 * decisions' metrics, a reliability plot, the score histogram on a log
 * scale with the threshold marked, and the worst errors by name. Apart
 * from report.c because it draws a different result, the decisions of
 * every query rather than the ranking of the links. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "report_internal.h"

#define HIST_BINS 20

/* A row with v to `digits` decimals ("n/a" when not finite). */
static void row(FILE *f, const char *label, int digits, double v)
{
    fprintf(f, "<tr><th>%s</th><td>", label);
    if (isfinite(v))
        fprintf(f, "%.*f", digits, v);
    else
        fputs("n/a", f);
    fputs("</td></tr>\n", f);
}

static void row_count(FILE *f, const char *label, uint64_t v)
{
    fprintf(f, "<tr><th>%s</th><td>%" PRIu64 "</td></tr>\n", label, v);
}

static void write_summary(FILE *f, const kga_owe_result_t *r)
{
    fputs("<h2>Open world: match decisions</h2>\n"
          "<p class=\"meta\">Every left entity in no known link is a query "
          "against all right entities in no known link. A query in a gold "
          "link has that counterpart; one in no gold link counts as having "
          "none (true where the gold links are complete).</p>\n<table>\n",
          f);
    row_count(f, "queries", r->queries);
    row_count(f, "with a counterpart", r->with_counterpart);
    row_count(f, "without (in no gold link)", r->without_counterpart);
    row(f, "threshold", 4, r->threshold);
    row_count(f, "match decisions", r->matches);
    row(f, "precision", 4, r->precision);
    row(f, "recall", 4, r->recall);
    row(f, "F1", 4, r->f1);
    row(f, "share of queries without counterpart matched", 4,
        r->without_matched_share);
    row(f, "expected calibration error", 4, r->ece);
    fputs("</table>\n<table>\n<tr><th>probability</th><th>rows</th>"
          "<th>mean probability</th><th>share correct</th></tr>\n",
          f);
    for (size_t b = 0; b < KGA_OWE_BINS; b++) {
        const kga_owe_bin_t *bin = &r->bins[b];
        fprintf(f, "<tr><th>%g &ndash; %g</th><td>%" PRIu64 "</td>", bin->lo,
                bin->hi, bin->rows);
        if (bin->rows > 0)
            fprintf(f, "<td>%.4f</td><td>%.4f</td></tr>\n",
                    bin->mean_probability, bin->share_correct);
        else
            fputs("<td>&ndash;</td><td>&ndash;</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* Share correct against mean probability, one point a bin (its area by its
 * rows), and the diagonal a calibrated model follows. */
static void write_reliability(FILE *f, const kga_owe_result_t *r)
{
    fputs("<h2>Reliability</h2>\n", f);
    kga_report_svg_open(f, "reliability plot", "Mean probability of the bin",
                        "Share of rows correct", 0.0, 1.0, 5, 1.0, 5);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n",
            kga_report_px(0), kga_report_py(0), kga_report_px(1),
            kga_report_py(1));
    double prev_x = NAN, prev_y = NAN;
    for (size_t b = 0; b < KGA_OWE_BINS; b++) {
        const kga_owe_bin_t *bin = &r->bins[b];
        if (bin->rows == 0)
            continue;
        double x = kga_report_px(bin->mean_probability);
        double y = kga_report_py(bin->share_correct);
        if (isfinite(prev_x))
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "stroke=\"%s\" stroke-width=\"2\"/>\n",
                    prev_x, prev_y, x, y, COLOR_TRUE);
        double radius = 3 + 2 * log10(1 + (double)bin->rows);
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" "
                "fill-opacity=\"0.7\"><title>%g-%g: %" PRIu64
                " rows, mean %.4f, correct %.4f</title></circle>\n",
                x, y, radius, COLOR_TRUE, bin->lo, bin->hi, bin->rows,
                bin->mean_probability, bin->share_correct);
        prev_x = x;
        prev_y = y;
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\">ECE %.4f</text>\n</svg>\n",
            PLOT_X0 + 8, PLOT_Y0 + 16, r->ece);
}

/* Rows by probability, correct and wrong apart, on a log10 count scale
 * (most rows sit near 0 or 1), and the decision threshold. */
static void write_histogram(FILE *f, const kga_owe_result_t *r)
{
    uint64_t ok[HIST_BINS] = {0}, bad[HIST_BINS] = {0}, top = 1;
    for (size_t i = 0; i < r->n_rows; i++) {
        const kga_owe_row_t *row = &r->rows[i];
        int b = (int)(row->probability * HIST_BINS);
        b = b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b;
        if (row->right != UINT32_MAX && row->right == row->truth)
            ok[b]++;
        else
            bad[b]++;
    }
    for (int b = 0; b < HIST_BINS; b++) {
        top = ok[b] > top ? ok[b] : top;
        top = bad[b] > top ? bad[b] : top;
    }
    double y_hi = ceil(log10((double)top + 1));
    fputs("<h2>Probabilities of the rows (log scale)</h2>\n", f);
    kga_report_svg_open(f, "score histogram", "Probability of the best "
                        "candidate", "log10(rows + 1)", 0.0, 1.0, 5, y_hi,
                        (int)y_hi);
    double bw = (double)(PLOT_X1 - PLOT_X0) / HIST_BINS;
    for (int b = 0; b < HIST_BINS; b++) {
        double x = PLOT_X0 + b * bw;
        double fo = log10((double)ok[b] + 1) / y_hi;
        double fb = log10((double)bad[b] + 1) / y_hi;
        if (ok[b] > 0)
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"%s\"><title>correct: %" PRIu64
                    "</title></rect>\n",
                    x, kga_report_py(fo), bw / 2, PLOT_Y1 - kga_report_py(fo),
                    COLOR_TRUE, ok[b]);
        if (bad[b] > 0)
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"%s\"><title>wrong: %" PRIu64
                    "</title></rect>\n",
                    x + bw / 2, kga_report_py(fb), bw / 2,
                    PLOT_Y1 - kga_report_py(fb), COLOR_FALSE, bad[b]);
    }
    double tx = kga_report_px(r->threshold);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#333\" "
            "stroke-width=\"2\" stroke-dasharray=\"6 3\"/>\n"
            "<text x=\"%.1f\" y=\"%d\">threshold %.3g</text>\n",
            tx, PLOT_Y0, tx, PLOT_Y1, tx + 4, PLOT_Y0 + 14, r->threshold);
    int lx = PLOT_X0 + 10, ly = PLOT_Y0 + 24;
    fprintf(f,
            "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n"
            "<text x=\"%d\" y=\"%d\">best candidate correct</text>\n"
            "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>\n"
            "<text x=\"%d\" y=\"%d\">wrong, or no counterpart</text>\n</svg>\n",
            lx, ly, COLOR_TRUE, lx + 18, ly + 10, lx, ly + 18, COLOR_FALSE,
            lx + 18, ly + 28);
}

static void put_entity(FILE *f, const kga_store_t *s, uint32_t ent)
{
    fputs("<td style=\"text-align:left\">", f);
    if (ent == UINT32_MAX) {
        fputs("<i>none</i></td>", f);
        return;
    }
    kga_report_escape(f, kga_store_entity_name(s, ent));
    fputs("<br><small>", f);
    kga_report_escape(f, kga_store_entity_ext_id(s, ent));
    fputs("</small></td>", f);
}

static void write_worst(FILE *f, const kga_report_open_world_t *ow)
{
    if (ow->n_worst == 0)
        return;
    fputs("<h2>Worst errors</h2>\n<p class=\"meta\">Matches that are not the "
          "counterpart, most confident first, then counterparts the model "
          "scored lowest.</p>\n<table>\n<tr><th>probability</th>"
          "<th>decision</th><th>left entity</th><th>best candidate</th>"
          "<th>counterpart</th></tr>\n",
          f);
    for (size_t i = 0; i < ow->n_worst; i++) {
        const kga_owe_row_t *r = &ow->result->rows[ow->worst[i]];
        fprintf(f, "<tr><td>%.4f</td><td>%s</td>", (double)r->probability,
                r->match ? "match" : "no-match");
        put_entity(f, ow->left, r->left);
        put_entity(f, ow->right, r->right);
        put_entity(f, ow->right, r->truth);
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
}

void kga_report_write_open_world(FILE *f, const kga_report_open_world_t *ow)
{
    write_summary(f, ow->result);
    write_reliability(f, ow->result);
    write_histogram(f, ow->result);
    write_worst(f, ow);
}
