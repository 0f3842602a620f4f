"""The engagement file's `[[people]]` and `[[chats]]`: who is on the engagement, with their
accounts on each channel, and the group chats (or mailboxes) bound to it. Pure; every problem
is reported with its path (see `handlers.sow`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from domain import catalog
from handlers.filereader import Node, show, valid_choices

_PERSON_KEYS = frozenset({"id", "name", "party", "roles", "level", "identities"})
_CHAT_KEYS = frozenset({"channel", "id", "name"})
_PERSON_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


@dataclass(frozen=True, kw_only=True)
class PersonSpec:
    """One person of either party; `key` is the file's `id`."""

    key: str
    name: str
    party: str
    roles: tuple[str, ...]
    level: str | None = None
    identities: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ChatSpec:
    """A group chat (or mailbox) bound to the engagement."""

    channel: str
    id: str
    name: str = ""


def parse_people(root: Node) -> tuple[PersonSpec, ...]:
    """The file's `[[people]]`: ids are unique ignoring case, an account belongs to one person."""
    items = root.sequence("people")
    people: list[PersonSpec] = []
    ids: dict[str, str] = {}  # casefolded id -> "people[0]"
    owners: dict[tuple[str, str], str] = {}  # (channel, external id) -> "people[1] (zhao.gang)"
    for i in items.data:
        t = items.table(i, _PERSON_KEYS)
        person = _person(t) if t.valid else None
        if person is None:
            continue
        folded = person.key.casefold()
        if folded in ids:
            t.add("id", f"{person.key!r} is already used by {ids[folded]}")
        if folded:
            ids.setdefault(folded, t.path)
        me = f"{t.path} ({person.key})"
        for channel, external in person.identities.items():
            owner = owners.setdefault((channel, external), me)
            if owner != me:
                t.add(f"identities.{channel}", f"{external!r} is already used by {owner}")
        people.append(person)
    return tuple(people)


def _person(t: Node) -> PersonSpec:
    key, name = t.text("id", required=True), t.text("name", required=True)
    if key and not _PERSON_ID.fullmatch(key):
        t.add("id", f"bad id {show(key)} (letters, digits, '.', '_', '-'; e.g. wang.li)")
    party = t.choice("party", catalog.PARTIES, "party", required=True)
    roles = t.choices("roles", catalog.ROLES, "role") or ()
    if not t.get("roles"):
        t.add("roles", f"at least one role is required {valid_choices(catalog.ROLES)}")
    for role in roles:
        if party and catalog.ROLE_PARTY[role] not in (None, party):
            who = key or "this person"
            t.add("roles", f"{role!r} is a {catalog.ROLE_PARTY[role]} role, but {who} is {party}")
    level = t.choice("level", catalog.LEVELS, "level") or None
    if "engineer" in roles and t.get("level") is None:
        t.add("level", f"required for an engineer {valid_choices(catalog.LEVELS)}")
    if party == "client" and t.get("level") is not None:
        t.add("level", "only vendor people have a level (remove it)")
    identities = _identities(t.table("identities"))
    return PersonSpec(
        key=key, name=name, party=party, roles=roles, level=level, identities=identities
    )


def _identities(t: Node) -> dict[str, str]:
    identities: dict[str, str] = {}
    for channel in t.data:
        if channel not in catalog.CHANNELS:
            t.add(channel, f"unknown channel {show(channel)} {valid_choices(catalog.CHANNELS)}")
            continue
        external = t.text(channel)
        if channel == "email":
            external = external.lower()
            if external and not _EMAIL.fullmatch(external):
                t.add(channel, f"{external!r} is not an email address (e.g. li@client.example)")
        if external:
            identities[channel] = external
    return identities


def parse_chats(root: Node) -> tuple[ChatSpec, ...]:
    """The file's `[[chats]]`, each once."""
    items = root.sequence("chats")
    chats: list[ChatSpec] = []
    seen: dict[tuple[str, str], str] = {}  # (channel, id) -> "chats[0]"
    for i in items.data:
        t = items.table(i, _CHAT_KEYS)
        if not t.valid:
            continue
        channel = t.choice("channel", catalog.CHANNELS, "channel", required=True)
        chat = ChatSpec(channel=channel, id=t.text("id", required=True), name=t.text("name"))
        if channel and chat.id and (channel, chat.id) in seen:
            t.add("id", f"{channel} chat {chat.id!r} is already listed as {seen[channel, chat.id]}")
            continue
        seen[channel, chat.id] = t.path
        chats.append(chat)
    return tuple(chats)
