"""MiniLM sentence encoder (STUB: interface fixed).

class Encoder(Protocol):
    dim: int                                    # 384
    def encode(self, texts: Sequence[str]) -> numpy.ndarray   # (n, 384) float32, L2-normalised
"""
