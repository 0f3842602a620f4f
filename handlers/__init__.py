"""The handlers: each module declares its chat commands (`COMMANDS`) and scheduled jobs
(`JOBS`), looks up the domain's rule (`domain`), then persists and notifies. The app lists the
modules (`app.commands`)."""
