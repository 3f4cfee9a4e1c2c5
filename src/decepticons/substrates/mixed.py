"""Mixed substrate: recurrent reservoir and delay line side by side (``h = [h_echo, h_delay]``).

The reservoir carries a fading nonlinear summary of the whole past; the delay line keeps the last few
bytes exactly. Each part follows its own update (see ``echo_state`` and ``delay``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..validation import Validated, spec
from .base import Substrate
from .delay import DelayConfig, DelaySubstrate
from .echo_state import EchoStateConfig, EchoStateSubstrate


@dataclass
class MixedConfig(Validated):
    echo: EchoStateConfig = field(default_factory=EchoStateConfig)   # a config or a mapping of its options
    delay: DelayConfig = field(default_factory=DelayConfig)
    seed: int = spec(0, lo=0, hi=2**63 - 1)

    def check(self) -> None:
        if isinstance(self.echo, dict):
            self.echo = EchoStateConfig.from_dict(self.echo)
        if isinstance(self.delay, dict):
            self.delay = DelayConfig.from_dict(self.delay)
        if not isinstance(self.echo, EchoStateConfig) or not isinstance(self.delay, DelayConfig):
            raise InputError("MixedConfig: echo and delay must be mappings of their substrates' options")


class MixedSubstrate(Substrate):
    kind = "mixed"

    def __init__(self, config: MixedConfig | None = None) -> None:
        c = config or MixedConfig()
        c.echo.seed = c.delay.seed = c.seed
        super().__init__(c)
        self.parts = [EchoStateSubstrate(c.echo), DelaySubstrate(c.delay)]

    @property
    def state_size(self) -> int:
        return sum(p.state_size for p in self.parts)

    def _split(self, state: np.ndarray) -> list[np.ndarray]:
        n0 = self.parts[0].state_size
        return [state[:n0], state[n0:]]

    def scan(self, x: np.ndarray, state: np.ndarray) -> np.ndarray:
        return np.concatenate([p.scan(x, s) for p, s in zip(self.parts, self._split(state))], axis=1)

    def step(self, state: np.ndarray, byte: int) -> np.ndarray:
        return np.concatenate([p.step(s, byte) for p, s in zip(self.parts, self._split(state))])
