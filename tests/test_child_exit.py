# SPDX-License-Identifier: Apache-2.0
"""A stopping Apache child exits within a bound (GracefulShutdownTimeout,
else 5 s), whatever its Python does: a thread or a request that never
ends, an atexit handler that blocks.  It says what it waited for.

Each test starts a one-process server whose ServerLimit equals its
StartServers, so that a graceful restart's new generation can start only
once the old child is gone: that it answers at all shows the old child
exited.  Under the event and the prefork MPM.
"""

import threading

import pytest

import support

pytestmark = pytest.mark.core

MPMS = ['event', 'prefork']


def start(make_server, mpm, timeout=None):
    def config(state):
        loc = support.location
        return '\n'.join(
            ['SetEnv APWSGI_TEST_STATE "%s"' % state,
             'GracefulShutdownTimeout %d' % timeout if timeout else '',
             loc('/main', 'exit_app'),
             loc('/named', 'exit_app', interpreter='exiting')])
    return make_server(config, mpm=mpm, processes=1)


def whoami(srv):
    with support.Client() as client:
        return support.get_json(client, srv, '/main/whoami')['pid']


def in_background(srv, path):
    """GET path from a thread of its own; returns the list its outcome
    (status code, or exception name) is appended to, and the thread."""
    outcome = []

    def run():
        try:
            with support.Client() as client:
                outcome.append(client.get(srv.url(path),
                                          timeout=60).status_code)
        except Exception as exc:   # the end of the process cuts it
            outcome.append(type(exc).__name__)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return outcome, thread


def stop_while_running(srv, what):
    """Start GET /main/WHAT?file=MARKER in the background, wait until
    the application wrote MARKER (it runs), stop the server, and return
    the request's outcome (as in_background) once its thread ended."""
    marker = what + '-' + support.token()
    outcome, thread = in_background(srv, '/main/%s?file=%s'
                                    % (what, marker))
    support.wait_file(srv.state_dir / marker)
    srv.stop()
    thread.join(30)
    return outcome


def no_kill(log):
    """Apache never had to SIGKILL a child."""
    assert log.lines('sending a SIGKILL') == [], log.text()[-3000:]


@pytest.mark.parametrize('mount, tag', [('/main', 'APW00027'),
                                        ('/named', 'APW00025')])
@pytest.mark.parametrize('mpm', MPMS)
def test_graceful_restart_with_a_thread_that_never_ends(make_server, mpm,
                                                        mount, tag):
    """Default bound (no GracefulShutdownTimeout).  The thread is logged
    with its stack; Python is then left unfinalised and the child exits
    on its own."""
    srv = start(make_server, mpm)
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        support.get_json(client, srv, mount + '/thread?name=never-ends')
    old = whoami(srv)
    srv.graceful()
    assert whoami(srv) != old
    lines = log.wait("thread 'never-ends' (non-daemon):", tag=tag)
    assert ':warn]' in lines[0] and support.log_pid(lines[0]) == old
    assert log.tagged(tag, 'in _spin')
    assert log.tagged('APW00034') == []
    no_kill(log)


@pytest.mark.expect_log('APW00301')
@pytest.mark.parametrize('mpm', MPMS)
def test_graceful_restart_ends_a_request_that_never_returns(make_server,
                                                            mpm):
    """Before the bound, the request still running is logged with its
    age and stack, and SystemExit raised in it: it ends with a 500, and
    the child exits."""
    srv = start(make_server, mpm, timeout=2)
    log = support.LogWindow(srv, 0)
    marker = 'spin-' + support.token()
    outcome, thread = in_background(srv, '/named/spin?file=' + marker)
    support.wait_file(srv.state_dir / marker)
    old = whoami(srv) if mpm == 'event' else None
    srv.graceful()
    assert whoami(srv) != old
    thread.join(30)
    assert outcome == [500]
    line = log.tagged('APW00031')[0]
    assert ':warn]' in line
    assert 'requests still running' in line
    assert 'began to stop (it ends at 2 s: GracefulShutdownTimeout, or ' \
           '5 s): 1;' in line
    assert log.tagged('APW00031', "GET /named/spin (") != []
    assert log.tagged('APW00031', "interpreter 'exiting'") != []
    assert log.tagged('APW00032', 'SystemExit raised in GET /named/spin')
    assert log.tagged('APW00032', 'in _spin')
    assert log.tagged('APW00301', 'SystemExit')
    assert log.tagged('APW00034') == []
    no_kill(log)


