"""Stage decisions for one receivable item, free of any database access.

A policy's stages are given as ``StageStep`` tuples sorted by day offset. The
offset counts days from the due date: negative for a courtesy reminder sent
before it, positive once the item is overdue.
"""

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

CATCHUP_JUMP = "jump"
CATCHUP_CLIMB = "climb"


class StageStep(NamedTuple):
    stage_id: int
    offset_days: int


class StageDecision(NamedTuple):
    """The stage an item moves to in a run and the stages it passes over."""

    stage_id: int
    skipped_stage_ids: tuple[int, ...]


def days_from_due(due_date: date, today: date) -> int:
    """Return the days elapsed since the due date, negative before it."""
    return (today - due_date).days


def stage_threshold(offset_days: int, grace_days: int) -> int:
    """Return the delay at which a stage is reached.

    Grace days postpone only the stages after the due date: a courtesy
    reminder before it keeps its own offset.
    """
    if offset_days > 0:
        return offset_days + grace_days
    return offset_days


def stage_due_index(
    stages: Sequence[StageStep], days: int, grace_days: int = 0
) -> int | None:
    """Return the index of the highest stage that a delay of ``days`` reaches."""
    reached = None
    for index, step in enumerate(stages):
        if days >= stage_threshold(step.offset_days, grace_days):
            reached = index
    return reached


def decide_stage(
    stages: Sequence[StageStep],
    current_stage_id: int | None,
    days: int,
    grace_days: int = 0,
    catchup_rule: str = CATCHUP_JUMP,
) -> StageDecision | None:
    """Return the stage an item enters in this run, or None to leave it as is.

    Items only move forward. With the ``jump`` rule an item enters the stage
    its delay calls for, and the stages in between are reported as skipped.
    With the ``climb`` rule it enters the next stage, one per run, so every
    stage takes its actions in turn. Under both rules an item that is already
    past its due date never enters a stage meant for before it (a courtesy
    reminder).
    """
    due_index = stage_due_index(stages, days, grace_days)
    if due_index is None:
        return None

    stage_ids = [step.stage_id for step in stages]
    current_index = (
        stage_ids.index(current_stage_id) if current_stage_id in stage_ids else -1
    )
    if due_index <= current_index:
        return None

    candidates = [
        index
        for index in range(current_index + 1, due_index + 1)
        if days <= 0 or stages[index].offset_days >= 0
    ]
    if not candidates:
        return None
    if catchup_rule == CATCHUP_CLIMB:
        target_index = candidates[0]
    else:
        target_index = due_index
    skipped = tuple(
        stage_ids[index] for index in range(current_index + 1, target_index)
    )
    return StageDecision(stage_ids[target_index], skipped)
