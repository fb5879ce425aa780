"""Unit tests of fl_node.flower: skipped when flwr (the 'flower' extra) is not installed."""

import pytest

pytest.importorskip("flwr", reason="flwr is not installed (the 'flower' extra)")
