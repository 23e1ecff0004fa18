#ifndef KGA_CLI_REPORT_INTERNAL_H
#define KGA_CLI_REPORT_INTERNAL_H

#include <stdio.h>

#include "report.h"

/* What the pages of the report (report.c: ranking and pairs;
 * report_open_world.c: open-world decisions) share: the SVG geometry, the
 * colours and the drawing helpers. */

/* The plot area inside every SVG. */
enum {
    SVG_W = 560,
    SVG_H = 380,
    PLOT_X0 = 64,
    PLOT_X1 = 540,
    PLOT_Y0 = 24,
    PLOT_Y1 = 330
};

#define COLOR_TRUE "#1f77b4"
#define COLOR_FALSE "#d62728"

/* Plot coordinates of fractions 0..1 of the axes. */
double kga_report_px(double fx);
double kga_report_py(double fy);

/* s with <, >, & and " escaped. */
void kga_report_escape(FILE *f, const char *s);

/* Opens an SVG with the frame, grid lines and tick labels of both axes. */
void kga_report_svg_open(FILE *f, const char *label, const char *x_name,
                         const char *y_name, double x_lo, double x_hi,
                         int x_ticks, double y_hi, int y_ticks);

/* A round axis maximum at or above v: 1, 2 or 5 times a power of ten. */
double kga_report_nice_ceiling(double v);

/* The open-world section (report_open_world.c). */
void kga_report_write_open_world(FILE *f, const kga_report_open_world_t *ow);

#endif
