from odoo import _, models
from odoo.exceptions import UserError


class AccountPayment(models.Model):
    _inherit = "account.payment"

    def _check_collection_pouch_kept(self):
        """Raise when one of the payments was posted by a pouch item that has
        not bounced: the pouch is what the money came in, so its payments
        change only through a bounce."""
        items = (
            self.env["collection.pouch.item"]
            .sudo()
            .search([("payment_id", "in", self.ids), ("state", "=", "posted")])
        )
        if items:
            raise UserError(
                _(
                    "%(payments)s posted the pouch items %(items)s. Record a "
                    "bounce on the item instead of changing its payment.",
                    payments=", ".join(items.payment_id.mapped("name")),
                    items=", ".join(items.mapped("display_name")),
                )
            )

    def action_draft(self):
        self._check_collection_pouch_kept()
        return super().action_draft()

    def action_cancel(self):
        self._check_collection_pouch_kept()
        return super().action_cancel()
