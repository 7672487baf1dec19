# SPDX-License-Identifier: Apache-2.0
"""myapp.wsgi::application of the documentation's examples (a Django-style
project module).  The reload example rewrites VERSION."""

from myapp.report import report

VERSION = 1


def application(environ, start_response):
    return report(environ, start_response, 'package', VERSION)
