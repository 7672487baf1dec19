# SPDX-License-Identifier: Apache-2.0
"""The plan of a run, its time estimate, and its execution.

For each MPM setting and scenario (a "group"), the runner starts one
server per contender, all at once on their own ports, checks that each
really serves the scenario, warms each up, and then measures them in
alternating rounds (A B C A B C ...), so that drift on a noisy machine
hits all of them alike.  Halfway through each round it reads each
server's accept queue: connections that wait there are not being served
(a server whose workers each keep one connection).  After the last round
it reads the RSS of each server's children and scans its log, then stops
them all.
"""

import concurrent.futures
import dataclasses
import importlib.util
import io
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import wsgiref.util

from . import APPS, REPO, load
from .contenders import CEILING, make_server
from .procs import accept_queue, loadavg, rss_of
from .scenarios import MPMS

FILE_BYTES = 1024 * 1024
IDLE_REQUESTS = 20          # hello requests before an idle child is read
IDLE_SETTLE = 0.5           # seconds between the last request and the read
# Seconds, for the time estimate: starting and checking the servers of a
# group (in parallel), stopping them, and one wrk run beyond its duration.
START_COST = {'apache': 1.0, 'peer': 1.5}
STOP_COST = 0.5
WRK_OVERHEAD = 0.2


@dataclasses.dataclass
class RunContext:
    """What every server of the run needs to know."""

    module: pathlib.Path
    ceiling_module: pathlib.Path
    compare_module: pathlib.Path | None
    venv: object            # venv.Venv, or None when no contender needs it
    work_dir: pathlib.Path  # server roots
    data_dir: pathlib.Path  # file.bin, for the file app
    static_dir: pathlib.Path
    cpu_loops: int
    server_env: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Group:
    """One MPM setting and scenario, with the contenders measured in it."""

    mpm: object
    scenario: object
    contenders: tuple


def make_plan(family, scenarios, contenders, mpms):
    """The groups of a run, in order.

    A contender whose figures do not depend on the run's MPM setting (a
    peer server, or apwsgi with an MPM setting of its own) is measured in
    the first MPM setting only.
    """
    groups = []
    for index, mpm_key in enumerate(mpms):
        for scenario in scenarios:
            chosen = tuple(
                c for c in contenders
                if c.applies(scenario)
                and (not c.mpm_independent or index == 0))
            if chosen:
                groups.append(Group(MPMS[mpm_key], scenario, chosen))
    return groups


def estimate_seconds(groups, rounds, duration, warmup, idle_count):
    """Planned seconds: (load seconds, total seconds)."""
    load_s = total = 0.0
    for group in groups:
        kinds = {'apache' if c.uses_apache else 'peer'
                 for c in group.contenders}
        total += max(START_COST[k] for k in kinds) + STOP_COST
        for _ in group.contenders:
            load_s += rounds * duration
            total += (warmup + WRK_OVERHEAD
                      + rounds * (duration + WRK_OVERHEAD))
    if idle_count:
        total += (START_COST['apache'] + STOP_COST + IDLE_SETTLE
                  + 0.1 * idle_count)
    return load_s, total


# ---- data: the file the file app sends, and the static ceilings ----

