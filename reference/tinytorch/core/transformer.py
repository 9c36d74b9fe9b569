"""Module 13: the transformer: LayerNorm, MLP, a pre-norm block, and a GPT that writes text.

    x = x + attention(layernorm(x))        (tokens exchange information)
    x = x + mlp(layernorm(x))              (each token thinks on its own)

Residual connections give gradients a straight path through deep stacks; normalising before
each sub-layer (pre-norm, as GPT-2) keeps activations well scaled without warm-up tricks.

Systems point: a GPT of L blocks and width D has about 12·L·D² parameters in its blocks, and a
forward pass over T tokens costs about 2 FLOPs per parameter per token plus the attention's
T²·D; generating one token at a time repeats the whole prefix unless keys and values are
cached (module 17).
"""

from __future__ import annotations

import numpy as np

from tinytorch.core.activations import GELU
from tinytorch.core.attention import MultiHeadAttention, causal_mask
from tinytorch.core.autograd import Function, no_grad
from tinytorch.core.embeddings import Embedding
from tinytorch.core.layers import Dropout, Layer, Linear
from tinytorch.core.tensor import Tensor


def create_causal_mask(seq_len: int) -> Tensor:
    """(1, T, T) mask, 1 where a query may attend to a key (itself and earlier positions)."""
    #% solution hint="np.tril of a (T, T) block of ones, with a leading axis of 1, as float32."
    return Tensor(np.tril(np.ones((seq_len, seq_len), dtype=np.float32))[None])
    #% endsolution


class LayerNormBackward(Function):
    """Exact gradient of layer normalisation over the last axis (D features).

    With x̂ = (x - μ)·r and d = g·γ:  dx = r/D · (D·d - Σd - x̂·Σ(d·x̂)),  dγ = Σ g·x̂,  dβ = Σ g
    (feature sums for dx; sums over every other axis for dγ and dβ).
    """

    @staticmethod
    def backward(ctx, grad):
        #% solution hint="Sums for dx run over the last axis with keepdims; dγ and dβ sum over all axes but the last."
        x_hat, inv_std = ctx.saved["x_hat"], ctx.saved["inv_std"]
        gamma = ctx.parents[1].data
        features = x_hat.shape[-1]
        d = grad * gamma
        grad_x = inv_std / features * (features * d - d.sum(axis=-1, keepdims=True)
                                       - x_hat * (d * x_hat).sum(axis=-1, keepdims=True))
        batch_axes = tuple(range(grad.ndim - 1))
        return grad_x, (grad * x_hat).sum(axis=batch_axes), grad.sum(axis=batch_axes)
        #% endsolution


