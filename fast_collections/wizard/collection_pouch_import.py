import base64
import csv
import datetime
import io
import math
import re

from odoo import _, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import float_round

from ..models.collection_pouch import INSTRUMENTS

# Accepted column titles, in English and Spanish, by item field.
COLUMNS = {
    "partner": ("customer", "cliente"),
    "instrument": ("instrument", "instrumento", "tipo"),
    "number": ("number", "número", "numero"),
    "bank": ("bank", "banco"),
    "date_issue": ("issued on", "issue date", "fecha de emisión", "emisión"),
    "date_maturity": ("maturity", "vencimiento", "fecha de vencimiento"),
    "amount": ("amount", "importe"),
    "reference": ("reference", "referencia"),
}
REQUIRED_COLUMNS = ("partner", "instrument", "amount")

# Spanish names of the instruments, accepted whatever the user's language.
INSTRUMENT_NAMES = {
    "efectivo": "cash",
    "cheque": "cheque",
    "pagaré": "promissory_note",
    "pagare": "promissory_note",
    "transferencia": "transfer_slip",
    "justificante de transferencia": "transfer_slip",
    "tarjeta": "card_slip",
    "comprobante de tarjeta": "card_slip",
}


# 1234, 1234.5 or 1234,50.
PLAIN_AMOUNT = re.compile(r"\d+(?:[.,]\d{1,2})?")
# 1.234,50, 1,234.50, 1 234,50 or 1.234.567: every group of three digits.
GROUPED_AMOUNT = re.compile(
    r"\d{1,3}(?P<group>[., ])\d{3}(?:(?P=group)\d{3})*"
    r"(?:(?P<decimal>[.,])(?P<cents>\d{1,2}))?"
)


class RowError(Exception):
    """Invalid value in a row of the imported file."""


