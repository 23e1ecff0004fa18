#ifndef KGA_COUNTOF_H
#define KGA_COUNTOF_H

/* The number of elements of an array, for the tables (options, settings,
 * notes) that are walked or handed on with their length. Given a pointer
 * instead of an array, -Wsizeof-pointer-div (in -Wall) stops the build. */
#define KGA_COUNTOF(a) (sizeof(a) / sizeof((a)[0]))

#endif
