"""The output-format classifier and the format block of the report's drift section."""

from __future__ import annotations

from collections import Counter

import pytest

from synthgen.stages.report.shapes import SHAPES, describe, format_drift, output_shape


@pytest.mark.parametrize(
    ("text", "shape"),
    [
        ('{"category": "billing", "urgency": "high"}', "json_object"),
        ('  \n[{"a": 1}, 2]\n', "json_array"),
        ('```json\n{"category": "bug"}\n```', "json_object"),
        ('{"category": "billing", "urgency": ', "broken_json"),
        ("[*] Category (billing, bug)", "broken_json"),
        ("SELECT name FROM users WHERE id = 3;", "sql"),
        ("with t as (select 1) select * from t", "sql"),
        ("```sql\nSELECT 1 AS one\n```", "sql"),
        ("```python\nprint('hi')\n```", "code"),
        ("- check the invoice\n- refund the customer\n- close the ticket", "list"),
        ("1. Open settings\n2. Reset the password", "list"),
        ("Steps:\n- one", "prose"),  # one list line of two is not a list
        ("Select the best answer from the options below.", "prose"),  # no FROM clause
        ("The shipment was lost in transit; a new order is on its way.", "prose"),
        ("", "prose"),
    ],
)
def test_output_shape(text: str, shape: str) -> None:
    assert output_shape(text) == shape
    assert shape in SHAPES


def test_format_drift_names_the_seeds_dominant_shape_and_its_share_on_both_sides() -> None:
    seeds = Counter({"json_object": 24, "prose": 1})
    data = Counter({"prose": 9, "json_object": 1})
    f = format_drift(data, seeds)
    assert f is not None
    assert (f["shape"], f["seeds"], f["data"], f["task_format"]) == ("json_object", 0.96, 0.1, True)
    assert f["data_shapes"] == {"json_object": 0.1, "prose": 0.9}
    assert describe(f["data_shapes"]) == "prose 90% · json object 10%"


def test_mixed_seeds_have_no_task_format_and_empty_sides_no_block() -> None:
    mixed = format_drift(Counter({"prose": 3}), Counter({"prose": 5, "list": 4, "sql": 1}))
    assert mixed is not None and mixed["shape"] == "prose" and not mixed["task_format"]
    assert format_drift(Counter(), Counter({"prose": 1})) is None
    assert format_drift(Counter({"prose": 1}), Counter()) is None
