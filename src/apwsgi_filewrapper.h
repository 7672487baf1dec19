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
#include "apwsgi_state.h"

/* The file wrapper's part of an interpreter's state (apwsgi_state.h):
 * the FileWrapper heap type.  GIL held. */
int apwsgi_filewrapper_part_init(apwsgi_state_t *st,
                                 const apwsgi_state_setup_t *setup);
void apwsgi_filewrapper_part_free(apwsgi_state_t *st);

/* The FileWrapper type of `st`, for environ's wsgi.file_wrapper: a
 * borrowed reference (the state owns it).  GIL held. */
PyObject *apwsgi_filewrapper_type(apwsgi_state_t *st);

/* The wrapped file-like object of `obj` (borrowed), or NULL when `obj`
 * is not a FileWrapper of `st`.  GIL held; sets no exception. */
PyObject *apwsgi_filewrapper_filelike(apwsgi_state_t *st, PyObject *obj);

#endif /* APWSGI_FILEWRAPPER_H */
