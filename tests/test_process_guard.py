# SPDX-License-Identifier: Apache-2.0
"""The Apache child is Apache's: an application can neither take over the
signals Apache uses nor leave a forked process holding Apache's listening
sockets, nor hang in CPython's cleanup after a fork.

Each test starts its own one-process server under the event and the
prefork MPM (prefork runs a request on the process's main thread, where
Python lets signal handlers be changed).
"""

import os
import pathlib

import pytest

import support

pytestmark = pytest.mark.core

MPMS = ['event', 'prefork']
APACHE_SIGNALS = ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGUSR1', 'SIGWINCH',
                  'SIGPIPE', 'SIGCHLD']


def config(state):
    loc = support.location
    return '\n'.join(['SetEnv APWSGI_TEST_STATE "%s"' % state,
                      loc('/p', 'process_app'),
                      loc('/named', 'process_app', interpreter='guarded')])


def start(make_server, mpm):
    return make_server(config, mpm=mpm, processes=1)


def stop_promptly(srv):
    """Stop the server; Apache must not have had to insist (SIGTERM
    again, then SIGKILL) on any child."""
    srv.stop()
    text = support.LogWindow(srv, 0).text()
    assert 'still did not exit' not in text, text[-3000:]


def refusals(log, what, name):
    return log.tagged('APW00028', '%s ignored for %s:' % (what, name))


# ---- signals ----

@pytest.mark.parametrize('mount', ['/p', '/named'])
@pytest.mark.parametrize('mpm', MPMS)
def test_apache_signals_cannot_be_taken(make_server, mpm, mount):
    srv = start(make_server, mpm)
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        for name in APACHE_SIGNALS:
            out = support.get_json(client, srv,
                                   '%s/signal?sig=%s' % (mount, name))
            assert 'error' not in out, out
            # Nothing changed: signal() returned the handler in place.
            assert out['returned'] == out['now'], out
            if name in ('SIGTERM', 'SIGHUP', 'SIGUSR1'):
                assert 'SIG_IGN' not in out['now'], out
            lines = refusals(log, 'signal.signal()', name)
            assert len(lines) == 1, lines
            assert ':warn]' in lines[0]
            assert ('Apache uses it in its processes (called from %s, '
                    'line ' % (support.APPS / 'process_app.py')) in lines[0]
            assert 'for %s/signal' % mount in lines[0]
            out = support.get_json(client, srv,
                                   '%s/siginterrupt?sig=%s' % (mount, name))
            assert out['returned'] == 'None', out
            assert len(refusals(log, 'signal.siginterrupt()', name)) == 1
        for how in ('block', 'unblock'):
            before = support.get_json(
                client, srv, '%s/mask?how=block&sig=SIGUSR2' % mount)
            out = support.get_json(client, srv,
                                   '%s/mask?how=%s&sig=SIGTERM' % (mount,
                                                                   how))
            # SIGTERM stays as Apache left this thread: blocked in the
            # threads of the event MPM, not on prefork's main thread.
            assert out['blocked'] == (mpm == 'event'), out
            # Other signals are the application's.
            assert before['blocked'] is True
    assert len(refusals(log, 'signal.pthread_sigmask()', 'SIGTERM')) == 2
    stop_promptly(srv)


def test_other_signals_stay_the_applications(make_server):
    """On prefork's main thread, in the main interpreter, Python may set
    a handler for a signal Apache does not use."""
    srv = start(make_server, 'prefork')
    log = support.LogWindow(srv, 0)
    with support.Client() as client:
        out = support.get_json(client, srv, '/p/signal?sig=SIGUSR2')
    assert out['now'] == '<Handlers.SIG_IGN: 1>', out
    assert log.tagged('APW00028') == []
    stop_promptly(srv)


# ---- fork ----

def socket_inodes(pid):
    """Inodes of the sockets process `pid` has open."""
    inodes = set()
    for fd in pathlib.Path('/proc/%d/fd' % pid).iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    return inodes


def port_inodes(port):
    """Inodes of the TCP sockets whose local port is `port` (listening,
    or connections to it)."""
    inodes = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        try:
            lines = pathlib.Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(':', 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def accepts(port):
    import socket
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=2):
            return True
    except OSError:
        return False


def ended(pid):
    """Whether `pid` is gone (or a zombie nobody reaped yet)."""
    try:
        stat = pathlib.Path('/proc/%d/stat' % pid).read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(')') + 2] == 'Z'


@pytest.mark.parametrize('mpm', MPMS)
def test_forked_child_holds_no_apache_socket(make_server, mpm):
    """A process forked from the main interpreter (no named interpreter
    in the process) has neither Apache's listening socket nor the
    client's connection, so once Apache stops, nothing listens on its
    port, and Apache starts again there while that process still runs."""
    srv = start(make_server, mpm)
    stop = srv.state_dir / ('stop-' + support.token())
    with support.Client() as client:
        child = support.get_json(client, srv,
                                 '/p/fork?stop=' + stop.name)['child']
        support.wait_file(str(stop) + '.pid')
        held = socket_inodes(child) & port_inodes(srv.port)
        assert held == set(), 'the forked child holds %s' % held
        srv.stop()
    try:
        assert not ended(child)
        assert not accepts(srv.port), 'something still listens on the port'
        srv.start()
        with support.Client() as client:
            assert support.get_json(client, srv, '/p/signal?sig=SIGUSR2')
    finally:
        stop.write_text('')
    support.wait_for(lambda: ended(child), 10, 'the forked child to end')


@pytest.mark.parametrize('mpm', MPMS)
def test_fork_is_refused_beside_named_interpreters(make_server, mpm):
    """Where CPython's cleanup in the forked child would hang (the main
    interpreter while named ones exist) or cannot be safe (a named
    interpreter), os.fork() raises RuntimeError at once; subprocess
    works in both."""
    srv = start(make_server, mpm)
    with support.Client() as client:
        named = support.get_json(client, srv, '/named/fork-refused')
        main = support.get_json(client, srv, '/p/fork-refused')
    assert named['refused'].startswith(
        "fork is not available in Apache's named interpreters: "), named
    assert main['refused'].startswith(
        'fork is not available while this Apache process runs named '
        'interpreters: '), main
    for out in (named, main):
        assert 'use multiprocessing with the' in out['refused']
        assert out['subprocess'] == 'sub\n'
    stop_promptly(srv)


@pytest.mark.parametrize('mpm', MPMS)
def test_forked_child_that_returns_is_ended(make_server, mpm):
    """A forked child that returns from the application (instead of
    os._exit) is ended on its way back into Apache: the client gets the
    parent's one response, nothing from the child."""
    srv = start(make_server, mpm)
    log = support.LogWindow(srv, 0)
    status, headers, body = support.raw_get(srv, '/p/fork-return')
    assert status == b'HTTP/1.1 200 OK', (status, body)
    out = __import__('json').loads(body)
    assert out['status'] == 0, out
    lines = log.wait('came back from the application for /p/fork-return',
                     tag='APW00029')
    assert len(lines) == 1 and ':warn]' in lines[0], lines
    assert support.log_pid(lines[0]) != out['pid']
    stop_promptly(srv)
