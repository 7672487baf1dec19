"""The application /srv/myapp/myapp.wsgi of the documentation's examples
(tests/test_docs_examples.py copies this tree to a scratch directory and
puts that directory where the pages say /srv/myapp).

Endpoints (any path): JSON, see myapp/report.py; "source": "script".
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from myapp.report import report  # noqa: E402


def application(environ, start_response):
    return report(environ, start_response, 'script')
