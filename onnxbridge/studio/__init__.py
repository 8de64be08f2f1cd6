"""The studio: a local web app that builds and edits networks visually on the same spec the CLI uses.

The server (FastAPI + uvicorn, the extra ``studio``) is a thin layer over the Python API: routes in
:mod:`onnxbridge.studio.app`, the security checks in :mod:`onnxbridge.studio.security`, files in
:mod:`onnxbridge.studio.workspace`; :class:`onnxbridge.studio.server.StudioServer` runs it. The
front end is built from ``studio-web/`` into ``static/`` by ``scripts/build_studio``. See docs/studio.md.
"""
