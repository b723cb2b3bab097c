"""Configuration: settings, command-line flags, ``.env`` checking, the session identity, secrets.

Both programs read their settings through this package (the bot's ``Settings`` and the
supervisor's ``SupervisorSettings`` share ``flags``, ``dotenv_check`` and ``secrets``).
"""
