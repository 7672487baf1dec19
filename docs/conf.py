# SPDX-License-Identifier: Apache-2.0
"""Sphinx configuration of the apwsgi documentation (`make docs`)."""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))


def _version():
    """The package version, read from python/apwsgi/__init__.py without
    importing it (the docs build needs nothing of the tooling)."""
    path = os.path.join(HERE, '..', 'python', 'apwsgi', '__init__.py')
    with open(path) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


project = 'apwsgi'
author = 'The apwsgi authors'
copyright = '2026, The apwsgi authors; Apache License 2.0'
release = version = _version()

extensions = []
root_doc = 'index'
exclude_patterns = ['_build', 'requirements.txt']
highlight_language = 'none'
# Every literal block must lex in the language it names.
suppress_warnings = []

html_theme = 'alabaster'
html_title = 'apwsgi %s' % release
html_theme_options = {
    'description': 'Python WSGI applications inside Apache httpd',
    'fixed_sidebar': True,
    'show_relbars': True,
}
html_sidebars = {
    '**': ['about.html', 'navigation.html', 'relations.html',
           'searchbox.html'],
}
html_static_path = []
html_show_sourcelink = False
