import logging
from collections import defaultdict
from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Command
from odoo.tools import clean_context, email_normalize

from ..rules.staging import days_from_due

_logger = logging.getLogger(__name__)

COLLECTOR_WRITABLE_FIELDS = {"letter_state"}

# Receivable items listed in a notice: invoices in the collection flow, and the
# open credits (credit notes, unreconciled payments) that lower the amount asked.
NOTICE_ITEMS_QUERY = """
    SELECT aml.id, aml.move_id, move.partner_id AS invoice_partner_id,
           move.move_type, aml.date_maturity, aml.currency_id, aml.amount_currency,
           aml.amount_residual_currency, aml.collection_stage_id,
           partner.commercial_partner_id AS partner_id
      FROM account_move_line aml
      JOIN account_move move ON move.id = aml.move_id
      JOIN account_account account ON account.id = aml.account_id
      JOIN res_partner partner ON partner.id = aml.partner_id
      JOIN res_company company ON company.id = aml.company_id
     WHERE aml.company_id = %(company_id)s
       AND partner.commercial_partner_id IN %(partner_ids)s
       AND aml.parent_state = 'posted'
       AND account.account_type = 'asset_receivable'
       AND aml.reconciled IS NOT TRUE
       AND (
            (aml.amount_residual_currency > 0
             AND move.move_type IN ('out_invoice', 'out_receipt')
             AND aml.collection_stage_id IS NOT NULL)
         OR (aml.amount_residual_currency < 0
             AND aml.journal_id IS DISTINCT FROM company.currency_exchange_journal_id)
       )
  ORDER BY aml.date_maturity, aml.id
"""


