# SPDX-License-Identifier: Apache-2.0
"""The life of every Apache server the tests start, and the check of its
error log.

There is one lifecycle, whoever starts the server:

- ``Server``: an ApacheServer (python/apwsgi/apache.py) that notes what
  the log check needs each time it is stopped (``StopRecord``) and what
  went wrong in a stop (a parent that would not exit, processes that
  outlived it).
- ``start(config, **kw)``: a Server with the suite's defaults (the
  module under test, APWSGI_MPM), checked after the current test and
  then removed.  conftest's ``make_server`` fixture and ``running()``
  (a with-block) use it.
- ``shared(config, **kw)``: a generator for fixtures of module or
  session scope; the part of its log each test wrote is checked after
  that test, its shutdown when the fixture ends.
- ``Launcher``: ``apwsgi serve`` in a subprocess, given a
  ``--server-root`` so that its log stays for the check (or, to test
  the temporary root, checked in the copy the launcher prints).
- ``adopt(*sources, root=...)``: servers built elsewhere (the scale-out
  example's Cluster, with ``server_class = Server``) or the logs of
  servers another process ran (``LogFile``), checked after the test.
- conftest's autouse fixture calls ``test_started()`` and
  ``test_ended()``.  Tests start servers only through the harness.

The log rule.  A server's log must hold no crash line (``CRASH_RE``)
and no error-level ``APWnnnnn`` tag that the test did not declare with
``@pytest.mark.expect_log``.  One crash is forgiven: Apache 2.4's event
MPM (Debian 12) segfaults a child now and then when it is stopped, with
no apwsgi loaded at all (1 in 400 start/request/stop cycles measured;
in apr_os_sock_get, called from mod_mpm_event; no Python frame).  Its
cores show the child's main thread closing the sockets of the workers
(close_worker_sockets) while a worker that has just finished with its
connection unmaps that connection's memory: the stop has to come while
a worker still holds a connection, as when a client has just closed a
keep-alive one.  So every stop first lets Apache close the connections
whose clients closed them (``settle_closed``, bounded), and the crash
stays rare.  A "child pid P exit signal Segmentation fault" line is
taken for that crash only when all of these hold:

- the server runs the event MPM;
- the line was written after a stop began (the log offset noted when
  SIGTERM was sent) and before the next start;
- child P was alive, and not exiting, when the stop began.  A child that
  crashed during a request is dead or dying by then: its client has seen
  the connection drop, and the kernel closes a process's sockets only
  as the process exits;
- no client was connected when the stop began, so no request was in
  flight that the stop could cut short: every request was answered.

Every other crash line fails the test, under every MPM, and the root of
that server is kept for a look (APWSGI_KEEP_ROOTS=1 keeps every root).
test_log_check.py shows the rule on real servers.
"""

import contextlib
import dataclasses
import os
import pathlib
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import support
from apwsgi.apache import ApacheServer, live_pids, proc_stats

CRASH_RE = re.compile(r'exit signal|Segmentation fault|Fatal Python error'
                      r'|AddressSanitizer|UndefinedBehaviorSanitizer')
STOP_CRASH_RE = re.compile(r'AH00052: child pid (\d+) exit signal '
                           r'Segmentation fault \(11\)')
DEATH_RE = re.compile(r'child pid (\d+) exit signal')
PF_EXITING = 0x4    # <linux/sched.h>: the task is exiting
# Server-side TCP states of a connection a client still holds, as
# /proc/net/tcp writes them: ESTABLISHED, SYN_RECV, CLOSE_WAIT.
CONNECTED_STATES = {'01', '03', '08'}
CLOSE_WAIT = '08'
SETTLE_TIMEOUT = 2   # seconds for Apache to close what clients closed
KEEP_ROOTS = bool(os.environ.get('APWSGI_KEEP_ROOTS'))
STOP_TIMEOUT = 30   # seconds for a launcher to stop Apache and exit


# ---- what a stop leaves for the log check ----

def process_table(ppid):
    """{pid: well} for the children of ppid: well when the process is
    alive and not exiting (read from /proc: state, flags)."""
    table = {}
    for pid, fields in proc_stats():
        if int(fields[1]) != ppid:
            continue
        table[pid] = (fields[0] not in 'ZXx'
                      and not int(fields[6]) & PF_EXITING)
    return table


def tcp_states(port):
    """The server-side states of the connections to local TCP port
    `port`, as /proc/net/tcp{,6} writes them (two hex digits each)."""
    states = []
    for name in ('tcp', 'tcp6'):
        try:
            with open('/proc/net/' + name) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if int(fields[1].rsplit(':', 1)[1], 16) == port:
                states.append(fields[3])
    return states


