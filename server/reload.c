/* Snapshot loading: the first load at start-up, and reloads on SIGHUP,
 * POST /admin/reload and files changed on disk. All of it runs on the first
 * HTTP thread, which owns the reloads; the open itself (kga_snapshot_open)
 * runs on the worker pool, and its result is swapped in under the service's
 * snapshot lock. Requests in flight keep the snapshot they pinned. A reload
 * that fails keeps the old snapshot, unless its files changed in place (it
 * is stale: nothing serves until a reload succeeds); the first load failing
 * stops the service.
 *
 * Files changed in place: the stores and the model are mapped, so a file
 * rewritten under the server (cp over it, not a rename) is no longer what
 * was validated, and a read past a truncation faults. The serving
 * snapshot's files are checked (size and modification time) before each
 * request (work.c), every file_check_interval_ms here, and before each
 * reload; once they changed, the snapshot is stale and the files are
 * loaded again as soon as they differ from the last ones that failed. */
#include <stdlib.h>

#include "log.h"
#include "server_internal.h"

static void reload_run(uv_work_t *w)
{
    kga_reload_job_t *job = w->data;
    job->rc = kga_snapshot_open(&job->src, job->version, &job->result,
                                &job->err);
}

/* Answers the /admin/reload request waiting for job, whichever HTTP thread
 * its connection is on: that thread resumes it (kga_mail_post). */
static void answer_reload_waiter(kga_reload_job_t *job)
{
    kga_request_t *r = job->waiter;
    if (r == NULL)
        return;
    job->waiter = NULL;
    uint64_t now = kga_now_ns();
    kga_snapshot_t *snap = kga_service_snapshot_pin(r->srv->svc);
    const char *model_version =
        snap != NULL ? kga_snapshot_model_version(snap) : NULL;
    if (job->serving) {
        kga_wire_meta_t meta = {r->id, model_version};
        char *out = NULL;
        size_t len = 0;
        r->status = 200;
        if (kga_status_response_format(&meta, "reloaded", &out, &len) != 0)
            r->status = 500;
        r->response =
            kga_request_response(r, out, len, r->status, KGA_JSON_TYPE);
    } else {
        r->response = kga_request_error_response(
            r, model_version, KGA_WIRE_RELOAD_FAILED,
            job->rc != 0 ? job->err.msg : "the server is stopping", &r->status);
    }
    kga_snapshot_unref(snap);
    kga_request_resume_answered(r, now);
}

static void reload_done(uv_work_t *w, int status)
{
    kga_reload_job_t *job = w->data;
    kga_server_t *srv = job->srv;
    srv->reload = NULL;
    if (status != 0 && job->rc == 0)
        job->rc = kga_err_set(&job->err, KGA_EIO, "reload cancelled");

    kga_service_t *svc = srv->svc;
    if (job->rc == 0 && !srv->stopping) {
        kga_snapshot_t *now_serving = job->result;
        job->serving = 1;
        srv->failed_signature = 0;
        pthread_mutex_lock(&svc->snap_lock);
        kga_snapshot_t *old = svc->snap;
        svc->snap = now_serving;
        pthread_mutex_unlock(&svc->snap_lock);
        atomic_store_explicit(&svc->loaded, 1, memory_order_release);
        srv->loads++;
        kga_server_metrics_lock(srv);
        srv->metrics.reloads++;
        kga_server_metrics_unlock(srv);
        kga_logline_t l;
        kga_logline_begin(&l, KGA_LOG_INFO, "snapshot_loaded");
        kga_logline_str(&l, "trigger", job->trigger);
        kga_logline_int(&l, "snapshot_version",
                        (int64_t)kga_snapshot_version(now_serving));
        kga_logline_str(&l, "model_version",
                        kga_snapshot_model_version(now_serving));
        kga_logline_num(&l, "load_seconds",
                        kga_snapshot_load_seconds(now_serving));
        kga_logline_end(&l);
        /* In-flight requests hold their own references to the old one. */
        kga_snapshot_unref(old);
    } else if (job->rc != 0) {
        kga_server_metrics_lock(srv);
        srv->metrics.reload_failures++;
        kga_server_metrics_unlock(srv);
        /* Only this thread swaps the pointer: no pin needed to read it. */
        kga_snapshot_t *serving = svc->snap;
        srv->failed_signature = job->signature;
        kga_logline_t l;
        kga_logline_begin(&l, KGA_LOG_ERROR, "reload_failed");
        kga_logline_str(&l, "trigger", job->trigger);
        kga_logline_str(&l, "error", kga_err_name(job->rc));
        kga_logline_str(&l, "message", job->err.msg);
        kga_logline_int(&l, "serving_version",
                        serving != NULL && !kga_snapshot_stale(serving)
                            ? (int64_t)kga_snapshot_version(serving)
                            : 0);
        kga_logline_end(&l);
    } else {
        kga_snapshot_unref(job->result); /* loaded while stopping */
        job->result = NULL;
    }

    answer_reload_waiter(job);
    if (!kga_service_loaded(svc) && !srv->stopping) {
        /* The first load failed: there is nothing to serve. */
        if (srv->fatal != NULL)
            kga_err_set(srv->fatal, job->rc, "%s", job->err.msg);
        kga_service_stop(svc, job->rc != 0 ? job->rc : KGA_EIO);
    } else if (srv->reload_again && !srv->stopping &&
               !kga_service_draining(svc)) {
        srv->reload_again = 0;
        kga_reload_start(srv, "SIGHUP");
    }
    free(job);
    kga_server_maybe_finish_drain(srv);
}

