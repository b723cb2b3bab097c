"""``python -m bot``: one room session from the command line (see ``bot.cli.main``)."""

import sys

from bot.config.environment_check import require_project_python

if __name__ == "__main__":
    require_project_python("python -m bot")  # before anything outside the standard library loads
    from bot.cli.main import main

    sys.exit(main())
