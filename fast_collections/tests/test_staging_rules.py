from datetime import date

from odoo.tests import BaseCase, tagged

from ..rules.staging import (
    CATCHUP_CLIMB,
    CATCHUP_JUMP,
    StageStep,
    days_from_due,
    decide_stage,
    stage_due_index,
)

# Stage ids 1..5 at the shipped offsets.
STAGES = [
    StageStep(1, -3),
    StageStep(2, 7),
    StageStep(3, 21),
    StageStep(4, 45),
    StageStep(5, 75),
]


@tagged("post_install", "-at_install")
class TestStagingRules(BaseCase):
    def test_days_from_due_before_and_after(self):
        """Days count from the due date, negative before it."""
        self.assertEqual(days_from_due(date(2025, 3, 1), date(2025, 3, 20)), 19)
        self.assertEqual(days_from_due(date(2025, 3, 1), date(2025, 2, 26)), -3)

    def test_no_stage_before_courtesy_offset(self):
        """An item due in five days has reached no stage."""
        self.assertIsNone(stage_due_index(STAGES, -5))
        self.assertIsNone(decide_stage(STAGES, None, -5))

    def test_courtesy_stage_before_due_date(self):
        """An item due in three days enters the courtesy reminder."""
        decision = decide_stage(STAGES, None, -3)
        self.assertEqual(decision.stage_id, 1)
        self.assertEqual(decision.skipped_stage_ids, ())

    def test_stage_reached_on_its_offset(self):
        """Seven days late reaches the first reminder; six days late does not."""
        self.assertEqual(decide_stage(STAGES, 1, 7).stage_id, 2)
        self.assertIsNone(decide_stage(STAGES, 1, 6))

    def test_grace_days_delay_only_overdue_stages(self):
        """Five grace days move +7 to +12 and leave the courtesy stage at -3."""
        self.assertIsNone(decide_stage(STAGES, 1, 11, grace_days=5))
        self.assertEqual(decide_stage(STAGES, 1, 12, grace_days=5).stage_id, 2)
        self.assertEqual(decide_stage(STAGES, None, -3, grace_days=5).stage_id, 1)

    def test_jump_enters_stage_of_delay(self):
        """Ninety days late with no stage jumps to +75 and skips +7 to +45."""
        decision = decide_stage(STAGES, None, 90, catchup_rule=CATCHUP_JUMP)
        self.assertEqual(decision.stage_id, 5)
        self.assertEqual(decision.skipped_stage_ids, (1, 2, 3, 4))

    def test_climb_enters_next_stage(self):
        """Ninety days late climbs one stage: +7 first, never the courtesy one."""
        decision = decide_stage(STAGES, None, 90, catchup_rule=CATCHUP_CLIMB)
        self.assertEqual(decision.stage_id, 2)
        self.assertEqual(decision.skipped_stage_ids, (1,))
        decision = decide_stage(STAGES, 2, 90, catchup_rule=CATCHUP_CLIMB)
        self.assertEqual(decision.stage_id, 3)
        self.assertEqual(decision.skipped_stage_ids, ())

    def test_jump_skips_courtesy_once_overdue(self):
        """An item found 10 days late enters +7, the courtesy stage is skipped."""
        decision = decide_stage(STAGES, None, 10)
        self.assertEqual(decision.stage_id, 2)
        self.assertEqual(decision.skipped_stage_ids, (1,))

    def test_never_moves_back(self):
        """An item at +45 stays there even when its delay calls for less."""
        self.assertIsNone(decide_stage(STAGES, 4, 30))
        self.assertIsNone(decide_stage(STAGES, 4, 45))

    def test_stage_of_other_policy_starts_over(self):
        """A stage id unknown to the policy counts as no stage yet."""
        self.assertEqual(decide_stage(STAGES, 99, 8).stage_id, 2)
