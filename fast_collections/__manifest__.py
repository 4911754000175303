{
    "name": "Fast Collections",
    "summary": "Collection stages, reminders and the daily dunning run on overdue "
    "customer invoices",
    "version": "18.0.1.0.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "Fast Collections",
    "website": "https://github.com/fast-collections/fast_collections",
    "depends": ["account", "mail"],
    "data": [],
    "installable": True,
    "application": False,
}
