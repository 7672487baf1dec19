/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apwsgi_filewrapper.h: wsgi.file_wrapper (PEP 3333, "Optional
 * Platform-Specific File Handling").
 *
 * wsgi.file_wrapper(filelike, block_size=8192) returns an iterable
 * whose close() closes filelike.  The response code sends a wrapped
 * file as an APR file bucket (sendfile where Apache has it enabled)
 * only where the bytes on disk are surely what the object would read:
 * an io.FileIO, or an io.BufferedReader or io.BufferedRandom over one,
 * open for reading, on a regular file with bytes past its position
 * (apwsgi_filewrapper_file).  Anything else (gzip, bz2 and tar members,
 * pipes, /proc files, text files, any other object with a fileno()) is
 * iterated: read(block_size) until it returns b'', and every block must
 * be bytes.
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

/*
 * Whether `filelike` (a FileWrapper's) may go out as a file bucket: 1
 * with its descriptor in *fd (still the object's), its position in
 * *pos and the file's size in *size; 0 when it must be read through
 * read() instead (no exception set).  GIL held.
 */
int apwsgi_filewrapper_file(apwsgi_state_t *st, PyObject *filelike, int *fd,
                            apr_off_t *pos, apr_off_t *size);

#endif /* APWSGI_FILEWRAPPER_H */
