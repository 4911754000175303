from . import sample_loader
