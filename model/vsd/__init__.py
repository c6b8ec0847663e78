"""The paper's own modules: frame quality, DSWR (eqs. 13-14), the student (1-3), DCSD (4-12), the frozen teacher, the LQ degradation (17)."""
