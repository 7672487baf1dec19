# SPDX-License-Identifier: Apache-2.0
"""Echo a few environ keys while making garbage whose finalizers let
other threads run (time.sleep(0) releases the GIL), so that a garbage
collection, and a thread switch, can happen while apwsgi builds the
next request's environ.

GET <any>?<q> with X-Token: T [and X-Other: O] -> 200 application/json
    {"token": T, "q": <q>, "other": O or null}
"""

import json
import time


class Cycle:
    def __init__(self):
        self.me = self

    def __del__(self):
        time.sleep(0)


def application(environ, start_response):
    for _ in range(200):
        Cycle()
    body = json.dumps({'token': environ.get('HTTP_X_TOKEN'),
                       'q': environ.get('QUERY_STRING'),
                       'other': environ.get('HTTP_X_OTHER')}).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]