/* Marks the serving snapshot stale when its files changed; returns 1 when
 * it is stale. */
static int serving_files_changed(kga_server_t *srv)
{
    kga_snapshot_t *snap = srv->svc->snap; /* this thread swaps it */
    if (snap == NULL)
        return 0;
    kga_err_t err;
    if (kga_snapshot_check_files(snap, &err) == 0 && !kga_snapshot_stale(snap))
        return 0;
    if (kga_snapshot_mark_stale(snap)) {
        kga_logline_t l;
        kga_logline_begin(&l, KGA_LOG_ERROR, "snapshot_files_changed");
        kga_logline_int(&l, "snapshot_version",
                        (int64_t)kga_snapshot_version(snap));
        kga_logline_str(&l, "message", err.msg);
        kga_logline_str(&l, "action",
                        "no longer served; loading the files again");
        kga_logline_end(&l);
    }
    return 1;
}

void kga_reload_check_files(kga_server_t *srv)
{
    if (srv->stopping || kga_service_draining(srv->svc) ||
        !serving_files_changed(srv))
        return;
    const kga_server_config_t *cfg = srv->cfg;
    kga_snapshot_source_t src = {cfg->left_store, cfg->right_store,
                                 cfg->model, 1, -1.0f};
    if (srv->reload == NULL &&
        kga_snapshot_source_signature(&src) != srv->failed_signature)
        (void)kga_reload_start(srv, "files_changed");
}

static void on_file_timer(uv_timer_t *t)
{
    kga_reload_check_files(t->data);
}

void kga_reload_watch_files(kga_server_t *srv)
{
    uint64_t ms = (uint64_t)srv->cfg->file_check_interval_ms;
    if (ms > 0)
        uv_timer_start(&srv->file_timer, on_file_timer, ms, ms);
}

/* Returns 0, or -1 when a reload is already running. */
int kga_reload_start(kga_server_t *srv, const char *trigger)
{
    if (srv->reload != NULL)
        return -1;
    /* The serving files are checked first, so that a reload that fails
     * does not leave a changed snapshot serving. */
    (void)serving_files_changed(srv);
    kga_reload_job_t *job = calloc(1, sizeof *job);
    if (job == NULL)
        return -1;
    const kga_server_config_t *cfg = srv->cfg;
    job->srv = srv;
    job->trigger = trigger;
    job->version = srv->loads + 1;
    job->src.left_store = cfg->left_store;
    job->src.right_store = cfg->right_store;
    job->src.model = cfg->model;
    /* The first load may use every core; later ones run beside the
     * traffic and take one. */
    job->src.threads = !kga_service_loaded(srv->svc) ? cfg->threads : 1;
    job->src.threshold = (float)cfg->threshold;
    job->signature = kga_snapshot_source_signature(&job->src);
    job->work.data = job;
    if (uv_queue_work(&srv->loop, &job->work, reload_run, reload_done) != 0) {
        free(job);
        return -1;
    }
    srv->reload = job;
    kga_logline_t l;
    kga_logline_begin(&l, KGA_LOG_INFO, "reload_started");
    kga_logline_str(&l, "trigger", trigger);
    kga_logline_str(&l, "model", cfg->model);
    kga_logline_end(&l);
    return 0;
}

/* First thread: an /admin/reload request from any thread. */
void kga_reload_start_admin(kga_server_t *srv, kga_request_t *r)
{
    if (srv->stopping || kga_service_draining(srv->svc))
        kga_request_resume_with_error(r, KGA_WIRE_UNAVAILABLE, "draining");
    else if (kga_reload_start(srv, "admin") != 0)
        kga_request_resume_with_error(r, KGA_WIRE_CONFLICT,
                                      "a reload is already running");
    else
        srv->reload->waiter = r;
}
