"""A script file that does not compile (for the APW00208 test)."""

def application(environ, start_response)
    return [b'never']
