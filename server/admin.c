/* Who may call POST /admin/reload (see admin.h): loopback peers, and others
 * with the configured bearer token, compared in constant time. Pure
 * functions apart from server.c, so that the rule is tested without a
 * socket. */
#include "admin.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

int kga_admin_is_loopback(const struct sockaddr *addr)
{
    if (addr == NULL)
        return 0;
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *in =
            (const struct sockaddr_in *)(const void *)addr;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 =
            (const struct sockaddr_in6 *)(const void *)addr;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
               in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

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

int kga_admin_allowed(const struct sockaddr *addr, const char *authorization,
                      const char *token)
{
    if (kga_admin_is_loopback(addr))
        return 1;
    if (token == NULL || token[0] == '\0' || authorization == NULL)
        return 0;
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    return token_equal(given, token);
}
