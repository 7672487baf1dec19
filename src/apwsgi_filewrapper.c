/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_filewrapper.c: the wsgi.file_wrapper type.
 */
#include "apwsgi_filewrapper.h"

#include <sys/stat.h>

#define DEFAULT_BLOCK_SIZE 8192

/* The file wrapper's part of an interpreter's state.  The io types are
 * the interpreter's own (each has its own _io module since 3.12). */
struct apwsgi_filewrapper_part {
    PyTypeObject *type;        /* FileWrapper, strong */
    PyObject *file_io;         /* io.FileIO, strong */
    PyObject *buffered_reader; /* io.BufferedReader, strong */
    PyObject *buffered_random; /* io.BufferedRandom, strong */
};

typedef struct {
    PyObject_HEAD
    PyObject *filelike; /* strong */
    Py_ssize_t block_size;
} apwsgi_filewrapper_object;

static PyObject *
filewrapper_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"filelike", "block_size", NULL};
    PyObject *filelike = NULL;
    Py_ssize_t block_size = DEFAULT_BLOCK_SIZE;
    apwsgi_filewrapper_object *self = NULL;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|n:file_wrapper", kwlist,
                                     &filelike, &block_size)) {
        return NULL;
    }
    if (block_size <= 0) {
        PyErr_SetString(PyExc_ValueError, "block_size must be positive");
        return NULL;
    }
    self = (apwsgi_filewrapper_object *)type->tp_alloc(type, 0);
    if (self) {
        self->filelike = Py_NewRef(filelike);
        self->block_size = block_size;
    }
    return (PyObject *)self;
}

/* The next block: read(block_size) of the wrapped object, bytes.  A
 * text file's str is refused rather than encoded in a guessed way. */
static PyObject *
filewrapper_iternext(apwsgi_filewrapper_object *self)
{
    PyObject *data =
        PyObject_CallMethod(self->filelike, "read", "n", self->block_size);

    if (data && !PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError,
                     "wsgi.file_wrapper: read() of %.200s returned %.200s, "
                     "not bytes: open the file in binary mode ('rb')",
                     Py_TYPE(self->filelike)->tp_name, Py_TYPE(data)->tp_name);
        Py_CLEAR(data);
    }
    else if (data && PyBytes_GET_SIZE(data) == 0) {
        Py_CLEAR(data); /* NULL with no exception: StopIteration */
    }
    return data;
}

static PyObject *
filewrapper_close(apwsgi_filewrapper_object *self,
                  PyObject *Py_UNUSED(ignored))
{
    PyObject *close = NULL;
    PyObject *res = NULL;

    if (apwsgi_getattr_optional(self->filelike, "close", &close) < 0) {
        return NULL;
    }
    if (!close) {
        Py_RETURN_NONE;
    }
    res = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    return res;
}

