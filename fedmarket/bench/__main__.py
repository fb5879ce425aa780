"""``python -m fedmarket.bench``: the API benchmark, or with ``fl`` first the federated one.

With ``contribution`` first, the contribution and rewards benchmark; with ``adversarial`` first,
the adversarial-examples benchmark; with ``ftl`` first, the federated transfer-learning one.
``scripts/bench-api`` runs the first, ``scripts/bench`` the second, ``scripts/bench-contribution``
the third, ``scripts/bench-adversarial`` the fourth, ``scripts/bench-ftl`` the fifth.
"""

import sys

if sys.argv[1:2] == ["fl"]:
    from fedmarket.bench.fl import main as fl_main

    sys.exit(fl_main(sys.argv[2:]))

if sys.argv[1:2] == ["contribution"]:
    from fedmarket.bench.contribution import main as contribution_main

    sys.exit(contribution_main(sys.argv[2:]))

if sys.argv[1:2] == ["ftl"]:
    from fedmarket.bench.ftl import main as ftl_main

    sys.exit(ftl_main(sys.argv[2:]))

if sys.argv[1:2] == ["adversarial"]:
    from fedmarket.bench.adversarial import main as adversarial_main

    sys.exit(adversarial_main(sys.argv[2:]))

from fedmarket.bench.api import main

sys.exit(main())
