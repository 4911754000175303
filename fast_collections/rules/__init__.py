from . import staging
from . import interest
