# SPDX-License-Identifier: Apache-2.0
"""A bounded load generator for the soak tests: worker processes, each
with one keep-alive connection, send a fixed mix of requests and check
every answer exactly.

Nothing is retried: a request whose connection breaks before its whole
response arrived counts as failed, with the reason, as wrk counts it.
Each request carries ?id=<worker>-<n>, so that the tests can tell, for a
failed request, whether it reached the application (soak_app records
every id it sees).

    kinds = [Kind('hello', '/soak/hello', body=b'Hello world!'), ...]
    result = run(server, kinds, weights=[80, 20], workers=4,
                 count=100000, deadline=300)
    result.failed('hello'), result.total, result.rate, ...
"""

import collections
import hashlib
import multiprocessing
import os
import random
import socket
import time

TIMEOUT = 30.0      # seconds: bound of every socket operation


class Kind:
    """One kind of request and the exact answer it must get."""

    def __init__(self, name, path, *, method='GET', upload=0, status=200,
                 body=None, length=None, echo_sha=False):
        self.name = name
        self.path = path
        self.method = method
        self.upload = upload        # bytes of request body to send
        self.status = status
        self.body = body            # exact expected body, or None
        self.length = length        # expected body length, or None
        self.echo_sha = echo_sha    # body must be b'<len> <sha256>'

    def check(self, status, body, upload_sha):
        if status != self.status:
            return 'status %d' % status
        if self.body is not None and body != self.body:
            return 'body %r' % body[:60]
        if self.length is not None and len(body) != self.length:
            return 'body of %d bytes' % len(body)
        if self.echo_sha and body != b'%d %s' % (self.upload, upload_sha):
            return 'echo %r' % body[:60]
        return None


class Broken(Exception):
    """The connection broke before the whole response arrived."""


