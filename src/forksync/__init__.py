"""forksync: keep a long-lived fork in sync with its upstream's stable releases."""

__version__ = "0.1.0"
