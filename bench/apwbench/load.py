# SPDX-License-Identifier: Apache-2.0
"""One bounded wrk run, and a plain request to check an answer."""

import dataclasses
import http.client
import json
import os
import shutil
import subprocess
import urllib.parse

from . import BENCH

SCRIPT = BENCH / 'wrk' / 'report.lua'
MARK = 'BENCH-JSON '
REQUEST_TIMEOUT = 30        # seconds, for check requests and wrk sockets
GRACE = 30                  # seconds wrk may take beyond its duration


@dataclasses.dataclass(frozen=True)
class LoadShape:
    """wrk's threads and connections, and the length of one run."""

    threads: int = 1
    connections: int = 16
    duration: int = 4       # seconds (wrk takes whole seconds)


def find_wrk():
    path = shutil.which('wrk')
    if not path:
        raise RuntimeError('wrk not found: install it (Debian/Ubuntu: '
                           'apt-get install wrk)')
    return path


def wrk_version():
    out = subprocess.run([find_wrk(), '-v'], capture_output=True,
                         text=True, timeout=10)
    return (out.stdout + out.stderr).splitlines()[0].strip()


def run_wrk(url, scenario, shape, duration=None):
    """Run wrk against url for scenario; return its figures as a dict.

    Keys: requests, rps, p50_ms, p90_ms, p99_ms, mean_ms, max_ms, errors
    (non-2xx/3xx responses plus socket errors), the error counts by kind,
    bytes and seconds.
    """
    duration = shape.duration if duration is None else duration
    cmd = [find_wrk(), '-t%d' % shape.threads, '-c%d' % shape.connections,
           '-d%ds' % duration, '--latency', '--timeout',
           '%ds' % REQUEST_TIMEOUT, '-s', str(SCRIPT), url]
    env = dict(os.environ, BENCH_METHOD=scenario.method,
               BENCH_BODY_BYTES=str(scenario.body_bytes),
               BENCH_HEADERS=''.join('%s: %s\n' % pair
                                     for pair in scenario.headers))
    out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                         timeout=duration + GRACE)
    lines = [line for line in out.stdout.splitlines()
             if line.startswith(MARK)]
    if out.returncode != 0 or not lines:
        raise RuntimeError('wrk failed (exit %d): %s %s'
                           % (out.returncode, out.stdout[-500:],
                              out.stderr[-500:]))
    raw = json.loads(lines[-1][len(MARK):])
    seconds = raw['duration_us'] / 1e6
    socket_errors = (raw['connect_errors'] + raw['read_errors']
                     + raw['write_errors'] + raw['timeouts'])
    return {
        'requests': raw['requests'],
        'seconds': round(seconds, 3),
        'rps': round(raw['requests'] / seconds, 1) if seconds else 0.0,
        'p50_ms': raw['p50_us'] / 1000.0,
        'p90_ms': raw['p90_us'] / 1000.0,
        'p99_ms': raw['p99_us'] / 1000.0,
        'mean_ms': round(raw['latency_mean_us'] / 1000.0, 3),
        'max_ms': raw['latency_max_us'] / 1000.0,
        'errors': raw['status_errors'] + socket_errors,
        'status_errors': raw['status_errors'],
        'connect_errors': raw['connect_errors'],
        'read_errors': raw['read_errors'],
        'write_errors': raw['write_errors'],
        'timeouts': raw['timeouts'],
        'bytes': raw['bytes'],
    }


def fetch(url, method='GET', body=None, headers=None):
    """One request on a new connection: (status, headers dict, body)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                      timeout=REQUEST_TIMEOUT)
    try:
        path = parts.path + ('?' + parts.query if parts.query else '')
        headers = dict(headers or {})
        if body is not None:
            headers['Content-Type'] = 'application/octet-stream'
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def fetch_many(url, count):
    """count GET requests on one keep-alive connection; the statuses."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port,
                                      timeout=REQUEST_TIMEOUT)
    statuses = []
    try:
        for _ in range(count):
            conn.request('GET', parts.path)
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
            if resp.will_close:
                conn.close()
    finally:
        conn.close()
    return statuses
