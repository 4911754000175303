from . import collection_aging_report
from . import collection_kpi_report
from . import collection_dispute_report
from . import collection_recovery_report
