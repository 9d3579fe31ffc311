"""What the tests share, one module per kind of thing; tests import it from here, never from a conftest.py.

conftest.py files hold fixtures only (which may call these). Nothing here imports pytest, so that
bench/ can use `servers` (the Procfile's web process) as the tests do.
"""