class LayerNorm(Layer):
    """Normalise each vector over its last axis, then scale by γ and shift by β. (..., D) -> (..., D)."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5):
        self.normalized_shape, self.eps = normalized_shape, eps
        self.gamma = Tensor(np.ones(normalized_shape, dtype=np.float32), requires_grad=True)
        self.beta = Tensor(np.zeros(normalized_shape, dtype=np.float32), requires_grad=True)

    def forward(self, x: Tensor) -> Tensor:
        #% solution hint="mean and biased variance over the last axis (keepdims); x̂ = (x - mean)/sqrt(var + eps); out = γx̂ + β; save x̂ and inv_std."
        mean = x.data.mean(axis=-1, keepdims=True)
        centered = x.data - mean
        inv_std = 1 / np.sqrt((centered * centered).mean(axis=-1, keepdims=True) + x.dtype.type(self.eps))
        x_hat = centered * inv_std
        out = x_hat * self.gamma.data + self.beta.data
        return Tensor._make(out, LayerNormBackward, x, self.gamma, self.beta, x_hat=x_hat, inv_std=inv_std)
        #% endsolution

    def __repr__(self) -> str:
        return f"LayerNorm({self.normalized_shape}, eps={self.eps})"


class MLP(Layer):
    """Position-wise feed-forward: Linear(D, 4D) -> GELU -> Linear(4D, D) -> Dropout."""

    def __init__(self, embed_dim: int, hidden_dim: int | None = None, dropout_prob: float = 0.0,
                 rng: np.random.Generator | None = None):
        hidden_dim = hidden_dim or 4 * embed_dim
        self.fc1, self.fc2 = Linear(embed_dim, hidden_dim, rng=rng), Linear(hidden_dim, embed_dim, rng=rng)
        self.activation, self.dropout = GELU(), Dropout(dropout_prob, rng=rng)

    def forward(self, x: Tensor) -> Tensor:
        #% solution
        return self.dropout(self.fc2(self.activation(self.fc1(x))))
        #% endsolution


class TransformerBlock(Layer):
    """Pre-norm block: x + Dropout(Attention(LN(x))), then x + MLP(LN(x)). (B, T, D) -> (B, T, D)."""

    def __init__(self, embed_dim: int, num_heads: int, mlp_ratio: int = 4, dropout_prob: float = 0.0,
                 rng: np.random.Generator | None = None):
        self.ln1, self.ln2 = LayerNorm(embed_dim), LayerNorm(embed_dim)
        self.attention = MultiHeadAttention(embed_dim, num_heads, rng=rng)
        self.mlp = MLP(embed_dim, mlp_ratio * embed_dim, dropout_prob, rng=rng)
        self.dropout = Dropout(dropout_prob, rng=rng)

    def forward(self, x: Tensor, mask=None) -> Tensor:
        #% solution hint="Two residual branches, each reading a LayerNorm of the running x."
        x = x + self.dropout(self.attention(self.ln1(x), mask=mask))
        return x + self.mlp(self.ln2(x))
        #% endsolution


class GPT(Layer):
    """A decoder-only language model: token + position embeddings, blocks, final LayerNorm, head.

    tokens (B, T) int -> logits (B, T, vocab_size); every position predicts the next token,
    seeing only itself and earlier positions (causal mask).
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_layers: int, num_heads: int, max_seq_len: int = 1024,
                 dropout_prob: float = 0.0, rng: np.random.Generator | None = None):
        rng = rng if rng is not None else np.random.default_rng()
        self.vocab_size, self.max_seq_len = vocab_size, max_seq_len
        self.token_embedding = Embedding(vocab_size, embed_dim, rng=rng)
        self.position_embedding = Embedding(max_seq_len, embed_dim, rng=rng)
        self.blocks = [TransformerBlock(embed_dim, num_heads, dropout_prob=dropout_prob, rng=rng) for _ in range(num_layers)]
        self.ln_f = LayerNorm(embed_dim)
        self.lm_head = Linear(embed_dim, vocab_size, bias=False, rng=rng)

    def forward(self, tokens) -> Tensor:
        ids = tokens.data if isinstance(tokens, Tensor) else np.asarray(tokens)
        seq_len = ids.shape[-1]
        #% solution hint="Refuse sequences longer than max_seq_len (ValueError); x = token embedding + position embedding of arange(T); run the blocks with the causal mask; final LayerNorm; lm_head."
        if seq_len > self.max_seq_len:
            raise ValueError(f"sequence of {seq_len} tokens is longer than max_seq_len {self.max_seq_len}")
        x = self.token_embedding(ids) + self.position_embedding(np.arange(seq_len))
        mask = causal_mask(seq_len)
        for block in self.blocks:
            x = block(x, mask=mask)
        return self.lm_head(self.ln_f(x))
        #% endsolution

    def generate(self, prompt_tokens, max_new_tokens: int = 50, temperature: float = 1.0, top_k: int | None = None,
                 greedy: bool = False, rng: np.random.Generator | None = None, use_cache: bool = False) -> np.ndarray:
        """Extend a (T,) or (B, T) prompt by max_new_tokens tokens; returns the whole sequence(s).

        Each step feeds the last max_seq_len tokens and samples from softmax(logits / temperature),
        restricted to the top_k most likely tokens when given, or takes the argmax when greedy.
        ``use_cache=True`` keeps every layer's keys and values (module 17's KVCache), so a step
        runs the model on the new token only: same tokens, far fewer FLOPs.
        """
        rng = rng if rng is not None else np.random.default_rng()
        tokens = np.atleast_2d(np.asarray(prompt_tokens, dtype=np.int64))
        cache = None
        if use_cache:
            from tinytorch.perf.memoization import KVCache  # module 17; imported here so module 13 stands alone
            cache = KVCache.for_model(self, batch_size=tokens.shape[0])
        was_training = self.training
        self.eval()
        with no_grad():
            for _ in range(max_new_tokens):
                if cache is not None:
                    logits = cache.next_logits(self, tokens)
                else:
                    logits = self.forward(tokens[:, -self.max_seq_len:]).data[:, -1, :]
                tokens = np.concatenate([tokens, next_tokens(logits, temperature, top_k, greedy, rng)[:, None]], axis=1)
        self.train(was_training)
        return tokens[0] if np.ndim(prompt_tokens) == 1 else tokens


def next_tokens(logits: np.ndarray, temperature: float, top_k: int | None, greedy: bool,
                rng: np.random.Generator) -> np.ndarray:
    """Pick one token per row of (B, vocab) logits."""
    #% solution hint="greedy: argmax. Else divide by temperature, keep the top_k largest (others -inf), softmax with the max shift, and sample each row with rng."
    if greedy:
        return logits.argmax(axis=-1)
    scaled = logits.astype(np.float64) / max(temperature, 1e-8)
    if top_k is not None and top_k < scaled.shape[-1]:
        cutoff = np.sort(scaled, axis=-1)[:, -top_k][:, None]
        scaled = np.where(scaled < cutoff, -np.inf, scaled)
    probs = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    probs /= probs.sum(axis=-1, keepdims=True)
    return np.array([rng.choice(len(p), p=p) for p in probs])
    #% endsolution
