"""Every chat command and job as declared, apart from the handler modules that carry them out
(see `bot.commands.lazy`); `app.commands` lists them."""
