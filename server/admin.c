/* Who may call POST /admin/reload (see admin.h): the bearer of the
 * configured token, compared in constant time; nobody when none is set.
 * A pure function apart from the handler, so that the rule is tested
 * without a socket. */
#include "admin.h"

#include <string.h>
#include <strings.h>

/* No early exit: the time taken does not tell how much of the token was
 * right. */
static int token_equal(const char *given, const char *want)
{
    size_t gl = strlen(given), wl = strlen(want);
    unsigned diff = gl != wl;
    for (size_t i = 0; i < wl; i++)
        diff |= (unsigned)((unsigned char)want[i] ^
                           (unsigned char)(i < gl ? given[i] : 0));
    return diff == 0;
}

int kga_admin_allowed(const char *authorization, const char *token)
{
    if (token == NULL || token[0] == '\0' || authorization == NULL)
        return 0;
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    return token_equal(given, token);
}
