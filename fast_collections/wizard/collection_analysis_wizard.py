from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from ..report.collection_aging_report import AGING_DATE_KEY

# Bounds of the analysis options, in months.
MAX_PERIOD_MONTHS = 24
MAX_TREND_MONTHS = 60


class CollectionAnalysisWizard(models.TransientModel):
    """Date and period of a collection analysis: the aging at a chosen date,
    or the DSO and CEI of a company and its customers."""

    _name = "collection.analysis.wizard"
    _description = "Collection Analysis Options"

    company_id = fields.Many2one(
        comodel_name="res.company",
        required=True,
        default=lambda self: self.env.company,
        domain=lambda self: [("id", "in", self.env.companies.ids)],
    )
    date_to = fields.Date(
        string="Date",
        required=True,
        default=lambda self: self.env["collection.run"]._get_company_today(
            self.env.company
        ),
        help="Date the figures are computed at: the aging date, or the end of "
        "the last period.",
    )
    period_months = fields.Integer(
        string="Period (Months)",
        required=True,
        default=3,
        help="Months of credit sales the DSO counts back over, and months the "
        "CEI covers.",
    )
    trend_months = fields.Integer(
        string="Trend (Months)",
        required=True,
        default=12,
        help="Number of month ends, up to the date, at which the figures are computed.",
    )
    kpi_ids = fields.One2many(
        comodel_name="collection.kpi.report",
        inverse_name="wizard_id",
        string="Figures",
    )

    @api.constrains("period_months", "trend_months")
    def _check_months(self):
        for wizard in self:
            if not 1 <= wizard.period_months <= MAX_PERIOD_MONTHS:
                raise ValidationError(
                    _(
                        "The period must be from 1 to %(max)s months "
                        "(%(months)s given).",
                        max=MAX_PERIOD_MONTHS,
                        months=wizard.period_months,
                    )
                )
            if not 1 <= wizard.trend_months <= MAX_TREND_MONTHS:
                raise ValidationError(
                    _(
                        "The trend must be from 1 to %(max)s months "
                        "(%(months)s given).",
                        max=MAX_TREND_MONTHS,
                        months=wizard.trend_months,
                    )
                )

    def action_open_aging(self):
        """Open the aging report computed at the chosen date."""
        self.ensure_one()
        action = self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_aging_report_action"
        )
        action["name"] = _(
            "Aging on %(date)s", date=fields.Date.to_string(self.date_to)
        )
        action["context"] = {AGING_DATE_KEY: fields.Date.to_string(self.date_to)}
        return action

    def action_compute_kpi(self):
        """Compute the DSO and CEI at the month ends up to the chosen date and
        open them."""
        self.ensure_one()
        if self.company_id not in self.env.companies:
            raise AccessError(
                _(
                    "You can compute the figures only of the companies you are "
                    "working in. Select the company in the company switcher "
                    "first."
                )
            )
        self.kpi_ids.unlink()
        self.env["collection.kpi.report"]._fill(self)
        # The rows were inserted in SQL, past the cache of the one2many.
        self.invalidate_recordset(["kpi_ids"])
        action = self.env["ir.actions.actions"]._for_xml_id(
            "fast_collections.collection_kpi_report_action"
        )
        action["name"] = _(
            "DSO and CEI of %(company)s up to %(date)s",
            company=self.company_id.name,
            date=fields.Date.to_string(self.date_to),
        )
        action["domain"] = [("wizard_id", "=", self.id)]
        return action