def connected_clients(port):
    """Connections to local TCP port `port` that a client still holds
    (or that wait in the listen queue), from /proc/net/tcp{,6}."""
    return sum(state in CONNECTED_STATES for state in tcp_states(port))


def settle_closed(port):
    """Wait (bounded) until Apache has closed every connection to `port`
    whose client closed its end (CLOSE_WAIT): a client that has just
    closed its keep-alive connection leaves an event-MPM worker closing
    it, and a stop in that moment is what Apache's own stop-time crash
    needs.  Connections a client still holds are left alone."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while CLOSE_WAIT in tcp_states(port) and time.monotonic() < deadline:
        time.sleep(0.005)


@dataclasses.dataclass
class StopRecord:
    """Where a server stood when a stop began (see the log rule)."""
    mark: int           # log offset when the stop signal was sent
    well: frozenset     # children alive and not exiting then
    clients: int        # connections a client held then

    @classmethod
    def take(cls, parent, port, mark):
        table = process_table(parent)
        return cls(mark, frozenset(p for p, ok in table.items() if ok),
                   connected_clients(port))


def read_log(path, since=0):
    """The bytes of the file at path from offset since (b'' if none)."""
    try:
        with open(path, 'rb') as f:
            f.seek(since)
            return f.read()
    except FileNotFoundError:
        return b''


class LogFile:
    """The error log of a server some other process ran (an example's
    script, a tool): checked with the stops noted by note_stop(), if any.
    """

    def __init__(self, path, mpm):
        self.error_log = pathlib.Path(path)
        self.mpm = mpm
        self.stops = []
        self.starts = [0]
        self.killed = set()
        self.trouble = []

    def note_stop(self, parent, port):
        """A stop of that server (its parent's pid, its port) begins."""
        settle_closed(port)
        self.stops.append(StopRecord.take(parent, port,
                                          len(self.log_bytes())))

    def stop_for_check(self):
        pass

    def log_bytes(self, since=0):
        return read_log(self.error_log, since)


class Server(ApacheServer):
    """An ApacheServer whose stops are recorded for the log check.

    ``stops``: a StopRecord per stop; ``starts``: the log offset of each
    start; ``killed``: pids the test killed on purpose (their deaths are
    no crash); ``trouble``: what went wrong while stopping.
    """

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.stops = []
        self.starts = []
        self.killed = set()
        self.trouble = []

    def start(self):
        if not self.running:
            self.starts.append(self.log_mark())
        return super().start()

    def stop(self):
        """SIGTERM; the parent must exit within the timeout and leave no
        process of its group behind (noted in ``trouble``)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            settle_closed(self.port)
            self.stops.append(StopRecord.take(proc.pid, self.port,
                                              self.log_mark()))
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(self.timeout)
            except subprocess.TimeoutExpired:
                self.trouble.append('httpd pid %d did not exit within %ss '
                                    'of SIGTERM' % (proc.pid, self.timeout))
            left = live_pids(pgid=proc.pid)
            if left:
                self.trouble.append('processes %s of %r outlived its '
                                    'parent' % (left, self))
        super().stop()

    def log_bytes(self, since=0):
        return read_log(self.error_log, since)

    def stop_for_check(self):
        self.stop()

    def kill_child(self, pid, signum=signal.SIGKILL):
        """Kill one child on purpose: its death is no crash."""
        self.killed.add(pid)
        os.kill(pid, signum)


# ---- the log check ----

def _lines(data, base):
    """(absolute offset, text) of each line of data read from base."""
    offset = base
    for raw in data.splitlines(keepends=True):
        yield offset, raw.decode('utf-8', errors='replace').rstrip('\n')
        offset += len(raw)


def _forgiven(offset, line, source):
    match = STOP_CRASH_RE.search(line)
    if not match or source.mpm != 'event':
        return False
    pid = int(match.group(1))
    for stop in source.stops:
        end = min((s for s in source.starts if s > stop.mark),
                  default=float('inf'))
        if stop.mark <= offset < end and pid in stop.well and \
                not stop.clients:
            return True
    return False


def crash_lines(source, since=0):
    """The crash lines of source's log after offset `since` that the log
    rule does not forgive.  source: a Server or a Launcher."""
    crashes = []
    for offset, line in _lines(source.log_bytes(since), since):
        if not CRASH_RE.search(line):
            continue
        death = DEATH_RE.search(line)
        if death and int(death.group(1)) in source.killed:
            continue
        if _forgiven(offset, line, source):
            print('warning: forgiven, Apache event-MPM stop crash: ' + line,
                  file=sys.stderr)
            continue
        crashes.append(line)
    return crashes


def log_problems(source, since=0, allowed=()):
    """What the log rule finds in source's log after offset `since`, and
    the trouble of its stops: a list of messages, empty when clean."""
    problems = list(source.trouble)
    crashes = crash_lines(source, since)
    if crashes:
        problems.append('crash in %s:\n  %s' % (
            source.error_log, '\n  '.join(crashes[:20])))
    text = source.log_bytes(since).decode('utf-8', errors='replace')
    unexpected = set()
    for line in text.splitlines():
        tag = support.TAG_RE.search(line)
        if tag and support.LEVEL_RE.search(line) and \
                tag.group(1) not in allowed:
            unexpected.add(tag.group(1))
    if unexpected:
        lines = [line for line in text.splitlines()
                 if any(tag in line for tag in unexpected)]
        problems.append('undeclared error tags %s in %s:\n  %s' % (
            sorted(unexpected), source.error_log, '\n  '.join(lines[:20])))
    return problems


# ---- servers ----

def create(config, *, module=None, mpm=None, processes=None, threads=None,
           env=None, modules=(), log_level='info', port=None, root=None):
    """A Server (not started) with the suite's defaults.

    config: the directives, or a callable taking the state directory
    (root/state, mode 1777) and returning them.  module: the .so to load
    (default: the one under test).  The processes and threads of the
    run's MPM are the suite's (support.PROCESSES); another MPM gets 3
    processes (prefork) or 1 with 25 threads.
    """
    module = module or support.MODULE
    if not pathlib.Path(module).is_file():
        raise RuntimeError('%s does not exist: build the module first '
                           '(make), or set APWSGI_MODULE' % module)
    mpm = mpm or support.MPM
    if processes is None:
        processes = support.PROCESSES if mpm == support.MPM else (
            3 if mpm == 'prefork' else 1)
    if threads is None:
        threads = 1 if mpm == 'prefork' else 25
    root = pathlib.Path(root) if root else support.scratch_dir()
    state = root / 'state'
    state.mkdir(exist_ok=True)
    state.chmod(0o1777)
    text = config(state) if callable(config) else config
    apache_env = dict(support.APACHE_ENV)
    apache_env.update(env or {})
    return Server(str(module), text, mpm=mpm, processes=processes,
                  threads=threads, root=root, env=apache_env,
                  modules=modules, log_level=log_level, port=port)


# Servers that outlive a test (module or session fixtures): the part of
# their log each test wrote is checked after it.
_shared = []
# (sources, directory) for each server, launcher or group of them that
# the current test started: after the test each source is stopped if it
# still runs and its whole log checked; then the directory is removed.
_this_test = []


def adopt(*sources, root):
    """Check these sources (Servers, Launchers, LogFiles) after the
    current test; then remove root, their common directory."""
    _this_test.append((sources, root))


def start(config, **kw):
    """create() and start a Server, to be checked after the current test
    (stopped first if the test left it running)."""
    srv = create(config, **kw)
    adopt(srv, root=srv.root)
    srv.start()
    return srv


@contextlib.contextmanager
def running(config, **kw):
    """start() for a with-block; stopped at its end, checked after the
    test."""
    srv = start(config, **kw)
    try:
        yield srv
    finally:
        srv.stop()


def shared(config, **kw):
    """For a fixture of module or session scope: ``yield from
    harness.shared(config)``.  Each test's part of the log is checked
    after that test; the shutdown when the fixture ends."""
    srv = create(config, **kw)
    srv.start()
    _shared.append(srv)
    try:
        yield srv
    finally:
        _shared.remove(srv)
        mark = srv.log_mark()
        srv.stop()
    problems = log_problems(srv, mark)
    _remove(srv.root, problems)
    assert not problems, 'while stopping %r:\n%s' % (srv,
                                                     '\n'.join(problems))


def _remove(root, problems):
    if root is not None and not problems and not KEEP_ROOTS:
        shutil.rmtree(root, ignore_errors=True)


def test_started():
    """Called before each test: the log offsets of the shared servers."""
    _this_test.clear()
    return {id(srv): srv.log_mark() for srv in _shared}


def test_ended(marks, allowed):
    """Called after each test: stop what it left running, check every
    log it wrote to; -> problems (removes the roots of clean servers)."""
    problems = []
    for srv in list(_shared):
        problems += log_problems(srv, marks.get(id(srv), 0), allowed)
    for sources, root in _this_test:
        found = []
        for source in sources:
            source.stop_for_check()
            found += log_problems(source, 0, allowed)
        _remove(root() if callable(root) else root, found)
        problems += found
    _this_test.clear()
    return problems


# ---- `apwsgi serve` in a subprocess ----

SERVING_RE = re.compile(r'apwsgi: serving .* on http://[^/]*:(\d+)/ +'
                        r'\(Apache pid (\d+), ServerRoot (\S+)\)')
STARTING_RE = re.compile(r'apwsgi: starting Apache \((\w+) MPM')


def pid_alive(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            state = f.read().rsplit(')', 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != 'Z'


def wait_gone(pid, timeout=20):
    support.wait_for(lambda: not pid_alive(pid), timeout,
                     'process %d to exit' % pid)


def group_pids(pgid):
    """Live (non-zombie) pids of process group pgid, from /proc."""
    return live_pids(pgid=pgid)


class Launcher:
    """`python -m apwsgi serve ARGS` in a subprocess, its output collected
    line by line (stdout and stderr together).

    The launcher is given ``--server-root`` (a new directory, unless
    args name one), so the Apache it starts keeps its log for the
    after-test check, which also removes that directory.  With
    temporary_root=True it gets none (as a person would run it; the
    launcher removes its root at exit), and the check reads the copy of
    the log the launcher printed.
    """

    def __init__(self, args, *, python=None, cwd=None, env=None,
                 temporary_root=False):
        args = [str(arg) for arg in args]
        if '--server-root' in args:
            self.server_root = pathlib.Path(
                args[args.index('--server-root') + 1])
        elif temporary_root:
            self.server_root = None
        else:
            self.server_root = support.scratch_dir('apwsgi-serve-')
            args = ['--server-root', str(self.server_root)] + args
        self.args = [str(python or sys.executable), '-m', 'apwsgi', 'serve',
                     *args]
        self.lines = []
        self.apache_pid = None
        self.root = None
        self.port = None
        self.mpm = None
        self.stops = []
        self.starts = [0]
        self.killed = set()
        self.trouble = []
        adopt(self, root=lambda: self.server_root or self.root)
        self.proc = subprocess.Popen(
            self.args, cwd=cwd, env=env or support.tooling_env(),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, errors='replace')
        self._queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip('\n')
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def output(self):
        return '\n'.join(self.lines)

    def wait_line(self, pattern, timeout=30):
        """Wait for an output line matching pattern; -> the match."""
        regex = re.compile(pattern)
        for line in self.lines:
            match = regex.search(line)
            if match:
                return match
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            match = regex.search(line)
            if match:
                return match
        raise AssertionError('no line matching %r within %ss; output:\n%s'
                             % (pattern, timeout, self.output()))

    def wait_serving(self, timeout=40):
        match = self.wait_line(SERVING_RE.pattern, timeout)
        self.port = int(match.group(1))
        self.apache_pid = int(match.group(2))
        self.root = pathlib.Path(match.group(3))
        self.mpm = STARTING_RE.search(self.output()).group(1)
        return self

    def url(self, port, path='/'):
        return 'http://127.0.0.1:%d%s' % (port, path)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError('launcher still running after %ss:\n%s'
                                 % (timeout, self.output())) from None

    def _note_stop(self):
        if self.apache_pid and pid_alive(self.apache_pid) and \
                self.proc.poll() is None:
            settle_closed(self.port)
            self.stops.append(StopRecord.take(
                self.apache_pid, self.port, len(self._log_text())))

    def stop(self, signum=signal.SIGINT):
        """Send signum and wait for the launcher to exit; -> status."""
        if self.proc.poll() is None:
            self._note_stop()
            self.proc.send_signal(signum)
        status = self.wait_exit()
        self._reader.join(5)
        return status

    def kill(self):
        """SIGKILL the launcher (Apache gets its death signal)."""
        self._note_stop()
        self.proc.kill()
        self.proc.wait(10)

    def cleanup(self):
        """Whatever happened, leave no process behind: a launcher still
        running is killed; an Apache that outlives it by more than
        STOP_TIMEOUT is killed too, and that is trouble."""
        if self.proc.poll() is None:
            self.kill()
        if self.apache_pid:
            try:
                support.wait_for(lambda: not group_pids(self.apache_pid),
                                 STOP_TIMEOUT, 'Apache to exit')
            except AssertionError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.apache_pid, signal.SIGKILL)
                self.trouble.append('Apache pid %d outlived its launcher'
                                    % self.apache_pid)
        self._reader.join(5)

    stop_for_check = cleanup

    @property
    def error_log(self):
        if self.server_root is None:
            return 'the output of %s' % ' '.join(self.args)
        return self.server_root / 'logs' / 'error.log'

    def _log_text(self):
        if self.server_root is None:
            return '\n'.join(self.lines).encode('utf-8')
        return read_log(self.error_log)

    def log_bytes(self, since=0):
        return self._log_text()[since:]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
