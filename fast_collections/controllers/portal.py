import math

from werkzeug.exceptions import NotFound

from odoo import Command, _, fields, http
from odoo.exceptions import UserError
from odoo.http import request
from odoo.tools import plaintext2html
from odoo.tools.misc import formatLang

from odoo.addons.portal.controllers.portal import CustomerPortal

from ..models.collection_run import CHASED_MOVE_TYPES
from ..rules.staging import days_from_due

# Limits of the evidence a customer attaches to a dispute from the portal.
MAX_UPLOADS = 10
MAX_UPLOAD_BYTES = 10 * 1024 * 1024

# Portal users have no access rights on the collection models, nor on the
# journal items of invoices. Every route below first looks the records up
# within the portal user's commercial partner and the current company, and
# returns 404 Not Found for anything outside them. Only then does it read or
# write them as superuser. sudo() keeps the portal user as the current user, so that the
# records created here have the portal user as creator and as chatter author.


class CollectionPortal(CustomerPortal):
    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "collection_overdue_count" in counters:
            values["collection_overdue_count"] = len(
                self._get_collection_overdue_items()
            )
        return values

    # ------------------------------------------------------------------
    # Look-ups limited to the portal user's commercial partner
    # ------------------------------------------------------------------

    def _get_collection_partner(self):
        return request.env.user.partner_id.commercial_partner_id

    def _get_collection_today(self):
        return fields.Date.context_today(request.env.user)

    def _get_collection_open_items_domain(self):
        return [
            ("partner_id", "child_of", self._get_collection_partner().id),
            ("company_id", "=", request.env.company.id),
            ("parent_state", "=", "posted"),
            ("account_id.account_type", "=", "asset_receivable"),
            ("move_id.move_type", "in", CHASED_MOVE_TYPES),
            ("reconciled", "=", False),
            ("amount_residual_currency", ">", 0),
        ]

    def _get_collection_overdue_items(self):
        """Return the portal user's overdue receivable items, as superuser."""
        domain = [
            *self._get_collection_open_items_domain(),
            ("date_maturity", "<", self._get_collection_today()),
        ]
        return (
            request.env["account.move.line"]
            .sudo()
            .search(domain, order="date_maturity, id")
        )

    def _get_collection_sent_plans(self):
        """Return the payment plans sent to the portal user's customer and not yet
        accepted."""
        return (
            request.env["collection.plan"]
            .sudo()
            .search(
                [
                    ("partner_id", "=", self._get_collection_partner().id),
                    ("company_id", "=", request.env.company.id),
                    ("state", "=", "sent"),
                ]
            )
        )

    def _get_collection_invoice(self, invoice_id):
        """Return the portal user's overdue invoice ``invoice_id`` as superuser,
        or raise NotFound."""
        invoice = self._get_collection_overdue_items().move_id.filtered(
            lambda move: move.id == invoice_id
        )
        if not invoice:
            raise NotFound()
        return invoice

    def _get_collection_collector(self, invoices):
        """Return the internal user to notify of the customer's requests.

        The customer's collector comes first, then the company's default
        collector, then the salesperson of the invoices. The model's own
        fallback, the current user, would be the portal user here.
        """
        company = request.env.company
        partner = self._get_collection_partner().sudo().with_company(company)
        candidates = [
            partner.collection_user_id,
            company.sudo().collection_user_id,
            *invoices.sudo().invoice_user_id,
        ]
        for user in candidates:
            if user and user.active and not user.share:
                return user
        return request.env["res.users"]

    # ------------------------------------------------------------------
    # Overdue items page
    # ------------------------------------------------------------------

    def _prepare_collection_page_values(self, errors=None, form=None, success=None):
        items = self._get_collection_overdue_items()
        today = self._get_collection_today()
        disputed = items._get_collection_disputed_amounts()
        return {
            **self._prepare_portal_layout_values(),
            "page_name": "collections",
            "items": items,
            "invoices": items.move_id,
            "days_overdue": {
                item.id: days_from_due(item.date_maturity, today) for item in items
            },
            "promised_item_ids": {
                item.id
                for item in items
                if any(
                    promise.state == "open" for promise in item.collection_promise_ids
                )
            },
            "disputed_amounts": disputed,
            "plans": self._get_collection_sent_plans(),
            "today": today,
            "errors": errors or [],
            "form": form or {},
            "success": success,
        }

    @http.route("/my/collections", type="http", auth="user", website=True)
    def portal_my_collections(self, success=None, **kwargs):
        messages = {
            "promise": _("Thank you. Your promise to pay has been recorded."),
            "plan": _("Thank you. The payment plan is accepted and now active."),
            "dispute": _(
                "Your dispute has been sent. Our team will review it and contact you."
            ),
        }
        values = self._prepare_collection_page_values(success=messages.get(success))
        return request.render("fast_collections.portal_my_collections", values)

    # ------------------------------------------------------------------
    # Promise to pay
    # ------------------------------------------------------------------

    def _parse_collection_item_ids(self, raw_ids):
        """Return the portal user's overdue items of ``raw_ids``, or raise
        NotFound when one of them is not theirs."""
        try:
            item_ids = {int(raw_id) for raw_id in raw_ids}
        except ValueError as error:
            raise NotFound() from error
        items = self._get_collection_overdue_items()
        selected = items.filtered(lambda item: item.id in item_ids)
        if len(selected) != len(item_ids):
            raise NotFound()
        return selected

    def _validate_collection_promise(self, items, raw_date, raw_amount):
        """Return the promised date, the amount and the list of errors."""
        errors = []
        today = self._get_collection_today()
        date_promised = amount = None
        if not items:
            errors.append(_("Select at least one overdue invoice to promise."))
        if len(items.currency_id) > 1:
            errors.append(
                _(
                    "The selected invoices are in several currencies (%(currencies)s)."
                    " Promise the invoices of one currency at a time.",
                    currencies=", ".join(items.currency_id.mapped("name")),
                )
            )

        # The customer sets the date alone, so it is kept within the company's
        # limit: a promise pauses the reminders until its date.
        max_days = request.env.company.collection_portal_promise_days
        try:
            date_promised = fields.Date.to_date(raw_date or None)
        except ValueError:
            date_promised = None
        if not date_promised:
            errors.append(
                _(
                    "The promised date %(date)s is not a valid date. Enter a date "
                    "such as %(example)s.",
                    date=raw_date or "-",
                    example=fields.Date.to_string(today),
                )
            )
        elif (date_promised - today).days > max_days:
            errors.append(
                _(
                    "The promised date %(date)s is too far away. Promise a date "
                    "within %(days)s days, or call us to agree on a payment plan.",
                    date=date_promised,
                    days=max_days,
                )
            )
        elif date_promised < today:
            errors.append(
                _(
                    "The promised date %(date)s is in the past. Enter a date from "
                    "today on.",
                    date=date_promised,
                )
            )

        try:
            amount = float(raw_amount)
        except (TypeError, ValueError):
            amount = None
        if amount is None or not math.isfinite(amount):
            errors.append(
                _(
                    "The promised amount %(amount)s is not a number. Enter an amount "
                    "such as 150.00.",
                    amount=raw_amount or "-",
                )
            )
        elif len(items.currency_id) == 1:
            currency = items.currency_id
            owed = sum(items.mapped("amount_residual_currency"))
            if currency.compare_amounts(amount, 0.0) <= 0:
                errors.append(_("Enter a promised amount greater than zero."))
            elif currency.compare_amounts(amount, owed) > 0:
                errors.append(
                    _(
                        "The promised amount %(amount)s is more than the %(owed)s "
                        "still owed on the selected invoices. Enter at most "
                        "%(owed)s.",
                        amount=formatLang(request.env, amount, currency_obj=currency),
                        owed=formatLang(request.env, owed, currency_obj=currency),
                    )
                )
        return date_promised, amount, errors

    @http.route(
        "/my/collections/promise",
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
    )
    def portal_collection_promise(self, **post):
        items = self._parse_collection_item_ids(
            request.httprequest.form.getlist("item_ids")
        )
        date_promised, amount, errors = self._validate_collection_promise(
            items, post.get("date_promised"), post.get("amount")
        )
        if not errors:
            collector = self._get_collection_collector(items.move_id)
            try:
                # A rejected promise must leave nothing behind: create() writes
                # the record before it checks the items.
                with request.env.cr.savepoint():
                    request.env["collection.promise"].sudo().create(
                        {
                            "move_line_ids": [Command.set(items.ids)],
                            "company_id": request.env.company.id,
                            "date_promised": date_promised,
                            "amount": amount,
                            "channel": "portal",
                            "note": (post.get("note") or "").strip() or False,
                            "user_id": collector.id,
                        }
                    )
            except UserError as error:
                errors.append(error.args[0])
        if errors:
            values = self._prepare_collection_page_values(errors=errors, form=post)
            values["form"]["item_ids"] = set(items.ids)
            return request.render(
                "fast_collections.portal_my_collections", values, status=400
            )
        return request.redirect("/my/collections?success=promise")

    # ------------------------------------------------------------------
    # Payment plan
    # ------------------------------------------------------------------

    @http.route(
        "/my/collections/plan/<int:plan_id>/accept",
        type="http",
        auth="user",
        methods=["POST"],
        website=True,
    )
    def portal_collection_plan_accept(self, plan_id, **post):
        plan = self._get_collection_sent_plans().filtered(
            lambda sent_plan: sent_plan.id == plan_id
        )
        if not plan:
            raise NotFound()
        if not post.get("accept_terms"):
            errors = [
                _(
                    "Tick the box to confirm that you accept the terms of the "
                    "payment plan %(plan)s.",
                    plan=plan.name,
                )
            ]
        else:
            errors = []
            try:
                with request.env.cr.savepoint():
                    plan._accept("portal")
            except UserError as error:
                errors.append(error.args[0])
        if errors:
            values = self._prepare_collection_page_values(errors=errors)
            return request.render(
                "fast_collections.portal_my_collections", values, status=400
            )
        return request.redirect("/my/collections?success=plan")

    # ------------------------------------------------------------------
    # Dispute
    # ------------------------------------------------------------------

    def _prepare_collection_dispute_values(self, invoice, errors=None, form=None):
        return {
            **self._prepare_portal_layout_values(),
            "page_name": "collection_dispute",
            "dispute_invoice": invoice,
            "reasons": request.env["collection.dispute.reason"].sudo().search([]),
            "errors": errors or [],
            "form": form or {},
        }

    def _get_collection_uploads(self):
        """Return the (file name, content) pairs of the uploaded evidence."""
        uploads = []
        for upload in request.httprequest.files.getlist("attachments"):
            if not upload.filename:
                continue
            uploads.append((upload.filename, upload.read()))
        return uploads

    @http.route(
        "/my/collections/dispute/<int:invoice_id>",
        type="http",
        auth="user",
        methods=["GET", "POST"],
        website=True,
    )
    def portal_collection_dispute(self, invoice_id, **post):
        invoice = self._get_collection_invoice(invoice_id)
        if request.httprequest.method != "POST":
            values = self._prepare_collection_dispute_values(invoice)
            return request.render("fast_collections.portal_collection_dispute", values)

        errors = []
        reasons = request.env["collection.dispute.reason"].sudo().search([])
        reason = reasons.filtered(
            lambda record: str(record.id) == (post.get("reason_id") or "")
        )
        if not reason:
            errors.append(_("Choose the reason of your dispute in the list."))
        description = (post.get("description") or "").strip()
        if not description:
            errors.append(
                _("Describe what you contest on this invoice, and why, in the text.")
            )
        uploads = self._get_collection_uploads()
        empty = [name for name, content in uploads if not content]
        too_large = [
            name for name, content in uploads if len(content) > MAX_UPLOAD_BYTES
        ]
        if len(uploads) > MAX_UPLOADS:
            errors.append(
                _(
                    "Attach at most %(count)s files to a dispute.",
                    count=MAX_UPLOADS,
                )
            )
        if too_large:
            errors.append(
                _(
                    "The file %(file)s is larger than %(size)s MB. Attach a "
                    "smaller copy.",
                    file=", ".join(too_large),
                    size=MAX_UPLOAD_BYTES // (1024 * 1024),
                )
            )
        if empty:
            errors.append(
                _(
                    "The file %(file)s is empty. Attach it again, or leave it out.",
                    file=", ".join(empty),
                )
            )
        if not errors:
            try:
                with request.env.cr.savepoint():
                    self._create_collection_dispute(
                        invoice, reason, description, uploads
                    )
            except UserError as error:
                errors.append(error.args[0])
        if errors:
            values = self._prepare_collection_dispute_values(
                invoice, errors=errors, form=post
            )
            return request.render(
                "fast_collections.portal_collection_dispute", values, status=400
            )
        return request.redirect("/my/collections?success=dispute")

    def _create_collection_dispute(self, invoice, reason, description, uploads):
        """Open a dispute over the open items of ``invoice`` for what is not yet
        disputed, attach ``uploads`` and notify the collector."""
        items = (
            request.env["account.move.line"]
            .sudo()
            .search(
                [
                    *self._get_collection_open_items_domain(),
                    ("move_id", "=", invoice.id),
                ]
            )
        )

        dispute_model = request.env["collection.dispute"].sudo()
        # Checks the items and computes the part of each not yet disputed.
        action = dispute_model._action_new_for_lines(items)
        collector = self._get_collection_collector(invoice)
        dispute = dispute_model.create(
            {
                "line_ids": action["context"]["default_line_ids"],
                "company_id": request.env.company.id,
                "reason_id": reason.id,
                "description": plaintext2html(description),
                "user_id": collector.id,
            }
        )

        # Odoo ignores the attachment_ids of a portal user's post unless they
        # come from its composer, so the files go in as content and the
        # attachments created for the message become the dispute's evidence.
        message = dispute.message_post(
            body=plaintext2html(
                _(
                    "Dispute raised by %(user)s through the customer portal:",
                    user=request.env.user.name,
                )
                + "\n\n"
                + description
            ),
            message_type="comment",
            subtype_xmlid="mail.mt_comment",
            partner_ids=collector.partner_id.ids,
            attachments=uploads,
        )
        if message.attachment_ids:
            dispute.attachment_ids = [
                Command.link(attachment.id) for attachment in message.attachment_ids
            ]
        return dispute
