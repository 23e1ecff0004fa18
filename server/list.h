#ifndef KGA_SERVER_LIST_H
#define KGA_SERVER_LIST_H

#include <stddef.h>

/* An intrusive doubly linked list in insertion order, for the server's
 * queues that are appended at the tail and taken from the head or from the
 * middle in O(1): the node lives in the listed struct, and
 * KGA_LIST_ENTRY gives that struct back. Not thread-safe: each list
 * belongs to one loop thread. */

typedef struct kga_list_node {
    struct kga_list_node *prev, *next;
} kga_list_node_t;

typedef struct {
    kga_list_node_t *head, *tail;
} kga_list_t;

#define KGA_LIST_ENTRY(node, type, member)                                  \
    ((type *)(void *)((char *)(node) - offsetof(type, member)))

/* The struct holding the first node, or NULL when the list is empty. */
#define KGA_LIST_FIRST(list, type, member)                                  \
    ((list)->head != NULL ? KGA_LIST_ENTRY((list)->head, type, member)     \
                          : NULL)

static inline void kga_list_append(kga_list_t *l, kga_list_node_t *e)
{
    e->next = NULL;
    e->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
}

static inline void kga_list_remove(kga_list_t *l, kga_list_node_t *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

#endif
