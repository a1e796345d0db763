"""The human review loop: a seeded sample, verdicts kept in a file, agreement with the judge.

What other stages may use of it (the report reads verdicts and agreement) is exported here.
"""

from synthgen.stages.audit.agreement import human_agreement
from synthgen.stages.audit.review import ledger_judge_by_id
from synthgen.stages.audit.store import read_verdicts, verdicts_path_for

__all__ = ["human_agreement", "ledger_judge_by_id", "read_verdicts", "verdicts_path_for"]
