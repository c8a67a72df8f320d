"""ONNX export, scikit-learn's way: converters registered with skl2onnx.

Importing this module registers a converter for each of entembed's estimators,
so that ``skl2onnx.to_onnx`` converts them alone or inside a ``Pipeline`` (with
``HistGradientBoostingRegressor``, say, whose skl2onnx converter it mends where
it fails). Needs the ``onnx`` extra: ``pip install "entembed[onnx]"``.

The graph takes one input per column, named as the column, shape ``(N, 1)``:

- a text column is a string tensor; a missing value is the empty string
  ``""`` (unless ``""`` was a category in fit). An ONNX-ML ``LabelEncoder``
  maps each string to its code, unseen and rare ones to the unknown code.
- a column of integer categories is an int64 or double tensor (double carries
  missing values as NaN); boolean categories come as booleans or numbers.
- a numeric column is a float or double tensor.

One ``Gather`` per column then reads the vectors. A column cut into pieces of
text (``string_features_``) serves its categories' composed vectors; ONNX has
no operator that cuts and hashes a string, so the graph serves a string never
seen in fit the unknown vector where ``transform`` composes one (a warning
says so). A predictor's layers run in
double precision, as its numpy ``predict`` does, so the outputs agree with
numpy's within 1e-6. :func:`to_onnx` converts a fitted estimator (or a pipeline
that starts with one) with the input types its fit saw, and :func:`input_feed`
turns a DataFrame into the inputs an ONNX runtime takes.

In short::

    import entembed.onnx, onnxruntime
    onnx_model = entembed.onnx.to_onnx(pipeline)
    session = onnxruntime.InferenceSession(onnx_model.SerializeToString())
    predictions = session.run(None, entembed.onnx.input_feed(onnx_model, X))[0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from onnx import TensorProto
from skl2onnx import to_onnx as _skl2onnx_to_onnx
from skl2onnx import update_registered_converter
from skl2onnx.common.data_types import (
    BooleanTensorType,
    DoubleTensorType,
    FloatTensorType,
    Int32TensorType,
    Int64TensorType,
    StringTensorType,
)
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._embedder import EntityEmbedder
from ._numpy_network import column_pairs
from ._predictors import EntityEmbeddingClassifier, EntityEmbeddingRegressor
from ._vocabulary import MISSING_CODE, N_RESERVED_CODES, UNKNOWN_CODE
from ._warnings import warn

__all__ = ["initial_types", "input_feed", "to_onnx"]

_ML = "ai.onnx.ml"
_INTEGER_TYPES = (Int64TensorType, Int32TensorType, BooleanTensorType)
_REAL_TYPES = (FloatTensorType, DoubleTensorType)


# ------------------------------------------------------------------ inputs
def _category_kind(categories: np.ndarray, column: str) -> str:
    """ "text" or "integer": how the graph can key a column's categories."""
    values = list(categories)
    if all(isinstance(v, str) for v in values):
        return "text"
    if all(
        isinstance(v, (bool, np.bool_, int, np.integer))
        or (isinstance(v, (float, np.floating)) and float(v).is_integer())
        for v in values
    ):
        return "integer"
    raise ValueError(
        f"Column {column!r} has categories that are neither all text nor all "
        f"whole numbers (e.g. {values[:3]}); ONNX export keys text or integer "
        "categories. Convert the column (e.g. .astype(str)) and refit."
    )


def _estimator(model):
    """The entembed estimator a model is, or the first step of a pipeline."""
    if isinstance(model, Pipeline):
        model = model.steps[0][1]
    if not isinstance(
        model, (EntityEmbedder, EntityEmbeddingRegressor, EntityEmbeddingClassifier)
    ):
        raise TypeError(
            "initial_types reads a fitted entembed estimator, or a Pipeline whose "
            f"first step is one; got {type(model).__name__}."
        )
    check_is_fitted(model)
    return model


