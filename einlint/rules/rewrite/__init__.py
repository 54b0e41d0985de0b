"""EIN1xx: transpose/permute/matmul/sum chains rewritten into equivalent einsum."""
