"""Search spaces: parameter types, conditions, sampling, grids and the unit-cube encoding.

The lowest layer of hpo: it imports nothing else of the project. ::

    from search_spaces import SearchSpace
    space = SearchSpace.from_dict({
        "lr": {"min": 1e-5, "max": 1e-1, "distribution": "log_uniform_values"},
        "opt": {"values": ["sgd", "adam"]},
        "momentum": {"min": 0.0, "max": 0.99, "when": {"opt": "sgd"}},
    })
    config = space.sample(numpy.random.default_rng(0))   # momentum only when opt == "sgd"
"""

from __future__ import annotations

from search_spaces._common import Scalar, When
from search_spaces._errors import HPOError, SearchSpaceError
from search_spaces._float import Float
from search_spaces._int import Int
from search_spaces._params import Categorical, Constant, Parameter
from search_spaces._parse import Distribution
from search_spaces._space import SearchSpace, as_space

__all__ = [
    "Categorical",
    "Constant",
    "Distribution",
    "Float",
    "HPOError",
    "Int",
    "Parameter",
    "Scalar",
    "SearchSpace",
    "SearchSpaceError",
    "When",
    "as_space",
]
