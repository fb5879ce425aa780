"""fedmarket, the application: the command line (:mod:`fedmarket.cli`), the demo, task design.

This package is the top floor. It wires the domains together and imports every one of them;
nothing imports it. :mod:`fedmarket.demo` is the embedded story; :mod:`fedmarket.design` turns
published statistics into a task's model, for ``fedmarket task design`` and the demo.

The floors below, from the top: ``marketplace_api`` (the REST service), ``fl_node`` (training),
``incentives`` | ``chain`` | ``storage`` (contribution and rewards, contracts and chain backends,
content-addressed storage), and ``kernel`` (errors and types).
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
