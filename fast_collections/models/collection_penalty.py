import logging
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import format_date, formatLang

from ..rules.interest import (
    BaseChange,
    RatePeriod,
    clip_rate_periods,
    compute_fee,
    compute_interest,
    payment_change,
)
from ..tools.locking import lock_for_update

_logger = logging.getLogger(__name__)

# Statutory compensation for recovery costs, per invoice, in euros, set by the
# Spanish Ley 3/2004 and by Directive 2011/7/EU.
COMPENSATION_EUR = 40.0


class ChargedInterest(NamedTuple):
    """Interest already charged on an item: its total, the rates and day
    counts of the days charged, the first day charged, and the scheme of the
    last charge."""

    amount: Decimal
    rate_periods: tuple[RatePeriod, ...]
    first_day: date | None
    scheme_id: int | None


NOTHING_CHARGED = ChargedInterest(Decimal(0), (), None, None)


class InterestInputs(NamedTuple):
    """What the interest of an item depends on besides its rates: the changes
    of its base, the ``[start, end)`` periods of its honoured plans, the day
    of its final payment when paid, and its last reconciliation's id."""

    base_changes: list[BaseChange]
    plan_periods: list[tuple[date, date]]
    paid_on: date | None
    last_partial_id: int


PENALTY_KINDS = [
    ("interest", "Late-Payment Interest"),
    ("fee", "Recovery Fee"),
    ("compensation", "Statutory Compensation"),
    ("bounce", "Return Costs"),
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
    scheme_id = fields.Many2one(
        comodel_name="collection.interest.scheme",
        string="Interest Scheme",
        index="btree_not_null",
        readonly=True,
        ondelete="restrict",
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
    last_partial_id = fields.Integer(
        string="Last Reconciliation Seen",
        readonly=True,
        help="Id of the item's last reconciliation when the interest was "
        "computed: a later one, such as a payment dated earlier, makes the "
        "run check the interest again.",
    )
    rate_periods = fields.Json(
        readonly=True,
        help="Annual rates and day count of the days charged, from the first "
        "to the last: later charges price these days the same way.",
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
        """Return {item id: ``InterestInputs``} for ``lines``.

        The base changes are the payments and credit notes reconciled with the
        item, from the day after the reconciliation (the day of payment still
        bears interest on the amount paid), and the amounts under dispute
        while each dispute was open. A credit note that reverses the item's
        invoice corrects what was invoiced, so it lowers the base from the
        start: no interest is owed on an amount that was never due. A
        cancelled dispute, opened by mistake, pauses nothing. Plan periods
        ``[start, end)`` run from a plan's acceptance to its closing, for
        plans honoured only: the days of a broken or cancelled plan bear
        interest.
        """
        paid_dates = self._get_paid_dates(lines)
        changes = defaultdict(list)
        plan_periods = defaultdict(list)
        last_partials = {}
        if lines:
            self.env.flush_all()
            line_ids = tuple(lines.ids)
            self.env.cr.execute(
                """
                SELECT partial.debit_move_id, partial.max_date,
                       COALESCE(credit_move.reversed_entry_id = debit.move_id,
                                FALSE),
                       SUM(partial.debit_amount_currency), MAX(partial.id)
                  FROM account_partial_reconcile partial
                  JOIN account_move_line debit
                    ON debit.id = partial.debit_move_id
                  JOIN account_move_line credit
                    ON credit.id = partial.credit_move_id
                  JOIN account_move credit_move
                    ON credit_move.id = credit.move_id
                 WHERE partial.debit_move_id IN %s
              GROUP BY partial.debit_move_id, partial.max_date, 3
                """,
                [line_ids],
            )
            for (
                line_id,
                paid_on,
                is_reversal,
                amount,
                partial_id,
            ) in self.env.cr.fetchall():
                if is_reversal:
                    change = BaseChange(date.min, -_decimal(amount))
                else:
                    change = payment_change(paid_on, _decimal(amount))
                changes[line_id].append(change)
                last_partials[line_id] = max(last_partials.get(line_id, 0), partial_id)
            self.env.cr.execute(
                """
                SELECT line.move_line_id, line.dispute_id, dispute.date,
                       dispute.date_closed, line.amount_disputed
                  FROM collection_dispute_line line
                  JOIN collection_dispute dispute ON dispute.id = line.dispute_id
                 WHERE line.move_line_id IN %s
                   AND dispute.state != 'cancelled'
                """,
                [line_ids],
            )
            rows = self.env.cr.fetchall()
            credited = self._get_dispute_credited_amounts(
                {dispute_id for _line_id, dispute_id, *_rest in rows}, lines
            )
            for line_id, dispute_id, date_open, date_closed, amount in rows:
                # The part credited by the dispute's credit note already bears
                # no interest from the start, so it is not paused twice.
                paused = max(
                    _decimal(amount) - credited.get((dispute_id, line_id), 0),
                    Decimal(0),
                )
                changes[line_id].append(BaseChange(date_open, -paused))
                if date_closed:
                    changes[line_id].append(BaseChange(date_closed, paused))
            self.env.cr.execute(
                """
                SELECT rel.move_line_id, plan.date_accepted::date, plan.date_closed
                  FROM collection_plan_move_line_rel rel
                  JOIN collection_plan plan ON plan.id = rel.plan_id
                 WHERE rel.move_line_id IN %s
                   AND plan.date_accepted IS NOT NULL
                   AND plan.state IN ('active', 'completed')
                """,
                [line_ids],
            )
            for line_id, date_accepted, date_closed in self.env.cr.fetchall():
                end = date_closed or date.max
                plan_periods[line_id].append((date_accepted, end))
        return {
            line.id: InterestInputs(
                base_changes=changes[line.id],
                plan_periods=plan_periods[line.id],
                paid_on=paid_dates.get(line.id),
                last_partial_id=last_partials.get(line.id, 0),
            )
            for line in lines
        }

    @api.model
    def _get_dispute_credited_amounts(self, dispute_ids, lines):
        """Return {(dispute id, item id): amount} that the credit notes of
        the disputes ``dispute_ids`` settled on ``lines``."""
        disputes = self.env["collection.dispute"].sudo().browse(dispute_ids)
        credited = defaultdict(Decimal)
        for dispute in disputes.filtered("settlement_move_ids"):
            partials = dispute.settlement_move_ids.line_ids.matched_debit_ids
            for partial in partials.filtered(lambda p: p.debit_move_id in lines):
                key = (dispute.id, partial.debit_move_id.id)
                credited[key] += _decimal(partial.debit_amount_currency)
        return credited

    @api.model
    def _get_paid_dates(self, lines):
        """Return {item id: day of its final payment} for the paid ``lines``."""
        paid = lines.filtered("reconciled")
        if not paid:
            return {}
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT debit_move_id, MAX(max_date)
              FROM account_partial_reconcile
             WHERE debit_move_id IN %s
          GROUP BY debit_move_id
            """,
            [tuple(paid.ids)],
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _get_charged_interest(self, lines):
        """Return {item id: ``ChargedInterest``} for the ``lines`` charged
        interest, waived charges included, since a waiver forgives them."""
        if not lines:
            return {}
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT move_line_id, amount, date_from, scheme_id, rate_periods
              FROM collection_penalty
             WHERE kind = 'interest' AND move_line_id IN %s
          ORDER BY move_line_id, date_to NULLS FIRST, id
            """,
            [tuple(lines.ids)],
        )
        charged = {}
        for line_id, amount, date_from, scheme_id, periods in self.env.cr.fetchall():
            before = charged.get(line_id, NOTHING_CHARGED)
            first_days = [day for day in (before.first_day, date_from) if day]
            charged[line_id] = ChargedInterest(
                amount=before.amount + _decimal(amount),
                rate_periods=before.rate_periods
                + tuple(_rate_period_from_json(period) for period in periods or ()),
                first_day=min(first_days, default=None),
                scheme_id=scheme_id or before.scheme_id,
            )
        return charged

    @api.model
    def _lock_items(self, lines):
        """Lock ``lines`` until the end of the transaction, so that two
        bookings on the same items run one after the other.

        A booking that started before another one committed is retried by
        Odoo, so it reads the charges the other one booked (see
        ``lock_for_update``).
        """
        lock_for_update(lines)
        lines.invalidate_recordset(["collection_interest_date"])

    # ------------------------------------------------------------------
    # Charges
    # ------------------------------------------------------------------

    @api.model
    def _prepare_interest(self, line, policy, scheme, last_day, inputs, charged):
        """Return the interest charge of ``line`` up to ``last_day``, the
        computation's ``InterestResult`` over the new days, and the amount
        charged above what is owed (zero or more).

        The new days, after the item's last day charged, are priced with
        ``scheme`` and the policy's day count. The days already charged keep
        the rates and day count they were charged with, recorded on their
        charges (``charged``: {item id: ``ChargedInterest``}). The interest
        owed in all, up to ``last_day`` or up to the final payment of a paid
        item, is computed on today's bases, and the charge is that total less
        what was charged, never negative. So a base changed after a charge,
        such as an unreconciled payment, is made up for, and the interest of
        an item is rounded once in all. The charge is None when there are no
        new days and nothing to make up for.
        """
        past = charged.get(line.id, NOTHING_CHARGED)
        start = line.date_maturity + timedelta(days=policy.interest_start_days)
        if past.first_day:
            start = min(start, past.first_day)
        first_day = start
        if line.collection_interest_date:
            first_day = max(start, line.collection_interest_date + timedelta(days=1))
        item_inputs = inputs[line.id]
        if item_inputs.paid_on:
            last_day = min(last_day, item_inputs.paid_on)
        currency = line.currency_id
        table = scheme._get_rate_periods()
        options = {
            "last_day": last_day,
            "initial_base": _decimal(line.amount_currency),
            "base_changes": item_inputs.base_changes,
            "day_count": policy.interest_day_count,
            "rounding": _decimal(currency.rounding),
            "excluded": item_inputs.plan_periods if policy.interest_plan_paused else (),
        }
        # The days charged are priced first by their own rates, the others
        # by the table.
        total = compute_interest(
            start=start, rates=[*past.rate_periods, *table], **options
        )
        new_days = compute_interest(start=first_day, rates=table, **options)
        amount = max(total.amount - past.amount, Decimal(0))
        overcharged = max(past.amount - total.amount, Decimal(0))
        if not total.charged_to or (
            not new_days.charged_to and currency.is_zero(float(amount))
        ):
            return None, new_days, overcharged
        invoice = line.move_id
        detail = self._format_segments(new_days, currency)
        if past.amount:
            detail += "\n" + _(
                "Owed from %(start)s to %(end)s: %(total)s, of which %(charged)s "
                "already charged.",
                start=format_date(self.env, start),
                end=format_date(self.env, total.charged_to),
                total=formatLang(self.env, float(total.amount), currency_obj=currency),
                charged=formatLang(self.env, float(past.amount), currency_obj=currency),
            )
        values = {
            "kind": "interest",
            "move_line_id": line.id,
            "company_id": line.company_id.id,
            "partner_id": line.partner_id.commercial_partner_id.id,
            "currency_id": currency.id,
            "scheme_id": scheme.id,
            "amount": float(amount),
            "date_from": new_days.charged_to and first_day,
            "date_to": new_days.charged_to,
            "detail": detail.strip(),
            "last_partial_id": item_inputs.last_partial_id,
            "rate_periods": [
                _rate_period_to_json(period)
                for period in clip_rate_periods(
                    table, first_day, new_days.charged_to, policy.interest_day_count
                )
            ]
            if new_days.charged_to
            else [],
        }
        if new_days.charged_to:
            values["label"] = _(
                "Late-payment interest on %(invoice)s from %(start)s to %(end)s",
                invoice=invoice.name,
                start=format_date(self.env, first_day),
                end=format_date(self.env, new_days.charged_to),
            )
        else:
            values["label"] = _(
                "Late-payment interest on %(invoice)s up to %(end)s",
                invoice=invoice.name,
                end=format_date(self.env, total.charged_to),
            )
        return values, new_days, overcharged

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
    def _get_missing_euro_rate(self, invoice):
        """Return the currency that has no rate at the date of ``invoice``
        among the euro and the invoice's currency, or an empty recordset.

        Without a rate, converting the 40 EUR would take a rate of 1.
        """
        euro = self.env.ref("base.EUR")
        if invoice.currency_id == euro:
            return euro.browse()
        company = invoice.company_id
        day = invoice.invoice_date or invoice.date
        rates = self.env["res.currency.rate"].sudo()
        for currency in euro | invoice.currency_id:
            if currency == company.currency_id:
                continue
            has_rate = rates.search_count(
                [
                    ("currency_id", "=", currency.id),
                    ("company_id", "in", [False, company.root_id.id]),
                    ("name", "<=", day),
                ],
                limit=1,
            )
            if not has_rate:
                return currency
        return euro.browse()

    @api.model
    def _get_missing_euro_rate_message(self, invoice, currency):
        return _(
            "The compensation for recovery costs of 40 EUR on %(invoice)s is not "
            "charged: the currency %(currency)s has no rate on or before "
            "%(date)s, so 40 EUR cannot be converted. Enter the rate in the "
            "currency settings.",
            invoice=invoice.name,
            currency=currency.name,
            date=fields.Date.to_string(invoice.invoice_date or invoice.date),
        )

    @api.model
    def _report_missing_euro_rate(self, invoice, currency):
        """Log the compensation not charged on ``invoice`` and give a
        collections manager an activity on it, once per invoice."""
        message = self._get_missing_euro_rate_message(invoice, currency)
        _logger.warning(
            "Compensation on invoice %s not charged: currency %s has no rate",
            invoice.id,
            currency.name,
        )
        self._schedule_manager_activity(
            invoice, _("Enter the currency rate of the compensation"), message
        )

    @api.model
    def _schedule_manager_activity(self, invoice, summary, note):
        """Give a collections manager of the company of ``invoice`` an
        activity on it, unless one with the same summary is open."""
        invoice = invoice.sudo()
        if invoice.activity_ids.filtered(lambda activity: activity.summary == summary):
            return
        managers = (
            self.env.ref("fast_collections.group_collection_manager")
            .sudo()
            .users.filtered(
                lambda user: invoice.company_id in user.company_ids and user.active
            )
        )
        user = managers[:1] or self.env.ref("base.user_admin", False)
        if user:
            invoice.activity_schedule(
                act_type_xmlid="mail.mail_activity_data_todo",
                summary=summary,
                note=note,
                user_id=user.id,
            )

    @api.model
    def _prepare_compensation(self, line):
        """Return the statutory compensation of 40 EUR on the invoice of
        ``line``, in the invoice's currency at its date's rate. Callers first
        check that the rates exist with ``_get_missing_euro_rate``."""
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
    def _prepare_nothing_owed(self, line, scheme, last_partial_id):
        """Return a zero interest charge of ``line``, booked on no invoice,
        which records that a stage found nothing new to charge, and which
        reconciliations were seen."""
        return {
            "last_partial_id": last_partial_id,
            "kind": "interest",
            "move_line_id": line.id,
            "company_id": line.company_id.id,
            "partner_id": line.partner_id.commercial_partner_id.id,
            "currency_id": line.currency_id.id,
            "scheme_id": scheme.id,
            "amount": 0.0,
            "label": _(
                "Late-payment interest on %(invoice)s: nothing new to charge",
                invoice=line.move_id.name,
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
        charged = self._get_charged_interest(lines)
        passed_stages = self._get_passed_interest_stages(
            lines.filtered(
                lambda line: inputs[line.id].paid_on and line.id not in charged
            )
        )
        item_keys, invoice_keys = self._get_charged_keys(lines)
        charges = []
        for line in lines:
            stage = line.collection_stage_id
            policy = stage.policy_id
            # A paid item owes the interest up to its final payment only.
            is_paid = bool(inputs[line.id].paid_on)
            if not is_paid and (line.id, "fee", stage.id) not in item_keys:
                overdue = line.amount_residual_currency - disputed.get(line.id, 0.0)
                fee = self._prepare_fee(line, stage, overdue)
                if fee:
                    charges.append(dict(fee, run_id=run.id))
            scheme = self._get_run_scheme(line, stage, is_paid, charged, passed_stages)
            if scheme and (is_paid or (line.id, "interest", stage.id) not in item_keys):
                interest, result, overcharged = self._prepare_interest(
                    line, policy, scheme, today, inputs, charged
                )
                if result.missing_from:
                    scheme._report_missing_rate(result.missing_from)
                if not line.currency_id.is_zero(float(overcharged)):
                    self._report_overcharge(line, overcharged)
                if not (interest or result.missing_from):
                    # Nothing new: the stage is marked charged all the same,
                    # and the reconciliations seen are recorded, so that the
                    # next runs do not try again every day. A missing rate is
                    # tried again until the rate is entered.
                    interest = self._prepare_nothing_owed(
                        line, scheme, inputs[line.id].last_partial_id
                    )
                if interest:
                    charges.append(dict(interest, stage_id=stage.id, run_id=run.id))
            if (
                not is_paid
                and policy.compensation_enabled
                and (line.move_id.id, "compensation") not in invoice_keys
            ):
                invoice_keys.add((line.move_id.id, "compensation"))
                missing = self._get_missing_euro_rate(line.move_id)
                if missing:
                    self._report_missing_euro_rate(line.move_id, missing)
                    continue
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

    @api.model
    def _get_run_scheme(self, line, stage, is_paid, charged, passed_stages):
        """Return the active scheme with which a run charges interest on
        ``line``, or an empty recordset.

        An unpaid item is charged by a stage that charges interest, with the
        stage's scheme or its policy's. An item paid since its last charge
        owes the interest up to its payment even when its stage charges none.
        It is charged with the scheme of its last charge, or else with that of
        the last interest stage it went through (``passed_stages``: {item id:
        stage}), which a missing rate may have kept from charging.
        """
        schemes = self.env["collection.interest.scheme"]
        if stage.charge_interest:
            scheme = stage.interest_scheme_id or stage.policy_id.interest_scheme_id
        elif is_paid and line.id in charged:
            scheme = schemes.browse(charged[line.id].scheme_id)
        elif is_paid and line.id in passed_stages:
            passed = passed_stages[line.id]
            scheme = passed.interest_scheme_id or passed.policy_id.interest_scheme_id
        else:
            scheme = schemes
        return scheme.filtered("active")

    @api.model
    def _get_passed_interest_stages(self, lines):
        """Return {item id: the last stage that charges interest} that each
        of ``lines`` reached, read in one query."""
        histories = (
            self.env["collection.history"]
            .sudo()
            .search(
                [
                    ("move_line_id", "in", lines.ids),
                    ("stage_id.charge_interest", "=", True),
                ],
                order="date, id",
            )
        )
        return {history.move_line_id.id: history.stage_id for history in histories}

    @api.model
    def _report_overcharge(self, line, amount):
        """Tell a collections manager that ``line`` was charged ``amount`` of
        interest more than it owes, unless an activity about it is open.

        This happens when a payment dated before a charge is entered after
        it. Charges are never negative, so the manager decides whether to
        waive the difference.
        """
        invoice = line.move_id
        note = _(
            "%(invoice)s was charged %(amount)s of late-payment interest more "
            "than it owes today, probably because a payment dated before the "
            "charge was entered after it. Waive the difference on its interest "
            "invoice if the customer is to be refunded.",
            invoice=invoice.name,
            amount=formatLang(self.env, float(amount), currency_obj=line.currency_id),
        )
        _logger.warning(
            "Item %s was charged %s of interest more than it owes", line.id, amount
        )
        self._schedule_manager_activity(
            invoice, _("Interest charged above what is owed"), note
        )

    # ------------------------------------------------------------------
    # Booking
    # ------------------------------------------------------------------

    @api.model
    def _book(self, charges, date, strict=False):
        """Book ``charges`` on customer invoices, one per customer and
        currency, and return the invoices.

        The items are locked and the charges checked again first: a fee of
        a stage or a compensation already charged, and interest starting on
        or before the item's last day charged, are dropped, or refused when
        ``strict``. Zero charges are recorded on no invoice, so that the stage
        counts as charged, and an interest charge of zero still moves the
        item's last day charged, so those days are not charged again.
        """
        items = (
            self.env["account.move.line"]
            .sudo()
            .browse({charge["move_line_id"] for charge in charges})
        )
        self._lock_items(items)
        item_keys, invoice_keys = self._get_charged_keys(items)
        charged_dates = {}
        groups = defaultdict(list)
        zero_charges = []
        for charge in charges:
            item = items.browse(charge["move_line_id"])
            if charge["kind"] == "fee":
                key = (item.id, "fee", charge.get("stage_id") or False)
                already = key in item_keys
                item_keys.add(key)
            elif charge["kind"] == "compensation":
                key = (item.move_id.id, "compensation")
                already = key in invoice_keys
                invoice_keys.add(key)
            elif charge["kind"] == "bounce":
                # Each bounce is charged by the step that records it.
                already = False
            else:
                last_charged = charged_dates.get(item.id) or (
                    item.collection_interest_date
                )
                already = bool(
                    charge.get("date_from")
                    and last_charged
                    and charge["date_from"] <= last_charged
                )
            if already:
                if strict:
                    raise UserError(
                        _(
                            "%(charge)s has already been charged meanwhile. "
                            "Open the preview again.",
                            charge=charge["label"],
                        )
                    )
                continue
            if charge["kind"] == "interest" and charge.get("date_to"):
                charged_dates[item.id] = charge["date_to"]
            currency = self.env["res.currency"].browse(charge["currency_id"])
            if currency.is_zero(charge["amount"]):
                zero_charges.append(dict(charge, date=date, amount=0.0))
                continue
            key = (charge["company_id"], charge["partner_id"], charge["currency_id"])
            groups[key].append(charge)
        if zero_charges:
            self.sudo().create(zero_charges)

        invoices = self.env["account.move"]
        groups_by_company = defaultdict(list)
        for (company_id, partner_id, currency_id), group in groups.items():
            groups_by_company[company_id].append((partner_id, currency_id, group))
        for company_id, company_groups in groups_by_company.items():
            invoices |= self._book_company_groups(company_id, company_groups, date)

        line_ids_by_date = defaultdict(list)
        for line_id, charged_to in charged_dates.items():
            line_ids_by_date[charged_to].append(line_id)
        for charged_to, line_ids in line_ids_by_date.items():
            self.env["account.move.line"].sudo().browse(line_ids).write(
                {"collection_interest_date": charged_to}
            )
        self._post_on_origins(invoices)
        return invoices

    @api.model
    def _book_company_groups(self, company_id, groups, date):
        """Create and post the interest and fee invoices of one company, one
        per (customer, currency, charges) of ``groups``, and record the
        charges against their invoice lines.

        The invoices are created and posted in one batch each, which costs
        far fewer queries than one invoice at a time.
        """
        company = self.env["res.company"].browse(company_id)
        company._check_collection_penalty_settings()
        # TODO: Odoo's accounting still costs about 9 queries and 28 ms per
        # invoice created and posted, measured with scripts/bench-run over
        # 100,000 invoices on a 2-core machine. This bounds the run when
        # thousands of customers owe a fee on the same day. The run's own
        # invoices get no creation note or tracking message.
        invoices = (
            self.env["account.move"]
            .sudo()
            .with_company(company)
            .with_context(tracking_disable=True)
            .create(
                [
                    self._prepare_penalty_move_values(
                        company, partner_id, currency_id, group, date
                    )
                    for partner_id, currency_id, group in groups
                ]
            )
        )
        self._subscribe_customers(invoices)
        invoices.action_post()
        penalty_values = []
        for invoice, (_partner_id, _currency_id, group) in zip(
            invoices, groups, strict=True
        ):
            lines = invoice.invoice_line_ids.sorted("id")
            penalty_values += [
                dict(charge, date=date, penalty_move_id=invoice.id)
                | {"penalty_line_id": line.id}
                for charge, line in zip(group, lines, strict=True)
            ]
        self.sudo().create(penalty_values)
        return invoices.with_env(self.env)

    @api.model
    def _subscribe_customers(self, invoices):
        """Make the customer of each of ``invoices`` follow it, with the
        subtypes Odoo gives a customer, in one batch.

        Posting subscribes an invoice's customer unless it already follows
        the invoice, one invoice at a time. Archived customers are left out,
        as posting leaves them out.
        """
        followers = self.env["mail.followers"].sudo()
        customer_ids = invoices.partner_id.filtered("partner_share").ids
        values = []
        for invoice in invoices.filtered("partner_id.active"):
            new_followers, _updates = followers._add_default_followers(
                invoice._name,
                invoice.ids,
                invoice.partner_id.ids,
                customer_ids=customer_ids,
                check_existing=False,
            )
            values += [
                dict(follower_values, res_id=invoice.id)
                for follower_values in new_followers.get(invoice.id, [])
            ]
        followers.create(values)

    def _prepare_penalty_move_values(
        self, company, partner_id, currency_id, group, date
    ):
        product = company.collection_penalty_product_id
        account = company.collection_penalty_account_id
        origins = self.env["account.move.line"].browse(
            [charge["move_line_id"] for charge in group]
        )
        # The lines share the product, account and customer that Odoo's
        # analytic distribution models match on, so the distribution is looked
        # up once here instead of once per line when the invoice is created.
        partner = self.env["res.partner"].browse(partner_id).commercial_partner_id
        distribution = self.env[
            "account.analytic.distribution.model"
        ]._get_distribution(
            {
                "product_id": product.id,
                "product_categ_id": product.categ_id.id,
                "partner_id": partner.id,
                "partner_category_id": partner.category_id.ids,
                "account_prefix": account.code,
                "company_id": company.id,
            }
        )
        values = {
            "move_type": "out_invoice",
            "partner_id": partner_id,
            "company_id": company.id,
            "currency_id": currency_id,
            "invoice_date": date,
            # Without a payment term, Odoo makes an invoice due on the day it
            # is created, which is not the run's date when a run is resumed.
            "invoice_date_due": date,
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
                        "analytic_distribution": distribution or False,
                        "collection_origin_move_id": self.env["account.move.line"]
                        .browse(charge["move_line_id"])
                        .move_id.id,
                    }
                )
                for charge in group
            ],
        }
        if company.collection_penalty_journal_id:
            values["journal_id"] = company.collection_penalty_journal_id.id
        return values

    def _post_on_origins(self, invoices):
        """Log on each charged invoice a note naming the interest and fee
        invoice that charged it, in one batch per round of notes."""
        bodies_by_origin = defaultdict(list)
        for invoice in invoices:
            for origin in invoice.invoice_line_ids.collection_origin_move_id:
                bodies_by_origin[origin].append(
                    _(
                        "Interest and fees on this invoice charged in %(invoice)s.",
                        invoice=invoice.name,
                    )
                )
        # An invoice charged by several interest and fee invoices gets one
        # note for each, and a batch logs at most one note per invoice.
        while bodies_by_origin:
            origins = self.env["account.move"].union(*bodies_by_origin)
            bodies = {origin.id: bodies_by_origin[origin].pop(0) for origin in origins}
            origins.sudo()._message_log_batch(bodies=bodies)
            bodies_by_origin = {
                origin: bodies for origin, bodies in bodies_by_origin.items() if bodies
            }

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
                or invoice.move_type != "out_invoice"
                or invoice.state != "posted"
                or not penalties
            ):
                raise UserError(
                    _(
                        "%(invoice)s is not a posted interest and fee invoice "
                        "with charges not yet waived, so there is nothing to "
                        "waive.",
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
        """Book the credit note that waives ``penalties`` of ``invoice``.

        What is still owed is waived. An invoice paid in full is refunded in
        full: the credit note stays as the customer's credit.
        """
        currency = invoice.currency_id
        if currency.is_zero(invoice.amount_residual):
            amounts = penalties.mapped("amount")
        elif currency.compare_amounts(invoice.amount_residual, invoice.amount_total):
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
                                "name": self.env._(
                                    "Waived: %(charge)s", charge=penalty.label
                                ),
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
        # Nothing to reconcile with when the invoice was paid in full.
        if receivables.filtered("debit") and receivables.filtered("credit"):
            receivables.reconcile()
        return credit_note


def _decimal(value):
    return Decimal(str(value or 0.0))


def _rate_period_to_json(period):
    return {
        "date_from": period.date_from.isoformat(),
        "date_to": period.date_to.isoformat(),
        "rate": str(period.rate),
        "day_count": period.day_count,
    }


def _rate_period_from_json(values):
    return RatePeriod(
        date.fromisoformat(values["date_from"]),
        date.fromisoformat(values["date_to"]),
        Decimal(values["rate"]),
        values["day_count"],
    )
