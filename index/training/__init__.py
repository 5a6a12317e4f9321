"""Learning from legal questions: a query tower trained against the index's own passage vectors.

Why query-side only: the passage vectors of a 55k-statute index cost ~18
minutes of int8 embedding on 2 cores; a tower that learns to map lay
questions onto the vectors already in the index needs no re-embedding, so a
trained model can be swapped in (or out) without rebuilding anything, and the
nightly job keeps embedding with the model the index was built with.

Modules: `pairs` (what is learnt from), `tower` (the training loop),
`fusion` (BM25/dense weights fitted on questions the tower never saw),
`crossval` (k-fold figures), `artifact` (the saved model and its record),
`run` (the `python -m index train` pipeline).
"""
