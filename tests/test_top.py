# SPDX-License-Identifier: Apache-2.0
"""`apwsgi top`: the status handler's figures in a terminal.

`--once` runs as a script would run it, its frame parsed; the live
screen runs under tmux on a screen of a fixed size (a tmux server of the
test's own, on its own socket), typed at with send-keys and read with
capture-pane.  Servers: tests/status_support.py (ops_app, the status
handler at /status); the tests that count requests start one of their
own, so that nothing else reaches it.
"""

import base64
import hashlib
import re
import shlex
import shutil
import socket
import subprocess
import sys

import pytest
import requests

import harness
import status_support as ops
import support

TOP = [sys.executable, '-m', 'apwsgi', 'top']
USER, PASSWORD = 'watcher', 'pa55-word-secret'
MORE = [
    support.location('/odd', 'top_app'),
    '<Location /status-denied>',
    '    SetHandler apwsgi-status',
    '    Require all denied',
    '</Location>',
]
LOGIN_MODULES = ('auth_basic', 'authn_core', 'authn_file', 'authz_user')


def login_config(state):
    """The status handler at /status-login, behind a Basic login whose
    password file lives in the state directory."""
    digest = base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest())
    support.write_world_readable(state / 'status.passwd', '%s:{SHA}%s\n' % (
        USER, digest.decode()))
    return '\n'.join([
        '<Location /status-login>',
        '    SetHandler apwsgi-status',
        '    AuthType Basic',
        '    AuthName "apwsgi status"',
        '    AuthUserFile "%s"' % (state / 'status.passwd'),
        '    Require valid-user',
        '</Location>'])


@pytest.fixture(scope='module')
def shared():
    """One server for the tests that count nothing."""
    def config(state):
        return ops.ops_config(*MORE, login_config(state))(state)
    yield from harness.shared(config, modules=LOGIN_MODULES)


def once(url, *args, timeout=60):
    """`apwsgi top --once --url URL ARGS`; -> CompletedProcess."""
    return subprocess.run(TOP + ['--once', '--url', url, *args],
                          env=support.tooling_env(), capture_output=True,
                          text=True, timeout=timeout, cwd='/')


# ---- the frame of --once, parsed ----

SECTION_RE = re.compile(r'^([A-Z][A-Z ]+) \((\d+)\)', re.M)


def parse_frame(text):
    """{'title', 'totals': {label: text}, section name: {'count', 'rows':
    [{column: value}]}} of a frame.  A request's 'where' is the line
    under it (its innermost Python frame), if any."""
    blocks = text.rstrip('\n').split('\n\n')
    head = blocks[0].splitlines()
    frame = {'title': head[0], 'totals': {}}
    for line in head[1:]:
        label, _, value = line.partition(':')
        frame['totals'][label] = value.strip()
    for block in blocks[1:]:
        lines = block.splitlines()
        match = SECTION_RE.match(lines[0])
        assert match, lines[0]
        columns = lines[1].split()
        rows = []
        for line in lines[2:]:
            if line == 'none':
                continue
            if line.startswith(' ') and line.strip().startswith('at '):
                rows[-1]['where'] = line.strip()
                continue
            rows.append(dict(zip(columns,
                                 line.split(None, len(columns) - 1),
                                 strict=True)))
        frame[match.group(1)] = {'count': int(match.group(2)),
                                 'rows': rows}
    return frame


