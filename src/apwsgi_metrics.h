/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_metrics.h: the figures every child collects, shared by all
 * children of the server.
 *
 * One anonymous shared memory segment (mmap MAP_SHARED|MAP_ANONYMOUS:
 * nothing on disk) is made in the Apache parent when the module is
 * loaded, kept in Apache's retained data so that it outlives the
 * module's unloading at each restart, and inherited by every child
 * of every generation across fork; it goes when the parent exits.
 *
 * Each child claims a slot of it at child init and writes only its
 * own slot, with relaxed atomic adds and no lock: per interpreter
 * (by name) the requests by status class, a latency histogram, the
 * time spent waiting for the interpreter's GIL, exceptions, timeouts,
 * bytes in and out, requests in flight and the interpreter's life
 * events; per child the busy workers, and a list of the requests in
 * flight with the Python stack of the slow ones (written by the
 * child's monitor thread).  At a clean exit a child folds its counters
 * into the segment's retired totals and frees its slot; the slot of a
 * child that died is folded by the first process that finds it dead.
 * So counters never go down across graceful restarts and child
 * recycling.  Readers (the status handler, in any child) add up the
 * retired totals and every claimed slot under a sequence count that
 * folding changes.
 *
 * A leaf: no Python, no call into the rest of the module.
 */
#ifndef APWSGI_METRICS_H
#define APWSGI_METRICS_H

#include "apwsgi.h"
#include "apwsgi_interp.h"

/* Upper bounds of the latency histogram, in seconds (+Inf after). */
#define APWSGI_DURATION_BUCKETS 12
/* Upper bounds of the GIL-wait histogram, in seconds (+Inf after). */
#define APWSGI_GIL_BUCKETS 10
/* Status classes counted: 1xx to 5xx. */
#define APWSGI_CODE_CLASSES 5

extern const double apwsgi_duration_bounds[APWSGI_DURATION_BUCKETS - 1];
extern const double apwsgi_gil_bounds[APWSGI_GIL_BUCKETS - 1];

/* Interpreter life events. */
enum {
    APWSGI_INTERP_CREATED,  /* made (or, next to mod_python, adopted) */
    APWSGI_INTERP_RELOADED, /* replaced by a fresh one: code changed */
    APWSGI_INTERP_RETIRED,  /* out of service: replaced, or no app */
    APWSGI_INTERP_EVICTED,  /* out of service: idle past its timeout */
    APWSGI_INTERP_ENDED,    /* ended (or left alive at exit) */
    APWSGI_INTERP_EVENTS
};

/* Counters that only grow: what folding adds up. */
typedef struct {
    apr_uint64_t requests[APWSGI_CODE_CLASSES];
    apr_uint64_t duration_us;
    apr_uint64_t duration[APWSGI_DURATION_BUCKETS]; /* not cumulative */
    apr_uint64_t gil_wait_us;
    apr_uint64_t gil_wait[APWSGI_GIL_BUCKETS];
    apr_uint64_t exceptions;
    apr_uint64_t timeouts;
    apr_uint64_t bytes_in;
    apr_uint64_t bytes_out;
    apr_uint64_t events[APWSGI_INTERP_EVENTS];
} apwsgi_counters_t;

/* The requests counted in `c`, every status class. */
static inline apr_uint64_t
apwsgi_counters_requests(const apwsgi_counters_t *c)
{
    apr_uint64_t n = 0;

    for (int i = 0; i < APWSGI_CODE_CLASSES; i++) {
        n += c->requests[i];
    }
    return n;
}

/* What a request adds up as it ends. */
typedef struct {
    int code;            /* the HTTP status answered */
    apr_time_t gil_wait; /* waiting to enter the interpreter */
    apr_off_t bytes_in;  /* request body read */
    apr_off_t bytes_out; /* response body sent */
    int exception;       /* the application raised */
    int timeout;         /* mod_wsgi.request_timeout fired */
} apwsgi_metrics_done_t;

/* A request's handle, kept by the request (apwsgi_request.c). */
typedef struct {
    int rec;          /* its interpreter's record; -1: none yet */
    int listed;       /* its place in the slot's list; -1: unlisted */
    apr_time_t start; /* apwsgi_now() */
} apwsgi_metrics_req_t;

/*
 * Find the segment kept from an earlier load of the module, or make
 * it.  From the module's register_hooks, in the Apache parent (`p`
 * is the configuration pool, for the warning when there is no memory:
 * the server then runs without figures).  No GIL.
 */
void apwsgi_metrics_setup(apr_pool_t *p);

/*
 * Claim this child's slot, and fold it at the child's exit (a cleanup
 * of `pchild`).  Logs once when no slot is free (the child then runs
 * without figures).  Child init, before any request; no GIL.
 */
void apwsgi_metrics_child_init(apr_pool_t *pchild, server_rec *s);

/* The index of this child's slot, or -1 without one: a number no
 * other live child has, small and reused as children come and go
 * (slots are claimed lowest first).  After child init; no GIL. */
int apwsgi_metrics_slot_index(void);

/* For each CPU below n, how many other live children chose it
 * (apwsgi_metrics_take_cpu), into counts[0..n-1]; all 0 without the
 * segment.  Lock-free; no GIL. */
void apwsgi_metrics_cpus_taken(int *counts, int n);

/* Record `cpu` as this child's choice, for the children that start
 * after it.  Child init; no GIL. */
void apwsgi_metrics_take_cpu(int cpu);

/* Whether the segment is there (the status handler needs it). */
int apwsgi_metrics_available(void);

/*
 * The hot path, on the serving thread, lock-free.  begin counts the
 * request busy and lists it (method, path without the query string,
 * thread, `start` from apwsgi_now(); `id` from apwsgi_inflight_id);
 * interp charges it to
 * interpreter `in` (after a reload, its replacement: call once, with
 * the one that serves); end adds up what it did.  No GIL needed.
 */
void apwsgi_metrics_begin(apwsgi_metrics_req_t *m, request_rec *r,
                          apr_uint64_t id, apr_time_t start);
void apwsgi_metrics_interp(apwsgi_metrics_req_t *m, apwsgi_interp_t *in);
/* `name` charges a request that got no interpreter (a 503, say). */
void apwsgi_metrics_end(apwsgi_metrics_req_t *m, const char *name,
                        const apwsgi_metrics_done_t *done);

/* Count a request the handler answered with the error `code` before
 * it could run (a configuration error, a body refused, no Python),
 * under interpreter `name`.  No GIL needed. */
void apwsgi_metrics_refused(const char *name, int code);

/* Count an event of the interpreter named `name` ("" is the main
 * one).  No GIL needed; not on the hot path. */
void apwsgi_metrics_interp_event(const char *name, int event);

/*
 * The monitor thread's share (apwsgi_monitor.c): publish the Python
 * stacks of this child's slow requests, by request id (up to
 * APWSGI_METRICS_STACKS; the rest are not shown), replacing what was
 * published before; and, about every few seconds, add a point to the
 * server's throughput and latency series (one child does it per
 * step).  No GIL needed.
 */
#define APWSGI_METRICS_STACKS 8
void apwsgi_metrics_stacks(const apr_uint64_t *ids, const char *const *texts,
                           int n);
void apwsgi_metrics_tick(void);

/*
 * What the status handler shows: the figures of every child of the
 * server added up, in r->pool.
 */
typedef struct {
    const char *name; /* "(main)" for the main interpreter */
    apwsgi_counters_t c;
    apr_int64_t in_flight;
    apr_int64_t alive;
} apwsgi_interp_view_t;

typedef struct {
    int pid;
    int generation;
    int threads;
    apr_int64_t busy;
    apr_int64_t interpreters; /* alive */
    apr_uint64_t requests;
    apr_time_t started; /* wall clock, microseconds */
    apr_uint64_t rss_bytes;
    double cpu_user;   /* seconds */
    double cpu_system; /* seconds */
} apwsgi_process_view_t;

typedef struct {
    int pid;
    long tid;
    const char *method;
    const char *path;
    const char *interp; /* "" until one is chosen */
    double age;         /* seconds */
    apr_time_t started; /* wall clock, microseconds */
    const char *stack;  /* NULL: not slow, or not captured */
} apwsgi_request_view_t;

typedef struct {
    apr_time_t time; /* wall clock, microseconds: the end of the step */
    double rate;     /* requests per second */
    double mean;     /* seconds; < 0 when no request ended */
    double p95;      /* seconds, from the histogram; < 0: none */
    double errors;   /* 5xx per second */
    apr_int64_t in_flight;
} apwsgi_point_view_t;

typedef struct {
    apr_time_t now;     /* wall clock, microseconds */
    apr_time_t created; /* when the segment was made (server start) */
    int step;           /* seconds between two points of the series */
    apwsgi_counters_t totals;
    apr_int64_t in_flight;
    apr_int64_t interpreters;
    apr_int64_t threads;
    apr_int64_t busy;
    apr_int64_t unlisted;          /* requests in flight not in `requests` */
    apr_array_header_t *interps;   /* apwsgi_interp_view_t */
    apr_array_header_t *processes; /* apwsgi_process_view_t */
    apr_array_header_t *requests;  /* apwsgi_request_view_t, oldest
                                      first */
    apr_array_header_t *series;    /* apwsgi_point_view_t, oldest
                                      first */
} apwsgi_view_t;

/*
 * Add up every child's figures into a view in `p`; a child found dead
 * is folded first.  0, or -1 when there is no segment.  No GIL; any
 * child.
 */
int apwsgi_metrics_read(apr_pool_t *p, apwsgi_view_t *view);

#endif /* APWSGI_METRICS_H */
