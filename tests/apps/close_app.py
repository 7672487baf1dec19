# SPDX-License-Identifier: Apache-2.0
"""Record whether the server calls the response iterable's close().

Each endpoint takes ?token=T and appends event lines to STATE/close-T
(STATE from SetEnv APWSGI_TEST_STATE): 'block <i>' per block produced,
'end' when iteration finished, 'close' when close() was called.

Endpoints (by PATH_INFO):
  /normal            blocks b'a', b'b' -> body b'ab'
  /raise-before      raises on the first next() (500)
  /raise-after       yields b'first\n' then raises (connection cut)
  /str-item          yields a str (TypeError, 500)
  /disconnect        yields up to 2000 blocks of 64 KiB, 10 ms apart; the
                     client reads a little and closes; 'exhausted' if all
                     blocks were produced
  /close-raises      blocks b'a', b'b'; close() records then raises
  /generator         generator with try/finally: 'finally' on close
  /wrapper           wsgi.file_wrapper(filelike): the filelike records
                     'filelike-close' when the wrapper's close() calls it
  /head              blocks b'head', for a HEAD request
"""

import time

from apphelpers import recorder

BLOCK = b'x' * 65536
DISCONNECT_BLOCKS = 2000


class Recorded:
    """An iterable of blocks whose close() is recorded."""

    def __init__(self, record, blocks, fail_at=None, close_raises=False,
                 delay=0.0):
        self.record = record
        self.blocks = blocks
        self.fail_at = fail_at
        self.close_raises = close_raises
        self.delay = delay

    def __iter__(self):
        for i, block in enumerate(self.blocks):
            if i == self.fail_at:
                raise RuntimeError('apwsgi-test-close-fail-at-%d' % i)
            self.record('block %d' % i)
            yield block
            if self.delay:
                time.sleep(self.delay)
        self.record('end' if self.fail_at is None else 'exhausted')

    def close(self):
        self.record('close')
        if self.close_raises:
            raise RuntimeError('apwsgi-test-close-raises')


class FileLike:
    def __init__(self, record, data):
        self.record = record
        self.data = data

    def read(self, size=-1):
        data, self.data = self.data[:size], self.data[size:]
        return data

    def close(self):
        self.record('filelike-close')


def _generator(record):
    try:
        yield b'gen-a'
        yield b'gen-b'
    finally:
        record('finally')


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    record = recorder(environ, 'close')
    plain = [('Content-Type', 'text/plain')]
    start_response('200 OK', plain)
    if path == '/normal':
        return Recorded(record, [b'a', b'b'])
    if path == '/raise-before':
        return Recorded(record, [b'never'], fail_at=0)
    if path == '/raise-after':
        return Recorded(record, [b'first\n', b'never'], fail_at=1)
    if path == '/str-item':
        return Recorded(record, ['a str'])
    if path == '/disconnect':
        return Recorded(record, [BLOCK] * DISCONNECT_BLOCKS,
                        fail_at=DISCONNECT_BLOCKS, delay=0.01)
    if path == '/close-raises':
        return Recorded(record, [b'a', b'b'], close_raises=True)
    if path == '/generator':
        return _generator(record)
    if path == '/wrapper':
        return environ['wsgi.file_wrapper'](FileLike(record, b'wrapped data'))
    if path == '/head':
        return Recorded(record, [b'head'])
    return Recorded(record, [b'no such endpoint'])
