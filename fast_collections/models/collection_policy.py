from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..rules.interest import (
    DAY_COUNT_ACTUAL_360,
    DAY_COUNT_ACTUAL_365,
    DAY_COUNT_ACTUAL_ACTUAL,
)
from ..rules.staging import CATCHUP_CLIMB, CATCHUP_JUMP, StageStep


class CollectionPolicy(models.Model):
    """Set of collection stages and conditions applied to a customer segment."""

    _name = "collection.policy"
    _description = "Collection Policy"
    _order = "sequence, name, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        comodel_name="res.company",
        index=True,
        help="Leave empty to share the policy between all companies.",
    )
    stage_ids = fields.One2many(
        comodel_name="collection.stage",
        inverse_name="policy_id",
        string="Stages",
        copy=True,
    )
    stage_count = fields.Integer(compute="_compute_stage_count")
    tolerance_amount = fields.Float(
        string="Tolerance",
        digits="Account",
        help="Items whose amount still owed is below this figure are not chased. "
        "It is compared with each item's residual in the item's own currency.",
    )
    grace_days = fields.Integer(
        help="Days added to every stage after the due date before it is reached. "
        "A courtesy reminder before the due date is not delayed.",
    )
    catchup_rule = fields.Selection(
        selection=[
            (CATCHUP_JUMP, "Jump to the stage the delay calls for"),
            (CATCHUP_CLIMB, "Climb one stage per run"),
        ],
        required=True,
        default=CATCHUP_JUMP,
        help="How an item that is found late (after missed runs, or when the addon "
        "is installed) enters the flow. Jump: it enters the stage its delay "
        "calls for and the stages in between are recorded as skipped, without "
        "acting. Climb: it enters the next stage at each run, so every stage "
        "acts in turn.",
    )
    notice_interval_days = fields.Integer(
        string="Days Between Notices",
        help="Minimum days between two notices to the same customer. Stage "
        "changes that come sooner wait and go out together in the next notice.",
    )
    require_approval = fields.Boolean(
        string="Requires Approval",
        help="Stage changes of customers on this policy wait for a collections "
        "manager's approval before any message, activity or credit hold.",
    )
    dispute_days_excluded = fields.Boolean(
        string="Do Not Count Days in Dispute",
        help="When a dispute over an invoice's whole amount is rejected, the "
        "overdue days it lasted are subtracted from the invoice's delay, so its "
        "stage is decided as if the dispute had not taken that time.",
    )
    interest_scheme_id = fields.Many2one(
        comodel_name="collection.interest.scheme",
        ondelete="restrict",
        help="Late-payment interest charged on the overdue items, by the stages "
        "that charge interest and from the invoice list. Empty for no interest.",
    )
    interest_start_days = fields.Integer(
        string="Interest From Day",
        default=1,
        help="Days after the due date of the first day that bears interest. "
        "1: interest runs from the day after the due date.",
    )
    interest_day_count = fields.Selection(
        selection=[
            (DAY_COUNT_ACTUAL_365, "Actual/365"),
            (DAY_COUNT_ACTUAL_360, "Actual/360"),
            (DAY_COUNT_ACTUAL_ACTUAL, "Actual/Actual"),
        ],
        string="Day Count",
        required=True,
        default=DAY_COUNT_ACTUAL_365,
        help="How days are turned into a fraction of the annual rate. "
        "Actual/365 and Actual/360 divide the days by 365 or 360. "
        "Actual/Actual divides the days of each calendar year by its length.",
    )
    interest_plan_paused = fields.Boolean(
        string="No Interest During Payment Plans",
        help="Items covered by a payment plan bear no interest from the plan's "
        "acceptance until it is closed.",
    )
    compensation_enabled = fields.Boolean(
        string="Charge 40 EUR Compensation",
        help="Charge the statutory compensation for recovery costs of 40 EUR "
        "once per overdue invoice, converted at the invoice date's rate for "
        "invoices in another currency. The run charges it with the first stage "
        "reached after the due date.",
    )
    note = fields.Html(translate=True)

    @api.depends("stage_ids")
    def _compute_stage_count(self):
        for policy in self:
            policy.stage_count = len(policy.stage_ids)

    # Odoo checks a constraint only for the fields written. The name is in
    # every create, so a policy created without any stage is caught too.
    @api.constrains("name", "stage_ids")
    def _check_stage_ids(self):
        for policy in self:
            if not policy.stage_ids:
                raise ValidationError(
                    _(
                        "The collection policy %(policy)s has no stages. "
                        "Add at least one stage.",
                        policy=policy.display_name,
                    )
                )

    @api.constrains("tolerance_amount", "grace_days", "notice_interval_days")
    def _check_amounts(self):
        for policy in self:
            if policy.notice_interval_days < 0:
                raise ValidationError(
                    _(
                        "The days between notices of the collection policy "
                        "%(policy)s are negative (%(days)s). Enter zero or a "
                        "positive number.",
                        policy=policy.display_name,
                        days=policy.notice_interval_days,
                    )
                )
            if policy.tolerance_amount < 0:
                raise ValidationError(
                    _(
                        "The tolerance of the collection policy %(policy)s is "
                        "negative (%(amount)s). Enter zero or a positive amount.",
                        policy=policy.display_name,
                        amount=policy.tolerance_amount,
                    )
                )
            if policy.grace_days < 0:
                raise ValidationError(
                    _(
                        "The grace days of the collection policy %(policy)s are "
                        "negative (%(days)s). Enter zero or a positive number.",
                        policy=policy.display_name,
                        days=policy.grace_days,
                    )
                )

    @api.constrains("interest_start_days")
    def _check_interest_start_days(self):
        for policy in self:
            if policy.interest_start_days < 1:
                raise ValidationError(
                    _(
                        "Interest of the collection policy %(policy)s starts "
                        "%(days)s days after the due date. Enter at least 1: "
                        "interest runs from the day after the due date.",
                        policy=policy.display_name,
                        days=policy.interest_start_days,
                    )
                )

    @api.constrains("interest_scheme_id", "stage_ids")
    def _check_interest_scheme(self):
        self.stage_ids._check_interest_scheme()

    @api.constrains("name")
    def _check_name(self):
        for policy in self:
            if not (policy.name or "").strip():
                raise ValidationError(_("A collection policy needs a name."))

    @api.ondelete(at_uninstall=False)
    def _unlink_except_used(self):
        for policy in self:
            companies = (
                self.env["res.company"]
                .sudo()
                .search([("collection_policy_id", "=", policy.id)])
            )
            if companies:
                raise UserError(
                    _(
                        "The collection policy %(policy)s is the default policy of "
                        "%(companies)s. Choose another default policy first.",
                        policy=policy.display_name,
                        companies=", ".join(companies.mapped("name")),
                    )
                )
            if (
                self.env["collection.history"]
                .sudo()
                .search_count([("policy_id", "=", policy.id)], limit=1)
            ):
                raise UserError(
                    _(
                        "The collection policy %(policy)s has already been applied "
                        "to invoices and cannot be deleted, because its history "
                        "would be lost. Archive it instead.",
                        policy=policy.display_name,
                    )
                )

    def _get_stage_steps(self):
        """Return the policy's stages as ``StageStep`` tuples, by offset."""
        self.ensure_one()
        stages = self.stage_ids.sorted(lambda stage: (stage.offset_days, stage.id))
        return [StageStep(stage.id, stage.offset_days) for stage in stages]
