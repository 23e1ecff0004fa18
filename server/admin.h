#ifndef KGA_SERVER_ADMIN_H
#define KGA_SERVER_ADMIN_H

/* Who may call the admin endpoint (POST /admin/reload): a request that
 * carries the configured token as "Authorization: Bearer TOKEN", whatever
 * its source address. No address is trusted: a load balancer or a
 * service-mesh sidecar on the same host makes every client a loopback
 * peer. With no token configured the endpoint is off (SIGHUP still
 * reloads). Pure function, no I/O. */

/* 1 when the caller may use the admin endpoint. authorization is the
 * request's Authorization header (NULL when absent); token is the
 * configured admin token ("" = none: always 0). The token is compared in
 * time that does not depend on where it differs. */
int kga_admin_allowed(const char *authorization, const char *token);

#endif
