"""Training: the run configuration, one clip's objective (eq. 15), the loop (DDP, resume) and the MOTRv2 losses."""
