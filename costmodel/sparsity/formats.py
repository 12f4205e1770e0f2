"""Storage formats: kept elements and metadata bits of a tile, as a ratio to the dense tile.

With ``b`` data bits per element, a tile of ``n`` elements holding ``k`` nonzeros costs:

* ``dense``: ``n b`` (zeros stored);
* ``bitmask``: ``k b + n`` (one presence bit per element);
* ``coordinate``: ``k (b + c) + ceil(log2 (n + 1))`` (a coordinate per nonzero and a count
  per tile, a CSR-like list); ``c = ceil(log2 n)`` indexes the tile, or a fixed width
  (``coord_bits``, e.g. Sparseloop's whole-matrix coordinates);
* ``nm``: ``k (b + ceil(log2 M))`` with ``k = n N / M`` (an index within its group per kept
  element); for tensors with an N:M structure (a dense tensor is stored dense, an
  unstructured sparse one is an error);
* ``rle``: ``(k + pads) (b + r)``: every entry carries an ``r``-bit run of zeros before it;
  a run longer than ``2^r - 1`` needs a padding entry, ``E[pads] = k q^L / (1 - q^L)`` for
  random data with ``q = 1 - d``, ``L = 2^r``.
"""

from __future__ import annotations

import numpy as np

from ..errors import MaestroInputError
from .density import Density


def _log2c(x) -> np.ndarray:
    return np.ceil(np.log2(np.maximum(np.asarray(x, dtype=np.float64), 1.0)))


def tile_bits(fmt: str, n, kept, dens: Density, bits: float, rle_bits: int = 4,
              coord_bits: int = 0):
    """``(data bits, metadata bits)`` of a tile of ``n`` elements with ``kept`` nonzeros;
    ``coord_bits`` > 0 fixes the coordinate width (else ``ceil(log2 n)``)."""
    n = np.asarray(n, dtype=np.float64)
    k = np.asarray(kept, dtype=np.float64)
    if fmt == "dense":
        return n * bits, np.zeros_like(n)
    if fmt == "bitmask":
        return k * bits, n
    if fmt == "coordinate":
        width = _log2c(n) if coord_bits <= 0 else np.full_like(n, float(coord_bits))
        return k * bits, k * width + _log2c(n + 1.0)
    if fmt == "nm" and dens.is_dense and not dens.structured:
        return n * bits, np.zeros_like(n)   # a dense tensor on N:M hardware: stored dense
    if fmt == "nm":
        if not dens.structured:
            raise MaestroInputError(f"format 'nm' needs an N:M structured tensor, got density "
                                    f"{dens}", rule="sparsity-format")
        return k * bits, k * _log2c(dens.m)
    if fmt == "rle":
        q = 1.0 - dens.value
        L = 2.0 ** rle_bits
        pads = k * (q ** L) / max(1.0 - q ** L, 1e-12)
        return (k + pads) * bits, (k + pads) * rle_bits
    raise MaestroInputError(f"unknown format {fmt!r}", rule="sparsity-format")


def ratio(fmt: str, n, dens: Density, bits: float, rle_bits: int = 4, kept=None,
          coord_bits: int = 0):
    """Stored bits over the dense tile's bits (data and metadata), and the metadata share of
    it. ``kept`` defaults to the expected nonzeros ``n d``."""
    n = np.maximum(np.asarray(n, dtype=np.float64), 1.0)
    k = n * dens.value if kept is None else np.asarray(kept, dtype=np.float64)
    data, meta = tile_bits(fmt, n, k, dens, bits, rle_bits, coord_bits)
    return (data + meta) / (n * bits), meta / (n * bits)
