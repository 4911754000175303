def migrate(cr, version):
    """Drop the index of collection.history on its item, which the unique key
    on item and stage already serves: Odoo keeps an index that a field no
    longer declares."""
    if not version:
        return
    cr.execute("DROP INDEX IF EXISTS collection_history__move_line_id_index")
