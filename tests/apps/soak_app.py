# SPDX-License-Identifier: Apache-2.0
"""The mixed workload of test_soak.py and test_memory.py.

Endpoints (by PATH_INFO); every request with ?id=ID first appends the
line 'ID' to STATE/seen-<pid> (one O_APPEND write, so a line survives
its process being killed): which requests reached the application.
  /hello        b'Hello world!' (12 bytes, a one-item list)
  /64k          64 KiB (bytes(range(256)) * 256) from a generator of
                four 16 KiB blocks
  /post         reads the whole body; answers '<length> <sha256>'
  /error        raises before start_response: 500
  /write        write() twice, returns [b'!']: b'wr!'
  /file         wsgi.file_wrapper(BytesIO(8 KiB of b'f'))
  /gc           JSON {"pid", "interpreter" (mod_wsgi.interpreter),
                "objects" (len(gc.get_objects()) after gc.collect()),
                "blocks" (sys.getallocatedblocks())}
"""

import gc
import hashlib
import io
import json
import os
import sys

HELLO = b'Hello world!'
BLOCK = bytes(range(256)) * 64          # 16 KiB
FILE_DATA = b'f' * 8192
_seen = {}                              # pid -> fd of STATE/seen-<pid>


class SoakError(Exception):
    pass


def _record(environ, request_id):
    pid = os.getpid()
    fd = _seen.get(pid)
    if fd is None:
        path = os.path.join(environ['APWSGI_TEST_STATE'], 'seen-%d' % pid)
        fd = _seen[pid] = os.open(path, os.O_WRONLY | os.O_CREAT |
                                  os.O_APPEND, 0o644)
    os.write(fd, request_id.encode('ascii') + b'\n')


def _blocks():
    for _ in range(4):
        yield BLOCK


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    query = environ.get('QUERY_STRING', '')
    if query.startswith('id='):
        _record(environ, query[3:])
    plain = [('Content-Type', 'text/plain')]
    if path == '/hello':
        start_response('200 OK', plain)
        return [HELLO]
    if path == '/64k':
        start_response('200 OK', plain)
        return _blocks()
    if path == '/post':
        data = environ['wsgi.input'].read()
        start_response('200 OK', plain)
        return [b'%d %s' % (len(data),
                            hashlib.sha256(data).hexdigest().encode())]
    if path == '/error':
        raise SoakError('apwsgi-test-soak-error')
    if path == '/write':
        write = start_response('200 OK', plain)
        write(b'w')
        write(b'r')
        return [b'!']
    if path == '/file':
        start_response('200 OK', plain)
        return environ['wsgi.file_wrapper'](io.BytesIO(FILE_DATA), 4096)
    if path == '/gc':
        gc.collect()
        body = json.dumps({'pid': os.getpid(),
                           'interpreter': environ.get('mod_wsgi.interpreter',
                                                      ''),
                           'objects': len(gc.get_objects()),
                           'blocks': sys.getallocatedblocks()})
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [body.encode('ascii')]
    start_response('404 Not Found', plain)
    return [b'no such endpoint']
