"""stages/export: kept records as training files (alpaca, TRL messages, ShareGPT,
prompt-completion, TRL preference pairs for DPO), with deterministic splits; conversations
keep every turn, or give their last exchange to the one-exchange formats."""

from synthgen.stages.export.formats import (
    EXPORT_FORMATS,
    ONE_EXCHANGE,
    SFT_FORMATS,
    ExportFormat,
    convert,
    prompt_of,
)
from synthgen.stages.export.split import Splitter, check_splits, parse_splits, split_path
from synthgen.stages.export.stage import (
    ConversationError,
    ExportFile,
    ExportSummary,
    PreferenceError,
    export,
    source_file,
)

__all__ = [
    "EXPORT_FORMATS",
    "ONE_EXCHANGE",
    "SFT_FORMATS",
    "ConversationError",
    "ExportFile",
    "ExportFormat",
    "ExportSummary",
    "PreferenceError",
    "Splitter",
    "check_splits",
    "convert",
    "export",
    "parse_splits",
    "prompt_of",
    "source_file",
    "split_path",
]
