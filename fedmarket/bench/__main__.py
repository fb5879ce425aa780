"""``python -m fedmarket.bench``: the API benchmark (what ``scripts/bench-api`` runs)."""

from fedmarket.bench.api import main

raise SystemExit(main())
