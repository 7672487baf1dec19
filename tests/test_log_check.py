# SPDX-License-Identifier: Apache-2.0
"""The after-test log check itself (tests/harness.py), on real servers
whose application crashes its own child (tests/apps/crash_app.py).

- A crash during a request fails the check under every MPM, also when
  the parent logs it only once the stop has begun (as it does when the
  server is stopped right after the request).
- The one crash the check forgives, Apache's own stop-time crash of the
  event MPM, cannot be caused at will; a SIGSEGV at the child's exit,
  from an exit handler, is the same to the check: forgiven under event,
  when no client was connected, and nowhere else.
- A stop first lets Apache close the connections whose clients have
  just closed them: those clients are not connected, and no worker is
  still closing a connection when the stop begins (what Apache's crash
  needs).

These servers are not handed to the after-test check (which would fail
these tests): each test runs the check itself and asserts what it says.
Independent of the MPM under test: runs in the event-MPM step of `make
test` only.
"""

import os
import socket
import threading

import pytest
import requests

import harness
import support

pytestmark = pytest.mark.skipif(
    support.MPM != 'event', reason='MPM-independent: runs under event only')

MPMS = ['event', 'worker', 'prefork']


@pytest.fixture
def crash_server():
    """crash_server(mpm) -> a started Server with crash_app at /crash,
    one child; stopped and removed at the end."""
    servers = []

    def start(mpm):
        srv = harness.create(support.location('/crash', 'crash_app'),
                             mpm=mpm, processes=1)
        servers.append(srv)
        srv.start()
        return srv
    yield start
    for srv in servers:
        srv.stop()
        support.remove_tree(srv.root)


def child_pid(client, srv):
    return int(client.get(srv.url('/crash/pid')).text)


def crash_line(pid):
    return 'child pid %d exit signal Segmentation fault (11)' % pid


@pytest.mark.parametrize('mpm', MPMS)
def test_crash_during_a_request_fails(crash_server, mpm):
    srv = crash_server(mpm)
    with support.Client() as client:
        pid = child_pid(client, srv)
        with pytest.raises(requests.ConnectionError):
            client.get(srv.url('/crash/segv'))
    srv.stop()
    problems = harness.log_problems(srv)
    assert len(problems) == 1 and crash_line(pid) in problems[0], problems


@pytest.mark.parametrize('mpm', MPMS)
def test_crash_at_exit_forgiven_under_event_only(crash_server, mpm):
    srv = crash_server(mpm)
    with support.Client() as client:
        pid = child_pid(client, srv)
        assert client.get(srv.url('/crash/segv-at-exit')).text == 'armed'
    srv.stop()
    assert crash_line(pid) in srv.log_bytes().decode()
    stop, = srv.stops
    assert (pid in stop.well, stop.clients) == (True, 0)
    problems = harness.log_problems(srv)
    if mpm == 'event':
        assert problems == []
    else:
        assert len(problems) == 1 and crash_line(pid) in problems[0]


def test_crash_at_exit_with_a_client_connected_fails(crash_server):
    """A client still connected when the stop began: a request may have
    been in flight, so not even the event MPM's crash is forgiven."""
    srv = crash_server('event')
    with support.Client() as client:
        pid = child_pid(client, srv)
        assert client.get(srv.url('/crash/segv-at-exit')).text == 'armed'
        srv.stop()  # the keep-alive connection is still open
    stop, = srv.stops
    assert stop.clients >= 1
    problems = harness.log_problems(srv)
    assert len(problems) == 1 and crash_line(pid) in problems[0], problems


def test_a_stop_waits_for_connections_their_clients_closed():
    """A connection whose client has closed it and the server not yet
    (CLOSE_WAIT) is no connected client: a stop's record is taken once
    the server has closed it.  Apache's event MPM takes that moment to
    close a keep-alive connection in a worker, and a stop in it is what
    Apache's own crash needs.  Here the server is a listener of the
    test's own, which closes the connection 0.2 s later (bounded:
    harness.SETTLE_TIMEOUT)."""
    with socket.create_server(('127.0.0.1', 0)) as listener:
        port = listener.getsockname()[1]
        client = socket.create_connection(('127.0.0.1', port))
        conn, _ = listener.accept()
        client.close()
        support.wait_for(
            lambda: harness.CLOSE_WAIT in harness.tcp_states(port), 10,
            'the server side of the connection to be in CLOSE_WAIT')
        closer = threading.Timer(0.2, conn.close)
        closer.start()
        log = harness.LogFile(os.devnull, 'event')
        log.note_stop(os.getpid(), port)
        closer.join()
    stop, = log.stops
    assert stop.clients == 0
