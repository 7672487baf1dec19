# SPDX-License-Identifier: Apache-2.0
"""Applications loaded by many requests at once: every request waits for
the one load and gets the application, never a half-run module.

A script whose top level releases the GIL (time.sleep, I/O) is in
sys.modules before it has defined its callable: a module that handed it
to a concurrent first request would answer 500 with APW00202.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest

import support

SLOW_SCRIPT = '''\
import time
LOADS = []
LOADS.append(1)
time.sleep(0.5)          # releases the GIL while the module is half-made


def application(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [b'loaded %d' % len(LOADS)]
'''

SLOW_MODULE = SLOW_SCRIPT


def _config(state):
    support.write_world_readable(state / 'slow_script.wsgi', SLOW_SCRIPT)
    support.write_world_readable(state / 'slow_module.py', SLOW_MODULE)
    return '\n'.join([
        support.location('/script-main', str(state / 'slow_script.wsgi'),
                         directory=None),
        support.location('/script-named', str(state / 'slow_script.wsgi'),
                         directory=None, interpreter='slowload'),
        support.location('/module-named', 'slow_module',
                         directory=str(state), interpreter='slowmod'),
    ])


@pytest.mark.parametrize('mount', ['/script-main', '/script-named',
                                   '/module-named'])
def test_concurrent_first_requests_all_get_the_application(make_server,
                                                            mount):
    srv = make_server(_config, processes=1, threads=25)

    def get(_):
        with support.Client() as client:
            r = client.get(srv.url(mount + '/'), timeout=30)
            return r.status_code, r.text

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(get, range(8)))
    # One load only: every request sees the module that ran once.
    assert results == [(200, 'loaded 1')] * 8
