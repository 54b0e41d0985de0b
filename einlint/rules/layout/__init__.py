"""EIN2xx: layout and contiguity of einsum operands."""
