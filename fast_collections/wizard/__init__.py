from . import collection_plan_refuse
