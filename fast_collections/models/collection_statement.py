from collections import defaultdict

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from ..rules.aging import bucket_index
from ..rules.staging import days_from_due

STATEMENT_REPORT = "fast_collections.action_report_customer_statement"

# Open receivable items of a customer in a company as they stood at the end of
# the statement date: entries dated up to that date, less the reconciliations
# dated up to it. Exchange-difference entries are never asked for, as in the
# notices. The residual is in the item's own currency.
STATEMENT_ITEMS_QUERY = """
    SELECT item.*
      FROM (
        SELECT aml.id, aml.move_id, aml.date_maturity, aml.currency_id,
               aml.amount_currency AS amount_original,
               aml.amount_currency
                 - COALESCE((
                       SELECT SUM(partial.debit_amount_currency)
                         FROM account_partial_reconcile partial
                        WHERE partial.debit_move_id = aml.id
                          AND partial.max_date <= %(date)s
                   ), 0)
                 + COALESCE((
                       SELECT SUM(partial.credit_amount_currency)
                         FROM account_partial_reconcile partial
                        WHERE partial.credit_move_id = aml.id
                          AND partial.max_date <= %(date)s
                   ), 0) AS amount_residual
          FROM account_move_line aml
          JOIN account_account account ON account.id = aml.account_id
          JOIN res_partner partner ON partner.id = aml.partner_id
          JOIN res_company company ON company.id = aml.company_id
         WHERE aml.company_id = %(company_id)s
           AND partner.commercial_partner_id = %(partner_id)s
           AND aml.parent_state = 'posted'
           AND account.account_type = 'asset_receivable'
           AND aml.date <= %(date)s
           AND aml.journal_id IS DISTINCT FROM company.currency_exchange_journal_id
           AND (
                aml.reconciled IS NOT TRUE
             OR EXISTS (
                    SELECT 1
                      FROM account_partial_reconcile partial
                     WHERE (partial.debit_move_id = aml.id
                            OR partial.credit_move_id = aml.id)
                       AND partial.max_date > %(date)s
                )
           )
      ) item
     WHERE item.amount_residual != 0
  ORDER BY item.date_maturity, item.id
"""


