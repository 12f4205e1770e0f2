"""The recursive cost engine (spec §3-§5), vectorised over candidates and iteration cases.

A level is analysed for a batch of *rows*; a row is a candidate index plus a dynamic
dimension table ``DD``. Rows whose directives have the same number of iteration states share
a case list and MAESTRO's case order (§3.2 depends only on those counts); they form a group.
Rows with fewer states may join a group with more as padding, their missing states being
cases that do not exist (:func:`.states.merge_groups`): a group's numpy calls cost about the
same for 1 row as for 100, so fewer, larger groups make small batches several times faster.

The child level's dims are ``mp`` or ``mpe`` of each variable (§4.5), so a child row is the key
``(candidate, bitmask)``; the child level is evaluated once per distinct key (memoisation,
spec §5.1).

The steps, one module each (docs/cost-model.md walks through them):

* :mod:`.states`: iteration states of each directive, the case grid and its order, groups;
* :mod:`.cases`: a group's cases, their states and compute delay, the child keys;
* :mod:`.egress` and :mod:`.ingress`: the output and input side of every case;
* :mod:`.reduction`: NoC and case delays, and the reduction of the cases to records;
* :mod:`.recursion`: :class:`Engine`, which walks the levels and memoises the children.
"""

from ..validity import (
    ERR_NO_VALID,
    ERR_OCC_WRAP,
    ERR_PES,
    ERR_UNIQUE_ZERO,
    ERR_ZERO_COMPUTE,
    ERROR_REASONS,
)
from .recursion import CHUNK, Engine, HardwareBatch
from .states import EDGE, INIT, STEADY, case_grid, code_counts, merge_groups

# the names the README and mapper/tuning/tuner.py refer to
_code_counts = code_counts
_merge_groups = merge_groups

__all__ = [
    "CHUNK", "EDGE", "ERROR_REASONS", "ERR_NO_VALID", "ERR_OCC_WRAP", "ERR_PES", "ERR_UNIQUE_ZERO",
    "ERR_ZERO_COMPUTE", "INIT", "STEADY", "Engine", "HardwareBatch", "case_grid",
    "code_counts", "merge_groups",
]
