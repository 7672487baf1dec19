# SPDX-License-Identifier: Apache-2.0
"""The shop's state: one cart per interpreter, shared by every handler
and application that runs there."""

items = []