class CollectionNotice(models.Model):
    """Consolidated message sent to one customer in one collection run."""

    _name = "collection.notice"
    _description = "Collection Notice"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "date desc, id desc"
    _rec_names_search = ["partner_id.name", "partner_id.ref"]

    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Customer",
        required=True,
        index=True,
        help="Commercial partner that owes the items.",
    )
    contact_id = fields.Many2one(
        comodel_name="res.partner",
        string="Recipient",
        required=True,
        help="Contact that receives the message.",
    )
    company_id = fields.Many2one(comodel_name="res.company", required=True, index=True)
    run_id = fields.Many2one(comodel_name="collection.run", ondelete="set null")
    date = fields.Date(required=True)
    stage_id = fields.Many2one(
        comodel_name="collection.stage",
        required=True,
        help="Highest stage reached by the items in this run.",
    )
    line_ids = fields.One2many(
        comodel_name="collection.notice.line",
        inverse_name="notice_id",
        string="Items",
    )
    history_ids = fields.One2many(
        comodel_name="collection.history",
        inverse_name="notice_id",
        string="Stage Changes",
    )
    email_state = fields.Selection(
        selection=[
            ("none", "No Email"),
            ("sent", "Sent"),
            ("not_reached", "Not Reached"),
            ("not_needed", "Not Needed"),
        ],
        required=True,
        default="none",
        help="Not Needed: the open credits cover every item listed, so no "
        "reminder was sent.",
        tracking=True,
    )
    not_reached_reason = fields.Char()
    letter_state = fields.Selection(
        selection=[
            ("none", "No Letter"),
            ("to_print", "To Print"),
            ("printed", "Printed"),
        ],
        required=True,
        default="none",
        tracking=True,
    )

    @api.depends("partner_id", "stage_id", "date")
    def _compute_display_name(self):
        # Computed at read time so that the stage name is in the language of
        # the user reading it, not of the user who ran the collection.
        for notice in self:
            parts = (
                notice.partner_id.name,
                notice.stage_id.name,
                notice.date and fields.Date.to_string(notice.date),
            )
            notice.display_name = " - ".join(part for part in parts if part)

    def _get_currency_totals(self):
        """Return the amounts owed per currency, as a list of dicts.

        Each dict contains the currency, the overdue total, the total of listed
        items not yet overdue (``upcoming``), the open credits (credit notes and
        unreconciled payments, as a positive amount), the amounts under open
        disputes and the net total to pay, never below zero. The overdue and
        upcoming totals leave the disputed amounts out, so the net total does
        not ask for them.
        """
        self.ensure_one()
        totals = {}
        for line in self.line_ids:
            total = totals.setdefault(
                line.currency_id,
                {
                    "currency": line.currency_id,
                    "overdue": 0.0,
                    "upcoming": 0.0,
                    "credit": 0.0,
                    "disputed": 0.0,
                },
            )
            if line.is_credit:
                total["credit"] -= line.amount_residual
                continue
            total["disputed"] += line.amount_disputed
            if line.days_overdue > 0:
                total["overdue"] += line.amount_asked
            else:
                total["upcoming"] += line.amount_asked
        for total in totals.values():
            owed = total["overdue"] + total["upcoming"] - total["credit"]
            total["net"] = total["currency"].round(max(owed, 0.0))
        return sorted(totals.values(), key=lambda total: total["currency"].name)

    def write(self, vals):
        # Collectors work notices (letters, activities, messages) but only a
        # manager may change what was recorded about them.
        if not self.env.su and not self.env.user.has_group(
            "fast_collections.group_collection_manager"
        ):
            protected = set(vals) - COLLECTOR_WRITABLE_FIELDS
            protected = {
                name
                for name in protected
                if not name.startswith(("message_", "activity_"))
            }
            if protected:
                raise AccessError(
                    _(
                        "Only a collections manager can change %(fields)s on a "
                        "collection notice.",
                        fields=", ".join(sorted(protected)),
                    )
                )
        return super().write(vals)

    def _has_amount_to_pay(self):
        self.ensure_one()
        return any(
            not total["currency"].is_zero(total["net"])
            for total in self._get_currency_totals()
        )

    # ------------------------------------------------------------------
    # Creation by the collection run
    # ------------------------------------------------------------------

    @api.model
    def _create_for_run(self, run, histories):
        """Create and act on one notice per customer of ``histories``.

        ``histories`` are pending stage changes. The notice takes the highest
        stage reached. Its email, letter and activity come from the highest
        stage of the batch that has each of these actions.
        """
        histories = self._discard_outdated(run, histories)
        if not histories:
            return self.browse()
        histories_by_partner = histories.grouped("partner_id")
        partners = histories.partner_id
        items_by_partner = self._fetch_notice_items(run, partners)

        values_list = []
        for partner in partners:
            partner_histories = histories_by_partner[partner]
            values_list.append(
                self._prepare_notice_values(
                    run,
                    partner,
                    partner_histories,
                    items_by_partner.get(partner.id, []),
                )
            )
        # The run's own records: no creation note, follower or tracking
        # message, which would cost several queries per customer.
        notices = self.with_context(tracking_disable=True).create(values_list)

        self._send_emails(notices, histories_by_partner)
        to_print = self.browse()
        held_partners = self.env["res.partner"]
        activity_stages = {}
        history_states = []
        for notice in notices:
            partner_histories = histories_by_partner[notice.partner_id]
            stages = partner_histories.stage_id
            needed = notice.email_state != "not_needed"
            if needed and stages.filtered("print_letter"):
                to_print |= notice
            if needed and stages.filtered("credit_hold"):
                held_partners |= notice.partner_id
            activity_stage = _highest_stage(stages.filtered("create_activity"))
            if activity_stage:
                activity_stages[notice] = activity_stage
            state = "not_reached" if notice.email_state == "not_reached" else "done"
            history_states += [
                (history.id, state, notice.id, notice.not_reached_reason or None)
                for history in partner_histories
            ]
        self._schedule_stage_activities(activity_stages)
        self._write_history_states(history_states)
        to_print.with_context(tracking_disable=True).letter_state = "to_print"
        held_partners.with_company(run.company_id).collection_credit_hold = True
        self._write_reach_issues(notices, histories_by_partner)
        return notices

    @api.model
    def _write_history_states(self, history_states):
        """Mark the stage changes acted on, in one statement.

        ``history_states`` lists (history id, state, notice id, reason).
        """
        if not history_states:
            return
        self.env.flush_all()
        uid = self.env.uid
        self.env.cr.execute_values(
            """
            UPDATE collection_history history
               SET state = data.state, notice_id = data.notice_id,
                   reason = data.reason, write_uid = data.uid,
                   write_date = now() AT TIME ZONE 'UTC'
              FROM (VALUES %s) AS data(id, state, notice_id, reason, uid)
             WHERE history.id = data.id
            """,
            [(*values, uid) for values in history_states],
            page_size=5000,
        )
        self.env["collection.history"].invalidate_model(
            ["state", "notice_id", "reason", "write_uid", "write_date"]
        )

    @api.model
    def _discard_outdated(self, run, histories):
        """Return the stage changes still worth a notice, cancel the others.

        A change can wait between the decision and the notice (an interrupted
        run, a manager's approval). By then the item may have been paid or the
        customer moved to another policy. A customer put on hold keeps its
        changes pending until the hold ends.
        """
        if not histories:
            return histories
        self.env.flush_all()
        self.env.cr.execute(
            """
            SELECT id FROM account_move_line
             WHERE id IN %s
               AND parent_state = 'posted'
               AND reconciled IS NOT TRUE
               AND amount_residual_currency > 0
            """,
            [tuple(histories.move_line_id.ids)],
        )
        open_line_ids = {line_id for (line_id,) in self.env.cr.fetchall()}
        policies = run._get_partner_policies(set(histories.partner_id.ids))

        paid = histories.filtered(
            lambda history: history.move_line_id.id not in open_line_ids
        )
        moved = (histories - paid).filtered(
            lambda history: policies.get(history.partner_id.id) != history.policy_id
        )
        on_hold = (histories - paid - moved).filtered(
            lambda history: (
                history.partner_id.collection_hold_until
                and history.partner_id.collection_hold_until >= run.run_date
            )
        )
        too_soon = self._filter_notified_recently(
            run, histories - paid - moved - on_hold, policies
        )
        paid.write({"state": "cancelled", "reason": _("Paid before the notice.")})
        moved.write(
            {
                "state": "cancelled",
                "reason": _("The customer's collection policy changed."),
            }
        )
        return histories - paid - moved - on_hold - too_soon

    @api.model
    def _filter_notified_recently(self, run, histories, policies):
        """Return the changes of customers notified less than their policy's
        interval ago: they wait for a later run."""
        partner_ids = [
            partner.id
            for partner in histories.partner_id
            if policies[partner.id].notice_interval_days
        ]
        if not partner_ids:
            return histories.browse()
        last_dates = dict(
            self._read_group(
                [
                    ("company_id", "=", run.company_id.id),
                    ("partner_id", "in", partner_ids),
                    ("email_state", "=", "sent"),
                ],
                ["partner_id"],
                ["date:max"],
            )
        )
        too_soon_partner_ids = set()
        for partner, last_date in last_dates.items():
            interval = policies[partner.id].notice_interval_days
            if (run.run_date - last_date).days < interval:
                too_soon_partner_ids.add(partner.id)
        return histories.filtered(
            lambda history: history.partner_id.id in too_soon_partner_ids
        )

    @api.model
    def _fetch_notice_items(self, run, partners):
        self.env.flush_all()
        self.env.cr.execute(
            NOTICE_ITEMS_QUERY,
            {"company_id": run.company_id.id, "partner_ids": tuple(partners.ids)},
        )
        rows = self.env.cr.dictfetchall()
        # Items under an open promise or an active payment plan follow what was
        # agreed, so a notice does not ask for them. Disputed items are listed
        # with their disputed amount apart, which the notice does not ask for.
        paused = run._get_paused_line_ids()
        disputed = run._get_disputed_amounts()
        items_by_partner = defaultdict(list)
        for row in rows:
            if paused.get(row["id"], "dispute") != "dispute":
                continue
            # Never more than is still owed, so the amount asked is not negative.
            row["amount_disputed"] = min(
                disputed.get(row["id"], 0.0),
                max(row["amount_residual_currency"], 0.0),
            )
            items_by_partner[row["partner_id"]].append(row)
        return items_by_partner

    @api.model
    def _prepare_notice_values(self, run, partner, histories, items):
        stage = _highest_stage(histories.stage_id)
        line_values = []
        for item in items:
            is_credit = item["amount_residual_currency"] < 0
            days = (
                0 if is_credit else days_from_due(item["date_maturity"], run.run_date)
            )
            line_values.append(
                fields.Command.create(
                    {
                        "move_line_id": item["id"],
                        "move_id": item["move_id"],
                        "stage_id": item["collection_stage_id"],
                        "date_maturity": item["date_maturity"],
                        "days_overdue": max(days, 0),
                        "currency_id": item["currency_id"],
                        "amount_original": item["amount_currency"],
                        "amount_residual": item["amount_residual_currency"],
                        "amount_disputed": item.get("amount_disputed", 0.0),
                        "is_credit": is_credit,
                    }
                )
            )
        return {
            "partner_id": partner.id,
            "contact_id": self._get_recipient(partner, items).id,
            "company_id": run.company_id.id,
            "run_id": run.id,
            "date": run.run_date,
            "stage_id": stage.id,
            "line_ids": line_values,
        }

    @api.model
    def _get_recipient(self, partner, items):
        """Return who receives the notice of the commercial partner ``partner``.

        The collections contact of the customer comes first, then the contact
        the latest invoice was addressed to, then the customer itself.
        """
        if partner.collection_contact_id:
            return partner.collection_contact_id
        invoice_partner_ids = [
            item["invoice_partner_id"]
            for item in items
            if item["amount_residual_currency"] > 0 and item["invoice_partner_id"]
        ]
        if invoice_partner_ids:
            contact = self.env["res.partner"].browse(invoice_partner_ids[-1])
            if contact.commercial_partner_id == partner and contact.email:
                return contact
        return partner

    @api.model
    def _send_emails(self, notices, histories_by_partner):
        """Post the stage's email on each notice, or record why it cannot go."""
        notices_by_template = defaultdict(lambda: self.browse())
        with_statement = self.browse()
        for notice in notices:
            stages = histories_by_partner[notice.partner_id].stage_id
            email_stage = _highest_stage(stages.filtered("send_email"))
            if not email_stage:
                continue
            if email_stage.attach_statement:
                with_statement |= notice
            if not notice._has_amount_to_pay():
                notice.email_state = "not_needed"
                continue
            reason = notice._get_unreachable_reason()
            if reason:
                notice.write(
                    {"email_state": "not_reached", "not_reached_reason": reason}
                )
                continue
            notices_by_template[email_stage.mail_template_id] |= notice

        for template, template_notices in notices_by_template.items():
            rendered = template._generate_template(
                template_notices.ids, ["subject", "body_html", "email_from"]
            )
            for notice in template_notices & with_statement:
                rendered[notice.id]["attachment_ids"] = (
                    notice._attach_statement_if_possible().ids
                )
            self._queue_emails(template_notices, rendered)
            template_notices.with_context(tracking_disable=True).email_state = "sent"

    @api.model
    def _queue_emails(self, notices, rendered):
        """Post each notice's email in its chatter and queue it for the mail
        queue, with Odoo's light email layout.

        ``rendered`` maps each notice id to its subject, body, sender and
        attachment ids. Posting one message at a time through message_post
        costs about twenty queries per customer, so the messages, emails and
        delivery notifications are created here in one batch each. The emails
        are not sent during the run, which would hold the batch on the mail
        server.
        """
        comment_subtype_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "mail.mt_comment"
        )
        reply_to_by_id = notices._notify_get_reply_to(default=False)
        message_values = []
        for notice in notices:
            values = rendered[notice.id]
            email_from = values.get("email_from") or notice.company_id.email_formatted
            message_values.append(
                {
                    "model": self._name,
                    "res_id": notice.id,
                    "record_name": notice.display_name,
                    "message_type": "comment",
                    "subtype_id": comment_subtype_id,
                    "body": values["body_html"],
                    "subject": values["subject"],
                    "author_id": notice.company_id.partner_id.id,
                    "email_from": email_from,
                    "reply_to": reply_to_by_id.get(notice.id) or email_from,
                    "partner_ids": [Command.link(notice.contact_id.id)],
                    "attachment_ids": [Command.set(values.get("attachment_ids") or [])],
                    "email_layout_xmlid": "mail.mail_notification_light",
                    "email_add_signature": False,
                }
            )
        messages = self.env["mail.message"].sudo().create(message_values)

        # The layout reads each message's tracking values: read them for all
        # messages at once.
        messages.mapped("tracking_value_ids")
        mail_values = []
        for notice, message in zip(notices, messages, strict=True):
            mail_values += notice._prepare_queued_mail_values(message)
        mails = (
            self.env["mail.mail"]
            .sudo()
            .with_context(clean_context(self.env.context))
            .create(mail_values)
        )
        self.env["mail.notification"].sudo().create(
            [
                {
                    "author_id": mail.mail_message_id.author_id.id,
                    "is_read": True,
                    "mail_mail_id": mail.id,
                    "mail_message_id": mail.mail_message_id.id,
                    "notification_status": "ready",
                    "notification_type": "email",
                    "res_partner_id": recipient.id,
                }
                for mail in mails
                for recipient in mail.recipient_ids
            ]
        )

    def _prepare_queued_mail_values(self, message):
        """Return the values of the emails that carry ``message`` to the
        notice's contact, laid out by Odoo's own notification methods."""
        self.ensure_one()
        recipients_data = [self._get_email_recipient_data()]
        headers = self._notify_by_email_get_headers()
        base_values = {
            "mail_message_id": message.id,
            "references": message.message_id,
            "auto_delete": True,
            "is_notification": True,
            "headers": repr(headers) if headers else False,
        }
        if message.subject:
            base_values["subject"] = " ".join(message.subject.splitlines())
        # The message was just created without tracking values. Passing an
        # empty list spares Odoo a search for them per message.
        msg_vals = {"tracking_value_ids": []}
        mail_values = []
        for (
            _lang,
            render_values,
            group,
        ) in self._notify_get_classified_recipients_iterator(
            message,
            recipients_data,
            msg_vals=msg_vals,
            force_email_company=self.company_id,
        ):
            body = self._notify_by_email_render_layout(
                message, group, render_values=render_values
            )
            mail_values.append(
                self._notify_by_email_get_final_mail_values(
                    group.pop("recipients"),
                    base_values,
                    additional_values={"body_html": body},
                )
            )
        return mail_values

    def _get_email_recipient_data(self):
        """Return the notice's contact in the form Odoo's notification
        methods take their recipients."""
        self.ensure_one()
        contact = self.contact_id
        user = contact.user_ids[:1]
        if not user:
            recipient_type = "customer"
        elif user.share:
            recipient_type = "portal"
        else:
            recipient_type = "user"
        return {
            "active": contact.active,
            "id": contact.id,
            "is_follower": False,
            "lang": contact.lang,
            "groups": user.groups_id.ids,
            "notif": "email",
            "share": contact.partner_share,
            "type": recipient_type,
            "uid": user.id,
            "ushare": user.share,
        }

    def _attach_statement_if_possible(self):
        """Return the statement attachment of the notice, or no attachment
        when the PDF cannot be rendered.

        Without wkhtmltopdf, Odoo cannot render PDFs: the reminder then goes
        without its statement rather than not at all, and the warning is
        logged and noted on the notice.
        """
        self.ensure_one()
        try:
            with self.env.cr.savepoint():
                return self._create_statement_attachment()
        except UserError as error:
            _logger.warning(
                "Collection notice %s is sent without the customer's "
                "statement, which could not be rendered: %s",
                self.id,
                error,
            )
            self._message_log(
                body=_(
                    "The customer's statement could not be attached: %(error)s",
                    error=error,
                )
            )
            return self.env["ir.attachment"]

    def _create_statement_attachment(self):
        """Render the customer's statement at the notice date and attach it
        to the notice, for its email."""
        self.ensure_one()
        file_name, content = self._render_statement_attachment()
        return (
            self.env["ir.attachment"]
            .sudo()
            .create(
                {
                    "name": file_name,
                    "raw": content,
                    "res_model": self._name,
                    "res_id": self.id,
                }
            )
        )

    def _render_statement_attachment(self):
        """Return the customer's statement at the notice date, as (file name,
        PDF content)."""
        self.ensure_one()
        return self.env[
            "report.fast_collections.report_customer_statement"
        ]._render_statement_attachment(self.partner_id, self.company_id, self.date)

    def _get_unreachable_reason(self):
        self.ensure_one()
        contact = self.contact_id
        if not contact.email:
            return _("%(contact)s has no email address.", contact=contact.display_name)
        if not email_normalize(contact.email):
            return _(
                "The email address %(email)s of %(contact)s is not valid.",
                email=contact.email,
                contact=contact.display_name,
            )
        if contact.is_blacklisted:
            return _(
                "The email address %(email)s of %(contact)s is blocked.",
                email=contact.email,
                contact=contact.display_name,
            )
        return False

    @api.model
    def _schedule_stage_activities(self, stages_by_notice):
        """Schedule the activity of each notice's stage, in one batch.

        ``stages_by_notice`` maps each notice to the stage whose activity it
        gets.
        """
        model_id = self.env["ir.model"]._get_id(self._name)
        values_list = []
        for notice, stage in stages_by_notice.items():
            user = notice._get_activity_assignee(stage)
            if not user:
                _logger.warning(
                    "Collection notice %s: no active collector to assign the "
                    "activity of stage %s to; set a default collector on "
                    "company %s",
                    notice.id,
                    stage.id,
                    notice.company_id.id,
                )
                continue
            activity_type = stage.activity_type_id
            values_list.append(
                {
                    "res_model_id": model_id,
                    "res_id": notice.id,
                    "activity_type_id": activity_type.id,
                    "summary": stage.activity_summary or stage.name,
                    "note": activity_type.default_note or False,
                    "automated": True,
                    "date_deadline": notice.date
                    + timedelta(days=stage.activity_deadline_days),
                    "user_id": user.id,
                }
            )
        # Collectors find the activities in their list; one email per activity
        # would flood them after a large run.
        self.env["mail.activity"].sudo().with_context(
            mail_activity_quick_update=True
        ).create(values_list)

    def _get_activity_assignee(self, stage):
        """Return the active collector who receives the stage's activity.

        The stage's assignee comes first, then the stage's named user, then the
        company's default collector.
        """
        self.ensure_one()
        candidates = (
            stage._get_activity_user(self.partner_id),
            stage.activity_user_id,
            self.company_id.collection_user_id,
        )
        for user in candidates:
            if (
                user
                and user.active
                and user.has_group("fast_collections.group_collection_user")
            ):
                return user
        return self.env["res.users"]

    @api.model
    def _write_reach_issues(self, notices, histories_by_partner):
        """Store on each item whether its last notice reached the customer."""
        reached_ids = []
        line_ids_by_reason = defaultdict(list)
        for notice in notices:
            line_ids = histories_by_partner[notice.partner_id].move_line_id.ids
            if notice.email_state == "not_reached":
                line_ids_by_reason[notice.not_reached_reason].extend(line_ids)
            else:
                reached_ids.extend(line_ids)
        self.env.flush_all()
        if reached_ids:
            self.env.cr.execute(
                """
                UPDATE account_move_line SET collection_reach_issue = NULL
                 WHERE id IN %s AND collection_reach_issue IS NOT NULL
                """,
                [tuple(reached_ids)],
            )
        for reason, line_ids in line_ids_by_reason.items():
            self.env.cr.execute(
                """
                UPDATE account_move_line SET collection_reach_issue = %s
                 WHERE id IN %s
                """,
                [reason, tuple(line_ids)],
            )
        self.env["account.move.line"].invalidate_model(["collection_reach_issue"])

    def _render_letter_body(self):
        """Return the letter text: the body of the stage's email, rendered."""
        self.ensure_one()
        template = self.stage_id.mail_template_id
        if not template:
            return ""
        return template._generate_template(self.ids, ["body_html"])[self.id][
            "body_html"
        ]

    def action_mark_printed(self):
        to_print = self.filtered(lambda notice: notice.letter_state == "to_print")
        if not to_print:
            raise UserError(_("None of the selected notices has a letter to print."))
        to_print.letter_state = "printed"
        return True

    def action_print_letter(self):
        return self.env.ref(
            "fast_collections.action_report_collection_notice"
        ).report_action(self)


