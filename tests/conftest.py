"""Fixtures: real Apache servers with mod_apwsgi loaded, and log checks.

- ``server``: one Apache for the whole session (MPM from APWSGI_MPM) whose
  single config mounts every test app at its own Location (support.py).
- ``log``: a window on the session server's error log opened at the start
  of the test, so a test reads only the lines its own requests caused.
- ``make_server``: factory for tests that need a server of their own (a
  different environment, MPM or config); stopped at the end of the test.
- ``vhost_server``: a session server with two name-based virtual hosts.
- autouse ``check_error_log``: after every test, fails it when any server's
  log gained a crash line, or an error-level APW tag the test did not
  declare with ``@pytest.mark.expect_log('APW00301', ...)``.
"""

import os
import signal
import sys
import tempfile
import pathlib

import pytest

TESTS = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS.parent / 'python'))
sys.path.insert(0, str(TESTS))

from apwsgi.apache import ApacheServer  # noqa: E402
import support  # noqa: E402
from support import LogWindow  # noqa: E402

# Every server started by a fixture, for the after-test log check.
_SERVERS = []
# Roots of servers whose log showed a crash: kept on disk for inspection.
_KEEP = set()


def _new_root():
    """A server root under /tmp that www-data can traverse."""
    root = pathlib.Path(tempfile.mkdtemp(prefix='apwsgi-test-'))
    root.chmod(0o755)
    return root


def _start(config, *, root=None, mpm=None, processes=None, threads=None,
           env=None, modules=(), log_level='info', module=None):
    module = module or support.MODULE
    if not module.is_file():
        pytest.fail('%s does not exist: build the module first (make), or '
                    'set APWSGI_MODULE' % module, pytrace=False)
    mpm = mpm or support.MPM
    if processes is None:
        processes = support.PROCESSES if mpm == support.MPM else (
            3 if mpm == 'prefork' else 1)
    if threads is None:
        threads = 1 if mpm == 'prefork' else 25
    apache_env = dict(support.APACHE_ENV)
    apache_env.update(env or {})
    server = ApacheServer(str(module), config, mpm=mpm,
                          processes=processes, threads=threads,
                          root=root or _new_root(), env=apache_env,
                          modules=modules, log_level=log_level)
    _SERVERS.append(server)
    server.start()
    return server


def _stop(server):
    """Stop a server and check that no process of its group is left."""
    pgid = server.pid if server.running else None
    server.stop()
    if pgid is not None:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            pass
        else:
            os.killpg(pgid, signal.SIGKILL)
            raise AssertionError('processes of server %r outlived stop()'
                                 % server)


def _log_problems(srv, mark, allowed):
    """Crash lines and undeclared error-level tags in srv's log since mark."""
    window = LogWindow(srv, mark)
    problems = []
    crashes = window.crash_lines()
    if crashes:
        _KEEP.add(srv.root)
        problems.append('crash in %s (root kept):\n  %s' % (
            srv.error_log, '\n  '.join(crashes[:20])))
    unexpected = window.error_tags() - set(allowed)
    if unexpected:
        lines = [line for line in window.text().splitlines()
                 if any(tag in line for tag in unexpected)]
        problems.append('undeclared error tags %s in %s:\n  %s' % (
            sorted(unexpected), srv.error_log, '\n  '.join(lines[:20])))
    return problems


def _allowed_tags(request):
    marker = request.node.get_closest_marker('expect_log')
    return set(marker.args) if marker else set()


def _session_server(config_for_state):
    """Start a session-long server; after stop, check shutdown was clean."""
    root = _new_root()
    state = root / 'state'
    state.mkdir()
    state.chmod(0o1777)
    srv = _start(config_for_state(state), root=root)
    assert srv.state_dir == state
    yield srv
    mark = srv.log_mark()
    _stop(srv)
    _SERVERS.remove(srv)
    crashes = LogWindow(srv, mark).crash_lines()
    if not crashes and root not in _KEEP:
        support.remove_tree(root)
    assert not crashes, 'crash while stopping %r:\n%s' % (
        srv, '\n'.join(crashes))


@pytest.fixture(scope='session')
def server():
    def config(state):
        support.prepare_state(state)
        return support.session_config(state)
    yield from _session_server(config)


@pytest.fixture
def log(server):
    """LogWindow on the session server, opened when the test starts."""
    return LogWindow(server)


@pytest.fixture
def state(server):
    """The session server's state directory (mode 1777)."""
    return server.state_dir


@pytest.fixture
def url(server):
    """url('/path') -> absolute URL on the session server."""
    return server.url


@pytest.fixture
def http():
    """A requests.Session: one keep-alive connection, thus one child.

    Tests that must reach the same Apache process several times (state in
    an interpreter) use it; under prefork separate connections could land
    on different children and pass vacuously.
    """
    with support.Client() as session:
        yield session


@pytest.fixture
def make_server(request):
    """Factory: make_server(config, **kw) starts a server for this test.

    config may be a callable taking the state directory (for configs that
    must name it).  Keyword arguments: mpm, processes, threads, env,
    modules, module (another build of mod_apwsgi.so).  Every server is
    stopped at the end of the test, and its whole log (shutdown included)
    is checked like the session server's.
    """
    started = []

    def factory(config, **kw):
        root = _new_root()
        state = root / 'state'
        state.mkdir()
        state.chmod(0o1777)
        text = config(state) if callable(config) else config
        try:
            srv = _start(text, root=root, **kw)
        finally:
            # Checked here, not by check_error_log (which would run after
            # this fixture removed the root).
            if _SERVERS and _SERVERS[-1].root == root:
                started.append((_SERVERS.pop(), root))
        return srv
    yield factory
    problems = []
    for srv, root in started:
        _stop(srv)
        problems += _log_problems(srv, 0, _allowed_tags(request))
    for srv, root in started:
        if root not in _KEEP:
            support.remove_tree(root)
    if problems:
        pytest.fail('\n'.join(problems), pytrace=False)


@pytest.fixture(scope='session')
def vhost_server():
    """Two name-based virtual hosts on one port (default and other.test).

    - both: /vh/state -> state_app in interpreter 'shared'
    - other.test: <Location /> -> environ_app (SCRIPT_NAME '')
    """
    def config(state):
        loc = support.location
        return '\n'.join([
            'SetEnv APWSGI_TEST_STATE "%s"' % state,
            '<VirtualHost *:*>',
            '    ServerName 127.0.0.1',
            loc('/vh/state', 'state_app', interpreter='shared'),
            '</VirtualHost>',
            '<VirtualHost *:*>',
            '    ServerName other.test',
            loc('/', 'environ_app'),
            loc('/vh/state', 'state_app', interpreter='shared'),
            '</VirtualHost>',
        ])
    yield from _session_server(config)


@pytest.fixture(autouse=True)
def check_error_log(request):
    """Fail the test if any server's log shows a crash or an undeclared
    error-level APW tag written during the test."""
    marks = {id(srv): srv.log_mark() for srv in _SERVERS}
    yield
    problems = []
    for srv in list(_SERVERS):
        problems += _log_problems(srv, marks.get(id(srv), 0),
                                  _allowed_tags(request))
    if problems:
        pytest.fail('\n'.join(problems), pytrace=False)
