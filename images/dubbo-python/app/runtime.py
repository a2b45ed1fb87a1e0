"""One Dubbo bootstrap per process, logging plain lines (the library's default is coloured,
which makes `docker logs` hard to read)."""

import os

import dubbo
from dubbo.configs import LoggerConfig

_bootstrap = None


def bootstrap() -> dubbo.Dubbo:
    global _bootstrap
    if _bootstrap is None:
        config = LoggerConfig(level=os.environ.get("DUBBO_LOG_LEVEL", "INFO"))
        config.set_console(LoggerConfig.ConsoleConfig(formatter="%(asctime)s %(levelname)s dubbo: %(message)s"))
        _bootstrap = dubbo.Dubbo(logger_config=config)
    return _bootstrap
