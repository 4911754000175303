from datetime import date
from decimal import Decimal

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..rules.interest import RatePeriod, find_table_problems


class CollectionInterestScheme(models.Model):
    """Annual rate of late-payment interest: fixed, or a dated reference rate
    plus a margin."""

    _name = "collection.interest.scheme"
    _description = "Late-Payment Interest Scheme"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "name, id"

    name = fields.Char(required=True, translate=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        comodel_name="res.company",
        index=True,
        help="Leave empty to share the scheme between all companies.",
    )
    scheme_type = fields.Selection(
        selection=[
            ("contractual", "Contractual: a fixed annual rate"),
            ("statutory", "Statutory: reference rate plus a margin"),
        ],
        string="Type",
        required=True,
        default="contractual",
        tracking=True,
    )
    annual_rate = fields.Float(
        string="Annual Rate (%)",
        digits=(16, 4),
        tracking=True,
        help="Yearly interest rate in percent of contractual schemes.",
    )
    margin = fields.Float(
        string="Margin (Points)",
        digits=(16, 4),
        tracking=True,
        help="Percentage points added to each reference rate of statutory schemes.",
    )
    rate_ids = fields.One2many(
        comodel_name="collection.interest.rate",
        inverse_name="scheme_id",
        string="Reference Rates",
        copy=True,
    )
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Responsible",
        default=lambda self: self.env.user,
        help="Collections manager who receives an activity when a run finds no "
        "reference rate for a day to be charged.",
    )
    missing_rate_date = fields.Date(
        string="Missing Rate Reported For",
        readonly=True,
        copy=False,
        help="Last day without a reference rate that a run has reported. "
        "A day is reported once.",
    )

    @api.constrains("annual_rate", "margin")
    def _check_rates(self):
        for scheme in self:
            if scheme.annual_rate < 0 or scheme.margin < 0:
                raise ValidationError(
                    _(
                        "The interest scheme %(scheme)s has a negative rate or "
                        "margin. Enter zero or a positive number.",
                        scheme=scheme.name,
                    )
                )

    @api.constrains("scheme_type", "rate_ids")
    def _check_rate_table(self):
        for scheme in self.filtered(lambda record: record.scheme_type == "statutory"):
            scheme.rate_ids._check_table()

    def _get_rate_periods(self):
        """Return the scheme's annual rates as ``RatePeriod`` tuples."""
        self.ensure_one()
        if self.scheme_type == "contractual":
            rate = Decimal(str(self.annual_rate))
            return [RatePeriod(date.min, date.max, rate)]
        margin = Decimal(str(self.margin))
        return [
            RatePeriod(
                row.date_from, row.date_to, Decimal(str(row.reference_rate)) + margin
            )
            for row in self.rate_ids.sorted("date_from")
        ]

    def _report_missing_rate(self, day):
        """Tell the responsible manager that ``day`` has no reference rate.

        A day already reported is not reported again. While the activity of
        an earlier day is open, later days are not reported either, so items
        that miss different days are reported once.
        """
        self.ensure_one()
        summary = _("Add the missing reference rate")
        is_open = self.sudo().activity_ids.filtered(
            lambda activity: activity.summary == summary
        )
        reported = self.missing_rate_date
        if reported == day or (is_open and reported and reported < day):
            return
        self.sudo().missing_rate_date = day
        body = _(
            "No reference rate of the interest scheme %(scheme)s covers "
            "%(date)s, so no interest was charged from that day on. Add the "
            "rate of that period to the scheme; the next charge will take "
            "those days up.",
            scheme=self.name,
            date=fields.Date.to_string(day),
        )
        self.sudo().message_post(body=body)
        user = self.user_id or self.env.ref("base.user_admin", False)
        if user:
            is_open.unlink()
            self.sudo().activity_schedule(
                act_type_xmlid="mail.mail_activity_data_todo",
                summary=summary,
                note=body,
                user_id=user.id,
            )


