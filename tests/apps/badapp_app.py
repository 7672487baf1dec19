# SPDX-License-Identifier: Apache-2.0
"""Applications that misbehave in the ways errors_app and close_app do not
cover: threads, wsgi.errors from other threads, recursion, sys.exit at
every stage, never-ending responses, odd return values.

Every exception message starts with 'apwsgi-test-' and names the
endpoint.  Endpoints taking ?token=T append event lines to STATE/bad-T
(STATE from SetEnv APWSGI_TEST_STATE); tests poll that file.

Endpoints (by PATH_INFO):
  /ok                   b'still serving', X-Pid header
  /threads?token=T&n=N  starts N non-daemon threads, answers b'started'
                        at once; each thread waits for close() of the
                        response, works a little (sleep, hash) and
                        records 'thread <i> done <pid>'
  /thread-raises?token=T
                        a thread raises TestError (threading's excepthook
                        prints it to sys.stderr); records 'thread raised'
  /thread-exit?token=T  a thread calls sys.exit(); records 'after' in the
                        request once it ended, b'thread exited'
  /errors-threads?token=T&n=N&lines=L
                        N threads write L lines each to wsgi.errors while
                        the response streams (the request thread sends
                        blocks meanwhile, the GIL released); each line is
                        'apwsgi-test-thr <T> <i> <j> ' + 'x' * 200.  All
                        are joined before the last block.  One more
                        thread waits until close() ran, then writes
                        'apwsgi-test-late <T> <j>' lines (L of them),
                        tries wsgi.input.read(), start_response and
                        write(), and records 'late <name> <outcome>' for
                        each, then 'late done'
  /recursion            unbounded recursion before start_response
  /recursion-mid-stream yields b'first\n', then unbounded recursion
  /recursion-in-close   [b'ok'] whose close() recurses without bound
  /sys-exit-mid-stream  yields b'first\n', then sys.exit(4)
  /sys-exit-in-close?token=T
                        [b'ok'] whose close() records 'close' then
                        calls sys.exit(5)
  /never-ends?token=T   an endless iterable of 64 KiB blocks (a safety
                        cap of CAP_BLOCKS records 'exhausted'); close()
                        records 'close after <n> blocks'
  /never-ends-write?token=T
                        calls write() with 64 KiB blocks without end;
                        records 'write raised <type>: <msg> after <n>
                        blocks' and returns []
  /str-result           returns 'a str' (iterating gives str)
  /bytes-result         returns b'bytes' (iterating gives int)
  /yield-int            a generator yielding 1
  /yield-none           a generator yielding None
  /iter-raises          returns an object whose __iter__ raises
  /close-not-callable   [b'ok'] on an object whose close is 42
  /write-in-close?token=T
                        generator response b'body'; its close() calls
                        write(b'after the end') and records 'write
                        <outcome>'
  /write-from-thread?token=T&n=N
                        a thread calls write(b'T<i>;') N times while the
                        request thread yields N blocks b'R<i>;'; the
                        thread records 'thread <k> ok, <m> failed
                        (<type>)'
  /read-from-thread?token=T
                        a thread and the request thread both read
                        wsgi.input in 1 KiB pieces; each records
                        '<who> read <bytes> (<outcome>)'; answers with
                        the two totals
  /gen-ignores-exit?token=T
                        Content-Length 2; a generator yielding b'ab' and
                        then (on close, GeneratorExit) yielding again,
                        so close() raises RuntimeError; records
                        'finally'
"""

import hashlib
import os
import sys
import threading
import time

import apphelpers

BLOCK = b'n' * 65536
CAP_BLOCKS = 40000          # 2.5 GiB: the safety net of /never-ends
THREAD_WAIT = 20.0          # seconds a thread waits for close() at most


class TestError(Exception):
    pass


class Closing:
    """An iterable over `blocks` whose close() sets `closed` and then
    calls `on_close` (if any)."""

    def __init__(self, blocks, on_close=None):
        self.blocks = blocks
        self.on_close = on_close
        self.closed = threading.Event()

    def __iter__(self):
        return iter(self.blocks)

    def close(self):
        self.closed.set()
        if self.on_close:
            self.on_close()