def _read_numbers(model) -> list[str]:
    """The numeric columns a model reads: the embedder passes columns through,
    a predictor feeds them to its network."""
    if isinstance(model, EntityEmbedder):
        read = list(model.passthrough_columns_)
        if model.append_prediction:  # its network reads the numeric columns
            read += [c for c in model.numeric_columns_ if c not in read]
        return read
    return list(model.numeric_columns_)


def initial_types(model) -> list[tuple[str, object]]:
    """skl2onnx input types of a fitted estimator, from what its fit saw.

    Text categories take strings; integer and boolean categories take doubles
    (so that NaN can mark a missing value); numeric columns take doubles.

    Parameters
    ----------
    model : EntityEmbedder, EntityEmbeddingRegressor, EntityEmbeddingClassifier
        Fitted, alone or as the first step of a ``Pipeline``.

    Returns
    -------
    list of (str, skl2onnx type)
        One ``(column, type)`` per column the model reads, shape ``(None, 1)``.

    Examples
    --------
    >>> from entembed import EntityEmbedder, datasets
    >>> X, y, _ = datasets.make_synthetic(120, (3,), random_state=0)
    >>> embedder = EntityEmbedder(max_epochs=2, random_state=0).fit(X, y)
    >>> from entembed.onnx import initial_types
    >>> [name for name, _ in initial_types(embedder)]
    ['c0']
    """
    model = _estimator(model)
    types = []
    for column, categories in zip(
        model.categorical_columns_, model.vocabulary_.categories_, strict=True
    ):
        kind = _category_kind(categories, column)
        tensor = StringTensorType if kind == "text" else DoubleTensorType
        types.append((column, tensor([None, 1])))
    types += [(c, DoubleTensorType([None, 1])) for c in _read_numbers(model)]
    return types


def to_onnx(model, *, target_opset=None, options=None):
    """Convert a fitted estimator, or a pipeline that starts with one.

    Parameters
    ----------
    model : estimator or Pipeline
        An entembed estimator, or a ``Pipeline`` whose first step is one and
        whose other steps skl2onnx converts.
    target_opset : int, dict or None, default=None
        As in ``skl2onnx.to_onnx``; None: the latest opset skl2onnx tested,
        and version 3 of ``ai.onnx.ml``.
    options : dict or None, default=None
        As in ``skl2onnx.to_onnx`` (e.g. ``{"zipmap": False}`` for a
        classifier's probabilities as one tensor).

    Returns
    -------
    onnx.ModelProto
        Inputs as :func:`initial_types` gives them.

    Examples
    --------
    >>> from entembed import EntityEmbedder, datasets
    >>> X, y, _ = datasets.make_synthetic(120, (3,), random_state=0)
    >>> embedder = EntityEmbedder(max_epochs=2, random_state=0).fit(X, y)
    >>> import numpy as np
    >>> import onnxruntime
    >>> from entembed.onnx import input_feed, to_onnx
    >>> graph = to_onnx(embedder)
    >>> session = onnxruntime.InferenceSession(graph.SerializeToString())
    >>> served = session.run(None, input_feed(graph, X))[0]
    >>> bool(np.allclose(served, embedder.transform(X), atol=1e-6))
    True
    """
    if target_opset is None:
        # onnxmltools' tree converters would write ai.onnx.ml's version 5,
        # which skl2onnx does not take yet; every converter here writes 3.
        from skl2onnx import get_latest_tested_opset_version

        target_opset = {"": get_latest_tested_opset_version(), _ML: 3}
    return _skl2onnx_to_onnx(
        model,
        initial_types=initial_types(model),
        target_opset=target_opset,
        options=options,
    )


# The numpy type of each ONNX input element type the converters declare.
_NUMPY_OF = {
    TensorProto.STRING: object,
    TensorProto.DOUBLE: np.float64,
    TensorProto.FLOAT: np.float32,
    TensorProto.INT64: np.int64,
    TensorProto.INT32: np.int32,
    TensorProto.BOOL: np.bool_,
}