@pytest.mark.expect_log('APW00301')     # /ops/raise's traceback
def test_once_prints_the_known_counts(make_server):
    """13 requests over connections of their own (spread over the
    children under prefork): the totals, the interpreters' rows and the
    processes' rows add up exactly."""
    srv = make_server(ops.ops_config())
    for _ in range(7):
        assert ops.get(srv, '/ops/hello').status_code == 200
    for _ in range(3):
        assert ops.get(srv, '/named/hello').status_code == 200
    assert ops.get(srv, '/ops/raise').status_code == 500
    for _ in range(2):
        assert ops.get(srv, '/ops/status?s=404').status_code == 404
    out = once(srv.url('/status'))
    assert (out.returncode, out.stderr) == (0, ''), out
    frame = parse_frame(out.stdout)
    doc = ops.status_json(srv)
    assert re.fullmatch(
        r'apwsgi top - %s - \d\d:\d\d:\d\d up 0:\d\d:\d\d - %s MPM, '
        r'Python %s' % (re.escape(srv.url('/status')), support.MPM,
                        re.escape(doc['server']['python'])),
        frame['title']), frame['title']
    totals = frame['totals']
    # The rate of the server's last 5 s step, none before the first.
    assert re.fullmatch(r'13 total: 2xx 10, 3xx 0, 4xx 2, 5xx 1; '
                        r'(\d+\.\d/s \(last 5 s\)|-/s)', totals['Requests'])
    assert re.fullmatch(r'p50 \S+, p99 \S+, mean \S+ \(since start\)',
                        totals['Latency'])
    threads = support.PROCESSES * support.THREADS
    assert totals['In flight'] == (
        '0; workers 0 busy, %d available of %d; %d process%s' % (
            threads, threads, support.PROCESSES,
            '' if support.PROCESSES == 1 else 'es'))
    assert totals['Errors'] == '1 exception, 0 timeouts'
    assert totals['Bytes'] == 'in 0B, out %dB' % (5 * 10 + 6 * 2)
    assert frame['REQUESTS IN FLIGHT'] == {'count': 0, 'rows': []}
    interps = {row['NAME']: row for row in frame['INTERPRETERS']['rows']}
    assert set(interps) == {'(main)', 'n'}
    assert (interps['(main)']['REQUESTS'], interps['(main)']['5XX'],
            interps['(main)']['EXC']) == ('10', '1', '1')
    assert (interps['n']['REQUESTS'], interps['n']['5XX']) == ('3', '0')
    assert interps['(main)']['REQ/S'] == '-'    # one read: no rate yet
    procs = frame['PROCESSES']['rows']
    assert [int(p['PID']) for p in procs] == sorted(
        p['pid'] for p in doc['processes'])
    assert sum(int(p['REQUESTS']) for p in procs) == 13
    assert {p['BUSY'] for p in procs} == {'0/%d' % support.THREADS}


def test_once_shows_a_held_request_with_its_stack(make_server):
    srv = make_server(ops.ops_config(slow_request=1))
    with ops.HeldRequest(srv, '/ops/spin/once-top', 'once') as held:
        support.wait_for(lambda: any(q['stack'] for q in
                                     ops.status_json(srv)['requests']),
                         15, 'the stack of the held request')
        out = once(srv.url('/status'))
        assert out.returncode == 0, out
        frame = parse_frame(out.stdout)
        doc = ops.status_json(srv)
        assert held.release().text == 'released'
    [req] = doc['requests']
    assert frame['REQUESTS IN FLIGHT']['count'] == 1
    [row] = frame['REQUESTS IN FLIGHT']['rows']
    assert (row['METHOD'], row['PID'], row['THREAD'], row['INTERPRETER'],
            row['PATH']) == ('GET', str(req['pid']), str(req['thread']),
                             '(main)', '/ops/spin/once-top')
    assert re.fullmatch(r'\d+\.\ds', row['AGE'])
    assert re.fullmatch(r'at ops_app\.py:\d+ in spin_until_released',
                        row['where']), row
    assert frame['totals']['In flight'].startswith('1; workers 1 busy, ')


def test_once_into_a_closed_pipe(shared):
    """A reader that has gone (true, head -1): no traceback, status 0."""
    out = subprocess.run(
        ['bash', '-o', 'pipefail', '-c', '%s | true' % shlex.join(
            TOP + ['--once', '--url', shared.url('/status')])],
        env=support.tooling_env(), capture_output=True, text=True,
        timeout=60, cwd='/')
    assert (out.returncode, out.stdout, out.stderr) == (0, '', '')


# ---- what --once says when the handler cannot be read ----

