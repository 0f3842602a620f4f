"""`python -m bot` is `rentian`."""

import sys

from bot.cli import main

sys.exit(main())