def input_feed(onnx_model, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """The inputs an ONNX runtime takes for the rows of ``X``.

    Parameters
    ----------
    onnx_model : onnx.ModelProto
        A graph converted from an entembed estimator (inputs named as columns).
    X : DataFrame
        The rows; it must hold every input's column, in any order.

    Returns
    -------
    dict of str to ndarray
        One ``(N, 1)`` array per input; in string inputs, missing values are
        ``""``.

    Examples
    --------
    >>> from entembed import EntityEmbedder, datasets
    >>> X, y, _ = datasets.make_synthetic(120, (3,), random_state=0)
    >>> embedder = EntityEmbedder(max_epochs=2, random_state=0).fit(X, y)
    >>> from entembed.onnx import input_feed, to_onnx
    >>> feed = input_feed(to_onnx(embedder), X.head(2))
    >>> {name: values.ravel().tolist() for name, values in feed.items()}
    {'c0': ['c0_1', 'c0_1']}
    """
    feed = {}
    for graph_input in onnx_model.graph.input:
        name = graph_input.name
        if name not in X.columns:
            raise ValueError(
                f"The ONNX graph reads column {name!r}, which X lacks; X has "
                f"{list(X.columns)[:20]}."
            )
        dtype = _NUMPY_OF[graph_input.type.tensor_type.elem_type]
        column = X[name]
        if dtype is object:
            values = np.array(
                ["" if pd.isna(v) else str(v) for v in column], dtype=object
            )
        else:
            values = column.to_numpy(dtype=np.float64 if dtype != np.bool_ else None)
            if dtype in (np.int64, np.int32) and np.isnan(values).any():
                raise ValueError(
                    f"Column {name!r} has missing values, which its int64 ONNX input "
                    "cannot carry; convert with entembed.onnx.to_onnx, whose "
                    "inputs for integer categories are doubles."
                )
            values = values.astype(dtype)
        feed[name] = values.reshape(-1, 1)
    return feed


# -------------------------------------------------------------- the graph
class _Graph:
    """Add nodes and constants to skl2onnx's container with unique names."""

    def __init__(self, scope, container) -> None:
        self.scope, self.container = scope, container

    def name(self, hint: str) -> str:
        return self.scope.get_unique_variable_name(hint)

    def constant(self, hint: str, array) -> str:
        name = self.name(hint)
        array = np.asarray(array)
        if array.dtype == object:
            content = [str(v).encode("utf-8") for v in array.ravel()]
            self.container.add_initializer(
                name, TensorProto.STRING, list(array.shape), content
            )
            return name
        onnx_type = {
            np.dtype(np.float32): TensorProto.FLOAT,
            np.dtype(np.float64): TensorProto.DOUBLE,
            np.dtype(np.int64): TensorProto.INT64,
        }[array.dtype]
        self.container.add_initializer(
            name, onnx_type, list(array.shape), array.ravel().tolist()
        )
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs) -> str:
        output = self.name(hint)
        domain = attrs.pop("op_domain", "")
        version = attrs.pop("op_version", None)
        self.container.add_node(
            op,
            inputs,
            [output],
            op_domain=domain,
            op_version=version,
            name=self.scope.get_unique_operator_name(op),
            **attrs,
        )
        return output

    def flat(self, name: str) -> str:
        """``name`` reshaped to one dimension."""
        shape = self.constant("flat", np.array([-1], np.int64))
        return self.node("Reshape", [name, shape], "flat")

    def cast(self, name: str, to: int) -> str:
        return self.node("Cast", [name], "cast", to=to)


def _inputs_by_column(operator, columns: list[str]) -> dict:
    """The operator's input variables of the columns the model reads."""
    by_name = {variable.raw_name: variable for variable in operator.inputs}
    absent = [c for c in columns if c not in by_name]
    if absent:
        raise ValueError(
            f"{type(operator.raw_operator).__name__} reads columns {absent}, which "
            f"are not inputs of the graph (inputs: {list(by_name)}). Convert with "
            "one input per column: entembed.onnx.to_onnx(model), or "
            "skl2onnx.to_onnx(model, X[:1]) with X a DataFrame."
        )
    return {c: by_name[c] for c in columns}


