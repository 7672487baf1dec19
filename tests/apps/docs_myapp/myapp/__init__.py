"""The package myapp of the README's examples (see ../myapp.wsgi)."""
