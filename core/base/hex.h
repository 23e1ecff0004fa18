#ifndef KGA_HEX_H
#define KGA_HEX_H

/* The value of one hexadecimal digit, either case, or -1 for any other
 * character: for the %XX escapes of the importers' URIs and of request
 * targets. Cannot fail. */
static inline int kga_hex_digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
