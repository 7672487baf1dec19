/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_input.c: wsgi.input (PEP 3333, "Input and Error Streams").
 *
 * read(n) returns n bytes unless the body ends first; read() returns
 * the rest of the body; readline() stops after b"\n".  When the body is
 * over every call returns b"" without asking Apache again, so nothing
 * blocks past the end.  Bytes go from Apache's brigade straight into
 * the bytes object returned where the size is known; readline() goes
 * through a small buffer in r->pool.
 */
#include "apwsgi_input.h"
#include "apwsgi_process.h"

#define LINE_BUFSIZE 8192

/* The input's part of an interpreter's state. */
struct apwsgi_input_part {
    PyTypeObject *type;    /* Input, strong */
    apwsgi_spares_t spare; /* Inputs whose request ended unshared */
};

typedef struct {
    PyObject_HEAD
    apwsgi_request_t *req;  /* NULL once the request is over */
    apr_bucket_brigade *bb; /* r->pool, made by the first read */
    char *buf;              /* readline() buffer, r->pool */
    apr_size_t start;       /* unread bytes are buf[start, end) */
    apr_size_t end;
    apr_off_t remaining; /* Content-Length not yet read; -1: chunked */
    int eof;
    int failed; /* HTTP status of a failed read, or 0 */
} apwsgi_input_object;

static int
input_check(apwsgi_input_object *self)
{
    if (!self->req) {
        PyErr_SetString(PyExc_ValueError,
                        "wsgi.input used after its request ended");
        return -1;
    }
    /* A forked child no longer has the client's connection (and its
     * descriptor may be another file's by now). */
    if (apwsgi_process_forked()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "wsgi.input read from a process that the "
                        "application forked");
        return -1;
    }
    return apwsgi_request_thread_check(self->req, "wsgi.input") ? 0 : -1;
}

/* Raise OSError for a failed read that Apache maps to self->failed. */
static void
input_raise(apwsgi_input_object *self, apr_status_t rv)
{
    request_rec *r = self->req->r;
    const char *reason = NULL;
    char err[128] = "";

    switch (self->failed) {
    case HTTP_REQUEST_ENTITY_TOO_LARGE:
        reason = "the request body is larger than LimitRequestBody";
        break;
    case HTTP_REQUEST_TIME_OUT:
        reason = "timed out reading the request body";
        break;
    default:
        reason = "the request body is incomplete or malformed (the client "
                 "sent less than its Content-Length, or a bad chunk)";
        break;
    }
    if (self->req->answered) {
        apr_snprintf(err, sizeof(err), "Apache answered %d", self->failed);
    }
    else {
        apr_strerror(rv, err, sizeof(err));
    }
    ap_log_rerror(
        APLOG_MARK, APLOG_INFO, self->req->answered ? 0 : rv, r,
        APWSGI_APLOGNO(00401) "request body of %s could not be read: "
                              "%s (%s)",
        r->uri, reason, err);
    PyErr_Format(PyExc_OSError, "%s (%s)", reason, err);
}

/*
 * Read up to `want` (> 0) bytes of the body into `dst`, with the GIL
 * released while Apache reads: with `fill`, until `want` bytes are there
 * or the body ends (one GIL hand-off for a whole read(n), not one per
 * chunk the network gives); else what the first read brings.  Returns
 * the count, 0 at the end of the body, or -1 with OSError set.  GIL held
 * on entry and exit; `dst` must be private to the caller.
 */
static Py_ssize_t
raw_read(apwsgi_input_object *self, char *dst, apr_size_t want, int fill)
{
    request_rec *r = self->req->r;
    apr_bucket_brigade *bb = NULL;
    apr_status_t rv = APR_SUCCESS;
    apr_size_t got = 0;
    int eos = 0;
    int status = 0;
    PyThreadState *ts = NULL;

    if (self->eof) {
        return 0;
    }
    if (self->failed) {
        input_raise(self, APR_EGENERAL);
        return -1;
    }
    if (!self->bb) {
        /* Most requests read no body: no brigade for them. */
        self->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    }
    bb = self->bb;
    ts = PyEval_SaveThread();
    while ((got == 0 || (fill && got < want)) && !eos && rv == APR_SUCCESS) {
        rv = ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES,
                            APR_BLOCK_READ, want - got);
        for (apr_bucket *e = APR_BRIGADE_FIRST(bb);
             rv == APR_SUCCESS && e != APR_BRIGADE_SENTINEL(bb);
             e = APR_BUCKET_NEXT(e)) {
            if (APR_BUCKET_IS_EOS(e)) {
                eos = 1;
            }
            else if (AP_BUCKET_IS_ERROR(e)) {
                status = ((ap_bucket_error *)e->data)->status;
                rv = APR_EGENERAL;
            }
        }
        if (rv == APR_SUCCESS) {
            apr_size_t len = want - got;

            rv = apr_brigade_flatten(bb, dst + got, &len);
            got += len;
        }
        apr_brigade_cleanup(bb);
    }
    PyEval_RestoreThread(ts);
    if (rv == AP_FILTER_ERROR) {
        /* HTTP_IN sent the error response (400, 413) itself: nothing
         * the application answers may follow it. */
        self->req->answered = 1;
        self->req->headers_sent = 1;
        self->req->client_gone = 1;
        status = r->status;
    }
    if (rv != APR_SUCCESS) {
        self->failed =
            status ? status : ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
        self->req->input_status = self->failed;
        input_raise(self, rv);
        return -1;
    }
    self->req->bytes_read += got;
    if (self->remaining > 0) {
        self->remaining -= got;
    }
    /* Once Apache has said the body is over, it is not asked again. */
    if (eos || self->remaining == 0) {
        self->eof = 1;
    }
    return (Py_ssize_t)got;
}

