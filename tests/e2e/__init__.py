"""Real-browser tests. A package, so `from .conftest import goto` works and module names never clash."""
