/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_inflight.h: the requests this process is serving now.
 *
 * One entry per request inside the handler, from before it chooses an
 * interpreter until it has left Python.  The serving thread writes its
 * own entry; any thread may read a copy of the whole registry
 * (apwsgi_inflight_snapshot) and, holding the GIL of a request's
 * interpreter, format that request's Python stack or raise an
 * exception in it.  The monitor thread (apwsgi_monitor.h) does both;
 * code that runs at child exit may do the same.
 *
 * Rules:
 * - Entries live in chunks of the child's pool and are reused, never
 *   freed while the process runs, so a copy's `entry` may always be
 *   read.  Each use of an entry has a unique id; a copy refers to one
 *   use, and the functions that take a copy check the id first.
 * - `inflight_mutex` guards the list and is held only to add, remove
 *   and copy entries: never while waiting for a GIL, and nothing else
 *   is taken while it is held.
 * - The entry's thread state is set and cleared by the serving thread
 *   with its interpreter's GIL held (apwsgi_inflight_enter/leave), so
 *   whoever holds that GIL sees it stable: the request is either in
 *   Python there (and its frames stay put while the GIL is held) or
 *   not.
 * - To take a request's GIL, hold its interpreter first
 *   (apwsgi_interp_hold with the copy's `in` and `generation`): the
 *   copy's `in` may otherwise be ended at any moment.
 *
 * No calls into the rest of the module: a leaf, like the log.
 */
#ifndef APWSGI_INFLIGHT_H
#define APWSGI_INFLIGHT_H

#include "apwsgi.h"
#include "apwsgi_interp.h"

typedef struct apwsgi_inflight apwsgi_inflight_t;

/* A copy of one entry, made by apwsgi_inflight_snapshot; its strings
 * are in the snapshot's pool. */
typedef struct {
    apwsgi_inflight_t *entry; /* for the functions below */
    apr_uint64_t id;          /* unique to this request */
    const char *method;
    const char *path;         /* r->uri: no query string */
    const char *interp;       /* interpreter name (cut to 127 bytes);
                                 NULL: none chosen */
    apwsgi_interp_t *in;      /* NULL until chosen */
    unsigned long generation; /* of `in` when chosen */
    long tid;                 /* the serving thread's OS id (gettid) */
    apr_time_t start;         /* apwsgi_now() at the handler's start */
    apr_time_t deadline;      /* apwsgi_now() clock; 0: no timeout */
    apr_time_t stack_after;   /* age from which the stack is shown; 0:
                                 never */
    int in_python;            /* inside its interpreter now */
    int sent;                 /* some of the response went out */
    int raised;               /* the timeout exception was raised */
} apwsgi_inflight_info_t;

/* Set up the registry in `pchild`.  0, or -1 without memory.  Child
 * init; no GIL needed. */
int apwsgi_inflight_init(apr_pool_t *pchild);

/*
 * Register `r`, served by the calling thread from now on, with its
 * timeout (`timeout` after now; 0: none) and the age from which its
 * stack is shown (0: never).  Returns the entry, or NULL when the
 * registry has no memory left (the request is served all the same,
 * unlisted; every function below accepts NULL).  No GIL needed.  Pair
 * with apwsgi_inflight_remove() on the same thread.
 */
apwsgi_inflight_t *apwsgi_inflight_add(request_rec *r, apr_time_t timeout,
                                       apr_time_t stack_after);

/* The entry's unique id (0 for NULL).  No GIL needed. */
apr_uint64_t apwsgi_inflight_id(const apwsgi_inflight_t *e);

/* When the request was added (apwsgi_now()); now for NULL.  No GIL
 * needed. */
apr_time_t apwsgi_inflight_start(const apwsgi_inflight_t *e);

/* The request was given interpreter `in` (again, after a reload).  No
 * GIL needed; serving thread. */
void apwsgi_inflight_set_interp(apwsgi_inflight_t *e, apwsgi_interp_t *in);

/* The serving thread entered the interpreter with thread state `ts`.
 * That interpreter's GIL held. */
void apwsgi_inflight_enter(apwsgi_inflight_t *e, PyThreadState *ts);

/*
 * The serving thread is about to leave the interpreter.  A timeout
 * exception raised in it that has not fired yet is withdrawn, so that
 * it cannot hit later code of this thread.  Returns whether the
 * timeout exception was raised in this request.  That interpreter's
 * GIL held.
 */
int apwsgi_inflight_leave(apwsgi_inflight_t *e);

/* Whether the timeout exception was raised in this request.  GIL of
 * its interpreter held. */
int apwsgi_inflight_raised(const apwsgi_inflight_t *e);

/* Some of the response went out (the headers at least).  No GIL
 * needed; serving thread. */
void apwsgi_inflight_mark_sent(apwsgi_inflight_t *e);

/* Unregister the request.  No GIL needed; serving thread. */
void apwsgi_inflight_remove(apwsgi_inflight_t *e);

/*
 * A copy of every entry, oldest first, into *out (an array allocated
 * in `p`).  Returns how many.  No GIL needed; takes inflight_mutex
 * briefly.
 */
int apwsgi_inflight_snapshot(apr_pool_t *p, apwsgi_inflight_info_t **out);

/*
 * The current Python stack of the request `info` copied, outermost
 * call first, one "  File "...", line N, in name" line per frame (no
 * source lines: nothing is read from disk), in `p`.  NULL when that
 * request is no longer inside the interpreter.  The GIL of info->in
 * must be held (and info->in held alive: apwsgi_interp_hold); it is
 * not released.  Leaves no exception set.
 */
char *apwsgi_inflight_stack(const apwsgi_inflight_info_t *info, apr_pool_t *p);

/*
 * Raise `type` (an exception class of info->in's interpreter) in the
 * request's thread, where it fires at the next Python instruction that
 * thread runs; marks the request as raised.  Returns 1, or 0 when the
 * request is no longer inside the interpreter.  GIL of info->in held,
 * as for apwsgi_inflight_stack.
 */
int apwsgi_inflight_raise(const apwsgi_inflight_info_t *info, PyObject *type);

/*
 * Whether the exception raised by apwsgi_inflight_raise has not fired
 * yet: the request is still inside the interpreter and its thread has
 * run no Python since (it is blocked in C code).  GIL of info->in
 * held, as for apwsgi_inflight_stack.
 */
int apwsgi_inflight_pending(const apwsgi_inflight_info_t *info);

#endif /* APWSGI_INFLIGHT_H */
