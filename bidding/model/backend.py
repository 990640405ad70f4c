"""Hand a :class:`~bidding.model.lp.LinearProgram` to OR-Tools MathOpt and read the answer back.

The matrix goes in through MathOpt's elemental model in a few vectorised calls
(``add_elements``, ``set_attrs``), and the result protobuf is read back into numpy arrays, so
neither direction does Python work per variable. The solver is selectable by name; HiGHS is the
default because it ships inside the OR-Tools wheel and handles LPs and small MIPs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from ortools.math_opt.core.python import solver as core_solver
from ortools.math_opt.elemental.python import enums
from ortools.math_opt.python import callback, init_arguments, mathopt, model_parameters
from ortools.math_opt.python import parameters as mo_parameters

from bidding.model.lp import FloatArray, LinearProgram
from vpp.domain.errors import InvalidInputError

SOLVERS = {
    "highs": mathopt.SolverType.HIGHS,
    "glop": mathopt.SolverType.GLOP,
    "pdlp": mathopt.SolverType.PDLP,
    "cp-sat": mathopt.SolverType.CP_SAT,
    "gscip": mathopt.SolverType.GSCIP,
    "glpk": mathopt.SolverType.GLPK,
}
LP_ALGORITHMS = {
    "primal": mathopt.LPAlgorithm.PRIMAL_SIMPLEX,
    "dual": mathopt.LPAlgorithm.DUAL_SIMPLEX,
    "barrier": mathopt.LPAlgorithm.BARRIER,
}
OPTIMAL = 1  # TerminationReasonProto.TERMINATION_REASON_OPTIMAL
INFEASIBLE = 2  # TerminationReasonProto.TERMINATION_REASON_INFEASIBLE
INFEASIBLE_OR_UNBOUNDED = 4
FEASIBLE = 9  # a limit was reached with a feasible solution


@dataclass(frozen=True)
class LpSolution:
    """What came back from the solver."""

    status: str  # "optimal", "feasible", "infeasible", "unbounded", "error"
    detail: str
    x: FloatArray
    objective: float
    seconds: float


def solver_type(name: str) -> mathopt.SolverType:
    """The MathOpt solver named ``name`` (``highs``, ``glop``, ``pdlp``, ``cp-sat`` ...)."""
    try:
        return SOLVERS[name.lower()]
    except KeyError:
        raise InvalidInputError(
            f"unknown solver {name!r}", hint=f"choose one of {', '.join(SOLVERS)}"
        ) from None


def solve_lp(
    lp: LinearProgram,
    solver: str = "highs",
    time_limit_s: float | None = None,
    relax_integers: bool = False,
    lp_algorithm: str | None = None,
    keep_device_integers: bool = False,
    node_limit: int | None = None,
) -> LpSolution:
    """Solve ``lp`` (maximisation) and return the primal solution as a dense array.

    Parameters
    ----------
    lp : LinearProgram
        The assembled model.
    solver : str
        MathOpt solver name; see :data:`SOLVERS`.
    time_limit_s : float, optional
        Wall-clock limit for the solver [s].
    relax_integers : bool
        Solve the LP relaxation (integer variables treated as continuous).
    lp_algorithm : str, optional
        ``"primal"``, ``"dual"`` (simplex) or ``"barrier"``; ``None`` lets the solver choose.
        Ignored when integer variables remain (the model is then a MIP).
    keep_device_integers : bool
        With ``relax_integers``, keep the device integers (on/off switches) integer and relax
        only the offer integers.
    node_limit : int, optional
        Branch-and-bound nodes a MIP may explore: a limit on work, not on wall-clock time, so
        the answer does not depend on how busy the machine is.
    """
    kind = solver_type(solver)
    model = mathopt.Model(name="parkvpp-bidding")
    el = model._elemental  # MathOpt's vectorised interface
    var = el.add_elements(enums.ElementType.VARIABLE, lp.n_vars)
    lower, upper = lp.bounds()
    keys = var.reshape(-1, 1)
    el.set_attrs(enums.DoubleAttr1.VARIABLE_LOWER_BOUND, keys, lower)
    el.set_attrs(enums.DoubleAttr1.VARIABLE_UPPER_BOUND, keys, upper)
    if not relax_integers:
        integer = lp.integer_ids()
    elif keep_device_integers:
        integer = lp.device_integer_ids()
    else:
        integer = np.zeros(0, dtype=np.int64)
    if integer.size:
        el.set_attrs(
            enums.BoolAttr1.VARIABLE_INTEGER, integer.reshape(-1, 1), np.ones(integer.size, bool)
        )
    objective = lp.objective_vector()
    nonzero = np.flatnonzero(objective)
    if nonzero.size:
        el.set_attrs(
            enums.DoubleAttr1.OBJECTIVE_LINEAR_COEFFICIENT,
            nonzero.reshape(-1, 1),
            objective[nonzero],
        )
    el.set_attr(enums.BoolAttr0.MAXIMIZE, (), True)
    el.set_attr(enums.DoubleAttr0.OBJECTIVE_OFFSET, (), float(lp.objective_offset))
    if lp.n_rows:
        cons = el.add_elements(enums.ElementType.LINEAR_CONSTRAINT, lp.n_rows)
        row_lower, row_upper = lp.row_bounds()
        el.set_attrs(
            enums.DoubleAttr1.LINEAR_CONSTRAINT_LOWER_BOUND, cons.reshape(-1, 1), row_lower
        )
        el.set_attrs(
            enums.DoubleAttr1.LINEAR_CONSTRAINT_UPPER_BOUND, cons.reshape(-1, 1), row_upper
        )
        rows, cols, vals = lp.triplets()
        el.set_attrs(
            enums.DoubleAttr2.LINEAR_CONSTRAINT_COEFFICIENT, np.stack([rows, cols], axis=1), vals
        )
    params = mo_parameters.SolveParameters()
    if time_limit_s is not None:
        params.time_limit = timedelta(seconds=time_limit_s)
    if node_limit is not None and integer.size:
        params.node_limit = node_limit
    if lp_algorithm is not None and not integer.size:
        params.lp_algorithm = LP_ALGORITHMS[lp_algorithm]
    if integer.size:
        # a cent is close enough: relative gaps cannot close on days worth almost nothing
        params.relative_gap_tolerance = 1e-6
        params.absolute_gap_tolerance = 1e-2
    result = core_solver.solve(
        el.export_model(),
        kind.value,
        init_arguments.StreamableSolverInitArguments().to_proto(),
        params.to_proto(),
        model_parameters.ModelSolveParameters().to_proto(),
        None,
        callback.CallbackRegistration().to_proto(),
        None,
        None,
    )
    reason = int(result.termination.reason)
    seconds = result.solve_stats.solve_time.seconds + result.solve_stats.solve_time.nanos * 1e-9
    x = np.zeros(lp.n_vars)
    status = {
        OPTIMAL: "optimal",
        INFEASIBLE: "infeasible",
        INFEASIBLE_OR_UNBOUNDED: "infeasible",
    }.get(reason, "feasible" if reason == FEASIBLE else "error")
    if reason == 3:
        status = "unbounded"
    value = float("nan")
    if result.solutions and result.solutions[0].HasField("primal_solution"):
        primal = result.solutions[0].primal_solution
        ids = np.asarray(primal.variable_values.ids, dtype=np.int64)
        x[ids] = np.asarray(primal.variable_values.values, dtype=float)
        value = float(primal.objective_value)
    elif status in {"optimal", "feasible"}:
        status = "error"
    return LpSolution(status, result.termination.detail, x, value, float(seconds))
