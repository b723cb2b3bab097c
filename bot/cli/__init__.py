"""The command line: ``python -m bot`` (``main``) and the terminal live view drawn on stderr."""
