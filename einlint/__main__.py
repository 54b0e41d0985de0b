import sys

from einlint.cli import main

sys.exit(main())
