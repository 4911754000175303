from collections import Counter
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from .account_move import COLLECTION_GROUPS  # noqa: F401

# Fields set by the promise's own steps and by the daily run, never by hand:
# they decide the promise-kept rate and which payments count.
OUTCOME_FIELDS = {
    "state",
    "kept_percent",
    "date",
    "amount_paid",
    "date_closed",
    "partner_id",
    "currency_id",
}

PROMISE_CHANNELS = [
    ("call", "Phone Call"),
    ("email", "Email"),
    ("meeting", "Meeting"),
    ("letter", "Letter"),
    ("portal", "Portal"),
    ("other", "Other"),
]


class CollectionPromise(models.Model):
    """Customer's promise to pay an amount by a date for some overdue items.

    While the promise is open, the run does not escalate its items. Once the
    promised date and the policy's grace days have passed, the run marks it
    kept or broken by the payments reconciled with its items since the
    promise was recorded.
    """

    _name = "collection.promise"
    _description = "Promise to Pay"
    _inherit = ["collection.case.mixin"]
    _order = "date_promised desc, id desc"
    _check_company_auto = True

    name = fields.Char(required=True, copy=False, readonly=True, default="/")
    state = fields.Selection(
        selection=[
            ("open", "Open"),
            ("kept", "Kept"),
            ("broken", "Broken"),
            ("cancelled", "Cancelled"),
        ],
        required=True,
        default="open",
        readonly=True,
        tracking=True,
        index=True,
    )
    move_line_ids = fields.Many2many(
        comodel_name="account.move.line",
        relation="collection_promise_move_line_rel",
        column1="promise_id",
        column2="move_line_id",
        string="Items",
        required=True,
        check_company=True,
        domain="[('company_id', '=', company_id), "
        "('account_id.account_type', '=', 'asset_receivable'), "
        "('move_id.move_type', 'in', ('out_invoice', 'out_receipt')), "
        "('parent_state', '=', 'posted'), ('reconciled', '=', False)]",
        help="Receivable items of the customer invoices the promise covers.",
    )
    move_ids = fields.Many2many(
        comodel_name="account.move",
        string="Invoices",
        compute="_compute_move_ids",
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
        compute="_compute_partner_currency",
        store=True,
        precompute=True,
        index=True,
        help="Commercial partner that owes the items.",
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency",
        compute="_compute_partner_currency",
        store=True,
        precompute=True,
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Collector",
        default=lambda self: self.env.user,
        tracking=True,
        domain="[('share', '=', False)]",
        help="User who follows the promise up and receives an activity when it "
        "is broken.",
    )
    date = fields.Date(
        string="Recorded On",
        required=True,
        readonly=True,
        default=fields.Date.context_today,
        help="Payments reconciled from this date on count towards the promise.",
    )
    date_promised = fields.Date(
        string="Promised Date", required=True, tracking=True, index=True
    )
    amount = fields.Monetary(
        string="Promised Amount",
        required=True,
        tracking=True,
        help="Amount the customer promised to pay, in the invoices' currency.",
    )
    channel = fields.Selection(
        selection=PROMISE_CHANNELS,
        required=True,
        default="call",
        help="How the customer made the promise.",
    )
    note = fields.Text()
    amount_residual = fields.Monetary(
        string="Still Owed",
        compute="_compute_amount_residual",
        help="What the customer still owes on the covered items.",
    )
    amount_paid = fields.Monetary(
        string="Paid Since Promise",
        readonly=True,
        help="Payments reconciled with the covered items since the promise was "
        "recorded, as found when the promise was closed.",
    )
    date_closed = fields.Date(string="Closed On", readonly=True)
    kept_percent = fields.Float(
        string="Kept (%)",
        compute="_compute_kept_percent",
        store=True,
        aggregator="avg",
        help="100 for a kept promise and 0 for a broken one. Its average over "
        "closed promises is the promise-kept rate.",
    )

    @api.depends("move_line_ids")
    def _compute_move_ids(self):
        for promise in self:
            promise.move_ids = promise.move_line_ids.move_id

    @api.depends("move_line_ids")
    def _compute_partner_currency(self):
        for promise in self:
            lines = promise.move_line_ids
            promise.partner_id = lines.partner_id.commercial_partner_id[:1]
            promise.currency_id = (
                lines.currency_id[:1] or promise.company_id.currency_id
            )

    @api.depends("move_line_ids.amount_residual_currency")
    def _compute_amount_residual(self):
        for promise in self:
            promise.amount_residual = sum(
                promise.move_line_ids.mapped("amount_residual_currency")
            )

    @api.depends("state")
    def _compute_kept_percent(self):
        for promise in self:
            promise.kept_percent = 100.0 if promise.state == "kept" else 0.0

    @api.constrains("amount", "date_promised", "date")
    def _check_amount_date(self):
        for promise in self:
            if promise.currency_id.compare_amounts(promise.amount, 0.0) <= 0:
                raise ValidationError(
                    _(
                        "The promised amount of %(promise)s must be greater than zero.",
                        promise=promise.display_name,
                    )
                )
            if promise.date_promised < promise.date:
                raise ValidationError(
                    _(
                        "The promised date %(date)s of %(promise)s is before the "
                        "date the promise was recorded (%(recorded)s). Enter a "
                        "date from today on.",
                        date=promise.date_promised,
                        promise=promise.display_name,
                        recorded=promise.date,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_outcome_fields(vals)
            if vals.get("name", "/") == "/":
                vals["name"] = self.env["ir.sequence"].next_by_code(
                    "collection.promise"
                ) or _("New")
        promises = super().create(vals_list)
        for promise in promises:
            promise._check_items()
            promise._check_amount_within_debt()
        promises._schedule_follow_up()
        promises._post_each(
            lambda promise: promise.env._(
                "Promise to pay %(promise)s recorded: %(amount)s by %(date)s.",
                promise=promise.name,
                amount=promise._format_amount(promise.amount),
                date=promise.date_promised,
            )
        )
        return promises

    def write(self, vals):
        self._check_outcome_fields(vals)
        if {"move_line_ids", "amount", "date_promised"} & set(vals) and self.filtered(
            lambda promise: promise.state != "open"
        ):
            raise UserError(
                _("A promise that is kept, broken or cancelled cannot be changed.")
            )
        result = super().write(vals)
        if "move_line_ids" in vals:
            for promise in self:
                promise._check_items()
        if {"move_line_ids", "amount"} & set(vals):
            for promise in self:
                promise._check_amount_within_debt()
        if "date_promised" in vals:
            today = fields.Date.context_today(self)
            if any(promise.date_promised < today for promise in self):
                raise ValidationError(_("The promised date cannot be in the past."))
        return result

    @api.model
    def _check_outcome_fields(self, vals):
        protected = OUTCOME_FIELDS & set(vals)
        if protected and not self.env.su:
            raise AccessError(
                _(
                    "%(fields)s of a promise to pay are set by the promise's "
                    "buttons and by the daily run, not by hand.",
                    fields=", ".join(sorted(protected)),
                )
            )

    def _check_items(self):
        self.ensure_one()
        self.move_line_ids._check_collection_negotiable(promise=self)
        if self.move_line_ids.company_id != self.company_id:
            raise ValidationError(
                _(
                    "The invoices of %(promise)s belong to %(invoice_company)s, "
                    "not to %(company)s.",
                    promise=self.display_name,
                    invoice_company=self.move_line_ids.company_id.name,
                    company=self.company_id.name,
                )
            )

    def _check_amount_within_debt(self):
        self.ensure_one()
        if self.currency_id.compare_amounts(self.amount, self.amount_residual) > 0:
            raise ValidationError(
                _(
                    "The promised amount %(amount)s is more than the %(due)s "
                    "still owed on the selected invoices.",
                    amount=self._format_amount(self.amount),
                    due=self._format_amount(self.amount_residual),
                )
            )

    def _schedule_follow_up(self):
        activity_type = self.env.ref("mail.mail_activity_data_call")
        for promise in self.filtered("user_id"):
            promise.activity_schedule(
                activity_type_id=activity_type.id,
                summary=_(
                    "Check the promise to pay of %(amount)s",
                    amount=promise._format_amount(promise.amount),
                ),
                date_deadline=promise.date_promised,
                user_id=promise.user_id.id,
            )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    @api.model
    def _action_new_for_lines(self, lines):
        """Return the form of a new promise over the receivable items ``lines``."""
        lines._check_collection_negotiable(promise=self.browse())
        collector = self._get_default_collector(lines.partner_id.commercial_partner_id)
        return {
            "type": "ir.actions.act_window",
            "name": _("Promise to Pay"),
            "res_model": "collection.promise",
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
            "context": {
                "default_move_line_ids": [fields.Command.set(lines.ids)],
                "default_company_id": lines.company_id.id,
                "default_amount": sum(lines.mapped("amount_residual_currency")),
                "default_user_id": collector.id,
            },
        }

    def action_cancel(self):
        open_promises = self.filtered(lambda promise: promise.state == "open")
        if not open_promises:
            raise UserError(_("Only open promises can be cancelled."))
        open_promises._close("cancelled", fields.Date.context_today(self))
        open_promises._post_each(
            lambda promise: promise.env._(
                "Promise to pay %(promise)s cancelled.", promise=promise.name
            )
        )
        return True

    def _replace_by_plan(self, plan):
        """Close open promises whose items a payment plan now covers.

        They are cancelled, not broken, so they count in no promise-kept rate.
        """
        self._close("cancelled", fields.Date.context_today(self))
        self._post_each(
            lambda promise: promise.env._(
                "Promise to pay %(promise)s replaced by the payment plan %(plan)s.",
                promise=promise.name,
                plan=plan.name,
            )
        )

    # ------------------------------------------------------------------
    # Daily run
    # ------------------------------------------------------------------

    @api.model
    def _check_promises(self, run, partners):
        """Mark kept or broken the open promises of ``run``'s company that are due.

        A promise whose items are all paid is kept at once. One whose date
        plus the policy's grace days has passed is kept if the payments
        reconciled with its items since it was recorded reach the promised
        amount, and broken otherwise. Return the counts by outcome.
        """
        domain = [("company_id", "=", run.company_id.id), ("state", "=", "open")]
        if partners:
            domain.append(("partner_id", "in", partners.ids))
        promises = self.search(domain)
        counts = Counter()
        if not promises:
            return counts
        policies = run._get_partner_policies(set(promises.partner_id.ids))
        for promise in promises:
            if all(line.reconciled for line in promise.move_line_ids):
                counts[promise._close_settled(run.run_date)] += 1
                continue
            policy = policies.get(promise.partner_id.id)
            grace_days = policy.grace_days if policy else 0
            if run.run_date <= promise.date_promised + timedelta(days=grace_days):
                continue
            paid = sum(
                promise.move_line_ids._get_collection_paid_amounts(
                    promise.date
                ).values()
            )
            if promise.currency_id.compare_amounts(paid, promise.amount) >= 0:
                promise._mark_kept(run.run_date, paid)
                counts["kept"] += 1
            else:
                promise._mark_broken(run.run_date, paid)
                counts["broken"] += 1
        return counts

    def _close(self, state, date, paid=None):
        values = {"state": state, "date_closed": date}
        if paid is not None:
            values["amount_paid"] = paid
        self.sudo().write(values)
        self.activity_unlink(["mail.mail_activity_data_call"])

    def _close_settled(self, date):
        """Close a promise whose items are all settled; return its new state.

        Payments that reach the promised amount keep it. A debt settled by
        other means, such as a credit note, cancels it instead.
        """
        self.ensure_one()
        paid = sum(self.move_line_ids._get_collection_paid_amounts(self.date).values())
        if self.currency_id.compare_amounts(paid, self.amount) >= 0:
            self._mark_kept(date, paid)
            return "kept"
        self._close("cancelled", date, paid)
        self._post_everywhere(
            _(
                "Promise to pay %(promise)s cancelled: its invoices were settled "
                "without the promised payment (%(paid)s paid).",
                promise=self.name,
                paid=self._format_amount(paid),
            )
        )
        return "cancelled"

    def _mark_kept(self, date, paid=None):
        self.ensure_one()
        if paid is None:
            paid = sum(
                self.move_line_ids._get_collection_paid_amounts(self.date).values()
            )
        self._close("kept", date, paid)
        self._post_each(
            lambda promise: promise.env._(
                "Promise to pay %(promise)s kept: %(paid)s paid of %(amount)s "
                "promised by %(date)s.",
                promise=promise.name,
                paid=promise._format_amount(paid),
                amount=promise._format_amount(promise.amount),
                date=promise.date_promised,
            )
        )

    def _mark_broken(self, date, paid):
        self.ensure_one()
        self._close("broken", date, paid)
        self._post_each(
            lambda promise: promise.env._(
                "Promise to pay %(promise)s broken: %(paid)s paid of %(amount)s "
                "promised by %(date)s. Collection resumes at the stage where it "
                "stopped.",
                promise=promise.name,
                paid=promise._format_amount(paid),
                amount=promise._format_amount(promise.amount),
                date=promise.date_promised,
            )
        )
        user = self._get_collector()
        if user:
            self.activity_schedule(
                activity_type_id=self.env.ref("mail.mail_activity_data_todo").id,
                summary=_("Promise broken: call the customer"),
                date_deadline=date,
                user_id=user.id,
            )
