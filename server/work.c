/* The work of /align and /match: decoding, scoring and encoding a request,
 * on a pool thread (uv_queue_work, the connection suspended meanwhile) or,
 * when it is small and its route was measured cheap, on its HTTP thread;
 * and the request deadline. Apart from the request handler because this is
 * the part that also runs off the loop thread (work_compute() on a pool
 * thread), where it may touch only the request, the snapshot it pinned,
 * the configuration and the logger.
 *
 * Deadlines: a list of the queued requests in arrival order, which is
 * deadline order since every request gets the same budget, and one timer
 * for its head. The timer cancels queued work whose deadline passed; running
 * work checks the deadline itself between batches. */
#include <math.h>
#include <string.h>

#include "server_internal.h"

static void on_deadline_timer(uv_timer_t *t);

static void deadline_arm(kga_server_t *srv)
{
    kga_request_t *first =
        KGA_LIST_FIRST(&srv->deadlines, kga_request_t, dl_node);
    if (first == NULL || srv->stopping)
        return;
    uint64_t now = kga_now_ns();
    uint64_t due = first->deadline_ns;
    uint64_t ms = due > now ? (due - now + 999999) / 1000000 : 0;
    uv_timer_start(&srv->deadline_timer, on_deadline_timer, ms, 0);
}

static void deadline_append(kga_server_t *srv, kga_request_t *r)
{
    if (r->deadline_ns == 0)
        return;
    kga_list_append(&srv->deadlines, &r->dl_node);
    r->in_deadline_list = 1;
    if (srv->deadlines.head == &r->dl_node)
        deadline_arm(srv);
}

static void deadline_remove(kga_server_t *srv, kga_request_t *r)
{
    if (!r->in_deadline_list)
        return;
    kga_list_remove(&srv->deadlines, &r->dl_node);
    r->in_deadline_list = 0;
    /* The timer may now fire early for the new head; it then re-arms. */
}

/* Requests whose deadline passed: the ones no thread has started are
 * cancelled (their after-work callback answers 504); running ones check
 * the deadline themselves between batches. */
static void on_deadline_timer(uv_timer_t *t)
{
    kga_server_t *srv = t->data;
    uint64_t now = kga_now_ns();
    kga_request_t *r;
    while ((r = KGA_LIST_FIRST(&srv->deadlines, kga_request_t, dl_node)) !=
               NULL &&
           r->deadline_ns <= now) {
        deadline_remove(srv, r);
        (void)uv_cancel((uv_req_t *)&r->work); /* UV_EBUSY: running */
    }
    deadline_arm(srv);
}

/* Decodes, scores and encodes r into r->response, on whichever thread runs
 * it, and writes its log line there. */
static void work_compute(kga_request_t *r)
{
    kga_route_call_t *c = &r->call;
    uint64_t t0 = kga_now_ns();
    if (c->deadline_ns != 0 && t0 > c->deadline_ns) {
        /* Not started before the deadline: answered without computing. */
        r->response = kga_request_error_response(
            r, kga_snapshot_model_version(r->snap), KGA_WIRE_DEADLINE_EXCEEDED,
            "the request deadline passed before a worker could start it",
            &r->status);
        r->pairs = 0;
    } else {
        if (r->route == KGA_ROUTE_ALIGN)
            kga_route_align(c);
        else
            kga_route_match(c);
        r->status = c->out != NULL ? c->status : 500;
        r->pairs = c->pairs;
        r->response = kga_request_response(r, c->out, c->out_len, r->status,
                                           KGA_JSON_TYPE);
        c->out = NULL;
    }
    uint64_t t1 = kga_now_ns();
    r->work_ns = t1 - t0;
    kga_request_log(r, r->status, t1, r->pairs);
}

static void work_run(uv_work_t *w)
{
    kga_request_t *r = w->data;
    atomic_fetch_sub_explicit(&r->srv->svc->queued, 1, memory_order_relaxed);
    work_compute(r);
}

/* Small requests: at most this many body bytes (one pair is about 100). */
#define SMALL_BODY KGA_INLINE_BODY

/* A small request's work time, into its route's running mean (the last
 * eight or so requests weigh most). One time is taken as at most four
 * times inline_max_us: a thread preempted once on a busy machine does not
 * keep a cheap route off the HTTP thread for long (a dozen requests). */
static void note_small_cost(kga_server_t *srv, const kga_request_t *r)
{
    if (r->body.len > SMALL_BODY)
        return;
    double us = fmin((double)r->work_ns / 1e3,
                     4.0 * (double)srv->cfg->inline_max_us);
    double *mean = &srv->small_cost_us[r->route];
    *mean = isinf(*mean) ? us : *mean + (us - *mean) / 8.0;
}

/* 1 when r is scored here on the HTTP thread: it is small, and its route's
 * recent small requests were cheap. Until one was measured on a worker the
 * cost is unknown, so a slow model never blocks the loop even once; and
 * when a route turns slow (explanations, a bigger model), its requests go
 * back to the workers. */
static int runs_inline(const kga_server_t *srv, const kga_request_t *r)
{
    int max_us = srv->cfg->inline_max_us;
    return max_us > 0 && r->body.len <= SMALL_BODY &&
           srv->small_cost_us[r->route] <= (double)max_us;
}

