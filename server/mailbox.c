/* Mailboxes: how one HTTP thread asks another for something. The sender
 * takes the receiver's lock, adds to its lists and flags and wakes its
 * loop (uv_async_send); the receiver acts on its own thread, so that no
 * other state of a thread needs a lock. What travels: connections the
 * first thread accepted, answered requests to resume, /admin/reload
 * requests for the first thread, and the flags drain, stop and accept
 * again. */
#include <stdlib.h>

#include "base/grow.h"
#include "server_internal.h"

/* Posts flags, and r to the receiver's reload list (KGA_MAIL_RELOAD) or resume
 * list (otherwise). Returns 0, or -1 when `to` has stopped reading mail. */
int kga_mail_post(kga_server_t *to, unsigned flags, kga_request_t *r)
{
    pthread_mutex_lock(&to->mail_lock);
    int closed = to->mail_closed;
    if (!closed) {
        to->mail_flags |= flags;
        if (r != NULL) {
            kga_request_t **list = (flags & KGA_MAIL_RELOAD)
                                       ? &to->mail_reloads
                                       : &to->mail_resumed;
            r->mail_next = *list;
            *list = r;
        }
        uv_async_send(&to->wake);
    }
    pthread_mutex_unlock(&to->mail_lock);
    return closed ? -1 : 0;
}

/* Posts a connection accepted by the first thread to `to`. Returns 0, or
 * -1 (fd still the caller's) when `to` reads no more mail or is out of
 * memory. */
int kga_mail_post_conn(kga_server_t *to, int fd,
                       const struct sockaddr_storage *addr, socklen_t addr_len)
{
    int rc = -1;
    pthread_mutex_lock(&to->mail_lock);
    /* A failure to grow leaves the capacity full: refused below. */
    if (!to->mail_closed)
        (void)kga_grow(&to->mail_conns, &to->cap_mail_conns,
                       to->n_mail_conns + 1, 16, sizeof *to->mail_conns);
    if (!to->mail_closed && to->n_mail_conns < to->cap_mail_conns) {
        kga_new_conn_t *c = &to->mail_conns[to->n_mail_conns++];
        c->fd = fd;
        c->addr = *addr;
        c->addr_len = addr_len;
        uv_async_send(&to->wake);
        rc = 0;
    }
    pthread_mutex_unlock(&to->mail_lock);
    return rc;
}

void kga_mail_on_wake(uv_async_t *a)
{
    kga_server_t *srv = a->data;
    pthread_mutex_lock(&srv->mail_lock);
    unsigned flags = srv->mail_flags;
    kga_request_t *resumed = srv->mail_resumed;
    kga_request_t *reloads = srv->mail_reloads;
    srv->mail_flags = 0;
    srv->mail_resumed = srv->mail_reloads = NULL;
    /* All of them before a KGA_MAIL_DRAIN: the first thread posted them before
     * it closed the listener, and the drain must see them. */
    kga_new_conn_t *conns = srv->mail_conns;
    size_t n_conns = srv->n_mail_conns;
    srv->mail_conns = NULL;
    srv->n_mail_conns = srv->cap_mail_conns = 0;
    pthread_mutex_unlock(&srv->mail_lock);
    for (size_t i = 0; i < n_conns; i++)
        kga_acceptor_add(srv, conns[i].fd, &conns[i].addr, conns[i].addr_len);
    free(conns);
    for (kga_request_t *r = resumed, *next; r != NULL; r = next) {
        next = r->mail_next;
        MHD_resume_connection(r->conn);
        srv->run_pending = 1;
    }
    for (kga_request_t *r = reloads, *next; r != NULL; r = next) {
        next = r->mail_next;
        kga_reload_start_admin(srv, r);
    }
    if (flags & KGA_MAIL_ACCEPT) /* below max_connections again */
        kga_acceptor_start(srv);
    if (flags & KGA_MAIL_FILES)
        kga_reload_check_files(srv);
    if (flags & KGA_MAIL_STOP)
        kga_server_stop(srv, 0);
    else if (flags & KGA_MAIL_DRAIN)
        kga_server_start_drain(srv);
}