def _codes(graph: _Graph, variable, column: str, categories: np.ndarray) -> str:
    """Int64 codes of shape (N,) for one column's input variable."""
    kind = _category_kind(categories, column)
    codes = np.arange(len(categories), dtype=np.int64) + N_RESERVED_CODES
    source = variable.onnx_name
    if isinstance(variable.type, StringTensorType):
        if kind != "text":
            raise ValueError(
                f"Column {column!r} is a string input, but its categories are "
                "numbers; give it a numeric input type."
            )
        keys = [str(v) for v in categories]
        values = codes.tolist()
        if "" not in keys:  # the empty string stands for a missing value
            keys, values = [*keys, ""], [*values, MISSING_CODE]
        coded = graph.node(
            "LabelEncoder",
            [source],
            "codes",
            op_domain=_ML,
            op_version=2,
            keys_strings=keys,
            values_int64s=values,
            default_int64=UNKNOWN_CODE,
        )
        return graph.flat(coded)
    if kind != "integer":
        raise ValueError(
            f"Column {column!r} has text categories; give it a string input type."
        )
    integer_keys = [int(v) for v in categories]
    missing = None
    if isinstance(variable.type, _REAL_TYPES):
        missing = graph.node("IsNaN", [source], "missing")
        real = np.float64 if isinstance(variable.type, DoubleTensorType) else np.float32
        zero = graph.constant("zero", np.zeros(1, real))
        source = graph.node("Where", [missing, zero, source], "filled")
    elif not isinstance(variable.type, _INTEGER_TYPES):
        raise ValueError(
            f"Column {column!r} has an input of type {variable.type}; integer "
            "categories take int64, double or boolean inputs."
        )
    integer = graph.cast(source, TensorProto.INT64)
    coded = graph.node(
        "LabelEncoder",
        [integer],
        "codes",
        op_domain=_ML,
        op_version=2,
        keys_int64s=integer_keys,
        values_int64s=codes.tolist(),
        default_int64=UNKNOWN_CODE,
    )
    if missing is not None:
        reserved = graph.constant("missing_code", np.array([MISSING_CODE], np.int64))
        coded = graph.node("Where", [missing, reserved, coded], "codes")
    return graph.flat(coded)


def _embeddings(graph: _Graph, operator, model) -> str:
    """Float (N, sum of widths): every column's vectors side by side."""
    inputs = _inputs_by_column(operator, model.categorical_columns_)
    pieces = model.network_.pieces or []
    composed = [
        c
        for j, c in enumerate(model.categorical_columns_)
        if j < len(pieces) and pieces[j] is not None
    ]
    if composed:
        warn(
            f"Columns {composed} compose the vectors of strings never seen in "
            "fit from their pieces of text; ONNX has no operator to cut and "
            "hash strings, so the graph serves such strings the unknown vector "
            "(every category seen in fit gets the vector transform gives it). "
            "Fit with string_features='none' for a graph equal to transform "
            "on every string."
        )
    blocks = []
    for column, categories, table in zip(
        model.categorical_columns_,
        model.vocabulary_.categories_,
        model.network_.tables,
        strict=True,
    ):
        codes = _codes(graph, inputs[column], column, categories)
        weights = graph.constant(f"table_{column}", table.astype(np.float32))
        blocks.append(graph.node("Gather", [weights, codes], "vectors", axis=0))
    if len(blocks) == 1:
        return blocks[0]
    return graph.node("Concat", blocks, "embeddings", axis=1)


def _numbers(graph: _Graph, operator, columns: list[str]) -> list[str]:
    """Each numeric input as float (N, 1), as ``numeric_array`` reads it."""
    inputs = _inputs_by_column(operator, columns)
    return [graph.cast(inputs[c].onnx_name, TensorProto.FLOAT) for c in columns]


