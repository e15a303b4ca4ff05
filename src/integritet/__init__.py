"""integritet: privacy policy as code.

The curated public API is listed in ``__all__`` (a test guards it).
"""

from integritet.clock import Clock, FixedClock, SystemClock
from integritet.errors import (
    AccessDenied,
    IntegritetError,
    KeyDestroyed,
    KeyUnavailable,
    ManifestError,
    NotFound,
    SubjectRestricted,
    VaultError,
)
from integritet.manifest import Manifest, load_manifest
from integritet.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "AccessDenied",
    "Clock",
    "FixedClock",
    "IntegritetError",
    "KeyDestroyed",
    "KeyUnavailable",
    "Manifest",
    "ManifestError",
    "NotFound",
    "Settings",
    "SubjectRestricted",
    "SystemClock",
    "VaultError",
    "__version__",
    "load_manifest",
]
