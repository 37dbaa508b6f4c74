"""Platform adapters: one folder per platform behind one contract (``base.py``).

Plain Python: nothing here imports Django models. Adapters take and return the dataclasses in
``base.py`` and talk HTTP only through ``http.py``.
"""