/* Move up to `n` buffered bytes to `dst`; returns how many. */
static apr_size_t
take_buffered(apwsgi_input_object *self, char *dst, apr_size_t n)
{
    apr_size_t avail = self->end - self->start;

    if (n > avail) {
        n = avail;
    }
    memcpy(dst, self->buf + self->start, n);
    self->start += n;
    return n;
}

/* Exactly `n` bytes, fewer only at the end of the body.  New
 * reference, or NULL with an exception set. */
static PyObject *
read_exact(apwsgi_input_object *self, Py_ssize_t n)
{
    PyObject *result = PyBytes_FromStringAndSize(NULL, n);
    PyObject *shorter = NULL;
    char *p = NULL;
    Py_ssize_t got = 0;

    if (!result) {
        return NULL;
    }
    p = PyBytes_AS_STRING(result);
    got = (Py_ssize_t)take_buffered(self, p, (apr_size_t)n);
    while (got < n) {
        Py_ssize_t k = raw_read(self, p + got, (apr_size_t)(n - got), 1);

        if (k < 0) {
            Py_DECREF(result);
            return NULL;
        }
        if (k == 0) {
            break;
        }
        got += k;
    }
    if (got == n) {
        return result;
    }
    shorter = PyBytes_FromStringAndSize(p, got);
    Py_DECREF(result);
    return shorter;
}

/* The rest of a body of unknown length (chunked).  New reference, or
 * NULL with an exception set. */
static PyObject *
read_all(apwsgi_input_object *self)
{
    apr_size_t cap = 65536;
    apr_size_t len = 0;
    char *data = PyMem_Malloc(cap);
    PyObject *result = NULL;

    if (!data) {
        return PyErr_NoMemory();
    }
    len = take_buffered(self, data, cap);
    for (;;) {
        Py_ssize_t k = 0;

        if (len == cap) {
            char *bigger = PyMem_Realloc(data, cap * 2);

            if (!bigger) {
                PyErr_NoMemory();
                goto done;
            }
            data = bigger;
            cap *= 2;
        }
        k = raw_read(self, data + len, cap - len, 1);
        if (k < 0) {
            goto done;
        }
        if (k == 0) {
            break;
        }
        len += (apr_size_t)k;
    }
    result = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
done:
    PyMem_Free(data);
    return result;
}