def _network_output(graph: _Graph, operator, model) -> str:
    """Double (N, n_outputs): the numpy network's forward pass."""
    network = model.network_
    x = _embeddings(graph, operator, model)
    numbers = _numbers(graph, operator, model.numeric_columns_)
    if numbers:
        raw = (
            numbers[0]
            if len(numbers) == 1
            else graph.node("Concat", numbers, "numeric", axis=1)
        )
        centred = graph.node(
            "Sub",
            [raw, graph.constant("mean", network.numeric_mean.astype(np.float32))],
            "centred",
        )
        scaled = graph.node(
            "Div",
            [
                centred,
                graph.constant("scale", network.numeric_scale.astype(np.float32)),
            ],
            "scaled",
        )
        x = graph.node("Concat", [x, scaled], "inputs", axis=1)
    x = graph.cast(x, TensorProto.DOUBLE)
    start, previous = x, None  # start: a run of cross layers' input, x_0
    for kind, params in network.layers:
        if kind == "cross" and previous != "cross":
            start = graph.node("Tanh", [x], "cross_start")
        previous = kind
        if kind == "scale":
            factor = graph.constant("scale", np.asarray(params["weight"], np.float64))
            x = graph.node("Mul", [x, factor], "unscaled")
        elif kind == "pairs":
            products = _pair_products(graph, x, params["weight"], np.float64)
            x = graph.node("Concat", [x, products], "with_pairs", axis=1)
        elif kind == "cross":
            crossing = np.asarray(params["weight"], np.float64).T.copy()
            product = graph.node(
                "MatMul", [x, graph.constant("weight", crossing)], "cross"
            )
            shift = graph.constant("bias", np.asarray(params["bias"], np.float64))
            product = graph.node("Add", [product, shift], "cross")
            product = graph.node("Tanh", [product], "cross")
            product = graph.node("Mul", [start, product], "cross")
            x = graph.node("Add", [product, x], "cross")
        elif kind == "linear":
            weight = np.asarray(params["weight"], np.float64).T.copy()
            x = graph.node("MatMul", [x, graph.constant("weight", weight)], "linear")
            bias = np.asarray(params["bias"], np.float64)
            x = graph.node("Add", [x, graph.constant("bias", bias)], "linear")
        elif kind == "batchnorm":
            # As numpy computes it: the denominator in float32, then doubles.
            denominator = np.sqrt(params["var"] + params["eps"]).astype(np.float64)
            for op, array in (
                ("Sub", params["mean"]),
                ("Div", denominator),
                ("Mul", params["weight"]),
                ("Add", params["bias"]),
            ):
                constant = graph.constant("batchnorm", np.asarray(array, np.float64))
                x = graph.node(op, [x, constant], "batchnorm")
        else:
            x = graph.node("Relu", [x], "relu")
    if network.output_scale is not None:
        scale = graph.constant("output_scale", network.output_scale.astype(np.float64))
        x = graph.node("Mul", [x, scale], "output")
        mean = graph.constant("output_mean", network.output_mean.astype(np.float64))
        x = graph.node("Add", [x, mean], "output")
    return x


def _pair_products(graph, x, weight: np.ndarray, dtype) -> str:
    """A ``"pairs"`` layer's products of ``x`` (as
    :func:`~entembed._numpy_network.pair_products`): the projections as one
    product, then each pair's two projections multiplied and summed."""
    n_columns, width, n_inputs = weight.shape
    flat = np.asarray(weight, dtype).reshape(-1, n_inputs).T
    u = graph.node("MatMul", [x, graph.constant("projections", flat.copy())], "u")
    shape = graph.constant("shape", np.array([-1, n_columns, width], np.int64))
    u = graph.node("Reshape", [u, shape], "u")
    u = graph.node("Tanh", [u], "u")
    left, right = column_pairs(n_columns)
    sides = [
        graph.node(
            "Gather", [u, graph.constant("pair", side.astype(np.int64))], "side", axis=1
        )
        for side in (left, right)
    ]
    product = graph.node("Mul", sides, "pairs")
    ones = graph.constant("ones", np.ones(width, dtype))
    return graph.node("MatMul", [product, ones], "pairs")


# ------------------------------------------------------------ converters
def _embedder_shape(operator) -> None:
    model = operator.raw_operator
    width = len(model.get_feature_names_out())
    operator.outputs[0].type = FloatTensorType([None, width])


