/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_log.c: Log objects (wsgi.errors, sys.stdout, sys.stderr),
 * their binary side (.buffer), and traceback logging.
 *
 * A line is logged only once it is complete (or on flush()), so that
 * print("a", "b") gives one log entry, not three.  Lines written from
 * the thread that serves the request are logged with the GIL released;
 * other threads keep it, because the request they point at may end as
 * soon as they let go of it.
 *
 * A Log object looks like the text stream code expects sys.stdout to
 * be (io.TextIOBase): encoding "utf-8", errors "backslashreplace",
 * line_buffering, isatty() False, fileno() and the reading and seeking
 * methods raising io.UnsupportedOperation, close() only flushing (the
 * error log stays open for everyone else).  Its .buffer is a binary
 * stream (io.BufferedIOBase) whose bytes are decoded as UTF-8 (bad
 * bytes as \xNN) and go into the same lines, with the same tag.
 */
#include "apwsgi_log.h"

typedef struct {
    PyObject_HEAD
    request_rec *r;            /* NULL once detached, or for sys.std* */
    server_rec *s;             /* for lines with no request */
    const char *tag;           /* "APWnnnnn: " */
    const char *name;          /* "<stdout>", "<stderr>", "wsgi.errors" */
    PyTypeObject *buffer_type; /* for .buffer, strong */
    int follow_current;        /* sys.std*: use the thread's request */
    apr_os_thread_t owner;     /* the thread that serves r */
    char *buf;                 /* pending partial line, PyMem */
    Py_ssize_t len;
    Py_ssize_t cap;
} apwsgi_log_object;

/* A Log object's .buffer: made on each access (the Log is not a GC
 * object, so it keeps no reference back). */
typedef struct {
    PyObject_HEAD
    apwsgi_log_object *log; /* strong */
} apwsgi_log_buffer_object;

/* The log's part of an interpreter's state. */
struct apwsgi_log_part {
    PyTypeObject *type;        /* Log, strong */
    PyTypeObject *buffer_type; /* LogBuffer, strong */
    server_rec *server;        /* for lines with no request */
    int logging_routed;        /* Python's logging is ours, or left alone */
    apwsgi_spares_t spare;     /* wsgi.errors whose request ended unshared */
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

/* Add n bytes of UTF-8 text to the pending line and log what is
 * complete.  0, or -1 with an exception set.  GIL held. */
static int
log_add(apwsgi_log_object *self, const char *u, Py_ssize_t n)
{
    Py_ssize_t last = -1;

    if (self->len + n > self->cap) {
        Py_ssize_t cap = Py_MAX(256, 2 * (self->len + n));
        char *buf = PyMem_Realloc(self->buf, cap);

        if (!buf) {
            PyErr_NoMemory();
            return -1;
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
    return 0;
}

/* Add str `text`: its UTF-8, with lone surrogates as \\udcNN (the
 * stream's errors, "backslashreplace").  0, or -1 with an exception
 * set. */
static int
log_add_str(apwsgi_log_object *self, PyObject *text)
{
    Py_ssize_t n = 0;
    const char *u = PyUnicode_AsUTF8AndSize(text, &n);
    PyObject *encoded = NULL;
    int rc = -1;

    if (u) {
        return log_add(self, u, n);
    }
    if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
        return -1;
    }
    PyErr_Clear();
    encoded = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
    if (encoded) {
        rc = log_add(self, PyBytes_AS_STRING(encoded),
                     PyBytes_GET_SIZE(encoded));
    }
    Py_XDECREF(encoded);
    return rc;
}

static PyObject *
log_write(PyObject *self, PyObject *arg)
{
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "write() argument must be str, not %s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    if (log_add_str((apwsgi_log_object *)self, arg) < 0) {
        return NULL;
    }
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(arg));
}

/* writelines(lines): write() each, through `write` (text or binary). */
static PyObject *
writelines_with(PyObject *self, PyObject *seq,
                PyObject *(*write)(PyObject *, PyObject *))
{
    PyObject *iter = NULL;
    PyObject *item = NULL;
    PyObject *result = NULL;

    iter = PyObject_GetIter(seq);
    if (!iter) {
        goto done;
    }
    while ((item = PyIter_Next(iter))) {
        PyObject *n = write(self, item);

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
log_writelines(PyObject *self, PyObject *seq)
{
    return writelines_with(self, seq, log_write);
}

static PyObject *
log_flush(apwsgi_log_object *self, PyObject *Py_UNUSED(ignored))
{
    log_emit(self, self->len);
    Py_RETURN_NONE;
}

/* reconfigure(**kwargs): accepted and ignored; the log is always UTF-8
 * and written line by line.  Programs that run as scripts too call it
 * on sys.stdout. */
static PyObject *
log_reconfigure(PyObject *Py_UNUSED(self), PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) > 0) {
        PyErr_SetString(PyExc_TypeError,
                        "reconfigure() takes keyword arguments only");
        return NULL;
    }
    (void)kwargs;
    Py_RETURN_NONE;
}

