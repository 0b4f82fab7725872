"""Clinical decision support: published models served as CDS Hooks 2.0 services.

``CdsEngine`` scores hook calls (prefetch first, the lake for what is missing) into cards and
records feedback; ``make_router`` is its HTTP surface; ``create_app`` the standalone service run by
``medlake model serve``.
"""

from medlake.cdss.service import BadRequest, CdsEngine
from medlake.cdss.store import CdsStore

__all__ = ["BadRequest", "CdsEngine", "CdsStore"]
