# SPDX-License-Identifier: Apache-2.0
"""The bench venv: mod_wsgi, the peer servers (gunicorn, granian, uWSGI),
the frameworks of the apps family (Flask, Django) and matplotlib, from
PyPI.

It is created with the Python that apwsgi embeds, so that mod_wsgi is
built (with apxs) against the same CPython, and it is rebuilt when that
Python or requirements-bench.txt changes.  Only contenders that need it
(mod_wsgi, the peers), scenarios whose app imports a framework, and the
chart cause it to be made.
"""

import dataclasses
import json
import os
import pathlib
import shlex
import subprocess

from . import REPO

REQUIREMENTS = REPO / 'requirements-bench.txt'
DEFAULT_DIR = REPO / 'build' / 'bench-venv'
STAMP = '.apwbench-stamp'
PIP_TIMEOUT = 1200          # seconds: building mod_wsgi takes about one


@dataclasses.dataclass(frozen=True)
class Venv:
    path: pathlib.Path
    python: pathlib.Path
    bin: pathlib.Path       # gunicorn, granian, uwsgi
    mod_wsgi_config: tuple  # lines from `mod_wsgi-express module-config`
    versions: dict          # distribution name -> version


def python_identity(python):
    """(realpath of the executable, full version) of a Python command."""
    out = subprocess.run(
        [python, '-c', 'import os, sys; print(os.path.realpath('
         'sys.executable)); print(sys.version.split()[0])'],
        capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError('%s does not run: %s' % (python, out.stderr))
    exe, version = out.stdout.split()
    return exe, version


def startup_pth(python):
    """The .pth files of a Python's site-packages with import lines.

    site.py runs every line of a .pth file that starts with "import" in
    each interpreter as it starts ("site" in the Python docs), so such a
    file adds its imports to every apwsgi interpreter and to its idle
    RSS; the bench venv's servers do not see the base site-packages.
    Returns a sorted list of the files' paths ([] when there are none).
    """
    out = subprocess.run(
        [python, '-c', 'import site; print("\\n".join('
         'site.getsitepackages()))'],
        capture_output=True, text=True, timeout=60)
    found = []
    for directory in (out.stdout.splitlines() if out.returncode == 0
                      else ()):
        for pth in sorted(pathlib.Path(directory).glob('*.pth')):
            try:
                text = pth.read_text(errors='replace')
            except OSError:
                continue
            if any(line.startswith(('import ', 'import\t'))
                   for line in text.splitlines()):
                found.append(str(pth))
    return found


def _stamp_text(python_exe):
    return json.dumps({'python': python_exe,
                       'requirements': REQUIREMENTS.read_text()})


def ensure(python, path=DEFAULT_DIR, log=print):
    """The bench venv at path, created or refreshed when needed."""
    path = pathlib.Path(path)
    exe, version = python_identity(python)
    stamp = path / STAMP
    current = stamp.read_text() if stamp.is_file() else None
    if current != _stamp_text(exe):
        log('bench venv: creating %s with Python %s (%s) and pip install '
            '-r %s; building mod_wsgi takes a minute or so'
            % (path, version, exe, REQUIREMENTS.name))
        _run([exe, '-m', 'venv', '--clear', str(path)], 300)
        _run([str(path / 'bin' / 'python'), '-m', 'pip', 'install',
              '--disable-pip-version-check', '-q', '-r',
              str(REQUIREMENTS)], PIP_TIMEOUT)
        stamp.write_text(_stamp_text(exe))
    return describe(path)


def describe(path):
    """The Venv at path, which must exist and hold the requirements."""
    path = pathlib.Path(path)
    python = path / 'bin' / 'python'
    out = _run([str(path / 'bin' / 'mod_wsgi-express'), 'module-config'],
               120)
    config = tuple(line.strip() for line in out.splitlines()
                   if line.strip())
    versions = json.loads(_run([str(python), '-c', (
        'import importlib.metadata as m, json, sys\n'
        'names = ("mod_wsgi", "gunicorn", "granian", "pyuwsgi", '
        '"flask", "django", "matplotlib")\n'
        'v = {n: m.version(n) for n in names}\n'
        'v["python"] = sys.version.split()[0]\n'
        'print(json.dumps(v))')], 120))
    return Venv(path, python, path / 'bin', config, versions)


def _run(cmd, timeout):
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)     # the tooling's path is not the venv's
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError('%s failed (exit %d):\n%s%s' % (
            shlex.join(cmd), out.returncode, out.stdout[-2000:],
            out.stderr[-3000:]))
    return out.stdout
