"""A linear program assembled in matrix form, block by block, and handed to MathOpt in bulk.

The ``define_*`` functions of :mod:`bidding.model` add *blocks*: a family of variables or of
constraints with one name, a shape (scenario x interval, interval, ...) and, for constraints,
labels saying which asset and which interval each row belongs to. Coefficients are numpy arrays,
so building a model costs a handful of numpy operations per block rather than Python work per
variable; the finished matrix is passed to OR-Tools MathOpt's elemental model with
``add_elements``/``set_attrs`` (its vectorised interface) and solved by the chosen solver.
Row labels are what lets an infeasible model be explained in words (see ``bidding.solve``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.floating[Any]]
Term = tuple[float | FloatArray, IntArray]


@dataclass
class Block:
    """One family of constraints: rows ``first .. first + size``, shaped like ``shape``."""

    name: str
    asset: str
    first: int
    shape: tuple[int, ...]
    elastic: bool
    describe: str

    @property
    def size(self) -> int:
        """Number of rows."""
        return int(np.prod(self.shape)) if self.shape else 1


@dataclass
class VariableBlock:
    """One family of variables: ids ``first .. first + size`` shaped like ``shape``."""

    name: str
    asset: str
    first: int
    shape: tuple[int, ...]
    integer: bool = False


@dataclass
class LinearProgram:
    """Variables, constraint rows and a linear objective, stored as numpy arrays.

    Rows are ``lower <= sum_j a_ij x_j <= upper``. The objective is maximised.
    """

    lower_bounds: list[FloatArray] = field(default_factory=list)
    upper_bounds: list[FloatArray] = field(default_factory=list)
    integers: list[IntArray] = field(default_factory=list)
    device_integers: list[IntArray] = field(default_factory=list)
    objective: list[tuple[IntArray, FloatArray]] = field(default_factory=list)
    rows: list[IntArray] = field(default_factory=list)
    cols: list[IntArray] = field(default_factory=list)
    coefs: list[FloatArray] = field(default_factory=list)
    row_lower: list[FloatArray] = field(default_factory=list)
    row_upper: list[FloatArray] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    variable_blocks: list[VariableBlock] = field(default_factory=list)
    n_vars: int = 0
    n_rows: int = 0
    objective_offset: float = 0.0

    def add_variables(
        self,
        name: str,
        shape: Sequence[int],
        lower: float | FloatArray = 0.0,
        upper: float | FloatArray = np.inf,
        *,
        asset: str = "",
        integer: bool = False,
        device: bool = False,
    ) -> IntArray:
        """Add a block of variables and return their ids with ``shape``.

        ``device=True`` marks integer variables of a device's own physics (an on/off switch):
        they stay integer in the final solves that relax the offer integers (reserve
        increments) of relax-and-fix.
        """
        shape = tuple(int(s) for s in shape)
        size = int(np.prod(shape)) if shape else 1
        ids = np.arange(self.n_vars, self.n_vars + size, dtype=np.int64).reshape(shape)
        self.lower_bounds.append(np.broadcast_to(np.asarray(lower, float), shape).ravel().copy())
        self.upper_bounds.append(np.broadcast_to(np.asarray(upper, float), shape).ravel().copy())
        if integer:
            self.integers.append(ids.ravel())
            if device:
                self.device_integers.append(ids.ravel())
        self.variable_blocks.append(VariableBlock(name, asset, self.n_vars, shape, integer))
        self.n_vars += size
        return ids

    def set_upper(self, ids: IntArray, upper: float | FloatArray) -> None:
        """Tighten the upper bound of existing variables ``ids``."""
        self._set_bound(ids, upper, self.upper_bounds)

    def set_lower(self, ids: IntArray, lower: float | FloatArray) -> None:
        """Tighten the lower bound of existing variables ``ids``."""
        self._set_bound(ids, lower, self.lower_bounds)

    def _set_bound(self, ids: IntArray, value: float | FloatArray, store: list[FloatArray]) -> None:
        flat = np.concatenate(store) if len(store) > 1 else store[0]
        values = np.broadcast_to(np.asarray(value, float), ids.shape).ravel()
        flat[ids.ravel()] = values
        store.clear()
        store.append(flat)

    def add_constraints(
        self,
        name: str,
        terms: Sequence[Term],
        lower: float | FloatArray = -np.inf,
        upper: float | FloatArray = np.inf,
        *,
        asset: str = "",
        elastic: bool = False,
        describe: str = "",
    ) -> IntArray:
        """Add rows ``lower <= sum(coef * x[ids]) <= upper``, broadcasting every term.

        Parameters
        ----------
        name : str
            Family name, e.g. ``"soc_balance"``.
        terms : sequence of (coefficient, ids)
            Each ``ids`` array (and its coefficient) broadcasts to the block shape.
        lower, upper : float or array
            Row bounds, broadcast to the block shape.
        asset : str
            Asset the rows belong to ("" for park-wide rows).
        elastic : bool
            Whether an infeasibility diagnosis may relax these rows to explain a failure.
        describe : str
            Human wording of the constraint, used in explanations.
        """
        shapes = [np.shape(ids) for _, ids in terms]
        shapes += [np.shape(lower), np.shape(upper)]
        shape = np.broadcast_shapes(*shapes)
        size = int(np.prod(shape)) if shape else 1
        row_ids = np.arange(self.n_rows, self.n_rows + size, dtype=np.int64).reshape(shape)
        for coef, ids in terms:
            ids_b = np.broadcast_to(ids, shape).ravel()
            coef_b = np.broadcast_to(np.asarray(coef, float), shape).ravel()
            self.rows.append(row_ids.ravel())
            self.cols.append(ids_b)
            self.coefs.append(coef_b)
        self.row_lower.append(np.broadcast_to(np.asarray(lower, float), shape).ravel().copy())
        self.row_upper.append(np.broadcast_to(np.asarray(upper, float), shape).ravel().copy())
        self.blocks.append(Block(name, asset, self.n_rows, shape, elastic, describe or name))
        self.n_rows += size
        return row_ids

    def add_objective(self, ids: IntArray, coef: float | FloatArray) -> None:
        """Add ``sum(coef * x[ids])`` to the (maximised) objective."""
        coef_b = np.broadcast_to(np.asarray(coef, float), np.shape(ids)).ravel()
        self.objective.append((np.asarray(ids).ravel(), coef_b))

    # --- assembled arrays -------------------------------------------------------------------

    def bounds(self) -> tuple[FloatArray, FloatArray]:
        """Variable lower and upper bounds, length ``n_vars``."""
        return _cat(self.lower_bounds), _cat(self.upper_bounds)

    def objective_vector(self) -> FloatArray:
        """Dense objective coefficients, length ``n_vars``."""
        vector = np.zeros(self.n_vars)
        for ids, coef in self.objective:
            np.add.at(vector, ids, coef)
        return vector

    def triplets(self) -> tuple[IntArray, IntArray, FloatArray]:
        """Constraint matrix as (row, column, value) with duplicates summed and zeros dropped."""
        if not self.rows:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        rows, cols, vals = _cat_int(self.rows), _cat_int(self.cols), _cat(self.coefs)
        key = rows * max(self.n_vars, 1) + cols
        order = np.argsort(key, kind="stable")
        key, vals = key[order], vals[order]
        unique, start = np.unique(key, return_index=True)
        summed = np.add.reduceat(vals, start) if len(vals) else vals
        keep = summed != 0.0
        unique, summed = unique[keep], summed[keep]
        return unique // max(self.n_vars, 1), unique % max(self.n_vars, 1), summed

    def row_bounds(self) -> tuple[FloatArray, FloatArray]:
        """Row lower and upper bounds, length ``n_rows``."""
        return _cat(self.row_lower), _cat(self.row_upper)

    def integer_ids(self) -> IntArray:
        """Ids of integer variables."""
        return _cat_int(self.integers) if self.integers else np.zeros(0, dtype=np.int64)

    def device_integer_ids(self) -> IntArray:
        """Ids of the integer variables of device physics (``add_variables(device=True)``)."""
        return _cat_int(self.device_integers)

    def offer_integer_ids(self) -> IntArray:
        """Ids of the other integer variables (reserve increments, whole lots)."""
        return np.setdiff1d(self.integer_ids(), self.device_integer_ids(), assume_unique=True)

    def block_of_row(self, row: int) -> tuple[Block, tuple[int, ...]]:
        """The block holding ``row`` and the row's index within the block shape."""
        for block in self.blocks:
            if block.first <= row < block.first + block.size:
                position = np.unravel_index(row - block.first, block.shape) if block.shape else ()
                return block, tuple(int(p) for p in position)
        raise IndexError(row)


def _cat(parts: list[FloatArray]) -> FloatArray:
    return np.concatenate(parts) if parts else np.zeros(0)


def _cat_int(parts: list[IntArray]) -> IntArray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
