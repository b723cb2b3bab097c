"""Real-speech rooms built from recordings in Debian packages (see SOURCES.md and docs/vad.md)."""