static int
filewrapper_traverse(apwsgi_filewrapper_object *self, visitproc visit,
                     void *arg)
{
    Py_VISIT(self->filelike);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
filewrapper_clear(apwsgi_filewrapper_object *self)
{
    Py_CLEAR(self->filelike);
    return 0;
}

static void
filewrapper_dealloc(apwsgi_filewrapper_object *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    filewrapper_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyMethodDef filewrapper_methods[] = {
    {"close", (PyCFunction)filewrapper_close, METH_NOARGS,
     "Close the wrapped file-like object, if it has close()."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef filewrapper_members[] = {
    {"filelike", APWSGI_T_OBJECT,
     offsetof(apwsgi_filewrapper_object, filelike), APWSGI_READONLY,
     "The wrapped file-like object."},
    {"block_size", APWSGI_T_SSIZE,
     offsetof(apwsgi_filewrapper_object, block_size), APWSGI_READONLY,
     "Bytes per block when the file is iterated."},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot filewrapper_slots[] = {
    {Py_tp_new, filewrapper_new},
    {Py_tp_dealloc, filewrapper_dealloc},
    {Py_tp_traverse, filewrapper_traverse},
    {Py_tp_clear, filewrapper_clear},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, filewrapper_iternext},
    {Py_tp_methods, filewrapper_methods},
    {Py_tp_members, filewrapper_members},
    {Py_tp_doc, "file_wrapper(filelike, block_size=8192): wsgi.file_wrapper "
                "(PEP 3333)."},
    {0, NULL},
};

static PyType_Spec filewrapper_spec = {
    .name = "apwsgi.FileWrapper",
    .basicsize = sizeof(apwsgi_filewrapper_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = filewrapper_slots,
};

int
apwsgi_filewrapper_part_init(apwsgi_state_t *st,
                             const apwsgi_state_setup_t *setup)
{
    struct apwsgi_filewrapper_part *part =
        apr_pcalloc(setup->pool, sizeof(*part));
    PyObject *io = PyImport_ImportModule("io");

    st->filewrapper = part;
    part->type = (PyTypeObject *)PyType_FromSpec(&filewrapper_spec);
    if (io && part->type) {
        part->file_io = PyObject_GetAttrString(io, "FileIO");
    }
    if (part->file_io) {
        part->buffered_reader = PyObject_GetAttrString(io, "BufferedReader");
    }
    if (part->buffered_reader) {
        part->buffered_random = PyObject_GetAttrString(io, "BufferedRandom");
    }
    Py_XDECREF(io);
    return part->buffered_random ? 0 : -1;
}

void
apwsgi_filewrapper_part_free(apwsgi_state_t *st)
{
    Py_CLEAR(st->filewrapper->buffered_random);
    Py_CLEAR(st->filewrapper->buffered_reader);
    Py_CLEAR(st->filewrapper->file_io);
    Py_CLEAR(st->filewrapper->type);
}

PyObject *
apwsgi_filewrapper_type(apwsgi_state_t *st)
{
    return (PyObject *)st->filewrapper->type;
}

PyObject *
apwsgi_filewrapper_filelike(apwsgi_state_t *st, PyObject *obj)
{
    if (!Py_IS_TYPE(obj, st->filewrapper->type)) {
        return NULL;
    }
    return ((apwsgi_filewrapper_object *)obj)->filelike;
}

/* obj.method() is True.  No exception left set. */
static int
call_true(PyObject *obj, const char *method)
{
    PyObject *res = PyObject_CallMethod(obj, method, NULL);
    int yes = res == Py_True;

    Py_XDECREF(res);
    PyErr_Clear();
    return yes;
}

/* The raw io.FileIO under `filelike`, borrowed, or NULL: `filelike`
 * itself when it is exactly a FileIO, or the .raw of exactly a
 * BufferedReader or BufferedRandom when that is exactly a FileIO.
 * Subclasses are not trusted: their read() may differ from the disk.
 * No exception left set. */
static PyObject *
raw_file(struct apwsgi_filewrapper_part *part, PyObject *filelike)
{
    PyObject *type = (PyObject *)Py_TYPE(filelike);
    PyObject *raw = NULL;

    if (type == part->file_io) {
        return filelike;
    }
    if (type != part->buffered_reader && type != part->buffered_random) {
        return NULL;
    }
    raw = PyObject_GetAttrString(filelike, "raw");
    PyErr_Clear();
    Py_XDECREF(raw); /* the buffered object keeps it */
    return raw && (PyObject *)Py_TYPE(raw) == part->file_io ? raw : NULL;
}

int
apwsgi_filewrapper_file(apwsgi_state_t *st, PyObject *filelike, int *fd,
                        apr_off_t *pos, apr_off_t *size)
{
    PyObject *raw = raw_file(st->filewrapper, filelike);
    PyObject *tell = NULL;
    struct stat sb;
    long long at = -1;

    /* FileIO is binary by construction; it must be open for reading. */
    if (!raw || !call_true(raw, "readable")) {
        return 0;
    }
    *fd = PyObject_AsFileDescriptor(raw);
    if (*fd < 0 || fstat(*fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        PyErr_Clear();
        return 0;
    }
    /* tell() of the object itself counts what a buffer has consumed. */
    tell = PyObject_CallMethod(filelike, "tell", NULL);
    at = tell ? PyLong_AsLongLong(tell) : -1;
    Py_XDECREF(tell);
    PyErr_Clear();
    /* A size of 0 (/proc, /sys) says nothing of what read() gives; at
     * or past the end, read() also sees whatever was appended since. */
    if (at < 0 || (apr_off_t)sb.st_size <= (apr_off_t)at) {
        return 0;
    }
    *pos = (apr_off_t)at;
    *size = (apr_off_t)sb.st_size;
    return 1;
}