REFUSALS = {
    '/status-denied': "answered 403 Forbidden: the location's Require "
                      'lines do not allow this client: allow its address '
                      'there (Require ip ...)',
    '/status-login': 'answered 401 Unauthorized: the location asks for a '
                     'login: give it in the URL '
                     '(http://USER:PASSWORD@HOST/...)',
    '/nothing-here': 'answered 404 Not Found: nothing is there: use the '
                     'path of the <Location> that has SetHandler '
                     'apwsgi-status',
    '/odd/post-only': 'answered 405 Method Not Allowed: GET is not '
                      'allowed there: that is not an apwsgi status '
                      'handler',
    '/odd/page': 'answered text/html, not JSON: that is not an apwsgi '
                 'status handler',
    '/odd/broken-json': 'answered a body that is not valid JSON '
                        '(Unterminated string starting at: line 1 '
                        'column 12 (char 11))',
    '/odd/no-schema': 'answered a JSON document of no schema; this apwsgi '
                      "reads 'apwsgi-status/1': use the apwsgi of that "
                      "server's version",
    '/odd/schema?s=apwsgi-status/1':
        "answered a JSON document of schema 'apwsgi-status/1' that lacks "
        'time, server, totals, interpreters, processes, requests, '
        'requests_unlisted, series',
    '/odd/schema?s=apwsgi-status/2':
        "answered a JSON document of schema 'apwsgi-status/2'; this "
        "apwsgi reads 'apwsgi-status/1': use the apwsgi of that server's "
        'version',
}


@pytest.mark.parametrize('path', list(REFUSALS))
def test_once_says_why_the_handler_refused(shared, path):
    out = once(shared.url(path))
    asked = shared.url(path) + ('&json' if '?' in path else '?json')
    assert (out.returncode, out.stdout) == (1, ''), out
    assert out.stderr == 'apwsgi top: %s %s\n' % (asked, REFUSALS[path])


def test_once_logs_in_with_the_url_and_never_shows_the_password(shared):
    url = shared.url('/status-login').replace(
        'http://', 'http://%s:%s@' % (USER, PASSWORD))
    out = once(url)
    assert (out.returncode, out.stderr) == (0, ''), out
    assert parse_frame(out.stdout)['title'].startswith(
        'apwsgi top - %s - ' % shared.url('/status-login'))
    assert PASSWORD not in out.stdout and USER not in out.stdout
    wrong = once(url.replace(PASSWORD, 'wrong'))
    assert wrong.returncode == 1 and PASSWORD not in wrong.stderr
    assert 'answered 401 Unauthorized' in wrong.stderr


def test_once_connection_refused():
    port = support.free_port()
    out = once('http://127.0.0.1:%d/status' % port)
    assert (out.returncode, out.stdout) == (1, '')
    assert out.stderr == (
        'apwsgi top: cannot connect to 127.0.0.1:%d: connection refused '
        '(is Apache running, and listening on that port?)\n' % port)


