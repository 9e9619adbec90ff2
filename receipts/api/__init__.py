"""The HTTP API (FastAPI): ``/v1`` routes, one error handler, body limits. See ``app.py``."""
