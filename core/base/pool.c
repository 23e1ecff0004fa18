/* The fork-join thread pool the model's kernels run on, and the switch
 * that keeps OpenBLAS from starting threads of its own under it. */
#include "base/pool.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/error.h"

struct kga_pool {
    int threads;
    pthread_t *tids;
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a new job or stop */
    pthread_cond_t idle; /* a worker finished the job */
    uint64_t generation;
    int stop;
    int running; /* workers still on the current job */

    /* The current job. */
    kga_pool_fn fn;
    void *ctx;
    size_t n, grain;
    atomic_size_t next;
};

typedef struct {
    kga_pool_t *pool;
    int id;
} pool_arg_t;

static void pool_work(kga_pool_t *p, int worker)
{
    for (;;) {
        size_t begin = atomic_fetch_add(&p->next, p->grain);
        if (begin >= p->n)
            break;
        size_t end = begin + p->grain < p->n ? begin + p->grain : p->n;
        p->fn(p->ctx, begin, end, worker);
    }
}

static void *pool_main(void *arg)
{
    pool_arg_t *a = arg;
    kga_pool_t *p = a->pool;
    int id = a->id;
    free(a);
    uint64_t seen = 0;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->wake, &p->lock);
        if (p->stop)
            break;
        seen = p->generation;
        pthread_mutex_unlock(&p->lock);
        pool_work(p, id);
        pthread_mutex_lock(&p->lock);
        if (--p->running == 0)
            pthread_cond_signal(&p->idle);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int kga_pool_new(int threads, kga_pool_t **out)
{
    *out = NULL;
    if (threads <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        threads = c > 0 ? (int)c : 1;
    }
    kga_pool_t *p = calloc(1, sizeof *p);
    if (p == NULL)
        return KGA_ENOMEM;
    p->threads = threads;
    p->tids = calloc((size_t)threads, sizeof *p->tids);
    if (p->tids == NULL) {
        free(p);
        return KGA_ENOMEM;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->idle, NULL);
    atomic_init(&p->next, 0);
    for (int i = 1; i < threads; i++) {
        pool_arg_t *a = malloc(sizeof *a);
        if (a != NULL) {
            a->pool = p;
            a->id = i;
        }
        if (a == NULL || pthread_create(&p->tids[i], NULL, pool_main, a) != 0) {
            free(a);
            p->threads = i;
            kga_pool_free(p);
            return KGA_ENOMEM;
        }
    }
    *out = p;
    return 0;
}

int kga_pool_threads(const kga_pool_t *p)
{
    return p != NULL ? p->threads : 1;
}

void kga_pool_run(kga_pool_t *p, size_t n, size_t grain, kga_pool_fn fn,
                  void *ctx)
{
    if (n == 0)
        return;
    if (grain == 0)
        grain = p != NULL ? (n + (size_t)p->threads - 1) / (size_t)p->threads
                          : n;
    if (p == NULL || p->threads == 1) {
        for (size_t b = 0; b < n; b += grain)
            fn(ctx, b, b + grain < n ? b + grain : n, 0);
        return;
    }
    pthread_mutex_lock(&p->lock);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->grain = grain;
    atomic_store(&p->next, 0);
    p->running = p->threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pool_work(p, 0);
    pthread_mutex_lock(&p->lock);
    while (p->running > 0)
        pthread_cond_wait(&p->idle, &p->lock);
    pthread_mutex_unlock(&p->lock);
}

void kga_pool_free(kga_pool_t *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 1; i < p->threads; i++)
        pthread_join(p->tids[i], NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->idle);
    free(p->tids);
    free(p);
}

int kga_blas_serial_enter(void)
{
    int previous = openblas_get_num_threads();
    if (previous != 1)
        openblas_set_num_threads(1);
    return previous;
}

void kga_blas_serial_leave(int previous)
{
    if (previous > 1)
        openblas_set_num_threads(previous);
}
