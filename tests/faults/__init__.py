"""The fault-injection suite: a consortium on its own test network, crashed, cut and restarted."""
