"""kNN monitor during pretraining (the release's validation): the release's 1-NN over the bank, plus weighted kNN.

The bank's labels are the ones captured from training batches (``instance/all_labels``; rows never visited
keep label 0, README decision 15). The validation split is embedded once, completely (README decision 20).
"""
from common.eval.knn import knn_accuracy
from common.eval.knn_monitor import KnnMonitor

__all__ = ["knn_top1", "knn_monitor"]


def knn_top1(bank, bank_labels, queries, query_labels, num_classes, knn_k=200, t=0.07):
    """``{"nn1_top1": 1-NN accuracy (release), "knn_top1": weighted kNN accuracy (K=knn_k, t)}``."""
    nn1 = knn_accuracy(bank, bank_labels, queries, query_labels, num_classes, k=1, t=t)["top1"]
    knn = knn_accuracy(bank, bank_labels, queries, query_labels, num_classes, k=knn_k, t=t)["top1"]
    return {"nn1_top1": nn1, "knn_top1": knn}


def knn_monitor(model, val_dataset, num_classes, period, final_step=None, knn_k=200, t=0.07):
    """The common ``KnnMonitor`` every ``period`` global steps and at ``final_step``: ``knn/nn1_top1`` and
    ``knn/knn_top1`` (``knn_top1``'s values) to the monitors, one JSON line each to ``<logdir>/val_log.txt``.

    ``model`` has ``embed(images, is_training)`` and, once built, ``bank`` / ``label_bank``.
    """
    return KnnMonitor(lambda image, label, index: model.embed(image, False)["embedding"], val_dataset,
                      lambda: (model.bank.shared, model.label_bank.shared), num_classes, [1, knn_k], t,
                      names=["nn1_top1", "knn_top1"], every_k_steps=period, final_step=final_step,
                      scalar_prefix="knn/", log_name="val_log.txt")
