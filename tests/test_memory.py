# SPDX-License-Identifier: Apache-2.0
"""Nothing accumulates per request: after a warm-up, a few thousand more
requests of a mixed workload leave the number of live objects in each
interpreter (len(gc.get_objects())) and the child's open file
descriptors where they were.

Python's allocated blocks are not asserted here: before 3.12 the count is
process-wide, and it grows by a few hundred blocks each time one of
Apache's 25 threads serves its first request in an interpreter (its
thread state), which happens at random times.  test_soak.py reports them
over 200,000 requests, where they level off.

The long version (100,000+ requests, RSS per child) is in test_soak.py;
the C side is checked by `make asan` and `make valgrind`.
"""

import os

import pytest

import loadgen
import support

pytestmark = pytest.mark.core

WARMUP = 3000
ROUNDS = 3000
# Slack for what a steady process may still vary by (objects a gc pass
# had not yet freed, the /gc request itself).  Measured: no change at
# all over 8 x 4,000 requests.
OBJECT_SLACK = 50
# Connections still closing (lingering close) when the fds are counted.
FD_SLACK = 4

K = loadgen.Kind
KINDS = [K('hello', '/soak/hello', body=b'Hello world!'),
         K('hello-named', '/soak-named/hello', body=b'Hello world!'),
         K('64k', '/soak/64k', length=65536),
         K('post', '/soak-named/post', method='POST', upload=65536,
           echo_sha=True),
         K('error', '/soak/error', status=500),
         K('error-named', '/soak-named/error', status=500),
         K('write', '/soak-named/write', body=b'wr!'),
         K('file', '/soak/file', body=b'f' * 8192)]
WEIGHTS = [30, 20, 10, 10, 5, 5, 10, 10]


def memory_config(state):
    loc = support.location
    return '\n'.join([
        'SetEnv APWSGI_TEST_STATE "%s"' % state,
        loc('/soak', 'soak_app'),
        loc('/soak-named', 'soak_app', interpreter='mem'),
    ])


def probe(srv):
    """{interpreter: live objects}, the child's pid and open fds."""
    found = {}
    with support.Client() as client:
        for mount in ('/soak', '/soak-named'):
            info = client.get(srv.url(mount + '/gc')).json()
            found[info['interpreter']] = info['objects']
            pid = info['pid']
    return found, pid, len(os.listdir('/proc/%d/fd' % pid))


def load(srv, count):
    result = loadgen.run(srv, KINDS, WEIGHTS, workers=2, count=count,
                         seconds=120)
    assert result.total == count
    assert result.failed() == 0, result.summary()


@pytest.mark.expect_log('APW00301')
def test_live_objects_stable_after_warmup(make_server):
    srv = make_server(memory_config, processes=1, log_level='crit')
    load(srv, WARMUP)
    probe(srv)                      # the probe's own first-time objects
    before, pid, fds_before = probe(srv)
    load(srv, ROUNDS)
    after, pid_after, fds_after = probe(srv)
    assert pid_after == pid, 'the child was replaced'
    assert set(before) == {'', 'mem'}
    for name in before:
        assert after[name] - before[name] <= OBJECT_SLACK, (name, before,
                                                            after)
    assert fds_after <= fds_before + FD_SLACK, (fds_before, fds_after)
