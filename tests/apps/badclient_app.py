# SPDX-License-Identifier: Apache-2.0
"""What the application sees of clients that misbehave.

Endpoints taking ?token=T append lines to STATE/client-T (STATE from SetEnv
APWSGI_TEST_STATE); tests poll that file.

Endpoints (by PATH_INFO):
  /read?token=T&how=H   reads the whole body one way (H: read, read-n
                        (read(8192) in a loop), readline, readlines,
                        iter), then records one JSON line {"how", "got"
                        (bytes returned), "outcome" ("eof", or
                        "<exception type>: <message>")}; on an exception
                        raises it again, else answers 200 with the line
  /read?...&catch=1     the same, but an exception is caught: the app
                        then answers 200 with the line anyway
  /stream?token=T&mb=N  N MiB in 64 KiB blocks; close() records
                        'close after <n> of <N * 16> blocks'
"""

import json

import apphelpers

BLOCK = b's' * 65536


def _read_body(inp, how):
    """-> bytes returned before the end or the exception, exception."""
    got = 0
    try:
        if how == 'read':
            got += len(inp.read())
        elif how == 'read-n':
            while True:
                data = inp.read(8192)
                if not data:
                    break
                got += len(data)
        elif how == 'readline':
            while True:
                line = inp.readline()
                if not line:
                    break
                got += len(line)
        elif how == 'readlines':
            got += sum(len(line) for line in inp.readlines())
        elif how == 'iter':
            for line in inp:
                got += len(line)
        else:
            raise ValueError('how=%r' % how)
    except Exception as exc:
        return got, exc
    return got, None


class Stream:
    def __init__(self, record, blocks):
        self.record = record
        self.blocks = blocks
        self.count = 0

    def __iter__(self):
        for count in range(1, self.blocks + 1):
            self.count = count
            yield BLOCK

    def close(self):
        self.record('close after %d of %d blocks' % (self.count,
                                                      self.blocks))


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    query = apphelpers.query(environ)
    record = apphelpers.recorder(environ, 'client')
    if path == '/read':
        how = query.get('how', 'read')
        got, exc = _read_body(environ['wsgi.input'], how)
        outcome = 'eof' if exc is None else '%s: %s' % (
            type(exc).__name__, exc)
        line = json.dumps({'how': how, 'got': got, 'outcome': outcome})
        record(line)
        if exc is not None and not query.get('catch'):
            raise exc
        start_response('200 OK', [('Content-Type', 'application/json')])
        return [line.encode('ascii')]
    if path == '/stream':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return Stream(record, int(query.get('mb', '1')) * 16)
    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'no such endpoint']
