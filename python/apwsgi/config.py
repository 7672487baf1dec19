# SPDX-License-Identifier: Apache-2.0
"""Where mod_apwsgi.so is, what it embeds, and `apwsgi module-config`.

    apwsgi module-config      the LoadModule line for the module that pip
                              installed (or $APWSGI_MODULE), plus the
                              venv's SetEnv line

The module compiles in the home of the Python it was built against (the
base installation, never a venv), so Apache needs no PYTHONHOME, and a
venv must not be given as one; a venv's packages are added with
`SetEnv mod_wsgi.virtualenv`.
"""

import os
import pathlib
import re
import sys

from . import build

PACKAGE = pathlib.Path(__file__).resolve().parent


class ModuleNotFound(Exception):
    """No mod_apwsgi.so could be found; str() says how to get one."""


def candidates():
    """Where a module may be, most specific first: $APWSGI_MODULE, then
    the one pip installed in this package."""
    paths = []
    if os.environ.get('APWSGI_MODULE'):
        paths.append(pathlib.Path(os.environ['APWSGI_MODULE']))
    paths.append(PACKAGE / build.MODULE_NAME)
    return paths


def find_module(explicit=None):
    """Absolute path of the mod_apwsgi.so to use; raises ModuleNotFound."""
    if explicit:
        path = pathlib.Path(explicit).resolve()
        if not path.is_file():
            raise ModuleNotFound('apwsgi: %s does not exist' % path)
        return path
    for path in candidates():
        if path.is_file():
            return path.resolve()
    raise ModuleNotFound(
        'apwsgi: mod_apwsgi.so not found (looked at %s); install apwsgi '
        'with pip, set APWSGI_MODULE, or pass --module'
        % ', '.join(str(p) for p in candidates()))


def module_python(path):
    """'X.Y' of the libpython the module links, read from the file."""
    data = pathlib.Path(path).read_bytes()
    match = re.search(rb'libpython(\d+\.\d+)', data)
    return match.group(1).decode() if match else None


def module_has_home(path, home):
    """Whether the module names `home` (compiled in as its Python home)."""
    data = pathlib.Path(path).read_bytes()
    return (home.encode() + b'\0') in data or (home.encode() + b':') in data


def embeds_this_python(path):
    """Whether the module embeds the installation this Python runs from
    (the base of a venv), whose path is then the application's too."""
    return (module_python(path) == this_python()
            and module_has_home(path, build.python_home()))


def running_venv():
    """The virtual environment this Python runs in, or None."""
    if sys.prefix != sys.base_prefix:
        return sys.prefix
    return None


def this_python():
    return '%d.%d' % sys.version_info[:2]


def apache_quote(value):
    """value as one double-quoted Apache configuration argument."""
    return '"%s"' % str(value).replace('\\', '\\\\').replace('"', '\\"')


def module_config_lines(module):
    """The lines `apwsgi module-config` prints, for a module file."""
    module_version = module_python(module)
    if module_version != this_python():
        return ['# apwsgi: a module for Python %s' % (module_version or '?'),
                'LoadModule apwsgi_module %s' % apache_quote(module),
                '# Note: this command runs under Python %s, so packages '
                'installed for it' % this_python(),
                "# are not the module's."]
    home = build.python_home()
    if not module_has_home(module, home):
        # Built against another installation of the same X.Y: it embeds
        # that one, whose packages this Python's are not.
        return ['# apwsgi: a module for Python %s' % module_version,
                'LoadModule apwsgi_module %s' % apache_quote(module),
                '# Note: built for another Python %s installation than '
                'this one (%s); it' % (module_version, home),
                "# embeds that one: this Python's packages are not its "
                "own."]
    lines = ['# apwsgi: a module for Python %s (%s)' % (module_version,
                                                       home),
             'LoadModule apwsgi_module %s' % apache_quote(module)]
    venv = running_venv()
    if venv:
        lines += ["# This virtualenv's packages, where the application is "
                  'configured (not as',
                  '# PYTHONHOME: the module embeds the Python named above):',
                  'SetEnv mod_wsgi.virtualenv %s' % apache_quote(venv)]
    return lines


def module_config(args):
    try:
        module = find_module(args.module)
    except ModuleNotFound as exc:
        print(exc, file=sys.stderr)
        return 1
    print('\n'.join(module_config_lines(module)))
    return 0
