"""Read the accounts receivable sample and load it into Odoo.

The sample is the public IBM Watson Analytics data set
"WA_Fn-UseC_-Accounts-Receivable": one row per customer invoice, 30-day payment
terms, dates written month/day/year. ``read_sample`` and ``expected_figures``
need no database, so a test can compare the figures the file gives for a date
with those Odoo computes after ``load_sample`` has loaded the file up to it.
"""

import csv
import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from odoo.fields import Command

REQUIRED_COLUMNS = (
    "countryCode",
    "customerID",
    "invoiceNumber",
    "InvoiceDate",
    "DueDate",
    "InvoiceAmount",
    "Disputed",
    "SettledDate",
    "PaperlessBill",
)
CSV_DATE_FORMAT = "%m/%d/%Y"
CENT = Decimal("0.01")
DISPUTED_VALUES = {"Yes": True, "No": False}
PAPERLESS_VALUES = {"Electronic": True, "Paper": False}

# The sample ships inside the addon so that the demo and the tests find it
# wherever the addon is installed.
SAMPLE_PATH = (
    Path(__file__).resolve().parent.parent / "demo" / ("accounts_receivable_sample.csv")
)

PAYMENT_TERM_XMLID = "account.account_payment_term_30days"
# The CSV marks invoices as disputed without giving the reason or the date, so
# every dispute the loader opens gets this reason, found by its English name.
DISPUTE_REASON_NAME = "Reason not recorded"
DISPUTE_REASON_RESOLUTION_DAYS = 30
DISPUTE_DESCRIPTION = (
    "<p>Opened by the sample loader because the Disputed column of the sample "
    "CSV is Yes for this invoice. The CSV gives no reason and no date.</p>"
)
# Records per create() and action_post() call: large enough to keep the number
# of queries per invoice low, small enough to bound the memory of one flush.
BATCH_SIZE = 500


@dataclass(frozen=True)
class SampleInvoice:
    """One invoice row of the sample CSV."""

    customer_key: str
    country_code: str
    invoice_number: str
    invoice_date: datetime.date
    due_date: datetime.date
    settled_date: datetime.date
    amount: Decimal
    disputed: bool
    paperless: bool


@dataclass(frozen=True)
class InvoiceTotal:
    """Number of invoices and the sum of their amounts."""

    count: int = 0
    amount: Decimal = Decimal("0.00")

    def add(self, invoice):
        return InvoiceTotal(self.count + 1, self.amount + invoice.amount)


@dataclass(frozen=True)
class SampleFigures:
    """Open, overdue, disputed and per-stage invoice totals of the sample on a date.

    ``open_invoices`` and ``overdue_invoices`` include the disputed invoices.
    ``disputed_invoices`` contains the open invoices marked as disputed, which
    ``load_sample`` puts under an open dispute. ``stages`` maps each stage
    offset (days from the due date) to the open, undisputed invoices whose
    highest reached stage it is. The ``None`` key contains the open,
    undisputed invoices that have reached no stage.
    """

    as_of: datetime.date
    open_invoices: InvoiceTotal
    overdue_invoices: InvoiceTotal
    disputed_invoices: InvoiceTotal
    stages: dict


@dataclass
class LoadSummary:
    """Records that ``load_sample`` created, reused or skipped."""

    partners_created: int = 0
    partners_reused: int = 0
    invoices_posted: int = 0
    invoices_skipped: int = 0
    due_dates_overridden: int = 0
    payments_registered: int = 0
    disputes_opened: int = 0
    disputes_skipped: int = 0


# ---------------------------------------------------------------------------
# Reading the CSV
# ---------------------------------------------------------------------------