def test_once_gives_up_on_a_server_that_never_answers():
    """A socket that listens and never accepts: the connection is made
    (the kernel completes it), no answer comes."""
    with socket.socket() as silent:
        silent.bind(('127.0.0.1', 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        out = once('http://127.0.0.1:%d/status' % port, '--timeout', '0.5')
    assert (out.returncode, out.stdout) == (1, '')
    assert out.stderr == ('apwsgi top: no answer from 127.0.0.1:%d within '
                          '0.5 s\n' % port)


def test_once_host_name_that_does_not_resolve():
    """Run in a network namespace of its own, with no interface up: the
    resolver's query cannot leave the machine, and fails at once."""
    if not shutil.which('unshare') or subprocess.run(
            ['unshare', '--net', 'true'], capture_output=True).returncode:
        pytest.skip('needs unshare --net (util-linux, and root)')
    out = subprocess.run(
        ['unshare', '--net'] + TOP + ['--once', '--url',
                                      'http://status.apwsgi.invalid/s'],
        env=support.tooling_env(), capture_output=True, text=True,
        timeout=60, cwd='/')
    assert (out.returncode, out.stdout) == (1, ''), out
    assert re.fullmatch(r"apwsgi top: cannot resolve the host name "
                        r"'status\.apwsgi\.invalid': .+\n", out.stderr)


@pytest.mark.parametrize('args, message', [
    (['--url', 'ftp://127.0.0.1/status'],
     "apwsgi top: --url: 'ftp://127.0.0.1/status' is not an http:// or "
     'https:// URL\n'),
    (['--url', 'http://127.0.0.1:99999/status'],
     "apwsgi top: --url: 'http://127.0.0.1:99999/status' has an invalid "
     'port\n'),
])
def test_bad_url(args, message):
    out = subprocess.run(TOP + ['--once'] + args, env=support.tooling_env(),
                         capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (2, '', message)


def test_the_screen_needs_a_terminal():
    out = subprocess.run(TOP + ['--url', 'http://127.0.0.1:1/s'],
                         env=support.tooling_env(), capture_output=True,
                         text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (out.returncode, out.stdout) == (2, '')
    assert out.stderr == ('apwsgi top: not a terminal: use --once to print '
                          'one frame\n')


# ---- the live screen, under tmux ----

class Terminal:
    """tmux showing `apwsgi top ARGS` on a WIDTH x HEIGHT screen.

    The tmux server is the test's own (its own socket, no config file).
    The shell that runs top writes its exit status to a file (tmux 3.3
    may leave an exited pane's process unreaped, its status unknown).
    """

    def __init__(self, *args, width=120, height=40):
        if not shutil.which('tmux'):
            pytest.skip('tmux is not installed (apt-get install tmux)')
        self.dir = support.scratch_dir('apwsgi-tmux-')
        self.socket = self.dir / 'tmux.sock'
        command = ['env', 'TERM=screen', 'LANG=C.UTF-8'] + TOP + [
            '--interval', '0.3', *args]
        self.status = self.dir / 'status'
        self.tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'top',
                  '-x', str(width), '-y', str(height),
                  '%s; echo $? >%s' % (shlex.join(command),
                                      shlex.quote(str(self.status))))
        self.last = ''

    def tmux(self, *args):
        # The tmux server passes its environment on to top: without
        # the runner's LINES and COLUMNS, which curses would believe
        # before the pane's size.
        env = {key: value for key, value in support.tooling_env().items()
               if key not in ('LINES', 'COLUMNS')}
        out = subprocess.run(['tmux', '-S', str(self.socket), *args],
                             capture_output=True, text=True, timeout=30,
                             env=env)
        assert out.returncode == 0, (args, out.stderr)
        return out.stdout

    def screen(self):
        self.last = self.tmux('capture-pane', '-p', '-t', 'top')
        return self.last

    def wait(self, pattern, timeout=20):
        """Wait until the screen matches the regex; -> the match."""
        regex = re.compile(pattern, re.M)
        try:
            return support.wait_for(lambda: regex.search(self.screen()),
                                    timeout, 'the screen to show %r'
                                    % pattern)
        except AssertionError as exc:
            raise AssertionError('%s; the screen:\n%s' % (exc, self.last)) \
                from None

    def wait_text(self, text, timeout=20):
        """Wait until the screen shows `text`, which may be wrapped
        over several lines (runs of white space count as one)."""
        text = ' '.join(text.split())
        try:
            return support.wait_for(
                lambda: text in ' '.join(self.screen().split()), timeout,
                'the screen to show %r' % text)
        except AssertionError as exc:
            raise AssertionError('%s; the screen:\n%s' % (exc, self.last)) \
                from None

    def keys(self, *keys):
        self.tmux('send-keys', '-t', 'top', *keys)

    def resize(self, width, height):
        self.tmux('resize-window', '-t', 'top', '-x', str(width),
                  '-y', str(height))

    def exit_status(self):
        """top's exit status once it has exited, else None."""
        try:
            return int(self.status.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def wait_exit(self, timeout=20):
        """Wait until top has exited; -> its exit status."""
        support.wait_file(self.status, timeout, contains='\n')
        return self.exit_status()

    def close(self):
        subprocess.run(['tmux', '-S', str(self.socket), 'kill-server'],
                       capture_output=True, timeout=30)
        support.remove_tree(self.dir)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_screen_counts_requests_shows_a_held_one_and_quits(make_server):
    """The frame counts the requests made while it runs; a held request
    appears with its path (a control character in it shown escaped), pid,
    thread and innermost frame, and goes when it ends; q quits with
    status 0."""
    srv = make_server(ops.ops_config(slow_request=1))
    with Terminal('--url', srv.url('/status')) as term:
        term.wait(r'^Requests:  0 total: 2xx 0, 3xx 0, 4xx 0, 5xx 0; ')
        term.wait(r'^REQUESTS IN FLIGHT \(0\), oldest first$')
        for _ in range(5):
            ops.get(srv, '/ops/hello')
        ops.get(srv, '/named/status?s=503')
        term.wait(r'^Requests:  6 total: 2xx 5, 3xx 0, 4xx 0, 5xx 1; ')
        path = '/ops/spin/top-\x1b[31mred'
        with ops.HeldRequest(srv, requests.utils.quote(path), 'scr') as held:
            match = term.wait(
                r'^ *(\d+\.\ds) GET +(\d+) +(\d+) \(main\) +'
                r'/ops/spin/top-\\x1b\[31mred$\n +at ops_app\.py:\d+ in '
                r'spin_until_released$')
            [req] = ops.status_json(srv)['requests']
            assert (int(match.group(2)), int(match.group(3))) == (
                req['pid'], req['thread'])
            assert '\x1b' not in term.last
            screen = term.wait(r'^In flight: 1; workers 1 busy, ').string
            assert 'REQUESTS IN FLIGHT (1), oldest first' in screen
            assert held.release().text == 'released'
        term.wait(r'^REQUESTS IN FLIGHT \(0\), oldest first$')
        term.wait(r'^Requests:  7 total: 2xx 6, 3xx 0, 4xx 0, 5xx 1; ')
        term.keys('q')
        assert term.wait_exit() == 0


def sections(screen):
    """The titles of the sections on a screen, top down."""
    return [match.group(1) for match in
            SECTION_RE.finditer(screen) if match]


def test_screen_panels_and_resizes(shared):
    """r, i, p show one panel, a all of them; the screen follows the
    terminal's size, a tiny one included, and comes back whole."""
    with Terminal('--url', shared.url('/status'), width=100,
                  height=40) as term:
        term.wait(r'^q quit  a all  r requests  i interpreters  '
                  r'p processes')
        for key, shown in (('p', 'PROCESSES'), ('i', 'INTERPRETERS'),
                           ('r', 'REQUESTS IN FLIGHT')):
            term.keys(key)
            support.wait_for(
                lambda shown=shown: sections(term.screen()) == [shown],
                10, 'only %s on the screen' % shown)
        term.keys('a')
        support.wait_for(lambda: sections(term.screen()) == [
            'REQUESTS IN FLIGHT', 'INTERPRETERS', 'PROCESSES'], 10,
            'all the panels on the screen')
        term.resize(60, 16)
        screen = term.wait(r'^q quit  a all  r requests  i interpreters  '
                           r'p processes$').string
        lines = screen.rstrip('\n').split('\n')
        assert len(lines) == 16 and lines[0].startswith('apwsgi top - ')
        assert max(len(line) for line in lines) <= 60
        assert 'Requests:  ' in screen and 'PROCESSES (' in screen
        term.resize(12, 3)
        term.wait(r'\Aapwsgi top -\n\n?q quit  a a')
        term.resize(100, 40)
        term.wait(r'^PROCESSES \(\d+\)')
        term.wait(r'^Interps:   ')
        assert term.exit_status() is None
        term.keys('q')
        assert term.wait_exit() == 0


def test_screen_retries_until_the_server_answers(make_server):
    """Nothing listens yet: the error line says so and the reads go on;
    once a server starts on that port the frame replaces the error."""
    port = support.free_port()
    with Terminal('--url', 'http://127.0.0.1:%d/status' % port) as term:
        term.wait_text('cannot connect to 127.0.0.1:%d: connection refused '
                       '(is Apache running, and listening on that port?); '
                       'retrying every 0.3 s' % port)
        assert term.exit_status() is None
        srv = make_server(ops.ops_config(), port=port)
        ops.get(srv, '/ops/hello')
        screen = term.wait(r'^Requests:  1 total: 2xx 1, ').string
        assert 'connection refused' not in screen
        term.keys('q')
        assert term.wait_exit() == 0


def test_screen_says_the_handler_refused(shared):
    with Terminal('--url', shared.url('/status-denied')) as term:
        # The message is wrapped to the screen's width, and whole.
        term.wait_text(
            'apwsgi top - %s %s answered 403 Forbidden: the location\'s '
            'Require lines do not allow this client: allow its address '
            'there (Require ip ...); retrying every 0.3 s' % (
                shared.url('/status-denied'),
                shared.url('/status-denied?json')))
        assert term.exit_status() is None
        term.keys('q')
        assert term.wait_exit() == 0
