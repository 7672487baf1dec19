/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_monitor.c: stacks of slow requests, request timeouts, and the
 * series of figures.
 *
 * Each round works on a copy of the registry in a pool cleared every
 * round: for each interpreter that has requests to look at, hold it
 * alive, take its GIL once, take the stacks and raise the timeouts,
 * let go; only then log (no GIL held while writing the log) and
 * publish the stacks.
 */
#include "apwsgi_monitor.h"
#include "apwsgi_interp.h"
#include "apwsgi_log.h"
#include "apwsgi_metrics.h"
#include "apwsgi_timeout.h"
#include "apwsgi_tstate.h"
#include "apr_thread_cond.h"
#include "apr_thread_proc.h"

#include <unistd.h>

/* The longest wait between two rounds. */
#define ROUND apr_time_from_sec(1)
/* How long after its deadline a request that got the exception and
 * still runs is logged as stuck outside Python. */
#define STUCK_AFTER apr_time_from_sec(2)
/* Requests remembered as logged stuck (a ring). */
#define STUCK_MEMORY 64
/* How long the child's exit waits for the thread to end its round. */
#define STOP_WAIT apr_time_from_sec(2)

static apr_thread_t *monitor_thread;
static apr_thread_mutex_t *monitor_mutex;    /* guards the two flags */
static apr_thread_cond_t *monitor_cond;      /* wakes the thread */
static apr_thread_cond_t *monitor_done_cond; /* it has ended */
static int monitor_stop;
static int monitor_done;
static server_rec *monitor_server;
/* The thread's own memory, outside the child's pool: a thread the exit
 * could not wait for must not lose it under its feet. */
static apr_pool_t *monitor_pool;
static apr_pool_t *round_pool;
/* Monitor thread only: */
static apr_uint64_t stuck_logged[STUCK_MEMORY];
static int stuck_next;

/* What a round does with one request. */
typedef struct {
    const apwsgi_inflight_info_t *info;
    int want_stack;   /* slow: publish its stack */
    int want_timeout; /* past its deadline: raise */
    int want_stuck;   /* raised a while ago: has it fired? */
    char *stack;      /* taken under the GIL */
    int raised;
    int stuck; /* the exception has still not fired */
} job_t;

char *
apwsgi_monitor_stack(const apwsgi_inflight_info_t *info, apr_pool_t *p)
{
    PyThreadState *ts = NULL;
    char *text = NULL;

    if (!info->in || apwsgi_interp_hold(info->in, info->generation) < 0) {
        return NULL;
    }
    ts = apwsgi_tstate_enter(info->in);
    if (ts) {
        text = apwsgi_inflight_stack(info, p);
        apwsgi_tstate_leave(ts);
    }
    apwsgi_interp_release(info->in, 0);
    return text;
}

/* Take the stacks and raise the timeouts of the jobs of interpreter
 * `in` (jobs[i].info->in == in, from `first` on).  No GIL held. */
static void
visit_interp(job_t *jobs, int n, int first, apr_pool_t *p)
{
    const apwsgi_inflight_info_t *lead = jobs[first].info;
    apwsgi_interp_t *in = lead->in;
    PyThreadState *ts = NULL;

    if (apwsgi_interp_hold(in, lead->generation) < 0) {
        return;
    }
    ts = apwsgi_tstate_enter(in);
    for (int i = first; ts && i < n; i++) {
        job_t *job = &jobs[i];

        if (job->info->in != in || job->info->generation != lead->generation) {
            continue;
        }
        if (job->want_stuck) {
            job->stuck = apwsgi_inflight_pending(job->info);
        }
        if (!job->want_stack && !job->want_timeout) {
            continue;
        }
        job->stack = apwsgi_inflight_stack(job->info, p);
        if (job->stack && job->want_timeout) {
            job->raised = apwsgi_inflight_raise(
                job->info, apwsgi_timeout_type(in->state));
        }
    }
    if (ts) {
        apwsgi_tstate_leave(ts);
    }
    apwsgi_interp_release(in, 0);
}

static const char *
request_label(const apwsgi_inflight_info_t *info, apr_pool_t *p)
{
    return apr_psprintf(p, "%s %s (interpreter '%s', pid %d, thread %ld)",
                        info->method, info->path,
                        info->interp ? info->interp : "", (int)getpid(),
                        info->tid);
}

static void
log_timeout(const job_t *job, apr_pool_t *p)
{
    const apwsgi_inflight_info_t *info = job->info;
    long secs = (long)apr_time_sec(info->deadline - info->start);

    apwsgi_log_text(
        monitor_server, APLOG_ERR, APWSGI_APLOGNO(00706),
        apr_psprintf(p,
                     "%s reached mod_wsgi.request_timeout of %ld s: "
                     "apwsgi.RequestTimeout raised in its thread, which "
                     "was at:\n%s",
                     request_label(info, p), secs, job->stack));
}

/* Whether a request was logged stuck already. */
static int
stuck_known(apr_uint64_t id)
{
    for (int i = 0; i < STUCK_MEMORY; i++) {
        if (stuck_logged[i] == id) {
            return 1;
        }
    }
    return 0;
}

/* Log once that a request whose exception has not fired still runs. */
static void
log_stuck(const apwsgi_inflight_info_t *info, apr_time_t now, apr_pool_t *p)
{
    stuck_logged[stuck_next] = info->id;
    stuck_next = (stuck_next + 1) % STUCK_MEMORY;
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, monitor_server,
                 APWSGI_APLOGNO(00707) "%s still runs %.0f s after its "
                                       "mod_wsgi.request_timeout: its "
                                       "thread is blocked outside Python "
                                       "(in C code) and gets "
                                       "apwsgi.RequestTimeout once it "
                                       "returns to Python",
                 request_label(info, p),
                 (double)(now - info->deadline) / APR_USEC_PER_SEC);
}

