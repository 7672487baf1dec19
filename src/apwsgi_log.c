/*
 * apwsgi_log.c: Log objects (wsgi.errors, sys.stdout, sys.stderr) and
 * traceback logging.
 *
 * A line is logged only once it is complete (or on flush()), so that
 * print("a", "b") gives one log entry, not three.  Lines written from
 * the thread that serves the request are logged with the GIL released;
 * other threads keep it, because the request they point at may end as
 * soon as they let go of it.
 */
#include "apwsgi_log.h"

typedef struct {
    PyObject_HEAD
    request_rec *r;        /* NULL once detached, or for sys.std* */
    server_rec *s;         /* for lines with no request */
    const char *tag;       /* "APWnnnnn: " */
    int follow_current;    /* sys.std*: use the thread's request */
    apr_os_thread_t owner; /* the thread that serves r */
    char *buf;             /* pending partial line, PyMem */
    Py_ssize_t len;
    Py_ssize_t cap;
} apwsgi_log_object;

/* The log's part of an interpreter's state. */
struct apwsgi_log_part {
    PyTypeObject *type; /* Log, strong */
    server_rec *server; /* for lines with no request */
    int logging_routed; /* Python's logging is ours, or left alone */
};

static const char tag_stdout[] = APWSGI_APLOGNO(00502);
static const char tag_stderr[] = APWSGI_APLOGNO(00503);

static _Thread_local request_rec *apwsgi_current_r;

/* Held while the lines of one record are written, so that a traceback
 * stays on consecutive lines of the log (within this process). */
static apr_thread_mutex_t *log_mutex;

/* pthread_atfork's handlers: the lock is held across a fork, so that
 * a process forked while another thread wrote a record finds it free
 * (log_mutex is never held while waiting for anything). */
static void
log_fork_prepare(void)
{
    apr_thread_mutex_lock(log_mutex);
}

static void
log_fork_done(void)
{
    apr_thread_mutex_unlock(log_mutex);
}

int
apwsgi_log_init(apr_pool_t *pchild)
{
    if (apwsgi_mutex_create(&log_mutex, pchild) < 0) {
        return -1;
    }
    return pthread_atfork(log_fork_prepare, log_fork_done, log_fork_done) == 0
               ? 0
               : -1;
}

void
apwsgi_log_set_current(request_rec *r)
{
    apwsgi_current_r = r;
}

request_rec *
apwsgi_log_current(void)
{
    return apwsgi_current_r;
}

/*
 * Log each '\n'-separated line of text[0..len) at `level` with `tag`,
 * the lines of one call together.  The text must stay valid while the
 * GIL is released: callers pass a private copy.  GIL held on entry and
 * exit; released around the writes when `release` is set.
 */
static void
log_lines(request_rec *r, server_rec *s, int level, const char *tag,
          const char *text, Py_ssize_t len, int release)
{
    PyThreadState *ts = release ? PyEval_SaveThread() : NULL;
    const char *end = text + len;

    if (log_mutex) {
        apr_thread_mutex_lock(log_mutex);
    }
    while (text < end) {
        const char *nl = memchr(text, '\n', end - text);
        int n = (int)((nl ? nl : end) - text);

        if (r) {
            ap_log_rerror(APLOG_MARK, level, 0, r, "%s%.*s", tag, n, text);
        }
        else {
            ap_log_error(APLOG_MARK, level, 0, s, "%s%.*s", tag, n, text);
        }
        text += n + 1;
    }
    if (log_mutex) {
        apr_thread_mutex_unlock(log_mutex);
    }
    if (ts) {
        PyEval_RestoreThread(ts);
    }
}

void
apwsgi_log_text(server_rec *s, int level, const char *tag, const char *text)
{
    apr_size_t n = strlen(text);

    while (n > 0 && text[n - 1] == '\n') {
        n--;
    }
    log_lines(NULL, s, level, tag, text, (Py_ssize_t)n, 0);
}

/*
 * Log the first `len` bytes of the buffer (whole lines) and keep the
 * rest.  GIL held.
 */
