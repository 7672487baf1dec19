# SPDX-License-Identifier: Apache-2.0
"""Responses of every shape PEP 3333 allows.

Endpoints (by PATH_INFO):
  /single              [b'hello world'] (no Content-Length from the app)
  /single-cl           [b'hello world'] with Content-Length: 11
  /list?n=N            N items b'line <i>\n'
  /generator           generator: b'one\n', b'two\n', b'three\n'
  /generator-cl        the same with Content-Length: 14
  /stream?token=T[&size=N][&cl=1][&write=1]
                       yields b'first block\n' (with size: N bytes of
                       first_block(N)); then waits (at most 20 s) for
                       STATE/stream-T to exist; then b'second block\n'
                       (or b'gave up\n' if it never appeared).  cl=1:
                       with the Content-Length of both blocks; write=1:
                       the first block through write(), the second as
                       the returned iterable
  /head                [b'head body'], X-Method: <REQUEST_METHOD>
  /head-generator      generator of b'head ', b'body', X-Method header
  /cookies             two Set-Cookie headers: a=1; Path=/ and b=2; Path=/
  /status?s=STATUS     start_response(STATUS), body b'status body'
                       (empty for 204 and 304)
  /headers             X-Spaces, X-Latin ('caf\xe9'), X-Empty (''),
                       Content-Type text/x-apwsgi; charset=iso-8859-1
  /cl-short            Content-Length: 100 but 10 bytes sent
  /cl-long[?case=other]
                       Content-Length: 5 but b'0123456789' returned;
                       case=other: the names as CONTENT-TYPE and
                       content-length
  /write               write(b'abc'), write(b'def'), returns []
  /write-iter          write(b'abc'), returns [b'def']
  /empty               []
  /empties             [b'', b'a', b'', b'b', b'']
  /large?mb=N[&cl=1][&block=B]
                       N MiB of support.pattern_block() in 64 KiB blocks
                       (or in blocks of B bytes, B dividing 64 KiB)
  /file?name=F&pos=P[&cl=1][&blksize=B]
                       file_wrapper(open(STATE/F) positioned at P)
  /bytesio?size=N      file_wrapper(BytesIO(N bytes of pattern))
  /fileno-only?name=F&pos=P
                       file_wrapper(object with fileno() and tell() whose
                       read() raises): a real file goes out through its
                       descriptor, from its current offset
  /file-iterate?name=F the app iterates file_wrapper itself and returns
                       the joined bytes
  /fw?kind=K&name=F    file_wrapper(X) where X is, by K: gzip
                       (gzip.open(STATE/F)), bz2 (bz2.open(STATE/F)), tar
                       (member 'member.bin' of the tar STATE/F), proc
                       (open('/proc/self/status', 'rb')), pipe (the read
                       end of a pipe a thread writes STATE/F into), text
                       (open(STATE/F), text mode), readsome (open(STATE/F,
                       'rb') after read(10)), grown (STATE/F opened, then
                       100 bytes b'+' appended to it), cut (STATE/F opened
                       at 1000, then truncated to 500 bytes), raw
                       (open(STATE/F, 'rb', buffering=0)), sub (a
                       subclass of io.FileIO whose read() gives b'x' * n)
  /file-reused?name=F&decoy=D&token=T
                       file_wrapper(open(STATE/F)) with its Content-Length;
                       once close() has closed the file, a thread opens
                       STATE/D until a descriptor gets the file's number,
                       writes whether one did to STATE/T, and holds them
                       open until STATE/T is gone
  /sleep?s=S           sleeps S seconds, returns b'slept'
  /many-headers?n=N    N headers X-H-<i>: 'v' * i, plus X-Long (8000 'L')
  /no-body?s=STATUS&how=HOW[&cl=N]
                       start_response(STATUS) with Content-Type and (cl)
                       Content-Length N, and the body b'forbidden body'
                       given as HOW: list, gen (a generator), write
                       (write() then []), file (file_wrapper over
                       STATE/NAME, with &name=NAME)
  /keep                start_response and write kept by the app (in
                       _KEPT), then b'kept' through write()
  /use-kept            calls the kept write and start_response of the
                       last /keep (in the same interpreter) and answers
                       JSON: {"write": error of the write call,
                       "start_response": error of the start_response
                       call, "same": whether this request's start_response
                       is the kept one}
  /ids                 JSON {"start_response": id(start_response),
                       "write": id(write)} (write from this request's
                       start_response); keeps a few objects of write's
                       type (at most 64 in all)
"""

import io
import json
import os
import time

from apphelpers import query

BLOCK = bytes(range(256)) * 256   # 64 KiB
WAIT_LIMIT = 20.0                 # seconds /stream waits for its marker


def _text(start_response, body, status='200 OK', extra=()):
    start_response(status, [('Content-Type', 'text/plain')] + list(extra))
    return [body]