def file_bytes():
    """The 1 MiB of bench/apps/file.py's file: a fixed byte pattern."""
    return bytes(range(256)) * (FILE_BYTES // 256)


def load_app(scenario):
    """Import scenario's app module from its file, in this process."""
    name = 'apwbench_app_' + scenario.name
    spec = importlib.util.spec_from_file_location(name, scenario.app_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.application


def render(scenario, app=None):
    """The body scenario's app returns here, for a minimal request."""
    app = app or load_app(scenario)
    body = b'x' * scenario.body_bytes
    environ = {'REQUEST_METHOD': scenario.method,
               'PATH_INFO': '', 'SCRIPT_NAME': scenario.path,
               'QUERY_STRING': scenario.query,
               'CONTENT_LENGTH': str(len(body)) if body else '',
               'wsgi.input': io.BytesIO(body),
               'wsgi.file_wrapper': wsgiref.util.FileWrapper}
    wsgiref.util.setup_testing_defaults(environ)
    result = app(environ, lambda status, headers, exc_info=None: None)
    try:
        return b''.join(result)
    finally:
        if hasattr(result, 'close'):
            result.close()


def prepare_data(ctx, scenarios):
    """Write file.bin and the static files; return the expected bodies."""
    for path in (ctx.data_dir, ctx.static_dir):
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o755)
    (ctx.data_dir / 'file.bin').write_bytes(file_bytes())
    (ctx.data_dir / 'file.bin').chmod(0o644)
    os.environ.update({k: v for k, v in ctx.server_env.items()
                       if v is not None})
    expected = {}
    for scenario in scenarios:
        if scenario.venv_app:
            # Its framework is in the bench venv, not here: checked by
            # what the answer says (scenarios._CHECKS).
            expected[scenario.name] = None
            continue
        expected[scenario.name] = render(scenario)
        if scenario.static:
            path = ctx.static_dir / scenario.static
            path.write_bytes(expected[scenario.name])
            path.chmod(0o644)
    return expected


# ---- checking that a server is what it claims to be ----

def check_server(server, contender, scenario, expected):
    """Check that server answers scenario rightly; return the probe.

    Raises RuntimeError saying what is wrong.
    """
    probe = {}
    if contender.uses_apache and contender.role != CEILING:
        status, _, body = load.fetch(server.url('/probe'))
        if status != 200:
            raise RuntimeError('/probe answered %d: %r' % (status, body[:200]))
        probe = json.loads(body)
        _check_probe(contender, probe)
    payload = b'x' * scenario.body_bytes if scenario.body_bytes else None
    status, headers, body = load.fetch(
        server.url(scenario.request_path), scenario.method, payload,
        dict(scenario.headers))
    if status != 200:
        raise RuntimeError('%s answered %d: %r' % (scenario.request_path,
                                                   status, body[:200]))
    problem = scenario.check_body(body, expected)
    if problem:
        raise RuntimeError('%s: %s' % (scenario.request_path, problem))
    software = headers.get('server', '')
    probe['server_header'] = software
    want = contender.server_header
    if want and want.lower() not in software.lower():
        raise RuntimeError('Server header %r is not %s' % (software, want))
    return probe


def _check_probe(contender, probe):
    if contender.kind == 'mod_wsgi':
        if not probe.get('mod_wsgi_version'):
            raise RuntimeError('not mod_wsgi: %r' % probe)
        return
    # apwsgi: mod_wsgi's own keys absent, apwsgi's present.
    if probe.get('mod_wsgi_version') or not probe.get('apwsgi_keys'):
        raise RuntimeError('not apwsgi: %r' % probe)
    wanted_sub = any(key == 'mod_wsgi.interpreter'
                     for key, _ in contender.setenv)
    interp = probe.get('interpreter_id')
    if interp is not None and (interp != 0) != wanted_sub:
        raise RuntimeError('%s runs in interpreter %s'
                           % (contender.name, interp))


# ---- execution ----

def _median(values):
    return statistics.median(values) if values else None


def summarize(rounds):
    """Medians over rounds, the total of errors, the spread of req/s."""
    if not rounds:
        return None
    rps = [r['rps'] for r in rounds]
    med = _median(rps)
    return {
        'rps': round(med, 1),
        'p50_ms': round(_median([r['p50_ms'] for r in rounds]), 3),
        'p99_ms': round(_median([r['p99_ms'] for r in rounds]), 3),
        'errors': sum(r['errors'] for r in rounds),
        'requests': sum(r['requests'] for r in rounds),
        'accept_queue': max((r.get('accept_queue') or 0) for r in rounds),
        'spread': round((max(rps) - min(rps)) / med, 4) if med else None,
    }


class Runner:
    def __init__(self, family, ctx, shape, rounds, warmup, log=print):
        self.family = family
        self.ctx = ctx
        self.shape = shape
        self.rounds = rounds
        self.warmup = warmup
        self.log = log
        self.expected = {}

    def _root(self, *parts):
        root = self.ctx.work_dir / '-'.join(parts)
        if root.exists():
            shutil.rmtree(root)
        return root

    def _start(self, contender, mpm, scenario, root_name, entry):
        server = make_server(contender, mpm, scenario, self.ctx,
                             self._root(*root_name))
        try:
            server.start()
            entry['probe'] = check_server(server, contender, scenario,
                                          self.expected[scenario.name])
        except Exception as exc:
            entry['error'] = 'start/check failed: %s' % exc
            self.log('  %-18s FAILED: %s' % (contender.name, exc))
            entry['log_problems'] = _safe_problems(server)
            server.stop()
            return None
        return server

    def run_group(self, group):
        mpm, scenario = group.mpm, group.scenario
        entries, servers = {}, {}
        self.log('\n[%s] %s: %s' % (mpm.label, scenario.name,
                                    ', '.join(c.name for c in
                                              group.contenders)))
        for c in group.contenders:
            entries[c.name] = {
                'family': self.family.name, 'mpm': mpm.key,
                'mpm_label': mpm.label, 'scenario': scenario.name,
                'contender': c.name, 'rounds': [], 'error': None,
                'loadavg_before': loadavg()}
        # The servers start (and stop) in parallel: a run spends its time
        # under load, not waiting for start-ups.
        with concurrent.futures.ThreadPoolExecutor(
                len(group.contenders)) as pool:
            started = {c.name: pool.submit(
                self._start, c, mpm, scenario,
                (mpm.key, scenario.name, c.name), entries[c.name])
                for c in group.contenders}
            try:
                for name, future in started.items():
                    if future.result():
                        servers[name] = future.result()
                self._measure(group, entries, servers)
                for name, server in servers.items():
                    entry = entries[name]
                    entry['rss_after'] = rss_of(server.child_pids())
                    entry['log_problems'] = server.log_problems()
                    entry['summary'] = summarize(entry['rounds'])
                    if entry['summary'] and entry.get('warmup'):
                        entry['summary']['warmup_errors'] = \
                            entry['warmup']['errors']
                    entry['loadavg_after'] = loadavg()
            finally:
                # Whatever started, even if the run was interrupted.
                live = []
                for future in started.values():
                    try:
                        server = future.result()
                    except Exception:
                        server = None
                    if server:
                        live.append(server)
                list(pool.map(lambda server: server.stop(), live))
        return list(entries.values())

    def _measure(self, group, entries, servers):
        scenario = group.scenario
        shape = self.shape
        if scenario.connections:
            shape = dataclasses.replace(shape,
                                        connections=scenario.connections)
        active = [c for c in group.contenders if c.name in servers]
        for c in list(active):
            try:
                warm = load.run_wrk(servers[c.name].url(
                    scenario.request_path), scenario, shape,
                    duration=self.warmup)
                entries[c.name]['warmup'] = warm
            except Exception as exc:
                self._drop(c, active, entries, 'warm-up failed: %s' % exc)
        for number in range(1, self.rounds + 1):
            for c in list(active):
                server = servers[c.name]
                queue = _QueueSample(server.port, shape.duration / 2.0)
                try:
                    result = load.run_wrk(server.url(
                        scenario.request_path), scenario, shape)
                except Exception as exc:
                    self._drop(c, active, entries,
                               'round %d failed: %s' % (number, exc))
                    continue
                finally:
                    queue.cancel()
                if not result['requests']:
                    # E.g. a response with no end the client can see (no
                    # Content-Length, no chunking, connection kept open).
                    self._drop(c, active, entries, 'round %d completed no '
                               'response in %d s' % (number,
                                                     shape.duration))
                    continue
                result['accept_queue'] = queue.value
                entries[c.name]['rounds'].append(result)
                self.log('  round %d/%d  %-18s %10.1f req/s  p50 %7.2f ms'
                         '  p99 %8.2f ms  errors %d%s'
                         % (number, self.rounds, c.name, result['rps'],
                            result['p50_ms'], result['p99_ms'],
                            result['errors'],
                            '  queued %d' % queue.value if queue.value
                            else ''))

    def _drop(self, contender, active, entries, why):
        active.remove(contender)
        entries[contender.name]['error'] = why
        self.log('  %-18s FAILED: %s' % (contender.name, why))

    def idle_rss(self, contenders, scenario):
        """RSS of the one child of an event 1x25 server after hello.

        The servers start together; each gets IDLE_REQUESTS requests on
        one connection, and its child is read after IDLE_SETTLE seconds.
        """
        mpm = MPMS['event1']
        self.log('\n[idle child RSS] %s, %d %s requests then %.1f s idle'
                 % (mpm.label, IDLE_REQUESTS, scenario.name, IDLE_SETTLE))
        rows = [{'contender': c.name, 'mpm': mpm.key,
                 'scenario': scenario.name, 'error': None}
                for c in contenders]
        with concurrent.futures.ThreadPoolExecutor(len(contenders)) as pool:
            started = [pool.submit(self._start, c, mpm, scenario,
                                   ('idle', scenario.name, c.name), row)
                       for c, row in zip(contenders, rows, strict=True)]
            servers = [future.result() for future in started]
            try:
                for server, row in zip(servers, rows, strict=True):
                    if server:
                        statuses = load.fetch_many(
                            server.url(scenario.request_path),
                            IDLE_REQUESTS)
                        if set(statuses) != {200}:
                            row['error'] = 'statuses %s' % sorted(
                                set(statuses))
                time.sleep(IDLE_SETTLE)     # let the children fall idle
                for server, row in zip(servers, rows, strict=True):
                    if server:
                        row.update(rss_of(server.child_pids()))
                        row['log_problems'] = server.log_problems()
                        self.log('  %-18s %s' % (row['contender'],
                                                 _rss_text(row)))
            finally:
                list(pool.map(lambda server: server.stop(),
                              [server for server in servers if server]))
        return rows


class _QueueSample:
    """The accept queue of a port, read once after `delay` seconds in a
    timer thread (None when it could not be read)."""

    def __init__(self, port, delay):
        self.port = port
        self.value = None
        self._timer = threading.Timer(delay, self._read)
        self._timer.daemon = True
        self._timer.start()

    def _read(self):
        self.value = accept_queue(self.port)

    def cancel(self):
        self._timer.cancel()


def _rss_text(entry):
    if not entry.get('per_child_kib'):
        return 'no child'
    return ' + '.join('%.1f' % (v / 1024) for v in entry['per_child_kib']) \
        + ' MiB'


def _safe_problems(server):
    try:
        return server.log_problems()
    except Exception:
        return None


def make_work_dir(base=None):
    """A fresh directory for the run's server roots, traversable by
    Apache's user (www-data)."""
    base = pathlib.Path(base or REPO / 'build' / 'bench-work')
    base.mkdir(parents=True, exist_ok=True)
    base.chmod(0o755)
    path = pathlib.Path(tempfile.mkdtemp(prefix='run-', dir=base))
    path.chmod(0o755)
    return path


def calibrate_cpu(python, ms=5.0):
    """Loop count of bench/apps/cpu.py that takes ms milliseconds."""
    out = subprocess.run([python, str(APPS / 'cpu.py'), str(ms)],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise RuntimeError('calibrating the cpu app with %s failed' % python)
    return int(out.stdout.strip())
