"""The demo: simulated agent traffic and ``receipt demo``, on the real code paths."""
