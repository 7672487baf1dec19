# SPDX-License-Identifier: Apache-2.0
"""apwsgi: WSGI applications in Apache httpd, with mod_apwsgi.so.

This package is the command line that comes with the module: `apwsgi
serve` runs an application in a throw-away Apache, and `apwsgi
module-config` prints the lines that load the module into your own.  pip
builds mod_apwsgi.so and installs it here.  The module itself never
imports this package.
"""

__version__ = '0.1.0'