def read_sample(path):
    """Parse the sample CSV at ``path`` into a list of ``SampleInvoice``.

    Raises FileNotFoundError when the file does not exist and ValueError, naming
    the file and line, for a missing column, a malformed value or an invoice
    number that appears twice.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Sample CSV not found: {path}")

    with path.open(newline="", encoding="utf-8-sig") as csv_file:
        reader = csv.DictReader(csv_file)
        missing = [
            name for name in REQUIRED_COLUMNS if name not in (reader.fieldnames or ())
        ]
        if missing:
            raise ValueError(
                f"{path}: missing columns {', '.join(missing)} in the header line"
            )

        invoices = []
        line_by_number = {}
        for record in reader:
            line = reader.line_num
            try:
                invoice = _parse_record(record)
            except ValueError as err:
                raise ValueError(f"{path}, line {line}: {err}") from err
            if invoice.invoice_number in line_by_number:
                raise ValueError(
                    f"{path}, line {line}: invoice number {invoice.invoice_number} "
                    f"already appears on line {line_by_number[invoice.invoice_number]}"
                )
            line_by_number[invoice.invoice_number] = line
            invoices.append(invoice)
    return invoices


def _parse_record(record):
    # csv.DictReader stores surplus fields under the key None and fills
    # missing trailing fields with None.
    header_size = len(record) - (None in record)
    values = [
        value
        for name, value in record.items()
        if name is not None and value is not None
    ]
    surplus = record.get(None) or []
    if surplus or len(values) != header_size:
        raise ValueError(
            f"found {len(values) + len(surplus)} fields, the header has {header_size}"
        )

    invoice_date = _parse_date(record, "InvoiceDate")
    due_date = _parse_date(record, "DueDate")
    settled_date = _parse_date(record, "SettledDate")
    if due_date < invoice_date:
        raise ValueError(f"DueDate {due_date} is before InvoiceDate {invoice_date}")
    if settled_date < invoice_date:
        raise ValueError(
            f"SettledDate {settled_date} is before InvoiceDate {invoice_date}"
        )

    return SampleInvoice(
        customer_key=_parse_text(record, "customerID"),
        country_code=_parse_text(record, "countryCode"),
        invoice_number=_parse_text(record, "invoiceNumber"),
        invoice_date=invoice_date,
        due_date=due_date,
        settled_date=settled_date,
        amount=_parse_amount(record, "InvoiceAmount"),
        disputed=_parse_choice(record, "Disputed", DISPUTED_VALUES),
        paperless=_parse_choice(record, "PaperlessBill", PAPERLESS_VALUES),
    )


def _parse_text(record, column):
    value = record[column].strip()
    if not value:
        raise ValueError(f"{column} is empty")
    return value


def _parse_date(record, column):
    value = record[column].strip()
    try:
        return datetime.datetime.strptime(value, CSV_DATE_FORMAT).date()
    except ValueError as err:
        raise ValueError(
            f"{column} {value!r} is not a valid month/day/year date"
        ) from err


def _parse_amount(record, column):
    value = record[column].strip()
    try:
        amount = Decimal(value)
    except InvalidOperation as err:
        raise ValueError(f"{column} {value!r} is not a number") from err
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"{column} {value!r} must be a positive amount")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _parse_choice(record, column, values):
    value = record[column].strip()
    if value not in values:
        raise ValueError(
            f"{column} {value!r} is invalid, expected one of {', '.join(values)}"
        )
    return values[value]


# ---------------------------------------------------------------------------
# Figures the CSV gives for a date
# ---------------------------------------------------------------------------


def reached_stage_offset(days_from_due, stage_offsets, grace_days=0):
    """Return the highest stage offset reached ``days_from_due`` days after the due
    date, or None when no stage is reached.

    ``days_from_due`` is negative before the due date. A positive offset is
    reached ``grace_days`` days after it. Zero and negative offsets, such as a
    courtesy reminder before the due date, are not shifted.
    """
    reached = [
        offset
        for offset in stage_offsets
        if days_from_due >= (offset + grace_days if offset > 0 else offset)
    ]
    return max(reached, default=None)


def expected_figures(rows, as_of, stage_offsets, grace_days=0):
    """Compute the open, overdue, disputed and per-stage totals on ``as_of``.

    An invoice is open when it was issued on or before ``as_of`` and settled
    after it. It is overdue when it is open and its due date is before
    ``as_of``. An open invoice marked as disputed counts in the disputed total
    and in no stage, because the run leaves an item disputed for its whole
    residual at no stage when the dispute was opened before the first run.
    Each other open invoice counts once, under the highest stage offset it has
    reached (see ``reached_stage_offset``), or under None.
    """
    if grace_days < 0:
        raise ValueError(f"grace_days must be zero or positive, got {grace_days}")

    offsets = sorted(set(stage_offsets))
    open_total = InvoiceTotal()
    overdue_total = InvoiceTotal()
    disputed_total = InvoiceTotal()
    stage_totals = {offset: InvoiceTotal() for offset in offsets}
    stage_totals[None] = InvoiceTotal()

    for invoice in rows:
        if not invoice.invoice_date <= as_of < invoice.settled_date:
            continue
        open_total = open_total.add(invoice)
        if invoice.due_date < as_of:
            overdue_total = overdue_total.add(invoice)
        if invoice.disputed:
            disputed_total = disputed_total.add(invoice)
            continue
        days_from_due = (as_of - invoice.due_date).days
        offset = reached_stage_offset(days_from_due, offsets, grace_days)
        stage_totals[offset] = stage_totals[offset].add(invoice)

    return SampleFigures(
        as_of=as_of,
        open_invoices=open_total,
        overdue_invoices=overdue_total,
        disputed_invoices=disputed_total,
        stages=stage_totals,
    )


# ---------------------------------------------------------------------------
# Loading into Odoo
# ---------------------------------------------------------------------------


def load_sample(env, rows, as_of, shift_days=0, company=None):
    """Create the sample's customers, posted invoices, payments and disputes as of
    ``as_of``.

    ``as_of`` is a date of the sample, before shifting. Every date written to
    the database is moved by ``shift_days``. Invoices issued after ``as_of``
    are left out, and an invoice settled on or before ``as_of`` gets a posted
    customer payment on its settled date, reconciled with it. An invoice
    marked as disputed and still open on ``as_of`` gets an open dispute over
    its whole residual. The dispute is dated on the day of the load, not
    shifted, because the CSV gives no dispute date.

    Running it again creates nothing twice: partners are matched on ``ref``,
    invoices on partner and ``ref``, only invoices that are still open get a
    payment, and only invoices without an open dispute get one. An invoice
    whose dispute was closed or cancelled since gets a new one. Returns a
    ``LoadSummary``.
    """
    company = company or env.company
    # tracking_disable skips the creation message and field tracking of each
    # record, which a bulk load of past invoices does not need.
    env = company.with_company(company).with_context(tracking_disable=True).env
    rows = list(rows)
    shift = datetime.timedelta(days=shift_days)
    summary = LoadSummary()

    partners = _get_or_create_partners(env, rows, company, summary)
    issued = sorted(
        (row for row in rows if row.invoice_date <= as_of),
        key=lambda row: (row.invoice_date, row.invoice_number),
    )
    invoices = _find_invoices(env, issued, partners, company)

    new_rows = []
    for row in issued:
        if (row.customer_key, row.invoice_number) in invoices:
            summary.invoices_skipped += 1
        else:
            new_rows.append(row)
    for start in range(0, len(new_rows), BATCH_SIZE):
        batch = new_rows[start : start + BATCH_SIZE]
        moves = _create_invoices(env, batch, partners, company, shift, summary)
        invoices.update(
            ((row.customer_key, row.invoice_number), move)
            for row, move in zip(batch, moves, strict=True)
        )

    settled = [
        (row, invoices[row.customer_key, row.invoice_number])
        for row in issued
        if row.settled_date <= as_of
    ]
    to_pay = [
        (row, move)
        for row, move in settled
        if move.state == "posted"
        and not company.currency_id.is_zero(move.amount_residual)
    ]
    for start in range(0, len(to_pay), BATCH_SIZE):
        _register_payments(env, to_pay[start : start + BATCH_SIZE], company, shift)
    summary.payments_registered = len(to_pay)

    disputed = [
        invoices[row.customer_key, row.invoice_number]
        for row in issued
        if row.disputed and row.settled_date > as_of
    ]
    _open_disputes(env, disputed, summary)
    return summary


def _get_or_create_partners(env, rows, company, summary):
    """Return the customer partner of each customer key, creating missing ones."""
    keys = list(dict.fromkeys(row.customer_key for row in rows))
    existing = env["res.partner"].search(
        [("ref", "in", keys), ("company_id", "in", [False, company.id])],
        order="id",
    )
    partners = {}
    for partner in existing:
        partners.setdefault(partner.ref, partner)
    summary.partners_reused = len(partners)

    missing_keys = [key for key in keys if key not in partners]
    created = env["res.partner"].create(
        [_prepare_partner_vals(key) for key in missing_keys]
    )
    partners.update(zip(missing_keys, created, strict=True))
    summary.partners_created = len(created)
    return partners


def _prepare_partner_vals(customer_key):
    # The sample's numeric country codes (391, 406, 770, 818, 897) are not ISO
    # 3166 codes, so the partner gets no country.
    return {
        "name": f"Customer {customer_key}",
        "ref": customer_key,
        "email": f"customer-{customer_key.lower()}@example.com",
        "is_company": True,
    }


def _find_invoices(env, rows, partners, company):
    """Return the customer invoices already loaded, keyed by (customer key, number)."""
    key_by_partner = {partner.id: key for key, partner in partners.items()}
    moves = env["account.move"].search(
        [
            ("move_type", "=", "out_invoice"),
            ("company_id", "=", company.id),
            ("state", "!=", "cancel"),
            ("partner_id", "in", list(key_by_partner)),
            ("ref", "in", [row.invoice_number for row in rows]),
        ],
        order="id",
    )
    invoices = {}
    for move in moves:
        invoices.setdefault((key_by_partner[move.partner_id.id], move.ref), move)
    return invoices


def _create_invoices(env, rows, partners, company, shift, summary):
    """Create and post one invoice per row, in the order of ``rows``."""
    journal = _get_journal(env, company, "sale")
    payment_term = env.ref(PAYMENT_TERM_XMLID)
    moves = env["account.move"].create(
        [
            _prepare_invoice_vals(row, partners, company, journal, payment_term, shift)
            for row in rows
        ]
    )

    # The 30-day term should give the sample's own due date. Where it does not,
    # the invoice keeps the sample's date and loses the term.
    for row, move in zip(rows, moves, strict=True):
        due_date = row.due_date + shift
        if move.invoice_date_due != due_date:
            move.write({"invoice_payment_term_id": False, "invoice_date_due": due_date})
            summary.due_dates_overridden += 1

    moves.action_post()
    summary.invoices_posted += len(moves)
    return moves


def _prepare_invoice_vals(row, partners, company, journal, payment_term, shift):
    # A disputed row gives an ordinary invoice too: _open_disputes opens its
    # dispute after posting, if the invoice is still open on the as-of date.
    return {
        "move_type": "out_invoice",
        "company_id": company.id,
        "journal_id": journal.id,
        "currency_id": company.currency_id.id,
        "partner_id": partners[row.customer_key].id,
        "invoice_date": row.invoice_date + shift,
        "invoice_payment_term_id": payment_term.id,
        "ref": row.invoice_number,
        "payment_reference": row.invoice_number,
        "invoice_line_ids": [
            Command.create(
                {
                    "name": f"Invoice {row.invoice_number}",
                    "quantity": 1.0,
                    "price_unit": float(row.amount),
                    "tax_ids": [Command.clear()],
                }
            )
        ],
    }


def _register_payments(env, rows_and_invoices, company, shift):
    """Post one payment per invoice on its settled date and reconcile the two."""
    journal = _get_journal(env, company, "bank")
    receivable_lines = [
        move.line_ids.filtered(
            lambda line: line.display_type == "payment_term" and not line.reconciled
        )
        for _row, move in rows_and_invoices
    ]
    payments = env["account.payment"].create(
        [
            {
                "payment_type": "inbound",
                "partner_type": "customer",
                "partner_id": move.commercial_partner_id.id,
                "journal_id": journal.id,
                "currency_id": company.currency_id.id,
                "amount": move.amount_residual,
                "date": row.settled_date + shift,
                "memo": row.invoice_number,
                "destination_account_id": receivable.account_id.id,
            }
            for (row, move), receivable in zip(
                rows_and_invoices, receivable_lines, strict=True
            )
        ]
    )

    # Odoo Community gives every payment an outstanding account, so it gets a
    # journal entry. With Odoo Enterprise accounting a bank journal may have
    # none, and the payment would then leave the invoice's residual unchanged.
    # NOTE: not tested on Odoo Enterprise.
    for payment in payments.filtered(lambda pay: not pay.outstanding_account_id):
        payment.outstanding_account_id = payment._get_outstanding_account("inbound")
    payments.action_post()

    # _reconcile_plan() reconciles every pair in one pass, where reconcile()
    # would need one call per pair.
    plan = [
        receivable
        | payment.move_id.line_ids.filtered(
            lambda line, account=receivable.account_id: line.account_id == account
        )
        for payment, receivable in zip(payments, receivable_lines, strict=True)
    ]
    env["account.move.line"]._reconcile_plan(plan)
    return payments


def _open_disputes(env, moves, summary):
    """Open one dispute over the whole residual of each invoice of ``moves``.

    Invoices that already have an open dispute, and those that are not posted
    or have nothing left to pay, are counted as skipped.
    """
    if not moves:
        return
    moves = env["account.move"].union(*moves)
    already_disputed = (
        env["collection.dispute.line"]
        .search(
            [
                ("move_line_id.move_id", "in", moves.ids),
                ("dispute_id.state", "=", "open"),
            ]
        )
        .move_line_id.move_id
    )

    reason = None
    vals_list = []
    for move in moves:
        items = move.line_ids.filtered(
            lambda line: (
                line.display_type == "payment_term"
                and not line.reconciled
                and not line.currency_id.is_zero(line.amount_residual_currency)
            )
        )
        if move in already_disputed or move.state != "posted" or not items:
            summary.disputes_skipped += 1
            continue
        reason = reason or _get_dispute_reason(env)
        collector = move.partner_id.commercial_partner_id.collection_user_id
        vals_list.append(
            {
                # The loader may run as the superuser, who is nobody's
                # collector: the company's default collector works the dispute.
                "user_id": (collector or move.company_id.collection_user_id).id,
                "reason_id": reason.id,
                "description": DISPUTE_DESCRIPTION,
                "line_ids": [
                    Command.create(
                        {
                            "move_line_id": item.id,
                            "amount_disputed": item.amount_residual_currency,
                        }
                    )
                    for item in items
                ],
            }
        )

    for start in range(0, len(vals_list), BATCH_SIZE):
        disputes = env["collection.dispute"].create(
            vals_list[start : start + BATCH_SIZE]
        )
        summary.disputes_opened += len(disputes)


def _get_dispute_reason(env):
    """Return the reason of the sample's disputes, creating it when missing."""
    # The name is translatable, so it is searched and written in English. An
    # archived reason is reused too, so that archiving it does not make every
    # later load create another one.
    reasons = env["collection.dispute.reason"].with_context(
        active_test=False, lang="en_US"
    )
    reason = reasons.search([("name", "=", DISPUTE_REASON_NAME)], order="id", limit=1)
    if not reason:
        reason = reasons.create(
            {
                "name": DISPUTE_REASON_NAME,
                # After the reasons the addon ships, so that it is not the
                # first one proposed.
                "sequence": 100,
                "resolution_days": DISPUTE_REASON_RESOLUTION_DAYS,
                "description": "Used by the sample loader for the invoices that "
                "the sample CSV marks as disputed without a reason.",
            }
        )
    return reason.with_env(env)


def _get_journal(env, company, journal_type):
    journal = env["account.journal"].search(
        [("company_id", "=", company.id), ("type", "=", journal_type)],
        order="sequence, id",
        limit=1,
    )
    if not journal:
        from odoo.exceptions import UserError

        raise UserError(
            env._(
                "Company %(company)s has no %(type)s journal: create one before "
                "loading the sample.",
                company=company.display_name,
                type=journal_type,
            )
        )
    return journal
