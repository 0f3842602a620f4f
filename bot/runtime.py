"""The composition root: settings, database, commands, jobs and the bus, wired together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from bot.bus import Bus
from bot.commands import Registry
from bot.scheduler import Job
from config.settings import Settings
from storage.db import make_engine


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    registry: Registry
    jobs: list[Job]
    bus: Bus

    @property
    def bot_names(self) -> frozenset[str]:
        return frozenset(name.lower() for name in self.settings.bot.names)


def build(settings: Settings, engine: Engine | None = None) -> Runtime:
    import handlers

    engine = engine or make_engine(settings.db)
    registry = Registry(handlers.all_commands())
    bus = Bus(engine, registry, settings.bot.names)
    return Runtime(settings, engine, registry, handlers.all_jobs(), bus)
