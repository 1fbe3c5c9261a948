"""Algorithm families; importing this package registers them all."""
from . import gossip, momentum, tracking  # noqa: E402,F401
from . import elastic, leader  # noqa: E402,F401