@pytest.mark.expect_log('APW00034')
@pytest.mark.parametrize('mpm', MPMS)
def test_graceful_restart_ends_a_process_blocked_in_c(make_server, mpm):
    """A request blocked in C does not see the exception: at the bound,
    the process is ended, saying which request kept it."""
    srv = start(make_server, mpm, timeout=2)
    log = support.LogWindow(srv, 0)
    marker = 'block-' + support.token()
    outcome, thread = in_background(srv, '/main/block?file=' + marker)
    support.wait_file(srv.state_dir / marker)
    srv.graceful()
    whoami(srv)
    thread.join(30)
    assert outcome and outcome[0] != 200, outcome
    assert log.tagged('APW00031', 'GET /main/block (')
    lines = log.tagged('APW00034')
    assert ':error]' in lines[0]
    assert 'after it began to stop (bound 2 s: GracefulShutdownTimeout, ' \
           'or 5 s); requests still running: 1' in lines[0]
    assert log.tagged('APW00034', 'GET /main/block (')
    no_kill(log)


@pytest.mark.expect_log('APW00034')
@pytest.mark.parametrize('mpm', MPMS)
def test_stop_with_a_request_that_never_returns(make_server, mpm):
    """At stop, the requests still running are logged, and the child ends
    before Apache would kill it.  (Prefork ends the child from its
    SIGTERM handler, which says so with APW00003.)"""
    srv = start(make_server, mpm, timeout=30)
    log = support.LogWindow(srv, 0)
    outcome = stop_while_running(srv, 'block')
    assert outcome and outcome[0] != 200, outcome
    if mpm == 'prefork':
        line, = log.tagged('APW00003')
        assert 'process exiting with 1 requests still running' in line
    else:
        # A stop that is not graceful: 5 s, whatever
        # GracefulShutdownTimeout says.
        assert log.tagged('APW00031', 'requests still running', '(it ends '
                          'at 5 s: GracefulShutdownTimeout, or 5 s): 1;')
        assert log.tagged('APW00034', 'bound 5 s')
    no_kill(log)


def test_stop_while_python_runs_prefork(make_server):
    """Prefork ends a child from its SIGTERM handler, which here
    interrupts Python code that holds the GIL: the child must neither
    wait for that GIL (Apache would kill it) nor let anything touch
    Python; it ends at once.  (When the signal happens to come while
    another thread holds the GIL, the request is reported as still
    running instead.)"""
    srv = start(make_server, 'prefork')
    log = support.LogWindow(srv, 0)
    outcome = stop_while_running(srv, 'busy')
    assert outcome and outcome[0] != 200, outcome
    lines = log.tagged('APW00036') + log.tagged('APW00003')
    assert len(lines) == 1 and ':warn]' in lines[0], lines
    no_kill(log)
    assert log.lines('still did not exit') == []


@pytest.mark.expect_log('APW00034')
@pytest.mark.parametrize('mpm', MPMS)
def test_atexit_handler_that_blocks(make_server, mpm):
    """An atexit handler of the main interpreter that never returns: where
    it is gets logged, and the process is ended at the bound."""
    srv = start(make_server, mpm, timeout=2)
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        support.get_json(client, srv, '/main/atexit-block')
    old = whoami(srv)
    srv.graceful()
    assert whoami(srv) != old
    log.wait("the main interpreter's atexit handlers still run",
             tag='APW00033')
    assert log.tagged('APW00033', 'in _block_at_exit')
    line, = log.tagged('APW00034')
    assert ("Python's clean-up was running the main interpreter's atexit "
            "handlers") in line
    no_kill(log)
