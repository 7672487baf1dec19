"""Scale-out (examples/scale-out): three apwsgi Apache backends behind an
Apache mod_proxy_balancer front end on loopback.  A bounded load goes
through the front end while backend b2 is stopped; the balancer must route
around it.  The per-backend counts and the failures are printed.

Expected, and asserted:
- before the stop every backend serves requests;
- a stop at once (SIGTERM, what a crash looks like) fails only requests
  that were in flight on b2 or queued in its listen backlog while it died
  (the front end closes the client connection for them, so a browser
  would retry): per client at most one cut mid-request and one queued,
  so at most 2 x CLIENTS in all (in practice about one per client);
- every request that starts after the stop has ended succeeds, on b1 or
  b3, both of which keep serving;
- a graceful stop (graceful-stop) fails no more than that either, usually
  none or one;
- a backend that comes back is used again after the member's `retry`.
Independent of the MPM under test (all four servers use event): runs in
the event-MPM step of `make test` only.
"""

import sys

import pytest

import support
from apwsgi.apache import find_free_port

sys.path.insert(0, str(support.REPO / 'examples' / 'scale-out'))
import scale_out  # noqa: E402

pytestmark = pytest.mark.skipif(
    support.MPM != 'event', reason='MPM-independent: runs under event only')

TOTAL = 600
CLIENTS = 6
RETRY = 2  # seconds before the front end tries a failed member again
MAX_FAILED = 2 * CLIENTS  # see the docstring


@pytest.fixture
def cluster():
    ports = [find_free_port() for _ in range(4)]
    c = scale_out.Cluster(str(support.MODULE), port=ports[0],
                          backend_ports=ports[1:], retry=RETRY)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        crashes = [line for srv in [c.front, *c.backends.values()]
                   for line in support.LogWindow(srv, 0).crash_lines()]
        c.remove()
        assert not crashes, crashes


@pytest.fixture
def say(capsys):
    """Print a report on the terminal, past pytest's output capture."""
    def write(text):
        with capsys.disabled():
            print('\n' + '\n'.join('    ' + line
                                    for line in text.splitlines()))
    return write


def split(results, window):
    begin, end = window
    return ([r for r in results if r[0] < begin],
            [r for r in results if begin <= r[0] < end],
            [r for r in results if r[0] >= end])


def served(rows, name):
    return sum(1 for r in rows if r[2] == name)


def check_routed_around(results, window, report):
    assert len(results) == TOTAL, report
    before, during, after = split(results, window)
    failed = [r for r in results if r[2] is None]
    for name in ('b1', 'b2', 'b3'):
        assert served(before, name) > 0, report
    # Bounded: only requests that could be in flight on or queued at b2.
    assert len(failed) <= MAX_FAILED, report
    assert all(r[0] < window[1] for r in failed), report
    assert after, report
    assert not [r for r in after if r[2] not in ('b1', 'b3')], report
    assert served(after, 'b1') > 0 and served(after, 'b3') > 0, report
    # The survivors served everything b2 did not serve and that did not
    # fail.
    assert served(results, 'b1') + served(results, 'b3') == \
        TOTAL - served(results, 'b2') - len(failed), report


def test_balancer_routes_around_a_stopped_backend(cluster, say):
    results, window = scale_out.demo(cluster, TOTAL, CLIENTS, 'b2')
    report = scale_out.report(results, cluster.names, 'b2', window)
    say('scale-out, b2 stopped at once (SIGTERM):\n' + report)
    check_routed_around(results, window, report)


def test_graceful_stop_of_a_backend(cluster, say):
    results, window = scale_out.demo(cluster, TOTAL, CLIENTS, 'b2',
                                     graceful=True)
    report = scale_out.report(results, cluster.names, 'b2', window)
    say('scale-out, b2 stopped gracefully (SIGWINCH):\n' + report)
    failed = [r for r in results if r[2] is None]
    assert len(failed) <= MAX_FAILED, report
    before, during, after = split(results, window)
    assert served(before, 'b2') > 0, report
    assert not [r for r in during + after if r[2] not in ('b1', 'b3')
                and r[0] > window[0] + 1], report


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
