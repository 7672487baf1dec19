# SPDX-License-Identifier: Apache-2.0
"""What `apwsgi serve TARGET` names: a script file or a module.

    app.py, path/app.wsgi        a script file; its callable `application`
    app.py::make_app             a script file and the callable's name
    mysite.wsgi::application     module::callable (Django's layout)
    mysite.wsgi:application      the same in gunicorn's spelling

A name such as `mysite.wsgi` reads both ways, so the rule is: an existing
file wins; otherwise a dotted module name that can be found from the
application's directory (or on this Python's path) is a module; anything
else is an error that says why neither reading works.  Finding a module
imports nothing: only the finders are asked, as `import` would ask them.
"""

import importlib.machinery
import importlib.util
import os
import re

MODULE_RE = re.compile(r'[A-Za-z_]\w*(\.[A-Za-z_]\w*)*')
CALLABLE_RE = re.compile(r'[A-Za-z_]\w*')


class TargetError(Exception):
    """TARGET names nothing that can be served; str() says why."""


def splits(target):
    """The (name, callable) readings of target, whole target first; the
    callable follows `::`, or gunicorn's single `:`."""
    readings = [(target, '')]
    name, sep, attr = target.partition('::')
    if sep:
        readings.append((name, attr))
    elif target.count(':') == 1:
        name, _, attr = target.partition(':')
        readings.append((name, attr))
    return readings


def find_spec(name, path):
    """The spec of the dotted module `name` as `import` would find it
    with sys.path set to `path`, or None.  Nothing is imported: parents
    are looked up by their finders, not run."""
    parts = name.split('.')
    spec = importlib.machinery.PathFinder.find_spec(parts[0], path)
    if spec is None:
        # Built-in and frozen modules, and the finders of editable
        # installs, are not on the path.
        try:
            spec = importlib.util.find_spec(parts[0])
        except (ImportError, ValueError):
            return None
    for depth in range(2, len(parts) + 1):
        if spec is None or not spec.submodule_search_locations:
            return None
        spec = importlib.machinery.PathFinder.find_spec(
            '.'.join(parts[:depth]), list(spec.submodule_search_locations))
    return spec


def module_problem(module, attr, directory, search_path):
    """Why module::attr cannot be served from directory, or None.

    search_path is the path the application's Python has besides
    directory; None when it is not known (another Python than this one),
    and then a well-formed name is taken on trust.
    """
    if not MODULE_RE.fullmatch(module):
        return '%r is not a dotted module name' % module
    if attr and not CALLABLE_RE.fullmatch(attr):
        return '%r is not a callable name' % attr
    if search_path is not None and \
            find_spec(module, [directory] + list(search_path)) is None:
        return ("there is no module %r in %s (--directory) or on this "
                "Python's path" % (module, directory))
    return None


def resolve(target, directory=None, search_path=None):
    """(mod_wsgi.application, mod_wsgi.directory) for TARGET.

    A script's path becomes absolute, and its own directory is the
    default directory (so that it can import its neighbours); a module's
    default directory is the current one.  Raises TargetError.
    """
    readings = splits(target)
    for path, attr in readings:
        if os.path.isfile(path):
            if attr and not CALLABLE_RE.fullmatch(attr):
                raise TargetError('%r is not a callable name' % attr)
            path = os.path.abspath(path)
            return (path + ('::' + attr if attr else ''),
                    directory or os.path.dirname(path))
    module, attr = readings[-1]
    directory = directory or os.getcwd()
    problem = module_problem(module, attr, directory, search_path)
    if problem:
        raise TargetError(
            '%r is neither a script path nor module::callable: no such '
            'script %s, and %s' % (target, os.path.abspath(module), problem))
    return module + ('::' + attr if attr else ''), directory
