#ifndef KGA_SERVER_H
#define KGA_SERVER_H

#include "config/config.h"
#include "base/error.h"

/* The alignment service: libmicrohttpd in external epoll mode driven by a
 * libuv loop, scoring on libuv's worker pool (docs/service.md).
 *
 * Runs the service described by cfg (a loaded configuration, borrowed for
 * the call) on the calling thread until it stops: binds the listen address,
 * loads the first snapshot in the background (/readyz is 503 until it is
 * there), serves, reloads on SIGHUP and POST /admin/reload, and drains on
 * SIGTERM or SIGINT. Installs its own handlers for SIGTERM, SIGINT, SIGHUP
 * and ignores SIGPIPE; sets UV_THREADPOOL_SIZE to cfg->threads, so it must
 * run before anything else in the process uses libuv's pool.
 *
 * Returns 0 after a clean drain; KGA_EIO when the address cannot be bound
 * or the HTTP daemon cannot start, and the first snapshot's error code when
 * it fails to load; err says why. A second SIGINT during a drain exits the
 * process at once with status 130. */
int kga_server_run(const kga_server_config_t *cfg, kga_err_t *err);

#endif
