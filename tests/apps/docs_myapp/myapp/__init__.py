# SPDX-License-Identifier: Apache-2.0
"""The package myapp of the documentation's examples (see ../myapp.wsgi)."""
