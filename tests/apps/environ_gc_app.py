# SPDX-License-Identifier: Apache-2.0
"""Echo a few environ keys while garbage collections started inside
apwsgi's own C code give the GIL away, so that another thread builds an
environ while this one is in the middle of building its own.

Under CPython 3.11 a collection starts inside the allocation that takes
the count of tracked objects over the threshold (here 1), wherever that
allocation is: also in apwsgi before it calls the application, when it
makes the start_response object or copies the environ's template (a
dict that comes from the dicts' free list when it holds one).  The
callback below acts only in collections that began with no Python frame
on the thread (C code started them).  At the end of such a collection
it empties the dicts' free list (keeping the dicts it takes, and the
callback's own info dict, which would go back to that list), so that
the next dict made there, most often the copy of the template, collects
again; at the start of that next collection it sleeps for a moment,
which releases the GIL.  From 3.12 a collection waits for the
evaluation loop (What's New 3.12, gh-97922): the callback always has a
Python frame below it there and does nothing.

GET <any>?<q> with X-Token: T [and X-Other: O] -> 200 application/json
    {"token": T, "q": <q>, "other": O or null}
"""

import gc
import json
import sys
import threading
import time

# Dicts taken from the free list; they grow by about a hundred for each
# request, which the test's 200 requests bound.
_kept = []
_emptied = set()        # threads whose next collection sleeps


def _give_gil_away_in_c(phase, info):
    try:
        sys._getframe(1)
        return
    except ValueError:      # no Python frame: C code started it
        pass
    me = threading.get_ident()
    if phase == 'start' and me in _emptied:
        _emptied.discard(me)
        time.sleep(0.001)
    elif phase == 'stop' and me not in _emptied:
        _kept.append(info)
        _kept.extend([{} for _ in range(100)])
        _emptied.add(me)


gc.callbacks.append(_give_gil_away_in_c)
gc.set_threshold(1)


def application(environ, start_response):
    body = json.dumps({'token': environ.get('HTTP_X_TOKEN'),
                       'q': environ.get('QUERY_STRING'),
                       'other': environ.get('HTTP_X_OTHER')}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
