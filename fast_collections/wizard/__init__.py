from . import collection_plan_refuse
from . import collection_penalty_preview
from . import collection_penalty_waive
from . import collection_pouch_step
from . import collection_pouch_bounce
from . import collection_pouch_import
from . import collection_analysis_wizard
