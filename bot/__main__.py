"""``python -m bot``: one room session from the command line (see ``bot.cli.main``)."""

import sys

from bot.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
