# SPDX-License-Identifier: Apache-2.0
"""The command line: bench/run.py [options] (make bench runs it)."""

import argparse
import dataclasses
import datetime
import os
import pathlib
import platform
import re
import shutil
import signal
import subprocess
import sys
import time

from . import BENCH, REPO, load, report, runner, venv
from .contenders import CONTENDERS
from .procs import loadavg, wakeup_cost, wakeup_line
from .scenarios import FAMILIES, MPMS, SCENARIOS

DEFAULTS = {'duration': 4, 'rounds': 3, 'warmup': 1}
QUICK = {'duration': 1, 'rounds': 2, 'warmup': 1}
DEFAULT_MODULES = {'main': REPO / 'build' / 'mod_apwsgi.so',
                   'interp': REPO / 'build' / 'py3.12' / 'mod_apwsgi.so',
                   'apps': REPO / 'build' / 'mod_apwsgi.so'}
COMPARE = 'apwsgi-compare'

CPU_MS = 5.0


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog='bench/run.py',
        description='Measure apwsgi side by side with mod_wsgi, gunicorn, '
        "granian, uWSGI and Apache's own ceilings, on loopback with wrk.",
        epilog='Names: families %s; scenarios %s; contenders %s; MPM '
        'settings %s.  Defaults come from the family.' % (
            ', '.join(FAMILIES), ', '.join(SCENARIOS),
            ', '.join(CONTENDERS), ', '.join(
                '%s (%s)' % (k, m.label) for k, m in MPMS.items())))
    p.add_argument('--family', choices=sorted(FAMILIES), default='main',
                   help='main: small apps against mod_wsgi, the peers and '
                   "Apache's ceilings (default); apps: Flask, Django and "
                   'I/O-bound waiting under the threaded MPM; interp: '
                   'CPU-bound requests on interpreter pools')
    p.add_argument('--quick', action='store_true',
                   help='short rounds for a look, not for figures: '
                   '--duration %(duration)d --rounds %(rounds)d' % QUICK)
    p.add_argument('--scenarios', help='comma-separated scenario names')
    p.add_argument('--contenders', help='comma-separated contender names')
    p.add_argument('--mpms', help='comma-separated MPM settings')
    p.add_argument('--duration', type=int,
                   help='seconds per round (default %(duration)d)'
                   % DEFAULTS)
    p.add_argument('--rounds', type=int,
                   help='rounds per contender (default %(rounds)d)'
                   % DEFAULTS)
    p.add_argument('--warmup', type=int,
                   help='seconds of warm-up load per contender before '
                   'the rounds (default %(warmup)d)' % DEFAULTS)
    p.add_argument('--connections', type=int, default=16,
                   help='wrk connections (default 16)')
    p.add_argument('--threads', type=int, default=1,
                   help='wrk threads (default 1)')
    p.add_argument('--out', default=str(BENCH / 'results'),
                   help='directory for the JSON and PNG (default '
                   'bench/results)')
    p.add_argument('--module', help='mod_apwsgi.so to measure (default '
                   'build/mod_apwsgi.so; interp: build/py3.12/...)')
    p.add_argument('--ceiling-module',
                   default=str(REPO / 'build' / 'mod_ceiling.so'),
                   help='mod_ceiling.so (make ceiling)')
    p.add_argument('--compare-module',
                   help='a second mod_apwsgi.so, measured as contender %s '
                   '(main interpreter) in alternation with the others: '
                   'an A/B comparison of two builds' % COMPARE)
    p.add_argument('--previous',
                   help="the previous run's JSON for the not-slower "
                   'targets (default: the newest full result of the '
                   'family in --out)')
    p.add_argument('--python', help='the Python apwsgi embeds, for the '
                   'bench venv (mod_wsgi is built against it) and the cpu '
                   "calibration (default: found from the module's "
                   'libpython)')
    p.add_argument('--venv', default=str(venv.DEFAULT_DIR),
                   help='the bench venv (default build/bench-venv)')
    p.add_argument('--work', help='directory for server roots (default '
                   'a new one under build/bench-work; kept on failure)')
    p.add_argument('--keep', action='store_true',
                   help='keep the server roots (logs, configs)')
    p.add_argument('--no-chart', action='store_true', help='no PNG')
    p.add_argument('--no-idle-rss', action='store_true',
                   help='skip the idle child RSS check')
    p.add_argument('--note', default='',
                   help='free text stored in the result, e.g. "shared, '
                   'noisy machine"')
    p.add_argument('--plan', action='store_true',
                   help='print the plan and its time, then stop')
    args = p.parse_args(argv)
    family = FAMILIES[args.family]
    base = QUICK if args.quick else DEFAULTS
    for key, value in base.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.duration < 1 or args.rounds < 1 or args.warmup < 1:
        p.error('--duration, --rounds and --warmup must be at least 1 '
                '(wrk counts whole seconds)')
    args.scenario_list = _names(p, args.scenarios, family.scenarios,
                                SCENARIOS, 'scenario')
    args.contender_list = _names(p, args.contenders, family.contenders,
                                 CONTENDERS, 'contender')
    if args.compare_module and COMPARE not in args.contender_list:
        args.contender_list.append(COMPARE)
    if COMPARE in args.contender_list and not args.compare_module:
        p.error('contender %s needs --compare-module' % COMPARE)
    args.mpm_list = _names(p, args.mpms, family.mpms, MPMS, 'MPM setting')
    args.module = pathlib.Path(args.module or DEFAULT_MODULES[args.family])
    args.full = (not args.quick and args.scenarios is None
                 and args.contenders is None and args.mpms is None
                 and not args.compare_module
                 and args.duration >= DEFAULTS['duration']
                 and args.rounds >= DEFAULTS['rounds'])
    return args


