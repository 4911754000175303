import csv
import io

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError

# Columns that _insert_decided fills, in order.
INSERTED_COLUMNS = (
    "move_line_id",
    "move_id",
    "partner_id",
    "company_id",
    "policy_id",
    "stage_id",
    "run_id",
    "date",
    "state",
    "days_overdue",
    "currency_id",
    "amount_residual",
)


def _to_copy_text(value):
    """Return ``value`` as COPY's CSV format reads it: empty for NULL."""
    if value is None or value is False:
        return ""
    return value


HISTORY_STATES = [
    ("to_approve", "To Approve"),
    ("pending", "Pending"),
    ("done", "Done"),
    ("not_reached", "Not Reached"),
    ("skipped", "Skipped"),
    ("cancelled", "Cancelled"),
]


class CollectionHistory(models.Model):
    """Stage applied to one receivable item, at most once per item and stage.

    The unique key on item and stage makes the run idempotent: a repeated or
    interrupted run finds the row, and only rows still pending are acted on.
    """

    _name = "collection.history"
    _description = "Collection Stage History"
    _order = "date desc, id desc"

    # No index of its own: the unique key on item and stage, which starts
    # with the item, serves the searches by item, and the run writes tens of
    # thousands of these rows at a time.
    move_line_id = fields.Many2one(
        comodel_name="account.move.line",
        string="Journal Item",
        required=True,
        ondelete="cascade",
    )
    move_id = fields.Many2one(
        related="move_line_id.move_id", string="Invoice", store=True, index=True
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        required=True,
        index=True,
        help="Commercial partner that owes the item.",
    )
    company_id = fields.Many2one(comodel_name="res.company", required=True, index=True)
    policy_id = fields.Many2one(comodel_name="collection.policy", required=True)
    stage_id = fields.Many2one(
        comodel_name="collection.stage", required=True, ondelete="restrict"
    )
    run_id = fields.Many2one(comodel_name="collection.run", ondelete="set null")
    notice_id = fields.Many2one(comodel_name="collection.notice", ondelete="set null")
    date = fields.Date(required=True, help="Run date on which the stage was reached.")
    state = fields.Selection(selection=HISTORY_STATES, required=True, index=True)
    days_overdue = fields.Integer(help="Days from the due date on the run date.")
    currency_id = fields.Many2one(comodel_name="res.currency", required=True)
    amount_residual = fields.Monetary(
        string="Amount Due",
        currency_field="currency_id",
        help="Amount still owed on the item when the stage was reached, in the "
        "invoice currency.",
    )
    reason = fields.Char(
        help="Why the customer was not reached, or why the change was cancelled."
    )
    approved_by_id = fields.Many2one(comodel_name="res.users", readonly=True)
    approved_date = fields.Datetime(readonly=True)

    _sql_constraints = [
        (
            "move_line_stage_unique",
            "unique(move_line_id, stage_id)",
            "A collection stage is applied to a journal item only once.",
        ),
    ]

    @api.model
    def _insert_decided(self, values_list):
        """Insert the stage changes a run decided, with one COPY statement.

        The run decides tens of thousands of items at a time, which the ORM
        would create a row at a time. Each dictionary of ``values_list`` has
        a value for every column of INSERTED_COLUMNS. The caller leaves out
        the pairs of item and stage already recorded: the unique key rejects
        them, and the whole statement with them.
        """
        if not values_list:
            return
        self.env.flush_all()
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        uid = self.env.uid
        now = fields.Datetime.to_string(fields.Datetime.now())
        for values in values_list:
            writer.writerow(
                [
                    *(_to_copy_text(values[column]) for column in INSERTED_COLUMNS),
                    uid,
                    uid,
                    now,
                    now,
                ]
            )
        buffer.seek(0)
        columns = ", ".join(INSERTED_COLUMNS)
        self.env.cr.copy_expert(
            f"COPY collection_history ({columns}, create_uid, write_uid, "
            "create_date, write_date) "
            "FROM STDIN WITH (FORMAT csv)",
            buffer,
        )
        self.invalidate_model()

    def action_approve(self):
        """Release stage changes that wait for a manager, then act on them."""
        if not self.env.user.has_group("fast_collections.group_collection_manager"):
            raise AccessError(
                _("Only a collections manager can approve stage changes.")
            )
        to_approve = self.filtered(lambda history: history.state == "to_approve")
        if not to_approve:
            raise UserError(
                _("None of the selected stage changes is waiting for approval.")
            )
        to_approve.write(
            {
                "state": "pending",
                "approved_by_id": self.env.uid,
                "approved_date": fields.Datetime.now(),
            }
        )
        for company in to_approve.company_id:
            company_rows = to_approve.filtered(
                lambda history, company=company: history.company_id == company
            )
            self.env["collection.run"]._run_collections(
                companies=company, partners=company_rows.partner_id
            )
        return True
