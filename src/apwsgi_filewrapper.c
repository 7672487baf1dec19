/*
 * apwsgi_filewrapper.c: the wsgi.file_wrapper type.
 */
#include "apwsgi_filewrapper.h"

#define DEFAULT_BLOCK_SIZE 8192

/* The file wrapper's part of an interpreter's state. */
struct apwsgi_filewrapper_part {
    PyTypeObject *type; /* FileWrapper, strong */
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

static PyObject *
filewrapper_iternext(apwsgi_filewrapper_object *self)
{
    PyObject *data =
        PyObject_CallMethod(self->filelike, "read", "n", self->block_size);

    if (data && PyBytes_Check(data) && PyBytes_GET_SIZE(data) == 0) {
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
    st->filewrapper = apr_pcalloc(setup->pool, sizeof(*st->filewrapper));
    st->filewrapper->type = (PyTypeObject *)PyType_FromSpec(&filewrapper_spec);
    return st->filewrapper->type ? 0 : -1;
}

void
apwsgi_filewrapper_part_free(apwsgi_state_t *st)
{
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
