from . import staging
