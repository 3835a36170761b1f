"""``python -m zpml_data.cli``: the ``zpml`` command."""

import sys

from zpml_data.cli.main import main

sys.exit(main())
