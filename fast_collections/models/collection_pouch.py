import logging
from collections import defaultdict

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import format_date, formatLang

from ..tools.locking import lock_for_update

_logger = logging.getLogger(__name__)

INSTRUMENTS = [
    ("cash", "Cash"),
    ("cheque", "Cheque"),
    ("promissory_note", "Promissory Note"),
    ("transfer_slip", "Transfer Slip"),
    ("card_slip", "Card Slip"),
]

POUCH_STATES = [
    ("draft", "Draft"),
    ("received", "Received"),
    ("checked", "Checked"),
    ("posted", "Posted"),
    ("deposited", "Deposited"),
    ("cancelled", "Cancelled"),
]

# Fields that only the steps write, through sudo: a user cannot set them.
POUCH_STEP_FIELDS = {
    "state",
    "received_by_id",
    "date_receipt",
    "checked_by_id",
    "date_checked",
    "difference_note",
    "difference_approved_by_id",
    "date_difference_approved",
    "amount_difference_approved",
    "posted_by_id",
    "date_posted",
    "deposited_by_id",
    "date_deposited",
    "deposit_reference",
}

# Fields of a pouch that stay editable after draft.
POUCH_FREE_FIELDS = {"note", "amount_counted", "item_ids"}

# Fields of an item that only the steps write, through sudo.
ITEM_STEP_FIELDS = {
    "state",
    "payment_id",
    "date_applied",
    "date_bounced",
    "bounce_reason",
    "bounce_cost",
    "bounce_move_id",
    "bounce_fee_move_id",
    "bounced_by_id",
}

# Instruments whose date of issue can be later than their hand-over: a
# post-dated cheque is cashed from its date.
DATED_INSTRUMENTS = ("cheque", "promissory_note")


def _is_mail_field(field_name):
    return field_name.startswith(("message_", "activity_", "website_message"))


