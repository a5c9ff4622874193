"""k-means with faiss: on the GPU when faiss has one, on the CPU otherwise (used by Local Aggregation's
clustering and by the GPU check's k-means probe)."""
import os

# faiss' OpenMP threads busy-wait by default: next to TensorFlow's threads that made a 10k x 100 k-means
# 50x slower on 2 cores (15.5 s vs 0.29 s passive). Must be set before the OpenMP runtime loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import faiss  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["faiss_kmeans"]


def _flat_index(dim):
    if hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0:
        config = faiss.GpuIndexFlatConfig()
        config.device = 0
        config.useFloat16 = False
        return faiss.GpuIndexFlatL2(faiss.StandardGpuResources(), dim, config)
    return faiss.IndexFlatL2(dim)


def faiss_kmeans(data, k, niter, seed, max_points_per_centroid):
    """Cluster the rows of float32 ``data`` ``[N, D]`` into ``k`` clusters (``niter`` iterations, faiss
    ``seed``, no subsampling below ``max_points_per_centroid`` x k rows); int64 nearest-centroid labels ``[N]``."""
    data = np.ascontiguousarray(data, dtype=np.float32)
    clus = faiss.Clustering(data.shape[1], k)
    clus.niter = niter
    clus.max_points_per_centroid = max_points_per_centroid
    clus.seed = seed
    clus.verbose = False
    index = _flat_index(data.shape[1])
    clus.train(data, index)
    _, nearest = index.search(data, 1)
    return nearest[:, 0].astype(np.int64)
