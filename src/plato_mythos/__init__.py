"""plato_mythos: a recurrent-depth byte-level transformer built on the decepticons kernel.

Module names follow the plato-mythos 0.1.0 package (``config``, ``model``, ``tiles_as_kv``,
``rooms_as_experts``, ``curriculum_loop``, ``deadband_act``, ``shell_lora``) so its users can switch
without changing their code. ``plato_mythos.predictor.MythosPredictor`` is the byte-level model registered
with the kernel as ``mythos``.

Glossary (the project's term, then the standard one):

tile
    a token id with optional metadata (domain id, confidence). *Tiles as keys and values*
    (:class:`TilesAsKV`) is multi-head latent attention (DeepSeek-V2, arXiv:2405.04434): keys and values
    are rebuilt from one small per-token latent plus a decoupled rotary key, and only those are cached.
room
    a group of routed experts in the mixture-of-experts feed-forward (:class:`RoomsAsExperts`; sparsely
    gated top-k experts, Shazeer et al. 2017, arXiv:1701.06538, beside always-on shared experts); a tile's
    domain biases the router towards its room. Balancing: a load-balancing auxiliary loss and a routing bias
    moved after every optimizer step by the sign of each expert's load error (auxiliary-loss-free balancing,
    Wang et al. 2024, arXiv:2408.15664).
loop
    one application of the weight-shared recurrent block, with the prelude output injected again
    (:class:`RecurrentBlock`): a recurrent-depth / looped transformer, prelude -> recurrent block -> coda
    (Geiping et al. 2025, arXiv:2502.05171; depth recurrence with shared weights as in Universal
    Transformers, Dehghani et al. 2018, arXiv:1807.03819).
shell
    the low-rank adapter of one loop on the block's input mix (:class:`ShellLoRA`; LoRA, Hu et al. 2021,
    arXiv:2106.09685), so the loops share weights up to a rank-``lora_r`` update each.
deadband
    per-position halting (:class:`DeadbandACT`), a form of adaptive computation time (Graves 2016,
    arXiv:1603.08983) in which, as in Universal Transformers, a halted position keeps its state: a position
    stops looping once its relative state change falls below ``deadband_threshold`` or a learned halting
    head expects the remaining loops to gain less than their ponder cost. *Tiers* P0 / P1 / P2 are the
    halting thresholds chosen by a position's confidence.
curriculum
    random-depth training (:class:`CurriculumScheduler`): each step's loop count is drawn under a depth
    budget that rises over training, and backpropagation is truncated to the last ``bptt_depth`` loops
    (the training scheme of Geiping et al. 2025, with a rising budget).
"""

from decepticons.version import __version__  # one distribution, one version

from .config import PlatoMythosConfig
from .curriculum_loop import CurriculumScheduler, RecurrentBlock
from .deadband_act import DeadbandACT
from .model import MythosCache, PlatoMythos
from .rooms_as_experts import RoomsAsExperts
from .shell_lora import ShellLoRA
from .tiles_as_kv import TilesAsKV

__all__ = ["PlatoMythos", "PlatoMythosConfig", "MythosCache", "TilesAsKV", "RoomsAsExperts",
           "CurriculumScheduler", "RecurrentBlock", "DeadbandACT", "ShellLoRA", "__version__"]
