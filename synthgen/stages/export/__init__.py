"""stages/export: kept records as training files (alpaca, TRL messages, ShareGPT,
prompt-completion), with deterministic splits."""

from synthgen.stages.export.formats import EXPORT_FORMATS, ExportFormat, convert, prompt_of
from synthgen.stages.export.split import Splitter, check_splits, parse_splits, split_path
from synthgen.stages.export.stage import ExportFile, ExportSummary, export, source_file

__all__ = [
    "EXPORT_FORMATS",
    "ExportFile",
    "ExportFormat",
    "ExportSummary",
    "Splitter",
    "check_splits",
    "convert",
    "export",
    "parse_splits",
    "prompt_of",
    "source_file",
    "split_path",
]
