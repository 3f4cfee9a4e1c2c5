"""runtime"""

from .transfer import TransferReport as TransferReport
from .transfer import evaluate_transfer_probe as evaluate_transfer_probe
