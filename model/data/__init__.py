"""What feeds the tracker: frames, MOTChallenge I/O, the frozen-feature cache, the training split and clips, augmentation, rendering."""
