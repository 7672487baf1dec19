# SPDX-License-Identifier: Apache-2.0
"""Fixtures: real Apache servers with mod_apwsgi loaded, and the log check.

Every server comes from tests/harness.py, which also holds the log rule.

- ``server``: one Apache for the whole session (MPM from APWSGI_MPM)
  whose single config mounts every test app at its own Location
  (support.session_config).
- ``vhost_server``: a session server with two name-based virtual hosts.
- ``log``: a window on the session server's error log opened at the start
  of the test, so a test reads only the lines its own requests caused.
- ``state``, ``url``: the session server's state directory and URLs.
- ``http``: a requests.Session (one keep-alive connection).
- ``make_server``: factory for tests that need a server of their own (a
  different environment, MPM, module or config); stopped at the end of
  the test.
- autouse ``check_error_log``: after every test, fails it when the log
  of any server it used shows a crash (but the one the harness forgives)
  or an error-level APW tag the test did not declare with
  ``@pytest.mark.expect_log('APW00301', ...)``.
"""

import pytest

import harness
import support
from support import LogWindow


@pytest.fixture(scope='session')
def server():
    def config(state):
        support.prepare_state(state)
        return support.session_config(state)
    yield from harness.shared(config)


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
def make_server():
    """Factory: make_server(config, **kw) starts a server for this test.

    config may be a callable taking the state directory (for configs that
    must name it).  Keyword arguments: those of harness.create (module,
    mpm, processes, threads, env, modules, log_level, port).  Every
    server is stopped at the end of the test, and its whole log
    (shutdown included) is checked.
    """
    started = []

    def factory(config, **kw):
        srv = harness.start(config, **kw)
        started.append(srv)
        return srv
    yield factory
    for srv in started:
        srv.stop()


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
    yield from harness.shared(config)


@pytest.fixture(autouse=True)
def check_error_log(request):
    """Fail the test if the log of a server it used shows a crash or an
    undeclared error-level APW tag (the rule: tests/harness.py)."""
    marks = harness.test_started()
    yield
    marker = request.node.get_closest_marker('expect_log')
    problems = harness.test_ended(marks, set(marker.args) if marker
                                  else set())
    if problems:
        pytest.fail('\n'.join(problems), pytrace=False)