/* One round.  Returns when the next round is due (apwsgi_now()). */
static apr_time_t
round_run(apr_pool_t *p)
{
    apwsgi_inflight_info_t *infos = NULL;
    int n = apwsgi_inflight_snapshot(p, &infos);
    job_t *jobs = apr_pcalloc(p, (n ? n : 1) * sizeof(*jobs));
    apr_uint64_t ids[APWSGI_METRICS_STACKS];
    const char *texts[APWSGI_METRICS_STACKS];
    apr_time_t now = apwsgi_now();
    apr_time_t next = now + ROUND;
    int njobs = 0;
    int nstacks = 0;

    for (int i = 0; i < n; i++) {
        const apwsgi_inflight_info_t *info = &infos[i];
        job_t *job = &jobs[njobs];

        if (info->deadline > now && info->deadline < next) {
            next = info->deadline;
        }
        if (!info->in || !info->in_python) {
            continue;
        }
        job->info = info;
        job->want_stack =
            info->stack_after > 0 && now - info->start >= info->stack_after;
        job->want_timeout =
            info->deadline && now >= info->deadline && !info->raised;
        /* A timeout's raise only: the child's exit raises too. */
        job->want_stuck = info->raised && info->deadline
                          && now >= info->deadline + STUCK_AFTER
                          && !stuck_known(info->id);
        njobs += job->want_stack || job->want_timeout || job->want_stuck;
    }
    /* Each interpreter's GIL once, at its first job. */
    for (int i = 0; i < njobs; i++) {
        int seen = 0;

        for (int j = 0; j < i && !seen; j++) {
            seen = jobs[j].info->in == jobs[i].info->in
                   && jobs[j].info->generation == jobs[i].info->generation;
        }
        if (!seen) {
            visit_interp(jobs, njobs, i, p);
        }
    }
    for (int i = 0; i < njobs; i++) {
        if (jobs[i].raised) {
            log_timeout(&jobs[i], p);
        }
        if (jobs[i].stuck) {
            log_stuck(jobs[i].info, now, p);
        }
        /* Oldest first: the stacks that fit are the oldest ones. */
        if (jobs[i].stack && jobs[i].want_stack
            && nstacks < APWSGI_METRICS_STACKS) {
            ids[nstacks] = jobs[i].info->id;
            texts[nstacks++] = jobs[i].stack;
        }
    }
    apwsgi_metrics_stacks(ids, texts, nstacks);
    apwsgi_metrics_tick();
    return next;
}

/* The thread's body.  It returns rather than call apr_thread_exit(),
 * which would end the thread inside this frame (AddressSanitizer then
 * takes its dead locals for live ones). */
static void *APR_THREAD_FUNC
monitor_main(apr_thread_t *thread, void *data)
{
    apr_time_t next = apwsgi_now() + ROUND;
    apr_time_t wait = 0;

    (void)thread;
    (void)data;
    apr_thread_mutex_lock(monitor_mutex);
    while (!monitor_stop) {
        wait = next - apwsgi_now();
        if (wait > 0) {
            apr_thread_cond_timedwait(monitor_cond, monitor_mutex, wait);
        }
        if (monitor_stop) {
            break;
        }
        apr_thread_mutex_unlock(monitor_mutex);
        apr_pool_clear(round_pool);
        next = round_run(round_pool);
        apr_thread_mutex_lock(monitor_mutex);
    }
    monitor_done = 1;
    apr_thread_cond_signal(monitor_done_cond);
    apr_thread_mutex_unlock(monitor_mutex);
    return NULL;
}

int
apwsgi_monitor_start(apr_pool_t *pchild, server_rec *s)
{
    (void)pchild;
    monitor_server = s;
    if (apr_pool_create_unmanaged(&monitor_pool) != APR_SUCCESS) {
        return -1;
    }
    if (apwsgi_mutex_create(&monitor_mutex, monitor_pool) < 0
        || apr_thread_cond_create(&monitor_cond, monitor_pool) != APR_SUCCESS
        || apr_thread_cond_create(&monitor_done_cond, monitor_pool)
               != APR_SUCCESS
        || apr_pool_create(&round_pool, monitor_pool) != APR_SUCCESS
        || apr_thread_create(&monitor_thread, NULL, monitor_main, NULL,
                             monitor_pool)
               != APR_SUCCESS) {
        apr_pool_destroy(monitor_pool);
        monitor_pool = NULL;
        monitor_thread = NULL;
        return -1;
    }
    return 0;
}

void
apwsgi_monitor_stop(void)
{
    apr_status_t rv = APR_SUCCESS;
    apr_time_t until = apwsgi_now() + STOP_WAIT;

    if (!monitor_thread) {
        return;
    }
    apr_thread_mutex_lock(monitor_mutex);
    monitor_stop = 1;
    apr_thread_cond_signal(monitor_cond);
    while (!monitor_done && until > apwsgi_now()) {
        apr_thread_cond_timedwait(monitor_done_cond, monitor_mutex,
                                  until - apwsgi_now());
    }
    apr_thread_mutex_unlock(monitor_mutex);
    /* A round that waits for a GIL which a request thread holds (an
     * exit that did not wait for the requests) is left to the process's
     * end: that request also keeps Python from being finalised. */
    if (monitor_done) {
        apr_thread_join(&rv, monitor_thread);
        apr_pool_destroy(monitor_pool);
        monitor_pool = NULL;
    }
    monitor_thread = NULL;
}
