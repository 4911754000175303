from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..rules.interest import FEE_FIXED, FEE_PERCENT

NOTICE_MODEL = "collection.notice"
# Bound of day offsets and deadlines: ten years either way.
MAX_DAYS = 3650


class CollectionStage(models.Model):
    """Step of a collection policy, reached a number of days from the due date."""

    _name = "collection.stage"
    _description = "Collection Stage"
    _order = "policy_id, offset_days, id"

    name = fields.Char(required=True, translate=True)
    policy_id = fields.Many2one(
        comodel_name="collection.policy",
        required=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(related="policy_id.company_id", store=True)
    offset_days = fields.Integer(
        string="Days From Due Date",
        required=True,
        help="Days from the due date at which an item reaches this stage. "
        "Negative for a courtesy reminder before the due date.",
    )
    send_email = fields.Boolean(
        help="Send the customer one consolidated email listing every item.",
    )
    mail_template_id = fields.Many2one(
        comodel_name="mail.template",
        string="Email Template",
        ondelete="restrict",
        domain=[("model", "=", NOTICE_MODEL)],
    )
    attach_statement = fields.Boolean(
        help="Attach the customer's statement of account, as a PDF, to the email "
        "sent at this stage.",
    )
    print_letter = fields.Boolean(
        help="Queue a printed letter with the same content as the email.",
    )
    create_activity = fields.Boolean(
        help="Schedule an activity, such as a phone call, for the collector.",
    )
    activity_type_id = fields.Many2one(comodel_name="mail.activity.type")
    activity_summary = fields.Char(translate=True)
    activity_deadline_days = fields.Integer(
        string="Activity Deadline (Days)",
        default=3,
        help="Days after the run date by which the activity is due.",
    )
    activity_assignee = fields.Selection(
        selection=[
            ("collector", "Customer's collector"),
            ("salesperson", "Salesperson"),
            ("user", "Named user"),
        ],
        default="collector",
        help="Who receives the activity. When the customer has no collector or "
        "salesperson, the activity goes to the user who runs the collection.",
    )
    activity_user_id = fields.Many2one(comodel_name="res.users", string="Assignee")
    credit_hold = fields.Boolean(
        help="Flag the customer as on credit hold. The flag is informative and "
        "is cleared by the run once nothing is overdue.",
    )
    legal_handover = fields.Boolean(
        string="Hand Over to Legal",
        help="Items that reach this stage become a legal case of the customer, "
        "assigned to a Legal user.",
    )
    charge_interest = fields.Boolean(
        help="When an item reaches this stage, the run charges the late-payment "
        "interest accrued since its last charge, under the stage's scheme or "
        "else the policy's.",
    )
    interest_scheme_id = fields.Many2one(
        comodel_name="collection.interest.scheme",
        ondelete="restrict",
        help="Scheme of the interest charged at this stage. Empty to use the "
        "policy's scheme.",
    )
    fee_type = fields.Selection(
        selection=[(FEE_FIXED, "Fixed amount"), (FEE_PERCENT, "Percentage")],
        string="Recovery Fee",
        help="Recovery fee charged once per item when it reaches this stage: a "
        "fixed amount, or a percentage of the amount overdue. Empty for none.",
    )
    fee_amount = fields.Float(
        digits="Account",
        help="Fixed fee, in the currency of each invoice.",
    )
    fee_percent = fields.Float(
        string="Fee (%)",
        digits=(16, 4),
        help="Fee in percent of the item's amount overdue, disputed part excluded.",
    )
    fee_minimum = fields.Float(
        string="Minimum Fee",
        digits="Account",
        help="Lowest percentage fee, in the currency of each invoice.",
    )
    fee_maximum = fields.Float(
        string="Maximum Fee",
        digits="Account",
        help="Highest percentage fee, in the currency of each invoice. Zero for "
        "no maximum.",
    )
    history_count = fields.Integer(compute="_compute_history_count")

    def _compute_history_count(self):
        counts = dict(
            self.env["collection.history"]._read_group(
                [("stage_id", "in", self.ids)], ["stage_id"], ["__count"]
            )
        )
        for stage in self:
            stage.history_count = counts.get(stage, 0)

    # Odoo checks a constraint only for the fields written. The policy is in
    # every create, so a stage created without any action is caught too.
    @api.constrains(
        "policy_id",
        "send_email",
        "print_letter",
        "create_activity",
        "credit_hold",
        "legal_handover",
    )
    def _check_has_action(self):
        for stage in self:
            if not (
                stage.send_email
                or stage.print_letter
                or stage.create_activity
                or stage.credit_hold
                or stage.legal_handover
            ):
                raise ValidationError(
                    _(
                        "The collection stage %(stage)s takes no action. Choose at "
                        "least one: send an email, print a letter, schedule an "
                        "activity, put the customer on credit hold or hand the items "
                        "over to legal.",
                        stage=stage.name,
                    )
                )

    @api.constrains("send_email", "print_letter", "mail_template_id")
    def _check_mail_template(self):
        for stage in self:
            template = stage.mail_template_id
            if (stage.send_email or stage.print_letter) and not template:
                raise ValidationError(
                    _(
                        "The collection stage %(stage)s sends an email or prints "
                        "a letter but has no email template. Choose a template.",
                        stage=stage.name,
                    )
                )
            if template and template.model != NOTICE_MODEL:
                raise ValidationError(
                    _(
                        "The email template %(template)s of the collection stage "
                        "%(stage)s is for the model %(model)s. Choose a template "
                        "for collection notices.",
                        template=template.name,
                        stage=stage.name,
                        model=template.model,
                    )
                )

    @api.constrains(
        "create_activity", "activity_type_id", "activity_assignee", "activity_user_id"
    )
    def _check_activity(self):
        for stage in self.filtered("create_activity"):
            if not stage.activity_type_id:
                raise ValidationError(
                    _(
                        "The collection stage %(stage)s schedules an activity but "
                        "has no activity type. Choose an activity type.",
                        stage=stage.name,
                    )
                )
            if stage.activity_assignee == "user" and not stage.activity_user_id:
                raise ValidationError(
                    _(
                        "The collection stage %(stage)s assigns its activity to a "
                        "named user but no user is set. Choose the assignee.",
                        stage=stage.name,
                    )
                )
            if stage.activity_deadline_days < 0:
                raise ValidationError(
                    _(
                        "The activity deadline of the collection stage %(stage)s "
                        "is negative. Enter zero or a positive number of days.",
                        stage=stage.name,
                    )
                )

    @api.constrains("offset_days", "activity_deadline_days", "name")
    def _check_ranges(self):
        for stage in self:
            if not (stage.name or "").strip():
                raise ValidationError(_("A collection stage needs a name."))
            if abs(stage.offset_days) > MAX_DAYS:
                raise ValidationError(
                    _(
                        "The collection stage %(stage)s is reached %(days)s days "
                        "from the due date. Enter at most %(max)s days either way.",
                        stage=stage.name,
                        days=stage.offset_days,
                        max=MAX_DAYS,
                    )
                )
            if stage.activity_deadline_days > MAX_DAYS:
                raise ValidationError(
                    _(
                        "The activity deadline of the collection stage %(stage)s "
                        "is %(days)s days. Enter at most %(max)s days.",
                        stage=stage.name,
                        days=stage.activity_deadline_days,
                        max=MAX_DAYS,
                    )
                )

    @api.constrains(
        "fee_type", "fee_amount", "fee_percent", "fee_minimum", "fee_maximum"
    )
    def _check_fee(self):
        for stage in self:
            if (
                min(
                    stage.fee_amount,
                    stage.fee_percent,
                    stage.fee_minimum,
                    stage.fee_maximum,
                )
                < 0
            ):
                raise ValidationError(
                    _(
                        "The recovery fee of the collection stage %(stage)s has a "
                        "negative amount, percentage, minimum or maximum. Enter "
                        "zero or positive figures.",
                        stage=stage.name,
                    )
                )
            if (
                stage.fee_type == FEE_PERCENT
                and stage.fee_maximum
                and stage.fee_minimum > stage.fee_maximum
            ):
                raise ValidationError(
                    _(
                        "The minimum recovery fee of the collection stage "
                        "%(stage)s (%(minimum)s) is above its maximum "
                        "(%(maximum)s). Lower the minimum or raise the maximum.",
                        stage=stage.name,
                        minimum=stage.fee_minimum,
                        maximum=stage.fee_maximum,
                    )
                )

    @api.constrains("charge_interest", "interest_scheme_id", "policy_id")
    def _check_interest_scheme(self):
        for stage in self.filtered("charge_interest"):
            if not (stage.interest_scheme_id or stage.policy_id.interest_scheme_id):
                raise ValidationError(
                    _(
                        "The stage %(stage)s charges interest, but neither it "
                        "nor its policy %(policy)s has an interest scheme. "
                        "Choose a scheme on the stage or the policy.",
                        stage=stage.name,
                        policy=stage.policy_id.display_name,
                    )
                )

    @api.constrains("activity_user_id")
    def _check_activity_user(self):
        for stage in self.filtered("activity_user_id"):
            if stage.activity_user_id.share:
                raise ValidationError(
                    _(
                        "The activity of the collection stage %(stage)s cannot be "
                        "assigned to %(user)s, who is not an internal user.",
                        stage=stage.name,
                        user=stage.activity_user_id.name,
                    )
                )

    def write(self, vals):
        if "offset_days" in vals or "policy_id" in vals:
            applied_stages = self.env["collection.history"]._read_group(
                [("stage_id", "in", self.ids)], ["stage_id"]
            )
            for [stage] in applied_stages:
                new_offset = vals.get("offset_days", stage.offset_days)
                new_policy_id = vals.get("policy_id", stage.policy_id.id)
                if (
                    new_offset == stage.offset_days
                    and new_policy_id == stage.policy_id.id
                ):
                    continue
                raise UserError(
                    _(
                        "The stage %(stage)s has already been applied to invoices, "
                        "so its day offset and policy cannot change: items would "
                        "skip stages without any record. Add a new stage instead.",
                        stage=stage.name,
                    )
                )
        return super().write(vals)

    @api.constrains("offset_days", "policy_id")
    def _check_offset_unique(self):
        for stage in self:
            same_offset = stage.policy_id.stage_ids.filtered(
                lambda other, stage=stage: (
                    other != stage and other.offset_days == stage.offset_days
                )
            )
            if same_offset:
                raise ValidationError(
                    _(
                        "The stages %(stage)s and %(other)s of the policy "
                        "%(policy)s are both reached at %(days)s days from the due "
                        "date. Give each stage of a policy its own offset.",
                        stage=stage.name,
                        other=same_offset[0].name,
                        policy=stage.policy_id.display_name,
                        days=stage.offset_days,
                    )
                )

    @api.ondelete(at_uninstall=False)
    def _unlink_except_last_stage(self):
        for policy in self.policy_id:
            if not (policy.stage_ids - self):
                raise UserError(
                    _(
                        "The stages of the collection policy %(policy)s cannot all "
                        "be deleted: a policy needs at least one stage. Archive "
                        "the policy instead.",
                        policy=policy.display_name,
                    )
                )
            applied_stages = self.env["collection.history"]._read_group(
                [("stage_id", "in", (self & policy.stage_ids).ids)], ["stage_id"]
            )
            if applied_stages:
                raise UserError(
                    _(
                        "The stage %(stage)s of the collection policy %(policy)s "
                        "has already been applied to invoices and cannot be "
                        "deleted, because its history would be lost.",
                        stage=", ".join(stage.name for [stage] in applied_stages),
                        policy=policy.display_name,
                    )
                )

    def _get_activity_user(self, partner):
        """Return the user who receives this stage's activity for ``partner``."""
        self.ensure_one()
        if self.activity_assignee == "user":
            return self.activity_user_id
        if self.activity_assignee == "salesperson":
            return partner.user_id
        return partner.collection_user_id
