"""The chain model: a symbolic algebra of axis labels that turns transpose/permute/matmul/multiply/sum
chains into one einsum equation, together with the proof obligations the rewrite rests on."""