class CollectionPouch(models.Model):
    """Bundle of cheques, promissory notes, cash and slips handed over by a
    collector or a branch, from hand-over to deposit."""

    _name = "collection.pouch"
    _description = "Payment Pouch"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "date_received desc, id desc"
    _check_company_auto = True

    name = fields.Char(
        string="Reference", required=True, readonly=True, copy=False, default="/"
    )
    state = fields.Selection(
        selection=POUCH_STATES,
        required=True,
        default="draft",
        readonly=True,
        copy=False,
        tracking=True,
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )
    collector_id = fields.Many2one(
        comodel_name="res.users",
        index=True,
        tracking=True,
        domain="[('share', '=', False)]",
        help="Collector who hands the pouch over.",
    )
    branch_id = fields.Many2one(
        comodel_name="res.partner",
        tracking=True,
        help="Branch or office that hands the pouch over, when it is not a collector.",
    )
    date_received = fields.Date(
        string="Received On",
        required=True,
        default=fields.Date.context_today,
        tracking=True,
    )
    journal_id = fields.Many2one(
        comodel_name="account.journal",
        string="Deposit Journal",
        required=True,
        check_company=True,
        domain="[('type', 'in', ('bank', 'cash'))]",
        help="Bank or cash journal of the payments, where the pouch is deposited.",
    )
    currency_id = fields.Many2one(
        comodel_name="res.currency", compute="_compute_currency_id", store=True
    )
    amount_declared = fields.Monetary(
        string="Declared Total",
        tracking=True,
        help="Total that the collector or branch declares on hand-over.",
    )
    amount_total = fields.Monetary(
        string="Items Total", compute="_compute_amount_total", store=True
    )
    amount_counted = fields.Monetary(
        string="Counted Total",
        tracking=True,
        copy=False,
        help="Total counted when the pouch is checked. It must equal the items total.",
    )
    amount_difference = fields.Monetary(
        string="Difference",
        compute="_compute_amount_difference",
        store=True,
        help="Counted total less declared total, once the pouch is counted.",
    )
    difference_note = fields.Text(copy=False, tracking=True)
    difference_approved_by_id = fields.Many2one(
        comodel_name="res.users", readonly=True, copy=False
    )
    amount_difference_approved = fields.Monetary(
        string="Difference Approved", readonly=True, copy=False
    )
    date_difference_approved = fields.Datetime(
        string="Difference Approved On", readonly=True, copy=False
    )
    received_by_id = fields.Many2one(
        comodel_name="res.users", readonly=True, copy=False
    )
    date_receipt = fields.Datetime(
        string="Receipt Recorded On", readonly=True, copy=False
    )
    checked_by_id = fields.Many2one(comodel_name="res.users", readonly=True, copy=False)
    date_checked = fields.Datetime(string="Checked On", readonly=True, copy=False)
    posted_by_id = fields.Many2one(comodel_name="res.users", readonly=True, copy=False)
    date_posted = fields.Datetime(string="Posted On", readonly=True, copy=False)
    deposited_by_id = fields.Many2one(
        comodel_name="res.users", readonly=True, copy=False
    )
    date_deposited = fields.Date(string="Deposited On", readonly=True, copy=False)
    deposit_reference = fields.Char(copy=False, tracking=True)
    item_ids = fields.One2many(
        comodel_name="collection.pouch.item",
        inverse_name="pouch_id",
        string="Items",
    )
    item_count = fields.Integer(compute="_compute_item_count")
    bounced_count = fields.Integer(
        string="Bounced Items", compute="_compute_item_count"
    )
    payment_ids = fields.Many2many(
        comodel_name="account.payment",
        string="Payments",
        compute="_compute_payment_ids",
    )
    note = fields.Text()

    @api.depends("journal_id", "company_id")
    def _compute_currency_id(self):
        for pouch in self:
            pouch.currency_id = (
                pouch.journal_id.currency_id or pouch.company_id.currency_id
            )

    @api.depends("item_ids.amount")
    def _compute_amount_total(self):
        for pouch in self:
            pouch.amount_total = sum(pouch.item_ids.mapped("amount"))

    @api.depends("amount_counted", "amount_declared", "state")
    def _compute_amount_difference(self):
        for pouch in self:
            is_counted = pouch.amount_counted or pouch.state in (
                "checked",
                "posted",
                "deposited",
            )
            pouch.amount_difference = (
                pouch.amount_counted - pouch.amount_declared if is_counted else 0.0
            )

    @api.depends("item_ids.state")
    def _compute_item_count(self):
        for pouch in self:
            pouch.item_count = len(pouch.item_ids)
            pouch.bounced_count = len(
                pouch.item_ids.filtered(lambda item: item.state == "bounced")
            )

    @api.depends("item_ids.payment_id")
    def _compute_payment_ids(self):
        for pouch in self:
            pouch.payment_ids = pouch.item_ids.payment_id

    @api.constrains("collector_id", "branch_id")
    def _check_handed_over_by(self):
        for pouch in self:
            if not (pouch.collector_id or pouch.branch_id):
                raise ValidationError(
                    _(
                        "Enter the collector or the branch that hands the pouch "
                        "%(pouch)s over.",
                        pouch=pouch.name,
                    )
                )

    @api.constrains("amount_declared", "amount_counted")
    def _check_amounts(self):
        for pouch in self:
            if pouch.amount_declared < 0 or pouch.amount_counted < 0:
                raise ValidationError(
                    _(
                        "The declared and counted totals of the pouch %(pouch)s "
                        "cannot be negative.",
                        pouch=pouch.name,
                    )
                )

    @api.constrains("journal_id", "company_id")
    def _check_journal(self):
        for pouch in self:
            if pouch.journal_id.type not in ("bank", "cash"):
                raise ValidationError(
                    _(
                        "The pouch %(pouch)s is deposited into %(journal)s, which "
                        "is not a bank or cash journal.",
                        pouch=pouch.name,
                        journal=pouch.journal_id.display_name,
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        if any(set(vals) & POUCH_STEP_FIELDS for vals in vals_list) and not (
            self.env.su
        ):
            raise AccessError(
                _("The status and hand-over record of a pouch are set by its steps.")
            )
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                company = self.env["res.company"].browse(
                    vals.get("company_id") or self.env.company.id
                )
                vals["name"] = self.env["ir.sequence"].with_company(
                    company
                ).next_by_code("collection.pouch") or _("New")
        pouches = super().create(vals_list)
        # Checked here too: a constraint does not run for fields not given.
        pouches._check_handed_over_by()
        return pouches

    def write(self, vals):
        """Write ``vals``, which users may do on a draft pouch only, except
        for its note, its items until it is checked and its counted total
        while it is received. The steps write the status and who did what."""
        fields_written = {name for name in vals if not _is_mail_field(name)}
        if not self.env.su:
            if fields_written & POUCH_STEP_FIELDS:
                raise AccessError(
                    _(
                        "The status and hand-over record of a pouch are set by "
                        "its steps."
                    )
                )
            if fields_written - POUCH_FREE_FIELDS:
                self._check_draft()
            if "item_ids" in vals:
                self._check_editable()
            if "amount_counted" in vals:
                self._check_state(
                    ("received",),
                    _(
                        "The pouch %(pouch)s is %(state)s: its counted total "
                        "is entered while it is received."
                    ),
                )
        result = super().write(vals)
        if "amount_counted" in vals:
            # An approval is for the difference the manager saw.
            self.filtered("difference_approved_by_id").sudo().write(
                {
                    "difference_approved_by_id": False,
                    "date_difference_approved": False,
                    "amount_difference_approved": 0.0,
                }
            )
        if {"journal_id", "company_id"} & fields_written:
            self.item_ids._suggest_allocations()
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_if_draft_or_cancelled(self):
        for pouch in self:
            if pouch.state not in ("draft", "cancelled"):
                raise UserError(
                    _(
                        "The pouch %(pouch)s is %(state)s: only a draft or "
                        "cancelled pouch can be deleted.",
                        pouch=pouch.name,
                        state=pouch._get_state_label(),
                    )
                )

    def _get_state_label(self):
        self.ensure_one()
        return dict(self._fields["state"]._description_selection(self.env))[self.state]

    def _check_draft(self):
        for pouch in self:
            if pouch.state != "draft":
                raise UserError(
                    _(
                        "The pouch %(pouch)s is %(state)s: who hands it over, "
                        "when, into which journal and the declared total are "
                        "changed in draft only.",
                        pouch=pouch.name,
                        state=pouch._get_state_label(),
                    )
                )

    def _check_editable(self):
        """Raise unless the pouches are in draft or received: their items and
        totals are fixed once checked."""
        for pouch in self:
            if pouch.state not in ("draft", "received"):
                raise UserError(
                    _(
                        "The pouch %(pouch)s is %(state)s, so its items and "
                        "totals can no longer be changed.",
                        pouch=pouch.name,
                        state=pouch._get_state_label(),
                    )
                )

    def _check_state(self, states, message):
        """Raise ``message`` unless the pouches are in one of ``states``.

        ``message`` is translated already, with the placeholders
        ``%(pouch)s`` and ``%(state)s``.
        """
        for pouch in self:
            if pouch.state not in states:
                raise UserError(
                    message % {"pouch": pouch.name, "state": pouch._get_state_label()}
                )

    def _check_manager(self, message):
        """Raise ``message``, translated already, unless the user is a
        collections manager."""
        if not self.env.user.has_group("fast_collections.group_collection_manager"):
            raise AccessError(message)

    def _lock(self):
        """Lock the pouches until the end of the transaction and read their
        state again, so that two users cannot run the same step twice.

        A step that started before another one committed is retried by Odoo
        with the new state (see ``lock_for_update``).
        """
        lock_for_update(self)
        self.invalidate_recordset(["state"])

    # ------------------------------------------------------------------
    # Steps
    # ------------------------------------------------------------------

    def action_receive(self):
        """Record who received the pouch and when."""
        self._lock()
        self._check_state(
            ("draft",),
            _("The pouch %(pouch)s is %(state)s: only a draft pouch can be received."),
        )
        for pouch in self:
            if not pouch.item_ids:
                raise UserError(
                    _(
                        "The pouch %(pouch)s has no items. Enter what it "
                        "contains before receiving it.",
                        pouch=pouch.name,
                    )
                )
        self.sudo().write(
            {
                "state": "received",
                "received_by_id": self.env.uid,
                "date_receipt": fields.Datetime.now(),
            }
        )
        for pouch in self:
            pouch.message_post(
                body=_(
                    "Pouch received by %(user)s: %(count)s items, %(total)s, "
                    "%(declared)s declared.",
                    user=self.env.user.name,
                    count=len(pouch.item_ids),
                    total=pouch._format_amount(pouch.amount_total),
                    declared=pouch._format_amount(pouch.amount_declared),
                )
            )
        return True

    def action_check(self):
        """Compare the counted total with the declared one and mark the pouch
        checked.

        The counted total must equal the items total, because the items are
        what is posted. A difference with the declared total needs a
        collections manager's approval first.
        """
        self._lock()
        self._check_state(
            ("received",),
            _(
                "The pouch %(pouch)s is %(state)s: only a received pouch can "
                "be checked."
            ),
        )
        for pouch in self:
            currency = pouch.currency_id
            is_manager = self.env.user.has_group(
                "fast_collections.group_collection_manager"
            )
            if pouch.collector_id == self.env.user or (
                pouch.create_uid == self.env.user and not is_manager
            ):
                raise UserError(
                    _(
                        "You handed the pouch %(pouch)s over or registered it, "
                        "so someone else must count it.",
                        pouch=pouch.name,
                    )
                )
            if currency.compare_amounts(pouch.amount_counted, pouch.amount_total):
                raise UserError(
                    _(
                        "The counted total of the pouch %(pouch)s, %(counted)s, "
                        "differs from its items total, %(total)s. Correct the "
                        "items so that they match what was counted.",
                        pouch=pouch.name,
                        counted=pouch._format_amount(pouch.amount_counted),
                        total=pouch._format_amount(pouch.amount_total),
                    )
                )
            if not currency.is_zero(pouch.amount_difference) and (
                not pouch.difference_approved_by_id
                or currency.compare_amounts(
                    pouch.amount_difference, pouch.amount_difference_approved
                )
            ):
                raise UserError(
                    _(
                        "The pouch %(pouch)s was declared at %(declared)s but "
                        "%(counted)s was counted. A collections manager must "
                        "approve the difference of %(difference)s with a note "
                        "first.",
                        pouch=pouch.name,
                        declared=pouch._format_amount(pouch.amount_declared),
                        counted=pouch._format_amount(pouch.amount_counted),
                        difference=pouch._format_amount(pouch.amount_difference),
                    )
                )
        self.sudo().write(
            {
                "state": "checked",
                "checked_by_id": self.env.uid,
                "date_checked": fields.Datetime.now(),
            }
        )
        for pouch in self:
            pouch.message_post(
                body=_(
                    "Pouch checked by %(user)s: %(counted)s counted.",
                    user=self.env.user.name,
                    counted=pouch._format_amount(pouch.amount_counted),
                )
            )
        return True

    def _approve_difference(self, note):
        """Approve the difference between the counted and declared totals."""
        self._check_manager(
            _("Only a collections manager can approve the difference of a pouch.")
        )
        if not (note or "").strip():
            raise UserError(_("Enter a note that explains the difference."))
        self._lock()
        self._check_state(
            ("received",),
            _(
                "The pouch %(pouch)s is %(state)s: a difference is approved "
                "while the pouch is received, before it is checked."
            ),
        )
        for pouch in self:
            if not pouch.amount_counted:
                raise UserError(
                    _(
                        "Enter the counted total of the pouch %(pouch)s before "
                        "approving its difference.",
                        pouch=pouch.name,
                    )
                )
            if pouch.currency_id.is_zero(pouch.amount_difference):
                raise UserError(
                    _(
                        "The counted total of the pouch %(pouch)s equals the "
                        "declared one: there is no difference to approve.",
                        pouch=pouch.name,
                    )
                )
        for pouch in self:
            pouch.sudo().write(
                {
                    "difference_note": note,
                    "difference_approved_by_id": self.env.uid,
                    "date_difference_approved": fields.Datetime.now(),
                    "amount_difference_approved": pouch.amount_difference,
                }
            )
        for pouch in self:
            pouch.message_post(
                body=_(
                    "Difference of %(difference)s (declared %(declared)s, "
                    "counted %(counted)s) approved by %(user)s: %(note)s",
                    difference=pouch._format_amount(pouch.amount_difference),
                    declared=pouch._format_amount(pouch.amount_declared),
                    counted=pouch._format_amount(pouch.amount_counted),
                    user=self.env.user.name,
                    note=note,
                )
            )
        return True

    def action_post(self):
        """Post a payment per item, reconciled with the invoices it pays."""
        self._check_manager(_("Only a collections manager can post a pouch."))
        self._lock()
        self._check_state(
            ("checked",),
            _("The pouch %(pouch)s is %(state)s: only a checked pouch can be posted."),
        )
        for pouch in self:
            for item in pouch.item_ids:
                item._post()
            pouch.sudo().write(
                {
                    "state": "posted",
                    "posted_by_id": self.env.uid,
                    "date_posted": fields.Datetime.now(),
                }
            )
            pouch.message_post(
                body=_(
                    "Pouch posted by %(user)s: payments %(payments)s.",
                    user=self.env.user.name,
                    payments=", ".join(pouch.item_ids.payment_id.mapped("name")),
                )
            )
        return True

    def _deposit(self, date, reference):
        """Record the deposit of the pouch in its journal's bank."""
        self._check_manager(_("Only a collections manager can deposit a pouch."))
        self._lock()
        for pouch in self:
            if date < pouch.date_received:
                raise UserError(
                    _(
                        "The pouch %(pouch)s was received on %(received)s, so it "
                        "cannot be deposited before, on %(date)s.",
                        pouch=pouch.name,
                        received=format_date(self.env, pouch.date_received),
                        date=format_date(self.env, date),
                    )
                )
        self._check_state(
            ("posted",),
            _(
                "The pouch %(pouch)s is %(state)s: only a posted pouch can be "
                "deposited."
            ),
        )
        self.sudo().write(
            {
                "state": "deposited",
                "deposited_by_id": self.env.uid,
                "date_deposited": date,
                "deposit_reference": reference,
            }
        )
        for pouch in self:
            pouch.message_post(
                body=_(
                    "Pouch deposited on %(date)s by %(user)s, deposit slip "
                    "%(reference)s.",
                    date=format_date(self.env, date),
                    user=self.env.user.name,
                    reference=reference or "-",
                )
            )
        return True

    def action_cancel(self):
        self._lock()
        self._check_state(
            ("draft", "received", "checked"),
            _(
                "The pouch %(pouch)s is %(state)s: a pouch can be cancelled "
                "until it is posted."
            ),
        )
        self.sudo().write({"state": "cancelled"})
        for pouch in self:
            pouch.message_post(
                body=_("Pouch cancelled by %(user)s.", user=self.env.user.name)
            )
        return True

    def action_draft(self):
        self._lock()
        self._check_state(
            ("cancelled", "received", "checked"),
            _(
                "The pouch %(pouch)s is %(state)s: only a received, checked "
                "or cancelled pouch can be reset to draft."
            ),
        )
        self.sudo().write(
            {
                "state": "draft",
                "checked_by_id": False,
                "date_checked": False,
                "difference_approved_by_id": False,
                "date_difference_approved": False,
                "amount_difference_approved": 0.0,
            }
        )
        for pouch in self:
            pouch.message_post(
                body=_("Pouch reset to draft by %(user)s.", user=self.env.user.name)
            )
        return True

    def action_open_difference_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Approve Difference"),
            "res_model": "collection.pouch.step",
            "view_mode": "form",
            "target": "new",
            "context": {"default_pouch_id": self.id, "default_step": "difference"},
        }

    def action_open_deposit_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Deposit Pouch"),
            "res_model": "collection.pouch.step",
            "view_mode": "form",
            "target": "new",
            "context": {"default_pouch_id": self.id, "default_step": "deposit"},
        }

    def action_suggest_allocations(self):
        """Suggest again the invoices that each item pays."""
        self._check_editable()
        self.item_ids._suggest_allocations()
        return True

    def action_view_payments(self):
        self.ensure_one()
        return self.payment_ids._get_records_action(name=_("Payments"))

    def _format_amount(self, amount):
        self.ensure_one()
        return formatLang(self.env, amount, currency_obj=self.currency_id)


