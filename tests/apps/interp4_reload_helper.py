"""A module the reloaded application imports from mod_wsgi.directory;
test_reload rewrites VERSION here together with the application's."""

VERSION = 1


def interp_id():
    """The current interpreter's id, or None."""
    try:
        try:
            import _interpreters as mod          # 3.13
        except ImportError:
            import _xxsubinterpreters as mod     # 3.11, 3.12
        cur = mod.get_current()
    except Exception:
        return None
    return int(cur[0] if isinstance(cur, tuple) else cur)