def first_block(size):
    """The first block of /stream?size=N (the test builds it too)."""
    return (b'first block ' * (size // 12 + 1))[:size]


def _stream_rest(state, token):
    marker = os.path.join(state, 'stream-%s' % token)
    deadline = time.monotonic() + WAIT_LIMIT
    while time.monotonic() < deadline:
        if os.path.exists(marker):
            yield b'second block\n'
            return
        time.sleep(0.01)
    yield b'gave up\n'


def _stream(state, token, first):
    yield first
    yield from _stream_rest(state, token)


def _stream_app(start_response, state, q):
    first = first_block(int(q['size'])) if 'size' in q else b'first block\n'
    headers = [('Content-Type', 'text/plain')]
    if q.get('cl'):
        headers.append(('Content-Length',
                        str(len(first) + len(b'second block\n'))))
    write = start_response('200 OK', headers)
    if q.get('write'):
        write(first)
        return _stream_rest(state, q['token'])
    return _stream(state, q['token'], first)


def _large(mb, block):
    piece = BLOCK[:block]
    for _ in range(mb * 16 * (len(BLOCK) // block)):
        yield piece


class FdOnly:
    """A real file reachable only through its descriptor."""

    def __init__(self, path, pos):
        self.fd = os.open(path, os.O_RDONLY)
        os.lseek(self.fd, pos, os.SEEK_SET)

    def fileno(self):
        return self.fd

    def tell(self):
        return os.lseek(self.fd, 0, os.SEEK_CUR)

    def read(self, *args):
        raise RuntimeError('apwsgi-test: read() of a real file was called')

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _generator():
    yield b'one\n'
    yield b'two\n'
    yield b'three\n'


def _head_generator():
    yield b'head '
    yield b'body'


class _XFile(io.FileIO):
    """A FileIO whose read() is not the file on disk."""

    def read(self, n=-1):
        if self.tell() >= 1000:
            return b''
        self.seek(1000)
        return b'x' * 1000


def _fw_object(kind, path):
    import bz2
    import gzip
    import tarfile
    import threading
    if kind == 'gzip':
        return gzip.open(path)
    if kind == 'bz2':
        return bz2.open(path)
    if kind == 'tar':
        return tarfile.open(path).extractfile('member.bin')
    if kind == 'proc':
        return open('/proc/self/status', 'rb')
    if kind == 'pipe':
        rfd, wfd = os.pipe()

        def feed():
            with open(path, 'rb') as src, os.fdopen(wfd, 'wb') as out:
                out.write(src.read())
        threading.Thread(target=feed).start()
        return os.fdopen(rfd, 'rb')
    if kind == 'text':
        return open(path)
    if kind == 'readsome':
        f = open(path, 'rb')
        f.read(10)
        return f
    if kind == 'grown':
        f = open(path, 'rb')
        with open(path, 'ab') as more:
            more.write(b'+' * 100)
        return f
    if kind == 'cut':
        f = open(path, 'rb')
        f.seek(1000)
        os.truncate(path, 500)
        return f
    if kind == 'raw':
        return open(path, 'rb', buffering=0)
    if kind == 'sub':
        return _XFile(path)
    raise ValueError(kind)


def _no_body(environ, start_response, q, state):
    body = b'forbidden body'
    headers = [('Content-Type', 'text/plain'), ('X-Status', q['s'][:3])]
    if 'cl' in q:
        headers.append(('Content-Length', q['cl']))
    how = q['how']
    if how == 'gen':
        def gen():
            start_response(q['s'], headers)
            yield body[:9]
            yield body[9:]
        return gen()
    write = start_response(q['s'], headers)
    if how == 'write':
        write(body)
        return []
    if how == 'file':
        return environ['wsgi.file_wrapper'](
            open(os.path.join(state, q['name']), 'rb'))
    return [body]


_KEPT = {}
_HOLD = []


def _file_reused(environ, start_response, q, state):
    import threading
    f = open(os.path.join(state, q['name']), 'rb')
    number = f.fileno()
    marker = os.path.join(state, q['token'])

    def take():
        deadline = time.monotonic() + WAIT_LIMIT
        while not f.closed and time.monotonic() < deadline:
            time.sleep(0.001)
        held = []
        try:
            while len(held) < 64:
                held.append(os.open(os.path.join(state, q['decoy']),
                                    os.O_RDONLY))
                if held[-1] == number:
                    break
            with open(marker + '.tmp', 'w') as out:
                out.write(str(held[-1] == number))
            os.rename(marker + '.tmp', marker)
            while os.path.exists(marker) and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            for fd in held:
                os.close(fd)
    threading.Thread(target=take, daemon=True).start()
    start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                              ('Content-Length',
                               str(os.fstat(number).st_size))])
    return environ['wsgi.file_wrapper'](f)


def _error_of(call, *args):
    try:
        call(*args)
    except Exception as e:
        return '%s: %s' % (type(e).__name__, e)
    return None


def _json(start_response, value):
    body = json.dumps(value).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    if path == '/keep':
        write = start_response('200 OK', [('Content-Type', 'text/plain')])
        _KEPT.update(start_response=start_response, write=write)
        write(b'kept')
        return []
    if path == '/use-kept':
        return _json(start_response, {
            'write': _error_of(_KEPT['write'], b'late'),
            'start_response': _error_of(_KEPT['start_response'], '200 OK',
                                        []),
            'same': start_response is _KEPT['start_response']})
    if path == '/ids':
        body = json.dumps({'start_response': id(start_response)})
        write = start_response('200 OK', [('Content-Type',
                                           'application/json')])
        # Objects of write's type, kept: freed memory of this request's
        # write would go to them, so a later write at the same address
        # is this one, reused.
        del _HOLD[:-60]
        _HOLD.extend([].append for _ in range(4))
        return [body[:-1].encode() + b', "write": %d}' % id(write)]
    q = query(environ)
    state = environ.get('APWSGI_TEST_STATE', '/nonexistent')
    method = environ['REQUEST_METHOD']
    if path == '/single':
        return _text(start_response, b'hello world', extra=[
            ('X-Single', 'yes')])
    if path == '/single-cl':
        return _text(start_response, b'hello world', extra=[
            ('Content-Length', '11')])
    if path == '/list':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'line %d\n' % i for i in range(int(q['n']))]
    if path == '/generator':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return _generator()
    if path == '/generator-cl':
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('Content-Length', '14')])
        return _generator()
    if path == '/stream':
        return _stream_app(start_response, state, q)
    if path == '/head':
        return _text(start_response, b'head body', extra=[
            ('X-Method', method)])
    if path == '/head-generator':
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('X-Method', method)])
        return _head_generator()
    if path == '/cookies':
        return _text(start_response, b'cookies', extra=[
            ('Set-Cookie', 'a=1; Path=/'), ('Set-Cookie', 'b=2; Path=/')])
    if path == '/status':
        status = q['s']
        body = b'' if status[:3] in ('204', '304') else b'status body'
        start_response(status, [('Content-Type', 'text/plain')])
        return [body]
    if path == '/headers':
        start_response('200 OK', [
            ('Content-Type', 'text/x-apwsgi; charset=iso-8859-1'),
            ('X-Spaces', 'a  b  c'), ('X-Latin', 'caf\xe9'),
            ('X-Empty', '')])
        return [b'headers']
    if path == '/cl-short':
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('Content-Length', '100')])
        return [b'only ten!!']
    if path == '/cl-long':
        if q.get('case') == 'other':
            names = ('CONTENT-TYPE', 'content-length')
        else:
            names = ('Content-Type', 'Content-Length')
        start_response('200 OK', [(names[0], 'text/x-apwsgi'),
                                  (names[1], '5')])
        return [b'0123456789']
    if path in ('/write', '/write-iter'):
        write = start_response('200 OK', [('Content-Type', 'text/plain')])
        write(b'abc')
        if path == '/write':
            write(b'def')
            return []
        return [b'def']
    if path == '/empty':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return []
    if path == '/empties':
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'', b'a', b'', b'b', b'']
    if path == '/large':
        mb = int(q['mb'])
        headers = [('Content-Type', 'application/octet-stream')]
        if q.get('cl'):
            headers.append(('Content-Length', str(mb * 1024 * 1024)))
        start_response('200 OK', headers)
        return _large(mb, int(q.get('block', len(BLOCK))))
    if path == '/file':
        f = open(os.path.join(state, q['name']), 'rb')
        pos = int(q.get('pos', 0))
        f.seek(pos)
        headers = [('Content-Type', 'application/octet-stream')]
        if q.get('cl'):
            size = os.fstat(f.fileno()).st_size
            headers.append(('Content-Length', str(size - pos)))
        start_response('200 OK', headers)
        if 'blksize' in q:
            return environ['wsgi.file_wrapper'](f, int(q['blksize']))
        return environ['wsgi.file_wrapper'](f)
    if path == '/bytesio':
        data = (BLOCK * (int(q['size']) // len(BLOCK) + 1))[:int(q['size'])]
        start_response('200 OK', [('Content-Type',
                                   'application/octet-stream')])
        return environ['wsgi.file_wrapper'](io.BytesIO(data), 8192)
    if path == '/fileno-only':
        f = FdOnly(os.path.join(state, q['name']), int(q.get('pos', 0)))
        start_response('200 OK', [('Content-Type',
                                   'application/octet-stream')])
        return environ['wsgi.file_wrapper'](f)
    if path == '/file-iterate':
        with open(os.path.join(state, q['name']), 'rb') as f:
            body = b''.join(environ['wsgi.file_wrapper'](f, 4096))
        return _text(start_response, body)
    if path == '/many-headers':
        headers = [('X-H-%d' % i, 'v' * i) for i in range(int(q['n']))]
        return _text(start_response, b'many', extra=headers + [
            ('X-Long', 'L' * 8000)])
    if path == '/no-body':
        return _no_body(environ, start_response, q, state)
    if path == '/fw':
        filelike = _fw_object(q['kind'],
                              os.path.join(state, q.get('name', '')))
        start_response('200 OK', [('Content-Type',
                                   'application/octet-stream')])
        return environ['wsgi.file_wrapper'](filelike)
    if path == '/file-reused':
        return _file_reused(environ, start_response, q, state)
    if path == '/sleep':
        time.sleep(float(q['s']))
        return _text(start_response, b'slept')
    return _text(start_response, b'no such endpoint', '404 Not Found')
