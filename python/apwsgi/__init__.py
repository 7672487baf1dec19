"""Tooling for apwsgi: build facts, a throw-away Apache for tests, `make run`.

The Apache module never imports this package; it is for developers only.
"""

__version__ = '0.1.0'
