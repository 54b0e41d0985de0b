"""EIN0xx: static checks of torch.einsum equations."""
