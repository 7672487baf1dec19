/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_inflight.c: the registry of the requests being served.
 *
 * A doubly linked list, oldest first, of entries taken from a free
 * list; entries come in chunks from the child's pool and are never
 * freed, so a reader holding a copy can always look at the entry it
 * names and check, by id, whether it is still the same request.
 *
 * Fields the serving thread changes without the mutex are read and
 * written atomically: the interpreter (set once the request has one),
 * the thread state (only with that interpreter's GIL held) and the
 * "sent" flag.  The id is stored before anything else of a use and
 * cleared first at its end, so a reader that sees the same id before
 * and after reading a field read that use's field.
 */
#include "apwsgi_inflight.h"

#include <sys/syscall.h>
#include <unistd.h>

/* Entries allocated at a time. */
#define CHUNK 16

/* Frames formatted at most; deeper stacks lose their outermost ones. */
#define MAX_FRAMES 128

/* Bytes of an interpreter name kept (with its NUL). */
#define NAME_BYTES 128

struct apwsgi_inflight {
    apr_uint64_t id; /* atomic; 0: free */
    request_rec *r;
    apr_time_t start;
    apr_time_t deadline;
    apr_time_t stack_after;
    unsigned long py_thread;  /* PyThread_get_thread_ident() */
    long tid;                 /* gettid() */
    const char *interp_name;  /* atomic: NULL, or `name` */
    char name[NAME_BYTES];    /* written before interp_name is set */
    apwsgi_interp_t *in;      /* atomic */
    unsigned long generation; /* atomic */
    PyThreadState *tstate;    /* atomic; GIL of `in` held to write */
    int sent;                 /* atomic */
    int raised;               /* atomic; GIL of `in` held to write */
    apwsgi_inflight_t *prev;  /* inflight_mutex */
    apwsgi_inflight_t *next;
};

static apr_pool_t *inflight_pool;
static apr_thread_mutex_t *inflight_mutex;
/* Guarded by inflight_mutex: */
static apwsgi_inflight_t *head; /* oldest */
static apwsgi_inflight_t *tail;
static apwsgi_inflight_t *free_list;
static int count;
static apr_uint64_t last_id;

static _Thread_local long thread_tid;

#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_ACQUIRE)
#define STORE(field, v) __atomic_store_n(&(field), (v), __ATOMIC_RELEASE)

int
apwsgi_inflight_init(apr_pool_t *pchild)
{
    inflight_pool = pchild;
    return apwsgi_mutex_create(&inflight_mutex, pchild);
}

/* A free entry, taking a new chunk when none is left.  NULL without
 * memory.  inflight_mutex held. */
static apwsgi_inflight_t *
entry_take(void)
{
    apwsgi_inflight_t *e = free_list;

    if (!e) {
        apwsgi_inflight_t *chunk =
            apr_pcalloc(inflight_pool, CHUNK * sizeof(*chunk));

        if (!chunk) {
            return NULL;
        }
        for (int i = CHUNK - 1; i >= 0; i--) {
            chunk[i].next = free_list;
            free_list = &chunk[i];
        }
        e = free_list;
    }
    free_list = e->next;
    return e;
}

apwsgi_inflight_t *
apwsgi_inflight_add(request_rec *r, apr_time_t timeout, apr_time_t stack_after)
{
    apwsgi_inflight_t *e = NULL;
    apr_time_t now = apwsgi_now();

    if (!inflight_mutex) {
        return NULL;
    }
    if (!thread_tid) {
        thread_tid = (long)syscall(SYS_gettid);
    }
    apr_thread_mutex_lock(inflight_mutex);
    e = entry_take();
    if (e) {
        e->r = r;
        e->start = now;
        e->deadline = timeout > 0 ? now + timeout : 0;
        e->stack_after = stack_after;
        e->py_thread = PyThread_get_thread_ident();
        e->tid = thread_tid;
        STORE(e->raised, 0);
        STORE(e->interp_name, (const char *)NULL);
        STORE(e->in, (apwsgi_interp_t *)NULL);
        STORE(e->tstate, (PyThreadState *)NULL);
        STORE(e->sent, 0);
        STORE(e->id, ++last_id);
        e->next = NULL;
        e->prev = tail;
        if (tail) {
            tail->next = e;
        }
        else {
            head = e;
        }
        tail = e;
        count++;
    }
    apr_thread_mutex_unlock(inflight_mutex);
    return e;
}

apr_uint64_t
apwsgi_inflight_id(const apwsgi_inflight_t *e)
{
    return e ? e->id : 0;
}

apr_time_t
apwsgi_inflight_start(const apwsgi_inflight_t *e)
{
    return e ? e->start : apwsgi_now();
}

void
apwsgi_inflight_set_interp(apwsgi_inflight_t *e, apwsgi_interp_t *in)
{
    if (!e) {
        return;
    }
    /* A copy of the name: `in` may be ended once the request lets go
     * of it, while a reader still looks at the entry.  Written once per
     * use, before readers can see it, and rewritten only by the next
     * use, after remove (which waits for any reader). */
    if (!LOAD(e->interp_name)) {
        size_t n = strnlen(in->name, NAME_BYTES - 1);

        memcpy(e->name, in->name, n);
        e->name[n] = '\0';
        STORE(e->interp_name, (const char *)e->name);
    }
    STORE(e->generation, in->generation);
    STORE(e->in, in);
}

void
apwsgi_inflight_enter(apwsgi_inflight_t *e, PyThreadState *ts)
{
    if (e) {
        STORE(e->tstate, ts);
    }
}

int
apwsgi_inflight_leave(apwsgi_inflight_t *e)
{
    if (!e) {
        return 0;
    }
    STORE(e->tstate, (PyThreadState *)NULL);
    if (LOAD(e->raised)) {
        /* NULL withdraws an exception that has not fired yet. */
        PyThreadState_SetAsyncExc(e->py_thread, NULL);
    }
    return LOAD(e->raised);
}

int
apwsgi_inflight_raised(const apwsgi_inflight_t *e)
{
    return e ? LOAD(e->raised) : 0;
}

void
apwsgi_inflight_mark_sent(apwsgi_inflight_t *e)
{
    if (e) {
        STORE(e->sent, 1);
    }
}

void
apwsgi_inflight_remove(apwsgi_inflight_t *e)
{
    if (!e) {
        return;
    }
    apr_thread_mutex_lock(inflight_mutex);
    STORE(e->id, (apr_uint64_t)0);
    STORE(e->in, (apwsgi_interp_t *)NULL);
    if (e->prev) {
        e->prev->next = e->next;
    }
    else {
        head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    }
    else {
        tail = e->prev;
    }
    e->r = NULL;
    e->prev = NULL;
    e->next = free_list;
    free_list = e;
    count--;
    apr_thread_mutex_unlock(inflight_mutex);
}

int
apwsgi_inflight_snapshot(apr_pool_t *p, apwsgi_inflight_info_t **out)
{
    apwsgi_inflight_info_t *infos = NULL;
    int n = 0;

    *out = NULL;
    if (!inflight_mutex) {
        return 0;
    }
    apr_thread_mutex_lock(inflight_mutex);
    infos = apr_pcalloc(p, (count ? count : 1) * sizeof(*infos));
    for (apwsgi_inflight_t *e = head; e; e = e->next) {
        apwsgi_inflight_info_t *info = &infos[n++];
        const char *name = LOAD(e->interp_name);

        info->entry = e;
        info->id = e->id;
        /* r, its strings and the name copy live until the entry is
         * removed, which waits for this mutex. */
        info->method = apr_pstrdup(p, e->r->method);
        info->path = apr_pstrdup(p, e->r->uri);
        info->interp = name ? apr_pstrdup(p, name) : NULL;
        info->in = LOAD(e->in);
        info->generation = LOAD(e->generation);
        info->tid = e->tid;
        info->start = e->start;
        info->deadline = e->deadline;
        info->stack_after = e->stack_after;
        info->in_python = LOAD(e->tstate) != NULL;
        info->sent = LOAD(e->sent);
        info->raised = LOAD(e->raised);
    }
    apr_thread_mutex_unlock(inflight_mutex);
    *out = infos;
    return n;
}

/*
 * The thread state of the request `info` names while it is inside
 * info->in, else NULL.  Called with info->in's GIL held: the thread
 * state cannot change then, and the id read before and after shows
 * that it belongs to this request.
 */
static PyThreadState *
inside(const apwsgi_inflight_info_t *info)
{
    apwsgi_inflight_t *e = info->entry;
    PyThreadState *ts = NULL;

    if (!e || LOAD(e->id) != info->id) {
        return NULL;
    }
    ts = LOAD(e->tstate);
    if (!ts || LOAD(e->in) != info->in || LOAD(e->id) != info->id) {
        return NULL;
    }
    return ts;
}

/* "  File "f", line n, in name" for `frame`, in `p`.  GIL held. */
static const char *
frame_line(PyFrameObject *frame, apr_pool_t *p)
{
    PyCodeObject *code = PyFrame_GetCode(frame);
    PyObject *file = NULL;
    PyObject *name = NULL;
    const char *f = NULL;
    const char *n = NULL;
    const char *line = NULL;

    file = PyObject_GetAttrString((PyObject *)code, "co_filename");
    name = PyObject_GetAttrString((PyObject *)code, "co_qualname");
    f = file && PyUnicode_Check(file) ? PyUnicode_AsUTF8(file) : NULL;
    n = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    PyErr_Clear();
    line = apr_psprintf(p, "  File \"%s\", line %d, in %s\n", f ? f : "?",
                        PyFrame_GetLineNumber(frame), n ? n : "?");
    Py_XDECREF(file);
    Py_XDECREF(name);
    Py_DECREF(code);
    return line;
}

char *
apwsgi_inflight_stack(const apwsgi_inflight_info_t *info, apr_pool_t *p)
{
    const char *lines[MAX_FRAMES];
    PyThreadState *ts = inside(info);
    PyFrameObject *frame = NULL;
    struct iovec vec[MAX_FRAMES + 1];
    int n = 0;
    int more = 0;

    if (!ts) {
        return NULL;
    }
    /* Innermost first; each frame object is a new reference. */
    frame = PyThreadState_GetFrame(ts);
    while (frame) {
        PyFrameObject *back = PyFrame_GetBack(frame);

        if (n < MAX_FRAMES) {
            lines[n++] = frame_line(frame, p);
        }
        else {
            more = 1;
        }
        Py_DECREF(frame);
        frame = back;
    }
    PyErr_Clear();
    if (n == 0) {
        return apr_pstrdup(p, "  (no Python frame: between calls)\n");
    }
    vec[0].iov_base = more ? "  (outer frames left out)\n" : "";
    vec[0].iov_len = strlen(vec[0].iov_base);
    for (int i = 0; i < n; i++) {
        vec[i + 1].iov_base = (void *)lines[n - 1 - i];
        vec[i + 1].iov_len = strlen(lines[n - 1 - i]);
    }
    return apr_pstrcatv(p, vec, n + 1, NULL);
}

int
apwsgi_inflight_pending(const apwsgi_inflight_info_t *info)
{
    PyThreadState *ts = inside(info);

    /* The field CPython empties when the exception fires. */
    return ts && LOAD(info->entry->raised) && ts->async_exc != NULL;
}

int
apwsgi_inflight_raise(const apwsgi_inflight_info_t *info, PyObject *type)
{
    apwsgi_inflight_t *e = info->entry;

    if (!inside(info)) {
        return 0;
    }
    STORE(e->raised, 1);
    return PyThreadState_SetAsyncExc(e->py_thread, type) > 0;
}
