"""plato_mythos: a recurrent-depth byte-level transformer built on the decepticons kernel.

Module names follow the plato-mythos 0.1.0 package (``config``, ``model``, ``tiles_as_kv``,
``rooms_as_experts``, ``curriculum_loop``, ``deadband_act``, ``shell_lora``) so its users can switch
without changing their code. ``plato_mythos.predictor.MythosPredictor`` is the byte-level model registered
with the kernel as ``mythos``.
"""

from .config import PlatoMythosConfig
from .curriculum_loop import CurriculumScheduler, RecurrentBlock
from .deadband_act import DeadbandACT
from .model import MythosCache, PlatoMythos
from .rooms_as_experts import RoomsAsExperts
from .shell_lora import ShellLoRA
from .tiles_as_kv import TilesAsKV

__all__ = ["PlatoMythos", "PlatoMythosConfig", "MythosCache", "TilesAsKV", "RoomsAsExperts",
           "CurriculumScheduler", "RecurrentBlock", "DeadbandACT", "ShellLoRA"]
__version__ = "0.2.0"
