"""VSD-MOT: end-to-end multi-object tracking in low-quality video guided by visual semantic distillation.

Sub-packages by role (ARCHITECTURE.md has the tree, the data flow and where each equation lives):
``vsd`` the paper's modules, ``tracking`` the query tracker they plug into, ``data`` and ``training``
what feeds and trains it, ``evaluation`` the metrics, ``core`` shared types, settings and choices;
``cli`` is the one command line (``vsdmot`` / ``python -m model``).
"""

__version__ = "0.1.0"
