"""`python -m tui`: the same app as `metadata tui`."""
import sys

from .app import main

sys.exit(main(sys.argv[1:], prog="python -m tui"))
