# SPDX-License-Identifier: Apache-2.0
"""cpu: about 5 ms of pure-Python work per request (the interp family).

Endpoint: GET /cpu -> 200 text/plain, a short line with the result of
$APWSGI_BENCH_CPU_LOOPS iterations of integer arithmetic (the harness
calibrates the count to about 5 ms on the machine; default 100,000).
Run as a script, ``python cpu.py MS`` prints the count that takes MS ms.
"""

import os
import sys
import time

LOOPS = int(os.environ.get('APWSGI_BENCH_CPU_LOOPS') or 100000)


def work(loops):
    total = 0
    for i in range(loops):
        total = (total + i * i) % 1000003
    return total


def application(environ, start_response):
    body = b'%d\n' % work(LOOPS)
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


def calibrate(ms, trials=5):
    """The loop count that takes about ms milliseconds here (best of)."""
    loops = 20000
    best = min(_timed(loops) for _ in range(trials))
    return max(1000, int(loops * (ms / 1000.0) / best))


def _timed(loops):
    start = time.perf_counter()
    work(loops)
    return time.perf_counter() - start


if __name__ == '__main__':
    print(calibrate(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0))
