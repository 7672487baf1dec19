"""Describe the running Python for building mod_apwsgi.so against it.

    python -m apwsgi.build vars     # make assignments, read by the Makefile
    python -m apwsgi.build show     # the same facts, for a person

Run it with the Python to build against: every fact is about
``sys.executable``.  Only the standard library is used, so it works with
any CPython 3.11+, including one without this package installed
(``python python/apwsgi/build.py vars``).
"""

import os
import sys
import sysconfig

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
