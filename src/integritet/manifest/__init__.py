"""Policy as code: the manifest model, loader, lint rules, renderer and diff."""

from integritet.manifest.load import load_manifest
from integritet.manifest.model import Duration, Manifest

__all__ = ["Duration", "Manifest", "load_manifest"]
