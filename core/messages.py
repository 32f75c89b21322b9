"""Validation errors in plain Dutch: one line per problem, 'Veld: regel', naming the field, the value and the rule.

Every place that checks what people type or deliver (a form, a bulk file, a
member list) turns pydantic's errors into such lines through `dutch_problems`,
each with its own labels and rules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

ANSWERS_LABEL = "Antwoorden"  # the label of a rule about the row as a whole (e.g. 'answer at least one question')


def dutch_problems(error: ValidationError, label_of: Callable[[str], str], rule_of: Callable[[str, dict[str, Any]], str],
                   model_label: str = ANSWERS_LABEL) -> list[str]:
    """'Label: rule' per problem of `error`; a rule about the whole row is named under `model_label`.

    >>> from pydantic import BaseModel
    >>> class Row(BaseModel):
    ...     amount: int
    >>> try:
    ...     Row.model_validate({"amount": "veel"})
    ... except ValidationError as error:
    ...     dutch_problems(error, {"amount": "Bedrag"}.get, lambda field, item: f"'{item['input']}' is geen getal")
    ["Bedrag: 'veel' is geen getal"]
    """
    lines = []
    for item in error.errors():
        location = [part for part in item["loc"] if isinstance(part, str)]
        if not location:
            lines.append(f"{model_label}: {str(item.get('msg', '')).removeprefix('Value error, ')}")
            continue
        field = location[0]
        lines.append(f"{label_of(field) or field}: {rule_of(field, item)}")
    return lines
