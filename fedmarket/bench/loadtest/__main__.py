"""``python -m fedmarket.bench.loadtest``: the load benchmark (``scripts/bench-load``)."""

import sys

from fedmarket.bench.loadtest.cli import main

sys.exit(main())
