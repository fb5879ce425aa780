"""``python -m fedmarket.bench``: the API benchmark (what ``scripts/bench-api`` runs)."""

import sys

from fedmarket.bench.api import main

sys.exit(main())