def _convert_embedder(scope, operator, container) -> None:
    model = operator.raw_operator
    graph = _Graph(scope, container)
    blocks = [_embeddings(graph, operator, model)]
    if model.append_prediction:
        output = _network_output(graph, operator, model)
        if model.task_ == "binary":
            output = graph.node("Sigmoid", [output], "positive")
        elif model.task_ == "multiclass":
            output = graph.node("Softmax", [output], "proba", axis=1)
        blocks.append(graph.node("Cast", [output], "prediction", to=TensorProto.FLOAT))
    if model.network_.n_pairs:
        weight = model.network_.layers[0][1]["weight"]
        weight = weight[:, :, : sum(model.network_.widths)]
        products = _pair_products(graph, blocks[0], weight, np.float32)
        blocks.append(products)
    blocks += _numbers(graph, operator, model.passthrough_columns_)
    container.add_node(
        "Concat" if len(blocks) > 1 else "Identity",
        blocks,
        [operator.outputs[0].onnx_name],
        name=scope.get_unique_operator_name("EntityEmbedder"),
        **({"axis": 1} if len(blocks) > 1 else {}),
    )


def _regressor_shape(operator) -> None:
    model = operator.raw_operator
    operator.outputs[0].type = DoubleTensorType([None, model.network_.n_outputs])


def _convert_regressor(scope, operator, container) -> None:
    model = operator.raw_operator
    graph = _Graph(scope, container)
    output = _network_output(graph, operator, model)
    container.add_node(
        "Identity",
        [output],
        [operator.outputs[0].onnx_name],
        name=scope.get_unique_operator_name("EntityEmbeddingRegressor"),
    )


def _label_type(classes: np.ndarray):
    if all(isinstance(c, str) for c in classes):
        return StringTensorType
    if all(
        isinstance(c, (int, np.integer)) and not isinstance(c, (bool, np.bool_))
        for c in classes
    ):
        return Int64TensorType
    raise ValueError(
        f"ONNX classifiers have text or integer labels; classes_ is {list(classes)}. "
        "Encode the labels as strings or integers and refit."
    )


def _classifier_shape(operator) -> None:
    model = operator.raw_operator
    operator.outputs[0].type = _label_type(model.classes_)([None])
    operator.outputs[1].type = FloatTensorType([None, len(model.classes_)])


def _convert_classifier(scope, operator, container) -> None:
    model = operator.raw_operator
    graph = _Graph(scope, container)
    logits = _network_output(graph, operator, model)
    if model.task_ == "binary":
        positive = graph.node("Sigmoid", [logits], "positive")
        one = graph.constant("one", np.ones(1, np.float64))
        negative = graph.node("Sub", [one, positive], "negative")
        probabilities = graph.node("Concat", [negative, positive], "proba", axis=1)
    else:
        probabilities = graph.node("Softmax", [logits], "proba", axis=1)
    index = graph.node("ArgMax", [probabilities], "index", axis=1, keepdims=0)
    classes = np.asarray(model.classes_)
    labels = graph.constant(
        "classes",
        classes.astype(object)
        if _label_type(classes) is StringTensorType
        else classes.astype(np.int64),
    )
    container.add_node(
        "Gather",
        [labels, index],
        [operator.outputs[0].onnx_name],
        axis=0,
        name=scope.get_unique_operator_name("EntityEmbeddingClassifier"),
    )
    container.add_node(
        "Cast",
        [probabilities],
        [operator.outputs[1].onnx_name],
        to=TensorProto.FLOAT,
        name=scope.get_unique_operator_name("Cast"),
    )


update_registered_converter(
    EntityEmbedder, "EntembedEntityEmbedder", _embedder_shape, _convert_embedder
)
update_registered_converter(
    EntityEmbeddingRegressor,
    "EntembedEntityEmbeddingRegressor",
    _regressor_shape,
    _convert_regressor,
)
update_registered_converter(
    EntityEmbeddingClassifier,
    "EntembedEntityEmbeddingClassifier",
    _classifier_shape,
    _convert_classifier,
    options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
)


