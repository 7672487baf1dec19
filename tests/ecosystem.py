# SPDX-License-Identifier: Apache-2.0
"""Helpers for the tests of the Python ecosystem around the module:
virtual environments, installs, frameworks (world-readable copies of
files, venvs made by a given Python, the Python the module embeds).
Servers, `apwsgi serve` included, are tests/harness.py's.
"""

import os
import pathlib
import re
import subprocess

import support


def make_readable(root):
    """chmod a+rX everything under root (files written with umask 077)."""
    for dirpath, _, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, mode | 0o444 | (0o111 if mode & 0o100 else 0))


def module_python_exe():
    """The python3.X binary of the installation the module embeds."""
    version, prefix = support.module_python()
    exe = pathlib.Path(prefix) / 'bin' / ('python' + version)
    return exe if exe.is_file() else None


def python_of_other_version():
    """A python3.Y (Y != the module's) from pyenv or /usr/bin, or None."""
    version, _ = support.module_python()
    found = []
    root = pathlib.Path(os.environ.get('PYENV_ROOT',
                                       pathlib.Path.home() / '.pyenv'))
    found += sorted(root.glob('versions/3.1[1-9].*/bin/python3.1[1-9]'))
    found += sorted(pathlib.Path('/usr/bin').glob('python3.1[1-9]'))
    for exe in found:
        if re.fullmatch(r'python3\.\d+', exe.name) and \
                exe.name != 'python' + version and exe.is_file():
            return exe
    return None


def make_venv(python, parent, name='venv', pip=False, system_site=False):
    """Create a virtual environment with python under parent; -> path."""
    venv = pathlib.Path(parent) / name
    args = [str(python), '-m', 'venv', str(venv)]
    if not pip:
        args.insert(3, '--without-pip')
    if system_site:
        args.insert(3, '--system-site-packages')
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    make_readable(venv)
    return venv


def venv_site_packages(venv):
    found = sorted(pathlib.Path(venv).glob('lib/python3.*/site-packages'))
    assert len(found) == 1, found
    return found[0]
