import logging
from collections import Counter, defaultdict
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..rules.payment_plan import allocate_paid, build_schedule
from .account_move import COLLECTION_GROUPS  # noqa: F401
from .collection_promise import PROMISE_CHANNELS

_logger = logging.getLogger(__name__)

PLAN_STATES = [
    ("draft", "Draft"),
    ("to_approve", "To Approve"),
    ("approved", "Approved"),
    ("sent", "Sent"),
    ("active", "Active"),
    ("completed", "Completed"),
    ("broken", "Broken"),
    ("refused", "Refused"),
    ("cancelled", "Cancelled"),
]

PLAN_FREQUENCIES = [
    ("weekly", "Weekly"),
    ("biweekly", "Every Two Weeks"),
    ("monthly", "Monthly"),
    ("quarterly", "Quarterly"),
]

# Fields of the agreement, which change only while the plan is a draft.
AGREEMENT_FIELDS = {
    "move_line_ids",
    "partner_id",
    "currency_id",
    "company_id",
    "down_payment",
    "date_down_payment",
    "instalment_count",
    "frequency",
    "date_first",
    "reduction_type",
    "reduction_value",
    "reduction_timing",
    "line_ids",
}

# Fields written only by the plan's actions, which check who may do what
# before writing them as superuser.
WORKFLOW_FIELDS = {
    "state",
    "amount_debt",
    "amount_reduction",
    "amount_total",
    "date_start",
    "date_closed",
    "amount_paid",
    "approved_by_id",
    "date_approved",
    "refused_by_id",
    "date_refused",
    "refusal_reason",
    "accepted_by_id",
    "date_accepted",
    "reduction_move_ids",
}

CANCELLABLE_STATES = ("draft", "to_approve", "approved", "sent", "active")
RESETTABLE_STATES = ("to_approve", "approved", "sent", "refused", "cancelled")