class CollectionPouchItem(models.Model):
    """Cheque, promissory note, cash or slip in a pouch, and the invoices it
    pays."""

    _name = "collection.pouch.item"
    _description = "Payment Pouch Item"
    _order = "pouch_id, sequence, id"
    _rec_name = "display_name"
    _check_company_auto = True

    pouch_id = fields.Many2one(
        comodel_name="collection.pouch",
        required=True,
        index=True,
        ondelete="cascade",
    )
    sequence = fields.Integer(default=10)
    company_id = fields.Many2one(
        related="pouch_id.company_id", store=True, index=True, precompute=True
    )
    currency_id = fields.Many2one(
        related="pouch_id.currency_id", store=True, precompute=True
    )
    pouch_state = fields.Selection(related="pouch_id.state", string="Pouch Status")
    collector_id = fields.Many2one(related="pouch_id.collector_id", store=True)
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        required=True,
        index=True,
        check_company=True,
    )
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id",
        string="Commercial Customer",
        store=True,
        index=True,
    )
    instrument = fields.Selection(
        selection=INSTRUMENTS, required=True, default="cheque"
    )
    number = fields.Char(
        string="Instrument Number", help="Number printed on the cheque or note."
    )
    bank_id = fields.Many2one(comodel_name="res.bank")
    date_issue = fields.Date(string="Issued On")
    date_maturity = fields.Date(
        string="Maturity",
        help="Day the instrument can be cashed. A later day than the pouch's "
        "dates the payment then, so it does not count as paid before.",
    )
    amount = fields.Monetary(required=True)
    reference = fields.Char(
        string="Reference on Instrument",
        help="Invoice numbers written on the instrument, which are suggested first.",
    )
    allocation_ids = fields.One2many(
        comodel_name="collection.pouch.allocation",
        inverse_name="item_id",
        string="Invoices Paid",
        copy=False,
    )
    amount_allocated = fields.Monetary(compute="_compute_amount_allocated")
    amount_unallocated = fields.Monetary(
        string="Left as Credit",
        compute="_compute_amount_allocated",
        help="Part of the item that pays no invoice: it stays as an outstanding "
        "credit of the customer.",
    )
    payment_id = fields.Many2one(
        comodel_name="account.payment", readonly=True, copy=False, index=True
    )
    state = fields.Selection(
        selection=[
            ("pending", "To Post"),
            ("posted", "Posted"),
            ("bounced", "Bounced"),
        ],
        required=True,
        default="pending",
        readonly=True,
        copy=False,
    )
    date_bounced = fields.Date(string="Bounced On", readonly=True, copy=False)
    bounce_reason = fields.Char(readonly=True, copy=False)
    bounce_cost = fields.Monetary(
        string="Return Costs",
        readonly=True,
        copy=False,
        help="Costs the bank charged for returning the item.",
    )
    bounced_by_id = fields.Many2one(comodel_name="res.users", readonly=True, copy=False)
    date_applied = fields.Date(
        string="Applied On",
        readonly=True,
        copy=False,
        help="Day the payment was reconciled with the invoices: the day of "
        "posting, or for a later maturity the first run from that day.",
    )
    bounce_move_id = fields.Many2one(
        comodel_name="account.move",
        string="Reversal",
        readonly=True,
        copy=False,
        help="Entry that reverses the payment of the bounced item.",
    )
    bounce_fee_move_id = fields.Many2one(
        comodel_name="account.move",
        string="Return Costs Invoice",
        readonly=True,
        copy=False,
    )

    @api.depends("instrument", "number", "partner_id", "amount")
    def _compute_display_name(self):
        labels = dict(self._fields["instrument"]._description_selection(self.env))
        for item in self:
            parts = [labels.get(item.instrument, ""), item.number or ""]
            item.display_name = " ".join(part for part in parts if part)

    @api.depends("allocation_ids.amount", "amount")
    def _compute_amount_allocated(self):
        for item in self:
            item.amount_allocated = sum(item.allocation_ids.mapped("amount"))
            item.amount_unallocated = item.amount - item.amount_allocated

    @api.constrains("amount")
    def _check_amount(self):
        for item in self:
            if item.currency_id.compare_amounts(item.amount, 0.0) <= 0:
                raise ValidationError(
                    _(
                        "The amount of %(item)s of %(customer)s must be above zero.",
                        item=item.display_name or item._get_instrument_label(),
                        customer=item.partner_id.display_name,
                    )
                )

    @api.constrains("date_issue", "date_maturity", "instrument")
    def _check_dates(self):
        for item in self:
            if (
                item.date_issue
                and item.date_maturity
                and item.date_maturity < item.date_issue
            ):
                raise ValidationError(
                    _(
                        "%(item)s matures on %(maturity)s, before it was issued "
                        "on %(issue)s. Correct its dates.",
                        item=item.display_name,
                        maturity=format_date(self.env, item.date_maturity),
                        issue=format_date(self.env, item.date_issue),
                    )
                )
            if item.instrument == "promissory_note" and not item.date_maturity:
                raise ValidationError(
                    _(
                        "The promissory note %(item)s of %(customer)s has no "
                        "maturity. Enter the day it falls due.",
                        item=item.number or "",
                        customer=item.partner_id.display_name,
                    )
                )
            if item.instrument == "cash" and item.date_maturity:
                raise ValidationError(
                    _(
                        "Cash of %(customer)s has a maturity. Cash is paid when "
                        "it is received: leave its maturity empty.",
                        customer=item.partner_id.display_name,
                    )
                )

    @api.constrains("number", "bank_id", "instrument")
    def _check_unique_number(self):
        for item in self.filtered(lambda record: record.number and record.bank_id):
            # Searched with sudo in every pouch of the company, including those
            # the user cannot read.
            duplicate = self.sudo().search(
                [
                    ("id", "!=", item.id),
                    ("company_id", "=", item.company_id.id),
                    ("number", "=ilike", item.number.strip()),
                    ("bank_id", "=", item.bank_id.id),
                    ("instrument", "=", item.instrument),
                    ("state", "!=", "bounced"),
                    ("pouch_id.state", "!=", "cancelled"),
                ],
                limit=1,
            )
            if duplicate:
                raise ValidationError(
                    _(
                        "%(item)s of the bank %(bank)s is already in the pouch "
                        "%(pouch)s. An instrument is entered once.",
                        item=item.display_name,
                        bank=item.bank_id.name,
                        pouch=duplicate.pouch_id.name,
                    )
                )

    @api.constrains("allocation_ids", "amount")
    def _check_allocations(self):
        for item in self:
            currency = item.currency_id
            if currency.compare_amounts(item.amount, 0.0) <= 0:
                continue  # _check_amount explains it
            if currency.compare_amounts(item.amount_allocated, item.amount) > 0:
                raise ValidationError(
                    _(
                        "%(item)s of %(customer)s pays %(allocated)s of "
                        "invoices, more than its amount of %(amount)s.",
                        item=item.display_name,
                        customer=item.partner_id.display_name,
                        allocated=item._format_amount(item.amount_allocated),
                        amount=item._format_amount(item.amount),
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if set(vals) & ITEM_STEP_FIELDS and not self.env.su:
                raise AccessError(
                    _("The status and payment of a pouch item are set by its steps.")
                )
            if not vals.get("partner_id"):
                raise ValidationError(_("Enter the customer of each pouch item."))
            if vals.get("number"):
                vals["number"] = vals["number"].strip()
        pouches = self.env["collection.pouch"].browse(
            [vals["pouch_id"] for vals in vals_list if vals.get("pouch_id")]
        )
        pouches._check_editable()
        items = super().create(vals_list)
        items.filtered(lambda item: not item.allocation_ids)._suggest_allocations()
        return items

    def write(self, vals):
        if not self.env.su:
            if set(vals) & ITEM_STEP_FIELDS:
                raise AccessError(
                    _("The status and payment of a pouch item are set by its steps.")
                )
            if "pouch_id" in vals and self.filtered(
                lambda item: item.pouch_id.id != vals["pouch_id"]
            ):
                raise UserError(_("A pouch item cannot be moved to another pouch."))
            self.pouch_id._check_editable()
        if vals.get("number"):
            vals = dict(vals, number=vals["number"].strip())
        suggest = {"partner_id", "reference", "amount"} & set(vals) and (
            "allocation_ids" not in vals
        )
        if suggest:
            # Cleared in the same write, so that a lower amount is not refused
            # for the invoices suggested for the former one.
            vals = dict(vals, allocation_ids=[Command.clear()])
        result = super().write(vals)
        if suggest:
            self._suggest_allocations()
        return result

    def unlink(self):
        self.pouch_id._check_editable()
        return super().unlink()

    def _get_instrument_label(self):
        self.ensure_one()
        labels = dict(self._fields["instrument"]._description_selection(self.env))
        return labels.get(self.instrument, "")

    def _format_amount(self, amount):
        self.ensure_one()
        currency = self.currency_id or self.env.company.currency_id
        return formatLang(self.env, amount, currency_obj=currency)

    # ------------------------------------------------------------------
    # Invoices paid
    # ------------------------------------------------------------------

    def _get_open_items(self):
        """Return the customer's open receivable items that the item may pay,
        in the pouch's company and currency, oldest due first."""
        self.ensure_one()
        return (
            self.env["account.move.line"]
            .sudo()
            .search(
                [
                    ("company_id", "=", self.company_id.id),
                    (
                        "partner_id",
                        "child_of",
                        self.partner_id.commercial_partner_id.id,
                    ),
                    ("account_id.account_type", "=", "asset_receivable"),
                    ("parent_state", "=", "posted"),
                    ("reconciled", "=", False),
                    ("amount_residual_currency", ">", 0),
                    ("currency_id", "=", self.currency_id.id),
                ],
                order="date_maturity, id",
            )
        )

    def _get_referenced_items(self, open_items):
        """Return the ``open_items`` of the invoices named in the reference
        written on the instrument, in the order written."""
        self.ensure_one()
        words = (self.reference or "").replace(",", " ").replace(";", " ").split()
        referenced = open_items.browse()
        for word in words:
            referenced |= open_items.filtered(
                lambda line, word=word: (
                    word.casefold()
                    in {
                        (line.move_id.name or "").casefold(),
                        (line.move_id.ref or "").casefold(),
                        (line.move_id.payment_reference or "").casefold(),
                    }
                )
            )
        return referenced

    def _get_reserved_amounts(self, lines):
        """Return {item id: amount} of ``lines`` that other pouch items are to
        pay: the items of the same pouch, and in other pouches those not
        posted yet or posted and pending maturity."""
        self.ensure_one()
        allocations = (
            self.env["collection.pouch.allocation"]
            .sudo()
            .search(
                [
                    ("move_line_id", "in", lines.ids),
                    ("item_id", "!=", self.id),
                    ("item_id.pouch_id.state", "!=", "cancelled"),
                    "|",
                    ("item_id.state", "=", "pending"),
                    "&",
                    ("item_id.state", "=", "posted"),
                    ("item_id.date_applied", "=", False),
                ]
            )
        )
        reserved = defaultdict(float)
        for allocation in allocations:
            reserved[allocation.move_line_id.id] += allocation.amount
        return reserved

    def _suggest_allocations(self):
        """Replace the invoices each item pays by a suggestion: the invoices
        named in its reference first, then the customer's oldest items, up to
        the item's amount. What other items are to pay, in this pouch or
        pending in others, is left to them."""
        items = self.filtered(lambda item: item.state == "pending" and item.partner_id)
        items.filtered("allocation_ids").write({"allocation_ids": [Command.clear()]})
        for item in items.sorted(
            lambda item: (item.pouch_id.id, item.sequence, item.id)
        ):
            currency = item.currency_id
            open_items = item._get_open_items()
            taken = item._get_reserved_amounts(open_items)
            ordered = item._get_referenced_items(open_items) | open_items
            remaining = item.amount
            commands = []
            for line in ordered:
                if currency.compare_amounts(remaining, 0.0) <= 0:
                    break
                available = line.amount_residual_currency - taken[line.id]
                if currency.compare_amounts(available, 0.0) <= 0:
                    continue
                amount = min(remaining, available)
                commands.append(
                    Command.create({"move_line_id": line.id, "amount": amount})
                )
                remaining = currency.round(remaining - amount)
            if commands:
                item.allocation_ids = commands

    def _check_allocations_postable(self):
        """Raise unless the item's invoices can be reconciled as allocated.

        A payment reconciles with one invoice after the other, each up to
        what is left of both. So an item pays its invoices in full, except at
        most one paid in part, and leaves a credit only when it pays every
        invoice in full.
        """
        # TODO: paying several invoices in part with one instrument needs
        # partial reconciliations of chosen amounts, which Odoo's reconcile()
        # does not take.
        self.ensure_one()
        currency = self.currency_id
        partial = self.allocation_ids.filtered(
            lambda allocation: (
                currency.compare_amounts(
                    allocation.amount, allocation.move_line_id.amount_residual_currency
                )
                < 0
            )
        )
        too_much = self.allocation_ids.filtered(
            lambda allocation: (
                currency.compare_amounts(
                    allocation.amount, allocation.move_line_id.amount_residual_currency
                )
                > 0
            )
        )
        if too_much:
            allocation = too_much[0]
            raise UserError(
                _(
                    "%(item)s pays %(amount)s of %(invoice)s, which owes only "
                    "%(residual)s now. Correct the amount or suggest the "
                    "invoices again.",
                    item=self.display_name,
                    amount=self._format_amount(allocation.amount),
                    invoice=allocation.move_line_id.move_id.display_name,
                    residual=self._format_amount(
                        allocation.move_line_id.amount_residual_currency
                    ),
                )
            )
        if len(partial) > 1 or (
            partial and not currency.is_zero(self.amount_unallocated)
        ):
            raise UserError(
                _(
                    "%(item)s pays part of %(invoices)s and leaves %(credit)s as "
                    "credit. An item can pay part of one invoice only, and "
                    "leave a credit only when it pays every invoice in full.",
                    item=self.display_name,
                    invoices=", ".join(partial.move_line_id.move_id.mapped("name")),
                    credit=self._format_amount(self.amount_unallocated),
                )
            )
        return partial

    def _get_payment_date(self):
        """Return the date of the item's payment: the day it can be cashed
        (its maturity, or the date written on a cheque or note) when later
        than the pouch's receipt, so that it is not paid before."""
        self.ensure_one()
        received = self.pouch_id.date_received
        cashable = self.date_maturity
        if not cashable and self.instrument in DATED_INSTRUMENTS:
            cashable = self.date_issue
        return max(received, cashable or received)

    def _post(self):
        """Post the item's payment and reconcile it with its invoices, at
        once or, for a payment dated later, from that day on."""
        self.ensure_one()
        if self.payment_id:
            raise UserError(_("%(item)s is already posted.", item=self.display_name))
        # The company, partner and currency of each invoice are checked again,
        # in case the pouch's journal or company changed since.
        self.allocation_ids._check_allocation()
        self._check_allocations_postable()

        pouch = self.pouch_id
        accounts = self.allocation_ids.move_line_id.account_id
        if len(accounts) > 1:
            raise UserError(
                _(
                    "%(item)s pays invoices on several receivable accounts "
                    "(%(accounts)s). Split it into one item per account.",
                    item=self.display_name,
                    accounts=", ".join(accounts.mapped("display_name")),
                )
            )
        values = {
            "payment_type": "inbound",
            "partner_type": "customer",
            "partner_id": self.partner_id.commercial_partner_id.id,
            "amount": self.amount,
            "currency_id": self.currency_id.id,
            "journal_id": pouch.journal_id.id,
            "company_id": pouch.company_id.id,
            "date": self._get_payment_date(),
            "memo": f"{pouch.name} {self.display_name}".strip(),
        }
        if accounts:
            values["destination_account_id"] = accounts.id

        # Collectors and managers may lack accounting rights, but a checked
        # pouch is posted as counted.
        payment = (
            self.env["account.payment"]
            .sudo()
            .with_company(pouch.company_id)
            .create(values)
        )
        payment.action_post()
        self.sudo().write({"payment_id": payment.id, "state": "posted"})
        today = fields.Date.context_today(self)
        if payment.date <= today:
            self._apply(today)
        else:
            for invoice in self.allocation_ids.move_line_id.move_id:
                invoice.sudo().message_post(
                    body=_(
                        "%(item)s of the pouch %(pouch)s pays %(amount)s of this "
                        "invoice on %(date)s, when it can be cashed. The "
                        "invoice is not chased meanwhile.",
                        item=self.display_name,
                        pouch=pouch.name,
                        amount=self._format_amount(
                            sum(
                                self.allocation_ids.filtered(
                                    lambda allocation, invoice=invoice: (
                                        allocation.move_id == invoice
                                    )
                                ).mapped("amount")
                            )
                        ),
                        date=format_date(self.env, payment.date),
                    )
                )

    def _apply(self, date):
        """Reconcile the item's payment with its invoices on ``date``.

        Invoices paid in full come first and the one paid in part last. An
        invoice paid otherwise meanwhile takes no more than it owes, and the
        rest stays as the customer's credit.
        """
        self.ensure_one()
        payment = self.payment_id.sudo()
        receivable = payment.move_id.line_ids.filtered(
            lambda line: line.account_id == payment.destination_account_id
        )
        currency = self.currency_id
        allocations = self.allocation_ids.sudo().sorted(
            lambda allocation: (
                currency.compare_amounts(
                    allocation.amount, allocation.move_line_id.amount_residual_currency
                )
                < 0
            )
        )
        for allocation in allocations:
            line = allocation.move_line_id
            if line.reconciled or receivable.reconciled:
                continue
            (receivable | line).reconcile()
        self.sudo().date_applied = date
        for invoice in self.allocation_ids.move_line_id.move_id:
            invoice.sudo().message_post(
                body=_(
                    "Paid by %(item)s of the pouch %(pouch)s, payment %(payment)s.",
                    item=self.display_name,
                    pouch=self.pouch_id.name,
                    payment=payment.name,
                )
            )

    @api.model
    def _apply_matured(self, company, date, partners=None):
        """Reconcile the posted items of ``company`` whose payment is dated
        ``date`` or before and not reconciled yet, such as promissory notes
        that have matured."""
        domain = [
            ("company_id", "=", company.id),
            ("state", "=", "posted"),
            ("date_applied", "=", False),
            ("payment_id.date", "<=", date),
        ]
        if partners:
            domain.append(("commercial_partner_id", "in", partners.ids))
        for item in self.sudo().search(domain, order="id"):
            item._apply(date)

    # ------------------------------------------------------------------
    # Bounces
    # ------------------------------------------------------------------

    def _bounce(self, date, reason, cost=0.0, charge_cost=False):
        """Mark the posted items bounced: reverse their payments, so that the
        invoices they paid are open again, charge the return costs on to the
        customer when asked, and give the collector an activity.

        The invoices keep their collection stage, so the next run chases them
        from where they were.
        """
        pouch_model = self.env["collection.pouch"]
        pouch_model._check_manager(
            _("Only a collections manager can record a bounced item.")
        )
        if not (reason or "").strip():
            raise UserError(_("Enter the reason the bank gave for the return."))
        if cost < 0:
            raise UserError(_("The return costs cannot be negative."))
        self.pouch_id._lock()
        for item in self:
            if item.state != "posted" or not item.payment_id:
                raise UserError(
                    _(
                        "%(item)s is not a posted item, so it cannot bounce.",
                        item=item.display_name,
                    )
                )
            was_applied = bool(item.date_applied)
            item._reverse_payment(date, reason)
            fee_move = self.env["account.move"]
            if charge_cost and not item.currency_id.is_zero(cost):
                fee_move = item._charge_return_costs(date, cost)
            item.sudo().write(
                {
                    "state": "bounced",
                    "date_bounced": date,
                    "bounce_reason": reason,
                    "bounce_cost": cost,
                    "bounced_by_id": self.env.uid,
                    "bounce_fee_move_id": fee_move.id,
                }
            )
            values = {
                "item": item.display_name,
                "amount": item._format_amount(item.amount),
                "date": format_date(self.env, date),
                "reason": reason,
            }
            if was_applied:
                body = _(
                    "%(item)s of %(amount)s bounced on %(date)s: %(reason)s. "
                    "The invoices it paid are open again.",
                    **values,
                )
            else:
                body = _(
                    "%(item)s of %(amount)s bounced on %(date)s, before it "
                    "matured: %(reason)s. The invoices it was to pay are "
                    "chased again.",
                    **values,
                )
            item.pouch_id.message_post(body=body)
            for invoice in item.allocation_ids.move_line_id.move_id:
                invoice.sudo().message_post(body=body)
            item._schedule_bounce_activity(body)
        return True

    def _reverse_payment(self, date, reason):
        """Reverse the item's payment and open the invoices again.

        The reversal is dated ``date``, or the payment's date when later: a
        note returned before it matures was never cashed.
        """
        self.ensure_one()
        payment = self.payment_id.sudo()
        date = max(date, payment.date)
        receivable = payment.move_id.line_ids.filtered(
            lambda line: line.account_id == payment.destination_account_id
        )
        receivable.remove_move_reconcile()

        reversal = payment.move_id._reverse_moves(
            [
                {
                    "date": date,
                    "ref": _(
                        "Bounced %(item)s: %(reason)s",
                        item=self.display_name,
                        reason=reason,
                    ),
                }
            ]
        )
        if reversal.state == "draft":
            reversal.action_post()

        # Odoo may reconcile a reversal with its entry when it posts it.
        to_reconcile = (
            receivable
            | reversal.line_ids.filtered(
                lambda line: line.account_id == payment.destination_account_id
            )
        ).filtered(lambda line: not line.reconciled)
        if to_reconcile:
            to_reconcile.reconcile()
        payment.action_reject()
        self.sudo().bounce_move_id = reversal

    def _charge_return_costs(self, date, cost):
        """Book the bank's return costs on an interest and fee invoice of the
        customer, on the first invoice the item paid."""
        self.ensure_one()
        company = self.company_id
        company._check_collection_penalty_settings()
        origin = self.allocation_ids.move_line_id[:1]
        if not origin:
            raise UserError(
                _(
                    "%(item)s paid no invoice, so its return costs cannot be "
                    "charged on an invoice. Charge them by hand.",
                    item=self.display_name,
                )
            )
        charge = {
            "kind": "bounce",
            "move_line_id": origin.id,
            "company_id": company.id,
            "partner_id": self.partner_id.commercial_partner_id.id,
            "currency_id": self.currency_id.id,
            "amount": cost,
            "label": _(
                "Return costs of %(item)s, bounced on %(date)s",
                item=self.display_name,
                date=format_date(self.env, date),
            ),
        }
        return self.env["collection.penalty"].sudo()._book([charge], date)

    def _schedule_bounce_activity(self, note):
        self.ensure_one()
        partner = self.partner_id.commercial_partner_id.with_company(self.company_id)
        user = (
            partner.collection_user_id
            or self.pouch_id.collector_id
            or self.company_id.collection_user_id
            or self.env.user
        )
        invoice = self.allocation_ids.move_line_id.move_id[:1]
        record = invoice.sudo() or self.pouch_id
        record.activity_schedule(
            act_type_xmlid="mail.mail_activity_data_todo",
            summary=_("Bounced item: chase %(customer)s", customer=partner.name),
            note=note,
            user_id=user.id,
        )


class CollectionPouchAllocation(models.Model):
    """Part of a pouch item that pays one overdue item."""

    _name = "collection.pouch.allocation"
    _description = "Payment Pouch Allocation"
    _order = "item_id, id"

    item_id = fields.Many2one(
        comodel_name="collection.pouch.item",
        required=True,
        index=True,
        ondelete="cascade",
    )
    company_id = fields.Many2one(related="item_id.company_id", store=True)
    currency_id = fields.Many2one(related="item_id.currency_id")
    move_line_id = fields.Many2one(
        comodel_name="account.move.line",
        string="Invoice Item",
        required=True,
        index=True,
        ondelete="restrict",
        domain="[('account_id.account_type', '=', 'asset_receivable'), "
        "('parent_state', '=', 'posted'), ('reconciled', '=', False)]",
    )
    move_id = fields.Many2one(related="move_line_id.move_id", string="Invoice")
    date_maturity = fields.Date(related="move_line_id.date_maturity", string="Due")
    amount_residual = fields.Monetary(
        related="move_line_id.amount_residual_currency", string="Still Owed"
    )
    amount = fields.Monetary(required=True)

    @api.constrains("amount", "move_line_id", "item_id")
    def _check_allocation(self):
        self.item_id._check_allocations()
        for allocation in self:
            item = allocation.item_id
            line = allocation.move_line_id
            currency = item.currency_id
            if currency.compare_amounts(allocation.amount, 0.0) <= 0:
                raise ValidationError(
                    _(
                        "The amount %(item)s pays of %(invoice)s must be above zero.",
                        item=item.display_name,
                        invoice=line.move_id.display_name,
                    )
                )
            if line.company_id != item.company_id:
                raise ValidationError(
                    _(
                        "%(invoice)s belongs to the company %(company)s, not to "
                        "the company of the pouch %(pouch)s.",
                        invoice=line.move_id.display_name,
                        company=line.company_id.name,
                        pouch=item.pouch_id.name,
                    )
                )
            if (
                line.partner_id.commercial_partner_id
                != item.partner_id.commercial_partner_id
            ):
                raise ValidationError(
                    _(
                        "%(invoice)s is an invoice of %(other)s, not of "
                        "%(customer)s, who handed over %(item)s.",
                        invoice=line.move_id.display_name,
                        other=line.partner_id.commercial_partner_id.display_name,
                        customer=item.partner_id.commercial_partner_id.display_name,
                        item=item.display_name,
                    )
                )
            if line.currency_id != currency:
                raise ValidationError(
                    _(
                        "%(invoice)s is in %(currency)s, but the pouch %(pouch)s "
                        "is in %(pouch_currency)s.",
                        invoice=line.move_id.display_name,
                        currency=line.currency_id.name,
                        pouch=item.pouch_id.name,
                        pouch_currency=currency.name,
                    )
                )
            if (
                line.account_id.account_type != "asset_receivable"
                or line.parent_state != "posted"
            ):
                raise ValidationError(
                    _(
                        "%(entry)s is not a posted customer invoice.",
                        entry=line.move_id.display_name,
                    )
                )
            if item.state == "pending" and (
                currency.compare_amounts(
                    allocation.amount, line.amount_residual_currency
                )
                > 0
            ):
                raise ValidationError(
                    _(
                        "%(item)s pays %(amount)s of %(invoice)s, which owes "
                        "only %(residual)s.",
                        item=item.display_name,
                        amount=item._format_amount(allocation.amount),
                        invoice=line.move_id.display_name,
                        residual=item._format_amount(line.amount_residual_currency),
                    )
                )

    @api.model_create_multi
    def create(self, vals_list):
        items = self.env["collection.pouch.item"].browse(
            [vals["item_id"] for vals in vals_list if vals.get("item_id")]
        )
        items.pouch_id._check_editable()
        return super().create(vals_list)

    def write(self, vals):
        if "item_id" in vals and self.filtered(
            lambda allocation: allocation.item_id.id != vals["item_id"]
        ):
            raise UserError(_("An allocation cannot be moved to another pouch item."))
        self.item_id.pouch_id._check_editable()
        return super().write(vals)

    def unlink(self):
        self.item_id.pouch_id._check_editable()
        return super().unlink()
