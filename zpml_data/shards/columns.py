"""Which source columns became inputs, and why every other column did not."""

from __future__ import annotations

import pyarrow as pa

from zpml_data.spec import LabelledTarget, ResolvedSpec


def left_out(schema: pa.Schema, spec: ResolvedSpec, split_by: object = None) -> dict[str, str]:
    """Every source column that is not an input, with the reason, in source order.

    Args:
        schema: The source's schema.
        spec: The resolved spec.
        split_by: A :class:`~zpml_data.shards.split.Split` (its ``by`` column is named).
    """
    reasons: dict[str, str] = {}
    for target in spec.targets:
        reasons.setdefault(target.value, "the target's value")
        if isinstance(target, LabelledTarget):
            reasons.setdefault(target.status, f"the status of target {target.value!r}")
    for group in spec.groups:
        reasons.setdefault(group, "a group column")
    by = getattr(split_by, "by", None)
    if by is not None:
        reasons.setdefault(by, "the column the split is by")
    out: dict[str, str] = {}
    for field in schema:
        if field.name in spec.inputs:
            continue
        kind = field.type
        if field.name in reasons:
            out[field.name] = reasons[field.name]
        elif pa.types.is_nested(kind):
            out[field.name] = f"a list or struct column ({kind})"
        elif (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_dictionary(kind)
        ):
            out[field.name] = "a text column (name it in --inputs to one-hot encode it)"
        elif pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind):
            out[field.name] = "not named in --inputs"
        else:
            out[field.name] = f"not a number ({kind})"
    return out


def describe_inputs(
    inputs: list[str], categories: dict[str, list[str]], excluded: dict[str, str]
) -> list[str]:
    """Lines naming a shard set's inputs (source columns) and the columns it left out."""
    lines = [
        f"  input {name}: one-hot, {len(categories[name])} categories"
        if name in categories
        else f"  input {name}"
        for name in inputs
    ]
    if not inputs:
        lines.append("  no inputs")
    lines += [f"  left out {name}: {reason}" for name, reason in excluded.items()]
    return lines
