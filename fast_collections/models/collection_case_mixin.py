from odoo import api, models
from odoo.tools.misc import formatLang


class CollectionCaseMixin(models.AbstractModel):
    """Behaviour shared by promises to pay, payment plans and disputes.

    Each of them covers some invoices of one customer, is followed up by a
    collector and writes every step in its own chatter and in the chatter of
    the invoices it covers.
    """

    _name = "collection.case.mixin"
    _description = "Collection Case"
    _inherit = ["mail.thread", "mail.activity.mixin"]

    def _get_covered_moves(self):
        """Return the invoices whose items the record covers."""
        return self.move_line_ids.move_id

    def _format_amount(self, amount):
        currency = self.currency_id or self.env.company.currency_id
        return formatLang(self.env, amount, currency_obj=currency)

    def _post_on_invoices(self, body):
        """Log ``body`` as a note in the chatter of each invoice the record
        covers.

        The notes are created in one batch and notify no follower, like a
        note posted on an invoice whose followers do not follow notes.
        """
        moves = self._get_covered_moves()
        # Collectors may not write every invoice, but the invoice's chatter
        # must show what was agreed about it.
        moves.sudo()._message_log_batch(bodies=dict.fromkeys(moves.ids, body))

    def _post_everywhere(self, body):
        """Post ``body`` in the chatter of the record and of its invoices."""
        self.ensure_one()
        self.message_post(body=body)
        self._post_on_invoices(body)

    def _post_each(self, message_for):
        """Post ``message_for(record)`` for each record, as _post_everywhere."""
        for record in self:
            record._post_everywhere(message_for(record))

    def _get_collector(self):
        """Return the active user who receives the record's activities.

        The record's own collector comes first, then the customer's, then the
        company's default collector.
        """
        self.ensure_one()
        partner = self.partner_id.with_company(self.company_id)
        for user in (
            self.user_id,
            partner.collection_user_id,
            self.company_id.collection_user_id,
        ):
            if user and user.active and not user.share:
                return user
        return self.env["res.users"]

    @api.model
    def _get_default_collector(self, partner):
        """Return the collector a new record of ``partner`` is assigned to."""
        collector = partner.collection_user_id
        if not collector or collector.share:
            collector = self.env.user
        return collector
