"""The composition root: settings, database, commands, jobs, the app's vocabulary and the bus,
wired together."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from sqlalchemy import Engine

from app.commands import all_commands, all_jobs
from bot.bus import Bus
from bot.registry import Registry
from bot.scheduler import Job
from bot.vocabulary import Vocabulary
from config.settings import Settings, load_settings
from domain import catalog
from domain.policy import policy_of
from storage.db import make_engine
from storage.models import Engagement


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

    @property
    def vocabulary(self) -> Vocabulary:
        return self.bus.vocabulary


def vocabulary(settings: Settings | None = None) -> Vocabulary:
    """What the framework is told of the domain: role names, who an unknown reporter is,
    the channels in their order, how an engagement's policy is read, and the settings handlers
    read (the web console's address and link limits)."""
    return Vocabulary(
        role_names={key: (term.zh, term.en) for key, term in catalog.ROLES.items()},
        unregistered_role=catalog.UNREGISTERED_REPORTER,
        channels=catalog.CHANNELS,
        policy=policy_of,
        email_signing=_email_signing,
        settings=settings,
    )


def _email_signing(engagement: Engagement) -> bool:
    return policy_of(engagement).email_signing


def build(settings: Settings, engine: Engine | None = None) -> Runtime:
    engine = engine or make_engine(
        settings.db,
        synchronous=settings.database.sqlite_synchronous,
        pool_size=settings.database.pool_size,
    )
    registry = Registry(all_commands())
    bus = Bus(engine, registry, settings.bot.names, vocabulary=vocabulary(settings))
    return Runtime(settings, engine, registry, all_jobs(), bus)


def from_args(args: argparse.Namespace) -> Runtime:
    """The runtime of an operator command: the settings the CLI checked (`args.settings`), or
    read now, with `--db` if given."""
    settings = getattr(args, "settings", None)
    if settings is None:
        overrides = {"db": args.db} if getattr(args, "db", None) else {}
        settings = load_settings(**overrides)
    return build(settings)
