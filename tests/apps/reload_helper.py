# SPDX-License-Identifier: Apache-2.0
"""A module the reloaded application imports from mod_wsgi.directory;
test_reload rewrites VERSION here together with the application's."""

VERSION = 1
