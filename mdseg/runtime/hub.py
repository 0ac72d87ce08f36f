"""Fail fast and clearly when hub weights cannot be fetched (offline machines, CI)."""
from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlparse


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection within ``timeout`` seconds.

    ``False`` at once when ``HF_HUB_OFFLINE`` is set.
    """
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() not in ("0", "false", ""):
        return False
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def offline_unless_reachable() -> Iterator[bool]:
    """Run the body in hub-offline mode when the hub is unreachable.

    Files already in the local cache still load; missing ones fail at once instead of
    after minutes of retries. Yields whether the hub is reachable.
    """
    reachable = hub_reachable()
    if reachable:
        yield True
        return
    import huggingface_hub.constants as hf_constants

    previous = hf_constants.HF_HUB_OFFLINE
    hf_constants.HF_HUB_OFFLINE = True
    try:
        yield False
    finally:
        hf_constants.HF_HUB_OFFLINE = previous
