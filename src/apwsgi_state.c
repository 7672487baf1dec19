/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_state.c: build and free an interpreter's state, part by part.
 */
#include "apwsgi_state.h"
#include "apwsgi_app.h"
#include "apwsgi_environ.h"
#include "apwsgi_filewrapper.h"
#include "apwsgi_input.h"
#include "apwsgi_log.h"
#include "apwsgi_process.h"
#include "apwsgi_response.h"
#include "apwsgi_timeout.h"

/*
 * The parts, in the order they are built (and freed backwards): the
 * log first, since the application's output and errors need it; the
 * guards of Apache's signals and sockets (which hold nothing in the
 * state) before anything can run the application's code; the file
 * wrapper before environ, whose constant part holds its type (and the
 * timeout exception, whose class environ hands out); the application
 * loader last, as it loads code that may use all of the others.
 * (Reload's part is made by apwsgi_reload.c at the first load, in the
 * state's pool, and holds nothing to free.)
 */
static const struct {
    int (*init)(apwsgi_state_t *st, const apwsgi_state_setup_t *setup);
    void (*free)(apwsgi_state_t *st);
} parts[] = {
    {apwsgi_log_part_init, apwsgi_log_part_free},
    {apwsgi_process_part_init, apwsgi_process_part_free},
    {apwsgi_input_part_init, apwsgi_input_part_free},
    {apwsgi_response_part_init, apwsgi_response_part_free},
    {apwsgi_filewrapper_part_init, apwsgi_filewrapper_part_free},
    {apwsgi_timeout_part_init, apwsgi_timeout_part_free},
    {apwsgi_environ_part_init, apwsgi_environ_part_free},
    {apwsgi_app_part_init, apwsgi_app_part_free},
};

#define NPARTS ((int)(sizeof(parts) / sizeof(parts[0])))

/* Bytes of freed blocks a state's allocator may keep. */
#define STATE_MAX_FREE (64 * 1024)

/* Free the first `n` parts, last first, and the pool. */
static void
state_free_parts(apwsgi_state_t *st, int n)
{
    while (n-- > 0) {
        parts[n].free(st);
    }
    apr_pool_destroy(st->pool);
}

/*
 * A pool under `parent` with an allocator of its own, which it owns:
 * two interpreters with GILs of their own may allocate at the same
 * moment (a shared allocator would need a lock on every block), and
 * destroying the pool gives all of its memory back to malloc instead
 * of to a free list kept for the life of the process.  NULL without
 * memory; the allocator in *allocator.
 */
static apr_pool_t *
own_pool_create(apr_pool_t *parent, apr_allocator_t **allocator)
{
    apr_pool_t *pool = NULL;

    if (apr_allocator_create(allocator) != APR_SUCCESS) {
        return NULL;
    }
    if (apr_pool_create_ex(&pool, parent, NULL, *allocator) != APR_SUCCESS) {
        apr_allocator_destroy(*allocator);
        return NULL;
    }
    apr_allocator_owner_set(*allocator, pool);
    return pool;
}

/* A state's pool (own_pool_create) under `parent`
 * (apwsgi_state_parent_create, which locks its list of subpools).
 * NULL without memory. */
static apr_pool_t *
state_pool_create(apr_pool_t *parent)
{
    apr_allocator_t *allocator = NULL;
    apr_pool_t *pool = own_pool_create(parent, &allocator);

    if (pool) {
        /* A state's pool only grows; bound what a pool would keep
         * anyway. */
        apr_allocator_max_free_set(allocator, STATE_MAX_FREE);
    }
    return pool;
}

apr_pool_t *
apwsgi_state_parent_create(apr_pool_t *pchild)
{
    apr_allocator_t *allocator = NULL;
    apr_thread_mutex_t *mutex = NULL;
    apr_pool_t *pool = own_pool_create(pchild, &allocator);

    if (!pool) {
        return NULL;
    }
    /* APR takes the parent's allocator mutex while it links or unlinks
     * a subpool: states may then come and go on any thread. */
    if (apwsgi_mutex_create(&mutex, pool) < 0) {
        apr_pool_destroy(pool);
        return NULL;
    }
    apr_allocator_mutex_set(allocator, mutex);
    apr_pool_tag(pool, "apwsgi_states");
    return pool;
}

apwsgi_state_t *
apwsgi_state_new(apr_pool_t *pool, server_rec *s, int own_python)
{
    apwsgi_state_setup_t setup = {NULL, s, own_python};
    apwsgi_state_t *st = NULL;

    setup.pool = state_pool_create(pool);
    if (!setup.pool) {
        PyErr_NoMemory();
        return NULL;
    }
    apr_pool_tag(setup.pool, "apwsgi_state");
    st = apr_pcalloc(setup.pool, sizeof(*st));
    st->pool = setup.pool;
    for (int i = 0; i < NPARTS; i++) {
        if (parts[i].init(st, &setup) < 0) {
            state_free_parts(st, i);
            return NULL;
        }
    }
    return st;
}

apr_pool_t *
apwsgi_state_pool(apwsgi_state_t *st)
{
    return st->pool;
}

void
apwsgi_state_free(apwsgi_state_t *st)
{
    state_free_parts(st, NPARTS);
}
