"""Multi-head self-attention and a few helpers, written the way such code often is.

Try: ``einlint examples/`` (findings) and ``einlint --diff examples/`` (what ``--fix`` would change).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MultiHeadAttention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).view(batch, tokens, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=-1)
        context = torch.einsum("bhqk,bhkd->bhqe", weights, v)
        return self.out(context.transpose(1, 2).reshape(batch, tokens, dim))


def relative_position_scores(q: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Scores of each query against a per-head table of relative-position embeddings."""
    return torch.einsum("bhqd,hrd->...bhqr", q, table)


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))


def project(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x @ weight.T


def mean_pool(hidden: torch.Tensor) -> torch.Tensor:
    batch, tokens, dim = hidden.shape
    return torch.einsum("bhnd->bd", hidden) / tokens


if __name__ == "__main__":
    attention = MultiHeadAttention(dim=64, heads=8)
    print(attention(torch.randn(2, 10, 64)).shape)
