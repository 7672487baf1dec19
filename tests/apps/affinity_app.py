# SPDX-License-Identifier: Apache-2.0
"""Where a request's thread may run (test_affinity.py mounts it at /aff).

Endpoint: /aff?sleep=S
    sleeps S seconds (default 0), then answers 200 application/json
    {"pid": the process, "cpus": the CPUs this thread may run on, sorted,
    "policy": this thread's scheduling policy (os.SCHED_*), "started": the
    policy of a thread the request starts, "start": time.monotonic() when
    the request began, "end": the same when it answers}.
"""

import json
import os
import threading
import time

from apphelpers import query


def application(environ, start_response):
    start = time.monotonic()
    time.sleep(float(query(environ).get('sleep', '0')))
    started = []
    thread = threading.Thread(
        target=lambda: started.append(os.sched_getscheduler(0)))
    thread.start()
    thread.join()
    body = json.dumps({'pid': os.getpid(),
                       'cpus': sorted(os.sched_getaffinity(0)),
                       'policy': os.sched_getscheduler(0),
                       'started': started[0],
                       'start': start, 'end': time.monotonic()}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