/* Raise io.UnsupportedOperation("<what>") (an OSError and a
 * ValueError).  Always NULL. */
static PyObject *
unsupported(const char *what)
{
    PyObject *io = PyImport_ImportModule("io");
    PyObject *exc =
        io ? PyObject_GetAttrString(io, "UnsupportedOperation") : NULL;

    if (exc) {
        PyErr_SetString(exc, what);
    }
    Py_XDECREF(exc);
    Py_XDECREF(io);
    return NULL;
}

static PyObject *
log_fileno(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return unsupported("fileno: the Apache error log has no descriptor "
                       "of its own");
}

static PyObject *
log_not_readable(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(args))
{
    return unsupported("not readable");
}

static PyObject *
log_not_seekable(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(args))
{
    return unsupported("not seekable");
}

static PyObject *
log_detach(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return unsupported("detach: the error log stream cannot be detached");
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
log_get_false(PyObject *Py_UNUSED(self), void *Py_UNUSED(closure))
{
    Py_RETURN_FALSE;
}

static PyObject *
log_get_true(PyObject *Py_UNUSED(self), void *Py_UNUSED(closure))
{
    Py_RETURN_TRUE;
}

static PyObject *
log_get_none(PyObject *Py_UNUSED(self), void *Py_UNUSED(closure))
{
    Py_RETURN_NONE;
}

/* A str attribute whose value is `closure` (a C string). */
static PyObject *
log_get_const(PyObject *Py_UNUSED(self), void *closure)
{
    return PyUnicode_FromString((const char *)closure);
}

static PyObject *
log_get_name(apwsgi_log_object *self, void *Py_UNUSED(closure))
{
    return PyUnicode_FromString(self->name);
}

static PyObject *
log_get_buffer(apwsgi_log_object *self, void *Py_UNUSED(closure))
{
    apwsgi_log_buffer_object *buffer =
        PyObject_New(apwsgi_log_buffer_object, self->buffer_type);

    if (!buffer) {
        return NULL;
    }
    buffer->log = (apwsgi_log_object *)Py_NewRef(self);
    return (PyObject *)buffer;
}

static void
log_dealloc(apwsgi_log_object *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyMem_Free(self->buf);
    Py_XDECREF(self->buffer_type);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* The io.IOBase methods that a Log and its buffer answer alike: a
 * stream that only writes, with no descriptor of its own. */
/* clang-format off */
#define STREAM_METHODS                                                  \
    {"isatty", log_false, METH_NOARGS, NULL},                           \
    {"readable", log_false, METH_NOARGS, NULL},                         \
    {"seekable", log_false, METH_NOARGS, NULL},                         \
    {"writable", log_true, METH_NOARGS, NULL},                          \
    {"fileno", log_fileno, METH_NOARGS, NULL},                          \
    {"detach", log_detach, METH_NOARGS, NULL},                          \
    {"read", log_not_readable, METH_VARARGS, NULL},                     \
    {"readline", log_not_readable, METH_VARARGS, NULL},                 \
    {"readlines", log_not_readable, METH_VARARGS, NULL},                \
    {"seek", log_not_seekable, METH_VARARGS, NULL},                     \
    {"tell", log_not_seekable, METH_VARARGS, NULL},                     \
    {"truncate", log_not_seekable, METH_VARARGS, NULL}
/* clang-format on */

static PyMethodDef log_methods[] = {
    {"write", log_write, METH_O, "Log complete lines."},
    {"writelines", log_writelines, METH_O, "write() each."},
    {"flush", (PyCFunction)log_flush, METH_NOARGS, "Log a partial line."},
    {"close", (PyCFunction)log_flush, METH_NOARGS,
     "Log a partial line; the error log itself stays open."},
    {"reconfigure", (PyCFunction)(void (*)(void))log_reconfigure,
     METH_VARARGS | METH_KEYWORDS, "Accepted; changes nothing."},
    STREAM_METHODS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef log_getset[] = {
    {"closed", log_get_false, NULL, NULL, NULL},
    {"encoding", log_get_const, NULL, NULL, "utf-8"},
    {"errors", log_get_const, NULL, NULL, "backslashreplace"},
    {"mode", log_get_const, NULL, NULL, "w"},
    {"name", (getter)log_get_name, NULL, NULL, NULL},
    {"newlines", log_get_none, NULL, NULL, NULL},
    {"line_buffering", log_get_true, NULL, NULL, NULL},
    {"write_through", log_get_true, NULL, NULL, NULL},
    {"buffer", (getter)log_get_buffer, NULL,
     "The binary side: bytes decoded as UTF-8, into the same lines.", NULL},
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

/* write(b): any bytes-like object, decoded as UTF-8 (bad bytes as
 * \\xNN) into the Log's lines.  Returns the number of bytes. */
static PyObject *
buffer_write(PyObject *self, PyObject *arg)
{
    apwsgi_log_object *log = ((apwsgi_log_buffer_object *)self)->log;
    Py_buffer view;
    PyObject *text = NULL;
    Py_ssize_t n = 0;
    int rc = -1;

    if (PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError,
                        "a bytes-like object is required, not 'str'");
        return NULL;
    }
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    n = view.len;
    text = PyUnicode_DecodeUTF8(view.buf, n, "backslashreplace");
    if (text) {
        rc = log_add_str(log, text);
    }
    Py_XDECREF(text);
    PyBuffer_Release(&view);
    return rc < 0 ? NULL : PyLong_FromSsize_t(n);
}

static PyObject *
buffer_writelines(PyObject *self, PyObject *seq)
{
    return writelines_with(self, seq, buffer_write);
}

static PyObject *
buffer_flush(apwsgi_log_buffer_object *self, PyObject *Py_UNUSED(ignored))
{
    return log_flush(self->log, NULL);
}

static PyObject *
buffer_get_name(apwsgi_log_buffer_object *self, void *Py_UNUSED(closure))
{
    return PyUnicode_FromString(self->log->name);
}

static void
buffer_dealloc(apwsgi_log_buffer_object *self)
{
    PyTypeObject *type = Py_TYPE(self);

    Py_XDECREF(self->log);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyMethodDef buffer_methods[] = {
    {"write", buffer_write, METH_O, "Log complete lines."},
    {"writelines", buffer_writelines, METH_O, "write() each."},
    {"flush", (PyCFunction)buffer_flush, METH_NOARGS, "Log a partial line."},
    {"close", (PyCFunction)buffer_flush, METH_NOARGS,
     "Log a partial line; the error log itself stays open."},
    STREAM_METHODS,
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef buffer_getset[] = {
    {"closed", log_get_false, NULL, NULL, NULL},
    {"mode", log_get_const, NULL, NULL, "wb"},
    {"name", (getter)buffer_get_name, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot buffer_slots[] = {
    {Py_tp_dealloc, buffer_dealloc},
    {Py_tp_methods, buffer_methods},
    {Py_tp_getset, buffer_getset},
    {Py_tp_doc, "The binary side of a Log: bytes into the error log."},
    {0, NULL},
};

static PyType_Spec buffer_spec = {
    .name = "apwsgi.LogBuffer",
    .basicsize = sizeof(apwsgi_log_buffer_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = buffer_slots,
};

/* A new Log object of `part`'s type; see apwsgi_log_new().  Without
 * `r`, it logs against the request the calling thread serves, if any,
 * else against `s`. */
static PyObject *
log_new(struct apwsgi_log_part *part, request_rec *r, server_rec *s,
        const char *tag, const char *name)
{
    apwsgi_log_object *self = PyObject_New(apwsgi_log_object, part->type);

    if (!self) {
        return NULL;
    }
    /* PyObject_New took the instance's reference to its heap type;
     * another one would keep the type, and so every object of the
     * interpreter's that it reaches, alive past the interpreter's end. */
    self->r = r;
    self->s = s;
    self->tag = tag;
    self->name = name;
    self->buffer_type = (PyTypeObject *)Py_NewRef(part->buffer_type);
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
    apwsgi_log_object *self =
        (apwsgi_log_object *)apwsgi_spares_take(&st->log->spare);

    if (!self) {
        return log_new(st->log, r, r->server, tag, "wsgi.errors");
    }
    /* A kept one, as log_new() would make it; its line buffer (empty)
     * stays. */
    self->r = r;
    self->s = r->server;
    self->tag = tag;
    self->owner = apr_os_thread_current();
    return (PyObject *)self;
}

/* Point sys.stdout and sys.stderr at the error log.  0, or -1 with an
 * exception set. */
static int
redirect_stdio(struct apwsgi_log_part *part)
{
    PyObject *out = NULL;
    PyObject *err = NULL;
    int rc = -1;

    out = log_new(part, NULL, part->server, tag_stdout, "<stdout>");
    err =
        out ? log_new(part, NULL, part->server, tag_stderr, "<stderr>") : NULL;
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
    part->buffer_type =
        part->type ? (PyTypeObject *)PyType_FromSpec(&buffer_spec) : NULL;
    st->log = part;
    if (!part->buffer_type
        || (setup->own_python && redirect_stdio(part) < 0)) {
        Py_CLEAR(part->buffer_type);
        Py_CLEAR(part->type);
        return -1;
    }
    return 0;
}

void
apwsgi_log_part_free(apwsgi_state_t *st)
{
    apwsgi_spares_clear(&st->log->spare);
    Py_CLEAR(st->log->buffer_type);
    Py_CLEAR(st->log->type);
}

void
apwsgi_log_detach(apwsgi_state_t *st, PyObject *log)
{
    apwsgi_log_object *self = (apwsgi_log_object *)log;

    log_emit(self, self->len);
    self->r = NULL;
    /* Only the caller's reference: nothing can reach it but the next
     * request that takes it (a Log has no weak references, and a
     * LogBuffer the application holds counts as a reference). */
    apwsgi_spares_keep(&st->log->spare, log, 1);
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
