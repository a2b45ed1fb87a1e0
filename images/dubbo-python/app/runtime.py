"""One Dubbo bootstrap per process, logging plain lines (the library's default is coloured,
which makes `docker logs` hard to read)."""

import os

from typing import Optional

import dubbo
from dubbo.configs import LoggerConfig, RegistryConfig

_bootstrap = None


def bootstrap(registry: Optional[RegistryConfig] = None) -> dubbo.Dubbo:
    """The process's bootstrap; `registry` (first call only) makes the library register the
    services it serves, with its own registry code."""
    global _bootstrap
    if _bootstrap is None:
        config = LoggerConfig(level=os.environ.get("DUBBO_LOG_LEVEL", "INFO"))
        config.set_console(LoggerConfig.ConsoleConfig(formatter="%(asctime)s %(levelname)s dubbo: %(message)s"))
        _bootstrap = dubbo.Dubbo(logger_config=config, registry_config=registry)
    return _bootstrap
