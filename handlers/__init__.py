"""The handlers: each module carries out chat commands and scheduled jobs — looks up the
domain's rule (`domain`), then persists and notifies. What each command is (names, arguments,
who may run it) is declared apart, in `handlers.declared`, so that parsing, permissions and
`/help` import no handler module; a handler module is imported when one of its commands first
runs. The app lists the declarations (`app.commands`)."""
