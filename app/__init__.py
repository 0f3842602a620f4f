"""The application: the composition root (runtime), the command line (cli, ops) and the HTTP
server (http, serve). It wires the framework (`bot`), the domain (`domain`, `handlers`), the
platform adapters (`adapters`), storage and settings together; nothing imports it."""
