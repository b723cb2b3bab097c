"""The shared vocabulary every layer may import: user-facing errors, the project's Pipecat frames
and media time. It imports nothing else of the bot beyond ``bot.events`` and ``bot.generated``."""
