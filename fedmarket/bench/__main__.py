"""``python -m fedmarket.bench``: the API benchmark, or with ``fl`` first the federated one.

With ``contribution`` first, the contribution and rewards benchmark. ``scripts/bench-api`` runs
the first, ``scripts/bench`` the second, ``scripts/bench-contribution`` the third.
"""

import sys

if sys.argv[1:2] == ["fl"]:
    from fedmarket.bench.fl import main as fl_main

    sys.exit(fl_main(sys.argv[2:]))

if sys.argv[1:2] == ["contribution"]:
    from fedmarket.bench.contribution import main as contribution_main

    sys.exit(contribution_main(sys.argv[2:]))

from fedmarket.bench.api import main

sys.exit(main())
