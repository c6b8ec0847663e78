"""The MOTRv2-style query tracker: detector, proposal inputs, queries + hook + decoder, run-time identities, checkpoints."""
