"""healthtrack/gunicorn_conf.py: gunicorn as the Dockerfile runs it."""

from __future__ import annotations

from types import SimpleNamespace

from gunicorn.config import Config
from gunicorn.glogging import Logger

from healthtrack import gunicorn_conf


def test_gunicorn_builds_no_access_line_of_its_own():
    cfg = Config()
    cfg.set("logconfig_dict", gunicorn_conf.logconfig_dict)
    cfg.set("logger_class", gunicorn_conf.logger_class)
    # Not instantiated: a gunicorn Logger applies its logging configuration to this process.
    logger = SimpleNamespace(cfg=cfg)
    # With logconfig_dict set, gunicorn's own logger would build every request's line.
    assert Logger._compute_access_log_enabled(logger) is True
    assert issubclass(cfg.logger_class, Logger)
    assert cfg.logger_class._compute_access_log_enabled(logger) is False
