from . import collection_plan_refuse
from . import collection_penalty_preview
from . import collection_penalty_waive
