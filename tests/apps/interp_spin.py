# SPDX-License-Identifier: Apache-2.0
"""CPU-bound requests that show whether two interpreters run at once.

Endpoints (JSON with "interpreter" (environ apwsgi.interpreter) and
"pid"):
  /pingpong?file=F&side=0|1&rounds=N&timeout=T
      Plays N rounds of ping-pong with the request on the other side
      through the shared memory of STATE/F (a file the test made, mapped
      with mmap): side 0 writes round r into byte 0 and waits until byte
      1 reaches r; side 1 waits for byte 0 to reach r, then writes r into
      byte 1.  The loop never blocks and never leaves the GIL, and the
      GIL switch interval is made 60 s first, so a GIL shared by both
      sides is not handed over while one spins: then neither side can
      finish.  Only two interpreters with GILs of their own, running on
      two cores at once, play every round.  Gives up after T seconds.
      + "done" (all rounds played), "rounds" (rounds this side finished)
  /burn?s=S
      Spins for S seconds of wall time holding the GIL.
      + "cpu_ratio": time.thread_time() / wall time over the loop (near
      1 when the thread had a core to itself, near 0.5 when two threads
      shared one GIL)
"""

import json
import mmap
import os
import sys
import time

from apphelpers import query, state_path

DEFAULT_SWITCH_INTERVAL = 0.005


def pingpong(path, side, rounds, timeout):
    """Rounds finished by this side before the deadline."""
    with open(path, 'r+b') as f:
        shared = mmap.mmap(f.fileno(), 2)
    me, other = side, 1 - side
    deadline = time.monotonic() + timeout
    done = 0
    sys.setswitchinterval(60.0)
    try:
        for r in range(1, rounds + 1):
            if side == 0:
                shared[me] = r
            while shared[other] < r:
                if time.monotonic() >= deadline:
                    return done
            if side == 1:
                shared[me] = r
            done = r
        return done
    finally:
        sys.setswitchinterval(DEFAULT_SWITCH_INTERVAL)
        shared.close()


def burn(seconds):
    """thread_time / wall time of a GIL-holding loop of `seconds`."""
    wall0, cpu0 = time.monotonic(), time.thread_time()
    end = wall0 + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return (time.thread_time() - cpu0) / (time.monotonic() - wall0)


def application(environ, start_response):
    path = environ.get('PATH_INFO', '')
    q = query(environ)
    out = {'pid': os.getpid(),
           'interpreter': environ.get('apwsgi.interpreter')}
    if path == '/pingpong':
        rounds = int(q['rounds'])
        played = pingpong(
            state_path(environ, q['file']),
            int(q['side']), rounds, float(q['timeout']))
        out.update(rounds=played, done=played == rounds)
    elif path == '/burn':
        out['cpu_ratio'] = burn(float(q['s']))
    body = json.dumps(out).encode('ascii')
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
