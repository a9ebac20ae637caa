"""Colourising archives on a cluster with Ray Data (`pip install 'photo-colorizer[cluster]'`): sources and outputs on
any filesystem pyarrow knows (local, s3://, gs://, ...), one model copy per Ray actor, a manifest that makes a stopped
run resumable.

    from colorizer.cluster import colorize_dataset
    summary = colorize_dataset(["s3://archive/scans/"], "s3://archive/colour/", workers=8)

Nothing here is imported by `colorizer` itself: Ray and pyarrow load only for a cluster run.
"""

__all__ = ["ClusterError", "ClusterSummary", "colorize_dataset"]


def __getattr__(name: str):
    if name in __all__:
        from colorizer.cluster import run

        return getattr(run, name)
    raise AttributeError(name)
