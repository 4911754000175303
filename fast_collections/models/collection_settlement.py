from collections import defaultdict

from odoo import Command, _, fields, models
from odoo.exceptions import AccessError, UserError

SETTLEMENT_OUTCOMES = [
    ("rejected", "Rejected"),
    ("credit_note", "Credit Note"),
    ("plan", "Payment Plan"),
    ("legal_claim", "Legal Claim Filed"),
    ("write_off", "Written Off"),
]

# Payment plans that can settle a dispute or a legal case: agreed or on their
# way to being agreed.
SETTLING_PLAN_STATES = ("to_approve", "approved", "sent", "active", "completed")

# Fields set by the record's own steps, never by hand: the approval of a
# write-off, the entries booked and the closing.
BOOKKEEPING_FIELDS = {
    "write_off_state",
    "write_off_approved_by_id",
    "write_off_requested_by_id",
    "settlement_move_ids",
    "state",
    "date_closed",
}

# Fields that tell how the record was settled: fixed once it is closed.
OUTCOME_FIELDS = {
    "outcome",
    "amount_settled",
    "plan_id",
    "claim_reference",
    "claim_date",
    "write_off_state",
    "write_off_approved_by_id",
    "write_off_requested_by_id",
    "settlement_move_ids",
}


class CollectionSettlementMixin(models.AbstractModel):
    """Outcome of a dispute or a legal case, and the entries that book it.

    The record closes with one outcome. Rejected: the invoices stand. Credit
    note: for the agreed amount. Payment plan: a plan settles the items.
    Legal claim: filed in court, and its items leave the automatic collection
    for good. Write-off: approved by a collections manager.
    """

    _name = "collection.settlement.mixin"
    _description = "Collection Settlement"

    # Defined again by each model, as its own currency and company.
    currency_id = fields.Many2one(comodel_name="res.currency")
    company_id = fields.Many2one(comodel_name="res.company")
    outcome = fields.Selection(
        selection=SETTLEMENT_OUTCOMES,
        tracking=True,
        copy=False,
        help="How the record was settled. Rejected: the invoices stand and "
        "their collection resumes at the stage where it stopped. Credit Note: "
        "the agreed amount is credited and reconciled with the invoices. "
        "Payment Plan: the customer pays under the chosen plan. Legal Claim "
        "Filed: the invoices leave the automatic collection for good. Written "
        "Off: a manager approved booking the amount as a loss.",
    )
    amount_settled = fields.Monetary(
        string="Agreed Amount",
        currency_field="currency_id",
        copy=False,
        help="Amount credited by the credit note, or written off. At most the "
        "amount in dispute, or still owed on the items of a legal case.",
    )
    settlement_move_ids = fields.Many2many(
        comodel_name="account.move",
        string="Settlement Entries",
        copy=False,
        readonly=True,
        help="Credit notes that booked the credit or the write-off.",
    )
    plan_id = fields.Many2one(
        comodel_name="collection.plan",
        string="Settling Payment Plan",
        copy=False,
        tracking=True,
        check_company=True,
    )
    claim_reference = fields.Char(
        copy=False, tracking=True, help="Court or lawyer's reference of the claim."
    )
    claim_date = fields.Date(string="Claim Filed On", copy=False, tracking=True)
    write_off_state = fields.Selection(
        selection=[("requested", "Requested"), ("approved", "Approved")],
        string="Write-Off Approval",
        readonly=True,
        copy=False,
        tracking=True,
    )
    write_off_approved_by_id = fields.Many2one(
        comodel_name="res.users",
        string="Write-Off Approved By",
        readonly=True,
        copy=False,
    )
    write_off_requested_by_id = fields.Many2one(
        comodel_name="res.users",
        string="Write-Off Requested By",
        readonly=True,
        copy=False,
    )

    def write(self, vals):
        if not self.env.su:
            self._check_outcome_write(vals)
        # A changed outcome or agreed amount is not what the manager approved,
        # so the approval of the write-off is withdrawn.
        withdrawn = self.browse()
        if "write_off_state" not in vals:
            withdrawn = self.filtered(
                lambda record: (
                    record.write_off_state and record._settlement_changed_by(vals)
                )
            )
        result = super().write(vals)
        if withdrawn:
            withdrawn.sudo().write(
                {
                    "write_off_state": False,
                    "write_off_approved_by_id": False,
                    "write_off_requested_by_id": False,
                }
            )
            for record in withdrawn:
                record.message_post(
                    body=_(
                        "The outcome or the agreed amount of %(record)s changed, "
                        "so its write-off request or approval was withdrawn. "
                        "Request the write-off again.",
                        record=record.name,
                    )
                )
        return result

    def _check_outcome_write(self, vals):
        """Raise when a user writes the bookkeeping fields, or the outcome of
        a record that is no longer open."""
        protected = BOOKKEEPING_FIELDS & set(vals)
        if protected:
            raise AccessError(
                _(
                    "%(fields)s of %(records)s are set by the record's own steps "
                    "(request, approval, closing), not by hand.",
                    fields=", ".join(
                        self._fields[name].get_description(self.env)["string"]
                        for name in sorted(protected)
                    ),
                    records=", ".join(self.mapped("display_name")),
                )
            )
        if OUTCOME_FIELDS & set(vals):
            not_open = self.filtered(lambda record: record.state != "open")
            if not_open:
                raise UserError(
                    _(
                        "%(records)s is already closed or cancelled, so its "
                        "outcome can no longer be changed.",
                        records=", ".join(not_open.mapped("display_name")),
                    )
                )

    def _settlement_changed_by(self, vals):
        """Return whether ``vals`` change the outcome or the agreed amount."""
        self.ensure_one()
        if "outcome" in vals and vals["outcome"] != self.outcome:
            return True
        if "amount_settled" in vals:
            amount = vals["amount_settled"] or 0.0
            return bool(self.currency_id.compare_amounts(amount, self.amount_settled))
        return False

    # ------------------------------------------------------------------
    # Items and limits, given by each model
    # ------------------------------------------------------------------

    def _get_settlement_limits(self):
        """Return {receivable item: maximum amount settled on it}, in the
        item's currency."""
        raise NotImplementedError()

    def _get_outcome_label(self):
        self.ensure_one()
        labels = dict(self._fields["outcome"]._description_selection(self.env))
        return labels.get(self.outcome, "")

    # ------------------------------------------------------------------
    # Write-off approval
    # ------------------------------------------------------------------

    def action_request_write_off(self):
        """Ask a collections manager to approve writing off the amount."""
        for record in self:
            record._check_still_open()
            record.check_access("write")
            if record.outcome != "write_off":
                record.outcome = "write_off"
            # The amount is fixed now, so that the manager approves a known
            # amount and the record's items changing later does not change it.
            amount = record._get_write_off_amount()
            record.sudo().write(
                {
                    "amount_settled": amount,
                    "write_off_state": "requested",
                    "write_off_approved_by_id": False,
                    "write_off_requested_by_id": self.env.uid,
                }
            )
            record._post_everywhere(
                _(
                    "Write-off of %(amount)s requested by %(user)s for "
                    "%(record)s. A collections manager must approve it.",
                    amount=record._format_amount(record._get_write_off_amount()),
                    user=self.env.user.name,
                    record=record.name,
                )
            )
        return True

    def action_approve_write_off(self):
        """Approve the requested write-off: the record can then be closed."""
        if not self.env.user.has_group("fast_collections.group_collection_manager"):
            raise AccessError(_("Only a collections manager can approve a write-off."))
        for record in self:
            record._check_still_open()
            if record.write_off_state != "requested":
                raise UserError(
                    _(
                        "No write-off is requested on %(record)s. Request it first.",
                        record=record.display_name,
                    )
                )
            if not self.env.su and record.write_off_requested_by_id == self.env.user:
                raise AccessError(
                    _(
                        "You requested the write-off of %(record)s, so another "
                        "collections manager must approve it.",
                        record=record.display_name,
                    )
                )
            record.sudo().write(
                {
                    "write_off_state": "approved",
                    "write_off_approved_by_id": self.env.uid,
                }
            )
            record._post_everywhere(
                _(
                    "Write-off of %(amount)s for %(record)s approved by %(user)s.",
                    amount=record._format_amount(record._get_write_off_amount()),
                    record=record.name,
                    user=self.env.user.name,
                )
            )
        return True

    # ------------------------------------------------------------------
    # Checks before closing
    # ------------------------------------------------------------------

    def _check_settlement(self):
        """Raise a UserError unless the record's outcome can be booked."""
        self.ensure_one()
        if not self.outcome:
            raise UserError(
                _(
                    "Choose the outcome of %(record)s before closing it.",
                    record=self.display_name,
                )
            )
        check = {
            "credit_note": self._check_credit_note,
            "plan": self._check_settling_plan,
            "legal_claim": self._check_legal_claim,
            "write_off": self._check_write_off,
        }.get(self.outcome)
        if check:
            check()

    def _check_credit_note(self):
        limit = sum(self._get_settlement_limits().values())
        currency = self.currency_id
        if currency.compare_amounts(self.amount_settled, 0.0) <= 0:
            raise UserError(
                _(
                    "Enter the agreed amount of the credit note of %(record)s: "
                    "more than zero and at most %(limit)s.",
                    record=self.display_name,
                    limit=self._format_amount(limit),
                )
            )
        if currency.compare_amounts(self.amount_settled, limit) > 0:
            raise UserError(
                _(
                    "The credit note of %(amount)s for %(record)s is more than "
                    "the %(limit)s in dispute or still owed. Enter at most "
                    "%(limit)s.",
                    amount=self._format_amount(self.amount_settled),
                    record=self.display_name,
                    limit=self._format_amount(limit),
                )
            )

    def _check_settling_plan(self):
        plan = self.plan_id
        if not plan:
            raise UserError(
                _(
                    "Choose the payment plan that settles %(record)s.",
                    record=self.display_name,
                )
            )
        if plan.state not in SETTLING_PLAN_STATES:
            raise UserError(
                _(
                    "The payment plan %(plan)s is not agreed yet or no longer "
                    "in force. Propose it first, or choose another plan.",
                    plan=plan.name,
                )
            )
        missing = (
            self.env["account.move.line"].concat(*self._get_settlement_limits())
            - plan.sudo().move_line_ids
        )
        if missing:
            raise UserError(
                _(
                    "The payment plan %(plan)s does not cover %(invoices)s. "
                    "Choose a plan over every invoice of %(record)s.",
                    plan=plan.name,
                    invoices=", ".join(missing.move_id.mapped("name")),
                    record=self.display_name,
                )
            )

    def _check_legal_claim(self):
        if not (self.claim_reference or "").strip():
            raise UserError(
                _(
                    "Enter the reference of the legal claim filed for %(record)s.",
                    record=self.display_name,
                )
            )

    def _check_write_off(self):
        if self.write_off_state != "approved":
            raise UserError(
                _(
                    "The write-off of %(record)s is not approved. Request it, and "
                    "have a collections manager approve it before closing.",
                    record=self.display_name,
                )
            )
        if not self.company_id.collection_write_off_account_id:
            raise UserError(
                _(
                    "%(company)s has no write-off account. Set one in the "
                    "Collections settings.",
                    company=self.company_id.name,
                )
            )
        amount = self._get_write_off_amount()
        if self.currency_id.compare_amounts(amount, 0.0) <= 0:
            raise UserError(
                _(
                    "Nothing is left to write off on %(record)s.",
                    record=self.display_name,
                )
            )
        limit = sum(self._get_settlement_limits().values())
        if self.currency_id.compare_amounts(amount, limit) > 0:
            raise UserError(
                _(
                    "The write-off of %(amount)s approved for %(record)s is more "
                    "than the %(limit)s now in dispute or still owed. Request "
                    "the write-off again for at most %(limit)s.",
                    amount=self._format_amount(amount),
                    record=self.display_name,
                    limit=self._format_amount(limit),
                )
            )

    def _get_settlement_values(self):
        """Return the outcome fields, to give another record the same outcome."""
        self.ensure_one()
        return {
            "outcome": self.outcome,
            "amount_settled": self.amount_settled,
            "plan_id": self.plan_id.id,
            "claim_reference": self.claim_reference,
            "claim_date": self.claim_date,
            "write_off_state": self.write_off_state,
            "write_off_approved_by_id": self.write_off_approved_by_id.id,
            "write_off_requested_by_id": self.write_off_requested_by_id.id,
            "resolution_note": self.resolution_note,
        }

    def _get_write_off_amount(self):
        self.ensure_one()
        return self.amount_settled or sum(self._get_settlement_limits().values())

    # ------------------------------------------------------------------
    # Booking
    # ------------------------------------------------------------------

    def _book_settlement(self):
        """Book the outcome: credit notes, the write-off or the legal claim."""
        self.ensure_one()
        if self.outcome == "credit_note":
            moves = self._book_credit_notes()
        elif self.outcome == "write_off":
            moves = self._book_write_off()
        else:
            moves = self.env["account.move"]
        if self.outcome == "legal_claim":
            self._mark_legal_claim()
        if moves:
            self.sudo().settlement_move_ids = [Command.link(move.id) for move in moves]
        return moves

    def _allocate(self, amount):
        """Return {invoice: {item: amount}} spreading ``amount`` over the items,
        earliest due first, each up to its limit."""
        currency = self.currency_id
        allocations = defaultdict(dict)
        remaining = amount
        limits = self._get_settlement_limits()
        for item in sorted(
            limits, key=lambda line: (line.date_maturity or line.date, line.id)
        ):
            if currency.compare_amounts(remaining, 0.0) <= 0:
                break
            part = min(remaining, limits[item])
            if currency.compare_amounts(part, 0.0) <= 0:
                continue
            allocations[item.move_id][item] = part
            remaining = currency.round(remaining - part)
        return allocations

    def _book_credit_notes(self):
        """Reverse each invoice for its share of the agreed amount, post the
        credit notes and reconcile them with the items settled."""
        reason = _(
            "Credit agreed in %(record)s: %(outcome)s",
            record=self.name,
            outcome=self.resolution_note or self._get_outcome_label(),
        )
        credit_notes = self.env["account.move"]
        for invoice, amounts in self._allocate(self.amount_settled).items():
            amount = invoice.currency_id.round(sum(amounts.values()))
            credit_note = self._reverse_invoice(invoice, amount, reason)
            self._reconcile_with_items(credit_note, amounts)
            credit_notes |= credit_note
            invoice.sudo().message_post(
                body=_(
                    "Credit note %(credit_note)s of %(amount)s booked: %(reason)s",
                    credit_note=credit_note.name,
                    amount=self._format_amount(credit_note.amount_total),
                    reason=reason,
                )
            )
        return credit_notes

    def _reverse_invoice(self, invoice, amount, reason):
        """Return the posted credit note of ``amount`` reversing ``invoice``.

        The reversal wizard copies the whole invoice, so for a part of it each
        line's unit price is scaled down, which keeps the taxes proportional,
        and the cents lost to rounding are put on the largest line.
        """
        if invoice.state != "posted":
            raise UserError(
                _(
                    "%(invoice)s is no longer posted, so no credit note can be "
                    "booked on it. Post it again, or close %(record)s with "
                    "another outcome.",
                    invoice=invoice.display_name,
                    record=self.display_name,
                )
            )
        # The collector or lawyer agreed the credit, so it is booked whatever
        # the accounting rights of the user who records it.
        move_model = self.env["account.move"].sudo().with_company(invoice.company_id)
        wizard = (
            self.env["account.move.reversal"]
            .sudo()
            .with_company(invoice.company_id)
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create(
                {
                    "move_ids": [Command.set(invoice.ids)],
                    "journal_id": invoice.journal_id.id,
                    "date": fields.Date.context_today(self),
                    "reason": reason,
                    "company_id": invoice.company_id.id,
                }
            )
        )
        wizard.refund_moves()
        credit_note = move_model.browse(wizard.new_move_ids.ids)
        currency = invoice.currency_id
        if currency.compare_amounts(amount, credit_note.amount_total) < 0:
            self._scale_credit_note(credit_note, amount)
        credit_note.action_post()
        # Posting a reversal reconciles it with the earliest open items of the
        # invoice, which need not be the items settled: undo it, so that the
        # credit note is reconciled with the settled items only.
        credit_note.line_ids.filtered(
            lambda line: line.account_id.account_type == "asset_receivable"
        ).remove_move_reconcile()
        return credit_note

    def _scale_credit_note(self, credit_note, amount):
        """Bring the draft ``credit_note`` down to a total of ``amount``."""
        currency = credit_note.currency_id
        lines = credit_note.invoice_line_ids.filtered(
            lambda line: line.display_type == "product"
        )
        ratio = amount / credit_note.amount_total
        credit_note.write(
            {
                "invoice_line_ids": [
                    Command.update(line.id, {"price_unit": line.price_unit * ratio})
                    for line in lines
                ]
            }
        )
        # Each unit price is rounded, so the total may miss by a few cents:
        # the largest line is set to one unit whose price makes up the rest.
        largest = max(lines, key=lambda line: abs(line.price_total), default=None)
        for __ in range(4):
            difference = currency.round(amount - credit_note.amount_total)
            if not largest or currency.is_zero(difference):
                break
            base = largest.price_unit * largest.quantity * (1 - largest.discount / 100)
            total_per_base = largest.price_total / base if base else 1.0
            largest.write(
                {
                    "quantity": 1.0,
                    "discount": 0.0,
                    "price_unit": base + difference / (total_per_base or 1.0),
                }
            )
        difference = currency.round(amount - credit_note.amount_total)
        tax_line = credit_note.line_ids.filtered("tax_line_id")[:1]
        if not currency.is_zero(difference) and tax_line:
            # Taxes rounded per line may skip the last cent: it goes on the tax.
            sign = -1 if credit_note.is_inbound() else 1
            tax_line.amount_currency += difference * sign
        if currency.compare_amounts(credit_note.amount_total, amount):
            raise UserError(
                _(
                    "The credit note for %(invoice)s comes to %(total)s instead "
                    "of the agreed %(amount)s. Book it by hand from the invoice.",
                    invoice=credit_note.reversed_entry_id.display_name,
                    total=self._format_amount(credit_note.amount_total),
                    amount=self._format_amount(amount),
                )
            )

    def _reconcile_with_items(self, credit_note, amounts):
        receivable = credit_note.line_ids.filtered(
            lambda line: (
                line.account_id.account_type == "asset_receivable"
                and not line.reconciled
            )
        )
        items = self.env["account.move.line"].concat(*amounts).sudo()
        items = items.filtered(lambda item: not item.reconciled)
        if receivable and items:
            (receivable | items).reconcile()

    def _book_write_off(self):
        """Book the written-off amount in a credit note on the company's
        write-off account and reconcile it with the invoices."""
        account = self.company_id.collection_write_off_account_id
        reason = _(
            "Written off in %(record)s, approved by %(user)s.",
            record=self.name,
            user=self.write_off_approved_by_id.name,
        )
        # A manager approved the write-off, so it is booked whatever the
        # accounting rights of the user who closes the record.
        move_model = self.env["account.move"].sudo().with_company(self.company_id)
        today = fields.Date.context_today(self)
        moves = self.env["account.move"]
        for invoice, amounts in self._allocate(self._get_write_off_amount()).items():
            amount = sum(amounts.values())
            move = move_model.create(
                self._prepare_write_off_move_values(
                    invoice, amount, account, today, reason
                )
            )
            move.action_post()
            self._reconcile_with_items(move, amounts)
            moves |= move
            invoice.sudo().message_post(
                body=_(
                    "%(amount)s written off in %(move)s: %(reason)s",
                    amount=self._format_amount(amount),
                    move=move.name,
                    reason=reason,
                )
            )
        return moves

    def _prepare_write_off_move_values(self, invoice, amount, account, date, reason):
        # TODO: the write-off is booked untaxed, so the VAT already declared
        # on the invoice is not adjusted (bad-debt VAT relief differs by
        # country).
        return {
            "move_type": "out_refund",
            "partner_id": invoice.partner_id.id,
            "company_id": invoice.company_id.id,
            "currency_id": invoice.currency_id.id,
            "journal_id": invoice.journal_id.id,
            "invoice_date": date,
            "date": date,
            "invoice_date_due": date,
            "ref": reason,
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

    def _mark_legal_claim(self):
        """Take the items out of the automatic collection for good."""
        items = self.env["account.move.line"].concat(*self._get_settlement_limits())
        items.sudo().write(
            {
                "collection_claim_reference": self.claim_reference,
                "collection_claim_date": self.claim_date
                or fields.Date.context_today(self),
            }
        )

    def _get_settlement_message(self):
        """Return the chatter message that states how the record was settled."""
        self.ensure_one()
        if self.outcome == "credit_note":
            return _(
                "%(record)s closed with a credit note of %(amount)s (%(moves)s), "
                "reconciled with the invoices. %(note)s",
                record=self.name,
                amount=self._format_amount(
                    sum(self.settlement_move_ids.mapped("amount_total"))
                    or self.amount_settled
                ),
                moves=", ".join(self.settlement_move_ids.mapped("name")),
                note=self.resolution_note or "",
            )
        if self.outcome == "plan":
            return _(
                "%(record)s settled by the payment plan %(plan)s. %(note)s",
                record=self.name,
                plan=self.plan_id.name,
                note=self.resolution_note or "",
            )
        if self.outcome == "legal_claim":
            return _(
                "%(record)s closed: legal claim %(reference)s filed on %(date)s. "
                "Its invoices leave the automatic collection for good. %(note)s",
                record=self.name,
                reference=self.claim_reference,
                date=self.claim_date or fields.Date.context_today(self),
                note=self.resolution_note or "",
            )
        if self.outcome == "write_off":
            return _(
                "%(record)s closed: %(amount)s written off in %(moves)s, "
                "approved by %(user)s. %(note)s",
                record=self.name,
                amount=self._format_amount(self._get_write_off_amount()),
                moves=", ".join(self.settlement_move_ids.mapped("name")),
                user=self.write_off_approved_by_id.name,
                note=self.resolution_note or "",
            )
        return _(
            "%(record)s closed: %(outcome)s. %(note)s",
            record=self.name,
            outcome=self._get_outcome_label(),
            note=self.resolution_note or "",
        )
