# SPDX-License-Identifier: Apache-2.0
"""Python `logging` reaches Apache's error log at the matching level.

With no logging configuration in the application,
- logging.getLogger().error/warning/info/debug appear as [apwsgi:error],
  [apwsgi:warn], [apwsgi:info], [apwsgi:debug] (LogLevel debug here),
  once each, with the request's URI in the line;
- a named logger propagating to the root is logged the same way;
- Apache's LogLevel decides what is kept (a <Location> with LogLevel info
  drops the debug record);
- a logged traceback stays on consecutive lines of the module's own
  output, one entry, even with several requests logging tracebacks at
  the same time.
Both in the main interpreter and in a named one.  The server is this
module's own, at LogLevel debug; the app's records are error-level
APW00504 lines on purpose, 'lvl-done' an APW00503 one.

An application that configures no root handler gets the module's handler
on the root logger, at the level of Apache's LogLevel.
"""

import concurrent.futures
import json
import re

import pytest

import harness
import support

pytestmark = pytest.mark.expect_log('APW00503', 'APW00504')

MOUNTS = ['/loglevels', '/loglevels-named']
LEVELS = [('error', 'error'), ('warning', 'warn'), ('info', 'info'),
          ('debug', 'debug')]


@pytest.fixture(scope='module')
def server():
    loc = support.location
    config = '\n'.join([
        loc('/loglevels', 'loglevels_app'),
        loc('/loglevels-named', 'loglevels_app', interpreter='loglevels'),
        loc('/loglevels-info', 'loglevels_app', extra='LogLevel info'),
    ])
    yield from harness.shared(config, log_level='debug')


def emit(server, path, log):
    """GET path?token=T; wait for the app's 'lvl-done T' (stderr), after
    which all its records are in the log; -> (T, response body).

    The response is closed here: a Response kept alive keeps its
    keep-alive connection open, and under prefork that holds a child."""
    tok = support.token()
    with support.Client() as client:
        with client.get(server.url('%s?token=%s' % (path, tok))) as r:
            assert r.status_code == 200, r.text
            body = r.content
    log.wait('lvl-done %s' % tok)
    return tok, body


def level_of(line):
    match = re.search(r'\[apwsgi:(\w+)\]', line)
    return match.group(1) if match else None


@pytest.mark.parametrize('mount', MOUNTS)
def test_levels_and_uri(server, mount):
    log = support.LogWindow(server)
    tok, _ = emit(server, mount + '/emit', log)
    for python_level, apache_level in LEVELS:
        lines = log.lines('lvl-%s %s' % (python_level, tok))
        # Once: not also through stderr.
        assert len(lines) == 1, 'logging.%s():\n%s' % (
            python_level, '\n'.join(log.lines(tok)))
        assert level_of(lines[0]) == apache_level, lines[0]
        assert mount + '/emit' in lines[0], lines[0]


@pytest.mark.parametrize('mount', MOUNTS)
def test_named_logger_propagates(server, mount):
    log = support.LogWindow(server)
    tok, _ = emit(server, mount + '/child', log)
    line, = log.lines('child-warning %s' % tok)
    assert level_of(line) == 'warn', line
    assert mount + '/child' in line


def test_apache_loglevel_filters(server):
    log = support.LogWindow(server)
    tok, _ = emit(server, '/loglevels-info/emit', log)
    assert log.lines('lvl-error %s' % tok)
    assert log.lines('lvl-debug %s' % tok) == []


@pytest.mark.parametrize('mount', MOUNTS)
def test_traceback_is_one_block(server, mount):
    """Eight requests log tracebacks at once; each record's lines are
    consecutive among the module's lines of its process: message,
    'Traceback ...', frames, error.  (The module's lock is per process,
    and Apache's own lines, such as mod_authz_core's at LogLevel debug,
    are written without it: either may fall between them.)"""
    log = support.LogWindow(server)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: emit(server, mount + '/exc', log),
                                range(8)))
    tokens = {tok: json.loads(body)['lines'] for tok, body in results}
    ours = [line for line in log.text().splitlines() if '[apwsgi:' in line]
    for tok, count in tokens.items():
        first, = [line for line in ours if 'logged-exc %s' % tok in line]
        pid = support.log_pid(first)
        lines = [line for line in ours if support.log_pid(line) == pid]
        start = lines.index(first)
        block = lines[start:start + count]
        assert level_of(block[0]) == 'error', block[0]
        assert mount + '/exc' in block[0]
        assert block[1].rstrip().endswith(
            'Traceback (most recent call last):'), block
        assert block[-1].rstrip().endswith('ValueError: exc-%s' % tok), \
            '\n'.join(block)
        others = [t for t in tokens if t != tok]
        assert not [line for line in block
                    if any(t in line for t in others)], '\n'.join(block)