class CollectionInterestRate(models.Model):
    """Reference rate of a statutory interest scheme over a period."""

    _name = "collection.interest.rate"
    _description = "Reference Interest Rate"
    _order = "scheme_id, date_from"

    scheme_id = fields.Many2one(
        comodel_name="collection.interest.scheme",
        required=True,
        ondelete="cascade",
        index=True,
    )
    date_from = fields.Date(string="From", required=True)
    date_to = fields.Date(string="To", required=True)
    reference_rate = fields.Float(
        string="Reference Rate (%)",
        digits=(16, 4),
        required=True,
        help="Annual reference rate in percent, before the scheme's margin.",
    )
    rate = fields.Float(
        string="Applied Rate (%)",
        digits=(16, 4),
        compute="_compute_rate",
        help="Reference rate plus the scheme's margin.",
    )
    publication = fields.Char(
        string="Published In",
        help="Where the rate was published, such as an official gazette issue.",
    )

    @api.depends("reference_rate", "scheme_id.margin")
    def _compute_rate(self):
        for row in self:
            row.rate = row.reference_rate + row.scheme_id.margin

    @api.constrains("date_from", "date_to", "reference_rate", "scheme_id")
    def _check_table(self):
        for scheme in self.scheme_id:
            # A list, not a set: two identical rows are an overlap.
            periods = [
                RatePeriod(row.date_from, row.date_to, Decimal(str(row.reference_rate)))
                for row in scheme.rate_ids
            ]
            for kind, period, other in find_table_problems(periods):
                raise ValidationError(
                    self._get_table_problem_message(scheme, kind, period, other)
                )

    def unlink(self):
        self._check_unlink()
        return super().unlink()

    def _check_unlink(self):
        """Refuse deleting a row whose days have been charged, or one that
        leaves a gap between the other rows of its table."""
        penalties = self.env["collection.penalty"].sudo()
        for row in self:
            charged = penalties.search_count(
                [
                    ("scheme_id", "=", row.scheme_id.id),
                    ("kind", "=", "interest"),
                    ("date_from", "<=", row.date_to),
                    ("date_to", ">=", row.date_from),
                ],
                limit=1,
            )
            if charged:
                raise ValidationError(
                    _(
                        "Interest has been charged at the reference rate from "
                        "%(start)s to %(end)s of the interest scheme %(scheme)s, "
                        "so the rate cannot be deleted.",
                        start=fields.Date.to_string(row.date_from),
                        end=fields.Date.to_string(row.date_to),
                        scheme=row.scheme_id.name,
                    )
                )
        for scheme in self.scheme_id:
            periods = [
                RatePeriod(row.date_from, row.date_to, Decimal(str(row.reference_rate)))
                for row in scheme.rate_ids - self
            ]
            for kind, period, other in find_table_problems(periods):
                if kind == "gap":
                    raise ValidationError(
                        self._get_table_problem_message(scheme, kind, period, other)
                    )

    def _get_table_problem_message(self, scheme, kind, period, other):
        values = {
            "scheme": scheme.name,
            "start": fields.Date.to_string(period.date_from),
            "end": fields.Date.to_string(period.date_to),
        }
        if other:
            values["other_start"] = fields.Date.to_string(other.date_from)
            values["other_end"] = fields.Date.to_string(other.date_to)
        if kind == "negative":
            return _(
                "The reference rate from %(start)s to %(end)s of the interest "
                "scheme %(scheme)s is negative. Enter zero or a positive rate.",
                **values,
            )
        if kind == "dates":
            return _(
                "The reference rate of the interest scheme %(scheme)s from "
                "%(start)s ends before it starts (%(end)s). Correct its dates.",
                **values,
            )
        if kind == "overlap":
            return _(
                "The reference rates of the interest scheme %(scheme)s overlap: "
                "%(start)s to %(end)s and %(other_start)s to %(other_end)s. "
                "Give each day one rate.",
                **values,
            )
        return _(
            "The reference rates of the interest scheme %(scheme)s leave a gap "
            "between %(end)s and %(other_start)s. Add the rate of the days in "
            "between.",
            **values,
        )
