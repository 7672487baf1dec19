# SPDX-License-Identifier: Apache-2.0
"""Read wsgi.input in every way PEP 3333 allows and report as JSON.

Endpoints (by PATH_INFO; body is the request body):
  /read                 read(); then read(), read(10), readline(), read(-1)
                        again -> {"len", "sha256", "after": [lengths],
                        "content_length", "terminated"}
  /read-neg             read(-1) -> {"len", "sha256"}
  /readn?n=N            read(N) until b'' -> {"sizes": [...], "sha256",
                        "after": len(read(N)) at the end}
  /readline             readline() until b'' -> {"lines": [...], "after"}
  /readline-n?n=N       readline(N) until b'' -> {"lines": [...]}
  /readlines            readlines() -> {"lines": [...]}
  /readlines-hint?hint=H  readlines(H), then read() -> {"lines", "rest"}
  /iter                 list(wsgi.input) -> {"lines": [...]}
  /mixed                readline(), read(5), readlines() -> {"a","b","c"}
  /ignore               does not read the body -> b"ignored"
  /partial?n=N          reads N bytes only -> {"got": ...}
  /called?token=T       records the call in STATE/input-called-T, then
                        like /read (LimitRequestBody: the app must not run)
  /traced?trace=T&keep=K  whether this request's wsgi.input and
                        wsgi.errors were made while tracemalloc traced
                        (T=start: tracemalloc.start() first; T=stop:
                        tracemalloc.stop() after, and drop what was kept;
                        K=1: keep this request's wsgi.input) ->
                        {"wsgi.input": bool, "wsgi.errors": bool}
Lines are returned decoded as latin-1.
"""

import hashlib
import json
import os

import apphelpers

MAX_LOOPS = 10_000_000  # bound on every read loop
KEPT = []  # wsgi.input objects kept by /traced?keep=1


def _json(start_response, obj):
    body = json.dumps(obj).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]


def _lines(seq):
    return [line.decode('latin-1') for line in seq]


def _read_all(inp):
    data = inp.read()
    after = [len(inp.read()), len(inp.read(10)), len(inp.readline()),
             len(inp.read(-1))]
    return data, after


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    query = apphelpers.query(environ)
    inp = environ['wsgi.input']
    if path == '/called':
        state = environ['APWSGI_TEST_STATE']
        name = 'input-called-%s' % query['token']
        with open(os.path.join(state, name), 'a') as f:
            f.write('called\n')
        path = '/read'
    if path == '/read':
        data, after = _read_all(inp)
        return _json(start_response, {
            'len': len(data), 'sha256': hashlib.sha256(data).hexdigest(),
            'after': after,
            'content_length': environ.get('CONTENT_LENGTH'),
            'terminated': environ.get('wsgi.input_terminated')})
    if path == '/read-neg':
        data = inp.read(-1)
        return _json(start_response, {
            'len': len(data), 'sha256': hashlib.sha256(data).hexdigest()})
    if path == '/readn':
        n = int(query['n'])
        sizes, digest = [], hashlib.sha256()
        for _ in range(MAX_LOOPS):
            chunk = inp.read(n)
            if not chunk:
                break
            sizes.append(len(chunk))
            digest.update(chunk)
        return _json(start_response, {
            'sizes': sizes, 'sha256': digest.hexdigest(),
            'after': len(inp.read(n))})
    if path in ('/readline', '/readline-n'):
        n = int(query['n']) if path == '/readline-n' else None
        lines = []
        for _ in range(MAX_LOOPS):
            line = inp.readline() if n is None else inp.readline(n)
            if not line:
                break
            lines.append(line)
        return _json(start_response, {'lines': _lines(lines),
                                      'after': len(inp.readline())})
    if path == '/readlines':
        return _json(start_response, {'lines': _lines(inp.readlines())})
    if path == '/readlines-hint':
        first = inp.readlines(int(query['hint']))
        rest = inp.read()
        return _json(start_response, {'lines': _lines(first),
                                      'rest': rest.decode('latin-1')})
    if path == '/iter':
        return _json(start_response, {'lines': _lines(list(inp))})
    if path == '/mixed':
        a = inp.readline()
        b = inp.read(5)
        c = inp.readlines()
        return _json(start_response, {'a': a.decode('latin-1'),
                                      'b': b.decode('latin-1'),
                                      'c': _lines(c)})
    if path == '/ignore':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'ignored']
    if path == '/traced':
        import tracemalloc
        if query.get('trace') == 'start':
            tracemalloc.start()
        if query.get('keep') == '1':
            KEPT.append(inp)
        made = {name: tracemalloc.get_object_traceback(environ[name])
                is not None for name in ('wsgi.input', 'wsgi.errors')}
        if query.get('trace') == 'stop':
            tracemalloc.stop()
            del KEPT[:]
        return _json(start_response, made)
    if path == '/partial':
        got = inp.read(int(query['n']))
        return _json(start_response, {'got': got.decode('latin-1')})
    start_response('404 Not Found', [('Content-Type', 'text/plain')])
    return [b'no such endpoint']
