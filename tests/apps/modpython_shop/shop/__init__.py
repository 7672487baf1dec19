# SPDX-License-Identifier: Apache-2.0
"""A shop moving from mod_python to WSGI one Location at a time: the
worked example of docs/modpython.rst (tests/test_modpython_mode.py runs
it).  legacy.py is its mod_python side, api.py its WSGI side; both use
cart.py, which exists once per interpreter."""
