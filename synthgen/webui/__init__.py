"""`synthgen review`: the local web app for the three human checkpoints (seeds, samples,
drift), a face like cli/ over the stages' own code. Starlette is imported only when a review
starts (the optional extra `synthgen[review]`)."""
