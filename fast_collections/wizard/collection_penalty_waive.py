from odoo import _, fields, models
from odoo.exceptions import AccessError


class CollectionPenaltyWaive(models.TransientModel):
    """Reason for waiving interest and fee invoices."""

    _name = "collection.penalty.waive"
    _description = "Waive Interest and Fees"

    move_ids = fields.Many2many(
        comodel_name="account.move",
        string="Interest and Fee Invoices",
        required=True,
        readonly=True,
    )
    reason = fields.Text(
        required=True,
        help="Why the interest and fees are waived. Kept on the charges and "
        "written in the credit note and in the chatter of the invoices.",
    )

    def action_confirm(self):
        """Book the waiver credit notes and show them."""
        self.ensure_one()
        if not self.env.user.has_group("fast_collections.group_collection_manager"):
            raise AccessError(
                _("Only a collections manager can waive interest and fees.")
            )
        credit_notes = self.env["collection.penalty"]._waive_moves(
            self.move_ids, self.reason
        )
        action = self.env["ir.actions.actions"]._for_xml_id(
            "account.action_move_out_refund_type"
        )
        action["domain"] = [("id", "in", credit_notes.ids)]
        action["context"] = {}
        return action
