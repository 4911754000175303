import logging
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import format_date, formatLang

from ..rules.interest import BaseChange, compute_fee, compute_interest

_logger = logging.getLogger(__name__)

# Statutory compensation for recovery costs, per invoice, in euros, set by the
# Spanish Ley 3/2004 and by Directive 2011/7/EU.
COMPENSATION_EUR = 40.0

PENALTY_KINDS = [
    ("interest", "Late-Payment Interest"),
    ("fee", "Recovery Fee"),
    ("compensation", "Statutory Compensation"),
]


class CollectionPenalty(models.Model):
    """Interest or fee charged on an overdue item, booked on a customer
    invoice of its own."""

    _name = "collection.penalty"
    _description = "Interest or Fee Charged"
    _order = "date desc, id desc"
    _rec_name = "label"

    label = fields.Char(required=True, readonly=True)
    company_id = fields.Many2one(
        comodel_name="res.company", required=True, index=True, readonly=True
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        required=True,
        index=True,
        readonly=True,
    )
    kind = fields.Selection(selection=PENALTY_KINDS, required=True, readonly=True)
    move_line_id = fields.Many2one(
        comodel_name="account.move.line",
        string="Overdue Item",
        required=True,
        index=True,
        readonly=True,
        ondelete="restrict",
    )
    origin_move_id = fields.Many2one(
        related="move_line_id.move_id",
        string="Original Invoice",
        store=True,
        index=True,
    )
    stage_id = fields.Many2one(
        comodel_name="collection.stage",
        index="btree_not_null",
        readonly=True,
        ondelete="restrict",
        help="Stage that charged the fee or interest, empty when charged by hand.",
    )
    run_id = fields.Many2one(
        comodel_name="collection.run",
        readonly=True,
        ondelete="set null",
        help="Collection run that charged it, empty when charged by hand.",
    )
    date = fields.Date(string="Charged On", required=True, readonly=True)
    date_from = fields.Date(string="Interest From", readonly=True)
    date_to = fields.Date(string="Interest To", readonly=True)
    currency_id = fields.Many2one(
        comodel_name="res.currency", required=True, readonly=True
    )
    amount = fields.Monetary(required=True, readonly=True)
    detail = fields.Text(
        readonly=True, help="Days, bases and rates of each interest period."
    )
    penalty_move_id = fields.Many2one(
        comodel_name="account.move",
        string="Charged In",
        index=True,
        readonly=True,
        ondelete="restrict",
    )
    penalty_line_id = fields.Many2one(
        comodel_name="account.move.line", readonly=True, ondelete="set null"
    )
    state = fields.Selection(
        selection=[("charged", "Charged"), ("waived", "Waived")],
        required=True,
        default="charged",
        readonly=True,
    )
    waived_by_id = fields.Many2one(comodel_name="res.users", readonly=True)
    date_waived = fields.Date(string="Waived On", readonly=True)
    waive_reason = fields.Text(string="Waiver Reason", readonly=True)
    waive_move_id = fields.Many2one(
        comodel_name="account.move",
        string="Waiver Credit Note",
        readonly=True,
        ondelete="restrict",
    )

    # ------------------------------------------------------------------
    # Inputs of the computations
    # ------------------------------------------------------------------

    @api.model
    def _get_policy(self, partner, company):
        """Return the active policy of ``partner`` in ``company``, or its
        default policy."""
        partner = partner.commercial_partner_id.with_company(company)
        policy = partner.collection_policy_id
        if policy.active:
            return policy
        default_policy = company.collection_policy_id
        return default_policy if default_policy.active else default_policy.browse()

    @api.model
    def _get_interest_inputs(self, lines):
        """Return {item id: (base changes, plan periods)} for ``lines``.

        The base changes are the payments and credit notes reconciled with the
        item, from the day of the reconciliation, and the amounts under
        dispute while each dispute was open. Plan periods ``[start, end)``
        run from a plan's acceptance to its closing.
        """
        inputs = {line.id: ([], []) for line in lines}
        if not lines:
            return inputs
        self.env.flush_all()
        line_ids = tuple(lines.ids)
        self.env.cr.execute(
            """
            SELECT debit_move_id, max_date, SUM(debit_amount_currency)
              FROM account_partial_reconcile
             WHERE debit_move_id IN %s
          GROUP BY debit_move_id, max_date
            """,
            [line_ids],
        )
        for line_id, paid_date, amount in self.env.cr.fetchall():
            inputs[line_id][0].append(BaseChange(paid_date, -_decimal(amount)))
        self.env.cr.execute(
            """
            SELECT line.move_line_id, dispute.date, dispute.date_closed,
                   line.amount_disputed
              FROM collection_dispute_line line
              JOIN collection_dispute dispute ON dispute.id = line.dispute_id
             WHERE line.move_line_id IN %s
            """,
            [line_ids],
        )
        for line_id, date_open, date_closed, amount in self.env.cr.fetchall():
            changes = inputs[line_id][0]
            changes.append(BaseChange(date_open, -_decimal(amount)))
            if date_closed:
                changes.append(BaseChange(date_closed, _decimal(amount)))
        self.env.cr.execute(
            """
            SELECT rel.move_line_id, plan.date_accepted::date, plan.date_closed
              FROM collection_plan_move_line_rel rel
              JOIN collection_plan plan ON plan.id = rel.plan_id
             WHERE rel.move_line_id IN %s AND plan.date_accepted IS NOT NULL
            """,
            [line_ids],
        )
        for line_id, date_accepted, date_closed in self.env.cr.fetchall():
            end = date_closed or fields.Date.to_date("9999-12-31")
            inputs[line_id][1].append((date_accepted, end))
        return inputs

    # ------------------------------------------------------------------
    # Charges
    # ------------------------------------------------------------------

    @api.model
    def _prepare_interest(self, line, policy, scheme, last_day, inputs):
        """Return the interest charge of ``line`` up to ``last_day``, and the
        computation's ``InterestResult``.

        The charge is None when there is nothing to charge. It starts on the
        day after the last day charged, or else ``interest_start_days`` after
        the due date.
        """
        start = line.date_maturity + timedelta(days=policy.interest_start_days)
        if line.collection_interest_date:
            start = max(start, line.collection_interest_date + timedelta(days=1))
        base_changes, plan_periods = inputs[line.id]
        currency = line.currency_id
        result = compute_interest(
            start=start,
            last_day=last_day,
            initial_base=_decimal(line.amount_currency),
            base_changes=base_changes,
            rates=scheme._get_rate_periods(),
            day_count=policy.interest_day_count,
            rounding=_decimal(currency.rounding),
            excluded=plan_periods if policy.interest_plan_paused else (),
        )
        if not result.charged_to:
            return None, result
        invoice = line.move_id
        values = {
            "kind": "interest",
            "move_line_id": line.id,
            "company_id": line.company_id.id,
            "partner_id": line.partner_id.commercial_partner_id.id,
            "currency_id": currency.id,
            "amount": float(result.amount),
            "date_from": start,
            "date_to": result.charged_to,
            "detail": self._format_segments(result, currency),
            "label": _(
                "Late-payment interest on %(invoice)s from %(start)s to %(end)s",
                invoice=invoice.name,
                start=format_date(self.env, start),
                end=format_date(self.env, result.charged_to),
            ),
        }
        return values, result

    def _format_segments(self, result, currency):
        lines = []
        for segment in result.segments:
            # Formatted outside _(): the message extractor cannot read an
            # f-string among the arguments of _().
            rate = f"{segment.rate:.2f}"
            lines.append(
                _(
                    "%(start)s to %(end)s: %(days)s days on %(base)s at "
                    "%(rate)s%%, %(interest)s",
                    start=format_date(self.env, segment.start),
                    end=format_date(self.env, segment.end - timedelta(days=1)),
                    days=segment.days,
                    base=formatLang(
                        self.env, float(segment.base), currency_obj=currency
                    ),
                    rate=rate,
                    interest=formatLang(
                        self.env, float(segment.interest), currency_obj=currency
                    ),
                )
            )
        if result.missing_from:
            lines.append(
                _(
                    "No reference rate from %(date)s on: those days are not charged.",
                    date=format_date(self.env, result.missing_from),
                )
            )
        return "\n".join(lines)

    @api.model
    def _prepare_fee(self, line, stage, overdue_amount):
        """Return the recovery fee of ``stage`` on ``line``, or None."""
        if not stage.fee_type:
            return None
        currency = line.currency_id
        amount = compute_fee(
            overdue_amount=_decimal(overdue_amount),
            fee_type=stage.fee_type,
            fixed_amount=_decimal(stage.fee_amount),
            percent=_decimal(stage.fee_percent),
            minimum=_decimal(stage.fee_minimum),
            maximum=_decimal(stage.fee_maximum),
            rounding=_decimal(currency.rounding),
        )
        if currency.is_zero(float(amount)):
            return None
        return {
            "kind": "fee",
            "move_line_id": line.id,
            "stage_id": stage.id,
            "company_id": line.company_id.id,
            "partner_id": line.partner_id.commercial_partner_id.id,
            "currency_id": currency.id,
            "amount": float(amount),
            "label": _(
                "Recovery fee on %(invoice)s, stage %(stage)s",
                invoice=line.move_id.name,
                stage=stage.name,
            ),
        }

    @api.model
    def _prepare_compensation(self, line):
        """Return the statutory compensation of 40 EUR on the invoice of
        ``line``, in the invoice's currency at its date's rate."""
        invoice = line.move_id
        euro = self.env.ref("base.EUR")
        amount = euro._convert(
            COMPENSATION_EUR,
            invoice.currency_id,
            invoice.company_id,
            invoice.invoice_date or invoice.date,
        )
        return {
            "kind": "compensation",
            "move_line_id": line.id,
            "company_id": line.company_id.id,
            "partner_id": line.partner_id.commercial_partner_id.id,
            "currency_id": invoice.currency_id.id,
            "amount": amount,
            "label": _(
                "Compensation for recovery costs on %(invoice)s (40 EUR)",
                invoice=invoice.name,
            ),
        }

    @api.model
    def _get_charged_keys(self, lines):
        """Return the (item, kind, stage) and (invoice, kind) already charged."""
        # Searched by invoice, because the compensation of an invoice with
        # instalments sits on one of its items, possibly one already paid.
        penalties = self.sudo().search([("origin_move_id", "in", lines.move_id.ids)])
        item_keys = {
            (penalty.move_line_id.id, penalty.kind, penalty.stage_id.id)
            for penalty in penalties
        }
        invoice_keys = {
            (penalty.origin_move_id.id, penalty.kind) for penalty in penalties
        }
        return item_keys, invoice_keys

    # ------------------------------------------------------------------
    # The collection run
    # ------------------------------------------------------------------

    @api.model
    def _charge_for_run(self, run, lines, disputed):
        """Charge what the stages reached by ``lines`` call for, and return
        the invoices booked.

        Each stage charges its fee and, when it charges interest, the interest
        accrued since the last charge, once per item. The statutory
        compensation is charged once per invoice, with the first stage after
        the due date.
        """
        today = run.run_date
        inputs = self._get_interest_inputs(lines)
        item_keys, invoice_keys = self._get_charged_keys(lines)
        charges = []
        for line in lines:
            stage = line.collection_stage_id
            policy = stage.policy_id
            if (line.id, "fee", stage.id) not in item_keys:
                overdue = line.amount_residual_currency - disputed.get(line.id, 0.0)
                fee = self._prepare_fee(line, stage, overdue)
                if fee:
                    charges.append(dict(fee, run_id=run.id))
            scheme = stage.interest_scheme_id or policy.interest_scheme_id
            if (
                stage.charge_interest
                and scheme
                and (line.id, "interest", stage.id) not in item_keys
            ):
                interest, result = self._prepare_interest(
                    line, policy, scheme, today, inputs
                )
                if result.missing_from:
                    scheme._report_missing_rate(result.missing_from)
                if interest:
                    charges.append(dict(interest, stage_id=stage.id, run_id=run.id))
            if (
                policy.compensation_enabled
                and (line.move_id.id, "compensation") not in invoice_keys
            ):
                invoice_keys.add((line.move_id.id, "compensation"))
                charges.append(dict(self._prepare_compensation(line), run_id=run.id))
        if not charges:
            return self.env["account.move"]
        if not run.company_id._get_collection_penalty_settings_problem():
            return self._book(charges, today)
        _logger.warning(
            "Collection run %s of company %s charged no interest or fees: "
            "the product or account of interest and fee invoices is not set",
            run.id,
            run.company_id.id,
        )
        return self.env["account.move"]

    # ------------------------------------------------------------------
    # Booking
    # ------------------------------------------------------------------

    @api.model
    def _book(self, charges, date):
        """Book ``charges`` on customer invoices, one per customer and
        currency, and return the invoices.

        Zero charges are dropped, but an interest charge of zero still moves
        the item's last day charged, so those days are not charged again.
        """
        charged_dates = {}
        groups = defaultdict(list)
        for charge in charges:
            if charge["kind"] == "interest":
                charged_dates[charge["move_line_id"]] = charge["date_to"]
            currency = self.env["res.currency"].browse(charge["currency_id"])
            if currency.is_zero(charge["amount"]):
                continue
            key = (charge["company_id"], charge["partner_id"], charge["currency_id"])
            groups[key].append(charge)

        invoices = self.env["account.move"]
        for (company_id, partner_id, currency_id), group in groups.items():
            company = self.env["res.company"].browse(company_id)
            company._check_collection_penalty_settings()
            invoice = (
                self.env["account.move"]
                .sudo()
                .with_company(company)
                .create(
                    self._prepare_penalty_move_values(
                        company, partner_id, currency_id, group, date
                    )
                )
            )
            invoice.action_post()
            lines = invoice.invoice_line_ids.sorted("id")
            self.sudo().create(
                [
                    dict(charge, date=date, penalty_move_id=invoice.id)
                    | {"penalty_line_id": line.id}
                    for charge, line in zip(group, lines, strict=True)
                ]
            )
            invoices |= invoice

        for line_id, charged_to in charged_dates.items():
            self.env["account.move.line"].sudo().browse(
                line_id
            ).collection_interest_date = charged_to
        self._post_on_origins(invoices)
        return invoices

    def _prepare_penalty_move_values(
        self, company, partner_id, currency_id, group, date
    ):
        product = company.collection_penalty_product_id
        account = company.collection_penalty_account_id
        origins = self.env["account.move.line"].browse(
            [charge["move_line_id"] for charge in group]
        )
        return {
            "move_type": "out_invoice",
            "partner_id": partner_id,
            "company_id": company.id,
            "currency_id": currency_id,
            "invoice_date": date,
            "date": date,
            "collection_is_penalty": True,
            "invoice_origin": ", ".join(origins.move_id.mapped("name")),
            "invoice_line_ids": [
                Command.create(
                    {
                        "product_id": product.id,
                        "name": charge["label"],
                        "account_id": account.id,
                        "quantity": 1.0,
                        "price_unit": charge["amount"],
                        "tax_ids": [Command.clear()],
                        "collection_origin_move_id": self.env["account.move.line"]
                        .browse(charge["move_line_id"])
                        .move_id.id,
                    }
                )
                for charge in group
            ],
        }

    def _post_on_origins(self, invoices):
        for invoice in invoices:
            for origin in invoice.invoice_line_ids.collection_origin_move_id:
                origin.sudo().message_post(
                    body=_(
                        "Interest and fees on this invoice charged in %(invoice)s.",
                        invoice=invoice.name,
                    )
                )

    # ------------------------------------------------------------------
    # Waivers
    # ------------------------------------------------------------------

    @api.model
    def _waive_moves(self, invoices, reason):
        """Waive what is still owed on the interest and fee ``invoices`` with
        credit notes reconciled with them, and return the credit notes."""
        if not self.env.user.has_group("fast_collections.group_collection_manager"):
            raise AccessError(
                _("Only a collections manager can waive interest and fees.")
            )
        if not (reason or "").strip():
            raise UserError(_("Enter the reason why the interest and fees are waived."))
        credit_notes = self.env["account.move"]
        for invoice in invoices:
            penalties = invoice.sudo().collection_penalty_ids.filtered(
                lambda penalty: penalty.state == "charged"
            )
            if (
                not invoice.collection_is_penalty
                or invoice.state != "posted"
                or not penalties
                or invoice.currency_id.is_zero(invoice.amount_residual)
            ):
                raise UserError(
                    _(
                        "%(invoice)s is not a posted interest and fee invoice "
                        "with an amount still owed, so there is nothing to waive.",
                        invoice=invoice.display_name,
                    )
                )
            credit_note = self._book_waiver(invoice, penalties, reason)
            penalties.write(
                {
                    "state": "waived",
                    "waived_by_id": self.env.uid,
                    "date_waived": credit_note.invoice_date,
                    "waive_reason": reason,
                    "waive_move_id": credit_note.id,
                }
            )
            body = _(
                "%(amount)s waived by %(user)s in the credit note %(credit_note)s. "
                "Reason: %(reason)s",
                amount=formatLang(
                    self.env,
                    credit_note.amount_total,
                    currency_obj=credit_note.currency_id,
                ),
                user=self.env.user.name,
                credit_note=credit_note.name,
                reason=reason,
            )
            invoice.sudo().message_post(body=body)
            for origin in penalties.origin_move_id:
                origin.sudo().message_post(body=body)
            credit_notes |= credit_note
        return credit_notes

    def _book_waiver(self, invoice, penalties, reason):
        currency = invoice.currency_id
        if currency.compare_amounts(invoice.amount_residual, invoice.amount_total):
            # Part of the invoice is paid: the waiver shares the rest out over
            # the charges in proportion to their amounts.
            ratio = invoice.amount_residual / invoice.amount_total
            shares = [penalty.amount * ratio for penalty in penalties]
            amounts = [currency.round(share) for share in shares]
            amounts[-1] = currency.round(invoice.amount_residual - sum(amounts[:-1]))
        else:
            amounts = penalties.mapped("amount")
        today = fields.Date.context_today(self)
        credit_note = (
            self.env["account.move"]
            .sudo()
            .with_company(invoice.company_id)
            .create(
                {
                    "move_type": "out_refund",
                    "partner_id": invoice.partner_id.id,
                    "company_id": invoice.company_id.id,
                    "currency_id": currency.id,
                    "journal_id": invoice.journal_id.id,
                    "invoice_date": today,
                    "date": today,
                    "reversed_entry_id": invoice.id,
                    "collection_is_penalty": True,
                    "ref": reason,
                    "narration": reason,
                    "invoice_origin": invoice.name,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": penalty.penalty_line_id.product_id.id,
                                "name": _("Waived: %(charge)s", charge=penalty.label),
                                "account_id": penalty.penalty_line_id.account_id.id,
                                "quantity": 1.0,
                                "price_unit": amount,
                                "tax_ids": [Command.clear()],
                                "collection_origin_move_id": (
                                    penalty.origin_move_id.id
                                ),
                            }
                        )
                        for penalty, amount in zip(penalties, amounts, strict=True)
                    ],
                }
            )
        )
        credit_note.action_post()
        receivables = (invoice | credit_note).line_ids.filtered(
            lambda line: (
                line.account_id.account_type == "asset_receivable"
                and not line.reconciled
            )
        )
        receivables.reconcile()
        return credit_note


def _decimal(value):
    return Decimal(str(value or 0.0))
