# SPDX-License-Identifier: Apache-2.0
"""What a virtualenv given by `SetEnv mod_wsgi.virtualenv` added to the
interpreter (tests/test_virtualenv.py).

Endpoints (any path):
  JSON {"marker": __file__ of apwsgi_venv_marker (a module only in the
        venv's site-packages) or null, "marker_value": its VALUE,
        "pth_marker": __file__ of apwsgi_venv_pth_marker (in a directory
        that a .pth file in site-packages names) or null,
        "sys_path": sys.path, "virtualenv": environ mod_wsgi.virtualenv,
        "interpreter": environ mod_wsgi.interpreter, "version": "X.Y"}
"""

import importlib
import json
import sys


def _load(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def application(environ, start_response):
    marker = _load('apwsgi_venv_marker')
    pth_marker = _load('apwsgi_venv_pth_marker')
    body = json.dumps({
        'marker': getattr(marker, '__file__', None),
        'marker_value': getattr(marker, 'VALUE', None),
        'pth_marker': getattr(pth_marker, '__file__', None),
        'sys_path': sys.path,
        'virtualenv': environ.get('mod_wsgi.virtualenv'),
        'interpreter': environ.get('mod_wsgi.interpreter'),
        'version': '%d.%d' % sys.version_info[:2],
    }).encode()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
