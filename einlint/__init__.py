"""einlint: finds transpose/matmul/sum chains in PyTorch code and rewrites them into equivalent einsum."""

__version__ = "0.1.0"
