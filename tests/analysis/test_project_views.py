"""A module name held by several script directories: each file's view of the project index
answers with the module beside it (`for_base`), for every question a rule asks."""

from __future__ import annotations

from auditor.analysis.project import FileSummary, ProjectIndex
from auditor.analysis.project_names import project_defines


def _index() -> ProjectIndex:
    # a/loaders.py shuffles by default and defines a model class with batch norm;
    # b/loaders.py does neither. b comes last in the run.
    a = FileSummary("loaders", functions=["evaluate"], shuffling_classes=["Loader"],
                    model_classes={"Net": (True, "nn.BatchNorm1d")})
    b = FileSummary("loaders", functions=[], shuffling_classes=[], model_classes={"Net": (False, None)})
    return ProjectIndex.from_files([("loaders", "/r/a", a), ("loaders", "/r/b", b)])


def test_a_model_class_is_the_one_beside_the_file():
    index = _index()
    assert index.for_base("/r/a").model_class("loaders", "Net") == (True, "nn.BatchNorm1d")
    assert index.for_base("/r/b").model_class("loaders", "Net") == (False, None)


def test_project_definitions_are_the_ones_beside_the_file():
    index = _index()
    assert project_defines(index.for_base("/r/a"), "train", "loaders.Loader", "shuffling_classes")
    assert not project_defines(index.for_base("/r/b"), "train", "loaders.Loader", "shuffling_classes")
    assert project_defines(index.for_base("/r/a"), "train", "loaders.evaluate")
    assert not project_defines(index.for_base("/r/b"), "train", "loaders.evaluate")
