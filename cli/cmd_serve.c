/* `kgalign serve`: the HTTP alignment service (server/server.c). */
#include <stdio.h>
#include <unistd.h>

#include "commands.h"
#include "config/config.h"
#include "server/log.h"
#include "server/server.h"

#define CMD "serve"

/* Declared in commands.h by the dispatcher's owner; repeated here so the
 * definition always has a prototype in scope. */
int kga_cmd_serve(int argc, char **argv);

static void serve_usage(FILE *out)
{
    fprintf(out,
            "usage: kgalign serve --data-dir DATA_DIR [--model MODEL] "
            "[--port P] [--config FILE] [OPTIONS]\n\n"
            "Serves a trained aligner over HTTP: POST /align, POST /match,\n"
            "GET /healthz, /readyz, /metrics, POST /admin/reload.\n"
            "SIGHUP reloads the stores and the model; SIGTERM drains\n"
            "(/readyz turns 503, then in-flight requests finish) and exits\n"
            "0; a second SIGINT exits at once.\n\n");
    kga_config_usage(out);
    fprintf(out, "\nLogs: one JSON object per line on stderr (a usage error "
                 "is plain text).\n"
                 "Exit status: 0 after a clean drain, 1 when the service "
                 "cannot start, 2 on a usage error, 3 when a mapped store\n"
                 "or model was truncated under a request (install files by "
                 "renaming new ones into place).\n");
}

int kga_cmd_serve(int argc, char **argv)
{
    kga_server_config_t cfg;
    kga_err_t err;
    if (kga_config_load(&cfg, argc - 1, argv + 1, environ, &err) != 0) {
        kga_cli_error(CMD, "%s", err.msg);
        fprintf(stderr, "Run 'kgalign serve --help' for the options.\n");
        kga_config_destroy(&cfg);
        return 2;
    }
    if (cfg.help) {
        serve_usage(stdout);
        kga_config_destroy(&cfg);
        return 0;
    }
    /* From here on stderr is the service's log: one JSON object a line,
     * the reason it could not start included. */
    int rc = kga_server_run(&cfg, &err);
    if (rc != 0)
        kga_log_event(KGA_LOG_ERROR, "startup_failed", "%s", err.msg);
    kga_config_destroy(&cfg);
    return rc == 0 ? 0 : 1;
}