def _threads(environ, start_response, record):
    n = int(apphelpers.query(environ).get('n', '4'))
    result = Closing([b'started'])

    def work(i):
        result.closed.wait(THREAD_WAIT)
        time.sleep(0.05)
        digest = hashlib.sha256(b'%d' % i * 100000).hexdigest()
        record('thread %d done %d %s' % (i, os.getpid(), digest[:8]))

    for i in range(n):
        threading.Thread(target=work, args=(i,)).start()
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return result


def _thread_raises(environ, start_response, record):
    def work():
        record('thread raised')
        raise TestError('apwsgi-test-thread-raises')
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(THREAD_WAIT)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'thread raised']


def _thread_exit(environ, start_response, record):
    thread = threading.Thread(target=sys.exit, args=(6,))
    thread.start()
    thread.join(THREAD_WAIT)
    record('after')
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'thread exited']


def _late_writer(environ, start_response, write, result, record, token,
                 lines):
    """After the request: write to its wsgi.errors, use its objects."""
    errors = environ['wsgi.errors']
    result.closed.wait(THREAD_WAIT)
    time.sleep(0.05)    # let the module finish the request
    for j in range(lines):
        errors.write('apwsgi-test-late %s %d\n' % (token, j))
    uses = [('read', lambda: environ['wsgi.input'].read(1)),
            ('start_response', lambda: start_response('200 OK', [])),
            ('write', lambda: write(b'late'))]
    for name, use in uses:
        try:
            outcome = 'ok %r' % (use(),)
        except Exception as exc:
            outcome = type(exc).__name__
        record('late %s %s' % (name, outcome))
    record('late done')


def _errors_threads(environ, start_response, record):
    query = apphelpers.query(environ)
    token = query['token']
    n = int(query.get('n', '4'))
    lines = int(query.get('lines', '50'))
    errors = environ['wsgi.errors']
    pad = 'x' * 200

    def writer(i):
        for j in range(lines):
            errors.write('apwsgi-test-thr %s %d %d %s\n' % (token, i, j, pad))
            if j % 10 == 0:
                time.sleep(0.001)

    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(n)]

    def blocks():
        for t in writers:
            t.start()
        for k in range(20):
            yield b'block %d\n' % k
        for t in writers:
            t.join(THREAD_WAIT)
        yield b'joined\n'

    result = Closing(blocks())
    threading.Thread(target=_late_writer,
                     args=(environ, start_response, write, result, record,
                           token, lines)).start()
    return result


def _recurse(n):
    return _recurse(n + 1) + 1


def _recursion_mid_stream():
    yield b'first\n'
    _recurse(0)


def _sys_exit_mid_stream():
    yield b'first\n'
    sys.exit(4)


class NeverEnds:
    """64 KiB blocks without end; counts them; close() records."""

    def __init__(self, record):
        self.record = record
        self.count = 0

    def __iter__(self):
        return self

    def __next__(self):
        if self.count >= CAP_BLOCKS:
            self.record('exhausted')
            raise StopIteration
        self.count += 1
        return BLOCK

    def close(self):
        self.record('close after %d blocks' % self.count)


def _never_ends_write(start_response, record):
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    count = 0
    try:
        while count < CAP_BLOCKS:
            write(BLOCK)
            count += 1
        record('exhausted')
    except Exception as exc:
        record('write raised %s: %s after %d blocks'
               % (type(exc).__name__, exc, count))
    return []


class IterRaises:
    def __iter__(self):
        raise TestError('apwsgi-test-iter-raises')


class CloseNotCallable(list):
    close = 42


def _gen_ignores_exit(record):
    try:
        yield b'ab'
        yield b'cd'
    finally:
        record('finally')
        yield b'ignored GeneratorExit'


