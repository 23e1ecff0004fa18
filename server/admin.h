#ifndef KGA_SERVER_ADMIN_H
#define KGA_SERVER_ADMIN_H

#include <sys/socket.h>

/* Who may call the admin endpoint (POST /admin/reload): a client on a
 * loopback address always; any other client only when a token is
 * configured and the request carries it as "Authorization: Bearer TOKEN".
 * Pure functions, no I/O. */

/* 1 for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104; 0 otherwise (and for
 * NULL). */
int kga_admin_is_loopback(const struct sockaddr *addr);

/* 1 when the caller may use the admin endpoint. authorization is the
 * request's Authorization header (NULL when absent); token is the
 * configured admin token ("" = none). The token is compared in time that
 * does not depend on where it differs. */
int kga_admin_allowed(const struct sockaddr *addr, const char *authorization,
                      const char *token);

#endif