static void
log_emit(apwsgi_log_object *self, Py_ssize_t len)
{
    request_rec *r = self->r;
    int release = 0;
    char *text = NULL;

    if (len <= 0) {
        return;
    }
    if (r) {
        release = apr_os_thread_equal(self->owner, apr_os_thread_current());
    }
    else if (self->follow_current && apwsgi_current_r) {
        r = apwsgi_current_r;
        release = 1;
    }
    /* Another thread may write to this object while the GIL is out,
     * so the lines go out from a private copy.  Without memory for one,
     * they go out from the buffer itself, with the GIL held. */
    text = PyMem_Malloc(len);
    if (text) {
        memcpy(text, self->buf, len);
    }
    else {
        log_lines(r, self->s, APLOG_ERR, self->tag, self->buf, len, 0);
    }
    memmove(self->buf, self->buf + len, self->len - len);
    self->len -= len;
    if (text) {
        log_lines(r, self->s, APLOG_ERR, self->tag, text, len, release);
        PyMem_Free(text);
    }
}

static PyObject *
log_write(apwsgi_log_object *self, PyObject *arg)
{
    Py_ssize_t n = 0;
    Py_ssize_t last = -1;
    const char *u = NULL;

    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be str, not %s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    u = PyUnicode_AsUTF8AndSize(arg, &n);
    if (!u) {
        return NULL;
    }
    if (self->len + n > self->cap) {
        Py_ssize_t cap = Py_MAX(256, 2 * (self->len + n));
        char *buf = PyMem_Realloc(self->buf, cap);

        if (!buf) {
            return PyErr_NoMemory();
        }
        self->buf = buf;
        self->cap = cap;
    }
    memcpy(self->buf + self->len, u, n);
    self->len += n;
    for (Py_ssize_t i = self->len - 1; i >= self->len - n; i--) {
        if (self->buf[i] == '\n') {
            last = i;
            break;
        }
    }
    if (last >= 0) {
        log_emit(self, last + 1);
    }
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(arg));
}

static PyObject *
log_writelines(apwsgi_log_object *self, PyObject *seq)
{
    PyObject *iter = NULL;
    PyObject *item = NULL;
    PyObject *result = NULL;

    iter = PyObject_GetIter(seq);
    if (!iter) {
        goto done;
    }
    while ((item = PyIter_Next(iter))) {
        PyObject *n = log_write(self, item);

        Py_CLEAR(item);
        if (!n) {
            goto done;
        }
        Py_DECREF(n);
    }
    if (!PyErr_Occurred()) {
        result = Py_NewRef(Py_None);
    }
done:
    Py_XDECREF(iter);
    return result;
}

static PyObject *
log_flush(apwsgi_log_object *self, PyObject *Py_UNUSED(ignored))
{
    log_emit(self, self->len);
    Py_RETURN_NONE;
}

static PyObject *
log_false(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    Py_RETURN_FALSE;
}

static PyObject *
log_true(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    Py_RETURN_TRUE;
}

static PyObject *
log_get_closed(PyObject *Py_UNUSED(self), void *Py_UNUSED(closure))
{
    Py_RETURN_FALSE;
}

static PyObject *
log_get_encoding(PyObject *Py_UNUSED(self), void *Py_UNUSED(closure))
{
    return PyUnicode_FromString("utf-8");
}