class CustomerStatementReport(models.AbstractModel):
    """Values of the customer statement: what a customer owes a company."""

    _name = "report.fast_collections.report_customer_statement"
    _description = "Customer Statement"

    @api.model
    def _get_report_values(self, docids, data=None):
        data = data or {}
        company = self._get_statement_company(data.get("company_id"))
        statement_date = fields.Date.to_date(data.get("date")) or self.env[
            "collection.run"
        ]._get_company_today(company)
        partners = self.env["res.partner"].browse(docids).commercial_partner_id
        return {
            "doc_ids": partners.ids,
            "doc_model": "res.partner",
            "docs": partners,
            "company": company,
            "statements": {
                partner.id: self._get_statement(partner, company, statement_date)
                for partner in partners
            },
        }

    @api.model
    def _get_statement_company(self, company_id):
        """Return the company whose statement is printed: ``company_id`` or
        the current company. Raise unless the user may work in it."""
        if not company_id:
            return self.env.company
        company = self.env["res.company"].browse(company_id)
        if not self.env.su and company not in self.env.user.company_ids:
            raise AccessError(
                _(
                    "You cannot print a customer statement of %(company)s: you "
                    "do not work in that company.",
                    company=company.sudo().name,
                )
            )
        return company

    @api.model
    def _get_statement(self, partner, company, statement_date):
        """Return the statement of commercial partner ``partner`` in ``company``
        at the end of ``statement_date``, as a dict.

        Three lists of item dicts hold the open items: ``invoices`` (invoices
        and other debits), ``penalties`` (interest and fee invoices) and
        ``credits`` (open credit notes and unapplied payments). ``disputes``
        lists the debits with an amount under open disputes. ``totals`` and
        ``aging`` contain one dict per currency, sorted by currency name, and
        ``aging_labels`` names the buckets in the partner's language.
        """
        self.env.flush_all()
        self.env.cr.execute(
            STATEMENT_ITEMS_QUERY,
            {
                "company_id": company.id,
                "partner_id": partner.id,
                "date": statement_date,
            },
        )
        rows = self.env.cr.dictfetchall()
        lines = self.env["account.move.line"].browse([row["id"] for row in rows])
        # NOTE: the disputes are those open now, even for a past statement date.
        disputed = lines._get_collection_disputed_amounts()
        dispute_names = self._get_open_dispute_names(lines)
        limits = company._get_collection_aging_limits()

        statement = {
            "date": statement_date,
            "invoices": [],
            "penalties": [],
            "credits": [],
            "disputes": [],
        }
        for row, line in zip(rows, lines, strict=True):
            item = self._prepare_statement_item(row, line, statement_date)
            if item["is_credit"]:
                statement["credits"].append(item)
                continue
            # Never more than is still owed, so the amount asked is not negative.
            item["amount_disputed"] = min(
                disputed.get(line.id, 0.0), item["amount_residual"]
            )
            item["bucket"] = bucket_index(item["days_overdue"], limits)
            if line.move_id.collection_is_penalty:
                statement["penalties"].append(item)
            else:
                statement["invoices"].append(item)
            if item["amount_disputed"]:
                item["dispute_names"] = dispute_names.get(line.id, "")
                statement["disputes"].append(item)

        statement["totals"] = self._get_currency_totals(statement)
        statement["aging_labels"] = company.with_context(
            lang=partner.lang or self.env.lang
        )._get_collection_aging_labels()
        statement["aging"] = self._get_aging(statement, len(statement["aging_labels"]))
        return statement

    @api.model
    def _prepare_statement_item(self, row, line, statement_date):
        move = line.move_id
        is_credit = row["amount_residual"] < 0
        due_date = row["date_maturity"]
        days = days_from_due(due_date, statement_date) if due_date else 0
        return {
            "line": line,
            "move": move,
            "name": move.name,
            "reference": move.ref or "",
            "date": move.invoice_date or move.date,
            "date_maturity": due_date,
            "days_overdue": 0 if is_credit else max(days, 0),
            "currency": line.currency_id,
            "amount_original": row["amount_original"],
            "amount_residual": row["amount_residual"],
            "amount_disputed": 0.0,
            "is_credit": is_credit,
        }

    @api.model
    def _get_open_dispute_names(self, lines):
        """Return {item id: names of the open disputes on it, comma-separated}."""
        dispute_lines = self.env["collection.dispute.line"].search(
            [("move_line_id", "in", lines.ids), ("state", "=", "open")]
        )
        names = defaultdict(list)
        for dispute_line in dispute_lines:
            names[dispute_line.move_line_id.id].append(dispute_line.dispute_id.name)
        return {
            line_id: ", ".join(sorted(set(rows))) for line_id, rows in names.items()
        }

    @api.model
    def _get_currency_totals(self, statement):
        """Return the statement's totals, one dict per currency, by currency name.

        The balance is what the items add up to, credits included. The
        disputed part of it is not asked for while the dispute is open, so the
        amount to pay is the balance less the disputed amounts, never below
        zero.
        """
        totals = {}
        sections = ("invoices", "penalties", "credits")
        for section in sections:
            for item in statement[section]:
                total = totals.setdefault(
                    item["currency"],
                    {
                        "currency": item["currency"],
                        "invoices": 0.0,
                        "penalties": 0.0,
                        "credits": 0.0,
                        "disputed": 0.0,
                        "overdue": 0.0,
                    },
                )
                total[section] += item["amount_residual"]
                total["disputed"] += item["amount_disputed"]
                if item["days_overdue"] > 0:
                    total["overdue"] += item["amount_residual"]
        for total in totals.values():
            currency = total["currency"]
            balance = total["invoices"] + total["penalties"] + total["credits"]
            total["balance"] = currency.round(balance)
            total["to_pay"] = currency.round(max(balance - total["disputed"], 0.0))
        return sorted(totals.values(), key=lambda total: total["currency"].name)

    @api.model
    def _get_aging(self, statement, bucket_count):
        """Return the amounts owed by aging bucket, one dict per currency.

        Open invoices and interest and fee invoices are aged by their days
        overdue at the statement date, disputed parts included. Credits are
        not aged: the totals subtract them.
        """
        aging = {}
        for item in statement["invoices"] + statement["penalties"]:
            currency = item["currency"]
            row = aging.setdefault(
                currency,
                {"currency": currency, "buckets": [0.0] * bucket_count},
            )
            row["buckets"][item["bucket"]] += item["amount_residual"]
        for row in aging.values():
            row["buckets"] = [
                row["currency"].round(amount) for amount in row["buckets"]
            ]
            row["total"] = row["currency"].round(sum(row["buckets"]))
        return sorted(aging.values(), key=lambda row: row["currency"].name)

    @api.model
    def _render_statement_attachment(self, partner, company, statement_date):
        """Render the statement of ``partner`` and return (file name, content),
        as ``message_post`` takes attachments."""
        content, __ = self.env["ir.actions.report"]._render_qweb_pdf(
            STATEMENT_REPORT,
            partner.commercial_partner_id.ids,
            data={
                "company_id": company.id,
                "date": fields.Date.to_string(statement_date),
            },
        )
        file_name = _(
            "Statement %(customer)s %(date)s.pdf",
            customer=partner.commercial_partner_id.name,
            date=fields.Date.to_string(statement_date),
        )
        return file_name, content