def _names(parser, text, default, known, what):
    if not text:
        return list(default)
    names = [n.strip() for n in text.split(',') if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error('unknown %s %s; known: %s' % (
            what, ', '.join(unknown), ', '.join(known)))
    return names


# ---- facts about the machine and the software, for the record ----

def _cmd(cmd, timeout=30):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout)
        return (out.stdout + out.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ''


def machine():
    cpu, mem = '', ''
    try:
        with open('/proc/cpuinfo') as f:
            cpu = next((line.split(':', 1)[1].strip() for line in f
                        if line.startswith('model name')), '')
        with open('/proc/meminfo') as f:
            kib = int(f.readline().split()[1])
            mem = '%.1f GiB' % (kib / 1024 / 1024)
    except (OSError, ValueError, IndexError):
        pass
    distro = ''
    try:
        for line in pathlib.Path('/etc/os-release').read_text().splitlines():
            if line.startswith('PRETTY_NAME='):
                distro = line.split('=', 1)[1].strip('"')
    except OSError:
        pass
    return {'cpu': cpu, 'cores': os.cpu_count(), 'memory': mem,
            'kernel': platform.release(), 'os': distro}


def module_python(module):
    """(libpython path, X.Y) that module links to, from ldd."""
    text = _cmd(['ldd', str(module)])
    match = re.search(r'(\S*libpython(\d+\.\d+)\S*\.so[^\s]*)\s', text)
    if not match:
        return None, None
    path = match.group(1)
    if '=>' in text:
        line = next((ln for ln in text.splitlines() if 'libpython' in ln), '')
        if '=>' in line:
            path = line.split('=>')[1].split('(')[0].strip() or path
    return path, match.group(2)


def python_for_module(module):
    """The python3.X executable next to the libpython that module uses."""
    lib, version = module_python(module)
    if not lib or not version:
        return None
    candidate = pathlib.Path(lib).resolve().parent.parent / 'bin' / (
        'python' + version)
    return str(candidate) if candidate.exists() else None


def git_state():
    head = _cmd(['git', '-C', str(REPO), 'rev-parse', '--short', 'HEAD'])
    dirty = _cmd(['git', '-C', str(REPO), 'status', '--porcelain', '--',
                  'src'])
    return {'commit': head, 'src_modified': bool(dirty)}


# ---- the run ----

def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    family = FAMILIES[args.family]
    if args.compare_module:
        # Its ratios are printed: main / compare is the A/B figure.
        family = dataclasses.replace(
            family, references=family.references + (COMPARE,))
    scenarios = [SCENARIOS[n] for n in args.scenario_list]
    contenders = [CONTENDERS[n] for n in args.contender_list]
    shape = load.LoadShape(args.threads, args.connections, args.duration)
    groups = runner.make_plan(family, scenarios, contenders, args.mpm_list)
    idle = _idle_contenders(args, family, contenders, scenarios)
    _print_plan(args, family, groups, idle, shape)
    if args.plan:
        return 0
    _check_tools(args, contenders)
    python = args.python or python_for_module(args.module) or 'python3'
    py_exe, py_version = venv.python_identity(python)
    lib, lib_version = module_python(args.module)
    if lib_version and not py_version.startswith(lib_version + '.'):
        print('warning: %s is Python %s but %s links %s' % (
            python, py_version, args.module, lib))
    the_venv = None
    if (any(c.needs_venv for c in contenders)
            or any(s.venv_app for s in scenarios)):
        the_venv = venv.ensure(python, args.venv)
    work = pathlib.Path(args.work) if args.work else runner.make_work_dir()
    work.mkdir(parents=True, exist_ok=True)
    cpu_loops = 0
    if any(s.name == 'cpu' for s in scenarios):
        cpu_loops = runner.calibrate_cpu(py_exe, CPU_MS)
        print('cpu app: %d loops take about %.0f ms in Python %s here'
              % (cpu_loops, CPU_MS, py_version))
    ctx = runner.RunContext(
        module=args.module.resolve(),
        ceiling_module=pathlib.Path(args.ceiling_module).resolve(),
        compare_module=(pathlib.Path(args.compare_module).resolve()
                        if args.compare_module else None),
        venv=the_venv, work_dir=work, data_dir=work / 'data',
        static_dir=work / 'static', cpu_loops=cpu_loops,
        server_env={'APWSGI_BENCH_DATA': str(work / 'data'),
                    'APWSGI_BENCH_CPU_LOOPS': str(cpu_loops or ''),
                    'PYTHONPATH': None, 'PYTHONHOME': None})
    started = time.monotonic()
    meta = _meta(args, family, shape, py_exe, py_version, lib, the_venv,
                 cpu_loops)
    print(wakeup_line(meta['machine']['wakeup']))
    run = runner.Runner(family, ctx, shape, args.rounds, args.warmup)
    run.expected = runner.prepare_data(ctx, scenarios)
    results, idle_rows = [], []
    try:
        if idle:
            idle_rows = run.idle_rss(idle, SCENARIOS['hello'])
        for group in groups:
            results += run.run_group(group)
    finally:
        meta['loadavg_end'] = loadavg()
        meta['elapsed_s'] = round(time.monotonic() - started, 1)
    return _finish(args, family, meta, results, idle_rows, groups, work)


def _terminate(signum, frame):
    raise SystemExit('bench: terminated (signal %d); servers stopped'
                     % signum)


def _idle_contenders(args, family, contenders, scenarios):
    if args.no_idle_rss or not any(s.name == 'hello' for s in scenarios):
        return []
    return [c for c in contenders if c.name in family.idle_rss]


def _print_plan(args, family, groups, idle, shape):
    cells = sum(len(g.contenders) for g in groups)
    load_s, total_s = runner.estimate_seconds(
        groups, args.rounds, args.duration, args.warmup, len(idle))
    print('apwsgi benchmark, family %s: %s'
          % (family.name, family.description))
    if family.python_note:
        print('note: %s' % family.python_note)
    print('load: wrk -t%d -c%d, %d round(s) of %d s per contender, '
          'alternating, after %d s of warm-up'
          % (shape.threads, shape.connections, args.rounds, args.duration,
             args.warmup))
    for g in groups:
        print('  %-12s %-7s %s%s' % (
            g.mpm.label, g.scenario.name,
            ' '.join(c.name for c in g.contenders),
            ' (wrk -c%d)' % g.scenario.connections
            if g.scenario.connections else ''))
    if idle:
        print('  idle child RSS: %s' % ' '.join(c.name for c in idle))
    print('plan: %d groups, %d contender runs x %d rounds x %d s = %.1f min'
          ' of load; about %.1f min in all (%s run)'
          % (len(groups), cells, args.rounds, args.duration, load_s / 60,
             total_s / 60, 'full' if args.full else 'partial'))
    sys.stdout.flush()


def _check_tools(args, contenders):
    load.find_wrk()
    if any(c.kind == 'apwsgi' for c in contenders) and \
            not args.module.is_file():
        raise SystemExit('bench: %s not found: build it (make)'
                         % args.module)
    if args.compare_module and \
            not pathlib.Path(args.compare_module).is_file():
        raise SystemExit('bench: --compare-module %s not found'
                         % args.compare_module)
    if any(c.kind == 'ceiling' for c in contenders) and \
            not pathlib.Path(args.ceiling_module).is_file():
        raise SystemExit('bench: %s not found: build it (make ceiling)'
                         % args.ceiling_module)


def _meta(args, family, shape, py_exe, py_version, lib, the_venv,
          cpu_loops):
    from apwsgi.apache import find_apache
    now = datetime.datetime.now().astimezone()
    return {
        'family': family.name,
        'label': 'full' if args.full else 'partial',
        'date': now.isoformat(timespec='seconds'),
        'note': args.note,
        'machine': dict(machine(), wakeup=wakeup_cost()),
        'loadavg_start': loadavg(),
        'apache': _cmd([find_apache(), '-v']).splitlines()[0:1],
        'wrk': load.wrk_version(),
        'load': {'threads': shape.threads,
                 'connections': shape.connections,
                 'duration_s': shape.duration, 'rounds': args.rounds,
                 'warmup_s': args.warmup},
        'apwsgi': dict(git_state(), module=str(args.module.resolve()),
                       libpython=lib, python=py_exe,
                       python_version=py_version,
                       startup_pth=venv.startup_pth(py_exe),
                       compare_module=args.compare_module),
        'venv': (dict(the_venv.versions, path=str(the_venv.path),
                      startup_pth=venv.startup_pth(the_venv.python))
                 if the_venv else None),
        'mpms': {k: {'mpm': MPMS[k].mpm, 'processes': MPMS[k].processes,
                     'threads': MPMS[k].threads, 'label': MPMS[k].label}
                 for k in args.mpm_list},
        'contenders': {n: CONTENDERS[n].description
                       for n in args.contender_list},
        'cpu_loops': cpu_loops or None,
    }


def _previous_path(args, family):
    """The previous full result of the family: --previous, else the
    newest <family>-*-full.json in --out (None when there is none)."""
    if args.previous:
        return pathlib.Path(args.previous)
    found = sorted(pathlib.Path(args.out).glob('%s-*-full.json'
                                               % family.name))
    return found[-1] if found else None


def _finish(args, family, meta, results, idle_rows, groups, work):
    ratio_rows = report.ratios(family, results)
    previous_path = _previous_path(args, family)
    previous = report.load_previous(previous_path) if previous_path \
        else None
    meta['previous'] = str(previous_path) if previous else None
    target_rows = report.evaluate_targets(family, results, idle_rows,
                                          previous)
    lines = report.table(results)
    lines += report.idle_lines(idle_rows, report.base_only_pth(meta))
    lines += report.ratio_lines(family, ratio_rows,
                                [n for n in args.scenario_list])
    lines += report.member_rss_lines(results)
    lines += report.target_lines(target_rows)
    if any(t.metric == 'previous' for t in family.targets):
        lines.append('  (previous full run: %s)' % (
            meta['previous'] or 'none found'))
    lines += report.problem_lines(results, idle_rows)
    print('\n'.join(lines))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
    base = out / ('%s-%s-%s' % (family.name, stamp, meta['label']))
    document = {'meta': meta, 'results': results, 'idle_rss': idle_rows,
                'ratios': ratio_rows, 'targets': target_rows}
    report.write_json(base.with_suffix('.json'), document)
    print('\nresults: %s' % base.with_suffix('.json'))
    if not args.no_chart:
        _chart(args, base)
    failed = any(e.get('error') for e in results + idle_rows)
    problems = any((e.get('log_problems') or {}).get('crashes')
                   or (e.get('log_problems') or {}).get('error_count')
                   for e in results + idle_rows)
    if args.keep or failed or problems:
        print('server roots kept in %s' % work)
    elif not args.work:
        shutil.rmtree(work, ignore_errors=True)
    print('elapsed: %.1f min' % (meta['elapsed_s'] / 60))
    return 1 if failed else 0


def _chart(args, base):
    """Draw the PNG with a Python that has matplotlib, if there is one."""
    candidates = [pathlib.Path(args.venv) / 'bin' / 'python',
                  pathlib.Path(sys.executable)]
    for python in candidates:
        if not python.exists():
            continue
        env = dict(os.environ)
        env.pop('PYTHONPATH', None)
        probe = subprocess.run([str(python), '-c', 'import matplotlib'],
                               capture_output=True, env=env, timeout=60)
        if probe.returncode != 0:
            continue
        out = subprocess.run(
            [str(python), str(BENCH / 'apwbench' / 'chart.py'),
             str(base.with_suffix('.json')), str(base.with_suffix('.png'))],
            capture_output=True, text=True, env=env, timeout=300)
        if out.returncode == 0:
            print('chart:   %s' % base.with_suffix('.png'))
        else:
            print('chart failed: %s' % out.stderr[-1000:])
        return
    print('chart skipped: no Python with matplotlib (pip install -r '
          'requirements-bench.txt, or run once with a contender from the '
          'bench venv, such as mod_wsgi, to create it)')