# ------------------------------------------- scikit-learn's boosted trees
# skl2onnx 1.20 builds HistGradientBoosting's tree attributes from the trees'
# own arrays: a list of node flags mixes numpy integers (branches) with Python
# booleans (leaves), which onnx refuses ("Expected an int, got a boolean"), so
# it cannot convert any HistGradientBoosting model of scikit-learn 1.9. Where
# that is so, its converter is kept but given a container that hands onnx
# plain Python numbers; where skl2onnx converts such a model by itself (a later
# release), its converter stays registered as it is.


def _plain(value):
    """An attribute value with numpy scalars and booleans in a list as Python
    numbers (a bool as 0 or 1), so that onnx reads one type."""
    if isinstance(value, (list, tuple)):
        return [
            int(v)
            if isinstance(v, (bool, np.bool_, np.integer))
            else float(v)
            if isinstance(v, np.floating)
            else v
            for v in value
        ]
    return value.item() if isinstance(value, np.generic) else value


class _PlainAttributes:
    """A conversion container whose nodes get :func:`_plain` attributes."""

    def __init__(self, container) -> None:
        self._container = container

    def __getattr__(self, name):
        return getattr(self._container, name)

    def add_node(self, *args, **attributes):
        plain = {name: _plain(value) for name, value in attributes.items()}
        return self._container.add_node(*args, **plain)


def native_hist_gradient_boosting_works() -> bool:
    """Whether skl2onnx's registered converter turns a HistGradientBoosting
    model (of a few rows) into ONNX by itself."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    X = np.arange(40, dtype=np.float32).reshape(20, 2)
    model = HistGradientBoostingRegressor(max_iter=2, min_samples_leaf=2)
    try:
        _skl2onnx_to_onnx(model.fit(X, X[:, 0]), X[:1])
    except ValueError:
        return False
    return True


def _with_plain_attributes(native):
    """skl2onnx's converter ``native``, run on a :class:`_PlainAttributes`
    container."""

    def convert(scope, operator, container) -> None:
        native(scope, operator, _PlainAttributes(container))

    return convert


def register_hist_gradient_boosting(*, force: bool = False) -> bool:
    """Register skl2onnx's HistGradientBoosting converters on plain attributes
    where skl2onnx's own fail (``force``: whatever they do); whether it did."""
    if not force and native_hist_gradient_boosting_works():
        return False
    from skl2onnx.common._registration import get_converter, get_shape_calculator
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )

    for model in (HistGradientBoostingRegressor, HistGradientBoostingClassifier):
        alias = f"Sklearn{model.__name__}"
        native = get_converter(alias)
        update_registered_converter(
            model,
            alias,
            get_shape_calculator(alias),
            _with_plain_attributes(native),
            options=native.get_allowed_options(),
        )
    return True


register_hist_gradient_boosting()


# ----------------------------------------------------- LightGBM and XGBoost
def register_boosters() -> list[str]:
    """Register onnxmltools' LightGBM and XGBoost converters with skl2onnx, for
    the scikit-learn estimators of whichever of the two is installed, so that
    a pipeline ending in one converts; the names of those registered.
    Needs onnxmltools (``pip install "entembed[onnx-boosters]"``); without it,
    none."""
    try:
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import (
            convert_lightgbm,
        )
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import (
            convert_xgboost,
        )
    except ImportError:
        return []
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    registered = []
    for module, prefix, convert, names in (
        ("lightgbm", "LightGbm", convert_lightgbm, ("LGBMRegressor", "LGBMClassifier")),
        ("xgboost", "XGBoost", convert_xgboost, ("XGBRegressor", "XGBClassifier")),
    ):
        try:
            library = __import__(module)
        except ImportError:
            continue
        for name in names:
            classifier = name.endswith("Classifier")
            update_registered_converter(
                getattr(library, name),
                f"{prefix}{name}",
                calculate_linear_classifier_output_shapes
                if classifier
                else calculate_linear_regressor_output_shapes,
                convert,
                options=classifier_options if classifier else {"split": None},
            )
            registered.append(name)
    return registered


register_boosters()