class Connection:
    """A keep-alive HTTP/1.1 connection: one request at a time."""

    def __init__(self, host, port, keepalive=True):
        self.host, self.port = host, port
        self.keepalive = keepalive
        self.sock = None
        self.buf = b''

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buf = None, b''

    def _fill(self):
        try:
            data = self.sock.recv(262144)
        except socket.timeout:
            raise Broken('timeout') from None
        except OSError as exc:
            raise Broken(type(exc).__name__) from None
        if not data:
            raise Broken('closed')
        self.buf += data

    def _line(self):
        while b'\r\n' not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b'\r\n', 1)
        return line

    def _exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def request(self, method, path, body=b''):
        """-> (status, body); raises Broken."""
        if self.sock is None:
            try:
                self.sock = socket.create_connection((self.host, self.port),
                                                     timeout=TIMEOUT)
            except OSError as exc:
                raise Broken('connect: %s' % type(exc).__name__) from None
        head = b'%s %s HTTP/1.1\r\nHost: %s\r\n' % (
            method.encode(), path.encode(), self.host.encode())
        if body or method == 'POST':
            head += b'Content-Length: %d\r\n' % len(body)
        if not self.keepalive:
            head += b'Connection: close\r\n'
        try:
            self.sock.sendall(head + b'\r\n' + body)
        except OSError as exc:
            raise Broken('send: %s' % type(exc).__name__) from None
        status_line = self._line()
        if not status_line:
            raise Broken('empty status line')
        status = int(status_line.split()[1])
        length, chunked, close = None, False, False
        while True:
            line = self._line()
            if not line:
                break
            name, _, value = line.partition(b':')
            name, value = name.strip().lower(), value.strip().lower()
            if name == b'content-length':
                length = int(value)
            elif name == b'transfer-encoding':
                chunked = value == b'chunked'
            elif name == b'connection':
                close = value == b'close'
        if method == 'HEAD' or status in (204, 304):
            data = b''
        elif chunked:
            parts = []
            while True:
                size = int(self._line().split(b';')[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                parts.append(self._exactly(size))
                self._exactly(2)
            data = b''.join(parts)
        elif length is not None:
            data = self._exactly(length)
        else:
            close = True
            while True:
                try:
                    self._fill()
                except Broken:
                    break
            data, self.buf = self.buf, b''
        if close or not self.keepalive:
            self.close()
        return status, data


def _worker(host, port, kinds, weights, index, count, deadline, keepalive,
            queue):
    rng = random.Random(index)
    upload = os.urandom(max([k.upload for k in kinds] + [0]))
    shas = {k.upload: hashlib.sha256(upload[:k.upload]).hexdigest().encode()
            for k in kinds}
    conn = Connection(host, port, keepalive)
    stats = {k.name: {'sent': 0, 'ok': 0, 'failed': 0,
                      'reasons': collections.Counter(), 'failed_ids': [],
                      'ms': []} for k in kinds}
    n = 0
    while n < count and time.monotonic() < deadline:
        kind = rng.choices(kinds, weights)[0]
        request_id = '%d-%d' % (index, n)
        n += 1
        sep = '&' if '?' in kind.path else '?'
        path = '%s%sid=%s' % (kind.path, sep, request_id)
        s = stats[kind.name]
        s['sent'] += 1
        start = time.monotonic()
        try:
            status, body = conn.request(kind.method, path,
                                        upload[:kind.upload])
            problem = kind.check(status, body, shas[kind.upload])
        except Broken as exc:
            conn.close()
            problem = 'broken: %s' % exc
        except (ValueError, IndexError) as exc:
            conn.close()
            problem = 'malformed response: %s' % exc
        if problem is None:
            s['ok'] += 1
            if len(s['ms']) < 200000:
                s['ms'].append((time.monotonic() - start) * 1000)
        else:
            s['failed'] += 1
            s['reasons'][problem] += 1
            if len(s['failed_ids']) < 10000:
                s['failed_ids'].append(request_id)
    conn.close()
    queue.put((index, stats))


class Result:
    def __init__(self, stats, seconds):
        self.stats = stats          # kind name -> merged counters
        self.seconds = seconds

    @property
    def total(self):
        return sum(s['sent'] for s in self.stats.values())

    @property
    def rate(self):
        return self.total / self.seconds if self.seconds else 0.0

    def failed(self, name=None):
        names = [name] if name else list(self.stats)
        return sum(self.stats[n]['failed'] for n in names)

    def failed_ids(self, name=None):
        names = [name] if name else list(self.stats)
        return [i for n in names for i in self.stats[n]['failed_ids']]

    def percentile(self, name, p):
        ms = sorted(self.stats[name]['ms'])
        if not ms:
            return None
        return ms[min(len(ms) - 1, int(len(ms) * p / 100))]

    def summary(self):
        """Plain data for the figures (no latency lists)."""
        return {
            'requests': self.total, 'seconds': round(self.seconds, 1),
            'rate': round(self.rate), 'failed': self.failed(),
            'kinds': {n: {'sent': s['sent'], 'ok': s['ok'],
                          'failed': s['failed'],
                          'reasons': dict(s['reasons']),
                          'p50_ms': _round(self.percentile(n, 50)),
                          'p99_ms': _round(self.percentile(n, 99))}
                      for n, s in self.stats.items()}}


def _round(value):
    return None if value is None else round(value, 2)


def start(server, kinds, weights, *, workers, count, seconds,
          keepalive=True):
    """Start the load in the background; returns a handle whose wait()
    gives the Result.  count is the total over all workers; seconds
    bounds the run whatever the count.  keepalive=False sends every
    request on a new connection (Connection: close)."""
    ctx = multiprocessing.get_context('fork')
    queue = ctx.Queue()
    deadline = time.monotonic() + seconds
    per_worker = [count // workers + (1 if i < count % workers else 0)
                  for i in range(workers)]
    procs = [ctx.Process(target=_worker,
                         args=(server.host, server.port, kinds, weights, i,
                               per_worker[i], deadline, keepalive, queue),
                         daemon=True)
             for i in range(workers)]
    began = time.monotonic()
    for proc in procs:
        proc.start()
    return _Handle(procs, queue, began, deadline)


class _Handle:
    def __init__(self, procs, queue, began, deadline):
        self.procs, self.queue = procs, queue
        self.began, self.deadline = began, deadline

    def wait(self):
        results = {}
        limit = self.deadline + TIMEOUT + 30
        while len(results) < len(self.procs):
            remaining = limit - time.monotonic()
            if remaining <= 0:
                raise AssertionError('load workers did not finish')
            index, stats = self.queue.get(timeout=remaining)
            results[index] = stats
        seconds = time.monotonic() - self.began
        for proc in self.procs:
            proc.join(TIMEOUT)
        merged = {}
        for stats in results.values():
            for name, s in stats.items():
                m = merged.setdefault(name, {
                    'sent': 0, 'ok': 0, 'failed': 0,
                    'reasons': collections.Counter(), 'failed_ids': [],
                    'ms': []})
                for key in ('sent', 'ok', 'failed'):
                    m[key] += s[key]
                m['reasons'].update(s['reasons'])
                m['failed_ids'] += s['failed_ids']
                m['ms'] += s['ms']
        return Result(merged, seconds)


def run(server, kinds, weights, **kw):
    """start() and wait()."""
    return start(server, kinds, weights, **kw).wait()
