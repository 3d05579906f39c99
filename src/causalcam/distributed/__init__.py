"""causalcam under ``torchrun``: one process per GPU (NCCL) or per CPU share (gloo).

- :mod:`.context`: :func:`join_launch` joins the launch (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``)
  with a bounded timeout, checks that every rank runs the same command and claims the output
  folder; :func:`current` is the running context (a single process outside a launch).
- :mod:`.shards`: deterministic chunks and shards of an ordered item list; :func:`run_sharded`
  runs a job over them with per-chunk markers, so a rerun redoes only unfinished chunks.
- :mod:`.explain`: ``causalcam explain`` sharded over image files.
- :mod:`.evaluate`: threshold deletion/insertion (``evaluate``, ``transfer``, the stages of
  ``reproduce``) and RISE sharded over test images.
"""

from .context import (
    DISTRIBUTED_COMMANDS,
    Context,
    check_agreement,
    current,
    join_launch,
    launched,
)
from .evaluate import sharded_evaluate_maps, sharded_rise_auc
from .shards import ShardedJob, ShardReport, chunk_ranges, plan, run_sharded, shard_indices

__all__ = [
    "DISTRIBUTED_COMMANDS",
    "Context",
    "ShardReport",
    "ShardedJob",
    "check_agreement",
    "chunk_ranges",
    "current",
    "join_launch",
    "launched",
    "plan",
    "run_sharded",
    "shard_indices",
    "sharded_evaluate_maps",
    "sharded_rise_auc",
]
