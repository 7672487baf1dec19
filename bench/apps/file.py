# SPDX-License-Identifier: Apache-2.0
"""file: a 1 MiB file sent through wsgi.file_wrapper.

Endpoint: GET /file -> 200 application/octet-stream, the 1,048,576 bytes
of $APWSGI_BENCH_DATA/file.bin (written by the harness), with
Content-Length.  The server may send it with sendfile.  A server without
wsgi.file_wrapper (it is optional in PEP 3333; granian has none) gets the
file in blocks of 64 KiB, as PEP 3333's example wrapper gives them.
"""

import os

PATH = os.path.join(os.environ.get('APWSGI_BENCH_DATA', '.'), 'file.bin')
BLOCK = 65536


def application(environ, start_response):
    f = open(PATH, 'rb')
    size = os.fstat(f.fileno()).st_size
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length', str(size))])
    wrapper = environ.get('wsgi.file_wrapper')
    if wrapper is None:
        return _blocks(f)
    return wrapper(f, BLOCK)


def _blocks(f):
    with f:
        for block in iter(lambda: f.read(BLOCK), b''):
            yield block