/* How a work request ended, for its counters. */
typedef enum {
    WORK_QUEUED,   /* run by a worker */
    WORK_INLINE,   /* run on its HTTP thread */
    WORK_CANCELLED /* its deadline passed in the queue */
} work_end_t;

/* The end of a work request on its HTTP thread, however it ran: its
 * counters in one hold of the lock. */
static void work_finish(kga_request_t *r, uint64_t now, work_end_t how)
{
    kga_server_t *srv = r->srv;
    kga_server_metrics_lock(srv);
    kga_metrics_request(&srv->metrics, r->route, r->status,
                        (double)(now - r->start_ns) / 1e9, r->pairs);
    if (how == WORK_INLINE)
        srv->metrics.inline_requests++;
    else if (how == WORK_CANCELLED)
        srv->metrics.deadline_cancelled++;
    kga_server_metrics_unlock(srv);
    kga_snapshot_unref(r->snap);
    r->snap = NULL;
    atomic_fetch_sub_explicit(&srv->svc->inflight, 1, memory_order_relaxed);
}

static void work_done(uv_work_t *w, int status)
{
    kga_request_t *r = w->data;
    kga_server_t *srv = r->srv;
    uint64_t now = kga_now_ns();
    deadline_remove(srv, r);
    if (status == UV_ECANCELED) {
        atomic_fetch_sub_explicit(&srv->svc->queued, 1,
                                  memory_order_relaxed);
        r->response = kga_request_error_response(
            r, kga_snapshot_model_version(r->snap), KGA_WIRE_DEADLINE_EXCEEDED,
            "the request deadline passed before a worker could start it",
            &r->status);
        r->pairs = 0;
        kga_request_log(r, r->status, now, 0);
    } else {
        note_small_cost(srv, r);
    }
    work_finish(r, now,
                status == UV_ECANCELED ? WORK_CANCELLED : WORK_QUEUED);
    r->state = KGA_REQ_ANSWERED;
    MHD_resume_connection(r->conn);
    srv->run_pending = 1;
}

static enum MHD_Result answer_inflight_cap(kga_request_t *r)
{
    char msg[64];
    snprintf(msg, sizeof msg, "%d requests in flight, the limit",
             r->srv->cfg->max_inflight);
    return kga_request_answer_error(r, KGA_WIRE_UNAVAILABLE, msg);
}

enum MHD_Result kga_work_start(kga_request_t *r)
{
    kga_server_t *srv = r->srv;
    kga_service_t *svc = srv->svc;
    kga_snapshot_t *snap = kga_service_snapshot_pin(svc);
    if (snap == NULL)
        return kga_request_answer_error(r, KGA_WIRE_NOT_READY,
                                        "no snapshot is loaded yet");
    /* Its mapped files as they were loaded, or it is not used: a file
     * rewritten in place is not what was validated, and a truncated one
     * faults when read (fault.h). The first thread marks it stale, says
     * why, and loads the files again once they changed since its last
     * attempt (a request is what tells it when file_check_interval_ms is
     * 0). */
    kga_err_t ferr;
    if (kga_snapshot_stale(snap) ||
        kga_snapshot_check_files(snap, &ferr) != 0) {
        (void)kga_mail_post(svc->threads[0], KGA_MAIL_FILES, NULL);
        kga_snapshot_unref(snap);
        return kga_request_answer_error(
            r, KGA_WIRE_UNAVAILABLE,
            "the stores or the model changed on disk since they were "
            "loaded; the server is loading them again");
    }
    if (atomic_fetch_add_explicit(&svc->inflight, 1, memory_order_relaxed) >=
        srv->cfg->max_inflight) {
        atomic_fetch_sub_explicit(&svc->inflight, 1, memory_order_relaxed);
        kga_snapshot_unref(snap);
        return answer_inflight_cap(r);
    }
    r->snap = snap;
    kga_route_call_t *c = &r->call;
    memset(c, 0, sizeof *c);
    c->aligner = kga_snapshot_aligner(r->snap);
    c->body = r->body.data != NULL ? r->body.data : "";
    c->body_len = r->body.len;
    c->limits = &srv->limits;
    c->request_id = r->id;
    c->deadline_ns = r->deadline_ns;

    if (runs_inline(srv, r)) {
        work_compute(r);
        note_small_cost(srv, r);
        work_finish(r, kga_now_ns(), WORK_INLINE);
        return kga_request_queue_prepared(r);
    }

    r->work.data = r;
    atomic_fetch_add_explicit(&svc->queued, 1, memory_order_relaxed);
    int rc = uv_queue_work(&srv->loop, &r->work, work_run, work_done);
    if (rc != 0) {
        atomic_fetch_sub_explicit(&svc->queued, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&svc->inflight, 1, memory_order_relaxed);
        kga_snapshot_unref(r->snap);
        r->snap = NULL;
        return kga_request_answer_error(r, KGA_WIRE_INTERNAL,
                                        "cannot queue the work");
    }
    r->state = KGA_REQ_QUEUED;
    MHD_suspend_connection(r->conn);
    deadline_append(srv, r);
    return MHD_YES;
}
