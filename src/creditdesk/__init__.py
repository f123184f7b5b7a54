"""creditdesk: consumer-credit risk and collections platform.

The public API is re-exported here; see ``docs/`` for the contracts.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