static void
log_dealloc(apwsgi_log_object *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyMem_Free(self->buf);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyMethodDef log_methods[] = {
    {"write", (PyCFunction)log_write, METH_O, "Log complete lines."},
    {"writelines", (PyCFunction)log_writelines, METH_O, "write() each."},
    {"flush", (PyCFunction)log_flush, METH_NOARGS, "Log a partial line."},
    {"isatty", log_false, METH_NOARGS, NULL},
    {"readable", log_false, METH_NOARGS, NULL},
    {"seekable", log_false, METH_NOARGS, NULL},
    {"writable", log_true, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef log_getset[] = {
    {"closed", log_get_closed, NULL, NULL, NULL},
    {"encoding", log_get_encoding, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot log_slots[] = {
    {Py_tp_dealloc, log_dealloc},
    {Py_tp_methods, log_methods},
    {Py_tp_getset, log_getset},
    {Py_tp_doc, "A text stream whose lines go to the Apache error log."},
    {0, NULL},
};

static PyType_Spec log_spec = {
    .name = "apwsgi.Log",
    .basicsize = sizeof(apwsgi_log_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = log_slots,
};

/* A new Log object of `type`; see apwsgi_log_new().  Without `r`, it
 * logs against the request the calling thread serves, if any, else
 * against `s`. */
static PyObject *
log_new(PyTypeObject *type, request_rec *r, server_rec *s, const char *tag)
{
    apwsgi_log_object *self = PyObject_New(apwsgi_log_object, type);

    if (!self) {
        return NULL;
    }
    /* PyObject_New does not take the heap type's reference for us. */
    Py_INCREF(type);
    self->r = r;
    self->s = s;
    self->tag = tag;
    self->follow_current = (r == NULL);
    self->owner = apr_os_thread_current();
    self->buf = NULL;
    self->len = 0;
    self->cap = 0;
    return (PyObject *)self;
}

PyObject *
apwsgi_log_new(apwsgi_state_t *st, request_rec *r, const char *tag)
{
    return log_new(st->log->type, r, r->server, tag);
}

/* Point sys.stdout and sys.stderr at the error log.  0, or -1 with an
 * exception set. */
static int
redirect_stdio(struct apwsgi_log_part *part)
{
    PyObject *out = NULL;
    PyObject *err = NULL;
    int rc = -1;

    out = log_new(part->type, NULL, part->server, tag_stdout);
    err = out ? log_new(part->type, NULL, part->server, tag_stderr) : NULL;
    if (err && PySys_SetObject("stdout", out) == 0
        && PySys_SetObject("stderr", err) == 0) {
        rc = 0;
    }
    Py_XDECREF(out);
    Py_XDECREF(err);
    return rc;
}

int
apwsgi_log_part_init(apwsgi_state_t *st, const apwsgi_state_setup_t *setup)
{
    struct apwsgi_log_part *part = apr_pcalloc(setup->pool, sizeof(*part));

    part->server = setup->server;
    /* Where another module owns Python, its logging is left alone. */
    part->logging_routed = !setup->own_python;
    part->type = (PyTypeObject *)PyType_FromSpec(&log_spec);
    st->log = part;
    if (!part->type) {
        return -1;
    }
    if (setup->own_python && redirect_stdio(part) < 0) {
        Py_CLEAR(part->type);
        return -1;
    }
    return 0;
}

void
apwsgi_log_part_free(apwsgi_state_t *st)
{
    Py_CLEAR(st->log->type);
}

void
apwsgi_log_detach(PyObject *log)
{
    apwsgi_log_object *self = (apwsgi_log_object *)log;

    log_emit(self, self->len);
    self->r = NULL;
}

void
apwsgi_log_exception(request_rec *r, server_rec *s, const char *tag,
                     const char *headline)
{
    PyObject *exc = apwsgi_err_take();
    PyObject *module = NULL;
    PyObject *lines = NULL;
    PyObject *empty = NULL;
    PyObject *text = NULL;
    const char *u = NULL;
    Py_ssize_t n = 0;
    apr_size_t hn = strlen(headline);
    char *copy = NULL;

    if (exc) {
        module = PyImport_ImportModule("traceback");
        lines = module
                    ? PyObject_CallMethod(module, "format_exception", "O", exc)
                    : NULL;
        empty = lines ? PyUnicode_FromStringAndSize("", 0) : NULL;
        text = empty ? PyUnicode_Join(empty, lines) : NULL;
        if (!text) {
            PyErr_Clear();
            text = PyObject_Repr(exc);
        }
        u = text ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
        if (!u) {
            PyErr_Clear();
            n = 0;
        }
    }
    while (n > 0 && u[n - 1] == '\n') {
        n--;
    }
    /* The headline and the traceback go out as one record. */
    copy = PyMem_Malloc(hn + 1 + n);
    if (copy) {
        memcpy(copy, headline, hn);
        copy[hn] = '\n';
        if (n) {
            memcpy(copy + hn + 1, u, n);
        }
        log_lines(r, s, APLOG_ERR, tag, copy,
                  (Py_ssize_t)(hn + (n ? 1 + n : 0)), r != NULL);
    }
    PyMem_Free(copy);
    Py_XDECREF(exc);
    Py_XDECREF(module);
    Py_XDECREF(lines);
    Py_XDECREF(empty);
    Py_XDECREF(text);
}

/*
 * The handler behind Python's logging (logging.lastResort): records
 * go to the error log at the matching Apache level, against the
 * request the thread serves (its URI first), each line of a record
 * (a traceback) with the tag.  Installed per interpreter; an
 * application that configures logging itself keeps its handlers.
 */
static const char tag_logging[] = APWSGI_APLOGNO(00504);
static server_rec *log_server;

static int
apache_level(long levelno)
{
    return levelno >= 50   ? APLOG_CRIT
           : levelno >= 40 ? APLOG_ERR
           : levelno >= 30 ? APLOG_WARNING
           : levelno >= 20 ? APLOG_INFO
                           : APLOG_DEBUG;
}

static PyObject *
handler_emit(PyObject *self, PyObject *record)
{
    request_rec *r = apwsgi_current_r;
    PyObject *msg = PyObject_CallMethod(self, "format", "O", record);
    PyObject *levelno = msg ? PyObject_GetAttrString(record, "levelno") : NULL;
    PyObject *name = levelno ? PyObject_GetAttrString(record, "name") : NULL;
    PyObject *text = name ? PyUnicode_FromFormat("%s%s%S: %S", r ? r->uri : "",
                                                 r ? ": " : "", name, msg)
                          : NULL;
    Py_ssize_t n = 0;
    const char *u = text ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
    long level = levelno ? PyLong_AsLong(levelno) : -1;
    char *copy = u ? PyMem_Malloc(n ? n : 1) : NULL;
    PyObject *res = NULL;

    if (copy && !PyErr_Occurred()) {
        memcpy(copy, u, n);
        log_lines(r, log_server, apache_level(level), tag_logging, copy, n,
                  r != NULL);
        res = Py_NewRef(Py_None);
    }
    else {
        /* logging's convention: a handler reports its own failures. */
        PyErr_Clear();
        res = PyObject_CallMethod(self, "handleError", "O", record);
    }
    PyMem_Free(copy);
    Py_XDECREF(msg);
    Py_XDECREF(levelno);
    Py_XDECREF(name);
    Py_XDECREF(text);
    return res;
}

static PyMethodDef handler_methods[] = {
    {"emit", handler_emit, METH_O, "Write the record to the error log."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot handler_slots[] = {
    {Py_tp_methods, handler_methods},
    {Py_tp_doc, "logging.Handler writing to the Apache error log."},
    {0, NULL},
};

static PyType_Spec handler_spec = {
    .name = "apwsgi.ApacheLogHandler",
    .basicsize = 0,
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = handler_slots,
};

/* Python's level for Apache's LogLevel of `s`: Apache stays the
 * filter, and records it would drop are not even formatted. */
static int
python_level(server_rec *s)
{
    int level = s->log.level;

    return level >= APLOG_DEBUG     ? 10
           : level >= APLOG_INFO    ? 20
           : level >= APLOG_WARNING ? 30
           : level >= APLOG_ERR     ? 40
                                    : 50;
}

/* Install the handler (see apwsgi_log_route_logging).  0, or -1 with
 * an exception set. */
static int
install_logging(server_rec *s)
{
    PyObject *logging = PyImport_ImportModule("logging");
    PyObject *base =
        logging ? PyObject_GetAttrString(logging, "Handler") : NULL;
    PyObject *type =
        base ? PyType_FromSpecWithBases(&handler_spec, base) : NULL;
    PyObject *handler = type ? PyObject_CallNoArgs(type) : NULL;
    PyObject *root =
        handler ? PyObject_CallMethod(logging, "getLogger", NULL) : NULL;
    PyObject *handlers =
        root ? PyObject_GetAttrString(root, "handlers") : NULL;
    PyObject *res = NULL;
    int rc = -1;

    log_server = s;
    if (!handlers
        || PyObject_SetAttrString(logging, "lastResort", handler) < 0) {
        goto done;
    }
    /* An application that configured its own handlers keeps them; one
     * that did not gets the error log on the root logger, at the level
     * of Apache's LogLevel (and logging.basicConfig() becomes a no-op,
     * as for any configured root logger). */
    if (PyList_Check(handlers) && PyList_GET_SIZE(handlers) == 0) {
        res = PyObject_CallMethod(root, "addHandler", "O", handler);
        Py_XSETREF(res, res ? PyObject_CallMethod(root, "setLevel", "i",
                                                  python_level(s))
                            : NULL);
        if (!res) {
            goto done;
        }
    }
    rc = 0;
done:
    Py_XDECREF(res);
    Py_XDECREF(handlers);
    Py_XDECREF(root);
    Py_XDECREF(handler);
    Py_XDECREF(type);
    Py_XDECREF(base);
    Py_XDECREF(logging);
    return rc;
}

void
apwsgi_log_route_logging(apwsgi_state_t *st)
{
    struct apwsgi_log_part *part = st->log;
    PyObject *name = NULL;
    PyObject *logging = NULL;

    if (part->logging_routed) {
        return;
    }
    name = PyUnicode_FromString("logging");
    logging = name ? PyImport_GetModule(name) : NULL;
    if (logging) {
        part->logging_routed = 1;
        if (install_logging(part->server) < 0) {
            apwsgi_log_exception(NULL, part->server, APWSGI_APLOGNO(00505),
                                 "Python logging cannot reach the error "
                                 "log:");
        }
    }
    PyErr_Clear();
    Py_XDECREF(logging);
    Py_XDECREF(name);
}
