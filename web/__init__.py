"""The web console (`/看板`): pages for the people who decide, the evidence pack and the read API.

Imported only by the HTTP app (`app.http`): nothing a console command runs loads it."""
