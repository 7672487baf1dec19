# SPDX-License-Identifier: Apache-2.0
"""Scale-out (examples/scale-out): three apwsgi Apache backends behind an
Apache mod_proxy_balancer front end on loopback (scale_out.Cluster, its
servers the harness's, with tests/apps/hold_app.py mounted at /hold on
each backend beside the example's application).

The two ways a backend goes away are told apart by requests it holds:
each test first makes the application hold HELD requests sent through
the front end (which spreads them over the three backends, by
requests), then ends backend b2, and only then lets the held requests
go.

- A graceful stop (graceful-stop, SIGWINCH; scale_out's stop_backend):
  b2 refuses new connections at once, the front end sends every new
  request to b1 and b3, the requests b2 holds are answered, by b2, and
  then b2 exits.  No request fails.
- A crash (b2's processes killed): exactly the requests b2 held fail,
  each with the front end's 502; every other request succeeds, on b1 or
  b3, including every one sent after the crash.
- A stopped backend that starts again is used again after the member's
  `retry`.
Independent of the MPM under test (all four servers use event): runs in
the event-MPM step of `make test` only.
"""

import collections
import concurrent.futures
import http.client
import os
import signal
import socket
import sys
import threading

import pytest

import harness
import support
from apwsgi.apache import find_free_port

sys.path.insert(0, str(support.REPO / 'examples' / 'scale-out'))
import scale_out  # noqa: E402

pytestmark = pytest.mark.skipif(
    support.MPM != 'event', reason='MPM-independent: runs under event only')

HELD = 9     # requests held at once, three per backend
AFTER = 6    # requests sent once b2 is gone (or going)
RETRY = 2    # seconds before the front end tries a failed member again


class Cluster(scale_out.Cluster):
    """The example's cluster, with /hold on each backend."""

    server_class = harness.Server

    def __init__(self, module, state, **kw):
        self.state = state
        super().__init__(module, **kw)

    def backend_config(self, name):
        return '\n'.join([super().backend_config(name),
                          'SetEnv APWSGI_TEST_STATE "%s"' % self.state,
                          support.location('/hold', 'hold_app')])


@pytest.fixture
def cluster():
    """A started cluster; stopped at the end, its logs checked after the
    test."""
    state = support.scratch_dir('apwsgi-scale-out-')
    state.chmod(0o1777)
    ports = [find_free_port() for _ in range(4)]
    c = Cluster(str(support.MODULE), state, port=ports[0],
                backend_ports=ports[1:], retry=RETRY, root=state / 'roots')
    harness.adopt(c.front, *c.backends.values(), root=state)
    c.start()
    yield c
    c.stop()


def get(cluster, path):
    """GET path through the front end on a connection of its own; ->
    (status or the error's name, X-Backend, body)."""
    conn = http.client.HTTPConnection('127.0.0.1', cluster.front.port,
                                      timeout=support.TIMEOUT)
    try:
        conn.request('GET', path)
        resp = conn.getresponse()
        return resp.status, resp.getheader('X-Backend'), resp.read()
    except (OSError, http.client.HTTPException) as exc:
        return type(exc).__name__, None, b''
    finally:
        conn.close()


class Held:
    """HELD requests to /hold in threads, held by the application until
    release()."""

    def __init__(self, cluster):
        self.token = support.token()
        self.state = cluster.state
        self.pool = concurrent.futures.ThreadPoolExecutor(HELD)
        self.futures = [self.pool.submit(get, cluster,
                                         '/hold?token=' + self.token)
                        for _ in range(HELD)]
        record = self.state / ('held-' + self.token)

        def all_held():
            names = record.read_text().split() if record.exists() else []
            return collections.Counter(names) if len(names) == HELD \
                else None
        self.where = support.wait_for(all_held, support.TIMEOUT,
                                      '%d held requests' % HELD)

    def release(self):
        """Let the held requests go; -> their (status, backend, body)."""
        (self.state / ('release-' + self.token)).write_text('go')
        try:
            return [f.result(support.TIMEOUT) for f in self.futures]
        finally:
            self.pool.shutdown()


def refuses(srv):
    try:
        socket.create_connection((srv.host, srv.port), timeout=1).close()
    except OSError:
        return True
    return False


def check_after(cluster):
    """AFTER requests, one at a time: all answered, by b1 and b3."""
    after = [get(cluster, '/') for _ in range(AFTER)]
    assert [(s, b) for s, b, _ in after if s != 200] == [], after
    assert {b for _, b, _ in after} == {'b1', 'b3'}, after


def test_graceful_stop_answers_what_the_backend_holds(cluster):
    held = Held(cluster)
    assert held.where['b2'] >= 1, held.where
    b2 = cluster.backends['b2']
    stopping = threading.Thread(target=cluster.stop_backend,
                                args=('b2', True))
    stopping.start()
    try:
        support.wait_for(lambda: refuses(b2), support.TIMEOUT,
                         'b2 to stop listening')
        check_after(cluster)
        assert b2.running, 'b2 exited with requests in hand'
    finally:
        results = held.release()
        stopping.join(support.TIMEOUT)
    assert not stopping.is_alive() and not b2.running
    assert [r for r in results if r[0] != 200] == [], results
    assert collections.Counter(b for _, b, _ in results) == held.where
    assert all(body == b'released by %s' % b.encode()
               for _, b, body in results), results


def test_crashed_backend_fails_only_what_it_held(cluster):
    held = Held(cluster)
    assert held.where['b2'] >= 1, held.where
    b2 = cluster.backends['b2']
    os.killpg(b2.pid, signal.SIGKILL)
    support.wait_for(lambda: refuses(b2), support.TIMEOUT, 'b2 to be gone')
    b2.stop()
    check_after(cluster)
    results = held.release()
    failed = [r for r in results if r[0] != 200]
    assert [s for s, _, _ in failed] == [502] * held.where['b2'], results
    answered = collections.Counter(b for s, b, _ in results if s == 200)
    assert answered == {'b1': held.where['b1'], 'b3': held.where['b3']}


def test_backend_that_returns_is_used_again(cluster):
    front = cluster.front
    cluster.stop_backend('b2')
    with support.Client() as client:
        for _ in range(6):  # the front end notices b2 is gone
            assert client.get(front.url('/')).status_code == 200
        cluster.backends['b2'].start()

        def b2_serves():
            r = client.get(front.url('/'))
            return r.status_code == 200 and r.headers['X-Backend'] == 'b2'
        support.wait_for(b2_serves, timeout=RETRY + 15,
                         what='b2 to be used again')


def test_balancer_manager_lists_the_members(cluster):
    with support.Client() as client:
        r = client.get(cluster.front.url('/balancer-manager'))
    assert r.status_code == 200
    for name, srv in cluster.backends.items():
        assert 'http://127.0.0.1:%d' % srv.port in r.text
        assert '>%s<' % name in r.text
