# SPDX-License-Identifier: Apache-2.0
"""An application that never loads: importing it raises ImportError."""

raise ImportError('apwsgi-test: import_error_app fails to import on purpose')
