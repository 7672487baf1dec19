"""The package myapp of the documentation's examples (see ../myapp.wsgi)."""
