#ifndef KGA_VALUE_H
#define KGA_VALUE_H

#include <stddef.h>
#include <stdint.h>

/* Typed readings of attribute text: a number, a calendar date or a
 * duration. Record tables and RDF literals write one value many ways
 * ("$ 1.29", "6.10 %", "18-May-15", "May 18 , 2015", "2015-05-18", "3:40",
 * "PT3M40S"); compared as strings they look unlike, compared as values
 * they are equal. The importer uses these to tell which columns hold text
 * (to choose a name column), the attribute features to compare values.
 *
 * Pure functions over a NUL-terminated string: no allocation, no locale,
 * no failure other than "this is not one": each returns 1 and stores the
 * value, or 0 and leaves *out alone. Surrounding white space is ignored.
 * A string of more than KGA_VALUE_MAX_BYTES bytes is never a value. */

#define KGA_VALUE_MAX_BYTES 64u

/* What a value is read as, in the order kga_value_kind() tries them. */
typedef enum {
    KGA_VALUE_TEXT = 0,
    KGA_VALUE_DATE = 1,
    KGA_VALUE_DURATION = 2,
    KGA_VALUE_NUMBER = 3
} kga_value_kind_t;

/* Exactly one decimal number ("1.29", "-3", "1,234.5", "2.5e3"), with at
 * most KGA_VALUE_UNIT_MAX letters or symbols around it as a unit or a
 * currency ("$ 1.29", "6.10 %", "12 kg"). Thousands separators are commas
 * between groups of three digits. */
#define KGA_VALUE_UNIT_MAX 3u
int kga_value_number(const char *s, double *out);

/* A calendar date, as days since 1970-01-01 (negative before):
 *   2015-05-18, 2015-05-18T10:00:00..., 2015/05/18   year first
 *   18-May-15, 18 May 2015, 18-May-2015              day, month name, year
 *   May 18 , 2015, May 18 2015, Sept. 18, 2015       month name, day, year
 * Month names in English, full or abbreviated (three letters or more),
 * any case. A two-digit year is 1950 to 2049. The day must exist in its
 * month (29 February in leap years only). Numeric day/month orders other
 * than year first are ambiguous (05/04/2015) and not read. */
int kga_value_date(const char *s, int64_t *days);

/* A duration in seconds: "3:40" (minutes:seconds), "1:02:03"
 * (hours:minutes:seconds), or ISO 8601 "PT1H2M3S" (any of the parts,
 * seconds possibly fractional). Minutes and seconds after a colon are two
 * digits below 60. */
int kga_value_duration(const char *s, double *seconds);

/* The first kind of date, duration, number that reads s (*value gets it:
 * days, seconds or the number), else KGA_VALUE_TEXT. */
kga_value_kind_t kga_value_kind(const char *s, double *value);

/* "text", "date", "duration", "number". */
const char *kga_value_kind_name(kga_value_kind_t kind);

#endif
