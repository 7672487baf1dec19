/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_reaper.c: a thread that runs the table's reaping about once a
 * second, and at once when woken.
 */
#include "apwsgi_reaper.h"
#include "apr_thread_cond.h"
#include "apr_thread_proc.h"

/* How often the reaper looks for interpreters to end. */
#define REAP_INTERVAL apr_time_from_sec(1)

static apr_thread_t *reaper_thread;
static apr_thread_mutex_t *reaper_mutex; /* guards reaper_stop */
static apr_thread_cond_t *reaper_cond;
static int reaper_stop;
static void (*reaper_work)(void);

int
apwsgi_reaper_init(apr_pool_t *pchild)
{
    if (apwsgi_mutex_create(&reaper_mutex, pchild) < 0
        || apr_thread_cond_create(&reaper_cond, pchild) != APR_SUCCESS) {
        return -1;
    }
    return 0;
}

static void *APR_THREAD_FUNC
reaper_main(apr_thread_t *thread, void *data)
{
    (void)data;
    apr_thread_mutex_lock(reaper_mutex);
    while (!reaper_stop) {
        apr_thread_cond_timedwait(reaper_cond, reaper_mutex, REAP_INTERVAL);
        if (reaper_stop) {
            break;
        }
        apr_thread_mutex_unlock(reaper_mutex);
        reaper_work();
        apr_thread_mutex_lock(reaper_mutex);
    }
    apr_thread_mutex_unlock(reaper_mutex);
    apr_thread_exit(thread, APR_SUCCESS);
    return NULL;
}

int
apwsgi_reaper_start(apr_pool_t *pchild, void (*work)(void))
{
    apr_status_t rv = APR_SUCCESS;

    reaper_work = work;
    rv = apr_thread_create(&reaper_thread, NULL, reaper_main, NULL, pchild);
    return rv == APR_SUCCESS ? 0 : -1;
}

void
apwsgi_reaper_wake(void)
{
    apr_thread_mutex_lock(reaper_mutex);
    apr_thread_cond_signal(reaper_cond);
    apr_thread_mutex_unlock(reaper_mutex);
}

void
apwsgi_reaper_stop(void)
{
    apr_status_t rv = APR_SUCCESS;

    if (!reaper_thread) {
        return;
    }
    apr_thread_mutex_lock(reaper_mutex);
    reaper_stop = 1;
    apr_thread_cond_signal(reaper_cond);
    apr_thread_mutex_unlock(reaper_mutex);
    apr_thread_join(&rv, reaper_thread);
    reaper_thread = NULL;
}
