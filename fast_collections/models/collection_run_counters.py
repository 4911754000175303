from odoo import fields, models


class CollectionRunCounters(models.AbstractModel):
    """Counters of what a collection run, or one of its batches, did."""

    _name = "collection.run.counters"
    _description = "Collection Run Counters"

    item_count = fields.Integer(string="Items Evaluated", readonly=True)
    changed_count = fields.Integer(string="Items Changed Stage", readonly=True)
    skipped_count = fields.Integer(string="Items Skipped", readonly=True)
    skip_counts = fields.Json(
        readonly=True, help="Number of items skipped, by reason code."
    )
    notice_count = fields.Integer(string="Notices Created", readonly=True)
    message_count = fields.Integer(string="Emails Queued", readonly=True)
    letter_count = fields.Integer(string="Letters To Print", readonly=True)
    activity_count = fields.Integer(string="Activities Created", readonly=True)
    not_reached_count = fields.Integer(string="Customers Not Reached", readonly=True)
    legal_case_count = fields.Integer(string="Legal Cases Opened", readonly=True)
    penalty_move_count = fields.Integer(
        string="Interest and Fee Invoices", readonly=True
    )
    penalty_amount = fields.Monetary(
        string="Interest and Fees Charged",
        currency_field="company_currency_id",
        readonly=True,
        help="Total of the interest and fee invoices booked, in the company's "
        "currency at the run date's rates.",
    )
    company_currency_id = fields.Many2one(comodel_name="res.currency")
