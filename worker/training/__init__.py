"""The shared torch training core, usable without any server: ``run.train(spec, ...)`` is the entry point.

- ``run``: one whole run (data, model, epochs, checkpoints, early stopping, fig3, artifacts) -> ``Summary``.
- ``loop``: one epoch of training with per-step tracking; optimizer choice; early-stopping state.
- ``evaluate``: eval-mode logits, loss and accuracy of a split.
- ``data``: MNIST (IDX) and Dogs vs Cats (JPEG, decoded once into a cache) as device tensors.
- ``models``: mlp, cnn, vgg ("DeepBoi") and the init schemes.
- ``dropout_eval``: fig3's three dropout inference schemes.  ``visualize``: fig6/fig7 pictures.
- ``checkpoint``: ``last.pt`` / ``best.pt``.  ``device``: CPU/CUDA settings.  ``errors``: DataError, Aborted.
- ``callbacks``: the hooks a run fires (metrics, artifacts, cancellation).

Importing this package does not import torch; its modules (except ``callbacks``) do.
"""
