"""VSD-MOT: end-to-end multi-object tracking in low-quality video guided by visual semantic distillation.

One module per concept of the paper; see README.md for the map from equations to modules.
"""

__version__ = "0.1.0"