/* Parse an optional size argument: None or absent means -1. */
static int
size_arg(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *size)
{
    *size = -1;
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "expected at most 1 argument");
        return -1;
    }
    if (nargs == 1 && args[0] != Py_None) {
        *size = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
        if (*size == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
input_read(apwsgi_input_object *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size = -1;
    Py_ssize_t left = -1;

    if (input_check(self) < 0 || size_arg(args, nargs, &size) < 0) {
        return NULL;
    }
    if (self->remaining >= 0) {
        left = (Py_ssize_t)(self->end - self->start + self->remaining);
        if (size < 0 || size > left) {
            size = left;
        }
    }
    if (size == 0) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    return size > 0 ? read_exact(self, size) : read_all(self);
}

/* One line, at most `size` bytes when size >= 0.  New reference, or
 * NULL with an exception set. */
static PyObject *
readline(apwsgi_input_object *self, Py_ssize_t size)
{
    char *acc = NULL;
    apr_size_t acc_len = 0;
    PyObject *result = NULL;

    if (!self->buf) {
        self->buf = apr_palloc(self->req->r->pool, LINE_BUFSIZE);
    }
    while (size < 0 || acc_len < (apr_size_t)size) {
        apr_size_t avail = self->end - self->start;
        apr_size_t take = 0;
        char *from = NULL;
        char *nl = NULL;

        if (avail == 0) {
            Py_ssize_t k = raw_read(self, self->buf, LINE_BUFSIZE, 0);

            if (k < 0) {
                goto done;
            }
            if (k == 0) {
                break;
            }
            self->start = 0;
            self->end = avail = (apr_size_t)k;
        }
        from = self->buf + self->start;
        take = avail;
        if (size >= 0 && take > (apr_size_t)size - acc_len) {
            take = (apr_size_t)size - acc_len;
        }
        nl = memchr(from, '\n', take);
        if (nl) {
            take = (apr_size_t)(nl - from) + 1;
        }
        if (!acc && nl) {
            /* The common case: the whole line is in the buffer. */
            self->start += take;
            return PyBytes_FromStringAndSize(from, (Py_ssize_t)take);
        }
        {
            char *bigger = PyMem_Realloc(acc, acc_len + take);

            if (!bigger) {
                PyErr_NoMemory();
                goto done;
            }
            acc = bigger;
        }
        memcpy(acc + acc_len, from, take);
        acc_len += take;
        self->start += take;
        if (nl) {
            break;
        }
    }
    result = PyBytes_FromStringAndSize(acc ? acc : "", (Py_ssize_t)acc_len);
done:
    PyMem_Free(acc);
    return result;
}

static PyObject *
input_readline(apwsgi_input_object *self, PyObject *const *args,
               Py_ssize_t nargs)
{
    Py_ssize_t size = -1;

    if (input_check(self) < 0 || size_arg(args, nargs, &size) < 0) {
        return NULL;
    }
    return readline(self, size);
}

static PyObject *
input_readlines(apwsgi_input_object *self, PyObject *const *args,
                Py_ssize_t nargs)
{
    Py_ssize_t hint = -1;
    Py_ssize_t total = 0;
    PyObject *lines = NULL;
    PyObject *line = NULL;

    if (input_check(self) < 0 || size_arg(args, nargs, &hint) < 0) {
        return NULL;
    }
    lines = PyList_New(0);
    if (!lines) {
        return NULL;
    }
    while ((line = readline(self, -1)) && PyBytes_GET_SIZE(line) > 0) {
        total += PyBytes_GET_SIZE(line);
        if (PyList_Append(lines, line) < 0) {
            goto failed;
        }
        Py_CLEAR(line);
        if (hint > 0 && total >= hint) {
            return lines;
        }
    }
    if (line) {
        Py_DECREF(line); /* b"": the end of the body */
        return lines;
    }
failed:
    Py_XDECREF(line);
    Py_DECREF(lines);
    return NULL;
}

static PyObject *
input_iternext(apwsgi_input_object *self)
{
    PyObject *line = NULL;

    if (input_check(self) < 0) {
        return NULL;
    }
    line = readline(self, -1);
    if (line && PyBytes_GET_SIZE(line) == 0) {
        Py_CLEAR(line); /* NULL with no exception: StopIteration */
    }
    return line;
}

static void
input_dealloc(apwsgi_input_object *self)
{
    PyTypeObject *type = Py_TYPE(self);

    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyMethodDef input_methods[] = {
    {"read", (PyCFunction)(void (*)(void))input_read, METH_FASTCALL,
     "read(size=-1) -> bytes: size bytes, fewer only at the end."},
    {"readline", (PyCFunction)(void (*)(void))input_readline, METH_FASTCALL,
     "readline(size=-1) -> bytes: up to and including b'\\n'."},
    {"readlines", (PyCFunction)(void (*)(void))input_readlines, METH_FASTCALL,
     "readlines(hint=-1) -> list of lines."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot input_slots[] = {
    {Py_tp_dealloc, input_dealloc},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, input_iternext},
    {Py_tp_methods, input_methods},
    {Py_tp_doc, "wsgi.input: the request body (PEP 3333)."},
    {0, NULL},
};

static PyType_Spec input_spec = {
    .name = "apwsgi.Input",
    .basicsize = sizeof(apwsgi_input_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = input_slots,
};

int
apwsgi_input_part_init(apwsgi_state_t *st, const apwsgi_state_setup_t *setup)
{
    st->input = apr_pcalloc(setup->pool, sizeof(*st->input));
    st->input->type = (PyTypeObject *)PyType_FromSpec(&input_spec);
    return st->input->type ? 0 : -1;
}

void
apwsgi_input_part_free(apwsgi_state_t *st)
{
    apwsgi_spares_clear(&st->input->spare);
    Py_CLEAR(st->input->type);
}

PyObject *
apwsgi_input_new(apwsgi_request_t *req)
{
    struct apwsgi_input_part *part = req->state->input;
    apwsgi_input_object *self =
        (apwsgi_input_object *)apwsgi_spares_take(&part->spare);
    request_rec *r = req->r;

    if (!self) {
        /* PyObject_New takes the reference to the heap type that the
         * instance holds (since 3.8); dealloc drops it. */
        self = PyObject_New(apwsgi_input_object, part->type);
        if (!self) {
            return NULL;
        }
    }
    self->req = req;
    self->bb = NULL;
    self->buf = NULL;
    self->start = self->end = 0;
    /* ap_setup_client_block() has parsed the framing already. */
    self->remaining = r->read_chunked ? -1 : r->remaining;
    self->eof = self->remaining == 0;
    self->failed = 0;
    return (PyObject *)self;
}

void
apwsgi_input_detach(PyObject *input)
{
    apwsgi_input_object *self = (apwsgi_input_object *)input;
    struct apwsgi_input_part *part =
        self->req ? self->req->state->input : NULL;

    self->req = NULL;
    if (!part) {
        return;
    }
    /* Only the caller's reference: nothing can reach it but the next
     * request that takes it (an Input has no weak references). */
    apwsgi_spares_keep(&part->spare, input, 1);
}

int
apwsgi_input_at_eof(PyObject *input)
{
    apwsgi_input_object *self = (apwsgi_input_object *)input;

    return self->eof && self->start == self->end;
}
