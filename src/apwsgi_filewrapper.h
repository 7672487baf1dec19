/*
 * apwsgi_filewrapper.h: wsgi.file_wrapper (PEP 3333, "Optional
 * Platform-Specific File Handling").
 *
 * wsgi.file_wrapper(filelike, block_size=8192) returns an iterable
 * whose close() closes filelike.  The response code sends a wrapped
 * regular file as an APR file bucket (sendfile where Apache has it
 * enabled) from the file's current position; anything else is iterated
 * in blocks of block_size.
 */
#ifndef APWSGI_FILEWRAPPER_H
#define APWSGI_FILEWRAPPER_H

#include "apwsgi.h"

/* The FileWrapper heap type for the current interpreter.  New
 * reference, or NULL with an exception set.  GIL held. */
PyTypeObject *apwsgi_filewrapper_type_new(void);

/* The wrapped file-like object of `obj` (borrowed), or NULL when `obj`
 * is not an instance of `type`.  GIL held; sets no exception. */
PyObject *apwsgi_filewrapper_filelike(PyTypeObject *type, PyObject *obj);

#endif /* APWSGI_FILEWRAPPER_H */
