"""The session lifecycle: what happens, in order, from spawn to the last envelope.

``lifecycle.py`` reads top to bottom in the order of a session; each step lives in a module of
its own here (``boot``, ``startup``, ``context``, ``join``). The lifecycle uses rooms, pipelines,
policy and events; nothing below it imports this package. Two thin entries start it:
``python -m bot`` (``bot.cli``) and Pipecat Cloud (``bot.cloud``).
"""
