"""EIN3xx: einsum equations and contraction paths rebuilt inside loops."""
