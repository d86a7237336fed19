import sys

from fintune.cli import main

sys.exit(main())
