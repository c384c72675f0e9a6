"""``python -m rnnlab ...`` is the ``rnnlab`` command (and what ``torchrun -m rnnlab ...`` starts on every rank)."""
import sys

from .cli import main

sys.exit(main())