class CollectionPlan(models.Model):
    """Instalment schedule agreed with a customer over some overdue invoices.

    The debt is frozen when the plan is proposed. Payments reconciled with the
    covered items from then on fill the instalments in date order. While the
    plan is active, the collection run does not escalate its items.
    """

    _name = "collection.plan"
    _description = "Payment Plan"
    _inherit = ["collection.case.mixin"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(required=True, copy=False, readonly=True, default="/")
    state = fields.Selection(
        selection=PLAN_STATES,
        required=True,
        default="draft",
        readonly=True,
        copy=False,
        tracking=True,
        index=True,
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        required=True,
        index=True,
        compute="_compute_partner_currency",
        store=True,
        precompute=True,
        readonly=False,
        tracking=True,
        help="Commercial partner that owes the items.",
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        required=True,
        compute="_compute_partner_currency",
        store=True,
        precompute=True,
        readonly=False,
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Collector",
        default=lambda self: self.env.user,
        tracking=True,
        domain="[('share', '=', False)]",
        help="User who follows the plan up and receives an activity when it breaks.",
    )
    move_line_ids = fields.Many2many(
        comodel_name="account.move.line",
        relation="collection_plan_move_line_rel",
        column1="plan_id",
        column2="move_line_id",
        string="Items",
        copy=False,
        check_company=True,
        domain="[('company_id', '=', company_id), "
        "('account_id.account_type', '=', 'asset_receivable'), "
        "('move_id.move_type', 'in', ('out_invoice', 'out_receipt')), "
        "('parent_state', '=', 'posted'), ('reconciled', '=', False), "
        "('partner_id.commercial_partner_id', '=?', partner_id)]",
        help="Receivable items of the customer invoices the plan covers.",
    )
    move_ids = fields.Many2many(
        comodel_name="account.move",
        string="Invoices",
        compute="_compute_move_ids",
    )
    line_ids = fields.One2many(
        comodel_name="collection.plan.line",
        inverse_name="plan_id",
        string="Schedule",
        copy=True,
    )

    # Terms proposed to the customer.
    down_payment = fields.Monetary(
        help="Amount paid first, on the down payment date, before the instalments."
    )
    date_down_payment = fields.Date(
        string="Down Payment Date", default=fields.Date.context_today
    )
    instalment_count = fields.Integer(
        string="Instalments",
        default=3,
        help="Number of instalments after the down payment.",
    )
    frequency = fields.Selection(
        selection=PLAN_FREQUENCIES, required=True, default="monthly"
    )
    date_first = fields.Date(
        string="First Instalment",
        help="Due date of the first instalment after the down payment.",
    )
    reduction_type = fields.Selection(
        selection=[("amount", "Amount"), ("percent", "Percentage")],
        default="amount",
        required=True,
    )
    reduction_value = fields.Float(
        string="Reduction",
        digits="Account",
        help="Part of the debt forgiven: an amount in the plan's currency, or a "
        "percentage of the debt.",
    )
    reduction_timing = fields.Selection(
        selection=[
            ("immediate", "At Once"),
            ("on_completion", "When Completed"),
        ],
        default="on_completion",
        required=True,
        help="At Once: the reduction is booked when the customer accepts the "
        "plan. When Completed: it is booked only once the plan is paid in "
        "full, and lost if the plan is broken.",
    )
    note = fields.Html(string="Terms", help="Conditions printed on the plan.")

    # Amounts.
    amount_debt = fields.Monetary(
        string="Debt",
        compute="_compute_amount_debt",
        store=True,
        readonly=True,
        help="What the customer owed on the covered items when the plan was "
        "proposed. Until then, what they owe now.",
    )
    amount_reduction = fields.Monetary(
        string="Reduction Amount",
        compute="_compute_amounts",
        store=True,
    )
    amount_total = fields.Monetary(
        string="Agreed Total",
        compute="_compute_amounts",
        store=True,
        help="Debt less the reduction: what the instalments add up to.",
    )
    amount_scheduled = fields.Monetary(
        string="Scheduled", compute="_compute_amount_scheduled"
    )
    amount_paid = fields.Monetary(
        string="Paid",
        readonly=True,
        copy=False,
        help="Payments reconciled with the covered items since the plan was "
        "proposed, as of the last check.",
    )
    amount_residual = fields.Monetary(
        string="Still Owed",
        compute="_compute_amount_residual",
        help="What the customer still owes on the covered items.",
    )

    # Approval and acceptance.
    approval_reason = fields.Text(
        string="Approval Needed Because",
        compute="_compute_approval_reason",
    )
    approved_by_id = fields.Many2one(
        comodel_name="res.users", readonly=True, copy=False
    )
    date_approved = fields.Datetime(string="Approved On", readonly=True, copy=False)
    refused_by_id = fields.Many2one(comodel_name="res.users", readonly=True, copy=False)
    date_refused = fields.Datetime(string="Refused On", readonly=True, copy=False)
    refusal_reason = fields.Text(readonly=True, copy=False)
    acceptance_channel = fields.Selection(
        selection=PROMISE_CHANNELS,
        copy=False,
        help="How the customer accepted the plan.",
    )
    accepted_by_id = fields.Many2one(
        comodel_name="res.users",
        string="Acceptance Recorded By",
        readonly=True,
        copy=False,
    )
    date_accepted = fields.Datetime(string="Accepted On", readonly=True, copy=False)
    date_start = fields.Date(
        string="Proposed On",
        readonly=True,
        copy=False,
        help="Date the debt was frozen. Payments reconciled from this date on "
        "count towards the instalments.",
    )
    date_closed = fields.Date(string="Closed On", readonly=True, copy=False)
    reduction_move_ids = fields.Many2many(
        comodel_name="account.move",
        relation="collection_plan_reduction_move_rel",
        column1="plan_id",
        column2="move_id",
        string="Reduction Credit Notes",
        readonly=True,
        copy=False,
    )
    reduction_move_count = fields.Integer(compute="_compute_reduction_move_count")

    # ------------------------------------------------------------------
    # Computes and constraints
    # ------------------------------------------------------------------

    @api.depends("move_line_ids")
    def _compute_move_ids(self):
        for plan in self:
            plan.move_ids = plan.move_line_ids.move_id

    @api.depends("move_line_ids")
    def _compute_partner_currency(self):
        for plan in self:
            lines = plan.move_line_ids
            if lines:
                plan.partner_id = lines.partner_id.commercial_partner_id[:1]
                plan.currency_id = lines.currency_id[:1]
            else:
                plan.partner_id = plan.partner_id
                plan.currency_id = plan.currency_id or plan.company_id.currency_id

    @api.depends("move_line_ids")
    def _compute_amount_debt(self):
        for plan in self:
            plan.amount_debt = sum(
                plan.move_line_ids.mapped("amount_residual_currency")
            )

    @api.depends("amount_debt", "reduction_type", "reduction_value", "currency_id")
    def _compute_amounts(self):
        for plan in self:
            currency = plan.currency_id or plan.company_id.currency_id
            if plan.reduction_type == "percent":
                reduction = plan.amount_debt * plan.reduction_value / 100.0
            else:
                reduction = plan.reduction_value
            plan.amount_reduction = currency.round(reduction)
            plan.amount_total = currency.round(plan.amount_debt - plan.amount_reduction)

    @api.depends("line_ids.amount")
    def _compute_amount_scheduled(self):
        for plan in self:
            plan.amount_scheduled = sum(plan.line_ids.mapped("amount"))

    @api.depends("move_line_ids.amount_residual_currency")
    def _compute_amount_residual(self):
        for plan in self:
            plan.amount_residual = sum(
                plan.move_line_ids.mapped("amount_residual_currency")
            )

    @api.depends(
        "amount_reduction",
        "line_ids.date",
        "line_ids.is_down_payment",
        "date_start",
        "company_id",
    )
    def _compute_approval_reason(self):
        for plan in self:
            plan.approval_reason = "\n".join(plan._get_approval_reasons())

    @api.depends("reduction_move_ids")
    def _compute_reduction_move_count(self):
        for plan in self:
            plan.reduction_move_count = len(plan.reduction_move_ids)

    @api.constrains("down_payment", "instalment_count", "reduction_value")
    def _check_terms(self):
        for plan in self:
            if plan.instalment_count < 1:
                raise ValidationError(
                    _(
                        "The number of instalments of %(plan)s is %(count)s. "
                        "Enter at least one instalment.",
                        plan=plan.name,
                        count=plan.instalment_count,
                    )
                )
            if plan.currency_id.compare_amounts(plan.down_payment, 0.0) < 0:
                raise ValidationError(
                    _(
                        "The down payment of %(plan)s is negative (%(amount)s). "
                        "Enter zero for no down payment, or a positive amount.",
                        plan=plan.name,
                        amount=plan._format_amount(plan.down_payment),
                    )
                )
            if plan.reduction_value < 0:
                raise ValidationError(
                    _(
                        "The reduction of %(plan)s is negative (%(value)s). Enter "
                        "zero for no reduction, or a positive amount or percentage.",
                        plan=plan.name,
                        value=plan.reduction_value,
                    )
                )
            if plan.reduction_type == "percent" and plan.reduction_value >= 100:
                raise ValidationError(
                    _(
                        "The reduction of %(plan)s is %(value)s%%, which forgives "
                        "the whole debt. Enter a percentage below 100.",
                        plan=plan.name,
                        value=plan.reduction_value,
                    )
                )

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                self._check_workflow_fields(vals)
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code(
                    "collection.plan"
                ) or _("New")
        plans = super().create(vals_list)
        for plan in plans.filtered("move_line_ids"):
            plan._check_items()
        return plans

    def write(self, vals):
        if not self.env.su:
            self._check_workflow_fields(vals)
        if AGREEMENT_FIELDS & set(vals):
            fixed = self.filtered(lambda plan: plan.state != "draft")
            if fixed:
                raise UserError(
                    _(
                        "The terms of the payment plan %(plan)s can only be "
                        "changed in draft. Reset it to draft first.",
                        plan=fixed[0].name,
                    )
                )
        result = super().write(vals)
        if "move_line_ids" in vals:
            for plan in self.filtered("move_line_ids"):
                plan._check_items()
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_in_progress(self):
        started = self.filtered(
            lambda plan: plan.state not in ("draft", "refused", "cancelled")
        )
        if started:
            raise UserError(
                _(
                    "The payment plan %(plan)s is %(state)s and cannot be "
                    "deleted. Cancel it instead.",
                    plan=started[0].name,
                    state=started[0]._get_state_label(),
                )
            )

    @api.model
    def _check_workflow_fields(self, vals):
        protected = WORKFLOW_FIELDS & set(vals)
        if protected - {"state"} or vals.get("state", "draft") != "draft":
            raise AccessError(
                _(
                    "%(fields)s of a payment plan change only through its "
                    "buttons (propose, approve, send, accept, cancel).",
                    fields=", ".join(sorted(protected)),
                )
            )

    def _check_items(self):
        self.ensure_one()
        self.move_line_ids._check_collection_negotiable(plan=self)
        if self.move_line_ids.company_id != self.company_id:
            raise ValidationError(
                _(
                    "The invoices of %(plan)s belong to %(invoice_company)s, "
                    "not to %(company)s.",
                    plan=self.name,
                    invoice_company=self.move_line_ids.company_id.name,
                    company=self.company_id.name,
                )
            )
        if self.move_line_ids.partner_id.commercial_partner_id != self.partner_id:
            raise ValidationError(
                _(
                    "The invoices of %(plan)s are owed by %(debtor)s, not by "
                    "%(customer)s.",
                    plan=self.name,
                    debtor=self.move_line_ids.partner_id.commercial_partner_id.name,
                    customer=self.partner_id.name,
                )
            )
        if self.move_line_ids.currency_id != self.currency_id:
            raise ValidationError(
                _(
                    "The invoices of %(plan)s are in %(invoice_currency)s, not in "
                    "%(currency)s.",
                    plan=self.name,
                    invoice_currency=self.move_line_ids.currency_id.name,
                    currency=self.currency_id.name,
                )
            )

    # ------------------------------------------------------------------
    # Entry point from invoices and customers
    # ------------------------------------------------------------------

    @api.model
    def _action_new_for_lines(self, lines):
        """Return an action opening a new plan form over the receivable ``lines``.

        Raises a UserError when the lines cannot be negotiated together.
        """
        lines._check_collection_negotiable(plan=self.browse())
        return {
            "type": "ir.actions.act_window",
            "name": _("New Payment Plan"),
            "res_model": "collection.plan",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
            "context": {
                "default_partner_id": lines.partner_id.commercial_partner_id.id,
                "default_company_id": lines.company_id.id,
                "default_currency_id": lines.currency_id.id,
                "default_move_line_ids": [Command.set(lines.ids)],
            },
        }

    # ------------------------------------------------------------------
    # Schedule
    # ------------------------------------------------------------------

    def action_generate_schedule(self):
        """Replace the schedule with the down payment and equal instalments."""
        for plan in self:
            if plan.state != "draft":
                raise UserError(
                    _(
                        "The schedule of %(plan)s can only be generated in draft.",
                        plan=plan.name,
                    )
                )
            plan._check_items()
            plan.sudo().amount_debt = sum(
                plan.move_line_ids.mapped("amount_residual_currency")
            )
            plan._check_amounts()
            plan._check_dates(fields.Date.context_today(plan))
            schedule = build_schedule(
                total=plan.amount_total,
                down_payment=plan.down_payment,
                count=plan.instalment_count,
                frequency=plan.frequency,
                first_date=plan.date_first,
                down_payment_date=plan.date_down_payment,
                rounding=plan.currency_id.rounding,
            )
            commands = [Command.clear()]
            for sequence, instalment in enumerate(schedule, start=1):
                commands.append(
                    Command.create(
                        {
                            "sequence": sequence,
                            "date": instalment.date,
                            "amount": instalment.amount,
                            "is_down_payment": instalment.is_down_payment,
                        }
                    )
                )
            plan.line_ids = commands
            plan._check_schedule_amounts()
        return True

    def _check_amounts(self):
        """Raise unless the debt, reduction and down payment leave instalments
        to pay."""
        self.ensure_one()
        currency = self.currency_id
        if currency.compare_amounts(self.amount_debt, 0.0) <= 0:
            raise UserError(
                _(
                    "The invoices of %(plan)s leave nothing to pay. Select the "
                    "invoices the customer still owes.",
                    plan=self.name,
                )
            )
        if currency.compare_amounts(self.amount_reduction, self.amount_debt) >= 0:
            raise UserError(
                _(
                    "The reduction of %(reduction)s is not less than the debt of "
                    "%(debt)s. A plan must leave something to pay: lower the "
                    "reduction, or cancel the debt with a credit note instead.",
                    reduction=self._format_amount(self.amount_reduction),
                    debt=self._format_amount(self.amount_debt),
                )
            )
        if currency.compare_amounts(self.down_payment, self.amount_total) >= 0:
            raise UserError(
                _(
                    "The down payment of %(down_payment)s is not less than the "
                    "agreed total of %(total)s. Lower the down payment so that "
                    "instalments remain.",
                    down_payment=self._format_amount(self.down_payment),
                    total=self._format_amount(self.amount_total),
                )
            )

    def _check_dates(self, today):
        self.ensure_one()
        if not self.date_first:
            raise UserError(
                _(
                    "Enter the date of the first instalment of %(plan)s.",
                    plan=self.name,
                )
            )
        if self.date_first < today:
            raise UserError(
                _(
                    "The first instalment date %(date)s of %(plan)s is in the "
                    "past. Enter a date from today on.",
                    date=self.date_first,
                    plan=self.name,
                )
            )
        if (
            self.currency_id.compare_amounts(self.down_payment, 0.0) > 0
            and self.date_down_payment
            and self.date_down_payment < today
        ):
            raise UserError(
                _(
                    "The down payment date %(date)s of %(plan)s is in the past. "
                    "Enter a date from today on.",
                    date=self.date_down_payment,
                    plan=self.name,
                )
            )

    def _check_schedule_amounts(self):
        self.ensure_one()
        currency = self.currency_id
        if not self.line_ids:
            raise UserError(
                _(
                    "The payment plan %(plan)s has no schedule. Generate it, or "
                    "enter the instalments.",
                    plan=self.name,
                )
            )
        if len(self.line_ids.filtered("is_down_payment")) > 1:
            raise UserError(
                _(
                    "The payment plan %(plan)s has several down payments. Keep "
                    "one, and make the others instalments.",
                    plan=self.name,
                )
            )
        for line in self.line_ids:
            if currency.compare_amounts(line.amount, 0.0) <= 0:
                raise UserError(
                    _(
                        "The instalment of %(date)s is %(amount)s. Every instalment "
                        "must be more than zero: remove it, or use fewer "
                        "instalments.",
                        date=line.date,
                        amount=self._format_amount(line.amount),
                    )
                )
        scheduled = sum(self.line_ids.mapped("amount"))
        if currency.compare_amounts(scheduled, self.amount_total) != 0:
            raise UserError(
                _(
                    "The instalments of %(plan)s add up to %(scheduled)s, not to "
                    "the agreed total of %(total)s. Change them by %(gap)s, or "
                    "generate the schedule again.",
                    plan=self.name,
                    scheduled=self._format_amount(scheduled),
                    total=self._format_amount(self.amount_total),
                    gap=self._format_amount(self.amount_total - scheduled),
                )
            )

    def _check_schedule_dates(self, today):
        self.ensure_one()
        past = self.line_ids.filtered(lambda line: line.date < today)
        if past:
            raise UserError(
                _(
                    "The instalment of %(amount)s is due on %(date)s, which is in "
                    "the past. Move it to today or later.",
                    amount=self._format_amount(past[0].amount),
                    date=past[0].date,
                )
            )

    def _get_approval_reasons(self):
        """Return why the plan needs a manager's approval, one sentence each."""
        self.ensure_one()
        company = self.company_id
        reasons = []

        if self.currency_id.compare_amounts(self.amount_reduction, 0.0) > 0:
            reasons.append(
                _(
                    "It forgives %(amount)s of the debt.",
                    amount=self._format_amount(self.amount_reduction),
                )
            )

        instalments = self.line_ids.filtered(lambda line: not line.is_down_payment)
        if len(instalments) > company.collection_plan_max_instalments:
            reasons.append(
                _(
                    "It has %(count)s instalments, more than the %(max)s allowed "
                    "without approval.",
                    count=len(instalments),
                    max=company.collection_plan_max_instalments,
                )
            )

        dates = self.line_ids.mapped("date")
        start = self.date_start or fields.Date.context_today(self)
        limit = start + relativedelta(months=company.collection_plan_max_months)
        if dates and max(dates) > limit:
            reasons.append(
                _(
                    "Its last instalment is due on %(date)s, more than %(months)s "
                    "months after %(start)s.",
                    date=max(dates),
                    months=company.collection_plan_max_months,
                    start=start,
                )
            )
        return reasons

    # ------------------------------------------------------------------
    # Workflow
    # ------------------------------------------------------------------

    def action_propose(self):
        """Freeze the debt and submit the plan, for approval when it needs it."""
        today = fields.Date.context_today(self)
        for plan in self:
            if plan.state != "draft":
                raise UserError(
                    _("Only a draft plan can be proposed (%(plan)s).", plan=plan.name)
                )
            plan._check_items()
            plan.sudo().write(
                {
                    "amount_debt": sum(
                        plan.move_line_ids.mapped("amount_residual_currency")
                    ),
                    "date_start": today,
                }
            )
            plan._check_amounts()
            plan._check_dates(today)
            plan._check_schedule_amounts()
            plan._check_schedule_dates(today)
            plan._check_reduction_account()

            reasons = plan._get_approval_reasons()
            state = "to_approve" if reasons else "approved"
            plan.sudo().state = state
            total = plan._format_amount(plan.amount_total)
            if reasons:
                body = _(
                    "Payment plan %(plan)s of %(total)s in %(count)s payments "
                    "proposed by %(user)s, waiting for a manager's approval: "
                    "%(reasons)s",
                    plan=plan.name,
                    total=total,
                    count=len(plan.line_ids),
                    user=self.env.user.name,
                    reasons=" ".join(reasons),
                )
            else:
                body = _(
                    "Payment plan %(plan)s of %(total)s in %(count)s payments "
                    "proposed by %(user)s. It needs no approval.",
                    plan=plan.name,
                    total=total,
                    count=len(plan.line_ids),
                    user=self.env.user.name,
                )
            plan._post_everywhere(body)
        return True

    def action_approve(self):
        """Approve plans waiting for approval. Collections managers only."""
        self._check_manager(_("Only a collections manager can approve a payment plan."))
        for plan in self:
            if plan.state != "to_approve":
                raise UserError(
                    _(
                        "The payment plan %(plan)s is not waiting for approval.",
                        plan=plan.name,
                    )
                )
            plan._check_not_own_reduction()
            plan.sudo().write(
                {
                    "state": "approved",
                    "approved_by_id": self.env.uid,
                    "date_approved": fields.Datetime.now(),
                }
            )
            plan._post_everywhere(
                _(
                    "Payment plan %(plan)s approved by %(user)s.",
                    plan=plan.name,
                    user=self.env.user.name,
                )
            )
        return True

    def action_open_refuse_wizard(self):
        self._check_manager(_("Only a collections manager can refuse a payment plan."))
        return {
            "type": "ir.actions.act_window",
            "name": _("Refuse Payment Plan"),
            "res_model": "collection.plan.refuse",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"default_plan_ids": [Command.set(self.ids)]},
        }

    def _refuse(self, reason):
        """Refuse plans waiting for approval, for ``reason``. Managers only."""
        self._check_manager(_("Only a collections manager can refuse a payment plan."))
        if not (reason or "").strip():
            raise UserError(_("Enter the reason for refusing the payment plan."))
        for plan in self:
            if plan.state != "to_approve":
                raise UserError(
                    _(
                        "The payment plan %(plan)s is not waiting for approval.",
                        plan=plan.name,
                    )
                )
            plan.sudo().write(
                {
                    "state": "refused",
                    "refused_by_id": self.env.uid,
                    "date_refused": fields.Datetime.now(),
                    "refusal_reason": reason.strip(),
                }
            )
            plan._post_everywhere(
                _(
                    "Payment plan %(plan)s refused by %(user)s: %(reason)s",
                    plan=plan.name,
                    user=self.env.user.name,
                    reason=reason.strip(),
                )
            )
        return True

    def action_reset_to_draft(self):
        for plan in self:
            if plan.state not in RESETTABLE_STATES:
                raise UserError(
                    _(
                        "The payment plan %(plan)s is %(state)s and cannot go "
                        "back to draft.",
                        plan=plan.name,
                        state=plan._get_state_label(),
                    )
                )
            plan.sudo().write(
                {
                    "state": "draft",
                    "approved_by_id": False,
                    "date_approved": False,
                    "date_start": False,
                }
            )
            plan._post_everywhere(
                _(
                    "Payment plan %(plan)s set back to draft by %(user)s.",
                    plan=plan.name,
                    user=self.env.user.name,
                )
            )
        return True

    def action_send(self):
        """Open the email composer with the plan's template and PDF."""
        self.ensure_one()
        if self.state not in ("approved", "sent"):
            raise UserError(
                _(
                    "The payment plan %(plan)s must be approved before it is sent "
                    "to the customer.",
                    plan=self.name,
                )
            )
        template = self.env.ref(
            "fast_collections.mail_template_collection_plan", raise_if_not_found=False
        )
        context = {
            "default_model": self._name,
            "default_res_ids": self.ids,
            "default_composition_mode": "comment",
            "default_template_id": template.id if template else False,
            "default_partner_ids": self.partner_id.ids,
            "mark_plan_as_sent": True,
            "force_email": True,
        }
        return {
            "type": "ir.actions.act_window",
            "name": _("Send Payment Plan"),
            "res_model": "mail.compose.message",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": context,
        }

    @api.returns("mail.message", lambda value: value.id)
    def message_post(self, **kwargs):
        if self.env.context.get("mark_plan_as_sent"):
            for plan in self.filtered(lambda plan: plan.state == "approved"):
                plan.sudo().state = "sent"
                plan._post_on_invoices(
                    _(
                        "Payment plan %(plan)s sent to the customer by %(user)s.",
                        plan=plan.name,
                        user=self.env.user.name,
                    )
                )
        return super().message_post(**kwargs)

    def action_accept(self):
        """Record the customer's acceptance by the channel entered on the plan."""
        for plan in self:
            if not plan.acceptance_channel:
                raise UserError(
                    _(
                        "Enter how the customer accepted the payment plan "
                        "%(plan)s before recording the acceptance.",
                        plan=plan.name,
                    )
                )
            plan._accept(plan.acceptance_channel)
        return True

    def _accept(self, channel):
        """Make the sent plan active, accepted by the customer through ``channel``.

        Records the current user as the one who took the acceptance, and books
        a reduction granted at once.
        """
        self.ensure_one()
        if self.state != "sent":
            raise UserError(
                _(
                    "The payment plan %(plan)s must be sent to the customer before "
                    "the customer accepts it.",
                    plan=self.name,
                )
            )
        # Items paid since the proposal are left out of the check. The others
        # must still be negotiable: not disputed, nor in another plan.
        open_items = self.move_line_ids.filtered(lambda item: not item.reconciled)
        if not open_items:
            raise UserError(
                _(
                    "The invoices of the payment plan %(plan)s are paid, so "
                    "there is nothing left to accept. Cancel the plan.",
                    plan=self.name,
                )
            )
        open_items._check_collection_negotiable(plan=self)
        today = fields.Date.context_today(self)
        self.sudo().write(
            {
                "state": "active",
                "acceptance_channel": channel,
                "accepted_by_id": self.env.uid,
                "date_accepted": fields.Datetime.now(),
            }
        )
        self._post_everywhere(
            _(
                "Payment plan %(plan)s accepted by the customer (%(channel)s), "
                "recorded by %(user)s. Collection of its invoices is paused "
                "while it is active.",
                plan=self.name,
                channel=dict(
                    self._fields["acceptance_channel"]._description_selection(self.env)
                )[channel],
                user=self.env.user.name,
            )
        )
        promises = self.move_line_ids.collection_promise_ids.filtered(
            lambda promise: promise.state == "open"
        )
        promises.sudo()._replace_by_plan(self)
        if self.reduction_timing == "immediate":
            self._book_reduction(today)
        self._update_progress(today, self._get_grace_days())

    def action_cancel(self):
        for plan in self:
            if plan.state not in CANCELLABLE_STATES:
                raise UserError(
                    _(
                        "The payment plan %(plan)s is %(state)s and cannot be "
                        "cancelled.",
                        plan=plan.name,
                        state=plan._get_state_label(),
                    )
                )
            was_active = plan.state == "active"
            plan.sudo().write(
                {"state": "cancelled", "date_closed": fields.Date.context_today(plan)}
            )
            body = _(
                "Payment plan %(plan)s cancelled by %(user)s.",
                plan=plan.name,
                user=self.env.user.name,
            )
            if was_active:
                body += " " + _("Collection of its invoices resumes.")
            if plan.reduction_move_ids:
                body += " " + _(
                    "The reduction credit notes %(moves)s stay booked: reverse "
                    "them if the reduction no longer applies.",
                    moves=", ".join(plan.reduction_move_ids.mapped("name")),
                )
            plan._post_everywhere(body)
        return True

    def action_refresh_payments(self):
        """Count the payments received so far towards the instalments."""
        for plan in self:
            if plan.state != "active":
                raise UserError(
                    _(
                        "Only an active payment plan follows payments (%(plan)s).",
                        plan=plan.name,
                    )
                )
            plan._update_progress(
                fields.Date.context_today(plan), plan._get_grace_days()
            )
        return True

    def action_view_reduction_moves(self):
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "account.action_move_out_refund_type"
        )
        action["domain"] = [("id", "in", self.reduction_move_ids.ids)]
        action["context"] = {"create": False}
        return action

    def _get_state_label(self):
        """Return the label of the plan's state in the user's language."""
        self.ensure_one()
        labels = dict(self._fields["state"]._description_selection(self.env))
        return labels[self.state]

    def _check_not_own_reduction(self):
        """Raise when the approver negotiated the plan's reduction.

        The plan's collector and its author cannot approve it, so another
        manager must.
        """
        self.ensure_one()
        if self.env.su or self.currency_id.is_zero(self.amount_reduction):
            return
        if self.env.user in (self.user_id | self.create_uid):
            raise AccessError(
                _(
                    "The payment plan %(plan)s forgives %(amount)s that you "
                    "negotiated. Another collections manager must approve it.",
                    plan=self.name,
                    amount=self._format_amount(self.amount_reduction),
                )
            )

    def _check_manager(self, message):
        if not self.env.su and not self.env.user.has_group(
            "fast_collections.group_collection_manager"
        ):
            raise AccessError(message)

    # ------------------------------------------------------------------
    # Following the payments
    # ------------------------------------------------------------------

    @api.model
    def _check_plans(self, run, partners):
        """Update the active plans of ``run``'s company and close those paid
        in full or with an instalment missed. Return the counts by outcome."""
        domain = [("company_id", "=", run.company_id.id), ("state", "=", "active")]
        if partners:
            domain.append(("partner_id", "in", partners.ids))
        plans = self.search(domain)
        counts = Counter()
        if not plans:
            return counts
        policies = run._get_partner_policies(set(plans.partner_id.ids))
        for plan in plans:
            policy = policies.get(plan.partner_id.id)
            grace_days = policy.grace_days if policy else 0
            try:
                with self.env.cr.savepoint():
                    outcome = plan._update_progress(run.run_date, grace_days)
            except UserError as error:
                # A plan that cannot be closed (no reduction account, a lock
                # date) stays active and is tried again by the next run, so
                # that it does not stop the collection of the whole company.
                _logger.warning(
                    "Payment plan %s of company %s skipped by run %s: %s",
                    plan.id,
                    run.company_id.id,
                    run.id,
                    error,
                )
                counts["skipped"] += 1
                continue
            if outcome:
                counts[outcome] += 1
        return counts

    def _get_grace_days(self):
        self.ensure_one()
        partner = self.partner_id.with_company(self.company_id)
        policy = partner.collection_policy_id
        if not policy.active:
            policy = self.company_id.collection_policy_id
        return policy.grace_days if policy.active else 0

    def _get_paid_amount(self):
        self.ensure_one()
        paid_by_line = self.move_line_ids._get_collection_paid_amounts(
            self.date_start, excluded_move_ids=self.reduction_move_ids.ids
        )
        return self.currency_id.round(sum(paid_by_line.values()))

    def _update_progress(self, today, grace_days):
        """Spread the payments over the instalments, then complete or break
        the plan. Return "completed", "broken" or None."""
        self.ensure_one()
        paid = self._get_paid_amount()
        lines = self.line_ids.sorted(lambda line: (line.date, line.sequence, line.id))
        allocated = allocate_paid(
            lines.mapped("amount"), paid, self.currency_id.rounding
        )
        newly_paid = self.env["collection.plan.line"]
        newly_missed = self.env["collection.plan.line"]
        for line, line_paid in zip(lines, allocated, strict=True):
            if self.currency_id.compare_amounts(line_paid, line.amount) >= 0:
                state = "paid"
            elif today > line.date + timedelta(days=grace_days):
                state = "missed"
            else:
                state = "open"
            if state != line.state:
                if state == "paid":
                    newly_paid |= line
                elif state == "missed":
                    newly_missed |= line
            line.sudo().write({"amount_paid": line_paid, "state": state})
        self.sudo().amount_paid = paid

        for line in newly_paid:
            self._post_everywhere(
                _(
                    "Instalment of %(amount)s due %(date)s of payment plan "
                    "%(plan)s paid.",
                    amount=self._format_amount(line.amount),
                    date=line.date,
                    plan=self.name,
                )
            )
        for line in newly_missed:
            self._post_everywhere(
                _(
                    "Instalment of %(amount)s due %(date)s of payment plan "
                    "%(plan)s missed: %(paid)s paid after %(grace)s grace days.",
                    amount=self._format_amount(line.amount),
                    date=line.date,
                    plan=self.name,
                    paid=self._format_amount(line.amount_paid),
                    grace=grace_days,
                )
            )

        if self.currency_id.compare_amounts(paid, self.amount_total) >= 0:
            self._complete(today)
            return "completed"
        if lines.filtered(lambda line: line.state == "missed"):
            self._break(today)
            return "broken"
        return None

    def _complete(self, today):
        self.ensure_one()
        self.sudo().write({"state": "completed", "date_closed": today})
        self._post_everywhere(
            _(
                "Payment plan %(plan)s completed: %(paid)s paid of the agreed "
                "%(total)s.",
                plan=self.name,
                paid=self._format_amount(self.amount_paid),
                total=self._format_amount(self.amount_total),
            )
        )
        if self.reduction_timing == "on_completion":
            self._book_reduction(today)

    def _break(self, today):
        self.ensure_one()
        self.sudo().write({"state": "broken", "date_closed": today})
        body = _(
            "Payment plan %(plan)s broken: %(paid)s paid of the agreed %(total)s. "
            "Collection of its invoices resumes at the stage where it stopped.",
            plan=self.name,
            paid=self._format_amount(self.amount_paid),
            total=self._format_amount(self.amount_total),
        )
        if (
            self.reduction_timing == "on_completion"
            and self.currency_id.compare_amounts(self.amount_reduction, 0.0)
        ):
            body += " " + _(
                "The reduction of %(amount)s was conditional on completing the "
                "plan and is not granted.",
                amount=self._format_amount(self.amount_reduction),
            )
        self._post_everywhere(body)
        user = self._get_collector()
        if user:
            self.activity_schedule(
                activity_type_id=self.env.ref("mail.mail_activity_data_todo").id,
                summary=_("Payment plan broken: call the customer"),
                date_deadline=today,
                user_id=user.id,
            )

    # ------------------------------------------------------------------
    # Reduction credit notes
    # ------------------------------------------------------------------

    def _book_reduction(self, date):
        """Book the plan's reduction as credit notes reconciled with its items.

        The reduction goes to the covered items oldest due first, at most each
        item's residual, with one credit note per invoice.
        """
        self.ensure_one()
        currency = self.currency_id
        if currency.is_zero(self.amount_reduction):
            return self.env["account.move"]
        self._check_reduction_account()
        account = self.company_id.collection_reduction_account_id

        allocations = defaultdict(dict)
        remaining = self.amount_reduction
        for line in self.move_line_ids.filtered(
            lambda item: not item.reconciled
        ).sorted(lambda item: (item.date_maturity or item.date, item.id)):
            if currency.compare_amounts(remaining, 0.0) <= 0:
                break
            amount = min(remaining, line.amount_residual_currency)
            allocations[line.move_id][line] = amount
            remaining = currency.round(remaining - amount)

        reason = _(
            "Reduction granted in payment plan %(plan)s, approved by %(user)s.",
            plan=self.name,
            user=self.approved_by_id.name or self.env.user.name,
        )
        # A manager approved the reduction, so the credit notes are booked
        # whatever the accounting rights of the user who records the step.
        move_model = self.env["account.move"].sudo().with_company(self.company_id)
        credit_notes = self.env["account.move"]
        if not allocations:
            self._report_unbooked_reduction()
            return credit_notes
        for invoice, amounts in allocations.items():
            credit_note = move_model.create(
                self._prepare_reduction_move_values(
                    invoice, sum(amounts.values()), account, date, reason
                )
            )
            credit_note.action_post()
            receivable = credit_note.line_ids.filtered(
                lambda line: line.account_id.account_type == "asset_receivable"
            )
            (receivable | self.env["account.move.line"].concat(*amounts)).reconcile()
            credit_notes |= credit_note
            invoice.sudo().message_post(
                body=_(
                    "Credit note %(credit_note)s of %(amount)s booked: %(reason)s",
                    credit_note=credit_note.name,
                    amount=self._format_amount(sum(amounts.values())),
                    reason=reason,
                )
            )
        self.sudo().reduction_move_ids = [
            Command.link(move.id) for move in credit_notes
        ]
        self.message_post(
            body=_(
                "Reduction of %(amount)s booked in the credit notes %(moves)s.",
                amount=self._format_amount(sum(credit_notes.mapped("amount_total"))),
                moves=", ".join(credit_notes.mapped("name")),
            )
        )
        return credit_notes

    def _report_unbooked_reduction(self):
        """Tell the collector that the reduction found nothing left to settle.

        The customer paid the whole debt, more than the agreed total, so the
        reduction may have to be refunded instead.
        """
        body = _(
            "The reduction of %(amount)s of payment plan %(plan)s was not booked: "
            "the customer paid the whole debt, more than the agreed total. "
            "Refund the difference if the customer asks for it.",
            amount=self._format_amount(self.amount_reduction),
            plan=self.name,
        )
        self.message_post(body=body)
        user = self._get_collector()
        if user:
            self.activity_schedule(
                activity_type_id=self.env.ref("mail.mail_activity_data_todo").id,
                summary=_("Customer paid more than the agreed total"),
                user_id=user.id,
            )

    def _check_reduction_account(self):
        self.ensure_one()
        if self.currency_id.is_zero(self.amount_reduction):
            return
        if not self.company_id.collection_reduction_account_id:
            raise UserError(
                _(
                    "The payment plan %(plan)s grants a reduction of %(amount)s, "
                    "but %(company)s has no reduction account. Set one in the "
                    "Collections settings.",
                    plan=self.name,
                    amount=self._format_amount(self.amount_reduction),
                    company=self.company_id.name,
                )
            )

    def _prepare_reduction_move_values(self, invoice, amount, account, date, reason):
        # TODO: the credit note books the reduction untaxed on the reduction
        # account, so the VAT already declared on the invoices is not adjusted.
        return {
            "move_type": "out_refund",
            "partner_id": invoice.partner_id.id,
            "company_id": self.company_id.id,
            "currency_id": self.currency_id.id,
            "journal_id": invoice.journal_id.id,
            "invoice_date": date,
            "date": date,
            "invoice_date_due": date,
            "ref": reason,
            "narration": reason,
            "invoice_origin": invoice.name,
            "invoice_line_ids": [
                Command.create(
                    {
                        "name": reason,
                        "account_id": account.id,
                        "quantity": 1.0,
                        "price_unit": amount,
                        "tax_ids": [Command.clear()],
                    }
                )
            ],
        }


