# SPDX-License-Identifier: Apache-2.0
"""Describe the running Python for building mod_apwsgi.so against it, and
build the module the way the Makefile does (for setup.py / pip install).

    python -m apwsgi.build vars     # make assignments, read by the Makefile
    python -m apwsgi.build show     # the same facts, for a person

Run it with the Python to build against: every fact is about
``sys.executable``.  Only the standard library is used, so it works with
any CPython 3.11+, including one without this package installed
(``python python/apwsgi/build.py vars``).
"""

import os
import shutil
import subprocess
import sys
import sysconfig

# The file the build makes and the wheel ships (apwsgi/mod_apwsgi.so).
MODULE_NAME = 'mod_apwsgi.so'

MISSING_APXS = (
    "apwsgi: apxs not found: building mod_apwsgi.so needs Apache's "
    "development files: install apache2-dev (Debian/Ubuntu: apt-get install "
    "apache2-dev) or httpd-devel (Fedora/RHEL: dnf install httpd-devel), or "
    "set APXS=/path/to/apxs")
MISSING_MAKE = ("apwsgi: make not found: building mod_apwsgi.so needs make "
                "and a C compiler (Debian/Ubuntu: apt-get install "
                "build-essential; Fedora/RHEL: dnf install make gcc)")


class BuildError(Exception):
    """The module cannot be built here; str() says what to install."""


def base_program():
    """The interpreter binary of the base install (not a venv's copy).

    The module tells the embedded Python that this is its program, so it
    must be a file under the home the module was built for.
    """
    name = 'python%d.%d' % sys.version_info[:2]
    candidate = os.path.join(sys.base_prefix, 'bin', name)
    if os.path.isfile(candidate):
        return candidate
    return os.path.realpath(sys.executable)


def python_home():
    """PYTHONHOME for the embedded Python: prefix[:exec_prefix]."""
    if sys.base_exec_prefix != sys.base_prefix:
        return '%s:%s' % (sys.base_prefix, sys.base_exec_prefix)
    return sys.base_prefix


def facts():
    """Ordered (name, value) pairs describing this Python for the build."""
    return [
        ('PY_VERSION', '%d.%d' % sys.version_info[:2]),
        ('PY_EXECUTABLE', sys.executable),
        ('PY_PROGRAM', base_program()),
        ('PY_HOME', python_home()),
        ('PY_INCLUDEPY', sysconfig.get_config_var('INCLUDEPY')),
        ('PY_LIBDIR', sysconfig.get_config_var('LIBDIR')),
        ('PY_LDVERSION', sysconfig.get_config_var('LDVERSION')),
        ('PY_SHARED', str(sysconfig.get_config_var('Py_ENABLE_SHARED') or 0)),
        ('PY_STDLIB', sysconfig.get_path('stdlib')),
    ]


def find_apxs(environ=None):
    """Path of apxs: $APXS when set (it must exist), else apxs or apxs2
    on PATH; None when there is none."""
    environ = os.environ if environ is None else environ
    explicit = environ.get('APXS')
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    return shutil.which('apxs') or shutil.which('apxs2')


def compile_module(source_dir, build_dir, jobs=None):
    """Build BUILD_DIR/mod_apwsgi.so with the Makefile of SOURCE_DIR.

    The compile is the Makefile's own (`make all` with PYTHON and
    BUILDDIR), so pip and make build the module the same way: flags from
    `apxs -q`, and INCLUDEPY/LIBDIR/LDVERSION from the sysconfig of this
    interpreter, which the module will embed.  Returns the module's path;
    raises BuildError naming what to install when apxs or make is missing,
    when this Python has no shared libpython, or when the build fails.
    """
    apxs = find_apxs()
    if apxs is None:
        raise BuildError(MISSING_APXS)
    make = shutil.which('make')
    if make is None:
        raise BuildError(MISSING_MAKE)
    if not sysconfig.get_config_var('Py_ENABLE_SHARED'):
        raise BuildError(
            'apwsgi: %s has no shared libpython, which Apache needs to load '
            'Python; use a Python built with --enable-shared (pyenv: '
            "PYTHON_CONFIGURE_OPTS='--enable-shared' pyenv install ...)"
            % sys.executable)
    build_dir = os.path.abspath(build_dir)
    if ' ' in build_dir or ' ' in os.path.abspath(source_dir):
        raise BuildError('apwsgi: the Makefile cannot build in a path with '
                         'spaces (%s)' % build_dir)
    jobs = jobs or len(os.sched_getaffinity(0))
    command = [make, '-C', source_dir, '--no-print-directory',
               '-j%d' % jobs, 'PYTHON=' + sys.executable,
               'BUILDDIR=' + build_dir, 'APXS=' + apxs, 'all']
    print(' '.join(command), flush=True)
    if subprocess.run(command).returncode != 0:
        raise BuildError('apwsgi: building mod_apwsgi.so failed (see the '
                         'compiler output above)')
    return os.path.join(build_dir, MODULE_NAME)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else 'show'
    if command == 'vars':
        # One line, NAME=value words: the Makefile reads it with a single
        # $(shell) and evaluates each word (paths must not hold spaces).
        print(' '.join('%s=%s' % kv for kv in facts()))
    elif command == 'show':
        for name, value in facts():
            print('%-14s %s' % (name, value))
    else:
        print('usage: python -m apwsgi.build [vars|show]', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
