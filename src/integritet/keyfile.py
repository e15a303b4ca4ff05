"""Create a secret file exactly once, atomically, even when several threads or processes race.

``O_CREAT | O_EXCL`` followed by a write leaves a moment in which the file exists but is
empty: a second caller that sees it then reads nothing and fails. Here the content is
written and flushed to a private temporary file (0600) first and then published with
``os.link``, which fails if the name exists, so the file is either absent or complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["create_once"]


def create_once(path: Path, content: bytes) -> bool:
    """Publish ``content`` at ``path`` (mode 0600) unless it exists; True if this call did.

    When it returns False another caller won the race and ``path`` holds their complete
    content, which the caller should read and use instead of its own.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # 0600
    try:
        try:
            os.write(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(tmp)
