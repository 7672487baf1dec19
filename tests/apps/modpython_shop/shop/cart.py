"""The shop's state: one cart per interpreter, shared by every handler
and application that runs there."""

items = []
