"""Row locks that make concurrent transactions retry."""

from odoo.tools import SQL


def lock_for_update(records):
    """Lock the rows of ``records`` until the end of the transaction.

    The rows are updated, not only locked: a transaction that started before
    another one committed its change of those rows then fails with a
    serialization error, and Odoo retries it, so it reads the committed
    values.
    """
    if not records:
        return
    records.env.flush_all()
    table = SQL.identifier(records._table)
    records.env.cr.execute(
        SQL(
            """
            UPDATE %(table)s SET write_date = write_date
             WHERE id IN (
                    SELECT id FROM %(table)s
                     WHERE id IN %(ids)s ORDER BY id FOR UPDATE
                   )
            """,
            table=table,
            ids=tuple(records.ids),
        )
    )