class CollectionNoticeLine(models.Model):
    """Item listed in a collection notice, as it stood when the notice was made."""

    _name = "collection.notice.line"
    _description = "Collection Notice Item"
    _order = "notice_id, is_credit, date_maturity, id"

    notice_id = fields.Many2one(
        comodel_name="collection.notice",
        required=True,
        ondelete="cascade",
        index=True,
    )
    move_line_id = fields.Many2one(
        comodel_name="account.move.line", string="Journal Item", ondelete="set null"
    )
    move_id = fields.Many2one(comodel_name="account.move", string="Document")
    stage_id = fields.Many2one(comodel_name="collection.stage")
    date_maturity = fields.Date(string="Due Date")
    days_overdue = fields.Integer()
    currency_id = fields.Many2one(comodel_name="res.currency", required=True)
    amount_original = fields.Monetary(
        currency_field="currency_id",
        help="Amount of the item when it was issued, in its currency.",
    )
    amount_residual = fields.Monetary(
        string="Amount Due",
        currency_field="currency_id",
        help="Amount still owed, in the item's currency. Negative for a credit.",
    )
    is_credit = fields.Boolean(
        help="Open credit note or unreconciled payment that lowers the amount asked.",
    )
    amount_disputed = fields.Monetary(
        string="Disputed",
        currency_field="currency_id",
        help="Part of the amount due under an open dispute, which the notice "
        "does not ask for.",
    )
    amount_asked = fields.Monetary(
        currency_field="currency_id",
        compute="_compute_amount_asked",
        help="Amount due less the disputed part.",
    )

    @api.depends("amount_residual", "amount_disputed")
    def _compute_amount_asked(self):
        for line in self:
            line.amount_asked = line.amount_residual - line.amount_disputed


def _highest_stage(stages):
    """Return the stage of ``stages`` furthest from the due date, or an empty set."""
    if not stages:
        return stages
    return stages.sorted(lambda stage: (stage.offset_days, stage.id))[-1]
