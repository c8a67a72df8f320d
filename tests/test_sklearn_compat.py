"""scikit-learn's common estimator checks, with every expected failure explained."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from entembed import CategoryVocabulary

# Columns are matched by name at transform (order may differ, extra columns are
# ignored), which scikit-learn's check treats as an error.
_NAME_MATCHING = (
    "columns are matched by name, so reordered columns are accepted by design"
)

EXPECTED_FAILURES = {
    "CategoryVocabulary": {
        "check_dataframe_column_names_consistency": _NAME_MATCHING,
    },
}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@parametrize_with_checks(
    [CategoryVocabulary()], expected_failed_checks=_expected_failed_checks
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
