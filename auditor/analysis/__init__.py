"""The training-program model built once per file; rules query it instead of walking syntax."""

from auditor.analysis.model import FileModel, build_file_model

__all__ = ["FileModel", "build_file_model"]