class CollectionPouchImport(models.TransientModel):
    """Items of a pouch read from a spreadsheet: all rows, or none."""

    _name = "collection.pouch.import"
    _description = "Import Payment Pouch Items"

    pouch_id = fields.Many2one(comodel_name="collection.pouch", required=True)
    file = fields.Binary(required=True)
    filename = fields.Char()

    def action_import(self):
        """Create an item per row, or none when a row is invalid.

        The first row contains the column titles. Every invalid row is reported
        with its number as the spreadsheet shows it.
        """
        self.ensure_one()
        self.pouch_id._check_editable()
        rows = self._read_rows()
        if not rows:
            raise UserError(_("The file has no rows below its column titles."))
        columns = self._map_columns(rows[0])
        errors = []
        values = []
        for number, row in enumerate(rows[1:], start=2):
            if not any(str(cell or "").strip() for cell in row):
                continue
            try:
                values.append((number, self._prepare_item_values(row, columns)))
            except RowError as error:
                errors.append(_("Row %(row)s: %(error)s", row=number, error=error))
        if not values and not errors:
            raise UserError(_("The file has no rows below its column titles."))
        if not errors:
            errors = self._create_items(values)
        if errors:
            raise UserError(
                _("Nothing was imported. Correct these rows and import the file again:")
                + "\n"
                + "\n".join(errors)
            )
        return {"type": "ir.actions.act_window_close"}

    def _create_items(self, values):
        """Create the items of ``values`` [(row number, values)] and return
        the errors. When there is any, nothing is created."""
        errors = []
        items = self.env["collection.pouch.item"]
        savepoint = self.env.cr.savepoint()
        with savepoint:
            for number, item_values in values:
                try:
                    with self.env.cr.savepoint():
                        items.create(item_values)
                except (UserError, ValidationError) as error:
                    errors.append(_("Row %(row)s: %(error)s", row=number, error=error))
            if errors:
                savepoint.rollback()
        return errors

    def _read_rows(self):
        content = base64.b64decode(self.file or b"")
        name = (self.filename or "").lower()
        if name.endswith(".xlsx"):
            return self._read_xlsx(content)
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = content.decode("latin-1")
        try:
            dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        return list(csv.reader(io.StringIO(text), dialect))

    def _read_xlsx(self, content):
        try:
            import openpyxl
        except ImportError as error:
            raise UserError(
                _("Reading .xlsx files needs the Python package openpyxl.")
            ) from error
        try:
            workbook = openpyxl.load_workbook(
                io.BytesIO(content), read_only=True, data_only=True
            )
        except Exception as error:
            raise UserError(
                _("The file is not a valid .xlsx spreadsheet: %(error)s", error=error)
            ) from error
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]

    def _map_columns(self, header):
        titles = [str(cell or "").strip().casefold() for cell in header]
        columns = {}
        for field_name, names in COLUMNS.items():
            for index, title in enumerate(titles):
                if title in names:
                    columns[field_name] = index
                    break
        missing = [
            COLUMNS[field_name][0]
            for field_name in REQUIRED_COLUMNS
            if field_name not in columns
        ]
        if missing:
            raise UserError(
                _(
                    "The first row must hold the column titles. Missing: "
                    "%(columns)s. Accepted titles: %(accepted)s.",
                    columns=", ".join(missing),
                    accepted=", ".join(names[0] for names in COLUMNS.values()),
                )
            )
        return columns

    def _prepare_item_values(self, row, columns):
        def cell(field_name):
            index = columns.get(field_name)
            if index is None or index >= len(row):
                return None
            value = row[index]
            if isinstance(value, str):
                value = value.strip()
            return value if value not in ("", None) else None

        values = {
            "pouch_id": self.pouch_id.id,
            "partner_id": self._find_partner(cell("partner")).id,
            "instrument": self._find_instrument(cell("instrument")),
            "amount": self._parse_amount(cell("amount")),
        }
        if cell("number") is not None:
            values["number"] = str(cell("number"))
        if cell("bank"):
            values["bank_id"] = self._find_bank(cell("bank")).id
        for field_name in ("date_issue", "date_maturity"):
            if cell(field_name) is not None:
                values[field_name] = self._parse_date(cell(field_name))
        if cell("reference"):
            values["reference"] = str(cell("reference"))
        return values

    def _find_partner(self, value):
        if not value:
            raise RowError(_("the customer is missing."))
        value = str(value)
        partners = self.env["res.partner"].with_company(self.pouch_id.company_id)
        company_domain = [("company_id", "in", [False, self.pouch_id.company_id.id])]
        # Escaped, so that _ and % in the file are not wildcards.
        pattern = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        for field_name in ("ref", "vat", "name"):
            found = partners.search(
                [(field_name, "=ilike", pattern), *company_domain], limit=2
            )
            found = found.commercial_partner_id
            if len(found) == 1:
                return found
            if len(found) > 1:
                raise RowError(
                    _(
                        "several customers match %(value)s. Use their internal "
                        "reference or tax ID.",
                        value=value,
                    )
                )
        raise RowError(_("no customer matches %(value)s.", value=value))

    def _find_instrument(self, value):
        if not value:
            raise RowError(_("the instrument is missing."))
        text = str(value).casefold()
        labels = dict(
            self.env["collection.pouch.item"]
            ._fields["instrument"]
            ._description_selection(self.env)
        )
        for code, label in INSTRUMENTS:
            if text in {code, label.casefold(), labels[code].casefold()}:
                return code
        if text in INSTRUMENT_NAMES:
            return INSTRUMENT_NAMES[text]
        raise RowError(
            _(
                "%(value)s is not an instrument. Use one of: %(instruments)s.",
                value=value,
                instruments=", ".join(labels.values()),
            )
        )

    def _find_bank(self, value):
        banks = self.env["res.bank"]
        found = banks.search([("bic", "=ilike", str(value))], limit=1) or banks.search(
            [("name", "=ilike", str(value))], limit=2
        )
        if len(found) != 1:
            raise RowError(
                _(
                    "no single bank has the name or BIC %(value)s. Create the "
                    "bank first.",
                    value=value,
                )
            )
        return found

    def _parse_amount(self, value):
        if value is None:
            raise RowError(_("the amount is missing."))
        if isinstance(value, int | float):
            amount = float(value)
            if not math.isfinite(amount):
                raise RowError(_("%(value)s is not an amount.", value=value))
        else:
            amount = self._parse_amount_text(str(value).replace(" ", ""))
            if amount is None:
                raise RowError(
                    _(
                        "%(value)s is not an amount, or could be read two ways. "
                        "Write amounts with two decimals, such as 1234.50 or "
                        "1.234,50.",
                        value=value,
                    )
                )
        currency = self.pouch_id.currency_id
        amount = float_round(amount, precision_rounding=currency.rounding)
        if amount <= 0:
            raise RowError(_("the amount must be above zero."))
        return amount

    @staticmethod
    def _parse_amount_text(text):
        """Return the amount written in ``text``, or None when it is not an
        amount or could be read two ways.

        Accepted: 1234, 1234.5, 1234,50, and thousands grouped by a
        separator other than the decimal one (1.234,50, 1,234.50, 1 234,50,
        1.234.567). A single separator followed by three digits, as in
        1,234, is refused: it groups thousands in English and separates
        decimals in Spanish.
        """
        text = text.replace("\u00a0", " ").replace("\u202f", " ").strip()
        sign = ""
        if text.startswith("-"):
            sign, text = "-", text[1:]
        plain = PLAIN_AMOUNT.fullmatch(text)
        if plain:
            return float(sign + text.replace(",", "."))
        grouped = GROUPED_AMOUNT.fullmatch(text)
        if not grouped:
            return None
        group, decimal = grouped["group"], grouped["decimal"]
        if decimal and decimal == group:
            return None
        if not decimal and group in ",." and text.count(group) == 1:
            return None
        whole = text[: grouped.start("decimal")] if decimal else text
        digits = whole.replace(group, "")
        if decimal:
            digits += "." + grouped["cents"]
        return float(sign + digits)

    def _parse_date(self, value):
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        for pattern in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"):
            try:
                return datetime.datetime.strptime(str(value), pattern).date()
            except ValueError:
                continue
        raise RowError(
            _(
                "%(value)s is not a date. Write dates as 2026-03-31 or 31/03/2026.",
                value=value,
            )
        )