class CollectionPlanLine(models.Model):
    """One payment due under a payment plan: the down payment or an instalment."""

    _name = "collection.plan.line"
    _description = "Payment Plan Instalment"
    _order = "plan_id, date, sequence, id"

    plan_id = fields.Many2one(
        comodel_name="collection.plan", required=True, ondelete="cascade", index=True
    )
    sequence = fields.Integer(default=10)
    date = fields.Date(string="Due Date", required=True)
    currency_id = fields.Many2one(related="plan_id.currency_id")
    amount = fields.Monetary(required=True)
    is_down_payment = fields.Boolean(string="Down Payment")
    amount_paid = fields.Monetary(
        string="Paid",
        readonly=True,
        copy=False,
        help="Part of the payments received since the plan was proposed that "
        "covers this instalment. Payments fill the instalments in date order.",
    )
    amount_residual = fields.Monetary(
        string="Still Due", compute="_compute_amount_residual"
    )
    state = fields.Selection(
        selection=[("open", "Open"), ("paid", "Paid"), ("missed", "Missed")],
        required=True,
        default="open",
        readonly=True,
        copy=False,
    )

    @api.depends("amount", "amount_paid")
    def _compute_amount_residual(self):
        for line in self:
            line.amount_residual = line.amount - line.amount_paid

    @api.model_create_multi
    def create(self, vals_list):
        plan_ids = {vals.get("plan_id") for vals in vals_list}
        self._check_plans_in_draft(self.env["collection.plan"].browse(plan_ids))
        return super().create(vals_list)

    def write(self, vals):
        if {"plan_id", "date", "amount", "sequence", "is_down_payment"} & set(vals):
            self._check_plans_in_draft(self.plan_id)
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_plan_in_progress(self):
        self._check_plans_in_draft(self.plan_id)

    @api.model
    def _check_plans_in_draft(self, plans):
        fixed = plans.filtered(lambda plan: plan.state != "draft")
        if fixed:
            raise UserError(
                _(
                    "The schedule of the payment plan %(plan)s can only be "
                    "changed in draft. Reset it to draft first.",
                    plan=fixed[0].name,
                )
            )
