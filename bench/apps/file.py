"""file: a 1 MiB file sent through wsgi.file_wrapper.

Endpoint: GET /file -> 200 application/octet-stream, the 1,048,576 bytes
of $APWSGI_BENCH_DATA/file.bin (written by the harness), with
Content-Length.  The server may send it with sendfile.
"""

import os

PATH = os.path.join(os.environ.get('APWSGI_BENCH_DATA', '.'), 'file.bin')
BLOCK = 65536


def application(environ, start_response):
    f = open(PATH, 'rb')
    size = os.fstat(f.fileno()).st_size
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length', str(size))])
    return environ['wsgi.file_wrapper'](f, BLOCK)
