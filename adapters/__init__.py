"""Channel adapters: each knows one platform and nothing of the domain.

One package per platform (`feishu`, `dingtalk`, `wecom`, `email`; `console` is a module): pure
`parse` and `render`, a `client` that sends, and the receivers. What they all need is written
once here: `plumbing` (HTTP answers, freshness, handing over to the bus, refusals), `bridge`
(from an SDK's thread to the bus's event loop), `replay` (credentials that count once) and
`decisions` (the buttons of rows that ask for a decision).

A package's `__init__` offers only `create(settings)`; the app imports it when the channel is
enabled (`app.channels`), and only then does the platform's SDK load.
"""
