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
    request_rec *r;         /* NULL once detached, or for sys.std* */
    server_rec *s;          /* for lines with no request */
    const char *tag;        /* "APWnnnnn: " */
    int follow_current;     /* sys.std*: use the thread's request */
    apr_os_thread_t owner;  /* the thread that serves r */
    char *buf;              /* pending partial line, PyMem */
    Py_ssize_t len;
    Py_ssize_t cap;
} apwsgi_log_object;

static _Thread_local request_rec *apwsgi_current_r;

void
apwsgi_log_set_current(request_rec *r)
{
    apwsgi_current_r = r;
}

/*
 * Log each '\n'-separated line of text[0..len) with `tag`.  The text
 * must stay valid while the GIL is released: callers pass a private
 * copy.  GIL held on entry and exit; released around the writes when
 * `release` is set.
 */
static void
log_lines(request_rec *r, server_rec *s, const char *tag, const char *text,
          Py_ssize_t len, int release)
{
    PyThreadState *ts = release ? PyEval_SaveThread() : NULL;
    const char *end = text + len;

    while (text < end) {
        const char *nl = memchr(text, '\n', end - text);
        int n = (int)((nl ? nl : end) - text);

        if (r) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "%s%.*s", tag, n,
                          text);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "%s%.*s", tag, n,
                         text);
        }
        text += n + 1;
    }
    if (ts) {
        PyEval_RestoreThread(ts);
    }
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
        log_lines(r, self->s, self->tag, self->buf, len, 0);
    }
    memmove(self->buf, self->buf + len, self->len - len);
    self->len -= len;
    if (text) {
        log_lines(r, self->s, self->tag, text, len, release);
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

PyTypeObject *
apwsgi_log_type_new(void)
{
    return (PyTypeObject *)PyType_FromSpec(&log_spec);
}

PyObject *
apwsgi_log_new(PyTypeObject *type, request_rec *r, server_rec *s,
               const char *tag)
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
    PyObject *exc = NULL;
    PyObject *module = NULL;
    PyObject *lines = NULL;
    PyObject *empty = NULL;
    PyObject *text = NULL;
    const char *u = NULL;
    Py_ssize_t n = 0;
    char *copy = NULL;

    exc = apwsgi_err_take();
    if (r) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "%s%s", tag, headline);
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "%s%s", tag, headline);
    }
    if (!exc) {
        goto done;
    }
    module = PyImport_ImportModule("traceback");
    if (module) {
        lines = PyObject_CallMethod(module, "format_exception", "O", exc);
    }
    if (lines) {
        empty = PyUnicode_FromStringAndSize("", 0);
        text = empty ? PyUnicode_Join(empty, lines) : NULL;
    }
    if (!text) {
        PyErr_Clear();
        text = PyObject_Repr(exc);
    }
    if (text) {
        u = PyUnicode_AsUTF8AndSize(text, &n);
    }
    if (!u) {
        PyErr_Clear();
        goto done;
    }
    while (n > 0 && u[n - 1] == '\n') {
        n--;
    }
    copy = PyMem_Malloc(n ? n : 1);
    if (copy) {
        memcpy(copy, u, n);
        log_lines(r, s, tag, copy, n, r != NULL);
    }
done:
    PyMem_Free(copy);
    Py_XDECREF(exc);
    Py_XDECREF(module);
    Py_XDECREF(lines);
    Py_XDECREF(empty);
    Py_XDECREF(text);
}
