"""One OpenMP thread for scikit-learn's gradient boosting.

On a small shared machine OpenMP worker threads spin against each other and against other processes:
a fit or a predict can get tens of times slower. threadpoolctl only limits libraries already loaded,
so scikit-learn's OpenMP runtime is loaded first.
"""

from __future__ import annotations

from typing import Any

_limiter: Any = None


def limit_threads(n: int = 1) -> None:
    global _limiter
    import sklearn.ensemble  # noqa: F401 - loads the OpenMP runtime so the limit applies to it
    from threadpoolctl import threadpool_limits

    _limiter = threadpool_limits(limits=n, user_api="openmp")
