"""numpydoc validation of the public API's docstrings."""

import inspect

import pytest

import entembed

numpydoc_validate = pytest.importorskip("numpydoc.validate")

# Checks every public docstring passes: documented (GL08), every parameter
# documented and described, none unknown (PR01, PR02, PR07, PR10), and a
# described Returns section where something is returned (RT01, RT03).
CHECKS = {"GL08", "PR01", "PR02", "PR07", "PR10", "RT01", "RT03"}
# Hooks that torch and Lightning call, documented by them.
FRAMEWORK_HOOKS = {
    "forward",
    "reset_parameters",
    "setup",
    "configure_optimizers",
    "on_fit_start",
    "on_before_optimizer_step",
    "on_train_epoch_start",
    "on_train_epoch_end",
    "on_validation_epoch_start",
    "on_validation_epoch_end",
    "on_test_epoch_start",
    "on_test_epoch_end",
    "train_dataloader",
    "val_dataloader",
    "predict_dataloader",
    "training_step",
    "validation_step",
    "test_step",
    "predict_step",
}


def _public_objects():
    for name in sorted(entembed.__all__):
        obj = getattr(entembed, name)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        yield f"{obj.__module__}.{obj.__qualname__}"
        if not inspect.isclass(obj):
            continue
        for klass in obj.__mro__:
            if not klass.__module__.startswith("entembed"):
                continue
            for member, value in vars(klass).items():
                public = not member.startswith("_") and member not in FRAMEWORK_HOOKS
                if public and (
                    inspect.isfunction(value) or isinstance(value, property)
                ):
                    yield f"{klass.__module__}.{klass.__qualname__}.{member}"


@pytest.mark.filterwarnings("ignore:Unknown section Shape")  # rtdl's Shape section
@pytest.mark.parametrize("name", sorted(set(_public_objects())))
def test_public_docstring(name):
    result = numpydoc_validate.validate(name)
    errors = [
        f"{code}: {message}" for code, message in result["errors"] if code in CHECKS
    ]
    assert not errors, "\n".join(errors)


def test_every_public_object_shows_an_example():
    import entembed.datasets
    import entembed.onnx

    public = [(entembed, n) for n in entembed.__all__ if not n.isupper()]
    public += [(entembed.onnx, n) for n in entembed.onnx.__all__]
    public += [
        (entembed.datasets, n)
        for n in entembed.datasets.__all__
        if n.startswith(("load", "make"))
    ]
    missing = [
        f"{module.__name__}.{name}"
        for module, name in public
        if name != "__version__"
        and "Examples\n--------" not in (inspect.getdoc(getattr(module, name)) or "")
    ]
    assert not missing, f"no Examples section (a doctest): {missing}"
