"""fedmarket, the application: the command line (:mod:`fedmarket.cli`) and the demo.

This package is the top floor. It wires the domains together and imports every one of them;
nothing imports it. The floors below, from the top: ``marketplace_api`` (the REST service),
``fl_node`` (training), ``incentives`` | ``chain`` | ``storage`` (contribution and rewards,
contracts and chain backends, content-addressed storage), and ``kernel`` (errors and types).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