def _write_in_close(start_response, record):
    write = start_response('200 OK', [('Content-Type', 'text/plain')])

    def close():
        try:
            outcome = 'ok %r' % (write(b'after the end'),)
        except Exception as exc:
            outcome = type(exc).__name__
        record('write ' + outcome)
    return Closing((b for b in [b'body']), on_close=close)


def _write_from_thread(environ, start_response, record):
    n = int(apphelpers.query(environ).get('n', '200'))
    write = start_response('200 OK', [('Content-Type', 'text/plain')])
    go = threading.Event()

    def writer():
        ok = failed = 0
        kind = ''
        go.wait(THREAD_WAIT)
        for i in range(n):
            try:
                write(b'T%d;' % i)
                ok += 1
            except Exception as exc:
                failed += 1
                kind = type(exc).__name__
        record('thread %d ok, %d failed (%s)' % (ok, failed, kind))

    thread = threading.Thread(target=writer)
    thread.start()

    def blocks():
        go.set()
        for i in range(n):
            yield b'R%d;' % i
        thread.join(THREAD_WAIT)
    return blocks()


def _read_from_thread(environ, start_response, record):
    inp = environ['wsgi.input']
    totals = {}

    def reader(who):
        total = 0
        outcome = 'eof'
        try:
            while True:
                data = inp.read(1024)
                if not data:
                    break
                total += len(data)
        except Exception as exc:
            outcome = type(exc).__name__
        totals[who] = total
        record('%s read %d (%s)' % (who, total, outcome))

    thread = threading.Thread(target=reader, args=('thread',))
    thread.start()
    reader('request')
    thread.join(THREAD_WAIT)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'%d %d' % (totals.get('request', -1), totals.get('thread', -1))]


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    record = apphelpers.recorder(environ, 'bad')
    plain = [('Content-Type', 'text/plain')]
    if path == '/ok':
        start_response('200 OK', plain + [('X-Pid', str(os.getpid()))])
        return [b'still serving']
    if path == '/threads':
        return _threads(environ, start_response, record)
    if path == '/thread-raises':
        return _thread_raises(environ, start_response, record)
    if path == '/thread-exit':
        return _thread_exit(environ, start_response, record)
    if path == '/errors-threads':
        return _errors_threads(environ, start_response, record)
    if path == '/recursion':
        _recurse(0)
    if path == '/recursion-mid-stream':
        start_response('200 OK', plain)
        return _recursion_mid_stream()
    if path == '/recursion-in-close':
        start_response('200 OK', plain)
        return Closing([b'ok'], on_close=lambda: _recurse(0))
    if path == '/sys-exit-mid-stream':
        start_response('200 OK', plain)
        return _sys_exit_mid_stream()
    if path == '/sys-exit-in-close':
        start_response('200 OK', plain)

        def exit_in_close():
            record('close')
            sys.exit(5)
        return Closing([b'ok'], on_close=exit_in_close)
    if path == '/never-ends':
        start_response('200 OK', plain)
        return NeverEnds(record)
    if path == '/never-ends-write':
        return _never_ends_write(start_response, record)
    if path == '/str-result':
        start_response('200 OK', plain)
        return 'a str'
    if path == '/bytes-result':
        start_response('200 OK', plain)
        return b'bytes'
    if path == '/yield-int':
        start_response('200 OK', plain)
        return (x for x in [1])
    if path == '/yield-none':
        start_response('200 OK', plain)
        return (x for x in [None])
    if path == '/iter-raises':
        start_response('200 OK', plain)
        return IterRaises()
    if path == '/close-not-callable':
        start_response('200 OK', plain)
        return CloseNotCallable([b'ok'])
    if path == '/write-in-close':
        return _write_in_close(start_response, record)
    if path == '/write-from-thread':
        return _write_from_thread(environ, start_response, record)
    if path == '/read-from-thread':
        return _read_from_thread(environ, start_response, record)
    if path == '/gen-ignores-exit':
        start_response('200 OK', plain + [('Content-Length', '2')])
        return _gen_ignores_exit(record)
    start_response('404 Not Found', plain)
    return [b'no such endpoint']
