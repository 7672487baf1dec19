# SPDX-License-Identifier: Apache-2.0
"""Module state that a mod_python handler and a WSGI application share
when they run in the same interpreter (test_modpython_mode.py).

`values` is one dict per interpreter; `first` names the side ('mod_python'
or 'apwsgi') that used this module first there, so a test can tell that
the module was imported once for both.
"""

values = {}
first = None


def used_by(side):
    """Record `side` as the first user unless one is recorded already."""
    global first
    if first is None:
        first = side
    return first
