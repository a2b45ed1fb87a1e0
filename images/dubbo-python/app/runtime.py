"""One Dubbo bootstrap per process, logging plain lines (the library's default is coloured,
which makes `docker logs` hard to read), with our hooks in the library installed first
(attachments.py: `dubbo.tag` as a triple header; library_fixes.py: one stream table per
server connection)."""

import os

from typing import Optional

import dubbo
from dubbo.configs import LoggerConfig, RegistryConfig

import attachments
import library_fixes

_bootstrap = None


def bootstrap(registry: Optional[RegistryConfig] = None) -> dubbo.Dubbo:
    """The process's bootstrap; `registry` (first call only) makes the library register the
    services it serves, with its own registry code."""
    global _bootstrap
    if _bootstrap is None:
        attachments.install()
        library_fixes.install()
        config = LoggerConfig(level=os.environ.get("DUBBO_LOG_LEVEL", "INFO"))
        config.set_console(LoggerConfig.ConsoleConfig(formatter="%(asctime)s %(levelname)s dubbo: %(message)s"))
        _bootstrap = dubbo.Dubbo(logger_config=config, registry_config=registry)
    return _bootstrap
