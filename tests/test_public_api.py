"""Every name a package lists in ``__all__`` resolves: the lazy exports are complete."""

import importlib

import pytest

PACKAGES = [
    "zpml_data",
    "zpml_data.auditing",
    "zpml_data.convert",
    "zpml_data.io",
    "zpml_data.shards",
    "zpml_train",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_imports(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert set(module.__all__) <= set(dir(module))


def test_the_architecture_names_are_public():
    import zpml_data

    assert {
        "STATUS_LABELS",
        "SemanticTargets",
        "lift_semantic_targets",
        "lift_targets",
        "DatasetSpec",
        "audit",
        "convert_legacy",
        "write_shards",
        "verify_shards",
    } <= set(zpml_data.__all__)


def test_audit_is_the_function_even_after_the_auditing_package_loads():
    import zpml_data.auditing.engine
    from zpml_data import audit

    assert callable(audit) and audit is zpml_data.auditing.engine.audit


def test_an_unknown_name_is_an_attribute_error():
    import zpml_data

    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'"):
        zpml_data.no_such_name  # noqa: B018
